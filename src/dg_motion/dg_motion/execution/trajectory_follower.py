"""Trajectory following with path and goal tolerances, preemption and a jerk-limited hold.

The control-loop side of ros2_controllers' joint_trajectory_controller, once per cycle:

1. sample the active trajectory at the loop time -> reference (q, qd, qdd);
2. path tolerance: while executing, ``|q_ref - q| > path_tolerance`` (or the velocity
   error) on any joint aborts the goal (PATH_TOLERANCE_VIOLATED) and stops;
3. goal tolerance: after the end time, the goal succeeds as soon as every joint is within
   ``goal_tolerance``; if not by ``end + goal_time_tolerance`` it aborts
   (GOAL_TOLERANCE_VIOLATED) and holds the end position;
4. a topic goal that is not refreshed within ``command_timeout_s`` stops (JTC's
   ``cmd_timeout``); cancel and errors stop too.

"Stop" is a jerk-limited brake to zero velocity from the current reference state (Ruckig's
velocity interface, Berscheid & Kröger, RSS 2021), then hold that position; after a path
violation it brakes from the measured state instead, so the reference never pulls the arm
back along the violated path. A new goal starts from the current reference state (see
:mod:`dg_motion.execution.interpolation`): preemption has no velocity step.

The follower's mode is one enum and one transition table (DESIGN.md §4.11).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import ruckig

from dg_motion.execution.goal_validation import (
    GoalError,
    GoalRejected,
    GoalSource,
    GoalSpec,
    Tolerances,
)
from dg_motion.execution.interpolation import interpolate_goal
from dg_motion.robots.limits import JointLimits

#: Acceleration [rad/s^2] / jerk [rad/s^3] used to brake when the limits give none.
FALLBACK_ACCELERATION = 10.0
FALLBACK_JERK = 100.0


class FollowerMode(enum.Enum):
    """What the follower does."""

    HOLDING = "holding"       #: at rest at a fixed position, no goal
    EXECUTING = "executing"   #: following a goal's trajectory
    SETTLING = "settling"     #: goal's end time passed, waiting for the goal tolerance
    STOPPING = "stopping"     #: braking to zero velocity (jerk-limited)


class FollowerEvent(enum.Enum):
    """What makes the mode change."""

    NEW_GOAL = "new_goal"
    REACHED_END = "reached_end"          #: trajectory time over
    WITHIN_GOAL = "within_goal"          #: every joint within goal tolerance
    GOAL_TIMEOUT = "goal_timeout"        #: end + goal_time_tolerance passed, not within
    PATH_VIOLATION = "path_violation"
    STOP = "stop"                        #: cancel, command timeout, error, deactivate
    STOPPED = "stopped"                  #: the brake trajectory ended


class GoalOutcome(enum.Enum):
    """How a goal ended (maps to FollowJointTrajectory results in the node)."""

    SUCCEEDED = "succeeded"
    PATH_TOLERANCE_VIOLATED = "path_tolerance_violated"
    GOAL_TOLERANCE_VIOLATED = "goal_tolerance_violated"
    STOPPED = "stopped"            #: cancel, timeout or error: see the message
    PREEMPTED = "preempted"        #: replaced by a newer goal
    REJECTED = "rejected"          #: could not be interpolated from the current state


class FollowStatus(enum.Enum):
    """Result of one :meth:`TrajectoryFollower.step`."""

    HOLDING = "holding"      #: reference constant, nothing to do
    WORKING = "working"      #: a goal is being executed
    STOPPING = "stopping"    #: braking
    FINISHED = "finished"    #: a goal ended this step (see ``StepResult.ended``)


M, E = FollowerMode, FollowerEvent

#: (mode, event) -> next mode. Events not listed for a mode are ignored in it.
TRANSITIONS: dict[tuple[FollowerMode, FollowerEvent], FollowerMode] = {
    (M.HOLDING, E.NEW_GOAL): M.EXECUTING,
    (M.EXECUTING, E.NEW_GOAL): M.EXECUTING,
    (M.SETTLING, E.NEW_GOAL): M.EXECUTING,
    (M.STOPPING, E.NEW_GOAL): M.EXECUTING,
    (M.EXECUTING, E.REACHED_END): M.SETTLING,
    (M.SETTLING, E.WITHIN_GOAL): M.HOLDING,
    (M.SETTLING, E.GOAL_TIMEOUT): M.HOLDING,
    (M.EXECUTING, E.PATH_VIOLATION): M.STOPPING,
    (M.EXECUTING, E.STOP): M.STOPPING,
    (M.SETTLING, E.STOP): M.HOLDING,
    (M.STOPPING, E.STOPPED): M.HOLDING,
}


_STATUS = {M.HOLDING: FollowStatus.HOLDING, M.EXECUTING: FollowStatus.WORKING,
           M.SETTLING: FollowStatus.WORKING, M.STOPPING: FollowStatus.STOPPING}


@dataclass(frozen=True)
class Ended:
    """A goal that ended: its id, outcome and the reason in words."""

    goal_id: int
    outcome: GoalOutcome
    message: str


@dataclass
class StepResult:
    """Reference of this cycle and what happened."""

    status: FollowStatus
    q_ref: np.ndarray
    qd_ref: np.ndarray
    qdd_ref: np.ndarray
    ended: list[Ended]


class BrakeTrajectory:
    """Jerk-limited braking from ``(q, qd, qdd)`` to rest (a Trajectory)."""

    def __init__(self, names: tuple[str, ...], q: np.ndarray, qd: np.ndarray, qdd: np.ndarray,
                 limits: JointLimits) -> None:
        """Plan the brake with Ruckig's velocity interface (target velocity 0)."""
        dof = len(q)
        inp = ruckig.InputParameter(dof)
        inp.control_interface = ruckig.ControlInterface.Velocity
        inp.current_position, inp.current_velocity = q.tolist(), qd.tolist()
        a_max = np.where(np.isfinite(limits.acceleration_max), limits.acceleration_max,
                         FALLBACK_ACCELERATION)
        # The current acceleration must be within the bound Ruckig gets.
        a_max = np.maximum(a_max, np.abs(qdd) * (1 + 1e-9))
        inp.current_acceleration = qdd.tolist()
        inp.max_acceleration = a_max.tolist()
        inp.max_jerk = np.where(np.isfinite(limits.jerk_max), limits.jerk_max,
                                FALLBACK_JERK).tolist()
        inp.max_velocity = np.maximum(np.where(np.isfinite(limits.velocity_max),
                                               limits.velocity_max, 1e3),
                                      np.abs(qd) * (1 + 1e-9) + 1e-9).tolist()
        inp.target_velocity = [0.0] * dof
        inp.target_acceleration = [0.0] * dof
        self._traj = ruckig.Trajectory(dof)
        result = ruckig.Ruckig(dof).calculate(inp, self._traj)
        self.names = names
        self._fallback = None
        if result not in (ruckig.Result.Working, ruckig.Result.Finished):
            self._fallback = q.copy()   # cannot plan (should not happen): hold here
            self.duration_s = 0.0
        else:
            self.duration_s = float(self._traj.duration)

    def at(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity, acceleration (dof,) at one time."""
        q, qd, qdd = self.sample(np.array([t_s]))
        return q[0], qd[0], qdd[0]

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at ``t_s``."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        if self._fallback is not None:
            z = np.zeros((len(t), len(self._fallback)))
            return np.tile(self._fallback, (len(t), 1)), z, z.copy()
        rows = [self._traj.at_time(float(min(max(x, 0.0), self.duration_s))) for x in t]
        q = np.array([r[0] for r in rows])
        qd = np.array([r[1] for r in rows])
        qdd = np.array([r[2] for r in rows])
        after = t >= self.duration_s
        qd[after], qdd[after] = 0.0, 0.0
        return q, qd, qdd


class TrajectoryFollower:
    """Reference generation and tolerance monitoring, one call per control cycle."""

    def __init__(self, limits: JointLimits, *, command_timeout_s: float = 0.5,
                 start_tolerance_rad: float = 0.01) -> None:
        """Follow trajectories of the joints of ``limits`` (their order everywhere)."""
        self.limits = limits
        self.names = limits.names
        self.command_timeout_s = float(command_timeout_s)
        self.start_tolerance_rad = float(start_tolerance_rad)
        self.mode = FollowerMode.HOLDING
        self._traj = None
        self._t0 = 0.0
        self._goal: GoalSpec | None = None
        self._goal_id = -1
        self._t_received = 0.0
        dof = len(self.names)
        self._ref: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._zero = np.zeros(dof)
        self._ended: list[Ended] = []

    # --- inputs -------------------------------------------------------------------
    @property
    def goal_id(self) -> int:
        """Id of the goal being executed or settled (-1: none)."""
        return self._goal_id if self.mode in (M.EXECUTING, M.SETTLING) else -1

    def reference(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The last reference (q, qd, qdd), None before the first step."""
        return self._ref

    def set_goal(self, goal: GoalSpec, goal_id: int, t_s: float) -> None:
        """Start ``goal`` at loop time ``t_s`` from the current reference (preempting).

        Raises:
            GoalRejected: the goal cannot start from here (the running goal continues).

        """
        if self._ref is None:
            raise GoalRejected(GoalError.INVALID_GOAL, "no joint state yet")
        q0, qd0, qdd0 = self._ref
        traj = interpolate_goal(goal, q0, qd0, qdd0, self.limits, self.start_tolerance_rad)
        self._end_goal(GoalOutcome.PREEMPTED, f"preempted by goal {goal_id}")
        self._fire(E.NEW_GOAL)
        self._traj, self._t0, self._goal, self._goal_id = traj, t_s, goal, goal_id
        self._t_received = t_s

    def stop(self, t_s: float, reason: str) -> None:
        """Brake the running goal (cancel, timeout, error); its outcome is STOPPED."""
        if self.mode is M.EXECUTING:
            self._brake_from_reference(t_s)
        self._end_goal(GoalOutcome.STOPPED, reason)
        self._fire(E.STOP)

    # --- the control step -------------------------------------------------------------
    def step(self, t_s: float, q: np.ndarray, qd: np.ndarray) -> StepResult:
        """The reference at loop time ``t_s`` given the measured ``q``, ``qd``."""
        if self._ref is None:   # first cycle: hold where the arm is
            self._ref = (np.array(q, dtype=float), self._zero.copy(), self._zero.copy())
        if self.mode is M.HOLDING:
            self._ref = (self._ref[0], self._zero, self._zero)
        else:
            self._ref = self._traj.at(t_s - self._t0)
            self._monitor(t_s, q, qd)
        status = _STATUS[self.mode]
        ended, self._ended = self._ended, []
        if ended:
            status = FollowStatus.FINISHED
        return StepResult(status, *self._ref, ended)

    def _monitor(self, t_s: float, q: np.ndarray, qd: np.ndarray) -> None:
        goal, tau = self._goal, t_s - self._t0
        if self.mode is M.STOPPING:
            if tau >= self._traj.duration_s:
                self._fire(E.STOPPED)
            return
        if (self.mode is M.EXECUTING and goal.source is GoalSource.TOPIC
                and t_s - self._t_received > self.command_timeout_s):
            self.stop(t_s, f"command timeout: no trajectory for "
                           f"{t_s - self._t_received:.3f} s (limit {self.command_timeout_s} s)")
            return
        rq, rqd, _ = self._ref
        if self.mode is M.EXECUTING:
            bad = _violation(self.names, rq - q, rqd - qd, goal.path_tolerance)
            if bad:
                self._end_goal(GoalOutcome.PATH_TOLERANCE_VIOLATED, bad)
                self._traj = BrakeTrajectory(self.names, np.asarray(q, float),
                                             np.asarray(qd, float), self._zero, self.limits)
                self._t0 = t_s
                self._fire(E.PATH_VIOLATION)
                return
            if tau >= self._traj.duration_s:
                self._fire(E.REACHED_END)
        if self.mode is M.SETTLING:
            bad = _violation(self.names, rq - q, rqd - qd, goal.goal_tolerance)
            late = tau - self._traj.duration_s
            if not bad:
                self._end_goal(GoalOutcome.SUCCEEDED, "")
                self._fire(E.WITHIN_GOAL)
            elif late > goal.goal_time_tolerance_s:
                self._end_goal(GoalOutcome.GOAL_TOLERANCE_VIOLATED,
                               f"{bad} {late:.3f} s after the end (goal_time_tolerance "
                               f"{goal.goal_time_tolerance_s} s)")
                self._fire(E.GOAL_TIMEOUT)

    # --- helpers ------------------------------------------------------------------
    def _brake_from_reference(self, t_s: float) -> None:
        q, qd, qdd = self._ref
        self._traj = BrakeTrajectory(self.names, q, qd, qdd, self.limits)
        self._t0 = t_s

    def _end_goal(self, outcome: GoalOutcome, message: str) -> None:
        if self.mode in (M.EXECUTING, M.SETTLING) and self._goal_id >= 0:
            self._ended.append(Ended(self._goal_id, outcome, message))
            self._goal_id = -1

    def _fire(self, event: FollowerEvent) -> None:
        nxt = TRANSITIONS.get((self.mode, event))
        if nxt is None:
            return
        if nxt is M.HOLDING and self._ref is not None:
            self._ref = (self._ref[0].copy(), self._zero, self._zero)
        self.mode = nxt


def _violation(names: tuple[str, ...], e_q: np.ndarray, e_qd: np.ndarray,
               tol: Tolerances) -> str:
    """'' when within ``tol``, else which joint violated what by how much."""
    over_q = np.abs(e_q) > tol.position
    over_v = np.abs(e_qd) > tol.velocity
    if not (over_q.any() or over_v.any()):
        return ""
    if over_q.any():
        j = int(np.argmax(np.where(over_q, np.abs(e_q) - tol.position, -math.inf)))
        return (f"joint '{names[j]}' position error {e_q[j]:+.4f} rad exceeds the tolerance "
                f"{tol.position[j]:.4f} rad")
    if over_v.any():
        j = int(np.argmax(np.where(over_v, np.abs(e_qd) - tol.velocity, -math.inf)))
        return (f"joint '{names[j]}' velocity error {e_qd[j]:+.4f} rad/s exceeds the "
                f"tolerance {tol.velocity[j]:.4f} rad/s")
    return ""
