"""State-to-state motion: Ruckig wrapper, validation, exact sampling."""

import numpy as np
import pytest
import ruckig

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.state_to_state import JointState, PlanResult, plan_state_to_state

N = 3


def limits(jerk: float = 30.0) -> JointLimits:
    return JointLimits(("a", "b", "c"), -np.full(N, 4.0), np.full(N, 4.0),
                       np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, 5.0]),
                       np.full(N, jerk), np.full(N, np.inf))


def test_rest_to_rest_1dof_matches_hand_computed_duration():
    # One joint, distance 2, v 1, a 1, j 2: ramps of a/j = 0.5 s; the hand formula of a
    # trapezoidal-acceleration profile: T = d/v + v/a + a/j = 2 + 1 + 0.5 = 3.5 s.
    lim = JointLimits(("a",), np.array([-5.0]), np.array([5.0]), np.array([1.0]),
                      np.array([1.0]), np.array([2.0]), np.array([np.inf]))
    tr = plan_state_to_state(JointState.at_rest([0.0]), JointState.at_rest([2.0]), lim)
    assert tr.result is PlanResult.SUCCESS
    assert tr.duration_s == pytest.approx(3.5, abs=1e-9)
    q, qd, qdd = tr.sample(np.array([tr.duration_s / 2]))
    assert q[0, 0] == pytest.approx(1.0, abs=1e-12) and qd[0, 0] == pytest.approx(1.0)


def test_non_zero_states_sampled_exactly_and_within_limits():
    lim = limits()
    start = JointState(np.zeros(N), np.array([0.5, -1.0, 0.0]), np.array([0.0, 1.0, -2.0]))
    goal = JointState(np.array([1.0, -1.0, 2.0]), np.array([0.2, 0.0, 0.5]),
                      np.array([0.0, 0.3, 0.0]))
    tr = plan_state_to_state(start, goal, lim)
    t = np.linspace(0.0, tr.duration_s, 2001)
    q, qd, qdd = tr.sample(t)
    ref = np.array([tr.ruckig_trajectory.at_time(x) for x in t])
    np.testing.assert_allclose(q, ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(qd, ref[:, 1], atol=1e-12)
    np.testing.assert_allclose(qdd, ref[:, 2], atol=1e-12)
    assert (np.abs(qd) <= lim.velocity_max + 1e-9).all()
    assert (np.abs(qdd) <= lim.acceleration_max + 1e-9).all()
    assert (tr.jerk_abs_max() <= lim.jerk_max + 1e-9).all()
    np.testing.assert_allclose(q[-1], goal.q, atol=1e-9)
    np.testing.assert_allclose(qd[-1], goal.qd, atol=1e-9)
    # outside [0, T]: start / end held
    q2, qd2, _ = tr.sample(np.array([-1.0, tr.duration_s + 1.0]))
    np.testing.assert_array_equal(q2[0], start.q)
    np.testing.assert_array_equal(qd2[1], goal.qd)


def test_names_reorder_and_infinite_jerk():
    lim = limits(jerk=np.inf)
    tr = plan_state_to_state(JointState.at_rest([0, 0, 0]), JointState.at_rest([1, 0, 0]),
                             lim, names=["c", "b", "a"])
    assert tr.names == ("c", "b", "a")
    # joint "c" (first column) has v 3, a 5: bang-bang time 2 sqrt(1/5) (v never reached)
    assert tr.duration_s == pytest.approx(2 * np.sqrt(1 / 5), rel=1e-9)


@pytest.mark.parametrize("start,goal,match", [
    (JointState([np.nan, 0, 0], [0, 0, 0], [0, 0, 0]), None, "not finite"),
    (JointState([0, 0], [0, 0], [0, 0]), None, "shape"),
    (JointState([5.0, 0, 0], [0, 0, 0], [0, 0, 0]), None, "max_position"),
    (JointState([0, 0, 0], [1.5, 0, 0], [0, 0, 0]), None, "max_velocity"),
    (JointState([0, 0, 0], [0, 0, 0], [0, 0, 9.0]), None, "max_acceleration"),
    # v0 0.9 of 1.0 with a0 2.9 and j 30: v peaks at 0.9 + 2.9^2/60 = 1.04 > 1
    (JointState([0, 0, 0], [0.9, 0, 0], [2.9, 0, 0]), None, "inevitably"),
    (None, JointState([1, 0, 0], [0, 3.5, 0], [0, 0, 0]), "max_velocity"),
])
def test_bad_input_raises_with_reason(start, goal, match):
    lim = limits()
    start = start or JointState.at_rest([0, 0, 0])
    goal = goal or JointState.at_rest([1, 0, 0])
    with pytest.raises(MotionInputError, match=match):
        plan_state_to_state(start, goal, lim)


def test_position_limits_of_the_motion_are_checked():
    lim = limits()
    # moving at 1 rad/s towards +4 from 3.9 must overshoot the position limit 4.0
    start = JointState([3.9, 0, 0], [1.0, 0, 0], [0, 0, 0])
    with pytest.raises(MotionInputError, match="outside its position limits"):
        plan_state_to_state(start, JointState.at_rest([3.95, 0, 0]), lim)


def test_unknown_names_rejected():
    with pytest.raises(MotionInputError, match="unknown"):
        plan_state_to_state(JointState.at_rest([0]), JointState.at_rest([1]), limits(),
                            names=["x"])


def test_duration_equals_raw_ruckig_on_random_problems():
    rng = np.random.default_rng(7)
    lim = limits()
    otg = ruckig.Ruckig(N)
    for _ in range(50):
        s = JointState(rng.uniform(-2, 2, N), rng.uniform(-0.5, 0.5, N) * lim.velocity_max,
                       np.zeros(N))
        g = JointState(rng.uniform(-2, 2, N), rng.uniform(-0.5, 0.5, N) * lim.velocity_max,
                       np.zeros(N))
        tr = plan_state_to_state(s, g, lim)
        inp = ruckig.InputParameter(N)
        inp.current_position, inp.current_velocity = s.q.tolist(), s.qd.tolist()
        inp.target_position, inp.target_velocity = g.q.tolist(), g.qd.tolist()
        inp.max_velocity = lim.velocity_max.tolist()
        inp.max_acceleration = lim.acceleration_max.tolist()
        inp.max_jerk = lim.jerk_max.tolist()
        raw = ruckig.Trajectory(N)
        otg.calculate(inp, raw)
        assert tr.duration_s == raw.duration
