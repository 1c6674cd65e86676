"""Validation of a joint trajectory goal before anything moves (plain arrays, no ROS).

The checks follow ros2_controllers' joint_trajectory_controller ``validate_trajectory_msg``
and go further where an industrial arm needs it: joint names (none missing, none unknown,
no duplicates: ``INVALID_JOINTS``), at least one point, every value finite, strictly
increasing ``time_from_start``, positions within the position limits, velocities and
accelerations (where given) within their limits, the last point at rest, consistent sizes
(``INVALID_GOAL``).
Tolerances follow control_msgs/JointTolerance: 0 takes the controller's default, a negative
value means "no tolerance" (any error accepted).

The result is a :class:`GoalSpec` in the controller's joint order, or a
:class:`GoalRejected` (a :class:`MotionInputError`) naming the problem and carrying the
``FollowJointTrajectory`` error code.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits

#: Slack on limit checks of given values (rounding in planners that sit on the limit).
LIMIT_SLACK = 1e-6
#: Largest |velocity| [rad/s] or |acceleration| [rad/s^2] of a last point that counts as at
#: rest (joint_trajectory_controller refuses non-zero end velocities by default too).
END_AT_REST = 1e-6


class GoalError(enum.IntEnum):
    """Why a goal was refused (values = control_msgs FollowJointTrajectory.Result codes)."""

    INVALID_GOAL = -1    #: values, times or sizes are unusable
    INVALID_JOINTS = -2  #: joint names do not match the controller's


class GoalSource(enum.Enum):
    """Where a goal came from (topic goals are subject to the command timeout)."""

    ACTION = "action"
    TOPIC = "topic"


class GoalRejected(MotionInputError):
    """A goal is refused; ``code`` is the FollowJointTrajectory error code."""

    def __init__(self, code: GoalError, message: str) -> None:
        """Record ``code`` and the reason ``message``."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Tolerances:
    """Per-joint tolerances (controller joint order); ``inf`` = not checked."""

    position: np.ndarray   # [rad]
    velocity: np.ndarray   # [rad/s]

    @classmethod
    def uniform(cls, dof: int, position: float, velocity: float = math.inf) -> Tolerances:
        """The same tolerance for every joint (<= 0: not checked)."""
        p = position if position > 0.0 else math.inf
        v = velocity if velocity > 0.0 else math.inf
        return cls(np.full(dof, p), np.full(dof, v))


@dataclass(frozen=True)
class GoalSpec:
    """A validated goal in the controller's joint order.

    ``t_s`` (N,) strictly increasing, >= 0; ``positions`` (N, dof); ``velocities`` and
    ``accelerations`` (N, dof) or None when the sender gave none.
    """

    names: tuple[str, ...]
    t_s: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray | None
    accelerations: np.ndarray | None
    path_tolerance: Tolerances
    goal_tolerance: Tolerances
    goal_time_tolerance_s: float
    source: GoalSource = GoalSource.ACTION


@dataclass(frozen=True)
class Point:
    """One trajectory point as received (the goal's joint order; empty = not given)."""

    time_from_start_s: float
    positions: Sequence[float]
    velocities: Sequence[float] = ()
    accelerations: Sequence[float] = ()


def _check_names(names: Sequence[str], controller: Sequence[str]) -> np.ndarray:
    names = list(names)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GoalRejected(GoalError.INVALID_JOINTS, f"duplicate joint names {dupes}")
    unknown = [n for n in names if n not in controller]
    missing = [n for n in controller if n not in names]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown joints {unknown}")
        if missing:
            parts.append(f"missing joints {missing}")
        raise GoalRejected(GoalError.INVALID_JOINTS,
                           "; ".join(parts) + f" (controller joints: {list(controller)})")
    return np.array([names.index(n) for n in controller])  # goal column of each joint


def _field(points: Sequence[Point], attr: str, order: np.ndarray, dof: int
           ) -> np.ndarray | None:
    sizes = {len(getattr(p, attr)) for p in points}
    if sizes == {0}:
        return None
    if sizes != {dof}:
        for i, p in enumerate(points):
            n = len(getattr(p, attr))
            if n != dof:
                raise GoalRejected(GoalError.INVALID_GOAL,
                                   f"point {i}: {n} {attr} for {dof} joints")
    arr = np.array([np.asarray(getattr(p, attr), dtype=float) for p in points])[:, order]
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        i, j = bad[0]
        raise GoalRejected(GoalError.INVALID_GOAL,
                           f"point {i}: non-finite {attr[:-1]} {arr[i, j]} "
                           f"(joint column {int(order[j])})")
    return arr


def _check_bound(names: Sequence[str], arr: np.ndarray | None, lo: np.ndarray,
                 hi: np.ndarray, what: str, unit: str) -> None:
    if arr is None:
        return
    over = (arr < lo - LIMIT_SLACK) | (arr > hi + LIMIT_SLACK)
    if over.any():
        i, j = np.argwhere(over)[0]
        raise GoalRejected(
            GoalError.INVALID_GOAL,
            f"point {i}: {what} {arr[i, j]:.6g} {unit} of joint '{names[j]}' is outside "
            f"[{lo[j]:.6g}, {hi[j]:.6g}]")


def tolerances_from(entries: Sequence[tuple[str, float, float]], names: Sequence[str],
                    default: Tolerances, what: str) -> Tolerances:
    """Merge ``(joint, position, velocity)`` entries over ``default`` (0: default, < 0: none).

    Raises:
        GoalRejected: for an unknown joint or a non-finite value.

    """
    pos, vel = default.position.copy(), default.velocity.copy()
    for name, p, v in entries:
        if name not in names:
            raise GoalRejected(GoalError.INVALID_JOINTS,
                               f"{what}: unknown joint '{name}'")
        if not (math.isfinite(p) and math.isfinite(v)):
            raise GoalRejected(GoalError.INVALID_GOAL,
                               f"{what}: non-finite tolerance for '{name}'")
        j = list(names).index(name)
        if p != 0.0:
            pos[j] = p if p > 0.0 else math.inf
        if v != 0.0:
            vel[j] = v if v > 0.0 else math.inf
    return Tolerances(pos, vel)


def validate_goal(joint_names: Sequence[str], points: Sequence[Point], limits: JointLimits, *,
                  path_tolerance: Tolerances, goal_tolerance: Tolerances,
                  goal_time_tolerance_s: float, source: GoalSource = GoalSource.ACTION,
                  max_points: int = 100_000) -> GoalSpec:
    """Check a received trajectory against the controller ``limits`` (see module docstring).

    Raises:
        GoalRejected: with the error code and a message naming the point, joint and value.

    """
    controller = limits.names
    order = _check_names(joint_names, controller)
    if len(points) == 0:
        raise GoalRejected(GoalError.INVALID_GOAL, "trajectory has no points")
    if len(points) > max_points:
        raise GoalRejected(GoalError.INVALID_GOAL,
                           f"trajectory has {len(points)} points, more than {max_points}")
    t = np.array([p.time_from_start_s for p in points], dtype=float)
    if not np.isfinite(t).all() or (t < 0.0).any():
        raise GoalRejected(GoalError.INVALID_GOAL,
                           f"time_from_start must be finite and >= 0, got {t.tolist()[:10]}")
    bad = np.flatnonzero(np.diff(t) <= 0.0)
    if len(bad):
        i = int(bad[0]) + 1
        raise GoalRejected(GoalError.INVALID_GOAL,
                           f"time_from_start must increase: point {i} at {t[i]:.6g} s is not "
                           f"after point {i - 1} at {t[i - 1]:.6g} s")
    dof = len(controller)
    positions = _field(points, "positions", order, dof)
    if positions is None:
        raise GoalRejected(GoalError.INVALID_GOAL, "points have no positions")
    velocities = _field(points, "velocities", order, dof)
    accelerations = _field(points, "accelerations", order, dof)
    if accelerations is not None and velocities is None:
        raise GoalRejected(GoalError.INVALID_GOAL,
                           "points give accelerations but no velocities")
    _check_bound(controller, positions, limits.position_min, limits.position_max,
                 "position", "rad")
    _check_bound(controller, velocities, -limits.velocity_max, limits.velocity_max,
                 "velocity", "rad/s")
    _check_bound(controller, accelerations, -limits.acceleration_max, limits.acceleration_max,
                 "acceleration", "rad/s^2")
    for arr, what in ((velocities, "velocity"), (accelerations, "acceleration")):
        if arr is not None and np.abs(arr[-1]).max() > END_AT_REST:
            j = int(np.abs(arr[-1]).argmax())
            raise GoalRejected(GoalError.INVALID_GOAL,
                               f"last point: non-zero {what} {arr[-1, j]:.6g} of joint "
                               f"'{controller[j]}' (a trajectory must end at rest)")
    if not (math.isfinite(goal_time_tolerance_s) and goal_time_tolerance_s >= 0.0):
        raise GoalRejected(GoalError.INVALID_GOAL,
                           f"goal_time_tolerance must be >= 0 s, got {goal_time_tolerance_s}")
    return GoalSpec(tuple(controller), t, positions, velocities, accelerations,
                    path_tolerance, goal_tolerance, float(goal_time_tolerance_s), source)
