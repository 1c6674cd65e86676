"""Footstep plans: limits, crossing, velocity and goal plans, support polygon."""

import math

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from dg_motion.humanoid.footsteps import (
    FootstepError,
    FootstepLimits,
    check_footsteps,
    clamp_velocity,
    mid_pose,
    plan_to_goal,
    plan_velocity,
    relative_pose,
    support_polygon,
)
from dg_motion.humanoid.types import Footstep, Side

LIM = FootstepLimits()
HALF = LIM.nominal_width / 2
T = 0.8
L0 = Footstep(Side.LEFT, 0.0, HALF, 0.0)
R0 = Footstep(Side.RIGHT, 0.0, -HALF, 0.0)


def pairs(left, right, steps):
    """(stance, swing) for every step."""
    feet = {Side.LEFT: left, Side.RIGHT: right}
    for s in steps:
        yield feet[s.side.other], s
        feet[s.side] = s


def test_limits_and_crossing_are_rejected_with_the_step_index():
    ok = [Footstep(Side.LEFT, 0.3, HALF, 0.0), Footstep(Side.RIGHT, 0.6, -HALF, 0.0)]
    check_footsteps(L0, R0, ok, LIM)
    cases = {
        "forward": [Footstep(Side.LEFT, 0.31, HALF, 0.0)],
        "backward": [Footstep(Side.LEFT, -0.16, HALF, 0.0)],
        "crosses": [ok[0], Footstep(Side.RIGHT, 0.6, HALF + 0.05, 0.0)],
        "too close": [Footstep(Side.LEFT, 0.0, -HALF + 0.14, 0.0)],
        "width": [Footstep(Side.LEFT, 0.0, -HALF + 0.35, 0.0)],
        "yaw": [Footstep(Side.LEFT, 0.0, HALF, 0.36)],
        "non-finite": [Footstep(Side.LEFT, math.nan, HALF, 0.0)],
    }
    for word, steps in cases.items():
        with pytest.raises(FootstepError) as info:
            check_footsteps(L0, R0, steps, LIM)
        assert info.value.index == len(steps) - 1
        assert word in str(info.value), (word, str(info.value))
    # Limits are relative to the stance foot's frame: a rotated stance foot rotates them.
    yawed_r = Footstep(Side.RIGHT, 0.0, -HALF, math.pi / 2)
    check_footsteps(Footstep(Side.LEFT, -LIM.nominal_width, -HALF, math.pi / 2), yawed_r,
                    [Footstep(Side.LEFT, -LIM.nominal_width, -HALF + 0.3, math.pi / 2)], LIM)
    with pytest.raises(FootstepError, match="crosses"):
        check_footsteps(L0, yawed_r, [Footstep(Side.LEFT, 0.3, -HALF, math.pi / 2)], LIM)


def test_toe_in_at_minimum_width_overlaps_the_soles():
    stance = Footstep(Side.LEFT, 0.0, 0.0, 0.0)
    swing = Footstep(Side.RIGHT, 0.0, -0.15, 0.35)   # within every range, soles clip
    with pytest.raises(FootstepError, match="overlap"):
        check_footsteps(stance, Footstep(Side.RIGHT, 0.0, -0.2, 0.0), [swing], LIM)


def test_clamp_velocity_says_what_was_clamped_and_rejects_non_finite():
    vx, vy, wz, msg = clamp_velocity(0.2, 0.0, 0.1, LIM, T)
    assert (vx, vy, wz, msg) == (0.2, 0.0, 0.1, "")
    vx, vy, wz, msg = clamp_velocity(50.0, -3.0, 1e6, LIM, T)
    assert vx == pytest.approx(LIM.max_forward / T)
    assert vy == pytest.approx(-(LIM.width_max - LIM.nominal_width) / (2 * T))
    assert wz == pytest.approx(LIM.max_yaw / T)
    assert "vx" in msg and "vy" in msg and "wz" in msg
    assert clamp_velocity(-1.0, 0.0, 0.0, LIM, T)[0] == pytest.approx(-LIM.max_backward / T)
    for bad in ((math.nan, 0, 0), (0, math.inf, 0), (0, 0, -math.inf)):
        with pytest.raises(FootstepError):
            clamp_velocity(*bad, LIM, T)


@pytest.mark.parametrize("cmd", [(0.3, 0.0, 0.0), (10.0, 0.0, 0.0), (-0.5, 0.0, 0.0),
                                 (0.0, 0.08, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 0.4),
                                 (0.0, 0.0, -5.0), (0.3, 0.09, 0.4), (0.0, 0.0, 0.0)])
def test_velocity_plans_stay_within_limits(cmd):
    steps = plan_velocity(L0, R0, *cmd, T, 12, LIM)
    assert len(steps) == 12
    check_footsteps(L0, R0, steps, LIM)   # raises if not
    assert [s.side for s in steps[:2]] in ([Side.LEFT, Side.RIGHT], [Side.RIGHT, Side.LEFT])
    vx, vy, wz, _ = clamp_velocity(*cmd, LIM, T)
    # The body moves as commanded (clamped): heading and travel after 12 steps (6 periods of
    # two steps; the lateral motion happens on every other step, twice as far).
    last_l = [s for s in steps if s.side is Side.LEFT][-1]
    last_r = [s for s in steps if s.side is Side.RIGHT][-1]
    mx, my, myaw = mid_pose(last_l, last_r)
    if cmd == (0.0, 0.0, 0.0):
        assert (mx, my, myaw) == pytest.approx((0.0, 0.0, 0.0))
    if cmd[1] == 0.0 and cmd[2] == 0.0:   # straight: about vx * 11.5 periods (mid of feet)
        assert mx == pytest.approx(vx * T * 11.5, abs=1e-9) and my == pytest.approx(0.0)
    if cmd[0] == 0.0 and cmd[2] == 0.0 and cmd[1] != 0.0:
        assert my == pytest.approx(vy * T * 12, abs=1e-9) and mx == pytest.approx(0.0)
    if cmd[0] == 0.0 and cmd[1] == 0.0 and cmd[2] != 0.0:
        assert math.remainder(myaw - wz * T * 11.5, 2 * math.pi) == pytest.approx(0, abs=1e-9)
        assert math.hypot(mx, my) < 0.1   # turns on the spot
        assert steps[0].side is (Side.LEFT if wz > 0 else Side.RIGHT)   # inside foot leads


def test_velocity_plan_from_odd_stance_and_first_side():
    left = Footstep(Side.LEFT, 0.1, 0.25, 0.1)   # feet apart and skewed: first step fixes it
    steps = plan_velocity(left, R0, 0.2, 0.0, 0.0, T, 6, LIM, first_side=Side.RIGHT)
    assert steps[0].side is Side.RIGHT
    check_footsteps(left, R0, steps, LIM)
    for stance, swing in list(pairs(left, R0, steps))[1:]:
        dx, dy, dyaw = relative_pose(stance, swing)
        assert abs(abs(dy) - LIM.nominal_width) < 1e-9 and abs(dyaw) < 1e-9


@pytest.mark.parametrize("goal", [(3.0, 0.0, 0.0), (0.0, 0.0, math.pi / 2), (2.0, -1.5, 2.5),
                                  (-1.0, 0.2, 0.0), (0.1, -0.05, -0.3), (0.0, 0.0, 0.0),
                                  (1.0, 1.0, math.pi)])
def test_plan_to_goal_ends_side_by_side_at_the_goal(goal):
    steps = plan_to_goal(L0, R0, *goal, LIM)
    check_footsteps(L0, R0, steps, LIM)
    if goal == (0.0, 0.0, 0.0):
        assert steps == []
        return
    feet = {Side.LEFT: L0, Side.RIGHT: R0}
    for s in steps:
        feet[s.side] = s
    mx, my, myaw = mid_pose(feet[Side.LEFT], feet[Side.RIGHT])
    assert (mx, my) == pytest.approx(goal[:2], abs=1e-6)
    assert math.cos(myaw - goal[2]) == pytest.approx(1.0, abs=1e-9)
    dx, dy, dyaw = relative_pose(feet[Side.RIGHT], feet[Side.LEFT])
    assert (dx, dy, dyaw) == pytest.approx((0.0, LIM.nominal_width, 0.0), abs=1e-6)
    # Walking 3 m takes the minimum: 10 steps of 0.3 m plus one to close the feet.
    if goal == (3.0, 0.0, 0.0):
        assert len(steps) == 11


@pytest.mark.parametrize("goal", [(3.0, 0.0, math.pi / 2), (2.0, 1.0, 0.0), (-2.0, 0.0, 0.0),
                                  (0.0, 0.0, -2.0)])
def test_plan_to_goal_alternates_the_feet_through_its_phases(goal):
    steps = plan_to_goal(L0, R0, *goal, LIM)
    sides = [s.side for s in steps]
    assert all(a is not b for a, b in zip(sides, sides[1:], strict=False)), sides


def test_plan_to_goal_leaves_a_foot_that_is_nearly_there():
    # Re-planned from measured feet, a goal is not finished with millimetre steps, nor a
    # walk with a turn of a hundredth of a radian.
    assert plan_to_goal(L0, R0, 1.5, 0.0, 0.03, LIM) == plan_to_goal(L0, R0, 1.5, 0.0, 0.0, LIM)
    near_l = Footstep(Side.LEFT, 0.012, HALF - 0.005, 0.01)
    near_r = Footstep(Side.RIGHT, -0.008, -HALF + 0.004, -0.01)
    assert plan_to_goal(near_l, near_r, 0.0, 0.0, 0.0, LIM) == []
    far_r = Footstep(Side.RIGHT, -0.05, -HALF, 0.0)
    steps = plan_to_goal(near_l, far_r, 0.0, 0.0, 0.0, LIM)
    assert [(s.side, s.x, s.y) for s in steps] == [
        (Side.RIGHT, pytest.approx(0.0), pytest.approx(-HALF))]
    # Forced to lead with the settled foot (the other one swings): it steps in place.
    steps = plan_to_goal(near_l, far_r, 0.0, 0.0, 0.0, LIM, first_side=Side.LEFT)
    assert steps[0] == near_l and len(steps) == 2


def test_plan_to_goal_rejects_bad_input():
    with pytest.raises(FootstepError):
        plan_to_goal(L0, R0, math.nan, 0.0, 0.0, LIM)
    with pytest.raises(FootstepError):
        plan_to_goal(R0, L0, 1.0, 0.0, 0.0, LIM)
    with pytest.raises(FootstepError, match="200 steps"):
        plan_to_goal(L0, R0, 100.0, 0.0, 0.0, LIM)
    with pytest.raises(ValueError):
        FootstepLimits(min_width=0.3)
    with pytest.raises(ValueError):
        FootstepLimits(max_forward=math.inf)


def test_support_polygon_is_the_hull_of_the_soles():
    one = support_polygon([L0], LIM.foot_length, LIM.foot_width)
    assert one.shape == (4, 2)
    both = support_polygon([L0, R0], LIM.foot_length, LIM.foot_width)
    assert both.shape == (4, 2)   # parallel feet side by side: one rectangle
    assert both[:, 0].max() == pytest.approx(0.11) and both[:, 1].max() == pytest.approx(
        HALF + 0.06)
    ahead = support_polygon([L0, Footstep(Side.RIGHT, 0.3, -HALF, 0.0)])
    assert ahead.shape == (6, 2)
    # Counter-clockwise: positive shoelace area, equal to the hull's area by hand.
    x, y = ahead[:, 0], ahead[:, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    soles = np.array([[x0 + dx, y0 + dy] for x0, y0 in ((0.0, HALF), (0.3, -HALF))
                      for dx in (-0.11, 0.11) for dy in (-0.06, 0.06)])
    reference = ConvexHull(soles)
    assert area == pytest.approx(reference.volume)
    assert {tuple(np.round(c, 9)) for c in soles[reference.vertices]} == {
        tuple(np.round(c, 9)) for c in ahead}


def test_plan_to_goal_first_side_is_forced_when_asked():
    free = plan_to_goal(L0, R0, 0.0, 0.0, math.pi / 2, LIM)
    assert free[0].side is Side.LEFT   # a left turn: the left foot opens first
    forced = plan_to_goal(L0, R0, 0.0, 0.0, math.pi / 2, LIM, first_side=Side.RIGHT)
    assert forced[0].side is Side.RIGHT
    check_footsteps(L0, R0, forced, LIM)
    # Only the left foot needs to move: a forced right step is a step in place.
    wide = Footstep(Side.LEFT, 0.0, HALF + 0.03, 0.0)
    steps = plan_to_goal(wide, R0, 0.0, 0.0, 0.0, LIM, first_side=Side.RIGHT)
    assert len(steps) == 2 and steps[0] == R0
    assert (steps[1].side, steps[1].x, steps[1].y) == (Side.LEFT, 0.0, pytest.approx(HALF))
    assert len(plan_to_goal(wide, R0, 0.0, 0.0, 0.0, LIM)) == 1
