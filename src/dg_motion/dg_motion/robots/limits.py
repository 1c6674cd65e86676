"""Joint limits in MoveIt 2's ``joint_limits.yaml`` format, over a URDF's ``<limit>`` tags.

Position, velocity, acceleration and jerk limits; the URDF's values count where the file is
silent.

File format (moveit_configs_utils; ``joint_limits_interface``)::

    joint_limits:
      shoulder_pan_joint:
        has_velocity_limits: true
        max_velocity: 3.15          # [rad/s]
        has_acceleration_limits: true
        max_acceleration: 6.0       # [rad/s^2]
        has_jerk_limits: true
        max_jerk: 60.0              # [rad/s^3]
        has_position_limits: true
        min_position: -6.28         # [rad]
        max_position: 6.28

A limit whose ``has_*`` flag is false (or absent) is unlimited (``inf``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dg_motion.errors import MotionInputError

_FIELDS = (  # (flag, key(s), attribute)
    ("has_velocity_limits", ("max_velocity",), "velocity_max"),
    ("has_acceleration_limits", ("max_acceleration",), "acceleration_max"),
    ("has_jerk_limits", ("max_jerk",), "jerk_max"),
    ("has_effort_limits", ("max_effort",), "effort_max"),
)


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits, arrays in the order of ``names`` (``inf`` = unlimited).

    Units: position [rad], velocity [rad/s], acceleration [rad/s^2], jerk [rad/s^3],
    effort [N m].
    """

    names: tuple[str, ...]
    position_min: np.ndarray
    position_max: np.ndarray
    velocity_max: np.ndarray
    acceleration_max: np.ndarray
    jerk_max: np.ndarray
    effort_max: np.ndarray

    def __post_init__(self) -> None:
        """Reject inconsistent limits (wrong sizes, NaN, non-positive maxima, min > max)."""
        n = len(self.names)
        if n == 0 or len(set(self.names)) != n:
            raise MotionInputError(f"joint limits: names must be unique and non-empty, "
                                   f"got {list(self.names)}")
        for attr in ("position_min", "position_max", "velocity_max", "acceleration_max",
                     "jerk_max", "effort_max"):
            arr = np.asarray(getattr(self, attr), dtype=float)
            if arr.shape != (n,):
                raise MotionInputError(f"joint limits: {attr} has shape {arr.shape}, "
                                       f"expected ({n},)")
            if np.isnan(arr).any():
                raise MotionInputError(f"joint limits: {attr} contains NaN")
            object.__setattr__(self, attr, arr)
        for attr in ("velocity_max", "acceleration_max", "jerk_max", "effort_max"):
            bad = [self.names[i] for i in np.flatnonzero(~(getattr(self, attr) > 0.0))]
            if bad:
                raise MotionInputError(f"joint limits: {attr} must be > 0 for {bad}")
        bad = [self.names[i] for i in np.flatnonzero(self.position_min > self.position_max)]
        if bad:
            raise MotionInputError(f"joint limits: min_position > max_position for {bad}")

    @property
    def dof(self) -> int:
        """Number of joints."""
        return len(self.names)

    def has_jerk_limits(self) -> bool:
        """True when every joint has a finite jerk limit."""
        return bool(np.isfinite(self.jerk_max).all())

    def index_of(self, names: Sequence[str]) -> np.ndarray:
        """Indices into these limits of ``names`` (a goal's joint order).

        Raises:
            MotionInputError: naming the unknown or missing joints.

        """
        unknown = [n for n in names if n not in self.names]
        missing = [n for n in self.names if n not in names]
        if unknown or missing or len(set(names)) != len(names):
            raise MotionInputError(
                f"joint names {list(names)} do not match the robot's {list(self.names)}"
                + (f": unknown {unknown}" if unknown else "")
                + (f", missing {missing}" if missing else ""))
        return np.array([self.names.index(n) for n in names])

    def scaled(self, velocity: float = 1.0, acceleration: float = 1.0,
               jerk: float = 1.0) -> JointLimits:
        """These limits with velocity/acceleration/jerk scaled by factors in (0, 1]."""
        for what, f in (("velocity", velocity), ("acceleration", acceleration),
                        ("jerk", jerk)):
            if not 0.0 < f <= 1.0:
                raise MotionInputError(f"{what} scaling must be in (0, 1], got {f}")
        return JointLimits(self.names, self.position_min, self.position_max,
                           self.velocity_max * velocity, self.acceleration_max * acceleration,
                           self.jerk_max * jerk, self.effort_max)

    def subset(self, names: Sequence[str]) -> JointLimits:
        """The limits of ``names`` only (in that order)."""
        idx = [self.names.index(n) for n in names]
        return JointLimits(tuple(names), self.position_min[idx], self.position_max[idx],
                           self.velocity_max[idx], self.acceleration_max[idx],
                           self.jerk_max[idx], self.effort_max[idx])


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MotionInputError(f"{where} must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise MotionInputError(f"{where} is NaN")
    return v


def joint_limits_from_dict(data: Any, names: Sequence[str] | None = None,
                           base: JointLimits | None = None,
                           where: str = "joint limits") -> JointLimits:
    """Limits from a parsed ``joint_limits.yaml`` document.

    ``names`` fixes the joint order (default: the file's order, or ``base``'s). ``base``
    (e.g. from the URDF) supplies every value the file does not set.

    Raises:
        MotionInputError: naming the file location and the problem.

    """
    if not isinstance(data, dict) or not isinstance(data.get("joint_limits"), dict):
        raise MotionInputError(f"{where}: expected a mapping 'joint_limits: {{joint: ...}}'")
    table = data["joint_limits"]
    if names is None:
        names = base.names if base is not None else tuple(table)
    names = tuple(names)
    if base is None:
        missing = [n for n in names if n not in table]
        if missing:
            raise MotionInputError(f"{where}: no limits for joints {missing}")
    inf = np.full(len(names), np.inf)
    values = {
        "position_min": -inf.copy(), "position_max": inf.copy(), "velocity_max": inf.copy(),
        "acceleration_max": inf.copy(), "jerk_max": inf.copy(), "effort_max": inf.copy()}
    if base is not None:
        sub = base.subset(names)
        values = {k: getattr(sub, k).copy() for k in values}
    for i, name in enumerate(names):
        entry = table.get(name, {})
        if not isinstance(entry, dict):
            raise MotionInputError(f"{where}: entry of '{name}' must be a mapping")
        for flag, keys, attr in _FIELDS:
            if entry.get(flag, False):
                key = keys[0]
                if key not in entry:
                    raise MotionInputError(f"{where}: '{name}' sets {flag} but no {key}")
                values[attr][i] = _number(f"{where}: {name}.{key}", entry[key])
        if entry.get("has_position_limits", False):
            for key, attr in (("min_position", "position_min"),
                              ("max_position", "position_max")):
                if key in entry:
                    values[attr][i] = _number(f"{where}: {name}.{key}", entry[key])
    try:
        return JointLimits(names, **values)
    except MotionInputError as exc:
        raise MotionInputError(f"{where}: {exc}") from None


def load_joint_limits(path: str | Path, names: Sequence[str] | None = None,
                      base: JointLimits | None = None) -> JointLimits:
    """Read a MoveIt ``joint_limits.yaml`` file (see :func:`joint_limits_from_dict`)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MotionInputError(f"{path}: cannot read joint limits: {exc}") from None
    return joint_limits_from_dict(data, names, base, where=str(path))
