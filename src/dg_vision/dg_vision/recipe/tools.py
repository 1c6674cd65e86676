"""The tool registry: for each step type its fields, quantities, report and functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dg_vision.recipe.context import _Context
from dg_vision.recipe.fields import (
    REQUIRED,
    _bool,
    _box_mm,
    _choice,
    _int_nonneg,
    _int_pos,
    _line,
    _min_score,
    _nonneg,
    _num,
    _point,
    _pos,
    _range2,
    _rect,
    _regex,
    _str,
)
from dg_vision.recipe.schema import Step
from dg_vision.recipe.tolerance import Tolerance
from dg_vision.recipe.tools2d import (
    _anomaly_defaults,
    _code_defaults,
    _code_formats,
    _prepare_anomaly,
    _prepare_shape_match,
    _run_anomaly,
    _run_blob_count,
    _run_caliper_width,
    _run_circle,
    _run_code_read,
    _run_edge_position,
    _run_shape_match,
    _shape_match_defaults,
)
from dg_vision.recipe.tools3d import (
    _prepare_cad,
    _run_cad_deviation,
    _run_flatness,
    _run_step_height,
)


@dataclass(frozen=True)
class _Tool:
    dim: str                                   # "2d" or "3d"
    fields: dict[str, tuple[Callable[[Any], Any], Any]]   # name -> (parser, default)
    quantities: dict[str, str]                 # quantity -> unit kind
    primary: str
    report: tuple[str, ...]
    run: Callable[[_Context, Step], dict[str, float]]
    prepare: Callable[[Step, Path, dict[Any, Any]], None] | None = None
    default_tolerances: Callable[[Step], dict[str, Tolerance]] | None = None


_CALIPER_FIELDS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "line": (_line, REQUIRED),
    "thickness": (_pos, 5.0),                  # caliper width across the line [px]
    "sigma": (_pos, 1.0),                      # edge smoothing [px]
    "threshold": (_pos, 20.0),                 # minimum edge amplitude [grey levels]
    "polarity": (_choice("any", "rising", "falling"), "any"),
}
_SEL_PAIR = _choice("first", "last", "widest", "narrowest", "outer")
_CAD_FIELDS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "cad": (_str, REQUIRED), "tolerance_mm": (_pos, 0.1), "min_points": (_int_pos, 20),
    "register": (_bool, True), "voxel_mm": (_pos, None), "seed": (_int_nonneg, 0),
    "region": (_box_mm, None), "detect_missing": (_bool, False),
}
_CAD_Q = {"max_deviation": "mm", "defect_count": "count", "max_defect_depth": "mm",
          "rmse": "mm", "fitness": "score", "constraint": "score"}

TOOLS: dict[str, _Tool] = {
    "caliper_width": _Tool(
        "2d", {**_CALIPER_FIELDS, "select": (_SEL_PAIR, "first")},
        {"width": "len", "count": "count", "center": "len"}, "width", ("width",),
        _run_caliper_width),
    "edge_position": _Tool(
        "2d", {**_CALIPER_FIELDS, "select": (_choice("first", "last", "strongest"), "first")},
        {"position": "len", "x": "len", "y": "len", "count": "count"}, "position",
        ("position",), _run_edge_position),
    "circle": _Tool(
        "2d", {"center": (_point, REQUIRED), "radius": (_pos, REQUIRED),
               "search": (_pos, None), "threshold": (_pos, None),
               "polarity": (_choice("any", "rising", "falling"), "any")},
        {"diameter": "len", "x": "len", "y": "len", "roundness": "len"}, "diameter",
        ("diameter", "x", "y"), _run_circle),
    "blob_count": _Tool(
        "2d", {"roi": (_rect, None), "threshold": (_num, None),
               "polarity": (_choice("dark", "bright"), "dark"), "min_area": (_nonneg, 10.0),
               "max_area": (_pos, None), "exclude_border": (_bool, False)},
        {"count": "count", "total_area": "area", "max_area": "area"}, "count", ("count",),
        _run_blob_count),
    "shape_match": _Tool(
        "2d", {"model_image": (_str, REQUIRED), "model_roi": (_rect, None),
               "angle_range": (_range2, (-180.0, 180.0)), "scale_range": (_range2, (1.0, 1.0)),
               "min_score": (_min_score, 0.6), "search_roi": (_rect, None)},
        {"score": "score", "x": "len", "y": "len", "angle": "deg", "scale": "score"}, "score",
        ("score", "x", "y", "angle"), _run_shape_match, _prepare_shape_match,
        _shape_match_defaults),
    "code_read": _Tool(
        "2d", {"roi": (_rect, None), "formats": (_code_formats, None), "expected": (_str, None),
               "pattern": (_regex, None), "part_id": (_bool, False)},
        {"count": "count", "match": "count"}, "count", ("count",), _run_code_read, None,
        _code_defaults),
    "anomaly": _Tool(
        "2d", {"model": (_str, REQUIRED), "roi": (_rect, None), "threshold": (_num, None),
               "pixel_threshold": (_num, None), "min_defect_area": (_nonneg, 16.0)},
        {"score": "score"}, "score", ("score",), _run_anomaly, _prepare_anomaly,
        _anomaly_defaults),
    "flatness": _Tool(
        "3d", {"region": (_box_mm, None),
               "method": (_choice("min_zone", "least_squares"), "min_zone")},
        {"flatness": "mm", "flatness_ls": "mm"}, "flatness", ("flatness",), _run_flatness),
    "step_height": _Tool(
        "3d", {"region_a": (_box_mm, REQUIRED), "region_b": (_box_mm, REQUIRED)},
        {"height": "mm"}, "height", ("height",), _run_step_height),
    "cad_deviation": _Tool(
        "3d", _CAD_FIELDS, _CAD_Q, "max_deviation",
        ("max_deviation", "defect_count", "rmse"), _run_cad_deviation, _prepare_cad),
}

#: The step types a recipe may use.
TOOL_TYPES = tuple(TOOLS)
