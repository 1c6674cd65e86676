"""Inspection recipes: a YAML list of measuring steps with ROIs and tolerances -> a verdict.

A recipe chains the tools of :mod:`dg_vision.metrology` (2D), :mod:`dg_vision.anomaly`
(PatchCore) and :mod:`dg_vision.inspect3d` (3D) the way HALCON-style recipes do on a line:

* every step has a ``name`` and a ``type`` (see :data:`TOOL_TYPES`), its geometry in pixels
  of the *reference image* (the image the recipe was drawn on), tool parameters, and
  tolerances;
* a step with ``fixture: <shape_match step>`` follows the part: its ROI is moved by the pose
  at which that step found the part (translation, rotation, scale), so parts that lie a
  little off on the conveyor are measured at the right place, and positions are reported
  in the part's (reference) frame;
* lengths come out in ``units.length`` (``px`` or ``mm``; mm need ``units.mm_per_px`` or
  ``units.working_distance_mm`` with the camera's focal length, e.g. from ``camera_info``);
  3D steps measure in mm (clouds are in mm in the core).

:func:`load_recipe` validates everything once (a wrong field is a
:class:`~dg_vision.errors.VisionInputError` naming the step and the field) and prepares the
tools (teaches shape models, loads anomaly models and CAD meshes). :meth:`Recipe.run`
inspects one part: it returns every measurement, never raising for a feature it cannot find
(value NaN, ``ok`` False, ``message`` says why), plus an annotated BGR overlay and
vision_msgs-style detections. The file format is documented in the package README and in
``config/example_board.yaml``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from dg_vision.errors import VisionInputError
from dg_vision.image import as_image, load_image, to_bgr, to_gray
from dg_vision.overlay import blend_heatmap

# --- public result types -----------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """Absolute tolerance limits of one quantity (``-inf``/``+inf`` when one-sided)."""

    nominal: float = math.nan
    lower: float = -math.inf
    upper: float = math.inf

    def accepts(self, value: float) -> bool:
        """True when ``value`` is a number within ``[lower, upper]`` (NaN never is)."""
        return bool(math.isfinite(value) and self.lower <= value <= self.upper)


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


# --- recipe structure ----------------------------------------------------------------------

class _FieldError(ValueError):
    """A field value is wrong; the caller adds which step and field.

    ``key`` narrows the field down inside a mapping, e.g. ``tol`` of a tolerance.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class _CannotMeasure(Exception):
    """A tool found nothing to measure; the message says why."""


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


# --- field parsers (raise _FieldError) -----------------------------------------------------

def _num(v: Any, what: str = "a number") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _FieldError(f"must be {what}, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise _FieldError(f"must be finite, got {v!r}")
    return f


def _pos(v: Any) -> float:
    f = _num(v, "a positive number")
    if f <= 0:
        raise _FieldError(f"must be > 0, got {v!r}")
    return f


def _nonneg(v: Any) -> float:
    f = _num(v, "a number >= 0")
    if f < 0:
        raise _FieldError(f"must be >= 0, got {v!r}")
    return f


def _int_nonneg(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _FieldError(f"must be an integer >= 0, got {v!r}")
    return int(v)


def _int_pos(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _FieldError(f"must be an integer >= 1, got {v!r}")
    return int(v)


def _point(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a point [x, y] in px, got {v!r}")
    return _num(v[0]), _num(v[1])


def _line(v: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a line [[x0, y0], [x1, y1]] in px, got {v!r}")
    p0, p1 = _point(v[0]), _point(v[1])
    if math.dist(p0, p1) < 2.0:
        raise _FieldError(f"line {v!r} is shorter than 2 px")
    return p0, p1


def _rect(v: Any) -> tuple[float, float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise _FieldError(f"must be a rectangle [x, y, width, height] in px, got {v!r}")
    x, y, w, h = (_num(a) for a in v)
    if w < 2 or h < 2:
        raise _FieldError(f"rectangle {v!r} must be at least 2x2 px")
    if x < 0 or y < 0:
        raise _FieldError(f"rectangle {v!r} starts at negative coordinates")
    return x, y, w, h


def _box_mm(v: Any) -> tuple[float, float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise _FieldError(f"must be an XY box [x_min, y_min, x_max, y_max] in mm, got {v!r}")
    x0, y0, x1, y1 = (_num(a) for a in v)
    if x1 <= x0 or y1 <= y0:
        raise _FieldError(f"box {v!r} is empty (need x_min < x_max and y_min < y_max)")
    return x0, y0, x1, y1


def _range2(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a range [low, high], got {v!r}")
    lo, hi = _num(v[0]), _num(v[1])
    if lo > hi:
        raise _FieldError(f"range {v!r} has low > high")
    return lo, hi


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _FieldError(f"must be a non-empty string, got {v!r}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _FieldError(f"must be true or false, got {v!r}")
    return v


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if v not in options:
            raise _FieldError(f"must be one of {list(options)}, got {v!r}")
        return str(v)
    return parse


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) and s for s in v):
        raise _FieldError(f"must be a list of strings, got {v!r}")
    return tuple(v)


def _regex(v: Any) -> re.Pattern[str]:
    s = _str(v)
    try:
        return re.compile(s)
    except re.error as exc:
        raise _FieldError(f"is not a valid regular expression: {exc}") from None


def _min_score(v: Any) -> float:
    f = _num(v)
    if not 0.0 < f <= 1.0:
        raise _FieldError(f"must be in (0, 1], got {v!r}")
    return f


REQUIRED = object()

# --- tool definitions ----------------------------------------------------------------------


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


# --- the run context ----------------------------------------------------------------------

_GREEN, _RED, _YELLOW, _CYAN, _MAGENTA = (40, 200, 40), (40, 40, 230), (0, 220, 255), \
    (255, 200, 0), (255, 0, 255)


def _corners(x: float, y: float, w: float, h: float, m: np.ndarray) -> np.ndarray:
    """The four corners (4, 2) of the box (x, y, w, h) mapped by the 3x3 transform ``m``."""
    box = np.array([[x, y, 1.0], [x + w, y, 1.0], [x + w, y + h, 1.0], [x, y + h, 1.0]])
    return (box @ m.T)[:, :2]


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


# --- angle convention of the fixture transform -----------------------------------------

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


# --- 2D tools ---------------------------------------------------------------------------

def _caliper_line(ctx: _Context, step: Step) -> tuple[np.ndarray, np.ndarray]:
    p0, p1 = step.params["line"]
    a, b = ctx.to_image([p0, p1])
    return a, b


def _caliper_kwargs(step: Step, ctx: _Context) -> dict[str, Any]:
    p = step.params
    return {"width": p["thickness"] * ctx.frame_scale(), "sigma": p["sigma"],
            "threshold": p["threshold"], "polarity": p["polarity"]}


def _run_caliper_width(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import caliper

    gray = ctx.need_gray()
    a, b = _caliper_line(ctx, step)
    ctx.draw_poly(np.array([a, b]), _YELLOW, closed=False)
    kw = _caliper_kwargs(step, ctx)
    select = step.params["select"]
    if select == "outer":
        edges = caliper.measure_edges(gray, tuple(a), tuple(b), **kw)
        if len(edges) < 2:
            raise _CannotMeasure(f"found {len(edges)} edge(s) along the line, need 2")
        first, second = min(edges, key=lambda e: e.s), max(edges, key=lambda e: e.s)
        width, count = second.s - first.s, 1
    else:
        pairs = caliper.measure_pairs(gray, tuple(a), tuple(b), **kw)
        if not pairs:
            raise _CannotMeasure("found no edge pair along the line")
        pick = {"first": lambda ps: min(ps, key=lambda q: q.first.s),
                "last": lambda ps: max(ps, key=lambda q: q.second.s),
                "widest": lambda ps: max(ps, key=lambda q: q.width),
                "narrowest": lambda ps: min(ps, key=lambda q: q.width)}[select]
        pair = pick(pairs)
        first, second, width, count = pair.first, pair.second, pair.width, len(pairs)
    for e in (first, second):
        ctx.draw_cross((e.x, e.y), _CYAN)
    scale = ctx.frame_scale()
    mid = ((first.x + second.x) / 2, (first.y + second.y) / 2)
    ang = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))
    ctx.detections.append(Detection(step.name, 1.0, mid[0], mid[1], float(width),
                                    step.params["thickness"] * scale, ang, step.name))
    return {"width": float(width), "count": float(count),
            "center": float((first.s + second.s) / 2 / scale)}


def _run_edge_position(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import caliper

    gray = ctx.need_gray()
    a, b = _caliper_line(ctx, step)
    ctx.draw_poly(np.array([a, b]), _YELLOW, closed=False)
    edges = caliper.measure_edges(gray, tuple(a), tuple(b), **_caliper_kwargs(step, ctx))
    if not edges:
        raise _CannotMeasure("found no edge along the line")
    select = step.params["select"]
    if select == "first":
        e = min(edges, key=lambda q: q.s)
    elif select == "last":
        e = max(edges, key=lambda q: q.s)
    else:
        e = max(edges, key=lambda q: abs(q.amplitude))
    ctx.draw_cross((e.x, e.y), _CYAN, 6.0)
    ref = ctx.to_reference([e.x, e.y])[0]
    ctx.detections.append(Detection(step.name, 1.0, float(e.x), float(e.y), 4.0, 4.0, 0.0,
                                    step.name))
    return {"position": float(e.s / ctx.frame_scale()), "x": float(ref[0]),
            "y": float(ref[1]), "count": float(len(edges))}


def _run_circle(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import fitting

    gray = ctx.need_gray()
    p = step.params
    c = ctx.to_image(p["center"])[0]
    s = ctx.frame_scale()
    r = p["radius"] * s
    search = None if p["search"] is None else p["search"] * s   # None: find_circle's default
    for rr in ((r, ) if search is None else (r + search, max(r - search, 1.0))):
        ctx.draw_poly(_circle_pts(c, rr), _YELLOW)
    kw: dict[str, Any] = {"search": search, "polarity": p["polarity"]}
    if p["threshold"] is not None:         # find_circle's default is a number, not None
        kw["threshold"] = p["threshold"]
    fit = fitting.find_circle(gray, (float(c[0]), float(c[1])), float(r), **kw)
    if not all(math.isfinite(v) for v in (fit.cx, fit.cy, fit.r)):
        raise _CannotMeasure("no circle found")
    ctx.draw_poly(_circle_pts((fit.cx, fit.cy), fit.r), _CYAN)
    ref = ctx.to_reference([fit.cx, fit.cy])[0]
    ctx.detections.append(Detection(step.name, 1.0, float(fit.cx), float(fit.cy),
                                    2 * float(fit.r), 2 * float(fit.r), 0.0, step.name))
    return {"diameter": 2.0 * float(fit.r), "x": float(ref[0]), "y": float(ref[1]),
            "roundness": float(fit.rms)}


def _circle_pts(c: Any, r: float, n: int = 72) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], axis=1)


def _run_blob_count(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import blobs

    p = step.params
    crop, m = ctx.crop(p.get("roi"))
    h, w = crop.shape
    ctx.draw_roi(m, w, h)
    found = blobs.find_blobs(crop, threshold=p["threshold"], polarity=p["polarity"],
                             min_area=p["min_area"], max_area=p["max_area"],
                             exclude_border=p["exclude_border"])
    ang = _angle_of(m)
    for b in found:
        bx, by, bw, bh = b.bbox
        centre = (np.array([bx + bw / 2, by + bh / 2, 1.0]) @ m.T)[:2]
        ctx.draw_poly(_corners(bx, by, bw, bh, m), _CYAN)
        ctx.detections.append(Detection(step.name, 1.0, float(centre[0]), float(centre[1]),
                                        float(bw), float(bh), ang, step.name))
    areas = [float(b.area) for b in found]
    return {"count": float(len(found)), "total_area": float(sum(areas)),
            "max_area": float(max(areas)) if areas else 0.0}


def _prepare_shape_match(step: Step, base: Path, cache: dict[Any, Any]) -> None:
    from dg_vision.metrology.matching import ShapeModel

    p = step.params
    path = _resolve(base, p["model_image"])
    try:
        img = load_image(path)
    except VisionInputError as exc:
        raise _FieldError(str(exc), "model_image") from None
    h, w = img.shape[:2]
    roi = p.get("model_roi")
    if roi is not None and (roi[0] + roi[2] > w or roi[1] + roi[3] > h):
        raise _FieldError(f"model_roi {list(roi)} exceeds the {w}x{h} model image",
                          "model_roi")
    iroi = None if roi is None else tuple(int(round(v)) for v in roi)
    try:
        model = ShapeModel.teach(img, roi=iroi, angle_range=p["angle_range"],
                                 scale_range=p["scale_range"])
    except VisionInputError as exc:
        raise _FieldError(f"cannot teach a shape model from {path}: {exc}",
                          "model_image") from None
    step.state["model"] = model


def _run_shape_match(ctx: _Context, step: Step) -> dict[str, float]:
    gray = ctx.need_gray()
    p = step.params
    search_roi = None
    if p["search_roi"] is not None:
        search_roi = tuple(int(round(v)) for v in p["search_roi"])
        ctx.draw_poly(_corners(*p["search_roi"], np.eye(3)), _YELLOW)
    model = step.state["model"]
    matches = model.find(gray, min_score=p["min_score"], max_matches=1, search_roi=search_roi)
    ctx.fixtures[step.name] = None
    if not matches:
        raise _CannotMeasure(f"no match with score >= {p['min_score']}")
    best = max(matches, key=lambda q: q.score)
    # the matcher reports where the model ROI's centre (model.ref) lands
    frame = fixture_transform(model.ref, best.x, best.y, best.angle_deg, best.scale)
    ctx.fixtures[step.name] = frame
    rw, rh = model.size
    rx, ry = model.ref
    box = _corners(rx - rw / 2, ry - rh / 2, rw, rh, frame)
    ctx.draw_poly(box, _MAGENTA)
    axis = np.array([[best.x, best.y], (frame @ np.array([rx + rw / 4, ry, 1.0]))[:2]])
    ctx.draw_poly(axis, _MAGENTA, closed=False)
    ctx.draw_text(f"{step.name} {best.score:.2f} {best.angle_deg:.1f} deg",
                  (float(box[:, 0].min()), float(box[:, 1].max()) + 16), _MAGENTA)
    ctx.detections.append(Detection(step.name, float(best.score), float(best.x),
                                    float(best.y), rw * best.scale, rh * best.scale,
                                    float(best.angle_deg), step.name))
    return {"score": float(best.score), "x": float(best.x), "y": float(best.y),
            "angle": float(best.angle_deg), "scale": float(best.scale)}


def _shape_match_defaults(step: Step) -> dict[str, Tolerance]:
    return {"score": Tolerance(lower=step.params["min_score"])}


def _run_code_read(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import codes

    p = step.params
    crop, m = ctx.crop(p.get("roi"))
    h, w = crop.shape
    if p.get("roi") is not None:
        ctx.draw_roi(m, w, h)
    found = codes.read_codes(crop, formats=p["formats"])
    out = {"count": float(len(found))}
    texts = []
    for c in found:
        corners = np.asarray(c.corners, dtype=np.float64).reshape(-1, 2)
        img_c = np.c_[corners, np.ones(len(corners))] @ m.T
        ctx.draw_poly(img_c[:, :2], _CYAN)
        ctx.draw_text(str(c.text), (float(img_c[:, 0].min()), float(img_c[:, 1].max()) + 16),
                      _CYAN)
        cx, cy = img_c[:, 0].mean(), img_c[:, 1].mean()
        bw, bh = float(np.ptp(corners[:, 0])), float(np.ptp(corners[:, 1]))
        fmt = str(c.format)
        ctx.detections.append(Detection(f"code:{fmt}", 1.0, float(cx), float(cy), bw, bh,
                                        _angle_of(m), str(c.text)))
        ctx.codes.append((step.name, fmt, str(c.text)))
        texts.append(str(c.text))
    if p.get("part_id") and texts and not ctx.part_id:
        ctx.part_id = texts[0]
    if p.get("expected") is not None or p.get("pattern") is not None:
        def good(t: str) -> bool:
            if p.get("expected") is not None and t != p["expected"]:
                return False
            return p.get("pattern") is None or p["pattern"].fullmatch(t) is not None
        out["match"] = float(any(good(t) for t in texts))
    return out


def _code_formats(v: Any) -> tuple[Any, ...]:
    """zxing-cpp formats of a name or list of names, checked at load."""
    from dg_vision.metrology import codes

    try:
        return codes.parse_formats(_str_list(v))
    except VisionInputError as exc:
        raise _FieldError(str(exc)) from None


def _code_defaults(step: Step) -> dict[str, Tolerance]:
    tol = {"count": Tolerance(lower=1.0)}
    if step.params.get("expected") is not None or step.params.get("pattern") is not None:
        tol["match"] = Tolerance(nominal=1.0, lower=1.0, upper=1.0)
    return tol


def _prepare_anomaly(step: Step, base: Path, cache: dict[Any, Any]) -> None:
    from dg_vision.anomaly.patchcore import PatchCoreModel

    path = _resolve(base, step.params["model"])
    if not path.is_file():
        raise _FieldError(f"anomaly model file {path} does not exist", "model")
    key = ("anomaly", path.resolve())
    if key not in cache:           # several ROIs of one recipe often share one model
        try:
            cache[key] = PatchCoreModel.load(path)
        except VisionInputError as exc:
            raise _FieldError(f"cannot use anomaly model {path}: {exc}", "model") from None
    step.state["model"] = cache[key]


def _anomaly_threshold(step: Step) -> float:
    """The step's threshold, else its model's calibrated one."""
    if step.params["threshold"] is not None:
        return float(step.params["threshold"])
    return float(step.state["model"].threshold)


def _run_anomaly(ctx: _Context, step: Step) -> dict[str, float]:
    p = step.params
    crop, m = ctx.crop(p.get("roi"), color=True)
    h, w = crop.shape[:2]
    if p.get("roi") is not None:
        ctx.draw_roi(m, w, h)
    res = step.state["model"].score(crop)
    score = float(res.score)
    thr = _anomaly_threshold(step)
    amap = np.asarray(res.anomaly_map, dtype=np.float32)
    if amap.shape != (h, w):
        amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
    gray = ctx.need_gray()
    ctx.anomaly_maps.append((amap, m, thr))     # warped into the image only for the overlay
    if not math.isfinite(ctx.anomaly_score) or score > ctx.anomaly_score:
        ctx.anomaly_score = score
    pix_thr = p["pixel_threshold"] if p["pixel_threshold"] is not None else thr
    if score > thr and math.isfinite(pix_thr):
        mask = (amap > pix_thr).astype(np.uint8)
        n, _, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area < p["min_defect_area"]:
                continue
            c = (np.array([cents[i][0], cents[i][1], 1.0]) @ m.T)[:2]
            if not (0 <= c[0] < gray.shape[1] and 0 <= c[1] < gray.shape[0]):
                continue                     # resampled from outside the image
            peak = float(amap[y:y + bh, x:x + bw].max())
            ctx.detections.append(Detection("anomaly", peak, float(c[0]), float(c[1]),
                                            float(bw), float(bh), _angle_of(m), step.name))
            ctx.draw_poly(_corners(x, y, bw, bh, m), _RED)
    return {"score": score}


def _anomaly_defaults(step: Step) -> dict[str, Tolerance]:
    thr = _anomaly_threshold(step)
    return {"score": Tolerance(upper=thr)} if math.isfinite(thr) else {}


# --- 3D tools ---------------------------------------------------------------------------

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

_COMMON_FIELDS = {"name", "type", "fixture", "nominal", "tol", "lower", "upper", "tolerances",
                  "report", "description"}
_TOL_KEYS = {"nominal", "tol", "lower", "upper"}
_TOP_KEYS = {"name", "description", "version", "units", "image_size", "steps"}


# --- loading and validation ---------------------------------------------------------------

def _resolve(base: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else base / p


def parse_tolerance(spec: Any) -> Tolerance:
    """Parse a tolerance mapping into a :class:`Tolerance`.

    Accepted: ``{nominal, tol}`` (``tol`` a number for +-, or ``[minus, plus]``) or
    ``{lower, upper}`` (one of them for one-sided limits), optionally with a ``nominal``.
    Raises ValueError saying what is wrong.
    """
    if not isinstance(spec, Mapping):
        raise _FieldError(f"must be a mapping with nominal/tol or lower/upper, got {spec!r}")
    unknown = set(spec) - _TOL_KEYS
    if unknown:
        raise _FieldError(f"unknown key(s) {sorted(unknown)}; use {sorted(_TOL_KEYS)}")
    def num(key: str, default: float) -> float:
        if spec.get(key) is None:
            return default
        try:
            return _num(spec[key])
        except _FieldError as exc:
            raise _FieldError(str(exc), key) from None

    nominal = num("nominal", math.nan)
    lower = num("lower", -math.inf)
    upper = num("upper", math.inf)
    if spec.get("tol") is not None:
        if not math.isfinite(nominal):
            raise _FieldError("'tol' needs a 'nominal'", "tol")
        if "lower" in spec or "upper" in spec:
            raise _FieldError("give either 'tol' or 'lower'/'upper', not both", "tol")
        tol = spec["tol"]
        try:
            if isinstance(tol, (list, tuple)):
                if len(tol) != 2:
                    raise _FieldError(f"'tol' as a list must be [minus, plus], got {tol!r}")
                minus, plus = _nonneg(tol[0]), _nonneg(tol[1])
            else:
                minus = plus = _nonneg(tol)
        except _FieldError as exc:
            raise _FieldError(str(exc), "tol") from None
        lower, upper = nominal - minus, nominal + plus
    elif math.isfinite(nominal) and "lower" not in spec and "upper" not in spec:
        raise _FieldError("a 'nominal' needs 'tol' or 'lower'/'upper'", "nominal")
    if not (math.isfinite(lower) or math.isfinite(upper)):
        raise _FieldError("no limits: give nominal + tol, or lower and/or upper")
    if lower > upper:
        raise _FieldError(f"lower {lower} > upper {upper}", "lower")
    if math.isfinite(nominal) and not lower <= nominal <= upper:
        raise _FieldError(f"nominal {nominal} lies outside [{lower}, {upper}]", "nominal")
    return Tolerance(nominal, lower, upper)


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


# --- the recipe ---------------------------------------------------------------------------

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
            drawn = self._overlay(ctx, ok, measurements)
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

    def _overlay(self, ctx: _Context, ok: bool, measurements: list[Measured]) -> np.ndarray:
        base = to_bgr(ctx.image).copy()
        h_img, w_img = base.shape[:2]
        for amap, m, thr in ctx.anomaly_maps:     # each in the image box of its ROI only
            box = _image_box(m, amap.shape, (w_img, h_img))
            if box is None:
                continue
            x, y, bw, bh = box
            shift = np.array([[1.0, 0, -x], [0, 1.0, -y], [0, 0, 1.0]]) @ m
            heat = cv2.warpAffine(amap, shift[:2], (bw, bh), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
            blend_heatmap(base, heat, thr, box)
        for d in ctx.draw:
            d(base)
        h, w = base.shape[:2]
        s = _font_scale(base)
        band = int(22 * s)
        color = _GREEN if ok else _RED
        cv2.rectangle(base, (0, 0), (w - 1, band), color, -1)
        n_fail = sum(not m.ok for m in measurements)
        text = f"{self.name}: " + ("PASS" if ok else f"FAIL ({n_fail})")
        if math.isfinite(ctx.anomaly_score):
            text += f"  anomaly {ctx.anomaly_score:.3g}"
        cv2.putText(base, text, (4, int(band * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * s,
                    (255, 255, 255), _thick(base), cv2.LINE_AA)
        lines = [f"{m.name}: {_fmt(m.value)} {m.unit}" for m in measurements if not m.ok]
        step_px = int(14 * s)
        lines = lines[:max(0, (h - band - 8) // step_px)]
        if lines:
            # the failed measurements on a darkened panel under the banner
            width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s,
                                        _thick(base))[0][0] for t in lines) + 8
            y1 = min(h, band + 6 + step_px * len(lines))
            panel = base[band + 1:y1, :min(w, width)]
            panel[:] = (panel * 0.35).astype(np.uint8)
            y = band + int(14 * s)
            for t in lines:
                cv2.putText(base, t, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s, (90, 90, 255),
                            _thick(base), cv2.LINE_AA)
                y += step_px
        return base


def _image_box(m: np.ndarray, shape: tuple[int, ...], size: tuple[int, int]
               ) -> tuple[int, int, int, int] | None:
    """The integer box (x, y, w, h) covering a crop of ``shape`` mapped by ``m``.

    Clipped to an image of ``size`` (w, h); None when it lies outside.
    """
    c = _corners(0, 0, shape[1], shape[0], m)
    x0, y0 = max(int(np.floor(c[:, 0].min())), 0), max(int(np.floor(c[:, 1].min())), 0)
    x1 = min(int(np.ceil(c[:, 0].max())) + 1, size[0])
    y1 = min(int(np.ceil(c[:, 1].max())) + 1, size[1])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1 - x0, y1 - y0)


def _full_anomaly_map(ctx: _Context) -> np.ndarray | None:
    """The anomaly maps of the run in image pixels (max where ROIs overlap), or None."""
    if not ctx.anomaly_maps or ctx.gray is None:
        return None
    h, w = ctx.gray.shape
    full = np.zeros((h, w), np.float32)
    for amap, m, _ in ctx.anomaly_maps:
        warped = cv2.warpAffine(amap, m[:2], (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        np.maximum(full, warped, out=full)
    return full


def _fmt(v: float) -> str:
    return "NaN" if not math.isfinite(v) else f"{v:.4g}"


def _out_of_tolerance(value: float, tol: Tolerance) -> str:
    if value < tol.lower:
        return f"{_fmt(value)} below the lower limit {tol.lower:.4g}"
    return f"{_fmt(value)} above the upper limit {tol.upper:.4g}"


