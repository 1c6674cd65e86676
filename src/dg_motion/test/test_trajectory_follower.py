"""Goal validation, interpolation and the follower's tolerances, hold and preemption."""

import math

import numpy as np
import pytest

from dg_motion.execution.goal_validation import (
    GoalError,
    GoalRejected,
    GoalSource,
    Point,
    Tolerances,
    tolerances_from,
    validate_goal,
)
from dg_motion.execution.trajectory_follower import (
    TRANSITIONS,
    FollowerMode,
    FollowStatus,
    GoalOutcome,
    TrajectoryFollower,
)
from dg_motion.robots.limits import load_joint_limits
from dg_motion.robots.paths import robot_file

LIMITS = load_joint_limits(robot_file("ur5", "joint_limits.yaml"))
NAMES = list(LIMITS.names)
DT = 0.001


def goal(points, names=NAMES, source=GoalSource.ACTION, path=0.1, tol=0.01, gtt=0.5):
    return validate_goal(names, points, LIMITS, path_tolerance=Tolerances.uniform(6, path),
                         goal_tolerance=Tolerances.uniform(6, tol), goal_time_tolerance_s=gtt,
                         source=source)


@pytest.mark.parametrize("names, points, code, words", [
    (NAMES[:5], [Point(1.0, [0.0] * 5)], GoalError.INVALID_JOINTS, "missing joints"),
    ([*NAMES[:5], "x"], [Point(1.0, [0.0] * 6)], GoalError.INVALID_JOINTS, "unknown joints"),
    ([*NAMES[:5], NAMES[0]], [Point(1.0, [0.0] * 6)], GoalError.INVALID_JOINTS, "duplicate"),
    (NAMES, [], GoalError.INVALID_GOAL, "no points"),
    (NAMES, [Point(1.0, [0, 0, math.nan, 0, 0, 0])], GoalError.INVALID_GOAL, "non-finite"),
    (NAMES, [Point(1.0, [0.0] * 6), Point(1.0, [0.1] * 6)], GoalError.INVALID_GOAL,
     "must increase"),
    (NAMES, [Point(1.0, [0.0] * 5)], GoalError.INVALID_GOAL, "5 positions for 6"),
    (NAMES, [Point(1.0, [0, 0, 3.3, 0, 0, 0])], GoalError.INVALID_GOAL, "elbow_joint"),
    (NAMES, [Point(1.0, [0.0] * 6, [4.0] + [0.0] * 5), Point(2.0, [0.0] * 6, [0.0] * 6)],
     GoalError.INVALID_GOAL, "velocity 4"),
    (NAMES, [Point(1.0, [0.0] * 6, [0.1] * 6)], GoalError.INVALID_GOAL, "end at rest"),
    (NAMES, [Point(math.inf, [0.0] * 6)], GoalError.INVALID_GOAL, "finite"),
])
def test_invalid_goals_are_refused_with_code_and_reason(names, points, code, words):
    with pytest.raises(GoalRejected, match=words) as err:
        goal(points, names=names)
    assert err.value.code is code


def test_goal_is_reordered_to_controller_order_and_tolerances_merge():
    shuffled = NAMES[::-1]
    g = goal([Point(1.0, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])], names=shuffled)
    assert g.positions[0].tolist() == [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    tol = tolerances_from([("elbow_joint", 0.5, 0.0), ("wrist_1_joint", -1.0, 0.2)], NAMES,
                          Tolerances.uniform(6, 0.1), "path_tolerance")
    assert tol.position.tolist() == [0.1, 0.1, 0.5, math.inf, 0.1, 0.1]  # 0: default; <0: off
    assert tol.velocity[3] == 0.2 and math.isinf(tol.velocity[0])


def run(f, t0, t1, q=None, qd=None, offset=None):
    """Step the follower with a perfect (or offset) plant; return times and references."""
    out, t = [], t0
    q = f.reference()[0] if q is None else q
    qd = np.zeros(6) if qd is None else qd
    events = []
    while t < t1 - 1e-12:
        r = f.step(t, q, qd)
        events += r.ended
        out.append((t, r.q_ref.copy(), r.qd_ref.copy(), r.qdd_ref.copy(), r.status))
        q = r.q_ref + (0.0 if offset is None else offset(t))
        qd = r.qd_ref
        t = round(t + DT, 9)
    return out, events


def test_goal_succeeds_through_its_points():
    f = TrajectoryFollower(LIMITS)
    f.step(0.0, np.zeros(6), np.zeros(6))
    pts = [Point(0.5, [0.2] * 6), Point(1.0, [0.5] * 6)]
    f.set_goal(goal(pts), 7, 0.0)
    out, events = run(f, 0.0, 1.2)
    by_t = {round(t, 6): q for t, q, *_ in out}
    assert np.allclose(by_t[0.5], 0.2) and np.allclose(by_t[1.0], 0.5)
    assert [(e.goal_id, e.outcome) for e in events] == [(7, GoalOutcome.SUCCEEDED)]
    assert f.mode is FollowerMode.HOLDING and np.all(out[-1][2] == 0.0)


def test_path_violation_aborts_and_brakes_from_the_measured_state():
    f = TrajectoryFollower(LIMITS)
    f.step(0.0, np.zeros(6), np.zeros(6))
    f.set_goal(goal([Point(2.0, [1.0] * 6)], path=0.05), 1, 0.0)
    # The plant lags behind by a growing error on the elbow.
    lag = np.zeros(6)
    out, events = run(f, 0.0, 1.0, offset=lambda t: -np.r_[0, 0, 0.2 * t, 0, 0, 0] + lag)
    assert events[0].outcome is GoalOutcome.PATH_TOLERANCE_VIOLATED
    assert "elbow_joint" in events[0].message and "0.0500" in events[0].message
    assert out[-1][4] in (FollowStatus.STOPPING, FollowStatus.HOLDING)


def test_goal_tolerance_violation_after_goal_time_tolerance():
    f = TrajectoryFollower(LIMITS)
    f.step(0.0, np.zeros(6), np.zeros(6))
    f.set_goal(goal([Point(0.5, [0.3] * 6)], tol=0.01, path=1.0, gtt=0.2), 3, 0.0)
    # The plant stops 0.05 rad short of the goal.
    out, events = run(f, 0.0, 1.0, offset=lambda t: np.full(6, -0.05) if t > 0.4 else 0.0)
    assert events and events[0].outcome is GoalOutcome.GOAL_TOLERANCE_VIOLATED
    t_end = next(t for t, *_, s in out if s is FollowStatus.FINISHED)
    assert 0.5 + 0.2 < t_end <= 0.5 + 0.2 + 2 * DT


def test_topic_goal_times_out_into_a_jerk_limited_hold():
    f = TrajectoryFollower(LIMITS, command_timeout_s=0.3)
    f.step(0.0, np.zeros(6), np.zeros(6))
    f.set_goal(goal([Point(3.0, [1.5] * 6)], source=GoalSource.TOPIC), 1, 0.0)
    out, events = run(f, 0.0, 2.0)
    assert events[0].outcome is GoalOutcome.STOPPED and "command timeout" in events[0].message
    t = np.array([o[0] for o in out])
    qdd = np.array([o[3] for o in out])
    qd = np.array([o[2] for o in out])
    assert np.all(np.abs(qd[t > 0.3]).max(axis=1)[:5] > 0)       # still moving at the timeout
    assert np.all(qd[-1] == 0.0) and f.mode is FollowerMode.HOLDING
    jerk = np.abs(np.diff(qdd[t >= 0.3], axis=0)) / DT
    assert jerk.max() <= LIMITS.jerk_max.max() * 1.01            # Ruckig's brake
    held = np.array([o[1] for o in out])[-100:]
    assert np.ptp(held, axis=0).max() == 0.0


def test_preemption_continues_without_velocity_step():
    f = TrajectoryFollower(LIMITS)
    f.step(0.0, np.zeros(6), np.zeros(6))
    f.set_goal(goal([Point(2.0, [1.0] * 6)]), 1, 0.0)
    out1, _ = run(f, 0.0, 1.0)
    v_before = out1[-1][2]
    f.set_goal(goal([Point(1.0, [-0.3] * 6)]), 2, 1.0)
    out2, events = run(f, 1.0, 2.5)
    assert events[0].outcome is GoalOutcome.PREEMPTED and events[0].goal_id == 1
    assert events[-1].outcome is GoalOutcome.SUCCEEDED and events[-1].goal_id == 2
    assert np.abs(out2[0][2] - v_before).max() < 0.02   # one cycle's worth of acceleration
    assert np.abs(out2[0][1] - out1[-1][1]).max() < 1e-3


def test_cancel_from_settling_holds_at_once_and_table_has_no_dead_modes():
    assert {m for m, _ in TRANSITIONS} == set(FollowerMode)
    f = TrajectoryFollower(LIMITS)
    f.step(0.0, np.zeros(6), np.zeros(6))
    f.stop(0.0, "nothing to stop")           # ignored while holding
    assert f.mode is FollowerMode.HOLDING
