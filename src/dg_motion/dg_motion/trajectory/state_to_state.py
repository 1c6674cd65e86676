"""Time-optimal jerk-limited state-to-state motion, with Ruckig as the engine.

Reference: L. Berscheid and T. Kröger, "Jerk-limited Real-time Trajectory Generation with
Arbitrary Target States", Robotics: Science and Systems (RSS) 2021; the ``ruckig`` package
(pantor/ruckig) computes the motion, this module only validates, wraps and samples it.

Facts used:

1. Each joint's profile has at most 7 phases of constant jerk (±j_max or 0), preceded by an
   optional two-phase *brake* pre-trajectory when the start state would otherwise run over a
   velocity or acceleration limit. Ruckig synchronises the joints in time (all finish
   together) and returns, per joint and phase, the duration ``t[k]``, jerk ``j[k]`` and the
   state ``p[k], v[k], a[k]`` at the phase start; so the motion is evaluated exactly by
   ``p + v τ + a τ²/2 + j τ³/6`` (vectorised below instead of one ``at_time`` call per
   sample). With ``max_jerk = inf`` Ruckig returns second-order (acceleration-limited)
   profiles in the same form (``j = 0``).
2. Ruckig's own requirements on the input (its ``validate_input``): velocities and
   accelerations within limits, and a target state it can reach without running over the
   velocity limit; a *start* state whose velocity will inevitably overshoot (|a0| too large
   for the jerk limit) is rejected here for offline planning (``start_may_brake=False``), and
   accepted for mid-motion re-planning from a measured state, where Ruckig brakes first.
3. The community version ignores position limits; the motion's position extrema (Ruckig's
   ``position_extrema``) are checked here instead.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ruckig

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits

#: Slack [rad] on position limits for a state or a position extremum (float rounding).
POSITION_TOLERANCE_RAD = 1e-9


class PlanResult(enum.Enum):
    """Outcome of an offline state-to-state calculation (Ruckig's ``Result`` idiom)."""

    SUCCESS = "success"                      #: a valid time-optimal trajectory was found
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite, wrong size, out of limits
    ERROR_POSITION_LIMITS = "error_position_limits"  #: the motion leaves the position limits
    ERROR_CALCULATION = "error_calculation"  #: Ruckig found no profile


@dataclass(frozen=True)
class JointState:
    """Positions [rad], velocities [rad/s], accelerations [rad/s^2] of every joint."""

    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray

    @classmethod
    def at_rest(cls, q: Sequence[float] | np.ndarray) -> JointState:
        """A state at ``q`` with zero velocity and acceleration."""
        q = np.asarray(q, dtype=float)
        return cls(q, np.zeros_like(q), np.zeros_like(q))


def _vector(what: str, value: object, dof: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise MotionInputError(f"{what} is not a numeric vector: {value!r}") from None
    if arr.shape != (dof,):
        raise MotionInputError(f"{what} has shape {arr.shape}, expected ({dof},)")
    if not np.isfinite(arr).all():
        raise MotionInputError(f"{what} is not finite: {arr.tolist()}")
    return arr


def check_state(what: str, state: JointState, limits: JointLimits) -> JointState:
    """``state`` as float arrays, checked: finite, dof, within position/velocity/acc limits.

    Raises:
        MotionInputError: naming ``what``, the joint and the violated limit.

    """
    n = limits.dof
    q = _vector(f"{what} position", state.q, n)
    qd = _vector(f"{what} velocity", state.qd, n)
    qdd = _vector(f"{what} acceleration", state.qdd, n)
    checks = (
        ("position", q < limits.position_min - POSITION_TOLERANCE_RAD, q, "min_position",
         limits.position_min),
        ("position", q > limits.position_max + POSITION_TOLERANCE_RAD, q, "max_position",
         limits.position_max),
        ("velocity", np.abs(qd) > limits.velocity_max, qd, "max_velocity",
         limits.velocity_max),
        ("acceleration", np.abs(qdd) > limits.acceleration_max, qdd, "max_acceleration",
         limits.acceleration_max),
    )
    for quantity, bad, values, key, bound in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MotionInputError(
                f"{what} {quantity} of joint '{limits.names[i]}' is {values[i]:.6g}, "
                f"outside its limit {key} = {bound[i]:.6g}")
    return JointState(q, qd, qdd)


def _check_limits(limits: JointLimits) -> None:
    for attr in ("velocity_max", "acceleration_max"):
        bad = [limits.names[i] for i in np.flatnonzero(~np.isfinite(getattr(limits, attr)))]
        if bad:
            raise MotionInputError(f"state-to-state motion needs finite {attr} for {bad}")


class RuckigTrajectory:
    """A Ruckig trajectory as a :class:`~dg_motion.trajectory.types.Trajectory`.

    ``sample`` evaluates the phase polynomials exactly (fact 1); outside
    ``[0, duration_s]`` it holds the start / end state.
    """

    def __init__(self, names: tuple[str, ...], trajectory: ruckig.Trajectory,
                 start: JointState, goal: JointState, result: PlanResult) -> None:
        """Wrap a calculated ``ruckig.Trajectory`` (use :func:`plan_state_to_state`)."""
        self.names = tuple(names)
        self.duration_s = float(trajectory.duration)
        self.ruckig_trajectory = trajectory
        self.start = start
        self.goal = goal
        self.result = result
        self._tables = _phase_tables(trajectory)

    @property
    def dof(self) -> int:
        """Number of joints."""
        return len(self.names)

    def jerk_abs_max(self) -> np.ndarray:
        """Largest |jerk| [rad/s^3] of each joint over all phases that last > 0."""
        _, dur, _, _, _, j = self._tables
        return np.max(np.where(dur > 0.0, np.abs(j), 0.0), axis=1)

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at times ``t_s``, shape (len(t), dof)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        starts, _, p, v, a, j = self._tables
        n = self.dof
        q = np.empty((len(t), n))
        qd = np.empty_like(q)
        qdd = np.empty_like(q)
        tc = np.clip(t, 0.0, self.duration_s)
        for d in range(n):
            k = np.clip(np.searchsorted(starts[d], tc, side="right") - 1, 0,
                        starts.shape[1] - 1)
            tau = tc - starts[d, k]
            jd, ad, vd = j[d, k], a[d, k], v[d, k]
            q[:, d] = p[d, k] + tau * (vd + tau * (ad / 2.0 + tau * jd / 6.0))
            qd[:, d] = vd + tau * (ad + tau * jd / 2.0)
            qdd[:, d] = ad + tau * jd
        before, after = t <= 0.0, t >= self.duration_s
        if before.any():
            q[before], qd[before], qdd[before] = self.start.q, self.start.qd, self.start.qdd
        if after.any():
            q[after], qd[after], qdd[after] = self.goal.q, self.goal.qd, self.goal.qdd
        return q, qd, qdd


def _phase_tables(trajectory: ruckig.Trajectory) -> tuple[np.ndarray, ...]:
    """Per joint and phase: start time, duration, p, v, a (at the phase start), jerk."""
    profiles = trajectory.profiles[0]
    rows = []
    for prof in profiles:
        if prof.accel.duration > 0.0:  # not produced by offline state-to-state calculation
            raise MotionInputError("unsupported Ruckig profile with an acceleration phase")
        b = prof.brake
        dur = [b.t[0], b.t[1], *prof.t]
        rows.append((dur, [b.p[0], b.p[1], *prof.p[:7]], [b.v[0], b.v[1], *prof.v[:7]],
                     [b.a[0], b.a[1], *prof.a[:7]], [b.j[0], b.j[1], *prof.j]))
    dur = np.array([r[0] for r in rows], dtype=float)
    starts = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(dur, axis=1)[:, :-1]], axis=1)
    p, v, a, j = (np.array([r[i] for r in rows], dtype=float) for i in range(1, 5))
    # A zero-length phase starts where the next one does; ``searchsorted(side="right")``
    # picks the last of equal starts, so only a phase that lasts (or the end) is evaluated.
    return starts, dur, p, v, a, j


class RuckigSolver:
    """A reusable Ruckig instance for many offline calculations with the same limits.

    :meth:`solve` returns ``(PlanResult, ruckig.Trajectory | None, reason)`` without raising,
    for optimisers that try many boundary states (see ``waypoints.py``).
    """

    def __init__(self, limits: JointLimits) -> None:
        """Prepare Ruckig for ``limits`` (finite velocity and acceleration limits needed)."""
        _check_limits(limits)
        self.limits = limits
        self._otg = ruckig.Ruckig(limits.dof)
        self._inp = ruckig.InputParameter(limits.dof)
        self._inp.max_velocity = limits.velocity_max.tolist()
        self._inp.max_acceleration = limits.acceleration_max.tolist()
        self._inp.max_jerk = limits.jerk_max.tolist()

    def solve(self, start: JointState, goal: JointState, *, start_may_brake: bool = False,
              check_position_limits: bool = True
              ) -> tuple[PlanResult, ruckig.Trajectory | None, str]:
        """Ruckig's time-optimal trajectory from ``start`` to ``goal`` (checked arrays)."""
        inp = self._inp
        inp.current_position = start.q.tolist()
        inp.current_velocity = start.qd.tolist()
        inp.current_acceleration = start.qdd.tolist()
        inp.target_position = goal.q.tolist()
        inp.target_velocity = goal.qd.tolist()
        inp.target_acceleration = goal.qdd.tolist()
        try:
            self._otg.validate_input(inp, not start_may_brake, True)
        except (ruckig.RuckigError, RuntimeError) as exc:
            return (PlanResult.ERROR_INVALID_INPUT, None,
                    str(exc).strip().removeprefix("[ruckig]").strip())
        traj = ruckig.Trajectory(self.limits.dof)
        try:
            res = self._otg.calculate(inp, traj)
        except (ruckig.RuckigError, RuntimeError) as exc:
            return PlanResult.ERROR_CALCULATION, None, str(exc).strip()
        if res != ruckig.Result.Working:
            return PlanResult.ERROR_CALCULATION, None, f"Ruckig returned {res}"
        if check_position_limits:
            lim = self.limits
            for i, ext in enumerate(traj.position_extrema):
                if (ext.min < lim.position_min[i] - POSITION_TOLERANCE_RAD
                        or ext.max > lim.position_max[i] + POSITION_TOLERANCE_RAD):
                    return (PlanResult.ERROR_POSITION_LIMITS, traj,
                            f"the motion of joint '{lim.names[i]}' spans "
                            f"[{ext.min:.6g}, {ext.max:.6g}] rad, outside its position "
                            f"limits [{lim.position_min[i]:.6g}, {lim.position_max[i]:.6g}]")
        return PlanResult.SUCCESS, traj, ""


def plan_state_to_state(start: JointState, goal: JointState, limits: JointLimits,
                        names: Sequence[str] | None = None, *,
                        start_may_brake: bool = False) -> RuckigTrajectory:
    """The time-optimal jerk-limited motion from ``start`` to ``goal`` (Ruckig offline).

    ``names`` gives the joint order of the states (default: ``limits.names``; a subset of
    the limits' joints is allowed). Goal states may have non-zero velocity and acceleration.
    ``start_may_brake=True`` accepts a start state that will inevitably overshoot the
    velocity limit (mid-motion re-planning; Ruckig brakes first, see fact 2).

    Raises:
        MotionInputError: non-finite or wrongly sized states, a state outside the limits,
            a target Ruckig cannot reach within the limits, or a motion that leaves the
            position limits; the message names the joint and the limit.

    """
    if names is not None:
        unknown = [n for n in names if n not in limits.names]
        if unknown or len(set(names)) != len(names):
            raise MotionInputError(f"joint names {list(names)} do not match the limits' "
                                   f"{list(limits.names)}: unknown {unknown}")
        limits = limits.subset(list(names))
    start = check_state("start", start, limits)
    goal = check_state("goal", goal, limits)
    result, traj, reason = RuckigSolver(limits).solve(start, goal,
                                                      start_may_brake=start_may_brake)
    if result is not PlanResult.SUCCESS:
        raise MotionInputError(f"state-to-state motion: {reason}")
    return RuckigTrajectory(limits.names, traj, start, goal, result)
