"""Reading and validating a recipe: :func:`load_recipe`.

Every field is checked once, at load; a wrong one is a
:class:`~dg_vision.errors.VisionInputError` naming the step and the field. Tools that need
it are prepared here too (shape models taught, anomaly models and CAD meshes loaded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dg_vision.errors import VisionInputError
from dg_vision.recipe.fields import REQUIRED, _FieldError, _point, _pos, _str_list
from dg_vision.recipe.runner import Recipe
from dg_vision.recipe.schema import Step, Units
from dg_vision.recipe.tolerance import _TOL_KEYS, Tolerance, parse_tolerance
from dg_vision.recipe.tools import TOOL_TYPES, TOOLS

_COMMON_FIELDS = {"name", "type", "fixture", "nominal", "tol", "lower", "upper", "tolerances",
                  "report", "description"}
_TOP_KEYS = {"name", "description", "version", "units", "image_size", "steps"}


def _step_error(recipe: str, idx: int, step: str, fld: str | None, msg: str
                ) -> VisionInputError:
    where = f"recipe '{recipe}': step '{step}' (#{idx + 1})"
    if fld is not None:
        where += f", field '{fld}'"
    return VisionInputError(f"{where}: {msg}")


def _parse_step(recipe_name: str, idx: int, raw: Any, seen: dict[str, Step], base: Path,
                cache: dict[Any, Any]) -> Step:
    if not isinstance(raw, Mapping):
        raise VisionInputError(f"recipe '{recipe_name}': step #{idx + 1} must be a mapping, "
                               f"got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
        raise _step_error(recipe_name, idx, str(name), "name",
                          "must be an identifier (letters, digits, _ or -)")

    def err(fld: str | None, msg: str) -> VisionInputError:
        return _step_error(recipe_name, idx, name, fld, msg)

    if name in seen:
        raise err("name", "duplicate step name")
    typ = raw.get("type")
    if typ not in TOOLS:
        raise err("type", f"unknown tool type {typ!r}; use one of {list(TOOL_TYPES)}")
    tool = TOOLS[typ]
    unknown = set(raw) - _COMMON_FIELDS - set(tool.fields)
    if unknown:
        raise err(sorted(unknown)[0], f"unknown field for a {typ} step; allowed: "
                  f"{sorted((_COMMON_FIELDS | set(tool.fields)) - {'name', 'type'})}")
    params: dict[str, Any] = {}
    for fld, (parser, default) in tool.fields.items():
        if raw.get(fld) is None:
            if default is REQUIRED:
                raise err(fld, f"required for a {typ} step")
            params[fld] = default
            continue
        try:
            params[fld] = parser(raw[fld])
        except _FieldError as exc:
            raise err(fld, str(exc)) from None
    fixture = raw.get("fixture")
    if fixture is not None:
        if tool.dim != "2d" or typ == "shape_match":
            raise err("fixture", f"a {typ} step cannot follow a fixture")
        if fixture not in seen:
            raise err("fixture", f"no earlier step named {fixture!r}")
        if seen[fixture].type != "shape_match":
            raise err("fixture", f"step {fixture!r} is a {seen[fixture].type}, "
                      "a fixture must be a shape_match step")
    step = Step(name, typ, params, {}, (), fixture)
    # tolerances: step-level shorthand for the primary quantity, then per-quantity table
    tols: dict[str, Tolerance] = {}
    short = {k: raw[k] for k in _TOL_KEYS if k in raw}
    if short:
        try:
            tols[tool.primary] = parse_tolerance(short)
        except _FieldError as exc:
            raise err(exc.key or sorted(short)[0], str(exc)) from None
    table = raw.get("tolerances")
    if table is not None:
        if not isinstance(table, Mapping):
            raise err("tolerances", "must map quantity names to {nominal, tol} or "
                      "{lower, upper}")
        for q, spec in table.items():
            if q not in tool.quantities:
                raise err(f"tolerances.{q}", f"a {typ} step measures "
                          f"{list(tool.quantities)}, not {q!r}")
            if q in tols:
                raise err(f"tolerances.{q}", "given twice (also at the step level)")
            try:
                tols[q] = parse_tolerance(spec)
            except _FieldError as exc:
                raise err(f"tolerances.{q}", str(exc)) from None
    report = list(tool.report)
    if raw.get("report") is not None:
        try:
            extra = _str_list(raw["report"])
        except _FieldError as exc:
            raise err("report", str(exc)) from None
        for q in extra:
            if q not in tool.quantities:
                raise err("report", f"a {typ} step measures {list(tool.quantities)}, "
                          f"not {q!r}")
        report += [q for q in extra if q not in report]
    if tool.prepare is not None:
        try:
            tool.prepare(step, base, cache)
        except _FieldError as exc:
            # a prepare error names its field; those of _prepare_cad are all about "cad"
            raise err(exc.key or "cad", str(exc)) from None
    if tool.default_tolerances is not None:
        for q, t in tool.default_tolerances(step).items():
            tols.setdefault(q, t)
    report += [q for q in tols if q not in report]
    step.tolerances, step.report = tols, tuple(report)
    return step


def _parse_units(name: str, raw: Any) -> Units:
    if raw is None:
        return Units()
    if not isinstance(raw, Mapping):
        raise VisionInputError(f"recipe '{name}': field 'units' must be a mapping")
    unknown = set(raw) - {"length", "mm_per_px", "working_distance_mm"}
    if unknown:
        raise VisionInputError(f"recipe '{name}': field 'units.{sorted(unknown)[0]}' is "
                               "unknown; use length, mm_per_px, working_distance_mm")
    length = raw.get("length", "mm" if ("mm_per_px" in raw or "working_distance_mm" in raw)
                     else "px")
    if length not in ("px", "mm"):
        raise VisionInputError(f"recipe '{name}': field 'units.length' must be px or mm, "
                               f"got {length!r}")
    u = Units(length)
    for key in ("mm_per_px", "working_distance_mm"):
        if raw.get(key) is not None:
            try:
                setattr(u, key, _pos(raw[key]))
            except _FieldError as exc:
                raise VisionInputError(f"recipe '{name}': field 'units.{key}' {exc}") from None
    if u.mm_per_px is not None and u.working_distance_mm is not None:
        raise VisionInputError(f"recipe '{name}': field 'units': give mm_per_px or "
                               "working_distance_mm, not both")
    if u.length == "mm" and u.mm_per_px is None and u.working_distance_mm is None:
        raise VisionInputError(f"recipe '{name}': field 'units.length' mm needs "
                               "units.mm_per_px or units.working_distance_mm")
    return u


def load_recipe(source: str | Path | Mapping[str, Any], *, anomaly_model: str | None = None,
                base_dir: str | Path | None = None) -> Recipe:
    """Read, validate and prepare a recipe from a YAML file or an already parsed mapping.

    Relative file names in the recipe (model images, anomaly models, CAD meshes) are
    relative to the recipe file's folder (``base_dir`` for a mapping; default the current
    folder). ``anomaly_model`` replaces the model file of every ``anomaly`` step.

    Raises:
        VisionInputError: the file is missing or not YAML, or a step is wrong (the message
            names the step and the field).

    """
    if isinstance(source, Mapping):
        data: Any = source
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        label = "<mapping>"
    else:
        path = Path(source)
        if not path.is_file():
            raise VisionInputError(f"recipe file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise VisionInputError(f"recipe file {path} is not valid YAML: {exc}") from None
        base = Path(base_dir) if base_dir is not None else path.parent
        label = str(path)
    if not isinstance(data, Mapping):
        raise VisionInputError(f"recipe {label} must be a YAML mapping with name and steps")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise VisionInputError(f"recipe {label}: field 'name' is required (a string)")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise VisionInputError(f"recipe '{name}': unknown field '{sorted(unknown)[0]}'; "
                               f"allowed: {sorted(_TOP_KEYS)}")
    units = _parse_units(name, data.get("units"))
    image_size = None
    if data.get("image_size") is not None:
        try:
            w, h = _point(data["image_size"])
            if w < 1 or h < 1 or not (w.is_integer() and h.is_integer()):
                raise _FieldError(f"must be positive integers, got {data['image_size']!r}")
        except _FieldError as exc:
            raise VisionInputError(f"recipe '{name}': field 'image_size' {exc}") from None
        image_size = (int(w), int(h))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise VisionInputError(f"recipe '{name}': field 'steps' must be a non-empty list")
    if anomaly_model is not None:
        if not any(isinstance(r, Mapping) and r.get("type") == "anomaly" for r in raw_steps):
            raise VisionInputError(f"recipe '{name}': an anomaly model was given but the "
                                   "recipe has no anomaly step")
        raw_steps = [{**r, "model": anomaly_model}
                     if isinstance(r, Mapping) and r.get("type") == "anomaly" else r
                     for r in raw_steps]
    seen: dict[str, Step] = {}
    cache: dict[Any, Any] = {}
    for i, raw in enumerate(raw_steps):
        step = _parse_step(name, i, raw, seen, base, cache)
        seen[step.name] = step
    return Recipe(name, units, list(seen.values()), image_size,
                  str(data.get("description", "")))
