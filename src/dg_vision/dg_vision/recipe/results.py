"""What a recipe run returns: measurements, detections and the outcome of one part."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Measured:
    """One measurement of a recipe: ``name`` is ``"<step>.<quantity>"``."""

    name: str
    unit: str
    value: float
    nominal: float
    lower: float
    upper: float
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Detection:
    """A found feature or defect, in the style of ``vision_msgs/Detection2D``.

    The box is centred at (``x``, ``y``) [px, image frame], ``w`` x ``h`` [px], rotated by
    ``angle_deg`` (same convention as the shape matcher); ``id`` carries the step name or
    the decoded text of a code.
    """

    class_id: str
    score: float
    x: float
    y: float
    w: float
    h: float
    angle_deg: float = 0.0
    id: str = ""


@dataclass
class InspectionOutcome:
    """The verdict of :meth:`Recipe.run` on one part."""

    ok: bool
    measurements: list[Measured]
    anomaly_score: float = math.nan
    anomaly_map: np.ndarray | None = None
    overlay: np.ndarray | None = None
    detections: list[Detection] = field(default_factory=list)
    codes: list[tuple[str, str, str]] = field(default_factory=list)
    part_id: str = ""
    surface_defects: list[Any] = field(default_factory=list)
    processing_time_s: float = 0.0

    @property
    def failures(self) -> list[str]:
        """Names of the measurements that failed (out of tolerance or not measured)."""
        return [m.name for m in self.measurements if not m.ok]


def _fmt(v: float) -> str:
    return "NaN" if not math.isfinite(v) else f"{v:.4g}"
