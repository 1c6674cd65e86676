"""Online re-targeting: continuity when the goal changes mid-motion."""

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.online import OnlineTrajectoryGenerator, OtgStatus, retarget
from dg_motion.trajectory.state_to_state import JointState, plan_state_to_state

DT = 0.001


def lim() -> JointLimits:
    inf = np.full(2, np.inf)
    return JointLimits(("a", "b"), -np.full(2, 5.0), np.full(2, 5.0), np.array([1.0, 1.5]),
                       np.array([3.0, 4.0]), np.array([30.0, 40.0]), inf)


def test_target_change_mid_motion_is_continuous_and_finishes():
    lm = lim()
    otg = OnlineTrajectoryGenerator(lm, DT, initial=JointState.at_rest([0.0, 0.0]))
    assert otg.step()[1] is OtgStatus.NO_TARGET
    otg.set_target(JointState.at_rest([2.0, 1.0]))
    states, status = [], None
    for k in range(5000):
        if k == 400:  # moving fast now: turn back
            otg.set_target(JointState.at_rest([-1.0, 0.5]))
        s, status = otg.step()
        states.append(s)
        if status is OtgStatus.FINISHED:
            break
    assert status is OtgStatus.FINISHED
    qd = np.array([s.qd for s in states])
    qdd = np.array([s.qdd for s in states])
    assert np.abs(qd[399, 0]) > 0.5                     # the switch happened mid-motion
    # no velocity or acceleration step: consecutive changes bounded by a dt and j dt
    assert (np.abs(np.diff(qd, axis=0)).max(axis=0) <= lm.acceleration_max * DT + 1e-9).all()
    assert (np.abs(np.diff(qdd, axis=0)).max(axis=0) <= lm.jerk_max * DT + 1e-9).all()
    np.testing.assert_allclose(states[-1].q, [-1.0, 0.5], atol=1e-9)


def test_invalid_measured_state_holds_and_bad_goal_raises():
    lm = lim()
    otg = OnlineTrajectoryGenerator(lm, DT, initial=JointState.at_rest([0.3, 0.0]))
    otg.set_target(JointState.at_rest([1.0, 0.0]))
    otg.step()
    held, status = otg.step(JointState([np.nan, 0.0], [0.0, 0.0], [0.0, 0.0]))
    assert status is OtgStatus.ERROR_INVALID_INPUT
    assert np.isfinite(held.q).all() and (held.qd == 0).all()
    with pytest.raises(MotionInputError, match="max_velocity"):
        otg.set_target(JointState([1.0, 0.0], [5.0, 0.0], [0.0, 0.0]))
    with pytest.raises(MotionInputError):
        OnlineTrajectoryGenerator(lm, 0.0)


def test_retarget_trajectory_state_goal_and_trajectory_goal():
    lm = lim()
    first = plan_state_to_state(JointState.at_rest([0.0, 0.0]), JointState.at_rest([3.0, 2.0]), lm)
    t_sw = 0.6 * first.duration_s
    new = retarget(first, t_sw, JointState.at_rest([1.0, -1.0]), lm)
    t = np.array([0.3, t_sw - 1e-7, t_sw + 1e-7])
    q0, qd0, qdd0 = first.sample(t[:2])
    q1, qd1, qdd1 = new.sample(t)
    np.testing.assert_allclose(q1[:2], q0, atol=1e-12)          # equal before the switch
    np.testing.assert_allclose(qd1[2], qd1[1], atol=1e-4)       # no velocity step
    np.testing.assert_allclose(qdd1[2], qdd1[1], atol=1e-4)     # no acceleration step
    np.testing.assert_allclose(new.sample([new.duration_s])[0][0], [1.0, -1.0], atol=1e-9)
    follow = plan_state_to_state(JointState.at_rest([1.0, 1.0]), JointState.at_rest([0.0, 0.0]), lm)
    chained = retarget(first, t_sw, follow, lm)
    end = chained.duration_s
    np.testing.assert_allclose(chained.sample([end - 0.1])[0][0],
                               follow.sample([follow.duration_s - 0.1])[0][0], atol=1e-9)
    with pytest.raises(MotionInputError):
        retarget(first, float("nan"), follow, lm)
