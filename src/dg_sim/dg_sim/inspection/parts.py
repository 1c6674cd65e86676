"""PCB-like boards seen from above by the inspection camera, with controlled defects.

Rendering (pure numpy/OpenCV, seeded): the board is drawn in its own frame (millimetres,
origin at the top-left corner, x right, y down) on a canvas ``supersample`` times finer than
the camera's pixels (shapes with sub-pixel coordinates and anti-aliasing), warped by the
part's pose on the conveyor (small shift and rotation), composited over the belt (which shows
through the drilled holes) and reduced to camera pixels by area averaging. So every edge sits
where the design puts it to a few hundredths of a pixel, which is what metrology is checked
against. Then the camera: uneven illumination (a smooth gain field), a small optical blur
(Gaussian, ``blur_px``) and sensor noise (Gaussian, ``noise_grey`` levels).

The camera is an ideal pinhole looking straight down at the belt (board plane fronto-parallel),
so the scale on the board plane is constant: ``mm_per_px`` = working distance / focal length
[px]; :meth:`CameraModel.k_matrix` gives the matching ``camera_info`` K.

Board content (:func:`default_board`): green solder mask with copper traces under it and
tented vias, four mounting holes (drill 3.0 mm, tinned ring 5.0 mm), three fiducials (1.0 mm
copper discs in 2.5 mm mask openings, asymmetric so the orientation is unique), gold pads,
an SOIC-16 and an SOIC-8, six 0805 chips, silkscreen, and a white label with a DataMatrix code
of the board's serial number (zxing-cpp ``create_barcode``). Every board also varies like a
real one: outline and drill sizes scatter by a few hundredths of a millimetre around nominal
(``process_sigma_mm``); the true values are part of the ground truth.

Defects (:data:`BOARD_DEFECTS`), each with a ground-truth mask in camera pixels:
``scratch`` (thin curved line of scraped-off mask), ``stain`` (translucent amber flux residue),
``missing_component`` (bare pads where a part should sit) and ``wrong_hole_size`` (one
mounting hole drilled 15-25 % over or under size).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import zxingcpp

#: Board defect types this module renders.
BOARD_DEFECTS = ("scratch", "stain", "missing_component", "wrong_hole_size")

# Colours (BGR, uint8) of the board's materials under the inspection light.
MASK = (38, 104, 30)
TRACE = (50, 132, 42)
VIA = (58, 140, 50)
FR4 = (100, 148, 165)
GOLD = (78, 162, 204)
TIN = (180, 186, 190)
SILK = (228, 232, 232)
IC_BODY = (34, 32, 32)
CHIP_C = (92, 132, 158)
CHIP_R = (30, 30, 30)
LEAD = (168, 172, 176)
LABEL = (238, 240, 240)
BELT = (22, 22, 24)     # black rubber belt
SCRATCH = (150, 205, 160)
STAIN = (95, 165, 190)   # amber flux residue

#: Sub-pixel bits of OpenCV drawing coordinates (1/16 canvas pixel).
_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class CameraModel:
    """Ideal pinhole camera looking straight down at the conveyor.

    ``mm_per_px`` is the scale on the belt plane, ``focal_length_px`` the focal length in
    pixels; together they fix the working distance (``mm_per_px * focal_length_px``).
    """

    width_px: int = 640
    height_px: int = 480
    mm_per_px: float = 0.1
    focal_length_px: float = 3000.0

    def __post_init__(self) -> None:
        """Reject sizes and scales that cannot make an image."""
        if not (16 <= self.width_px <= 8192 and 16 <= self.height_px <= 8192):
            raise ValueError(f"camera size must be 16..8192 px, got {self.width_px}x"
                             f"{self.height_px}")
        if not (math.isfinite(self.mm_per_px) and 0.001 <= self.mm_per_px <= 10.0):
            raise ValueError(f"mm_per_px must be in [0.001, 10], got {self.mm_per_px}")
        if not (math.isfinite(self.focal_length_px) and self.focal_length_px > 0.0):
            raise ValueError(f"focal_length_px must be > 0, got {self.focal_length_px}")

    def k_matrix(self) -> np.ndarray:
        """3x3 intrinsic matrix (principal point at the image centre, no distortion)."""
        f = self.focal_length_px
        return np.array([[f, 0.0, (self.width_px - 1) / 2.0],
                         [0.0, f, (self.height_px - 1) / 2.0],
                         [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Hole:
    """A drilled mounting hole with a tinned annular ring [mm, board frame]."""

    name: str
    x_mm: float
    y_mm: float
    drill_mm: float
    ring_mm: float


@dataclass(frozen=True)
class Fiducial:
    """A copper fiducial disc inside a solder-mask opening [mm, board frame]."""

    name: str
    x_mm: float
    y_mm: float
    diameter_mm: float
    opening_mm: float


@dataclass(frozen=True)
class Rect:
    """Axis-aligned rectangle by centre and size [mm, board frame]."""

    cx: float
    cy: float
    w: float
    h: float

    def corners(self) -> np.ndarray:
        """(4, 2) corners, clockwise on screen from the top-left."""
        x0, x1 = self.cx - self.w / 2, self.cx + self.w / 2
        y0, y1 = self.cy - self.h / 2, self.cy + self.h / 2
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])

    def grown(self, d: float) -> Rect:
        """The rectangle grown by ``d`` [mm] on every side."""
        return Rect(self.cx, self.cy, self.w + 2 * d, self.h + 2 * d)


@dataclass(frozen=True)
class Component:
    """A placed component: body, its pads (copper) and terminals (leads / end caps)."""

    ref: str
    body: Rect
    body_colour: tuple[int, int, int]
    pads: tuple[Rect, ...]
    terminals: tuple[Rect, ...]
    pin1: bool = False


@dataclass(frozen=True)
class BoardDesign:
    """Nominal layout of a board [mm, board frame: origin top-left, x right, y down]."""

    name: str
    width_mm: float
    height_mm: float
    holes: tuple[Hole, ...]
    fiducials: tuple[Fiducial, ...]
    components: tuple[Component, ...]
    traces: tuple[tuple[tuple[float, float], ...], ...]
    trace_width_mm: float
    vias: tuple[tuple[float, float], ...]
    label: Rect
    code_module_mm: float
    silk_text: tuple[tuple[str, float, float, float], ...]  # text, x, y (baseline), height

    def keep_out(self) -> list[Rect]:
        """Rectangles covered by something other than bare solder mask (for defects)."""
        out = [c.body.grown(0.4) for c in self.components]
        out += [p.grown(0.3) for c in self.components for p in c.pads]
        out += [Rect(h.x_mm, h.y_mm, h.ring_mm + 0.6, h.ring_mm + 0.6) for h in self.holes]
        out += [Rect(f.x_mm, f.y_mm, f.opening_mm + 0.4, f.opening_mm + 0.4)
                for f in self.fiducials]
        out.append(self.label.grown(0.4))
        return out


def _soic(ref: str, cx: float, cy: float, pins: int, body_w: float, body_h: float,
          pad_row_mm: float) -> Component:
    """SOIC footprint, long side along x: pins/2 gull-wing leads above and below (1.27 mm)."""
    n = pins // 2
    xs = [cx + (i - (n - 1) / 2) * 1.27 for i in range(n)]
    pads, leads = [], []
    for sign in (-1.0, 1.0):
        for x in xs:
            pads.append(Rect(x, cy + sign * pad_row_mm, 0.6, 1.5))
            leads.append(Rect(x, cy + sign * (body_h / 2 + 0.55), 0.42, 1.1))
    return Component(ref, Rect(cx, cy, body_w, body_h), IC_BODY, tuple(pads), tuple(leads),
                     pin1=True)


def _chip(ref: str, cx: float, cy: float, colour: tuple[int, int, int]) -> Component:
    """0805 chip (2.0 x 1.25 mm) along x on two 1.0 x 1.4 mm pads."""
    pads = (Rect(cx - 0.95, cy, 1.0, 1.4), Rect(cx + 0.95, cy, 1.0, 1.4))
    caps = (Rect(cx - 0.8, cy, 0.4, 1.25), Rect(cx + 0.8, cy, 0.4, 1.25))
    return Component(ref, Rect(cx, cy, 2.0, 1.25), colour, pads, caps)


def default_board() -> BoardDesign:
    """The demo board "DG-CTRL-01": 50 x 36 mm, layout in the module docstring."""
    holes = tuple(Hole(f"H{i + 1}", x, y, 3.0, 5.0)
                  for i, (x, y) in enumerate(((3.5, 3.5), (46.5, 3.5), (3.5, 32.5),
                                              (46.5, 32.5))))
    fids = (Fiducial("F1", 9.0, 3.5, 1.0, 2.5), Fiducial("F2", 41.0, 32.5, 1.0, 2.5),
            Fiducial("F3", 9.0, 32.5, 1.0, 2.5))
    comps = (
        _soic("U1", 16.0, 18.0, 16, 10.0, 4.0, 3.2),
        _soic("U2", 32.0, 9.5, 8, 5.0, 4.0, 3.0),
        _chip("C1", 27.5, 19.0, CHIP_C), _chip("C2", 27.5, 23.0, CHIP_C),
        _chip("R1", 32.5, 19.0, CHIP_R), _chip("R2", 32.5, 23.0, CHIP_R),
        _chip("C3", 14.0, 27.5, CHIP_C), _chip("R3", 19.5, 27.5, CHIP_R),
    )
    traces = (
        ((11.555, 14.8), (11.555, 12.0), (20.0, 12.0), (25.0, 7.0), (30.1, 7.0)),
        ((12.825, 14.8), (12.825, 13.0), (21.0, 13.0), (24.0, 10.0)),
        ((20.445, 21.2), (20.445, 23.0), (26.55, 23.0)),
        ((19.175, 21.2), (19.175, 19.0), (26.55, 19.0)),
        ((28.45, 19.0), (31.55, 19.0)),
        ((28.45, 23.0), (31.55, 23.0)),
        ((33.45, 19.0), (35.5, 17.0), (35.5, 12.5), (33.905, 12.5)),
        ((33.45, 23.0), (35.5, 25.0), (35.5, 29.0), (24.0, 29.0), (20.45, 27.5)),
        ((11.555, 21.2), (11.555, 24.0), (13.05, 25.5), (13.05, 27.5)),
        ((6.0, 8.0), (6.0, 28.0)),
        ((44.0, 8.0), (44.0, 14.0)),
        ((38.0, 27.0), (44.0, 27.0), (44.0, 26.0)),
    )
    vias = ((24.0, 10.0), (6.0, 8.0), (6.0, 28.0), (44.0, 8.0), (44.0, 14.0), (38.0, 27.0),
            (44.0, 26.0))
    silk = (("U1", 8.3, 18.5, 1.0), ("U2", 26.9, 10.0, 1.0),
            ("DG-CTRL-01 REV A", 13.0, 34.6, 1.1))
    return BoardDesign("DG-CTRL-01", 50.0, 36.0, holes, fids, comps, traces, 0.3, vias,
                       Rect(42.0, 20.0, 9.0, 9.0), 0.5, silk)


@dataclass(frozen=True)
class BoardPose:
    """Where the board lies in the image: its centre [px] and rotation [deg].

    Image point = ``(x_px, y_px) + R(angle) (p - centre) / mm_per_px`` for a board point p
    [mm], with ``R = [[cos, -sin], [sin, cos]]`` in pixel axes (x right, y down): a positive
    angle turns the board clockwise on screen.
    """

    x_px: float
    y_px: float
    angle_deg: float


@dataclass
class BoardDefect:
    """One rendered defect: type, parameters and its ground-truth mask in camera pixels."""

    kind: str
    params: dict[str, Any]
    mask: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready ground truth: type, sensor, bounding box, area and parameters."""
        out: dict[str, Any] = {"type": self.kind, "sensor": "camera", **self.params}
        if self.mask is not None and self.mask.any():
            ys, xs = np.nonzero(self.mask)
            out["bbox_px"] = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                              int(ys.max() - ys.min() + 1)]
            out["center_px"] = [round(float(xs.mean()), 2), round(float(ys.mean()), 2)]
            out["area_px"] = int(self.mask.sum())
        return out


@dataclass
class BoardSample:
    """A rendered board: the camera image, its pose, true dimensions and defects."""

    image: np.ndarray                      # (H, W, 3) uint8 BGR
    pose: BoardPose
    serial: str
    truth: dict[str, Any]                  # true (as-made) dimensions [mm]
    defects: list[BoardDefect] = field(default_factory=list)

    @property
    def defective(self) -> bool:
        """True when the board carries at least one defect."""
        return bool(self.defects)

    def defect_mask(self) -> np.ndarray:
        """Union of the defects' ground-truth masks (bool, camera pixels)."""
        mask = np.zeros(self.image.shape[:2], bool)
        for d in self.defects:
            if d.mask is not None:
                mask |= d.mask
        return mask


@dataclass(frozen=True)
class RenderSettings:
    """Rendering and placement randomness of the board camera."""

    supersample: int = 3
    shift_px: float = 8.0            # max |dx|, |dy| of the board centre [px]
    rotation_deg: float = 3.0        # max |angle| [deg]
    blur_px: float = 0.6             # optical blur (Gaussian sigma) [px]
    noise_grey: float = 2.0          # sensor noise (Gaussian sigma) [grey levels]
    illumination: float = 0.06       # peak-to-peak relative gain variation over the field
    process_sigma_mm: float = 0.015  # scatter of outline and drill sizes [mm]

    def __post_init__(self) -> None:
        """Reject settings that make no sense."""
        if not 1 <= self.supersample <= 8:
            raise ValueError(f"supersample must be 1..8, got {self.supersample}")
        for name in ("shift_px", "rotation_deg", "blur_px", "noise_grey", "illumination",
                     "process_sigma_mm"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v}")


def datamatrix_modules(text: str) -> np.ndarray:
    """The DataMatrix symbol of ``text`` as a bool array (True = dark module), no quiet zone."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix)
    img = np.asarray(code.to_image(scale=1, add_quiet_zones=False))
    return img < 128


class _Canvas:
    """A supersampled drawing surface in board millimetres."""

    def __init__(self, width_mm: float, height_mm: float, mm_per_canvas_px: float) -> None:
        self.r = mm_per_canvas_px
        self.w = int(math.ceil(width_mm / self.r)) + 2
        self.h = int(math.ceil(height_mm / self.r)) + 2
        self.img = np.empty((self.h, self.w, 3), np.uint8)

    def pt(self, x_mm: float, y_mm: float) -> tuple[int, int]:
        """Fixed-point canvas coordinates of a board point (pixel centres at integers)."""
        return (int(round((x_mm / self.r - 0.5) * _ONE)),
                int(round((y_mm / self.r - 0.5) * _ONE)))

    def poly(self, pts_mm: np.ndarray) -> np.ndarray:
        """Fixed-point polygon of (N, 2) board points."""
        return np.array([self.pt(x, y) for x, y in pts_mm], np.int32)

    def rect(self, target: np.ndarray, r: Rect, colour: Any) -> None:
        """Fill a rectangle, blending each pixel by its exact area coverage."""
        u0, u1 = (r.cx - r.w / 2) / self.r - 0.5, (r.cx + r.w / 2) / self.r - 0.5
        v0, v1 = (r.cy - r.h / 2) / self.r - 0.5, (r.cy + r.h / 2) / self.r - 0.5
        i0, i1 = max(0, int(math.floor(u0 + 0.5))), min(self.w, int(math.ceil(u1 + 0.5)))
        j0, j1 = max(0, int(math.floor(v0 + 0.5))), min(self.h, int(math.ceil(v1 + 0.5)))
        if i1 <= i0 or j1 <= j0:
            return
        i = np.arange(i0, i1, dtype=np.float32)
        j = np.arange(j0, j1, dtype=np.float32)
        cx = np.clip(np.minimum(i + 0.5, u1) - np.maximum(i - 0.5, u0), 0.0, 1.0)
        cy = np.clip(np.minimum(j + 0.5, v1) - np.maximum(j - 0.5, v0), 0.0, 1.0)
        _blend(target, (slice(j0, j1), slice(i0, i1)), np.outer(cy, cx), colour)

    def circle(self, target: np.ndarray, x: float, y: float, d_mm: float, colour: Any) -> None:
        """Fill a disc of diameter ``d_mm``, blending by its area coverage (to O(1/R))."""
        uc, vc, rad = x / self.r - 0.5, y / self.r - 0.5, d_mm / 2 / self.r
        i0, i1 = max(0, int(math.floor(uc - rad - 1))), min(self.w, int(math.ceil(uc + rad + 2)))
        j0, j1 = max(0, int(math.floor(vc - rad - 1))), min(self.h, int(math.ceil(vc + rad + 2)))
        if i1 <= i0 or j1 <= j0:
            return
        i = np.arange(i0, i1, dtype=np.float32) - np.float32(uc)
        j = np.arange(j0, j1, dtype=np.float32) - np.float32(vc)
        dist = np.sqrt(j[:, None] ** 2 + i[None, :] ** 2)
        _blend(target, (slice(j0, j1), slice(i0, i1)),
               np.clip(np.float32(rad + 0.5) - dist, 0.0, 1.0), colour)

    def polyline(self, target: np.ndarray, pts_mm: Sequence[tuple[float, float]],
                 width_mm: float, colour: Any) -> None:
        """Stroke a polyline of width ``width_mm`` with round joints."""
        pts = np.asarray(pts_mm, float)
        thick = max(1, int(round(width_mm / self.r)))
        cv2.polylines(target, [self.poly(pts)], False, colour, thick, cv2.LINE_AA, _SHIFT)


def _blend(target: np.ndarray, window: tuple[slice, slice], cover: np.ndarray,
           colour: Any) -> None:
    """target[window] += cover * (colour - target[window]) (uint8 targets rounded)."""
    win = target[window]
    c = np.asarray(colour, np.float32)
    a = cover[..., None] if win.ndim == 3 else cover
    out = win.astype(np.float32)
    out += a * (c - out)
    win[...] = np.rint(out) if target.dtype == np.uint8 else out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell_px: float
                  ) -> np.ndarray:
    """Zero-mean, unit-std smooth noise field (bicubic upsampling of a coarse grid)."""
    gh = max(2, int(shape[0] / cell_px) + 2)
    gw = max(2, int(shape[1] / cell_px) + 2)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    coarse -= coarse.mean()
    coarse /= max(float(coarse.std()), 1e-6)
    # Bicubic interpolation keeps the grid values, so the field has about unit spread.
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def as_made(design: BoardDesign, rng: np.random.Generator, sigma_mm: float) -> BoardDesign:
    """The board as manufactured: outline and drills scattered around nominal."""
    holes = tuple(replace(h, drill_mm=h.drill_mm + rng.normal(0.0, sigma_mm),
                          x_mm=h.x_mm + rng.normal(0.0, sigma_mm),
                          y_mm=h.y_mm + rng.normal(0.0, sigma_mm)) for h in design.holes)
    return replace(design, width_mm=design.width_mm + rng.normal(0.0, sigma_mm),
                   height_mm=design.height_mm + rng.normal(0.0, sigma_mm), holes=holes)


@lru_cache(maxsize=4)
def _radius_sq(width_px: int, height_px: int) -> np.ndarray:
    """Squared distance from the image centre over the corner's, per pixel (read-only)."""
    yy, xx = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    rr = ((xx - width_px / 2) ** 2 + (yy - height_px / 2) ** 2) / (
        (width_px / 2) ** 2 + (height_px / 2) ** 2)
    rr.flags.writeable = False
    return rr


def render_board(design: BoardDesign, camera: CameraModel, rng: np.random.Generator, *,
                 serial: str, defects: Sequence[dict[str, Any]] = (),
                 settings: RenderSettings = RenderSettings()) -> BoardSample:
    """Render one board on the conveyor with the given defects (``{"type": ...}`` specs).

    All randomness (pose, process scatter, textures, defect geometry, noise) comes from
    ``rng``. Raises ValueError for an unknown defect type.
    """
    for d in defects:
        if d.get("type") not in BOARD_DEFECTS:
            raise ValueError(f"unknown board defect type {d.get('type')!r}; known: "
                             f"{BOARD_DEFECTS}")
    s = settings.supersample
    made = as_made(design, rng, settings.process_sigma_mm)
    pose = BoardPose(
        (camera.width_px - 1) / 2.0 + rng.uniform(-1, 1) * settings.shift_px,
        (camera.height_px - 1) / 2.0 + rng.uniform(-1, 1) * settings.shift_px,
        float(rng.uniform(-1, 1) * settings.rotation_deg))
    kinds = [d["type"] for d in defects]
    missing = None
    if "missing_component" in kinds:
        missing = design.components[int(rng.integers(len(design.components)))].ref
    wrong_hole, wrong_drill = None, None
    if "wrong_hole_size" in kinds:
        k = int(rng.integers(len(made.holes)))
        h = made.holes[k]
        factor = 1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.25)
        wrong_hole, wrong_drill = h.name, design.holes[k].drill_mm * factor

    cv = _Canvas(design.width_mm + 0.5, design.height_mm + 0.5, camera.mm_per_px / s)
    img = cv.img
    img[:] = MASK
    _draw_board(cv, made, serial, missing, wrong_hole, wrong_drill)
    # Solder-mask texture: a smooth, slightly uneven coat plus fine grain.
    tex = 1.0 + 0.035 * _smooth_noise(rng, img.shape[:2], 2.0 / cv.r)
    tex += 0.015 * _smooth_noise(rng, img.shape[:2], 0.25 / cv.r)
    board = img.astype(np.float32)
    board *= tex[..., None]

    # Surface defects drawn on top (a float image: translucent stains blend).
    masks: list[tuple[str, dict[str, Any], np.ndarray]] = []
    free = _free_points(made, rng)
    for d in defects:
        kind = d["type"]
        if kind == "scratch":
            params, m = _scratch(cv, board, rng, next(free))
        elif kind == "stain":
            params, m = _stain(cv, board, rng, next(free))
        elif kind == "missing_component":
            comp = next(c for c in design.components if c.ref == missing)
            m = np.zeros(img.shape[:2], np.uint8)
            cv.rect(m, comp.body.grown(0.1), 255)
            for t in comp.terminals:
                cv.rect(m, t, 255)
            params = {"component": comp.ref}
        else:  # wrong_hole_size
            h = next(h for h in made.holes if h.name == wrong_hole)
            m = np.zeros(img.shape[:2], np.uint8)
            big, small = max(h.drill_mm, wrong_drill), min(h.drill_mm, wrong_drill)
            cv.circle(m, h.x_mm, h.y_mm, big, 255)
            cv.circle(m, h.x_mm, h.y_mm, small, 0)
            nominal = next(n.drill_mm for n in design.holes if n.name == h.name)
            params = {"hole": h.name, "nominal_mm": nominal,
                      "actual_mm": round(float(wrong_drill), 4)}
        masks.append((kind, params, m))

    # Board footprint (alpha): 1 on the board, 0 off it and in the drilled holes.
    alpha = np.zeros(img.shape[:2], np.uint8)
    cv.rect(alpha, Rect(made.width_mm / 2, made.height_mm / 2, made.width_mm,
                        made.height_mm), 255)
    for h in made.holes:
        d = wrong_drill if h.name == wrong_hole else h.drill_mm
        cv.circle(alpha, h.x_mm, h.y_mm, d, 0)

    # Premultiplied alpha: warp board * alpha and alpha, reduce both by area averaging,
    # then composite over the belt at camera resolution (area averaging is linear).
    alpha_f = alpha.astype(np.float32) * np.float32(1.0 / 255.0)
    board *= alpha_f[..., None]
    a = _canvas_to_image(cv, made, pose, camera, s)
    size_s = (camera.width_px * s, camera.height_px * s)
    size = (camera.width_px, camera.height_px)
    warp = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    pm = cv2.resize(cv2.warpAffine(board, a, size_s, **warp), size,
                    interpolation=cv2.INTER_AREA)
    cover = cv2.resize(cv2.warpAffine(alpha_f, a, size_s, **warp), size,
                       interpolation=cv2.INTER_AREA)
    belt = np.empty((camera.height_px, camera.width_px, 3), np.float32)
    belt[:] = BELT
    belt *= (1.0 + 0.06 * _smooth_noise(rng, belt.shape[:2], 0.6 / camera.mm_per_px)
             )[..., None]
    out = pm + (1.0 - cover)[..., None] * belt

    # Camera: illumination gain field, optical blur, sensor noise.
    rr = _radius_sq(camera.width_px, camera.height_px)
    gain = (1.0 + settings.illumination / 2) - settings.illumination * rr
    gain *= float(rng.normal(1.0, 0.01))
    out *= gain[..., None]
    if settings.blur_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), settings.blur_px)
    out += np.float32(settings.noise_grey) * rng.standard_normal(out.shape, np.float32)
    image = np.clip(np.rint(out), 0, 255).astype(np.uint8)

    defect_list = []
    for kind, params, m in masks:
        ms = cv2.warpAffine(m.astype(np.float32) / 255.0, a, size_s, **warp)
        frac = cv2.resize(ms, (camera.width_px, camera.height_px),
                          interpolation=cv2.INTER_AREA)
        defect_list.append(BoardDefect(kind, params, frac >= 0.25))
    truth = {
        "board_width_mm": round(made.width_mm, 4),
        "board_height_mm": round(made.height_mm, 4),
        "holes": {h.name: {"x_mm": round(h.x_mm, 4), "y_mm": round(h.y_mm, 4),
                           "diameter_mm": round(float(wrong_drill if h.name == wrong_hole
                                                      else h.drill_mm), 4)}
                  for h in made.holes},
        "missing_component": missing,
    }
    return BoardSample(image, pose, serial, truth, defect_list)


def board_to_image(design_xy_mm: np.ndarray, pose: BoardPose, camera: CameraModel,
                   centre_mm: tuple[float, float]) -> np.ndarray:
    """Map (N, 2) board points [mm] to image coordinates [px].

    The board's centre is ``centre_mm`` (board frame) and it lies at ``pose``.
    """
    th = math.radians(pose.angle_deg)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    p = (np.asarray(design_xy_mm, float) - np.asarray(centre_mm)) / camera.mm_per_px
    return p @ rot.T + np.array([pose.x_px, pose.y_px])


def _canvas_to_image(cv: _Canvas, made: BoardDesign, pose: BoardPose, camera: CameraModel,
                     s: int) -> np.ndarray:
    """2x3 affine from canvas pixels to the supersampled image (pixel-centre conventions)."""
    th = math.radians(pose.angle_deg)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    # canvas u -> mm: (u + 0.5) r; mm -> image X: c + R (mm - centre) / mm_per_px;
    # image X -> supersampled Xs: s X + (s - 1) / 2.
    lin = s * rot * (cv.r / camera.mm_per_px)
    centre = np.array([made.width_mm / 2, made.height_mm / 2])
    c = np.array([pose.x_px, pose.y_px])
    off = s * (c + rot @ ((0.5 * cv.r - centre) / camera.mm_per_px)) + (s - 1) / 2.0
    return np.hstack([lin, off[:, None]])


def _draw_board(cv: _Canvas, made: BoardDesign, serial: str, missing: str | None,
                wrong_hole: str | None, wrong_drill: float | None) -> None:
    img = cv.img
    for tr in made.traces:
        cv.polyline(img, tr, made.trace_width_mm, TRACE)
    for x, y in made.vias:
        cv.circle(img, x, y, 0.7, VIA)
    for f in made.fiducials:
        cv.circle(img, f.x_mm, f.y_mm, f.opening_mm, FR4)
        cv.circle(img, f.x_mm, f.y_mm, f.diameter_mm, GOLD)
    for h in made.holes:
        cv.circle(img, h.x_mm, h.y_mm, h.ring_mm, TIN)
    for c in made.components:
        for p in c.pads:
            cv.rect(img, p, GOLD if c.ref == missing else TIN)
    # Silkscreen: outlines around the components and the texts.
    thick = max(1, int(round(0.15 / cv.r)))
    for c in made.components:
        outline = c.body.grown(0.35) if not c.pads else _bounds([c.body, *c.pads]).grown(0.25)
        cv2.polylines(img, [cv.poly(outline.corners())], True, SILK, thick, cv2.LINE_AA,
                      _SHIFT)
    for text, x, y, height in made.silk_text:
        scale = height / cv.r / 22.0  # Hershey simplex capitals are ~22 units tall
        org = (int(round(x / cv.r)), int(round(y / cv.r)))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, SILK, thick, cv2.LINE_AA)
    for c in made.components:
        if c.ref == missing:
            continue
        cv.rect(img, c.body, c.body_colour)
        if c.pin1:
            b = c.body
            cv.circle(img, b.cx - b.w / 2 + 0.9, b.cy + b.h / 2 - 0.9, 0.6, (52, 50, 50))
        for t in c.terminals:   # leads of ICs, metallised end caps of chips (over the body)
            cv.rect(img, t, LEAD)
    # Label with the DataMatrix code of the serial.
    cv.rect(img, made.label, LABEL)
    modules = datamatrix_modules(serial)
    n = modules.shape[0]
    side = n * made.code_module_mm
    x0 = made.label.cx - side / 2
    y0 = made.label.cy - side / 2
    for (i, j) in zip(*np.nonzero(modules), strict=True):
        cv.rect(img, Rect(x0 + (j + 0.5) * made.code_module_mm,
                          y0 + (i + 0.5) * made.code_module_mm,
                          made.code_module_mm, made.code_module_mm), (20, 20, 20))


def _bounds(rects: Sequence[Rect]) -> Rect:
    c = np.vstack([r.corners() for r in rects])
    (x0, y0), (x1, y1) = c.min(axis=0), c.max(axis=0)
    return Rect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


#: Random draws allowed per free point before a board is declared too crowded for defects.
_FREE_POINT_TRIES = 10_000


def _free_points(made: BoardDesign, rng: np.random.Generator, margin_mm: float = 2.5
                 ) -> Iterator[tuple[float, float]]:
    """Random points on bare solder mask, ``margin_mm`` from the edges and parts.

    Raises:
        ValueError: no free point in :data:`_FREE_POINT_TRIES` draws (the design leaves no
            bare mask for a scratch or stain).

    """
    keep = made.keep_out()
    while True:
        for _ in range(_FREE_POINT_TRIES):
            x = rng.uniform(margin_mm, made.width_mm - margin_mm)
            y = rng.uniform(margin_mm, made.height_mm - margin_mm)
            if all(abs(x - r.cx) > r.w / 2 + 0.8 or abs(y - r.cy) > r.h / 2 + 0.8
                   for r in keep):
                yield x, y
                break
        else:
            raise ValueError(f"board {made.name}: no bare solder mask {margin_mm} mm from the "
                             f"edges and parts in {_FREE_POINT_TRIES} random draws")


def _scratch(cv: _Canvas, board: np.ndarray, rng: np.random.Generator,
             centre: tuple[float, float]) -> tuple[dict[str, Any], np.ndarray]:
    """A gently curved scrape through the mask (lighter), 3-8 mm long, 0.12-0.25 mm wide."""
    length = rng.uniform(3.0, 8.0)
    width = rng.uniform(0.12, 0.25)
    ang = rng.uniform(0, math.pi)
    bend = rng.uniform(-0.25, 0.25) * length
    t = np.linspace(-0.5, 0.5, 40)
    d = np.array([math.cos(ang), math.sin(ang)])
    nrm = np.array([-d[1], d[0]])
    pts = centre + np.outer(t * length, d) + np.outer((0.25 - t ** 2) * bend, nrm)
    m = np.zeros(board.shape[:2], np.uint8)
    cv.polyline(m, pts, width, 255)
    a = (m.astype(np.float32) / 255.0)[..., None] * rng.uniform(0.75, 0.95)
    board += a * (np.array(SCRATCH, np.float32) - board)
    return {"length_mm": round(float(length), 3), "width_mm": round(float(width), 3),
            "center_mm": [round(float(centre[0]), 3), round(float(centre[1]), 3)]}, m


def _stain(cv: _Canvas, board: np.ndarray, rng: np.random.Generator,
           centre: tuple[float, float]) -> tuple[dict[str, Any], np.ndarray]:
    """An irregular translucent blob of flux residue, 2-4.5 mm across."""
    radius = rng.uniform(1.0, 2.25)
    h, w = board.shape[:2]
    r_px = radius / cv.r
    cx, cy = centre[0] / cv.r - 0.5, centre[1] / cv.r - 0.5
    x0, x1 = int(max(0, cx - 2 * r_px)), int(min(w, cx + 2 * r_px + 1))
    y0, y1 = int(max(0, cy - 2 * r_px)), int(min(h, cy + 2 * r_px + 1))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    ang = rng.uniform(0, math.pi)
    ex, ey = rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)
    u = ((xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)) / (r_px * ex)
    v = (-(xx - cx) * math.sin(ang) + (yy - cy) * math.cos(ang)) / (r_px * ey)
    wobble = 0.25 * _smooth_noise(rng, xx.shape, max(4.0, r_px / 2))
    level = np.sqrt(u ** 2 + v ** 2) + wobble
    soft = np.clip((1.0 - level) / 0.25, 0.0, 1.0)
    opacity = rng.uniform(0.35, 0.6)
    a = (soft * opacity)[..., None]
    patch = board[y0:y1, x0:x1]
    patch += a * (np.array(STAIN, np.float32) - patch)
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = (soft > 0.2).astype(np.uint8) * 255
    return {"radius_mm": round(float(radius), 3), "opacity": round(float(opacity), 3),
            "center_mm": [round(float(centre[0]), 3), round(float(centre[1]), 3)]}, m
