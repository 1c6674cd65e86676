"""Watertight CAD meshes of 2.5D machined parts, built without mesh booleans.

A part is a set of flat-topped regions (2D polygons with holes, each with a top height)
standing on z = 0: plates, raised steps, round bosses, pockets; through holes are simply
where no region is. Each region's top is triangulated with shapely's constrained Delaunay
triangulation (no Steiner points, so neighbouring regions share their boundary vertices),
the bottom likewise, and every boundary edge gets a vertical wall down to the neighbouring
region's height (or to z = 0 at the outline and in through holes). Walls are split at every
height that meets their vertical edges, so the result has no T-junctions: it is closed and
consistently oriented (outward normals), which signed distance needs.

Open3D's VTK booleans produce open seams on such parts (measured: union + difference of a
box, a cylinder and a hole gave a non-watertight mesh), hence this construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient
from shapely.prepared import prep

from dg_vision.errors import VisionInputError

if TYPE_CHECKING:  # open3d is imported lazily where it is used (import time)
    import open3d as o3d


@dataclass(frozen=True)
class Region:
    """A flat-topped region of a 2.5D part: a polygon (mm) and its top height (mm, > 0)."""

    polygon: Polygon
    height: float


def extrude_regions(regions: Sequence[Region]) -> o3d.geometry.TriangleMesh:
    """Build a closed, outward-oriented ``open3d.geometry.TriangleMesh`` from regions.

    Regions must not overlap (they may share edges; shared edges must use the same vertex
    coordinates on both sides, e.g. build a boss circle once and use it both as the boss and
    as the hole in the plate around it).
    """
    import open3d as o3d

    regs = []
    for i, r in enumerate(regions):
        try:
            h = float(r.height)
        except (TypeError, ValueError):
            h = float("nan")
        poly = r.polygon
        if not isinstance(poly, Polygon) or poly.is_empty or not poly.is_valid \
                or not poly.area > 0.0:
            raise VisionInputError(f"region {i}: the polygon must be a valid, non-empty "
                                   "shapely Polygon")
        if not (np.isfinite(h) and h > 0.0):
            raise VisionInputError(f"region {i}: the height must be a positive finite number "
                                   f"(mm), got {r.height!r}")
        regs.append(Region(orient(poly, sign=1.0), h))
    if not regs:
        raise VisionInputError("extrude_regions needs at least one region")
    prepared = [prep(r.polygon) for r in regs]

    vindex: dict[tuple[float, float, float], int] = {}
    verts: list[tuple[float, float, float]] = []

    def vid(x: float, y: float, z: float) -> int:
        key = (float(x), float(y), float(z))
        i = vindex.get(key)
        if i is None:
            i = vindex[key] = len(verts)
            verts.append(key)
        return i

    # Heights meeting at each 2D vertex: z = 0 and the tops of the regions using it.
    levels: dict[tuple[float, float], set[float]] = {}
    for r in regs:
        for ring in [r.polygon.exterior, *r.polygon.interiors]:
            for x, y in ring.coords[:-1]:
                levels.setdefault((float(x), float(y)), {0.0}).add(r.height)

    tris: list[tuple[int, int, int]] = []
    for r in regs:
        for tri in shapely.constrained_delaunay_triangles(r.polygon).geoms:
            c = np.asarray(tri.exterior.coords[:3])
            ccw = ((c[1, 0] - c[0, 0]) * (c[2, 1] - c[0, 1])
                   - (c[1, 1] - c[0, 1]) * (c[2, 0] - c[0, 0])) > 0
            if not ccw:
                c = c[::-1]
            top = [vid(x, y, r.height) for x, y in c]
            bot = [vid(x, y, 0.0) for x, y in c]
            tris.append((top[0], top[1], top[2]))
            tris.append((bot[0], bot[2], bot[1]))

    def height_at(x: float, y: float) -> float:
        p = Point(x, y)
        for r, pr in zip(regs, prepared, strict=True):
            if pr.contains(p):
                return r.height
        return 0.0

    for r in regs:
        for ring in [r.polygon.exterior, *r.polygon.interiors]:
            c = np.asarray(ring.coords)
            for (x1, y1), (x2, y2) in zip(c[:-1], c[1:], strict=True):
                dx, dy = x2 - x1, y2 - y1
                length = float(np.hypot(dx, dy))
                if length == 0.0:
                    continue
                # Rings are oriented so that the polygon's outside is on the right.
                eps = 1e-6 * max(1.0, length)
                mx, my = 0.5 * (x1 + x2) + eps * dy / length, 0.5 * (y1 + y2) - eps * dx / length
                lo = height_at(mx, my)
                if lo >= r.height:
                    continue  # the neighbour is as high or higher: its side builds the wall
                left = sorted(z for z in levels[(float(x1), float(y1))] if lo <= z <= r.height)
                right = sorted(z for z in levels[(float(x2), float(y2))] if lo <= z <= r.height)
                # Zip the two vertical sides up from lo to the top (outward normal: right).
                i = j = 0
                while i < len(left) - 1 or j < len(right) - 1:
                    a, b = vid(x1, y1, left[i]), vid(x2, y2, right[j])
                    if j < len(right) - 1 and (i == len(left) - 1
                                               or right[j + 1] <= left[i + 1]):
                        j += 1
                        tris.append((a, b, vid(x2, y2, right[j])))
                    else:
                        i += 1
                        tris.append((a, b, vid(x1, y1, left[i])))
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(verts)),
                                     o3d.utility.Vector3iVector(np.asarray(tris, np.int32)))
    mesh.compute_triangle_normals()
    return mesh


def example_part(*, resolution: int = 64) -> o3d.geometry.TriangleMesh:
    """The test/benchmark part (mm; no symmetry; origin near its bounding box's centre).

    An 80 x 50 mm chamfered plate, 10 mm thick, with a raised step (16 mm), two round bosses
    (18 and 14 mm), a 5 mm deep pocket and three through holes (one in the step).
    """
    def circle(cx: float, cy: float, r: float) -> Polygon:
        a = np.linspace(0.0, 2.0 * np.pi, resolution, endpoint=False)
        return Polygon(np.c_[cx + r * np.cos(a), cy + r * np.sin(a)])

    boss_a, boss_b = circle(-22.0, 12.0, 6.0), circle(5.0, -12.0, 4.0)
    holes = [circle(-27.0, -13.0, 4.0), circle(0.0, 15.0, 3.0)]
    step_hole = circle(28.0, -12.0, 3.0)
    pocket = Polygon([(-10.0, -3.0), (2.0, -3.0), (2.0, 7.0), (-10.0, 7.0)])
    outline = [(-40.0, -25.0), (15.0, -25.0), (15.0, 5.0), (40.0, 5.0), (40.0, 25.0),
               (-32.0, 25.0), (-40.0, 17.0)]
    plate = Polygon(outline, [boss_a.exterior.coords, boss_b.exterior.coords,
                              pocket.exterior.coords, *[h.exterior.coords for h in holes]])
    step = Polygon([(15.0, -25.0), (40.0, -25.0), (40.0, 5.0), (15.0, 5.0)],
                   [step_hole.exterior.coords])
    mesh = extrude_regions([Region(plate, 10.0), Region(step, 16.0), Region(boss_a, 18.0),
                            Region(boss_b, 14.0), Region(pocket, 5.0)])
    return mesh.translate((0.0, 0.0, -8.0))
