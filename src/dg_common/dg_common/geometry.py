"""Planar geometry helpers (pure): yaw/quaternion conversion and angle wrapping."""

from __future__ import annotations

import math
from typing import overload

import numpy as np
import transforms3d.euler as t3e


@overload
def wrap_angle(a: float) -> float: ...
@overload
def wrap_angle(a: np.ndarray) -> np.ndarray: ...
def wrap_angle(a: float | np.ndarray) -> float | np.ndarray:
    """Wrap an angle [rad], or each of an array of them, to (-pi, pi]."""
    if isinstance(a, np.ndarray):
        return np.pi - np.remainder(np.pi - a, 2.0 * np.pi)
    w = math.remainder(a, 2.0 * math.pi)
    return math.pi if w == -math.pi else w


def yaw_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Yaw [rad] (rotation about z, ENU) of a quaternion given as x, y, z, w."""
    return t3e.quat2euler((w, x, y, z), axes="sxyz")[2]


def quaternion_from_yaw(yaw: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a pure yaw rotation [rad]."""
    w, x, y, z = t3e.euler2quat(0.0, 0.0, yaw, axes="sxyz")
    return float(x), float(y), float(z), float(w)
