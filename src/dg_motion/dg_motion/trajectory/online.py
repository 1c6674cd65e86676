"""Online re-targeting: a new goal mid-motion continues from the current state.

Reference: Berscheid & Kröger, "Jerk-limited Real-time Trajectory Generation with Arbitrary
Target States", RSS 2021 (Ruckig). Ruckig's online ``update`` re-plans every control cycle
from the *current* position, velocity and acceleration, so a target that changes
mid-motion never causes a step in velocity or acceleration (jerk stays limited); a current
state that would inevitably overshoot a limit is first braked (Ruckig's brake profile).

* :class:`OnlineTrajectoryGenerator`: one ``step`` per control cycle of ``dt_s`` (Ruckig's
  real-time interface), ``set_target`` at any time. Inputs are validated in ``set_target``
  (before the loop); ``step`` never raises for a bad measured state: it returns
  ``OtgStatus.ERROR_INVALID_INPUT`` and holds the last valid position (Ruckig's idiom).
* :func:`retarget`: the same on whole trajectories (offline): ``traj`` up to ``t_switch_s``,
  then Ruckig's motion from the state there into the new goal; for a trajectory goal, first
  to that trajectory's start state, then the trajectory itself.
"""

from __future__ import annotations

import enum

import numpy as np
import ruckig

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.state_to_state import JointState, check_state, plan_state_to_state
from dg_motion.trajectory.types import Trajectory
from dg_motion.trajectory.waypoints import ChainedTrajectory


class OtgStatus(enum.Enum):
    """Result of one control cycle (Ruckig's ``Result``)."""

    WORKING = "working"                      #: moving towards the target
    FINISHED = "finished"                    #: the target state is reached
    NO_TARGET = "no_target"                  #: no target set yet: holding still
    ERROR_INVALID_INPUT = "error_invalid_input"  #: bad measured state: holding last position


class OnlineTrajectoryGenerator:
    """Jerk-limited online trajectory generation, one ``step`` per control cycle."""

    def __init__(self, limits: JointLimits, dt_s: float, *,
                 initial: JointState | None = None) -> None:
        """Generator for ``limits`` at cycle time ``dt_s`` [s], starting at ``initial``."""
        if not (np.isfinite(dt_s) and dt_s > 0.0):
            raise MotionInputError(f"control cycle must be > 0 s, got {dt_s}")
        for attr in ("velocity_max", "acceleration_max"):
            if not np.isfinite(getattr(limits, attr)).all():
                raise MotionInputError(f"online generation needs finite {attr}")
        self.limits = limits
        self.dt_s = float(dt_s)
        self._otg = ruckig.Ruckig(limits.dof, self.dt_s)
        self._inp = ruckig.InputParameter(limits.dof)
        self._out = ruckig.OutputParameter(limits.dof)
        self._inp.max_velocity = limits.velocity_max.tolist()
        self._inp.max_acceleration = limits.acceleration_max.tolist()
        self._inp.max_jerk = limits.jerk_max.tolist()
        self._state: JointState | None = None
        self._has_target = False
        if initial is not None:
            self._set_current(check_state("initial", initial, limits))

    @property
    def state(self) -> JointState | None:
        """The last commanded state (None before the first state is known)."""
        return self._state

    def _set_current(self, s: JointState) -> None:
        self._state = s
        self._inp.current_position = s.q.tolist()
        self._inp.current_velocity = s.qd.tolist()
        self._inp.current_acceleration = s.qdd.tolist()

    def set_target(self, goal: JointState) -> None:
        """Move to ``goal`` from wherever the motion is now (any time, also mid-motion).

        Raises:
            MotionInputError: a goal that is non-finite, of the wrong size or out of limits.

        """
        goal = check_state("goal", goal, self.limits)
        inp = self._inp
        inp.target_position = goal.q.tolist()
        inp.target_velocity = goal.qd.tolist()
        inp.target_acceleration = goal.qdd.tolist()
        try:
            self._otg.validate_input(inp, False, True)
        except (ruckig.RuckigError, RuntimeError) as exc:
            raise MotionInputError(f"goal: {str(exc).strip()}") from None
        self._has_target = True

    def step(self, current: JointState | None = None) -> tuple[JointState, OtgStatus]:
        """One control cycle: the next commanded state and the status.

        ``current``: a measured state to continue from (default: the last commanded one).
        """
        if current is not None:
            try:
                current = check_state("current", current, self.limits)
            except MotionInputError:
                return self._hold(), OtgStatus.ERROR_INVALID_INPUT
            self._set_current(current)
        if self._state is None:
            raise MotionInputError("online generator: no current state (pass one to step "
                                   "or give initial=)")
        if not self._has_target:
            return self._hold(), OtgStatus.NO_TARGET
        try:
            res = self._otg.update(self._inp, self._out)
        except (ruckig.RuckigError, RuntimeError):
            return self._hold(), OtgStatus.ERROR_INVALID_INPUT
        if res not in (ruckig.Result.Working, ruckig.Result.Finished):
            return self._hold(), OtgStatus.ERROR_INVALID_INPUT
        out = self._out
        new = JointState(np.array(out.new_position), np.array(out.new_velocity),
                         np.array(out.new_acceleration))
        out.pass_to_input(self._inp)
        self._state = new
        return new, (OtgStatus.FINISHED if res == ruckig.Result.Finished
                     else OtgStatus.WORKING)

    def _hold(self) -> JointState:
        """Stand still at the last valid position (zero velocity and acceleration)."""
        if self._state is None:
            raise MotionInputError("online generator: no valid state to hold")
        return JointState.at_rest(self._state.q)


class _Window:
    """``traj`` restricted to [0, duration_s] (its own time)."""

    def __init__(self, traj: Trajectory, duration_s: float) -> None:
        self.names = tuple(traj.names)
        self.duration_s = float(duration_s)
        self._traj = traj

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._traj.sample(np.clip(np.asarray(t_s, dtype=float), 0.0, self.duration_s))


def retarget(traj: Trajectory, t_switch_s: float, goal: JointState | Trajectory,
             limits: JointLimits) -> Trajectory:
    """``traj`` until ``t_switch_s``, then a jerk-limited blend into ``goal``.

    The blend starts from ``traj``'s exact state at the switch (no velocity or acceleration
    step). ``goal`` is a state (reached time-optimally) or a trajectory (its start state is
    reached, then it is followed).

    Raises:
        MotionInputError: a non-finite switch time, joint names that differ, or a goal
            Ruckig cannot reach within the limits.

    """
    if not np.isfinite(t_switch_s):
        raise MotionInputError(f"switch time must be finite, got {t_switch_s}")
    limits.index_of(traj.names)
    limits = limits.subset(list(traj.names))
    t_sw = float(np.clip(t_switch_s, 0.0, traj.duration_s))
    q, qd, qdd = traj.sample(np.array([t_sw]))
    now = JointState(q[0], qd[0], qdd[0])
    follow: Trajectory | None = None
    if isinstance(goal, JointState):
        target = goal
    else:
        if tuple(goal.names) != tuple(traj.names):
            raise MotionInputError(f"goal trajectory joints {list(goal.names)} differ from "
                                   f"{list(traj.names)}")
        g = goal.sample(np.array([0.0]))
        target = JointState(g[0][0], g[1][0], g[2][0])
        follow = goal
    blend = plan_state_to_state(now, target, limits, start_may_brake=True)
    pieces: list[Trajectory] = []
    if t_sw > 0.0:
        pieces.append(_Window(traj, t_sw))
    pieces.append(blend)
    if follow is not None:
        pieces.append(follow)
    return ChainedTrajectory(traj.names, pieces)
