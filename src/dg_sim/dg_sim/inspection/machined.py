"""The machined part: its CAD mesh (watertight Open3D TriangleMesh) and surface defects.

The part is a 2.5D solid, as most milled parts are: a footprint split into regions, each with
a flat top at its own height, vertical walls between them, a flat bottom at z = 0. The
default (:func:`default_part`) is a 60 x 40 mm aluminium block with a 4 mm step (left 10 mm
tall, right 6 mm), a Ø14 mm boss 6 mm above the left top with a Ø6 x 4 mm blind bore, four
Ø5 mm through holes and a Ø8 mm through hole in the lower step. CAD frame: millimetres,
origin at the centre of the bottom face, z up.

Mesh construction (:func:`build_mesh`): :func:`dg_vision.inspect3d.cad.extrude_regions`, the
vision package's own builder of 2.5D CAD meshes (exact and watertight by construction, no mesh
booleans), so the simulated part and the CAD model a recipe is taught with are one geometry.
Circles are regular polygons of ``segments`` vertices shared by the regions on both sides.

Surface defects (:class:`SurfaceDefect`): dents and bumps on a top face, a raised-cosine
profile of depth ``depth_mm`` and radius ``radius_mm``. They are applied to the depth sensor's
hits as a displacement along the face normal (displacement mapping): for smooth defects a few
millimetres wide and a few tenths deep, seen along the normal, this is the surface a ray cast
of the deformed part would hit. The CAD mesh itself stays nominal, as a CAD model does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import open3d as o3d
from shapely.geometry import Point, Polygon

from dg_vision.inspect3d.cad import Region, extrude_regions

#: Surface defect types of the machined part.
PART_DEFECTS = ("dent", "bump")


@dataclass(frozen=True)
class PartDesign:
    """A 2.5D part: its flat-topped regions (disjoint, edges shared exactly) [mm]."""

    name: str
    regions: tuple[Region, ...]


def _circle(cx: float, cy: float, r: float, n: int) -> list[tuple[float, float]]:
    """Regular n-gon with the circle's area (so its mean radius matches r closely)."""
    # Area-equivalent circumradius: n/2 R^2 sin(2 pi / n) = pi r^2.
    big = r * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))
    return [(cx + big * math.cos(2 * math.pi * k / n), cy + big * math.sin(2 * math.pi * k / n))
            for k in range(n)]


def default_part(segments: int = 96) -> PartDesign:
    """The demo part (see the module docstring)."""
    x0, x1, y0, y1, xs = -30.0, 30.0, -20.0, 20.0, 8.0
    through = {"H1": (-24.0, -14.0, 5.0), "H2": (-24.0, 14.0, 5.0), "H3": (24.0, -14.0, 5.0),
               "H4": (24.0, 14.0, 5.0), "H5": (19.0, 0.0, 8.0)}
    rings = {k: _circle(x, y, d / 2, segments) for k, (x, y, d) in through.items()}
    boss = _circle(-12.0, 0.0, 7.0, segments)
    bore = _circle(-12.0, 0.0, 3.0, segments)
    left = Polygon([(x0, y0), (xs, y0), (xs, y1), (x0, y1)],
                   [rings["H1"], rings["H2"], boss])
    right = Polygon([(xs, y0), (x1, y0), (x1, y1), (xs, y1)],
                    [rings["H3"], rings["H4"], rings["H5"]])
    regions = (Region(left, 10.0), Region(right, 6.0),           # high and low step tops
               Region(Polygon(boss, [bore]), 16.0), Region(Polygon(bore), 12.0))  # boss, bore
    return PartDesign("DG-BLOCK-02", regions)


def build_mesh(design: PartDesign) -> o3d.geometry.TriangleMesh:
    """Watertight triangle mesh of ``design`` [mm], outward normals (see module docstring)."""
    mesh = extrude_regions(design.regions)
    mesh.compute_vertex_normals()
    return mesh


@dataclass(frozen=True)
class SurfaceDefect:
    """A dent (``depth_mm`` > 0 into the part) or bump (out of it) on a top face [mm]."""

    kind: str
    x_mm: float
    y_mm: float
    z_mm: float           # height of the face it is on
    radius_mm: float
    depth_mm: float       # > 0, the extent along the normal

    def displacement(self, xy: np.ndarray) -> np.ndarray:
        """Signed displacement [mm] along +z at (N, 2) points: raised-cosine profile."""
        r = np.hypot(xy[:, 0] - self.x_mm, xy[:, 1] - self.y_mm) / self.radius_mm
        prof = np.where(r < 1.0, 0.5 * (1.0 + np.cos(np.pi * np.minimum(r, 1.0))), 0.0)
        sign = -1.0 if self.kind == "dent" else 1.0
        return sign * self.depth_mm * prof

    def to_json(self) -> dict:
        """JSON-ready ground truth (CAD frame)."""
        return {"type": self.kind, "sensor": "depth",
                "center_cad_mm": [round(self.x_mm, 3), round(self.y_mm, 3),
                                  round(self.z_mm, 3)],
                "diameter_mm": round(2 * self.radius_mm, 3),
                "depth_mm": round(self.depth_mm, 4)}


def random_surface_defect(design: PartDesign, kind: str, rng: np.random.Generator,
                          margin_mm: float = 1.0) -> SurfaceDefect:
    """A dent or bump of radius 1.5-3 mm and depth 0.15-0.4 mm, fully on one top face."""
    if kind not in PART_DEFECTS:
        raise ValueError(f"unknown part defect type {kind!r}; known: {PART_DEFECTS}")
    radius = float(rng.uniform(1.5, 3.0))
    depth = float(rng.uniform(0.15, 0.4))
    # Where the defect's centre may go on each top face (each face buffered once).
    inner_of = [(r, r.polygon.buffer(-(radius + margin_mm))) for r in design.regions]
    faces = [(r, inner) for r, inner in inner_of if inner.area > 0.0]
    if not faces:
        raise ValueError(f"no top face of {design.name} has room for a defect of radius "
                         f"{radius:.2f} mm with a {margin_mm} mm margin")
    weights = np.array([inner.area for _, inner in faces])
    face, inner = faces[int(rng.choice(len(faces), p=weights / weights.sum()))]
    x0, y0, x1, y1 = inner.bounds
    for _ in range(10000):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if inner.contains(Point(x, y)):
            return SurfaceDefect(kind, float(x), float(y), face.height, radius, depth)
    raise RuntimeError("no room for a surface defect")  # pragma: no cover - area > 0
