"""TOPP by reachability analysis: hand-derived optimum, limits, caps, bad input."""

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.path import JointPath
from dg_motion.trajectory.topp import retime_path


def lim2(v=(1.0, 2.0), a=(2.0, 8.0)) -> JointLimits:
    inf = np.full(2, np.inf)
    return JointLimits(("j1", "j2"), -np.full(2, 10.0), np.full(2, 10.0), np.array(v),
                       np.array(a), inf, inf)


def test_straight_line_matches_trapezoid_by_hand():
    # Straight line from 0 to (3, 3): joint 1 binds (v 1, a 2). Trapezoid: T = d/v + v/a
    # = 3 + 0.5 = 3.5 s.
    path = JointPath.from_points(np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 3.0]]))
    tr = retime_path(path, lim2(), grid_points=2001)
    assert tr.duration_s == pytest.approx(3.5, rel=2e-3)
    assert tr.duration_s >= 3.5 - 1e-9  # never faster than the optimum
    t = np.linspace(0, tr.duration_s, 4001)
    q, qd, qdd = tr.sample(t)
    assert np.abs(qd[:, 0]).max() <= 1.0 + 1e-9 and np.abs(qdd[:, 0]).max() <= 2.0 + 1e-9
    np.testing.assert_allclose(q[-1], [3.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(qd[[0, -1]], 0.0, atol=1e-12)


def test_short_line_bang_bang_and_grid_convergence():
    # d = 0.5 with v 1, a 2: v never reached; T = 2 sqrt(d/a) = 1 s.
    path = JointPath.from_points(np.array([[0.0, 0.0], [0.5, 0.5]]))
    coarse = retime_path(path, lim2(), grid_points=101).duration_s
    fine = retime_path(path, lim2(), grid_points=3001).duration_s
    assert fine == pytest.approx(1.0, rel=1e-3)
    assert coarse >= fine - 1e-12


def test_curved_path_within_limits_everywhere():
    rng = np.random.default_rng(3)
    pts = np.cumsum(rng.normal(0, 0.4, (8, 2)), axis=0)
    lim = lim2()
    tr = retime_path(JointPath.from_points(pts), lim)
    t = np.linspace(0, tr.duration_s, 20001)
    q, qd, qdd = tr.sample(t)
    assert (np.abs(qd) <= lim.velocity_max * (1 + 1e-6)).all()
    assert (np.abs(qdd) <= lim.acceleration_max * (1 + 1e-2)).all()  # between check points
    # some joint is at a limit most of the time (time-optimal: bang-bang / at vmax)
    sat = np.maximum(np.abs(qd) / lim.velocity_max, np.abs(qdd) / lim.acceleration_max)
    assert np.mean(sat.max(axis=1) > 0.95) > 0.8
    # passes through every waypoint
    tk = tr.time_at_s(tr.path.s_knots)
    np.testing.assert_allclose(tr.sample(tk)[0], pts, atol=1e-9)


def test_sdot_cap_slows_down():
    path = JointPath.from_points(np.array([[0.0, 0.0], [3.0, 3.0]]))
    free = retime_path(path, lim2())
    capped = retime_path(path, lim2(), sdot_sq_max=lambda s: np.full_like(s, 0.1**2))
    # ṡ <= 0.1 on s in [0, 1]: at least 10 s
    assert capped.duration_s >= 10.0 - 1e-9 > free.duration_s


@pytest.mark.parametrize("pts,match", [
    (np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), "3 joints"),
    (np.array([[0.0, 0.0], [11.0, 1.0]]), "outside the position limits"),
])
def test_bad_paths(pts, match):
    with pytest.raises(MotionInputError, match=match):
        retime_path(JointPath.from_points(pts), lim2())


def test_path_rejects_nan_and_repeats():
    with pytest.raises(MotionInputError, match="not finite"):
        JointPath.from_points(np.array([[0.0, 0.0], [np.nan, 1.0]]))
    with pytest.raises(MotionInputError, match="coincide"):
        JointPath.from_points(np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))
