"""The state the steps of one run share: inputs, fixture frames, ROI crops, drawings, findings.

A step that finds nothing to measure raises :class:`_CannotMeasure`; its message becomes the
measurement's ``message``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from dg_vision.image import to_gray
from dg_vision.recipe.geometry import _corners
from dg_vision.recipe.results import Detection


class _CannotMeasure(Exception):
    """A tool found nothing to measure; the message says why."""


_GREEN, _RED, _YELLOW, _CYAN, _MAGENTA = (40, 200, 40), (40, 40, 230), (0, 220, 255), \
    (255, 200, 0), (255, 0, 255)


class _Context:
    """What the steps of one run share: inputs, fixtures, drawings, detections."""

    def __init__(self, image: np.ndarray | None, points: np.ndarray | None) -> None:
        self.image = image
        self.gray = to_gray(image) if image is not None else None
        self.points = points
        self.fixtures: dict[str, np.ndarray | None] = {}
        self.draw: list[Callable[[np.ndarray], None]] = []
        self.detections: list[Detection] = []
        self.anomaly_score = math.nan
        # per anomaly step: (map over its crop, crop -> image transform, threshold)
        self.anomaly_maps: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.codes: list[tuple[str, str, str]] = []
        self.part_id = ""
        self.surface_defects: list[Any] = []
        self.frame = np.eye(3)                 # reference -> image of the current step

    # geometry of the current step ------------------------------------------------------
    def to_image(self, pts: Any) -> np.ndarray:
        """Map reference-frame points (N,2) into the image."""
        p = np.atleast_2d(np.asarray(pts, dtype=np.float64))
        return p @ self.frame[:2, :2].T + self.frame[:2, 2]

    def to_reference(self, pts: Any) -> np.ndarray:
        """Map image points (N,2) into the reference (part) frame."""
        inv = np.linalg.inv(self.frame)
        p = np.atleast_2d(np.asarray(pts, dtype=np.float64))
        return p @ inv[:2, :2].T + inv[:2, 2]

    def frame_scale(self) -> float:
        """Scale of the current step's fixture (1 without one)."""
        return float(math.sqrt(abs(np.linalg.det(self.frame[:2, :2]))))

    def need_gray(self) -> np.ndarray:
        """The grey image, or _CannotMeasure when the run has none."""
        if self.gray is None:
            raise _CannotMeasure("no image given to a 2D step")
        return self.gray

    def need_points(self) -> np.ndarray:
        """The point cloud [mm], or _CannotMeasure when the run has none."""
        if self.points is None:
            raise _CannotMeasure("no point cloud given to a 3D step")
        return self.points

    def crop(self, roi: tuple[float, float, float, float] | None, *, color: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
        """Resample the ROI (reference frame) upright from the image.

        Returns the crop and the 3x3 transform from crop pixels to image pixels.
        """
        gray = self.need_gray()
        src = self.image if color and self.image is not None else gray
        h_img, w_img = gray.shape
        if roi is None:
            roi = (0.0, 0.0, float(w_img), float(h_img))
        x, y, w, h = roi
        m = self.frame @ np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])
        corners = _corners(0, 0, w, h, m)
        if (corners[:, 0].max() <= 0 or corners[:, 1].max() <= 0
                or corners[:, 0].min() >= w_img or corners[:, 1].min() >= h_img):
            raise _CannotMeasure(f"ROI {list(roi)} lies outside the {w_img}x{h_img} image")
        if np.allclose(m[:2, :2], np.eye(2)) and float(m[0, 2]).is_integer() \
                and float(m[1, 2]).is_integer() and m[0, 2] >= 0 and m[1, 2] >= 0 \
                and m[0, 2] + w <= w_img and m[1, 2] + h <= h_img and float(w).is_integer() \
                and float(h).is_integer():
            x0, y0 = int(m[0, 2]), int(m[1, 2])
            out = src[y0:y0 + int(h), x0:x0 + int(w)].copy()
        else:
            out = cv2.warpAffine(src, m[:2], (int(round(w)), int(round(h))),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
        return out, m

    def draw_poly(self, pts_img: np.ndarray, color: tuple[int, int, int],
                  closed: bool = True) -> None:
        """Queue a polyline (image px) for the overlay."""
        p = np.round(np.asarray(pts_img) * 16).astype(np.int32).reshape(-1, 1, 2)
        self.draw.append(lambda im: cv2.polylines(im, [p], closed, color, _thick(im),
                                                  cv2.LINE_AA, 4))

    def draw_roi(self, roi_m: np.ndarray, w: float, h: float) -> None:
        """Queue the outline of a crop (transform ``roi_m``, size w x h)."""
        self.draw_poly(_corners(0, 0, w, h, roi_m), _YELLOW)

    def draw_text(self, text: str, at: tuple[float, float], color: tuple[int, int, int]
                  ) -> None:
        """Queue a label at image px ``at``."""
        def f(im: np.ndarray) -> None:
            s = _font_scale(im)
            org = (int(at[0]), max(int(at[1]), int(14 * s)))
            cv2.putText(im, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * s, (0, 0, 0),
                        _thick(im) + 2, cv2.LINE_AA)
            cv2.putText(im, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * s, color,
                        _thick(im), cv2.LINE_AA)
        self.draw.append(f)

    def draw_cross(self, at: tuple[float, float], color: tuple[int, int, int],
                   size: float = 4.0) -> None:
        """Queue a small cross (an edge point) at image px ``at``."""
        x, y = at
        self.draw_poly(np.array([[x - size, y], [x + size, y]]), color, closed=False)
        self.draw_poly(np.array([[x, y - size], [x, y + size]]), color, closed=False)


def _thick(im: np.ndarray) -> int:
    return max(1, round(max(im.shape[:2]) / 800))


def _font_scale(im: np.ndarray) -> float:
    return max(0.8, max(im.shape[:2]) / 800)
