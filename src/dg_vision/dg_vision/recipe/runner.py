"""A prepared recipe and its run over one part: :class:`Recipe`.

:meth:`Recipe.run` runs the steps in order on a shared context, turns each step's values
into :class:`~dg_vision.recipe.results.Measured` rows (unit scale, tolerance, message) and
never raises for a feature it cannot find.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.image import as_image
from dg_vision.recipe.annotate import _full_anomaly_map, _overlay
from dg_vision.recipe.context import _CannotMeasure, _Context
from dg_vision.recipe.results import InspectionOutcome, Measured
from dg_vision.recipe.schema import Step, Units
from dg_vision.recipe.tolerance import Tolerance, _out_of_tolerance
from dg_vision.recipe.tools import TOOLS


def as_points(points: Any) -> np.ndarray:
    """Check a point cloud of (N >= 3, 3) finite numbers [mm]; return it as float64.

    The checks of :func:`dg_vision.inspect3d._common.as_points` (shape, numbers, size), but
    NaN/inf rows are rejected rather than dropped: a recipe's regions and masks refer to
    the cloud as given. Raises :class:`VisionInputError` saying what is wrong.
    """
    from dg_vision.inspect3d._common import as_points as check_points

    cloud = check_points(points, name="point cloud", min_points=3)
    if cloud.n_dropped:
        raise VisionInputError(f"point cloud has NaN or infinite coordinates "
                               f"({cloud.n_dropped} of {cloud.n_dropped + cloud.kept.size} "
                               "points)")
    return cloud.points


@dataclass
class Recipe:
    """A validated, prepared recipe; :meth:`run` inspects one part."""

    name: str
    units: Units
    steps: list[Step]
    image_size: tuple[int, int] | None = None
    description: str = ""

    @property
    def needs_image(self) -> bool:
        """True when a step measures in the image."""
        return any(TOOLS[s.type].dim == "2d" for s in self.steps)

    @property
    def needs_points(self) -> bool:
        """True when a step measures in the point cloud."""
        return any(TOOLS[s.type].dim == "3d" for s in self.steps)

    @property
    def needs_camera_info(self) -> bool:
        """True when :meth:`run` needs the camera's focal length (``focal_px``).

        That is a recipe measuring in the image in mm through
        ``units.working_distance_mm``.
        """
        return self.needs_image and self.units.needs_focal_length

    @property
    def has_anomaly(self) -> bool:
        """True when the recipe has an anomaly-detection step."""
        return any(s.type == "anomaly" for s in self.steps)

    def measurement_names(self) -> list[str]:
        """Every measurement name that :meth:`run` reports, in order."""
        return [f"{s.name}.{q}" for s in self.steps for q in s.report]

    def anomaly_models(self) -> list[Any]:
        """The loaded anomaly models of the recipe (for checks by callers)."""
        return [s.state["model"] for s in self.steps if s.type == "anomaly"]

    def _unit(self, kind: str) -> str:
        if kind == "len":
            return self.units.length
        if kind == "area":
            return f"{self.units.length}^2"
        return kind                                  # deg, count, score, mm (3D)

    def run(self, image: np.ndarray | None = None, points: np.ndarray | None = None,
            focal_px: float | None = None, overlay: bool = True) -> InspectionOutcome:
        """Inspect one part.

        Inputs: the image (grey or BGR, see :func:`dg_vision.image.as_image`) for 2D
        steps, the point cloud ((N, 3) [mm]) for 3D steps, ``focal_px`` (the camera's focal
        length [px], e.g. (fx + fy) / 2 of ``camera_info`` K) for the px -> mm scale when
        the recipe uses ``units.working_distance_mm`` (see :attr:`needs_camera_info`).
        ``overlay`` False skips drawing the annotated image (and the full-frame anomaly
        map): the outcome's ``overlay`` and ``anomaly_map`` are then None.

        A step that cannot measure gives value NaN, ok False and a message. The outcome's
        ``ok`` is True when every measurement is within tolerance.

        Raises:
            VisionInputError: the image or cloud itself is unusable (empty, wrong shape,
                NaN, huge, another size than ``image_size``), or neither was given.

        """
        t0 = time.perf_counter()
        if image is None and points is None:
            raise VisionInputError(f"recipe '{self.name}': give an image and/or a point cloud")
        img = as_image(image) if image is not None else None
        if img is not None and self.image_size is not None:
            h, w = img.shape[:2]
            if (w, h) != self.image_size:
                raise VisionInputError(
                    f"recipe '{self.name}' expects {self.image_size[0]}x{self.image_size[1]} "
                    f"px images, got {w}x{h}")
        pts = as_points(points) if points is not None else None
        ctx = _Context(img, pts)
        scale, scale_msg = self.units.scale(focal_px)
        measurements: list[Measured] = []
        for step in self.steps:
            measurements += self._run_step(ctx, step, scale, scale_msg)
        ok = all(m.ok for m in measurements)
        drawn = anomaly_map = None
        if overlay and img is not None:
            anomaly_map = _full_anomaly_map(ctx)
            drawn = _overlay(self.name, ctx, ok, measurements)
        return InspectionOutcome(
            ok=ok, measurements=measurements, anomaly_score=ctx.anomaly_score,
            anomaly_map=anomaly_map, overlay=drawn, detections=ctx.detections,
            codes=ctx.codes, part_id=ctx.part_id, surface_defects=ctx.surface_defects,
            processing_time_s=time.perf_counter() - t0)

    def _run_step(self, ctx: _Context, step: Step, scale: float | None, scale_msg: str
                  ) -> list[Measured]:
        tool = TOOLS[step.type]
        values: dict[str, float] = {}
        message = ""
        ctx.frame = np.eye(3)
        try:
            if step.fixture is not None:
                frame = ctx.fixtures.get(step.fixture)
                if frame is None:
                    raise _CannotMeasure(f"fixture step '{step.fixture}' did not find the part")
                ctx.frame = frame
            values = tool.run(ctx, step)
        except _CannotMeasure as exc:
            message = str(exc)
        except (VisionInputError, ValueError, ArithmeticError, cv2.error,
                np.linalg.LinAlgError) as exc:
            message = f"{type(exc).__name__}: {exc}"
        out = []
        for q in step.report:
            kind = tool.quantities[q]
            tol = step.tolerances.get(q, Tolerance())
            value = float(values.get(q, math.nan))
            msg = message
            if kind in ("len", "area") and math.isfinite(value):
                if scale is None:
                    value, msg = math.nan, scale_msg
                else:
                    value *= scale if kind == "len" else scale * scale
            if not msg and not math.isfinite(value):
                msg = f"{q} not measured"
            ok = tol.accepts(value)
            if ok:
                msg = ""
            elif not msg:
                msg = _out_of_tolerance(value, tol)
            out.append(Measured(f"{step.name}.{q}", self._unit(kind), value, tol.nominal,
                                tol.lower, tol.upper, ok, msg))
        return out
