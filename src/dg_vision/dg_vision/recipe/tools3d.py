"""The 3D tools of a recipe: flatness, step height and deviation from a CAD mesh [mm].

Same shape as :mod:`dg_vision.recipe.tools2d`: ``_run_*`` (context, step) -> quantities,
``_prepare_cad`` once at load.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.recipe.context import _CannotMeasure, _Context
from dg_vision.recipe.fields import _FieldError, _resolve
from dg_vision.recipe.schema import Step


def _select_box(points: np.ndarray, box: tuple[float, float, float, float] | None,
                what: str) -> np.ndarray:
    if box is None:
        return np.ones(len(points), dtype=bool)
    x0, y0, x1, y1 = box
    mask = ((points[:, 0] >= x0) & (points[:, 0] <= x1)
            & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    if int(mask.sum()) < 3:
        raise _CannotMeasure(f"{what} {list(box)} holds {int(mask.sum())} points, need >= 3")
    return mask


def _run_flatness(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.inspect3d import features

    pts = ctx.need_points()
    sel = pts[_select_box(pts, step.params.get("region"), "region")]
    f = features.flatness(sel, method=step.params["method"])
    return {"flatness": float(f.value_mm),
            "flatness_ls": float(f.ls_value_mm)}


def _run_step_height(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.inspect3d import features

    pts = ctx.need_points()
    a = _select_box(pts, step.params["region_a"], "region_a")
    b = _select_box(pts, step.params["region_b"], "region_b")
    return {"height": float(features.step_height(pts, a, b))}


def _prepare_cad(step: Step, base: Path, cache: dict[Any, Any]) -> None:
    """Read, prepare and check the CAD mesh once, at load.

    Surface samples, k-d tree and ray-casting scene are built here, and the mesh must be
    closed: an open mesh is a load error, not a failure on every frame.
    """
    import open3d as o3d

    from dg_vision.inspect3d.registration import prepare_cad

    path = _resolve(base, step.params["cad"])
    if not path.is_file():
        raise _FieldError(f"CAD mesh {path} does not exist")
    key = ("cad", path.resolve())
    if key not in cache:
        mesh = o3d.io.read_triangle_mesh(str(path))
        if len(mesh.triangles) == 0:
            raise _FieldError(f"CAD mesh {path} has no triangles (not a mesh file?)")
        try:
            target = prepare_cad(mesh)
            target.check_watertight()  # signed deviation needs inside and outside
            target.scene()
        except VisionInputError as exc:
            raise _FieldError(f"CAD mesh {path}: {exc}") from None
        cache[key] = target
    step.state["cad"] = cache[key]


def _run_cad_deviation(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.inspect3d import deviation, registration

    p = step.params
    pts = ctx.need_points()
    pts = pts[_select_box(pts, p.get("region"), "region")]
    cad = step.state["cad"]  # prepared at load: no per-frame meshing or hashing
    out: dict[str, float] = {}
    if p["register"]:
        kw: dict[str, Any] = {"seed": p["seed"]}
        if p.get("voxel_mm") is not None:
            kw["voxel_mm"] = p["voxel_mm"]
        reg = registration.register_to_cad(pts, cad, **kw)
        pts = reg.apply(pts)
        out["fitness"] = float(reg.fitness)
        out["rmse"] = float(reg.rmse_mm)
        out["constraint"] = float(reg.constraint)
    dev = deviation.signed_deviation(pts, cad)
    extra = {"cad_mesh": cad} if p["detect_missing"] else {}
    defects = deviation.find_surface_defects(pts, dev, tolerance_mm=p["tolerance_mm"],
                                             min_points=p["min_points"], **extra)
    ctx.surface_defects.extend(defects)
    depths = [abs(float(d.depth_mm)) for d in defects]
    out.update({"max_deviation": float(np.max(np.abs(dev))) if len(dev) else math.nan,
                "defect_count": float(len(defects)),
                "max_defect_depth": max(depths) if depths else 0.0})
    return out
