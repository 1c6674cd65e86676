"""Survey mission file (YAML): load, convert to the local map frame, validate.

Format (every length in metres, speeds in m/s, angles in degrees in the file)::

    mission:
      name: reservoir_survey          # [a-zA-Z0-9_-]+; names the progress file
      frame: enu                      # enu: points are [east_m, north_m] in the map frame
                                      # latlon: points are [lat_deg, lon_deg] (WGS-84)
      datum: {lat_deg: 47.0, lon_deg: 8.0, alt_m: 0.0}   # map origin; required for latlon
      area:
        polygon: [[x, y], ...]        # water outline (shore), >= 3 points, simple
        islands: [[[x, y], ...], ...] # optional: land inside the area (holes)
      home: [x, y]                    # launch/recovery point: on the water, inside the area
      survey:
        swath_m: 25.0                 # lane spacing (sensor swath)
        speed_mps: 2.0                # > 0
        shore_margin_m: 10.0          # lanes keep this far from every shore
        sweep_angle_deg: null         # lane direction (ENU, from east); null = best
      samples:                        # optional: water-quality stations
        spacing_m: 100.0              # either a grid over the area ...
        points: [[x, y], ...]         # ... or a list (ids S01, S02, ... in file order)
        dwell_s: 30.0                 # station keeping time at each point
      transit_speed_mps: 2.0          # optional, default survey.speed_mps
      geofence:                       # optional
        polygon: [[x, y], ...]        # default: the area outline (islands not included)
        margin_m: 2.0
      planner:                        # optional: global grid planner for transits
        resolution_m: 5.0
        inflation_m: 5.0              # clearance from shores and islands

Both frames are supported: ``latlon`` points are converted with
:mod:`dg_common.geodesy` (exact ECEF-based ENU at the datum). ``enu`` points are used as
they are; the datum (optional there) only georeferences the map frame.

Every error raises :class:`MissionError` with a message naming the file, the field and what is
wrong (e.g. ``area.polygon is not a simple polygon: Self-intersection[150 100]``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from dg_common.geodesy import Datum, GeodesyError, geodetic_to_enu

#: Largest speed accepted [m/s] (a survey boat; guards typos such as 20 instead of 2.0).
MAX_SPEED_MPS = 15.0
#: Most sample points (a grid spacing too small for the area is an error, not a hang).
MAX_SAMPLES = 500
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class MissionError(ValueError):
    """The mission file is missing, malformed or inconsistent; the message says why."""


@dataclass(frozen=True)
class SamplePoint:
    """A water-quality station: id and map position [m]."""

    sample_id: str
    x_m: float
    y_m: float


@dataclass(frozen=True)
class Mission:
    """A validated survey mission in the local ENU map frame (metres)."""

    name: str
    frame: str                          # frame the file used: "enu" or "latlon"
    datum: Datum | None
    area: Polygon                       # water: outline with islands as holes
    outline: Polygon                    # outline without holes
    islands: tuple[Polygon, ...]
    home_xy: tuple[float, float]
    swath_m: float
    speed_mps: float
    shore_margin_m: float
    sweep_angle_rad: float | None
    samples: tuple[SamplePoint, ...]
    sample_spacing_m: float | None     # grid spacing when the samples came from a grid
    dwell_s: float
    transit_speed_mps: float
    geofence: Polygon
    geofence_margin_m: float
    planner_resolution_m: float
    planner_inflation_m: float
    source: str                         # file path
    digest: str                         # sha256 of the file bytes (progress consistency)

    @property
    def water(self) -> Polygon:
        """Navigable water (the area with its islands removed)."""
        return self.area


def _err(path: str, msg: str) -> MissionError:
    return MissionError(f"mission file {path}: {msg}")


def _mapping(path: str, node: Any, where: str, allowed: set[str],
             required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise _err(path, f"{where} must be a mapping, got {type(node).__name__}")
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise _err(path, f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in node or node[k] is None]
    if missing:
        raise _err(path, f"{where}: missing required key(s) {missing}")
    return node


def _number(path: str, value: Any, where: str, *, min_value: float | None = None,
            strict_min: bool = False, max_value: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(path, f"{where} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise _err(path, f"{where} must be finite, got {value!r}")
    if min_value is not None:
        if strict_min and v <= min_value:
            raise _err(path, f"{where} must be > {min_value:g}, got {v:g}")
        if not strict_min and v < min_value:
            raise _err(path, f"{where} must be >= {min_value:g}, got {v:g}")
    if max_value is not None and v > max_value:
        raise _err(path, f"{where} must be <= {max_value:g}, got {v:g}")
    return v


class _Converter:
    """Turns file points into map-frame (x, y) [m]."""

    def __init__(self, path: str, frame: str, datum: Datum | None) -> None:
        self.path, self.frame, self.datum = path, frame, datum

    def point(self, value: Any, where: str) -> tuple[float, float]:
        if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence)
                or len(value) != 2):
            what = "[lat_deg, lon_deg]" if self.frame == "latlon" else "[east_m, north_m]"
            raise _err(self.path, f"{where} must be a pair {what}, got {value!r}")
        a = _number(self.path, value[0], f"{where}[0]")
        b = _number(self.path, value[1], f"{where}[1]")
        if self.frame == "enu":
            return a, b
        try:
            e, n, _ = geodetic_to_enu(self.datum, a, b, self.datum.alt_m)
        except GeodesyError as exc:
            raise _err(self.path, f"{where}: {exc}") from None
        return e, n

    def ring(self, value: Any, where: str) -> list[tuple[float, float]]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise _err(self.path, f"{where} must be a list of points, got {value!r}")
        pts = [self.point(p, f"{where}[{i}]") for i, p in enumerate(value)]
        if len(pts) > 1 and pts[0] == pts[-1]:
            pts = pts[:-1]  # closed ring written explicitly
        if len(pts) < 3:
            raise _err(self.path, f"{where} needs at least 3 distinct points, got {len(pts)}")
        return pts


def _simple_polygon(path: str, ring: list[tuple[float, float]], where: str) -> Polygon:
    poly = Polygon(ring)
    if not poly.is_valid:
        raise _err(path, f"{where} is not a simple polygon: {explain_validity(poly)} "
                         "(edges must not cross; list the vertices in order around the shape)")
    if poly.area <= 0.0:
        raise _err(path, f"{where} has zero area")
    return poly


def _fmt(xy: tuple[float, float]) -> str:
    return f"({xy[0]:.1f}, {xy[1]:.1f})"


def load_mission(path: str | Path) -> Mission:
    """Read, convert and validate the mission file at ``path``.

    Raises:
        MissionError: naming the file, the field and the problem.

    """
    p = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise _err(p, f"cannot read: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise _err(p, f"not valid YAML: {exc}") from None
    doc = _mapping(p, doc, "top level", {"mission"}, ["mission"])
    return parse_mission(doc["mission"], source=p,
                         digest=hashlib.sha256(raw).hexdigest())


def parse_mission(m: Any, source: str = "<memory>", digest: str = "") -> Mission:
    """Validate the ``mission`` mapping of a mission file (see the module doc).

    Raises:
        MissionError: naming the field and the problem.

    """
    p = source
    m = _mapping(p, m, "mission", {"name", "frame", "datum", "area", "home", "survey",
                                   "samples", "transit_speed_mps", "geofence", "planner"},
                 ["name", "area", "home", "survey"])
    name = m["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise _err(p, f"mission.name must match [A-Za-z0-9_-]+, got {name!r}")
    frame = m.get("frame", "enu")
    if frame not in ("enu", "latlon"):
        raise _err(p, f"mission.frame must be 'enu' or 'latlon', got {frame!r}")
    datum = None
    if m.get("datum") is not None:
        d = _mapping(p, m["datum"], "mission.datum", {"lat_deg", "lon_deg", "alt_m"},
                     ["lat_deg", "lon_deg"])
        try:
            datum = Datum(_number(p, d["lat_deg"], "mission.datum.lat_deg"),
                          _number(p, d["lon_deg"], "mission.datum.lon_deg"),
                          _number(p, d.get("alt_m", 0.0), "mission.datum.alt_m"))
        except GeodesyError as exc:
            raise _err(p, f"mission.datum: {exc}") from None
    elif frame == "latlon":
        raise _err(p, "mission.datum is required when frame is 'latlon'")
    conv = _Converter(p, frame, datum)

    area_node = _mapping(p, m["area"], "mission.area", {"polygon", "islands"}, ["polygon"])
    outline = _simple_polygon(p, conv.ring(area_node["polygon"], "area.polygon"),
                              "area.polygon")
    islands: list[Polygon] = []
    isl_node = area_node.get("islands") or []
    if not isinstance(isl_node, list):
        raise _err(p, f"area.islands must be a list of polygons, got {isl_node!r}")
    for i, ring in enumerate(isl_node):
        where = f"area.islands[{i}]"
        isl = _simple_polygon(p, conv.ring(ring, where), where)
        if not outline.contains(isl):
            raise _err(p, f"{where} is not inside area.polygon (islands must lie in the water, "
                          "not touch the shore)")
        for j, other in enumerate(islands):
            if isl.intersects(other):
                raise _err(p, f"{where} overlaps area.islands[{j}]; merge them")
        islands.append(isl)
    area = Polygon(outline.exterior.coords, [isl.exterior.coords for isl in islands])
    if not area.is_valid:
        raise _err(p, f"area with islands is invalid: {explain_validity(area)}")

    home = conv.point(m["home"], "mission.home")
    if not outline.contains(Point(home)):
        raise _err(p, f"mission.home {_fmt(home)} is outside the survey area (area.polygon); "
                      "home must be on the water inside the area")
    for i, isl in enumerate(islands):
        if isl.covers(Point(home)):
            raise _err(p, f"mission.home {_fmt(home)} is on area.islands[{i}]")

    s = _mapping(p, m["survey"], "mission.survey",
                 {"swath_m", "speed_mps", "shore_margin_m", "sweep_angle_deg"},
                 ["swath_m", "speed_mps"])
    speed = _number(p, s["speed_mps"], "survey.speed_mps", min_value=0.0, strict_min=True,
                    max_value=MAX_SPEED_MPS)
    swath = _number(p, s["swath_m"], "survey.swath_m", min_value=0.0, strict_min=True)
    margin = _number(p, s.get("shore_margin_m", 0.0), "survey.shore_margin_m", min_value=0.0)
    sweep = s.get("sweep_angle_deg")
    sweep_rad = None if sweep is None else math.radians(
        _number(p, sweep, "survey.sweep_angle_deg"))
    surveyable = area.buffer(-margin)
    if surveyable.is_empty:
        raise _err(p, f"survey.shore_margin_m {margin:g} leaves no water to survey")
    if swath > 0.5 * max(outline.bounds[2] - outline.bounds[0],
                         outline.bounds[3] - outline.bounds[1]):
        raise _err(p, f"survey.swath_m {swath:g} is larger than half the area")

    transit = speed
    if m.get("transit_speed_mps") is not None:
        transit = _number(p, m["transit_speed_mps"], "mission.transit_speed_mps",
                          min_value=0.0, strict_min=True, max_value=MAX_SPEED_MPS)

    samples: list[SamplePoint] = []
    spacing = None
    dwell = 0.0
    if m.get("samples") is not None:
        sm = _mapping(p, m["samples"], "mission.samples", {"spacing_m", "points", "dwell_s"})
        has_grid, has_list = sm.get("spacing_m") is not None, sm.get("points") is not None
        if has_grid == has_list:
            raise _err(p, "mission.samples needs exactly one of spacing_m (grid) or points")
        dwell = _number(p, sm.get("dwell_s", 0.0), "samples.dwell_s", min_value=0.0)
        if has_grid:
            spacing = _number(p, sm["spacing_m"], "samples.spacing_m", min_value=0.0,
                              strict_min=True)
            n_max = area.area / (spacing * spacing)
            if n_max > MAX_SAMPLES:
                raise _err(p, f"samples.spacing_m {spacing:g} gives ~{n_max:.0f} samples, "
                              f"more than {MAX_SAMPLES}")
            from dg_autonomy.coverage.sampling import grid_samples
            try:
                grid = grid_samples(area, spacing, margin)
            except ValueError as exc:
                raise _err(p, f"samples.spacing_m {spacing:g}: {exc}") from None
            if not grid:
                raise _err(p, f"samples.spacing_m {spacing:g}: no grid point falls on the "
                              f"water {margin:g} m from the shores")
            samples = [SamplePoint(f"S{i + 1:02d}", float(x), float(y))
                       for i, (x, y) in enumerate(grid)]
        else:
            pts = sm["points"]
            if isinstance(pts, (str, bytes)) or not isinstance(pts, Sequence) or not pts:
                raise _err(p, f"samples.points must be a non-empty list of points, got {pts!r}")
            if len(pts) > MAX_SAMPLES:
                raise _err(p, f"samples.points: {len(pts)} points, more than {MAX_SAMPLES}")
            for i, pt in enumerate(pts):
                xy = conv.point(pt, f"samples.points[{i}]")
                if not area.contains(Point(xy)):
                    where = ("on an island" if outline.contains(Point(xy))
                             else "outside the survey area")
                    raise _err(p, f"samples.points[{i}] {_fmt(xy)} is {where} (not on water)")
                samples.append(SamplePoint(f"S{i + 1:02d}", xy[0], xy[1]))

    fence = outline
    fence_margin = 2.0
    if m.get("geofence") is not None:
        g = _mapping(p, m["geofence"], "mission.geofence", {"polygon", "margin_m"})
        if g.get("polygon") is not None:
            fence = _simple_polygon(p, conv.ring(g["polygon"], "geofence.polygon"),
                                    "geofence.polygon")
        fence_margin = _number(p, g.get("margin_m", fence_margin), "geofence.margin_m",
                               min_value=0.0)
    if not fence.buffer(-fence_margin).contains(Point(home)):
        raise _err(p, f"mission.home {_fmt(home)} is not inside the geofence by its margin "
                      f"({fence_margin:g} m)")

    res, infl = 5.0, min(margin, 5.0)
    if m.get("planner") is not None:
        pl = _mapping(p, m["planner"], "mission.planner", {"resolution_m", "inflation_m"})
        res = _number(p, pl.get("resolution_m", res), "planner.resolution_m", min_value=0.0,
                      strict_min=True)
        infl = _number(p, pl.get("inflation_m", infl), "planner.inflation_m", min_value=0.0)
    if not area.buffer(-infl).contains(Point(home)):
        raise _err(p, f"mission.home {_fmt(home)} is closer than planner.inflation_m "
                      f"({infl:g} m) to a shore; move it onto open water")

    return Mission(
        name=name, frame=frame, datum=datum, area=area, outline=outline,
        islands=tuple(islands), home_xy=home, swath_m=swath, speed_mps=speed,
        shore_margin_m=margin, sweep_angle_rad=sweep_rad, samples=tuple(samples),
        sample_spacing_m=spacing, dwell_s=dwell, transit_speed_mps=transit, geofence=fence,
        geofence_margin_m=fence_margin, planner_resolution_m=res, planner_inflation_m=infl,
        source=source, digest=digest)
