"""The machined part: its CAD mesh (watertight Open3D TriangleMesh) and surface defects.

The part is a 2.5D solid, as most milled parts are: a footprint split into regions, each with
a flat top at its own height, vertical walls between them, a flat bottom at z = 0. The
default (:func:`default_part`) is a 60 x 40 mm aluminium block with a 4 mm step (left 10 mm
tall, right 6 mm), a Ø14 mm boss 6 mm above the left top with a Ø6 x 4 mm blind bore, four
Ø5 mm through holes and a Ø8 mm through hole in the lower step. CAD frame: millimetres,
origin at the centre of the bottom face, z up.

Mesh construction (:func:`build_mesh`): the simulator's own builder. It shares no code with
dg_vision (the system under test): a bug in the inspection's CAD code must show up as a
difference between the scan and the model, not in both. From the regions' rings, oriented so
that each region lies on the left of its edges, every directed edge is paired with its
reverse: the region owning the reverse is the neighbour, none means air (outline, through
hole). The tops are each region's constrained Delaunay triangulation (shapely, no Steiner
points); the bottom is one triangulation of the footprint, assembled with
``shapely.build_area`` from the edges that border air; each edge whose neighbour is lower
carries a vertical wall down to the neighbour's height, with a vertex at every height that
meets either of its vertical sides, triangulated as two fans. The result is checked closed and
consistently oriented (every directed edge's reverse used exactly once), which the ray
caster's normals and a signed distance need. Circles are regular polygons of ``segments``
vertices shared by the regions on both sides.

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
import shapely
from shapely.geometry import MultiLineString, Point, Polygon
from shapely.geometry.polygon import orient

#: Surface defect types of the machined part.
PART_DEFECTS = ("dent", "bump")

_Xy = tuple[float, float]  # a footprint vertex [mm]


@dataclass(frozen=True)
class Region:
    """A flat-topped region of a 2.5D part: its footprint (mm) and top height (mm, > 0)."""

    polygon: Polygon
    height: float


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


def _triangles(geometry: Polygon, upward: bool) -> np.ndarray:
    """(T, 3, 2) constrained Delaunay triangles of ``geometry``, upward: counter-clockwise."""
    tris = shapely.constrained_delaunay_triangles(geometry)
    xy = shapely.get_coordinates(shapely.get_parts(tris)).reshape(-1, 4, 2)[:, :3]
    e1, e2 = xy[:, 1] - xy[:, 0], xy[:, 2] - xy[:, 0]
    flip = ((e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 0) != upward
    xy[flip] = xy[flip, ::-1]
    return xy


def build_mesh(design: PartDesign) -> o3d.geometry.TriangleMesh:
    """Closed triangle mesh of ``design`` [mm], outward normals (see module docstring)."""
    regions = []
    for i, r in enumerate(design.regions):
        if not (isinstance(r.polygon, Polygon) and r.polygon.is_valid and r.polygon.area > 0):
            raise ValueError(f"{design.name} region {i}: not a valid, non-empty Polygon")
        if not (math.isfinite(r.height) and r.height > 0.0):
            raise ValueError(f"{design.name} region {i}: height must be > 0 mm, "
                             f"got {r.height}")
        regions.append(Region(orient(r.polygon, sign=1.0), float(r.height)))
    # Directed ring edges -> height of the region on their left (its inside).
    owner: dict[tuple[_Xy, _Xy], float] = {}
    for r in regions:
        for ring in (r.polygon.exterior, *r.polygon.interiors):
            pts = [(float(x), float(y)) for x, y in ring.coords]
            owner.update({(a, b): r.height for a, b in zip(pts[:-1], pts[1:], strict=True)})
    air = [(a, b) for a, b in owner if (b, a) not in owner]
    # Heights of the mesh vertices on each vertical line: the tops there, z = 0 next to air.
    levels: dict[_Xy, set[float]] = {}
    for (a, _), h in owner.items():
        levels.setdefault(a, set()).add(h)
    for a, b in air:
        levels[a].add(0.0)
        levels[b].add(0.0)

    index: dict[tuple[float, float, float], int] = {}

    def vertex(xy: _Xy, z: float) -> int:
        return index.setdefault((xy[0], xy[1], z), len(index))

    faces: list[tuple[int, int, int]] = []

    def add_flat(xy: np.ndarray, z: float) -> None:
        for (x0, y0), (x1, y1), (x2, y2) in xy.tolist():
            faces.append((vertex((x0, y0), z), vertex((x1, y1), z), vertex((x2, y2), z)))

    for r in regions:
        add_flat(_triangles(r.polygon, upward=True), r.height)
    add_flat(_triangles(shapely.build_area(MultiLineString(air)), upward=False), 0.0)
    for (a, b), top in owner.items():
        low = owner.get((b, a), 0.0)
        if low >= top:
            continue  # no wall, or the higher neighbour's edge builds it
        left = [vertex(a, z) for z in sorted(levels[a]) if low <= z <= top]
        right = [vertex(b, z) for z in sorted(levels[b]) if low <= z <= top]
        # Air (the lower side) is on the right of a -> b: fan from a's foot across b's side,
        # then from b's top across a's side.
        faces += [(left[0], right[j], right[j + 1]) for j in range(len(right) - 1)]
        faces += [(left[i], right[-1], left[i + 1]) for i in range(len(left) - 1)]

    tris = np.array(faces, np.int64)
    edges = tris[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    keys, counts = np.unique(edges[:, 0] * len(index) + edges[:, 1], return_counts=True)
    twins = np.isin(edges[:, 1] * len(index) + edges[:, 0], keys)
    if counts.max() > 1 or not twins.all():
        raise ValueError(f"{design.name}: the regions do not make a closed solid (they must "
                         "not overlap, and shared edges must have the same vertices)")
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.array(list(index))),
                                     o3d.utility.Vector3iVector(tris.astype(np.int32)))
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
