"""Multi-waypoint retiming: through the waypoints, limits incl. jerk, stop-and-go."""

from dataclasses import replace

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import load_joint_limits
from dg_motion.robots.paths import robot_file
from dg_motion.trajectory.waypoints import retime_waypoints


@pytest.fixture(scope="module")
def ur5():
    return load_joint_limits(robot_file("ur5", "joint_limits.yaml"))


def waypoints(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.linspace(0, 1, n)[:, None]
    amp, ph = rng.uniform(-1, 1, (1, 6)), rng.uniform(0, 6, (1, 6))
    return amp * np.sin(2.5 * s + ph)


def check_limits(traj, lim, jerk=True):
    t = np.linspace(0, traj.duration_s, 20001)
    q, qd, qdd = traj.sample(t)
    assert (np.abs(qd) <= lim.velocity_max + 1e-9).all()
    assert (np.abs(qdd) <= lim.acceleration_max + 1e-9).all()
    assert (q >= lim.position_min - 1e-9).all() and (q <= lim.position_max + 1e-9).all()
    if jerk:
        for p in traj.pieces:
            assert (p.jerk_abs_max() <= lim.jerk_max + 1e-9).all()
        # independent of Ruckig's phase tables: |Δq̈ / Δt| on the dense samples (mean value
        # of the jerk over each sample step) within the limit, 1e-6 relative
        jerk_fd = np.diff(qdd, axis=0) / np.diff(t)[:, None]
        assert (np.abs(jerk_fd) <= lim.jerk_max * (1.0 + 1e-6)).all()
    return q, qd, qdd


def test_jerk_limited_passes_through_and_beats_stop_and_go(ur5):
    wp = waypoints(6)
    tr = retime_waypoints(wp, ur5)
    stop = retime_waypoints(wp, ur5, stop_at_waypoints=True)
    q, qd, qdd = check_limits(tr, ur5)
    check_limits(stop, ur5)
    # passes every waypoint at a segment boundary, continuously in v and a
    tk = np.concatenate([tr.t_start, [tr.duration_s]])
    qk, vk, ak = tr.sample(tk)
    np.testing.assert_allclose(qk, wp, atol=1e-9)
    assert np.abs(vk[1:-1]).max() > 0.1          # does not stop at the waypoints
    np.testing.assert_allclose(vk[[0, -1]], 0.0, atol=1e-9)
    vl, al = tr.sample(tk[1:-1] - 1e-9)[1:]
    np.testing.assert_allclose(vl, vk[1:-1], atol=1e-6)
    np.testing.assert_allclose(al, ak[1:-1], atol=1e-6)
    assert tr.duration_s <= 0.85 * stop.duration_s
    # not faster than the v/a-only time optimum (jerk limits only add time)
    va = retime_waypoints(wp, replace(ur5, jerk_max=np.full(6, np.inf)))
    assert tr.duration_s >= va.duration_s * 0.98


def test_without_jerk_limits_is_topp(ur5):
    lim = replace(ur5, jerk_max=np.full(6, np.inf))
    tr = retime_waypoints(waypoints(5), lim)
    assert hasattr(tr, "s_grid")
    check_limits(tr, lim, jerk=False)


def test_stop_at_waypoints_rests_at_each(ur5):
    wp = waypoints(4)
    tr = retime_waypoints(wp, ur5, stop_at_waypoints=True)
    tk = np.concatenate([tr.t_start, [tr.duration_s]])
    q, qd, _ = tr.sample(tk)
    np.testing.assert_allclose(q, wp, atol=1e-9)
    np.testing.assert_allclose(qd, 0.0, atol=1e-9)


def test_names_order_and_single_waypoint(ur5):
    wp = waypoints(3)
    names = list(reversed(ur5.names))
    tr = retime_waypoints(wp[:, ::-1], ur5, names=names)
    assert tr.names == tuple(names)
    one = retime_waypoints(wp[:1], ur5)
    assert one.duration_s == 0.0


@pytest.mark.parametrize("mutate,match", [
    (lambda w: w.__setitem__((2, 1), np.nan), "waypoint 2 joint 'shoulder_lift_joint'"),
    (lambda w: w.__setitem__((1, 2), 4.0), "above max_position"),
])
def test_bad_waypoints(ur5, mutate, match):
    wp = waypoints(4)
    mutate(wp)
    with pytest.raises(MotionInputError, match=match):
        retime_waypoints(wp, ur5)


def test_wrong_names(ur5):
    with pytest.raises(MotionInputError, match="unknown"):
        retime_waypoints(waypoints(3), ur5, names=["a", "b", "c", "d", "e", "f"])


def test_dense_waypoints_closer_than_a_jerk_ramp(ur5):
    # 25 waypoints along a smooth curve: segments last less than one jerk ramp
    # (a_max / j_max = 0.1 s), where per-waypoint TOPP states joined badly
    s = np.linspace(0.0, 1.0, 25)[:, None]
    wp = np.array([0.0, -1.4, 1.4, -1.5, -1.5, 0.0]) + 0.6 * np.sin(
        np.pi * s * np.array([1.0, 1.5, 2.0, 1.0, 2.5, 3.0]) + np.arange(6))
    tr = retime_waypoints(wp, ur5)
    check_limits(tr, ur5)
    tk = np.concatenate([tr.t_start, [tr.duration_s]])
    np.testing.assert_allclose(tr.sample(tk)[0], wp, atol=1e-9)
    assert np.median(np.diff(tk)) < 0.1
    va = retime_waypoints(wp, replace(ur5, jerk_max=np.full(6, np.inf)))
    stop = retime_waypoints(wp, ur5, stop_at_waypoints=True)
    # 1.057 x here; the per-waypoint TOPP guesses alone gave 1.095 x
    assert va.duration_s * 0.98 <= tr.duration_s <= 1.08 * va.duration_s
    assert tr.duration_s <= 0.5 * stop.duration_s
