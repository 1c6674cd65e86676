"""Online walking pattern: ZMP reference, CoM, swing feet, re-planning, step adjustment."""

import math

import numpy as np
import pytest

from dg_motion.humanoid.footsteps import (
    FootstepError,
    FootstepLimits,
    check_footsteps,
    plan_to_goal,
    plan_velocity,
    relative_pose,
    support_polygon,
)
from dg_motion.humanoid.pattern import PatternSample, WalkingPattern, WalkTiming
from dg_motion.humanoid.types import Footstep, Side

DT = 0.005
Z_C = 0.8
LIM = FootstepLimits()
HALF = LIM.nominal_width / 2
L0 = Footstep(Side.LEFT, 0.0, HALF, 0.0)
R0 = Footstep(Side.RIGHT, 0.0, -HALF, 0.0)


def started(steps=None) -> WalkingPattern:
    wp = WalkingPattern(WalkTiming(), z_c=Z_C, dt=DT, limits=LIM)
    wp.start(0.0, L0, R0, (0.0, 0.0))
    if steps is not None:
        wp.set_footsteps(steps)
    return wp


def run(wp: WalkingPattern, until_done=True, n=None, extra=0) -> list[PatternSample]:
    out = []
    while (n is None or len(out) < n):
        s = wp.advance()
        out.append(s)
        if until_done and n is None and s.done and s.t > 1.0:
            break
        assert len(out) < 20000
    out += [wp.advance() for _ in range(extra)]
    return out


def arr(samples, name):
    return np.array([getattr(s, name) for s in samples])


def inside(poly: np.ndarray, p: np.ndarray, tol: float = 1e-9) -> bool:
    edges = np.roll(poly, -1, axis=0) - poly
    rel = p - poly
    return bool(np.all(edges[:, 0] * rel[:, 1] - edges[:, 1] * rel[:, 0] >= -tol))


def test_straight_walk_tracks_the_zmp_and_ends_standing_at_the_goal():
    steps = plan_to_goal(L0, R0, 3.0, 0.0, 0.0, LIM)
    wp = started(steps)
    s = run(wp, extra=300)
    zr, zm, com = arr(s, "zmp_ref"), arr(s, "zmp_model"), arr(s, "com")
    t = arr(s, "t")
    walking = t > 1.0
    err = np.linalg.norm(zr - zm, axis=1)
    assert np.sqrt(np.mean(err[walking] ** 2)) < 2e-3
    assert err.max() < 0.02      # the start: the initial hold lets the CoM move first
    assert np.allclose(com[:, 2], Z_C)
    assert s[-1].done and s[-1].step_index == len(steps) - 1
    assert np.allclose(com[-1, :2], (3.0, 0.0), atol=2e-3)
    assert np.allclose(s[-1].left_foot, (3.0, HALF, 0.0, 0.0), atol=1e-12)
    assert np.allclose(s[-1].right_foot, (3.0, -HALF, 0.0, 0.0), atol=1e-12)
    # Supports alternate, each single support as long as the timing says.
    sup = [x.support for x in s]
    changes = [sup[0]] + [b for a, b in zip(sup, sup[1:], strict=False) if a != b]
    singles = [c for c in changes if c != "double"]
    assert singles == [("right" if st.side is Side.LEFT else "left") for st in steps]
    n_single = sum(1 for x in sup if x != "double")
    assert n_single == pytest.approx(len(steps) * 0.6 / DT, abs=len(steps))
    # Timeline: hold + initial shift + steps + final shift.
    tm = wp.timing
    expected_end = (tm.initial_hold_s + tm.initial_double_support_s
                    + len(steps) * tm.step_period_s - tm.double_support_s
                    + tm.final_double_support_s)
    first_done = next(x.t for x in s if x.done and x.t > 1.0)
    assert first_done == pytest.approx(expected_end, abs=DT + 1e-9)


def test_zmp_reference_stays_in_the_support_polygon():
    steps = plan_to_goal(L0, R0, 1.0, 1.0, math.pi / 2, LIM)
    wp = started(steps)
    while not wp.done or wp.t < 1.0:
        s = wp.advance()
        poly = wp.support_polygon()
        assert inside(poly, s.zmp_ref), (s.t, s.support, s.zmp_ref)
        if s.support != "double":
            stance = wp.stance_foot()
            assert np.allclose(s.zmp_ref, (stance.x, stance.y), atol=1e-9)
            assert len(poly) == 4


def test_swing_foot_is_smooth_and_clears_the_ground():
    steps = plan_velocity(L0, R0, 0.3, 0.0, 0.2, 0.8, 6, LIM)
    wp = started(steps)
    s = run(wp)
    for side in ("left_foot", "right_foot"):
        p = arr(s, side)
        v = arr(s, side + "_vel")
        assert p[:, 2].min() >= 0.0
        assert p[:, 2].max() == pytest.approx(wp.timing.swing_height_m, rel=1e-6)
        # Reported velocity matches finite differences (central) and position is smooth.
        fd = (p[2:, :3] - p[:-2, :3]) / (2 * DT)
        assert np.max(np.abs(fd - v[1:-1, :3])) < 0.02
        acc = np.diff(v[:, :3], axis=0) / DT
        assert np.abs(acc).max() < 15.0
        # At rest at lift-off and touch-down: no velocity jump between phases.
        assert np.abs(np.diff(v, axis=0)).max() < 0.05
    ph = arr(s, "swing_phase")
    assert ph.min() == 0.0 and ph.max() == pytest.approx(1.0, abs=DT / 0.6 + 1e-9)


def test_replanning_mid_swing_keeps_the_com_continuous_and_the_swing():
    steps = plan_velocity(L0, R0, 0.25, 0.0, 0.0, 0.8, 8, LIM)
    ref = started(steps)
    wp = started(steps)
    a = run(wp, n=500)   # 2.5 s: in a swing
    b = run(ref, n=500)
    assert a[-1].support != "double"
    landing = wp.swing_landing()
    left, right, first = wp.planning_feet()
    assert first is landing.side.other
    with pytest.raises(FootstepError, match="next step must be"):
        wp.set_footsteps(plan_velocity(left, right, 0.0, 0.0, 0.3, 0.8, 4, LIM,
                                       first_side=landing.side))
    idx = steps.index(landing)
    assert wp.remaining_steps == steps[idx + 1:]   # unchanged by the refusal
    new = plan_velocity(left, right, 0.1, 0.05, 0.3, 0.8, 6, LIM, first_side=first)
    wp.set_footsteps(new)
    assert wp.swing_landing() == landing
    assert wp.remaining_steps == new
    c = run(wp, extra=100)
    d = run(ref, extra=100)
    com = arr(a + c, "com")[:, :2]
    vel = arr(a + c, "com_vel")[:, :2]
    acc = arr(a + c, "com_acc")[:, :2]
    com_ref = arr(b + d, "com")[:, :2]
    # Continuity at the re-plan: increments no larger than anywhere in the plain walk.
    k = len(a)
    for x, x_ref in ((com, com_ref), (vel, arr(b + d, "com_vel")[:, :2]),
                     (acc, arr(b + d, "com_acc")[:, :2])):
        jump = np.abs(np.diff(x[k - 5:k + 5], axis=0)).max()
        assert jump <= 1.5 * np.abs(np.diff(x_ref, axis=0)).max()
    # The path diverges gradually after the re-plan, not at once.
    assert np.allclose(com[k - 1], com_ref[k - 1], atol=1e-12)
    # The swing in progress landed where planned; the new steps were taken.
    feet = dict(zip((Side.LEFT, Side.RIGHT), wp.feet, strict=True))
    assert feet[new[-1].side] == new[-1] and feet[new[-2].side] == new[-2]
    check_footsteps(L0, R0, steps[:idx + 1] + new, LIM)


def test_replanning_in_double_support_and_from_standing():
    wp = started()
    assert wp.done
    s = run(wp, n=50)
    assert all(x.done and x.support == "double" for x in s)
    assert np.allclose(arr(s, "com")[:, :2], 0.0)
    # Start walking from standing: either foot may lead.
    wp.set_footsteps(plan_velocity(L0, R0, 0.2, 0.0, 0.0, 0.8, 4, LIM, first_side=Side.RIGHT))
    assert not wp.done
    s = run(wp, n=int(1.0 / DT))   # hold + shift, still in double support
    # The weight is on its way to the left foot: the right must step first.
    assert s[-1].support == "double" and wp.next_side() is Side.RIGHT
    left, right, first = wp.planning_feet()
    with pytest.raises(FootstepError, match="next step must be right"):
        wp.set_footsteps(plan_velocity(left, right, 0.0, 0.0, -0.3, 0.8, 4, LIM,
                                       first_side=Side.LEFT))
    wp.set_footsteps(plan_velocity(left, right, 0.0, 0.0, -0.3, 0.8, 4, LIM,
                                   first_side=first))
    s2 = run(wp, extra=50)
    assert s2[-1].done
    com = arr(s + s2, "com")[:, :2]
    assert np.abs(np.diff(com, axis=0)).max() < 0.01
    yaws = sorted(f.yaw for f in wp.feet)
    assert yaws[1] - yaws[0] == pytest.approx(0.3 * 0.8) and yaws[0] < -0.5


def test_stop_finishes_the_swing_then_stands():
    steps = plan_velocity(L0, R0, 0.3, 0.0, 0.0, 0.8, 10, LIM)
    wp = started(steps)
    run(wp, n=450)
    swing = wp.swing_landing()
    assert swing is not None
    wp.stop()
    assert wp.remaining_steps == [] and wp.upcoming_footsteps() == [swing]
    s = run(wp, extra=400)
    assert s[-1].done
    assert wp.feet[0 if swing.side is Side.LEFT else 1] == swing
    lf, rf = wp.feet
    mid = np.array([(lf.x + rf.x) / 2, (lf.y + rf.y) / 2])
    assert np.allclose(s[-1].zmp_ref, mid) and np.allclose(s[-1].com[:2], mid, atol=3e-3)
    # The closing step puts the feet side by side; none needed once they are.
    close = wp.closing_steps()
    assert len(close) == 1
    wp.set_footsteps(close)
    run(wp)
    assert wp.closing_steps() == []


def test_step_adjustment_retargets_the_swing_smoothly():
    steps = plan_velocity(L0, R0, 0.25, 0.0, 0.0, 0.8, 8, LIM)
    wp = started(steps)
    s = run(wp, n=int(2.2 / DT))
    assert s[-1].support == "left" and 0.2 < s[-1].swing_phase < 0.8
    old = wp.swing_landing()
    assert old.side is Side.RIGHT
    later = wp.remaining_steps
    landing = wp.adjust_current_landing(old.x + 0.05, old.y - 0.04)
    assert landing == Footstep(Side.RIGHT, old.x + 0.05, old.y - 0.04, old.yaw)
    assert wp.swing_landing() == landing
    # The following steps move with it (their relative geometry kept).
    shift = [(a.x - b.x, a.y - b.y) for a, b in zip(wp.remaining_steps, later, strict=True)]
    assert np.allclose(shift, [(0.05, -0.04)] * len(later))
    touchdown = wp.time_to_touchdown()
    rest = run(wp, n=int(round(touchdown / DT)) + 2)
    p = arr(s + rest, "right_foot")
    v = arr(s + rest, "right_foot_vel")
    assert np.abs(np.diff(p[:, :2], axis=0)).max() < 0.02          # no jump in position
    assert np.abs(np.diff(v[:, :2], axis=0)).max() < 0.1          # nor in velocity
    assert wp.feet[1] == landing
    assert np.allclose(rest[-1].right_foot, (landing.x, landing.y, 0.0, landing.yaw))
    # The ZMP reference goes to the new landing in the next single support.
    assert np.allclose(wp.zmp_ref_at(wp.t + 0.3), (landing.x, landing.y))
    # An absurd request is clamped to the limits; in double support there is nothing to move.
    run(wp, n=int(0.45 / DT))
    assert wp.swing_landing() is not None
    stance = wp.stance_foot()
    far = wp.adjust_current_landing(stance.x + 5.0, stance.y + 5.0)
    check_footsteps(*wp.feet, [far], LIM)
    assert far.x - stance.x == pytest.approx(LIM.max_forward)
    with pytest.raises(ValueError):
        wp.adjust_current_landing(math.nan, 0.0)
    while wp.swing_landing() is not None:
        wp.advance()
    assert wp.adjust_current_landing(0.0, 0.0) is None


def test_window_always_full_and_bad_input():
    wp = WalkingPattern(z_c=Z_C, dt=DT)
    with pytest.raises(RuntimeError):
        wp.advance()
    pose = np.eye(4)
    pose[:3, 3] = (0.0, -HALF, 0.0)
    wp.start(L0, pose, np.array([0.0, 0.0]))              # time omitted, 4x4 foot pose
    assert wp.t == 0.0 and wp.feet[1] == R0
    wp.set_footsteps(plan_velocity(L0, R0, 0.3, 0.0, 0.0, 0.8, 2, LIM))
    s = run(wp, extra=2000)    # long past the last step: the window holds the final ZMP
    assert s[-1].done and np.allclose(s[-1].zmp_ref, wp.zmp_ref_at(wp.t + 100.0))
    assert all(np.isfinite(x.com).all() for x in s)
    assert wp.hold() is s[-1]
    with pytest.raises(FootstepError):
        wp.set_footsteps([Footstep(Side.LEFT, wp.feet[1].x + 1.0, 0.0, 0.0)])
    with pytest.raises(ValueError):
        wp.start(0.0, L0, R0, (math.nan, 0.0))
    with pytest.raises(ValueError):
        WalkTiming(single_support_s=0.0)
    with pytest.raises(ValueError):
        WalkTiming(double_support_s=math.inf)
    poly = support_polygon(list(wp.feet))
    assert np.allclose(wp.support_polygon(), poly)


def test_streamed_velocity_commands_replan_every_step():
    # As a controller does it: keep a few steps ahead, re-planned from planning_feet() with
    # the velocity of the moment; the commands change at arbitrary times (mid-swing or not).
    wp = started()
    commands = [(0.0, 0.3, 0.0, 0.0), (3.0, 0.35, 0.0, 0.3), (6.5, 0.0, 0.09, 0.0),
                (9.0, -0.15, 0.0, -0.4), (11.3, 0.0, 0.0, 0.0)]
    taken, samples = [], []
    current = None
    yaw_at = {}
    t = 0.0
    while t < 16.0:
        cmd = [c for c in commands if c[0] <= t + 1e-9][-1][1:]
        if cmd != current or wp.steps_left() < 2:
            left, right, first = wp.planning_feet()
            if any(cmd) or cmd != current:
                wp.set_footsteps(plan_velocity(left, right, *cmd, 0.8, 4, LIM,
                                               first_side=first))
            current = cmd
        swing = wp.swing_landing()
        s = wp.advance()
        if swing is not None and wp.swing_landing() != swing:
            taken.append(swing)
        assert inside(wp.support_polygon(), s.zmp_model, tol=1e-9), (s.t, s.support)
        samples.append(s)
        t = s.t
        if abs(t - round(t)) < 1e-9:
            yaw_at[round(t)] = 0.5 * (wp.feet[0].yaw + wp.feet[1].yaw)
    check_footsteps(L0, R0, taken, LIM)
    assert len(taken) > 12
    com = arr(samples, "com")[:, :2]
    assert np.abs(np.diff(com, axis=0)).max() < 0.4 * DT * 2   # below 0.8 m/s everywhere
    acc = arr(samples, "com_acc")[:, :2]
    assert np.abs(acc).max() < 5.0
    # Turned left, then right, then stopped (stepping in place) with the feet side by side.
    assert yaw_at[7] > 0.7 and yaw_at[13] < yaw_at[9] - 0.8
    assert samples[-1].done
    dx, dy, dyaw = relative_pose(wp.feet[1], wp.feet[0])
    assert (dx, dy, dyaw) == pytest.approx((0.0, LIM.nominal_width, 0.0), abs=1e-9)
