"""Global paths around islands and no-go zones (pure Python + numpy/scipy/shapely).

Transits and return-home legs of the survey boat: shortest collision-free paths on an
occupancy grid, or directly inside a free-space polygon.

Algorithm: a *reduced visibility graph* (tangent graph). In a polygonal free space the
shortest path between two points is a polyline that bends only at reflex vertices of the free
space (convex corners of obstacles), and only along lines tangent to the obstacle there
(Lozano-Pérez & Wesley, "An algorithm for planning collision-free paths among polyhedral
obstacles", CACM 22(10), 1979; the tangent pruning: Liu & Arimoto, "Path planning using a
tangent graph for mobile robots among polygonal and curved obstacles", IJRR 11(4), 1992).
:class:`VisibilityRoadmap` keeps those vertices and links every pair that sees each other along
a bitangent line (built once per free space). A query joins start and goal to the vertices
they see (along tangents) and runs SciPy's Dijkstra on that small graph; many-to-many
distances (the coverage planner's) use all-pairs vertex distances, computed on first use.

An occupancy grid (:class:`GridMap`) is turned into such a polygon once per map: marching
squares (contourpy, matplotlib's contour engine) traces the boundary between free and occupied
cell centres, Douglas-Peucker simplification with tolerance ``tol`` cuts the vertex count, and
a negative buffer of ``CONTOUR_CLEARANCE_CELLS + tol`` (round joins) keeps the result clear of
occupied cell squares (the traced contour comes at most ``0.354`` cells close to an occupied
square; the simplification moves it by about ``tol``; the raster check below is what
guarantees it). The path is any-angle: it is shorter than the optimal 8-connected grid path
(up to ~8 % on open water). Every answer is checked on the raster itself (every cell each leg
passes through); when the polygon route is missing or fails the check, an exact 8-connected
Dijkstra on the grid (SciPy) followed by line-of-sight smoothing answers instead, so narrow
channels are never lost, only slower. The same exact search answers every query on a map
whose traced free space lost a narrow passage between two obstacles (checked once per map
by counting holes), where the roadmap's route around could be much longer.

Semantics: a cell is free or occupied as a whole (its square); a path is valid when every
point of it lies in a free cell. Diagonal grid moves may not cut the corner of an occupied
cell. Statuses (not exceptions) report unreachable or blocked queries; malformed input (NaN,
wrong shapes, invalid polygons) raises a :class:`ValueError` subclass with the reason.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from scipy import ndimage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.polygon import orient

#: The marching-squares contour of a binary raster passes at least ``sqrt(2)/4 = 0.354`` cells
#: from every occupied cell square (worst case: the corner of an isolated occupied cell); the
#: roadmap keeps this much clearance, rounded up [cells].
CONTOUR_CLEARANCE_CELLS = 0.36
#: Douglas-Peucker tolerance of the traced grid contour [cells].
CONTOUR_SIMPLIFY_CELLS = 1.0
#: Largest grid accepted [cells] (a 5 km x 5 km lake at 1 m).
MAX_CELLS = 25_000_000
#: Largest grid the exact fallback searches [cells]: its graph needs ~100 bytes per cell.
FALLBACK_MAX_CELLS = 4_000_000
#: Sine below which a neighbour counts as on the tangent line (round-off of boundary points).
TANGENT_SINE_TOL = 1e-9
#: Mitre ratio limit of the tolerance buffer (GEOS bevels beyond this ratio).
MITRE_LIMIT = 3.0
#: Segments per quarter circle of the clearance offset's round joins.
ARC_SEGMENTS = 2

_SQRT2 = math.sqrt(2.0)


class InvalidMap(ValueError):
    """The map or free-space polygon is unusable (invalid polygon, bad resolution...)."""


class InvalidPlanQuery(ValueError):
    """A start or goal is malformed (not an (x, y) pair, NaN/Inf)."""


class PlanStatus(enum.Enum):
    """Outcome of a planning query (Ruckig's ``Result`` idiom)."""

    OK = "ok"                                  #: path found; cost_m is its length
    START_OUTSIDE_MAP = "start_outside_map"    #: start not on the grid / not in the polygon
    GOAL_OUTSIDE_MAP = "goal_outside_map"      #: goal not on the grid / not in the polygon
    START_BLOCKED = "start_blocked"            #: start lies in an occupied cell
    GOAL_BLOCKED = "goal_blocked"              #: goal lies in an occupied cell
    NO_PATH = "no_path"                        #: start and goal are not connected


@dataclass(frozen=True)
class PlanResult:
    """A planned path: waypoints from start to goal and its length."""

    path_xy: np.ndarray   #: (n, 2) waypoints [m], start first, goal last; (0, 2) on failure
    cost_m: float         #: path length [m]; inf on failure
    status: PlanStatus

    @property
    def ok(self) -> bool:
        """True when a path was found."""
        return self.status is PlanStatus.OK


def _failure(status: PlanStatus) -> PlanResult:
    return PlanResult(np.zeros((0, 2)), math.inf, status)


def _xy(value: Sequence[float], name: str) -> np.ndarray:
    """A finite (x, y) point as a float array, or InvalidPlanQuery."""
    try:
        arr = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidPlanQuery(f"{name} must be an (x, y) pair of numbers, got {value!r}") from exc
    if arr.shape != (2,):
        raise InvalidPlanQuery(f"{name} must be an (x, y) pair, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise InvalidPlanQuery(f"{name} must be finite, got {value!r}")
    return arr


def _polygons(region: Polygon | MultiPolygon) -> list[Polygon]:
    if isinstance(region, Polygon):
        return [] if region.is_empty else [region]
    return [p for p in region.geoms if not p.is_empty]


def _path_length(path: np.ndarray) -> float:
    return float(np.sum(np.hypot(*np.diff(path, axis=0).T))) if len(path) > 1 else 0.0


def _cross(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    return ax * by - ay * bx


class VisibilityRoadmap:
    """Reduced visibility graph of a free-space polygon, with all-pairs vertex distances.

    Args:
        free: the region the path must stay in (Polygon or MultiPolygon; holes are
            obstacles). Paths may touch its boundary.

    Raises:
        InvalidMap: if ``free`` is not a valid, non-empty (Multi)Polygon.

    """

    def __init__(self, free: Polygon | MultiPolygon) -> None:
        """Build the graph: reflex vertices, bitangent visible pairs, all-pairs distances."""
        if not isinstance(free, Polygon | MultiPolygon) or free.is_empty:
            raise InvalidMap(f"free space must be a non-empty Polygon or MultiPolygon, "
                             f"got {type(free).__name__}")
        if not free.is_valid:
            raise InvalidMap(f"free space polygon is invalid: {shapely.is_valid_reason(free)}")
        polys = [orient(p, 1.0) for p in _polygons(free)]
        self.free = polys[0] if len(polys) == 1 else MultiPolygon(polys)
        minx, miny, maxx, maxy = self.free.bounds
        # Tolerance for round-off of points computed on the boundary (rotations, crossings).
        self._eps = 1e-7 * max(1.0, maxx - minx, maxy - miny)
        self._check = self.free.buffer(self._eps, join_style="mitre", mitre_limit=MITRE_LIMIT)
        shapely.prepare(self._check)
        verts, prev, nxt = [], [], []
        for poly in polys:
            # Oriented: exterior counter-clockwise, holes clockwise: free is left of each edge.
            for ring in (poly.exterior, *poly.interiors):
                c = np.asarray(ring.coords)[:-1]
                if len(c) < 3:
                    continue
                p, n = np.roll(c, 1, axis=0), np.roll(c, -1, axis=0)
                turn = _cross(c[:, 0] - p[:, 0], c[:, 1] - p[:, 1],
                              n[:, 0] - c[:, 0], n[:, 1] - c[:, 1])
                reflex = turn < 0.0  # right turn: the obstacle's convex corner
                verts.append(c[reflex])
                prev.append(p[reflex])
                nxt.append(n[reflex])
        self.vertices = np.concatenate(verts) if verts else np.zeros((0, 2))
        # Vectors to the ring neighbours of each vertex, and their lengths.
        self._pv = (np.concatenate(prev) if prev else np.zeros((0, 2))) - self.vertices
        self._nv = (np.concatenate(nxt) if nxt else np.zeros((0, 2))) - self.vertices
        self._pv_len = np.hypot(self._pv[:, 0], self._pv[:, 1])
        self._nv_len = np.hypot(self._nv[:, 0], self._nv[:, 1])
        self._edges = self._visibility_edges()
        self._apsp: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def vertex_count(self) -> int:
        """Number of graph vertices (reflex corners of the free space)."""
        return len(self.vertices)

    def _tangent(self, idx: np.ndarray, towards: np.ndarray,
                 dist: np.ndarray | None = None) -> np.ndarray:
        """Whether the line from vertex ``idx`` towards points ``towards`` is tangent there.

        Tangent: both ring neighbours of the vertex lie on the same side of the line (or on
        it, within a sine of ``TANGENT_SINE_TOL``: round-off of points on the boundary).
        ``dist``: the distances vertex -> point, when already known.
        """
        v = self.vertices[idx]
        dx, dy = towards[:, 0] - v[:, 0], towards[:, 1] - v[:, 1]
        c1 = dx * self._pv[idx, 1] - dy * self._pv[idx, 0]
        c2 = dx * self._nv[idx, 1] - dy * self._nv[idx, 0]
        if dist is None:
            dist = np.hypot(dx, dy)
        tol = TANGENT_SINE_TOL * dist
        return ((c1 * c2 >= 0.0) | (np.abs(c1) <= tol * self._pv_len[idx])
                | (np.abs(c2) <= tol * self._nv_len[idx]))

    def segments_free(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether each segment ``a[i] -> b[i]`` ((n, 2) arrays) lies in the free space."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if len(a) == 0:
            return np.zeros(0, dtype=bool)
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        return shapely.covers(self._check, lines)

    def contains(self, p: Sequence[float]) -> bool:
        """Whether point ``p`` lies in the free space (boundary included)."""
        return bool(shapely.covers(self._check, Point(p[0], p[1])))

    def _visibility_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bitangent, mutually visible vertex pairs (i < j) and their lengths."""
        n = len(self.vertices)
        i, j = np.triu_indices(n, 1)
        d = np.hypot(*(self.vertices[i] - self.vertices[j]).T)
        keep = self._tangent(i, self.vertices[j], d)
        i, j, d = i[keep], j[keep], d[keep]
        keep = self._tangent(j, self.vertices[i], d)
        i, j, d = i[keep], j[keep], d[keep]
        vis = self.segments_free(self.vertices[i], self.vertices[j])
        # csgraph drops explicit zeros: duplicate vertices get 1e-12.
        return i[vis], j[vis], np.maximum(d[vis], 1e-12)

    def _all_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """All-pairs vertex distances and predecessors (computed on first use)."""
        if self._apsp is None:
            n = len(self.vertices)
            i, j, w = self._edges
            graph = coo_matrix((w, (i, j)), shape=(n, n)).tocsr()
            self._apsp = dijkstra(graph, directed=False, return_predecessors=True)
        return self._apsp

    def _links(self, p: np.ndarray, tangent: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Vertices visible from ``p`` (along a line tangent at the vertex), and distances."""
        n = len(self.vertices)
        if n == 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        idx = np.arange(n)
        if tangent:
            idx = idx[self._tangent(idx, np.broadcast_to(p, (n, 2)))]
        idx = idx[self.segments_free(np.broadcast_to(p, (len(idx), 2)), self.vertices[idx])]
        return idx, np.hypot(*(self.vertices[idx] - p).T)

    def shortest_path(self, start: Sequence[float],
                      goal: Sequence[float]) -> tuple[np.ndarray | None, float]:
        """Shortest path from ``start`` to ``goal`` inside the free space.

        Returns:
            ``(path_xy (n, 2), length_m)``, or ``(None, inf)`` when no path exists.
            Both points must lie in the free space (else no path).

        """
        s, g = _xy(start, "start"), _xy(goal, "goal")
        if not (self.contains(s) and self.contains(g)):
            return None, math.inf
        if self.segments_free(s, g)[0]:
            return np.array([s, g]), float(np.hypot(*(g - s)))
        path = self._via_vertices(s, g, tangent=True)
        if path is None:  # round-off can hide the one useful link: retry with all of them
            path = self._via_vertices(s, g, tangent=False)
        if path is None:
            return None, math.inf
        return path, _path_length(path)

    def _via_vertices(self, s: np.ndarray, g: np.ndarray, tangent: bool) -> np.ndarray | None:
        """Single-source Dijkstra on the vertex graph plus start (n) and goal (n + 1)."""
        us, ds = self._links(s, tangent)
        ug, dg = self._links(g, tangent)
        if len(us) == 0 or len(ug) == 0:
            return None
        n = len(self.vertices)
        i, j, w = self._edges
        rows = np.concatenate([i, np.full(len(us), n), ug])
        cols = np.concatenate([j, us, np.full(len(ug), n + 1)])
        wts = np.concatenate([w, np.maximum(ds, 1e-12), np.maximum(dg, 1e-12)])
        graph = coo_matrix((wts, (rows, cols)), shape=(n + 2, n + 2)).tocsr()
        dist, pred = dijkstra(graph, directed=False, indices=n, return_predecessors=True)
        if not math.isfinite(dist[n + 1]):
            return None
        chain = [int(pred[n + 1])]
        while chain[-1] != n:
            chain.append(int(pred[chain[-1]]))
        return np.vstack([s, self.vertices[chain[-2::-1]], g])

    def distance_matrix(self, points: np.ndarray) -> np.ndarray:
        """Geodesic distances (P, P) between points in the free space (inf: unreachable)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        n_p, n_v = len(pts), len(self.vertices)
        out = np.full((n_p, n_p), math.inf)
        np.fill_diagonal(out, 0.0)
        i, j = np.triu_indices(n_p, 1)
        direct = self.segments_free(pts[i], pts[j])
        d = np.hypot(*(pts[i] - pts[j]).T)
        out[i[direct], j[direct]] = d[direct]
        out[j[direct], i[direct]] = d[direct]
        if n_v == 0:
            return out
        apsp, _ = self._all_pairs()
        link = np.full((n_p, n_v), math.inf)
        for k, p in enumerate(pts):
            idx, d_link = self._links(p)
            link[k, idx] = d_link
        # via[a, v] = min_u link[a, u] + D[u, v]; then out[a, b] = min_v via[a, v] + link[b, v].
        for k in range(n_p):
            row = link[k]
            seen = np.isfinite(row)
            if not seen.any():
                continue
            via = np.min(row[seen, None] + apsp[seen], axis=0)
            out[k] = np.minimum(out[k], np.min(via[None, :] + link, axis=1))
        return np.minimum(out, out.T)


def shortest_path_in_polygon(free: Polygon | MultiPolygon, start_xy: Sequence[float],
                             goal_xy: Sequence[float]) -> PlanResult:
    """Shortest path between two points inside a polygon with holes (any-angle, exact).

    Raises:
        InvalidMap: if ``free`` is not a valid (Multi)Polygon.
        InvalidPlanQuery: if a point is malformed.

    """
    roadmap = VisibilityRoadmap(free)
    s, g = _xy(start_xy, "start"), _xy(goal_xy, "goal")
    if not roadmap.contains(s):
        return _failure(PlanStatus.START_OUTSIDE_MAP)
    if not roadmap.contains(g):
        return _failure(PlanStatus.GOAL_OUTSIDE_MAP)
    path, cost = roadmap.shortest_path(s, g)
    if path is None:
        return _failure(PlanStatus.NO_PATH)
    return PlanResult(path, cost, PlanStatus.OK)


def _rasterize(region: Polygon | MultiPolygon, shape: tuple[int, int], resolution_m: float,
               origin_xy: tuple[float, float]) -> np.ndarray:
    """Cells (rows = y, columns = x) whose centre lies inside ``region`` (scanline, even-odd).

    The rings of a valid (Multi)Polygon do not cross, so the even-odd rule over all of them is
    exactly the interior. Vectorised: every (edge, row) crossing at once, then one cumulative
    sum per row.
    """
    h, w = shape
    inside = np.zeros(shape, dtype=bool)
    rings = [np.asarray(r.coords) for p in _polygons(region)
             for r in (p.exterior, *p.interiors)]
    if not rings:
        return inside
    seg = np.concatenate([np.hstack([r[:-1], r[1:]]) for r in rings])
    x0, y0, x1, y1 = ((seg - np.tile(origin_xy, 2)) / resolution_m).T
    # Row i has its centre at y = i + 0.5 (cell units). An edge crosses row i when its centre
    # line lies in [min y, max y): rows ceil(ymin - 0.5) .. ceil(ymax - 0.5) - 1.
    lo = np.ceil(np.minimum(y0, y1) - 0.5).astype(np.int64)
    hi = np.ceil(np.maximum(y0, y1) - 0.5).astype(np.int64)
    lo, hi = np.clip(lo, 0, h), np.clip(hi, 0, h)
    count = hi - lo
    edge = np.repeat(np.arange(len(seg)), count)
    row = lo[edge] + (np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count))
    yc = row + 0.5
    t = (yc - y0[edge]) / (y1[edge] - y0[edge])
    xc = x0[edge] + t * (x1[edge] - x0[edge])
    order = np.lexsort((xc, row))
    row, xc = row[order], xc[order]
    # Pairs (enter, leave) along each row; fill cells whose centre x + 0.5 lies in [enter, leave).
    r_in, x_in, x_out = row[0::2], xc[0::2], xc[1::2]
    j_in = np.clip(np.ceil(x_in - 0.5), 0, w).astype(np.int64)
    j_out = np.clip(np.ceil(x_out - 0.5), 0, w).astype(np.int64)
    diff = np.zeros((h, w + 1), dtype=np.int32)
    np.add.at(diff, (r_in, j_in), 1)
    np.add.at(diff, (r_in, j_out), -1)
    inside = np.cumsum(diff[:, :w], axis=1) > 0
    return inside


def _valid_polygon(geom: object, name: str) -> Polygon:
    if not isinstance(geom, Polygon):
        raise InvalidMap(f"{name} must be a shapely Polygon, got {type(geom).__name__}")
    if geom.is_empty or geom.area <= 0.0:
        raise InvalidMap(f"{name} is empty (zero area)")
    if not geom.is_valid:
        raise InvalidMap(f"{name} is invalid: {shapely.is_valid_reason(geom)}")
    return geom


class GridMap:
    """Occupancy grid in the map frame (rows = y/north, columns = x/east).

    ``occupied[i, j]`` is the cell centred on ``(origin_x + (j + 0.5) r, origin_y + (i + 0.5) r)``.

    Args:
        occupied: (rows, cols) booleans, True = not navigable.
        resolution_m: cell size r [m].
        origin_xy: map coordinates of the outer corner of cell (0, 0) [m].

    Raises:
        InvalidMap: on a non-2-D or empty array, or a non-positive/non-finite resolution or
            origin.

    """

    def __init__(self, occupied: np.ndarray, resolution_m: float,
                 origin_xy: Sequence[float] = (0.0, 0.0)) -> None:
        """Store a copy of the grid; derived structures are built on first use."""
        occ = np.array(occupied, dtype=bool)
        if occ.ndim != 2 or occ.size == 0:
            raise InvalidMap(f"occupied must be a non-empty 2-D array, got shape {occ.shape}")
        if occ.size > MAX_CELLS:
            raise InvalidMap(f"grid of {occ.shape[0]} x {occ.shape[1]} cells exceeds "
                             f"{MAX_CELLS} cells: use a coarser resolution")
        if not (math.isfinite(resolution_m) and resolution_m > 0.0):
            raise InvalidMap(f"resolution_m must be finite and > 0, got {resolution_m}")
        origin = np.asarray(origin_xy, dtype=float).reshape(-1)
        if origin.shape != (2,) or not np.all(np.isfinite(origin)):
            raise InvalidMap(f"origin_xy must be a finite (x, y) pair, got {origin_xy!r}")
        occ.flags.writeable = False
        self._occ = occ
        self._res = float(resolution_m)
        self._origin = (float(origin[0]), float(origin[1]))
        self._roadmap: VisibilityRoadmap | None = None
        self._roadmap_built = False
        self._topology_kept = True
        self._labels: np.ndarray | None = None
        self._graph = None

    @classmethod
    def from_polygons(cls, area: Polygon, obstacles: Iterable[Polygon] = (),
                      resolution_m: float = 1.0, inflation_m: float = 0.0) -> GridMap:
        """Rasterise navigable water: ``area`` (holes = islands) minus ``obstacles``.

        Both the shore/islands and the no-go zones are grown by ``inflation_m`` (the area is
        shrunk). A cell is free when its centre lies in the navigable region. The grid spans
        ``area``'s bounding box.

        Raises:
            InvalidMap: on an invalid polygon or a non-positive resolution / negative
                inflation.

        """
        area = _valid_polygon(area, "area")
        obs = [_valid_polygon(o, f"obstacle {k}") for k, o in enumerate(obstacles)]
        if not (math.isfinite(resolution_m) and resolution_m > 0.0):
            raise InvalidMap(f"resolution_m must be finite and > 0, got {resolution_m}")
        if not (math.isfinite(inflation_m) and inflation_m >= 0.0):
            raise InvalidMap(f"inflation_m must be finite and >= 0, got {inflation_m}")
        free = area.buffer(-inflation_m) if inflation_m > 0.0 else area
        if obs:
            blocked = shapely.union_all(obs)
            if inflation_m > 0.0:
                blocked = blocked.buffer(inflation_m)
            free = free.difference(blocked)
        minx, miny, maxx, maxy = area.bounds
        shape = (max(1, math.ceil((maxy - miny) / resolution_m - 1e-9)),
                 max(1, math.ceil((maxx - minx) / resolution_m - 1e-9)))
        inside = _rasterize(free, shape, resolution_m, (minx, miny))
        return cls(~inside, resolution_m, (minx, miny))

    @property
    def occupied(self) -> np.ndarray:
        """Read-only (rows, cols) occupancy, True = not navigable."""
        return self._occ

    @property
    def resolution_m(self) -> float:
        """Cell size [m]."""
        return self._res

    @property
    def origin_xy(self) -> tuple[float, float]:
        """Map coordinates of the outer corner of cell (0, 0) [m]."""
        return self._origin

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self._occ.shape  # type: ignore[return-value]

    def cell_of(self, xy: Sequence[float]) -> tuple[int, int] | None:
        """(row, col) of the cell containing ``xy``, or None off the grid."""
        j = math.floor((xy[0] - self._origin[0]) / self._res)
        i = math.floor((xy[1] - self._origin[1]) / self._res)
        if 0 <= i < self._occ.shape[0] and 0 <= j < self._occ.shape[1]:
            return i, j
        return None

    def cell_center(self, i: int, j: int) -> np.ndarray:
        """Map coordinates of the centre of cell (i, j) [m]."""
        return np.array([self._origin[0] + (j + 0.5) * self._res,
                         self._origin[1] + (i + 0.5) * self._res])

    def path_is_free(self, path_xy: np.ndarray) -> bool:
        """Whether the polyline stays on the grid and touches no occupied cell (exact).

        Each leg is cut where it crosses grid lines; the midpoint of every piece names a cell
        the leg passes through, and the cells on both sides of every crossing (all four at a
        grid corner) must be free too: passing through the corner of an occupied cell is
        corner cutting, which the 8-connected semantics forbid.
        """
        path = np.asarray(path_xy, dtype=float).reshape(-1, 2)
        if len(path) == 1:
            path = np.vstack([path, path])
        local = (path - np.asarray(self._origin)) / self._res  # in cells
        pieces = [local]
        nudge = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]) * 1e-7
        for a, b in zip(local[:-1], local[1:], strict=True):
            ts = [np.array([0.0, 1.0])]
            for k in range(2):
                if b[k] != a[k]:
                    lines = np.arange(math.ceil(min(a[k], b[k])), math.floor(max(a[k], b[k])) + 1)
                    ts.append((lines - a[k]) / (b[k] - a[k]))
            t = np.unique(np.clip(np.concatenate(ts), 0.0, 1.0))
            mids = 0.5 * (t[:-1] + t[1:])
            pieces.append(a + mids[:, None] * (b - a))
            cross = a + t[:, None] * (b - a)
            on_line = np.any(np.abs(cross - np.round(cross)) < 1e-9, axis=1)
            pieces.append((cross[on_line, None, :] + nudge[None]).reshape(-1, 2))
        pts = np.concatenate(pieces)
        j = np.floor(pts[:, 0]).astype(np.int64)
        i = np.floor(pts[:, 1]).astype(np.int64)
        h, w = self._occ.shape
        if np.any((i < 0) | (i >= h) | (j < 0) | (j >= w)):
            return False
        return not bool(np.any(self._occ[i, j]))

    @property
    def labels(self) -> np.ndarray:
        """Connected components of free cells (4-connected; 0 = occupied)."""
        if self._labels is None:
            self._labels, _ = ndimage.label(~self._occ)
        return self._labels

    @property
    def roadmap(self) -> VisibilityRoadmap | None:
        """Visibility roadmap of the traced free space, built on first use.

        None where nothing is left, or where the clearance closed a passage between two
        obstacles (the traced free space then has fewer holes than the raster has obstacle
        pieces): routes around instead of through such a gap could be far from optimal, so
        every query on that map takes the exact grid search.
        """
        if not self._roadmap_built:
            region = self._free_region()
            holes = sum(len(p.interiors) for p in _polygons(region))
            _, pieces = ndimage.label(np.pad(self._occ, 1, constant_values=True),
                                      structure=np.ones((3, 3), dtype=bool))
            self._topology_kept = holes == pieces - 1  # one piece is the outer border
            if not region.is_empty and self._topology_kept:
                self._roadmap = VisibilityRoadmap(region)
            self._roadmap_built = True
        return self._roadmap

    @property
    def roadmap_topology_kept(self) -> bool:
        """False when the roadmap would close a narrow passage (queries then search the grid)."""
        _ = self.roadmap
        return self._topology_kept

    def _free_region(self) -> Polygon | MultiPolygon:
        """Free space as polygons, clear of every occupied cell square (see module doc)."""
        import contourpy  # matplotlib's contour engine; imported where used

        h, w = self._occ.shape
        r = self._res
        z = np.pad((~self._occ).astype(np.float64), 1)  # border of occupied cells
        xs = self._origin[0] + (np.arange(-1, w + 1) + 0.5) * r
        ys = self._origin[1] + (np.arange(-1, h + 1) + 0.5) * r
        gen = contourpy.contour_generator(xs, ys, z, line_type=contourpy.LineType.Separate)
        tol = CONTOUR_SIMPLIFY_CELLS * r
        polys = []
        for loop in gen.lines(0.5):
            if len(loop) < 4:
                continue
            ring = shapely.simplify(shapely.linearrings(loop), tol, preserve_topology=True)
            poly = shapely.make_valid(Polygon(ring))
            polys.append(poly)
        if not polys:
            return Polygon()
        # Outside every loop is the occupied border: inside an odd number of loops is free
        # (pairwise symmetric differences; shapely deprecates symmetric_difference_all, whose
        # result is not the odd-overlap region).
        region = functools.reduce(lambda a, b: a.symmetric_difference(b), polys)
        # Round joins around obstacle corners (a mitre would stick far out of thin piers),
        # approximated by chords that keep the full clearance.
        shrink = (CONTOUR_CLEARANCE_CELLS + CONTOUR_SIMPLIFY_CELLS) * r / math.cos(
            math.pi / (4 * ARC_SEGMENTS))
        region = region.buffer(-shrink, quad_segs=ARC_SEGMENTS)
        parts = [g for g in getattr(region, "geoms", [region])
                 if isinstance(g, Polygon) and not g.is_empty]
        if not parts:
            return Polygon()
        return parts[0] if len(parts) == 1 else MultiPolygon(parts)

    def _grid_graph(self) -> csr_matrix:
        """8-connected graph of free cells, no corner cutting (built once, for the fallback)."""
        if self._graph is None:
            h, w = self._occ.shape
            free = ~self._occ
            ii, jj = np.nonzero(free)
            rows, cols, wts = [], [], []
            for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
                ti, tj = ii + di, jj + dj
                ok = (ti < h) & (tj >= 0) & (tj < w)
                si, sj, ti, tj = ii[ok], jj[ok], ti[ok], tj[ok]
                ok = free[ti, tj]
                if di and dj:  # diagonal: both orthogonal neighbours must be free too
                    ok &= free[si, tj] & free[ti, sj]
                rows.append(si[ok] * w + sj[ok])
                cols.append(ti[ok] * w + tj[ok])
                wts.append(np.full(int(ok.sum()), (_SQRT2 if di and dj else 1.0) * self._res))
            self._graph = coo_matrix((np.concatenate(wts),
                                      (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(h * w, h * w)).tocsr()
        return self._graph

    def grid_shortest_path(self, start_cell: tuple[int, int],
                           goal_cell: tuple[int, int]) -> tuple[np.ndarray | None, float]:
        """Exact 8-connected shortest path between cell centres (SciPy Dijkstra).

        Returns ``(cell centres (n, 2), cost_m)`` or ``(None, inf)``.
        """
        w = self._occ.shape[1]
        s = start_cell[0] * w + start_cell[1]
        g = goal_cell[0] * w + goal_cell[1]
        dist, pred = dijkstra(self._grid_graph(), directed=False, indices=s,
                              return_predecessors=True)
        if not math.isfinite(dist[g]):
            return None, math.inf
        chain = [g]
        while chain[-1] != s:
            chain.append(int(pred[chain[-1]]))
        cells = np.array(chain[::-1])
        return np.stack([self.cell_center(i, j) for i, j in
                         zip(cells // w, cells % w, strict=True)]), float(dist[g])


def _smooth_on_grid(grid: GridMap, path: np.ndarray) -> np.ndarray:
    """Line-of-sight shortcutting of a polyline, checked on the raster (greedy)."""
    out = [path[0]]
    i = 0
    while i < len(path) - 1:
        j = i + 1
        while j + 1 < len(path) and grid.path_is_free(np.array([path[i], path[j + 1]])):
            j += 1
        out.append(path[j])
        i = j
    return np.array(out)


def _roadmap_path(grid: GridMap, s: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """Any-angle path through the roadmap, with straight links for points off its polygon."""
    if grid.path_is_free(np.array([s, g])):
        return np.array([s, g])
    roadmap = grid.roadmap
    if roadmap is None:
        return None
    ends = []
    for p in (s, g):
        if roadmap.contains(p):
            ends.append((p, p))
            continue
        # Close to an obstacle: step straight onto the nearest point of the roadmap polygon.
        q = np.array(shapely.ops.nearest_points(roadmap.free, Point(p))[0].coords[0])
        if not grid.path_is_free(np.array([p, q])):
            return None
        ends.append((p, q))
    (s0, s1), (g0, g1) = ends  # (query point, where it joins the roadmap polygon)
    core, _ = roadmap.shortest_path(s1, g1)
    if core is None:
        return None
    path = np.vstack([s0[None], core, g0[None]])
    keep = np.r_[True, np.any(np.abs(np.diff(path, axis=0)) > 0.0, axis=1)]
    path = path[keep]
    return path if grid.path_is_free(path) else None


def plan(grid: GridMap, start_xy: Sequence[float], goal_xy: Sequence[float]) -> PlanResult:
    """Shortest path on the grid from ``start_xy`` to ``goal_xy`` (map frame, metres).

    Any-angle through the visibility roadmap; exact 8-connected grid search as the fallback
    (see the module doc). The first call on a map builds its roadmap.

    Raises:
        InvalidPlanQuery: if start or goal is not a finite (x, y) pair.

    """
    s, g = _xy(start_xy, "start_xy"), _xy(goal_xy, "goal_xy")
    sc, gc = grid.cell_of(s), grid.cell_of(g)
    if sc is None:
        return _failure(PlanStatus.START_OUTSIDE_MAP)
    if gc is None:
        return _failure(PlanStatus.GOAL_OUTSIDE_MAP)
    if grid.occupied[sc]:
        return _failure(PlanStatus.START_BLOCKED)
    if grid.occupied[gc]:
        return _failure(PlanStatus.GOAL_BLOCKED)
    path = _roadmap_path(grid, s, g)
    if path is None:
        if grid.labels[sc] != grid.labels[gc] or grid.occupied.size > FALLBACK_MAX_CELLS:
            # Not connected; or connected only through passages too narrow for the roadmap
            # on a grid too large for the exact search (then: a coarser grid would do).
            return _failure(PlanStatus.NO_PATH)
        centres, _ = grid.grid_shortest_path(sc, gc)
        if centres is None:  # unreachable: labels say connected, so this is defensive
            return _failure(PlanStatus.NO_PATH)
        path = _smooth_on_grid(grid, np.vstack([s, centres, g]))
    return PlanResult(path, _path_length(path), PlanStatus.OK)


__all__ = [
    "GridMap",
    "InvalidMap",
    "InvalidPlanQuery",
    "PlanResult",
    "PlanStatus",
    "VisibilityRoadmap",
    "plan",
    "shortest_path_in_polygon",
]
