"""Rigid transforms for the arm simulator: URDF roll-pitch-yaw and quaternions (pure numpy).

URDF ``rpy`` is a fixed-axis X-Y-Z rotation, ``R = Rz(yaw) Ry(pitch) Rx(roll)`` (ROS REP-103;
urdfdom ``Rotation::setFromRPY``). MuJoCo quaternions are ``(w, x, y, z)``; ROS messages use
``(x, y, z, w)``: the functions say which they return.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rpy_matrix(rpy: Sequence[float]) -> np.ndarray:
    """3x3 rotation of URDF roll-pitch-yaw [rad] (``Rz(y) Ry(p) Rx(r)``)."""
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def matrix_to_quat_wxyz(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` of a rotation matrix, ``w >= 0`` (Shepperd's method)."""
    m = np.asarray(rot, dtype=float)
    tr = np.trace(m)
    if tr > 0.0:
        s = 2.0 * np.sqrt(1.0 + tr)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[0] < 0.0 else quat


def transform(xyz: Sequence[float], rpy: Sequence[float]) -> np.ndarray:
    """4x4 homogeneous transform of a translation [m] and URDF roll-pitch-yaw [rad]."""
    t = np.eye(4)
    t[:3, :3] = rpy_matrix(rpy)
    t[:3, 3] = np.asarray(xyz, dtype=float)
    return t


def pose6_transform(pose: Sequence[float]) -> np.ndarray:
    """4x4 transform of a cell pose ``[x, y, z, roll, pitch, yaw]`` ([m], [rad])."""
    return transform(pose[:3], pose[3:6])


def fmt(values: Sequence[float] | np.ndarray) -> str:
    """Space-separated numbers for an MJCF attribute (full double precision)."""
    return " ".join(repr(float(v)) for v in np.ravel(values))
