"""The validated form of a recipe: its steps and the length unit of 2D measurements."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dg_vision.recipe.tolerance import Tolerance


@dataclass
class Step:
    """One validated recipe step."""

    name: str
    type: str
    params: dict[str, Any]
    tolerances: dict[str, Tolerance]
    report: tuple[str, ...]
    fixture: str | None = None
    state: dict[str, Any] = field(default_factory=dict)   # prepared objects (models, meshes)


@dataclass
class Units:
    """Length unit of 2D measurements and the px -> mm scale."""

    length: str = "px"
    mm_per_px: float | None = None
    working_distance_mm: float | None = None

    @property
    def needs_focal_length(self) -> bool:
        """True when the px -> mm scale comes from the camera's focal length."""
        return self.length == "mm" and self.working_distance_mm is not None

    def scale(self, focal_px: float | None) -> tuple[float | None, str]:
        """The factor from px to the length unit, or (None, why not)."""
        if self.length == "px":
            return 1.0, ""
        if self.mm_per_px is not None:
            return self.mm_per_px, ""
        assert self.working_distance_mm is not None     # _parse_units guarantees one
        if focal_px is None or not (math.isfinite(focal_px) and focal_px > 0):
            return None, ("no px->mm scale: units.working_distance_mm needs the camera's "
                          f"focal length (camera_info K), got {focal_px}")
        return self.working_distance_mm / focal_px, ""
