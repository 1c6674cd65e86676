"""Fixture geometry: the pose of a found part as a reference -> image transform, box corners."""

from __future__ import annotations

import math

import numpy as np


def _corners(x: float, y: float, w: float, h: float, m: np.ndarray) -> np.ndarray:
    """The four corners (4, 2) of the box (x, y, w, h) mapped by the 3x3 transform ``m``."""
    box = np.array([[x, y, 1.0], [x + w, y, 1.0], [x + w, y + h, 1.0], [x, y + h, 1.0]])
    return (box @ m.T)[:, :2]


def _rotation(angle_deg: float) -> np.ndarray:
    """2x2 rotation of a pose angle in the shape matcher's convention.

    ``Match.angle_deg`` (dg_vision.metrology.matching) is positive counter-clockwise as
    seen on screen (y down), as for ``cv2.getRotationMatrix2D``.
    """
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s], [-s, c]])


def _angle_of(frame: np.ndarray) -> float:
    """Inverse of :func:`_rotation` for a similarity transform (3x3)."""
    return math.degrees(math.atan2(frame[0, 1], frame[0, 0]))


def fixture_transform(ref_xy: tuple[float, float], x: float, y: float, angle_deg: float,
                      scale: float = 1.0) -> np.ndarray:
    """3x3 transform reference -> image of a part found at (x, y, angle, scale).

    ``ref_xy`` is where the model's centre was in the reference image.
    """
    m = np.eye(3)
    m[:2, :2] = scale * _rotation(angle_deg)
    m[:2, 2] = np.array([x, y]) - m[:2, :2] @ np.asarray(ref_xy, dtype=np.float64)
    return m
