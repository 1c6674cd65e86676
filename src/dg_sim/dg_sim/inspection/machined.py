"""The machined part: its CAD mesh (watertight Open3D TriangleMesh) and surface defects.

The part is a 2.5D solid, as most milled parts are: a footprint split into regions, each with
a flat top at its own height, vertical walls between them, a flat bottom at z = 0. The
default (:func:`default_part`) is a 60 x 40 mm aluminium block with a 4 mm step (left 10 mm
tall, right 6 mm), a Ø14 mm boss 6 mm above the left top with a Ø6 x 4 mm blind bore, four
Ø5 mm through holes and a Ø8 mm through hole in the lower step. CAD frame: millimetres,
origin at the centre of the bottom face, z up.

Mesh construction (:func:`build_mesh`), exact and watertight by construction: every region's
top (and, at z = 0, its bottom) is triangulated with a constrained Delaunay triangulation of
its polygon (GEOS via shapely, using only the polygon's vertices); circles are regular
polygons of ``segments`` vertices shared by the regions on both sides; a wall is built along
every boundary edge where the height changes, split at every height that meets at its end
vertices, so no edge has a T-junction and every edge is shared by exactly two triangles.

Surface defects (:class:`SurfaceDefect`): dents and bumps on a top face, a raised-cosine
profile of depth ``depth_mm`` and radius ``radius_mm``. They are applied to the depth sensor's
hits as a displacement along the face normal (displacement mapping): for smooth defects a few
millimetres wide and a few tenths deep, seen along the normal, this is the surface a ray cast
of the deformed part would hit. The CAD mesh itself stays nominal, as a CAD model does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import open3d as o3d
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient

#: Surface defect types of the machined part.
PART_DEFECTS = ("dent", "bump")


@dataclass(frozen=True)
class Region:
    """A flat-topped region of the footprint: polygon [mm] and top height [mm]."""

    name: str
    polygon: Polygon
    top_mm: float


@dataclass(frozen=True)
class PartDesign:
    """A 2.5D part: its regions (disjoint, edges shared exactly) and named features."""

    name: str
    regions: tuple[Region, ...]
    holes: dict[str, tuple[float, float, float]]  # name -> (x, y, diameter) [mm], through
    length_mm: float
    width_mm: float


def _circle(cx: float, cy: float, r: float, n: int) -> list[tuple[float, float]]:
    """Regular n-gon with the circle's area (so its mean radius matches r closely)."""
    # Area-equivalent circumradius: n/2 R^2 sin(2 pi / n) = pi r^2.
    big = r * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))
    return [(cx + big * math.cos(2 * math.pi * k / n), cy + big * math.sin(2 * math.pi * k / n))
            for k in range(n)]


def default_part(segments: int = 96) -> PartDesign:
    """The demo part (see the module docstring)."""
    length, width, xs = 60.0, 40.0, 8.0
    x0, x1, y0, y1 = -length / 2, length / 2, -width / 2, width / 2
    through = {"H1": (-24.0, -14.0, 5.0), "H2": (-24.0, 14.0, 5.0), "H3": (24.0, -14.0, 5.0),
               "H4": (24.0, 14.0, 5.0), "H5": (19.0, 0.0, 8.0)}
    rings = {k: _circle(x, y, d / 2, segments) for k, (x, y, d) in through.items()}
    boss = _circle(-12.0, 0.0, 7.0, segments)
    bore = _circle(-12.0, 0.0, 3.0, segments)
    left = Polygon([(x0, y0), (xs, y0), (xs, y1), (x0, y1)],
                   [rings["H1"], rings["H2"], boss])
    right = Polygon([(xs, y0), (x1, y0), (x1, y1), (xs, y1)],
                    [rings["H3"], rings["H4"], rings["H5"]])
    regions = (Region("top_high", left, 10.0), Region("top_low", right, 6.0),
               Region("boss", Polygon(boss, [bore]), 16.0),
               Region("bore_floor", Polygon(bore), 12.0))
    return PartDesign("DG-BLOCK-02", regions, through, length, width)


def _key(p: Sequence[float]) -> tuple[float, float]:
    return (round(float(p[0]), 9), round(float(p[1]), 9))


def build_mesh(design: PartDesign) -> o3d.geometry.TriangleMesh:
    """Watertight triangle mesh of ``design`` [mm], outward normals (see module docstring)."""
    verts: list[tuple[float, float, float]] = []
    index: dict[tuple[float, float, float], int] = {}

    def vid(xy: tuple[float, float], z: float) -> int:
        key = (xy[0], xy[1], round(z, 9))
        if key not in index:
            index[key] = len(verts)
            verts.append(key)
        return index[key]

    regions = [Region(r.name, orient(r.polygon, 1.0), r.top_mm) for r in design.regions]
    # Directed boundary edges (region on the left) -> region height.
    edges: dict[tuple[tuple[float, float], tuple[float, float]], float] = {}
    for r in regions:
        for ring in [r.polygon.exterior, *r.polygon.interiors]:
            pts = [_key(p) for p in ring.coords[:-1]]
            for a, b in zip(pts, pts[1:] + pts[:1], strict=True):
                edges[(a, b)] = r.top_mm
    # Heights meeting at each 2D vertex (0 where the solid's outside touches it).
    levels: dict[tuple[float, float], set[float]] = defaultdict(set)
    for (a, b), h in edges.items():
        other = edges.get((b, a), 0.0)
        for p in (a, b):
            levels[p].update((h, other))
    tris: list[tuple[int, int, int]] = []
    # Tops (+z) and bottoms (-z): constrained Delaunay on the polygon's own vertices.
    for r in regions:
        for t in shapely.constrained_delaunay_triangles(r.polygon).geoms:
            (a, b, c) = [_key(p) for p in t.exterior.coords[:3]]
            area2 = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if area2 < 0:
                b, c = c, b
            tris.append((vid(a, r.top_mm), vid(b, r.top_mm), vid(c, r.top_mm)))
            tris.append((vid(a, 0.0), vid(c, 0.0), vid(b, 0.0)))
    # Walls where the height drops across an edge: outward = to the right of a -> b.
    for (a, b), h in edges.items():
        lo = edges.get((b, a), 0.0)
        if lo >= h:
            continue
        za = sorted(z for z in levels[a] if lo <= z <= h)
        zb = sorted(z for z in levels[b] if lo <= z <= h)
        i = j = 0
        while i < len(za) - 1 or j < len(zb) - 1:
            # Zip up the strip: advance on the side whose next level is lower.
            if j < len(zb) - 1 and (i >= len(za) - 1 or zb[j + 1] <= za[i + 1]):
                tris.append((vid(a, za[i]), vid(b, zb[j]), vid(b, zb[j + 1])))
                j += 1
            else:
                tris.append((vid(a, za[i]), vid(b, zb[j]), vid(a, za[i + 1])))
                i += 1
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.array(verts, float)),
                                     o3d.utility.Vector3iVector(np.array(tris, np.int32)))
    mesh.compute_triangle_normals()
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
    faces = [r for r in design.regions
             if r.polygon.buffer(-(radius + margin_mm)).area > 0.0]
    weights = np.array([r.polygon.buffer(-(radius + margin_mm)).area for r in faces])
    face = faces[int(rng.choice(len(faces), p=weights / weights.sum()))]
    inner = face.polygon.buffer(-(radius + margin_mm))
    x0, y0, x1, y1 = inner.bounds
    for _ in range(10000):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if inner.contains(Point(x, y)):
            return SurfaceDefect(kind, float(x), float(y), face.top_mm, radius, depth)
    raise RuntimeError("no room for a surface defect")  # pragma: no cover - area > 0
