"""Boustrophedon coverage of a water polygon with islands and a shore margin (pure Python).

Plans a survey path: parallel lanes ``swath_m`` apart over the water that lies at least
``margin_m`` from the shore and from every island, with every turn and transit inside that
region (Fields2Cover lets turns spill over the border, Fields2Cover issues #76 and #122; here
containment is by construction and verified at the end).

1. **Region.** The drivable and coverable region is the water shrunk by the margin, islands
   grown by it: ``area.buffer(-margin)``, computed conservatively (mitre joins, which keep
   at least the margin at land corners; a Douglas-Peucker simplification of the outline,
   its tolerance added to the margin, cuts the vertex count, clipped by the exact offset).
2. **Lanes.** For a sweep angle, lanes are lines at that angle spaced ``swath_m`` apart and
   centred on the region's extent in the cross direction (the first and last lanes lie at
   most half a swath inside it). Their crossings with each boundary ring split every lane
   into segments.
3. **Cells.** Walking along a boundary ring from one crossing to the next gives a *chain*
   that links two segment ends on neighbouring lanes (a turn) or returns to the same lane (a
   peninsula tip or an island: a critical point). Segments on consecutive lanes whose left
   *and* right ends are linked by chains form a cell of the boustrophedon cellular
   decomposition (Choset & Pignon, "Coverage path planning: the boustrophedon cellular
   decomposition", FSR 1997); a cell is swept back and forth with turns that follow the
   boundary chain, straightened only where it stays within ``TURN_DEVIATION_SWATHS`` swaths of
   the chain (so the strip between the chain and the shortcut stays covered).
4. **Order.** Each cell can be swept from any of its four corners. Choosing the cell order
   and corners is a generalised TSP over geodesic transit distances (visibility roadmap of the
   region, :mod:`dg_autonomy.planning.grid_planner`). Greedy construction, then 2-opt and
   or-opt moves, each candidate order scored by an exact dynamic programme over the corner
   choices (vectorised over all candidates of a neighbourhood), for a bounded number of
   steps (deterministic: no time budgets).
5. **Angle.** Without a given angle, candidates every ``ANGLE_STEP_DEG`` plus the long axis of
   the minimum rotated rectangle are ranked by an estimate (lane length + one swath per turn
   + ``CELL_TRANSIT_SWATHS`` per cell); the best ``ANGLE_CANDIDATES_N`` (fewer on big lakes:
   ``SCREEN_WORK_MAX``) get their cells ordered, the ``FINALISTS_N`` cheapest are refined,
   assembled and gap-filled (step 6), and the shortest path wins (Huang, "Optimal
   line-sweep-based decompositions for coverage algorithms", ICRA 2001: fewer turns is what
   the angle buys).
6. **Gaps.** Water the swath misses (coves between two lanes; slivers at lane ends where the
   shore runs at a shallow angle to the lanes on the side without a turn) is found by
   differencing the swept band from the exact offset; the largest pieces get an out-and-back
   detour from the nearest path vertex to their farthest point, until at most
   ``GAP_TARGET_FRACTION`` of the region is left uncovered.

The path is a polyline of straight legs: no turning-radius constraint (a twin-hull boat with
differential thrust can pivot). Lower bound on length: region area / swath width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.polygon import orient

from dg_autonomy.planning.grid_planner import VisibilityRoadmap

#: Mitre ratio limit of the margin offset (see coverable_region).
MITRE_LIMIT = 3.0
#: Douglas-Peucker tolerance of the input area, as a fraction of the swath (capped below).
SIMPLIFY_SWATH_FRACTION = 0.005
SIMPLIFY_MAX_M = 0.1
#: Candidate sweep angles: every this many degrees in [0, 180).
ANGLE_STEP_DEG = 5.0
#: Candidate angles ordered in full (best estimate first).
ANGLE_CANDIDATES_N = 20
#: Screening stops early once this many lane segments + cells have been ordered (big lakes).
SCREEN_WORK_MAX = 1500
#: Of those, the cheapest are assembled with their gap detours; the shortest path wins.
FINALISTS_N = 3
#: Estimated transit per cell, in swaths, when ranking angles.
CELL_TRANSIT_SWATHS = 3.0
#: A turn may cut across the boundary chain where the chain stays this close [swaths].
TURN_DEVIATION_SWATHS = 0.4
#: Uncovered pieces smaller than this many square swaths are left alone.
GAP_MIN_SWATHS2 = 0.05
#: Detours stop once at most this fraction of the region is left uncovered.
GAP_TARGET_FRACTION = 0.003
#: Detour passes over the uncovered pieces.
GAP_PASSES_N = 4
#: Local-search moves span at most this many cells (bounds the neighbourhood on big lakes).
NEIGHBOUR_WINDOW = 12
#: Local-search steps of the cell order: screening every candidate angle, then refining the
#: finalists.
SCREEN_MOVES = 8
REFINE_MOVES = 200


class CoverageError(ValueError):
    """Base class of coverage planning input errors (all carry a message)."""


class InvalidArea(CoverageError):
    """The area is not a valid, simple, non-empty shapely Polygon."""


class InvalidCoverageParameter(CoverageError):
    """A swath, margin or angle is non-finite or out of range."""


class StartOutsideArea(CoverageError):
    """The start point is not on the water of the area."""


class NoCoverableArea(CoverageError):
    """Nothing is left of the water once the shore margin is removed."""


@dataclass(frozen=True)
class CoveragePlan:
    """A survey path over a water region.

    ``path_xy`` starts at the start point and contains every lane as one straight leg:
    lane ``k`` is ``path_xy[lane_start_index[k]] -> path_xy[lane_start_index[k] + 1]``, equal
    to ``lanes[k]`` (in driving order and direction). Every leg lies in ``region`` except,
    when the start is inside the shore margin, the first leg into it.
    """

    lanes: list[tuple[tuple[float, float], tuple[float, float]]]  #: [(p0, p1)] in order [m]
    path_xy: np.ndarray          #: (n, 2) waypoints incl. turns and transits [m]
    sweep_angle_rad: float       #: lane direction, ENU (0 = east), in [0, pi)
    length_m: float              #: path length [m]
    lower_bound_m: float         #: region area / swath [m]
    lane_start_index: tuple[int, ...] = ()   #: index in path_xy where each lane starts
    lane_length_m: float = 0.0               #: total length of the lanes [m]
    region: Polygon = field(default_factory=Polygon)  #: where the path may run (see module)
    unreachable_area_m2: float = 0.0  #: region parts not connected to the start's part [m^2]
    detours_n: int = 0                #: gap-filling detours added

    @property
    def transit_length_m(self) -> float:
        """Path length outside the lanes (turns, transits, detours) [m]."""
        return self.length_m - self.lane_length_m


def validate_area(area: object) -> Polygon:
    """The area as a valid, simple, non-empty Polygon, or InvalidArea with the reason."""
    if not isinstance(area, Polygon):
        raise InvalidArea(f"area must be a shapely Polygon (holes = islands), "
                          f"got {type(area).__name__}")
    if area.is_empty or not area.area > 0.0:
        raise InvalidArea("area is empty (zero area)")
    coords = np.asarray(area.exterior.coords)
    if not np.all(np.isfinite(coords)):
        raise InvalidArea("area has non-finite coordinates")
    if not area.is_valid:
        raise InvalidArea(f"area is not a valid simple polygon: "
                          f"{shapely.is_valid_reason(area)}")
    return area


def _positive(value: float, name: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidCoverageParameter(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        raise InvalidCoverageParameter(
            f"{name} must be finite and {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v


def _point(value: Sequence[float], name: str) -> np.ndarray:
    try:
        p = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidCoverageParameter(f"{name} must be an (x, y) pair, got {value!r}") from exc
    if p.shape != (2,) or not np.all(np.isfinite(p)):
        raise InvalidCoverageParameter(f"{name} must be a finite (x, y) pair, got {value!r}")
    return p


def _polygons(geom: object) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]


def coverable_region(area: Polygon, margin_m: float,
                     simplify_m: float = 0.0) -> Polygon | MultiPolygon:
    """Water at least ``margin_m`` from the shore and every island (conservative offset).

    ``simplify_m`` > 0 simplifies the outline (Douglas-Peucker) and adds the tolerance to
    the margin, clipped by the exact offset: fewer vertices, never less margin.
    """
    area = validate_area(area)
    margin_m = _positive(margin_m, "margin_m", allow_zero=True)
    simplify_m = _positive(simplify_m, "simplify_m", allow_zero=True)
    # Mitre joins: exact offset along edges, a sharp corner beyond the round offset at land
    # corners (GEOS bevels it at MITRE_LIMIT x dist, still beyond): never closer than dist.
    region = area.buffer(-margin_m, join_style="mitre", mitre_limit=MITRE_LIMIT)
    if simplify_m > 0.0:
        # Fewer vertices for the roadmap: offset the simplified outline by the tolerance more.
        # GEOS's topology-preserving simplifier can stray slightly beyond its tolerance, so
        # the exact offset clips the result.
        simple = area.simplify(simplify_m, preserve_topology=True).buffer(
            -(margin_m + simplify_m), join_style="mitre", mitre_limit=MITRE_LIMIT)
        region = simple.intersection(region)
    parts = [orient(p, 1.0) for p in _polygons(region)]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def coverage_ratio(area: Polygon | MultiPolygon, path_xy: np.ndarray, swath_m: float,
                   margin_m: float = 0.0) -> float:
    """Fraction of ``area`` (shrunk by ``margin_m``) within ``swath_m / 2`` of the path."""
    swath_m = _positive(swath_m, "swath_m")
    region = area.buffer(-margin_m) if margin_m > 0.0 else area
    if region.is_empty or region.area <= 0.0:
        return 0.0
    path = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    if len(path) == 0:
        return 0.0
    return float(region.intersection(swept_band(path, swath_m)).area / region.area)


def swept_band(path_xy: np.ndarray, swath_m: float, quad_segs: int = 16) -> Polygon:
    """Water surveyed along a path: every point within ``swath_m / 2`` of it.

    GEOS can return an invalid buffer for long self-overlapping lines (out-and-back legs);
    such a band is rebuilt as the union of per-leg buffers.
    """
    path = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    if len(path) == 1:
        return Point(path[0]).buffer(0.5 * swath_m, quad_segs=quad_segs)
    band = LineString(path).buffer(0.5 * swath_m, quad_segs=quad_segs)
    if band.is_valid:
        return band
    legs = shapely.linestrings(np.stack([path[:-1], path[1:]], axis=1))
    return shapely.union_all(shapely.buffer(legs, 0.5 * swath_m, quad_segs=quad_segs))


# --------------------------------------------------------------------------------------------
# Lanes, chains and cells for one sweep angle


@dataclass
class _Sweep:
    """Lane segments, boundary chains and cells of the region for one sweep angle."""

    angle: float
    lane_y: np.ndarray          # rotated-frame y of each lane
    cx: np.ndarray              # crossings: rotated x
    clane: np.ndarray           # lane index
    cring: np.ndarray           # ring index
    cs: np.ndarray              # position along the ring (edge index + fraction)
    cxy: np.ndarray             # world coordinates (n, 2)
    up_nb: np.ndarray           # crossing reached along the ring going up (-1: none)
    seg_lr: np.ndarray          # (n_seg, 2) crossing ids of left and right ends
    seg_lane: np.ndarray        # lane of each segment
    cells: list[list[int]]      # segment ids, bottom to top
    lane_length_m: float


def _rotation(angle: float) -> np.ndarray:
    """Matrix taking world (x, y) to the sweep frame, lanes along the sweep x axis."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])  # row vectors: p @ R = (x c + y s, -x s + y c)


def _sweep(rings: list[np.ndarray], angle: float, swath_m: float) -> _Sweep | None:
    """Crossings, segments and cells for lanes at ``angle`` (centred on the extent)."""
    rot = _rotation(angle)
    rrings = [r @ rot for r in rings]
    ys = np.concatenate([r[:, 1] for r in rrings])
    y_min, y_max = float(ys.min()), float(ys.max())
    height = y_max - y_min
    n_lanes = max(1, math.ceil(height / swath_m - 1e-9))
    y0 = y_min + 0.5 * (height - (n_lanes - 1) * swath_m)
    lane_y = y0 + swath_m * np.arange(n_lanes)
    cx, cl, cr, cs, cup = [], [], [], [], []
    for k, rr in enumerate(rrings):
        a, b = rr, np.roll(rr, -1, axis=0)
        ka = np.clip(np.floor((a[:, 1] - y0) / swath_m), -1, n_lanes - 1).astype(np.int64)
        kb = np.clip(np.floor((b[:, 1] - y0) / swath_m), -1, n_lanes - 1).astype(np.int64)
        lo, count = np.minimum(ka, kb), np.abs(ka - kb)
        edge = np.repeat(np.arange(len(rr)), count)
        lane = lo[edge] + 1 + (np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count))
        t = (lane_y[lane] - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
        cx.append(a[edge, 0] + t * (b[edge, 0] - a[edge, 0]))
        cl.append(lane)
        cr.append(np.full(len(edge), k))
        cs.append(edge + t)
        cup.append(b[edge, 1] > a[edge, 1])
    cx, cl, cr = np.concatenate(cx), np.concatenate(cl), np.concatenate(cr)
    cs, cup = np.concatenate(cs), np.concatenate(cup)
    if len(cx) == 0:
        return None
    cxy = np.stack([cx, lane_y[cl]], axis=1) @ rot.T
    # Ring neighbours: next/previous crossing along each ring.
    order = np.lexsort((cs, cr))
    nxt = np.empty(len(cx), dtype=np.int64)
    prv = np.empty(len(cx), dtype=np.int64)
    ring_sorted = cr[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ring_sorted)) + 1]
    ends = np.r_[starts[1:], len(order)]
    for a0, a1 in zip(starts, ends, strict=True):
        ids = order[a0:a1]
        nxt[ids] = np.roll(ids, -1)
        prv[ids] = np.roll(ids, 1)
    up_nb = np.where(cup, nxt, prv)
    # Segments: crossings along each lane, sorted by x, paired (enter, leave).
    lane_order = np.lexsort((cx, cl))
    if len(lane_order) % 2:
        return None
    seg_lr = lane_order.reshape(-1, 2)
    if np.any(cl[seg_lr[:, 0]] != cl[seg_lr[:, 1]]):
        return None
    seg_lane = cl[seg_lr[:, 0]]
    seg_of = np.empty(len(cx), dtype=np.int64)
    seg_of[seg_lr[:, 0]] = np.arange(len(seg_lr))
    seg_of[seg_lr[:, 1]] = np.arange(len(seg_lr))
    # Cells: s -> t when both ends of s link upward to the matching ends of t.
    ul, ur = up_nb[seg_lr[:, 0]], up_nb[seg_lr[:, 1]]
    t_l, t_r = seg_of[ul], seg_of[ur]
    linked = ((t_l == t_r) & (seg_lane[t_l] == seg_lane + 1)
              & (seg_lr[t_l, 0] == ul) & (seg_lr[t_l, 1] == ur))
    above = np.where(linked, t_l, -1)
    has_below = np.zeros(len(seg_lr), dtype=bool)
    has_below[above[above >= 0]] = True
    cells = []
    for s0 in np.argsort(seg_lane, kind="stable"):
        if has_below[s0]:
            continue
        cell = [int(s0)]
        while above[cell[-1]] >= 0:
            cell.append(int(above[cell[-1]]))
        cells.append(cell)
    lane_length = float(np.sum(cx[seg_lr[:, 1]] - cx[seg_lr[:, 0]]))
    return _Sweep(angle, lane_y, cx, cl, cr, cs, cxy, up_nb, seg_lr, seg_lane, cells,
                  lane_length)


def _estimate(sweep: _Sweep, swath_m: float) -> float:
    """Ranking estimate of the path length for a sweep angle [m]."""
    n_seg, n_cells = len(sweep.seg_lr), len(sweep.cells)
    return (sweep.lane_length_m + (n_seg - n_cells) * swath_m
            + CELL_TRANSIT_SWATHS * swath_m * n_cells)


def _ring_chain(rings: list[np.ndarray], sweep: _Sweep, a: int, b: int) -> np.ndarray:
    """Boundary points from crossing ``a`` forward along its ring to the next crossing ``b``."""
    ring = rings[sweep.cring[a]]
    n = len(ring)
    ia, ib = math.floor(sweep.cs[a]), math.floor(sweep.cs[b])
    count = (ib - ia) % n
    if count == 0 and sweep.cs[b] < sweep.cs[a]:
        count = n
    verts = ring[(ia + 1 + np.arange(count)) % n]
    return np.vstack([sweep.cxy[a], verts, sweep.cxy[b]])


def _straighten(chain: np.ndarray, max_dev_m: float) -> np.ndarray:
    """Greedy shortcut of a boundary chain (free space on its left) within ``max_dev_m``.

    A chord may skip vertices that lie right of it (the chain bulges away from the water,
    so the chord runs over water) and within ``max_dev_m`` of it.
    """
    out = [0]
    i, n = 0, len(chain)
    while i < n - 1:
        j = i + 1
        while j + 1 < n:
            d = chain[j + 1] - chain[i]
            norm = math.hypot(d[0], d[1])
            if norm == 0.0:
                break
            mid = chain[i + 1:j + 1] - chain[i]
            side = (d[0] * mid[:, 1] - d[1] * mid[:, 0]) / norm  # > 0: left of the chord
            if np.any(side > 1e-9) or np.any(-side > max_dev_m):
                break
            j += 1
        out.append(j)
        i = j
    return chain[out]


@dataclass
class _CellRoute:
    """One way of sweeping one cell."""

    points: np.ndarray                 # (n, 2) from entry to exit
    lane_idx: list[int]                # index in points where each lane starts
    length: float


def _polyline_length(p: np.ndarray) -> float:
    return float(np.sum(np.hypot(*np.diff(p, axis=0).T))) if len(p) > 1 else 0.0


def _cell_routes(rings: list[np.ndarray], sweep: _Sweep, cell: list[int], max_dev_m: float,
                 roadmap: VisibilityRoadmap) -> list[_CellRoute]:
    """The four sweeps of a cell: (bottom, top) start x (left, right) start."""
    lr = sweep.seg_lr
    # Turn chains between consecutive segments, stored going up.
    right_up, left_up = [], []
    for s, t in zip(cell[:-1], cell[1:], strict=True):
        r = _straighten(_ring_chain(rings, sweep, lr[s, 1], lr[t, 1]), max_dev_m)
        lft = _straighten(_ring_chain(rings, sweep, lr[t, 0], lr[s, 0]), max_dev_m)[::-1]
        right_up.append(r)
        left_up.append(lft)
    # Verify the shortcuts in one batch; fall back to the raw chain where one fails.
    chords = [(k, side, c) for k in range(len(right_up))
              for side, c in (("r", right_up[k]), ("l", left_up[k]))]
    if chords:
        a = np.concatenate([c[:-1] for _, _, c in chords])
        b = np.concatenate([c[1:] for _, _, c in chords])
        ok = roadmap.segments_free(a, b)
        pos = 0
        for k, side, c in chords:
            n = len(c) - 1
            if not np.all(ok[pos:pos + n]):
                s, t = cell[k], cell[k + 1]
                if side == "r":
                    right_up[k] = _ring_chain(rings, sweep, lr[s, 1], lr[t, 1])
                else:
                    left_up[k] = _ring_chain(rings, sweep, lr[t, 0], lr[s, 0])[::-1]
            pos += n
    routes = []
    for from_bottom in (True, False):
        for from_left in (True, False):
            seq = cell if from_bottom else cell[::-1]
            pts: list[np.ndarray] = []
            lanes: list[int] = []
            go_right = from_left
            for q, s in enumerate(seq):
                p0, p1 = sweep.cxy[lr[s, 0]], sweep.cxy[lr[s, 1]]
                if not go_right:
                    p0, p1 = p1, p0
                if q == 0:
                    pts.append(p0[None])
                lanes.append(sum(len(p) for p in pts) - 1)
                pts.append(p1[None])
                if q + 1 < len(seq):
                    k = q if from_bottom else len(cell) - 2 - q
                    turn = right_up[k] if go_right else left_up[k]
                    if not from_bottom:
                        turn = turn[::-1]
                    pts.append(turn[1:])
                go_right = not go_right
            points = np.concatenate(pts)
            routes.append(_CellRoute(points, lanes, _polyline_length(points)))
    return routes


# --------------------------------------------------------------------------------------------
# Cell order: generalised TSP with four corner choices per cell


def _order_cost(orders: np.ndarray, first: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Cost of each candidate order (rows), corners chosen optimally (dynamic programme).

    ``first[c, o]``: start -> cell c swept with option o (incl. the sweep);
    ``trans[c, o, d, p]``: end of (c, o) -> (d, p), incl. the sweep of (d, p).
    """
    v = first[orders[:, 0]]
    for q in range(1, orders.shape[1]):
        v = np.min(v[:, :, None] + trans[orders[:, q - 1], :, orders[:, q], :], axis=1)
    return v.min(axis=1)


def _best_options(order: list[int], first: np.ndarray, trans: np.ndarray) -> list[int]:
    """Corner choice per cell for a fixed order (the programme of _order_cost, traced back)."""
    v = first[order[0]]
    back = []
    for q in range(1, len(order)):
        tot = v[:, None] + trans[order[q - 1], :, order[q], :]
        back.append(np.argmin(tot, axis=0))
        v = tot.min(axis=0)
    opts = [int(np.argmin(v))]
    for arg in reversed(back):
        opts.append(int(arg[opts[-1]]))
    return opts[::-1]


def _neighbours(order: np.ndarray, window: int = NEIGHBOUR_WINDOW) -> np.ndarray:
    """2-opt reversals and single-cell moves of an order, spanning at most ``window`` cells.

    One candidate order per row, built as index arrays (no Python loop per candidate).
    """
    n = len(order)
    pos = np.arange(n)[None, :]
    # 2-opt: reverse order[i..j].
    i, j = np.triu_indices(n, 1)
    keep = j - i <= window
    i, j = i[keep, None], j[keep, None]
    rev = np.where((pos >= i) & (pos <= j), i + j - pos, pos)
    # Or-opt: move order[i] to position p (shifting the cells in between).
    i, p = np.nonzero((np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) <= window)
                      & ~np.eye(n, dtype=bool))
    i, p = i[:, None], p[:, None]
    fwd = (i < p) & (pos >= i) & (pos < p)   # moved right: the cells after i shift left
    bwd = (i > p) & (pos > p) & (pos <= i)   # moved left: the cells before i shift right
    mv = np.where(fwd, pos + 1, np.where(bwd, pos - 1, pos))
    mv = np.where(pos == p, i, mv)
    return order[np.concatenate([rev, mv])]


def _order_cells(first: np.ndarray, trans: np.ndarray, max_moves: int,
                 order: np.ndarray | None = None) -> tuple[np.ndarray, list[int], float]:
    """Cell order and corner options minimising transit (greedy, then local search).

    Best-improvement steps over the 2-opt and single-cell-move neighbourhood, at most
    ``max_moves`` of them (a work bound, so results do not depend on the machine's speed).
    ``order``: start from this order instead of the greedy one.
    """
    n = first.shape[0]
    if order is None:
        # Greedy: the nearest next (cell, option) from where the boat is.
        greedy, left = [], set(range(n))
        cost_row = first
        while left:
            ids = np.array(sorted(left))
            c = int(ids[np.argmin(cost_row[ids].min(axis=1))])
            greedy.append(c)
            left.discard(c)
            cost_row = trans[c, int(np.argmin(cost_row[c]))]
        order = np.array(greedy, dtype=np.int64)
    best = float(_order_cost(order[None], first, trans)[0])
    for _ in range(max_moves if n > 1 else 0):
        cand = _neighbours(order)
        costs = _order_cost(cand, first, trans)
        k = int(np.argmin(costs))
        if not costs[k] < best - 1e-9:
            break
        best, order = float(costs[k]), cand[k]
    return order, _best_options([int(c) for c in order], first, trans), best


@dataclass
class _Candidate:
    sweep: _Sweep
    routes: list[list[_CellRoute]]
    order: np.ndarray
    options: list[int]
    cost: float
    first: np.ndarray | None = None   # transit costs of the cell-order problem (_order_cost)
    trans: np.ndarray | None = None

    def refine(self, max_moves: int) -> _Candidate:
        """Continue the cell-order local search from the current order."""
        order, options, cost = _order_cells(self.first, self.trans, max_moves, self.order)
        return _Candidate(self.sweep, self.routes, order, options, cost, self.first,
                          self.trans)


def _plan_angle(rings: list[np.ndarray], sweep: _Sweep, start: np.ndarray, swath_m: float,
                roadmap: VisibilityRoadmap) -> _Candidate:
    max_dev = TURN_DEVIATION_SWATHS * swath_m
    routes = [_cell_routes(rings, sweep, cell, max_dev, roadmap) for cell in sweep.cells]
    n = len(routes)
    # Points: start, then entry and exit of each (cell, option).
    pts = [start]
    for rs in routes:
        for r in rs:
            pts.extend([r.points[0], r.points[-1]])
    pts = np.array(pts)
    uniq, inv = np.unique(np.round(pts, 9), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    dist = roadmap.distance_matrix(uniq)
    entry = inv[1:].reshape(n, 4, 2)[:, :, 0]
    exit_ = inv[1:].reshape(n, 4, 2)[:, :, 1]
    inner = np.array([[r.length for r in rs] for rs in routes])
    first = dist[inv[0]][entry] + inner
    trans = dist[exit_[:, :, None, None], entry[None, None, :, :]] + inner[None, None]
    order, options, cost = _order_cells(first, trans, SCREEN_MOVES)
    return _Candidate(sweep, routes, order, options, cost, first, trans)


def _naive_candidate(sweep: _Sweep) -> _Candidate:
    """Lane by lane, alternating direction, segments in lane order; no cells (a baseline)."""
    routes = []
    for lane in np.unique(sweep.seg_lane):
        segs = np.flatnonzero(sweep.seg_lane == lane)
        segs = segs[np.argsort(sweep.cx[sweep.seg_lr[segs, 0]])]
        if lane % 2:
            segs = segs[::-1]
        for s in segs:
            p0, p1 = sweep.cxy[sweep.seg_lr[s, 0]], sweep.cxy[sweep.seg_lr[s, 1]]
            pts = np.array([p1, p0] if lane % 2 else [p0, p1])
            routes.append([_CellRoute(pts, [0], _polyline_length(pts))])
    return _Candidate(sweep, routes, list(range(len(routes))), [0] * len(routes), math.nan)


# --------------------------------------------------------------------------------------------
# Assembly, gap detours, verification


def _join(path: list[np.ndarray], roadmap: VisibilityRoadmap, target: np.ndarray) -> None:
    """Append the shortest transit from the end of ``path`` to ``target``."""
    cur = path[-1][-1]
    if np.allclose(cur, target, rtol=0.0, atol=1e-9):
        return
    leg, _ = roadmap.shortest_path(cur, target)
    if leg is None:  # unreachable would mean a disconnected region: go straight (flagged)
        leg = np.array([cur, target])
    path.append(leg[1:])


def _assemble(cand: _Candidate, head: np.ndarray,
              roadmap: VisibilityRoadmap) -> tuple[np.ndarray, list[int]]:
    path = [head]
    lane_idx: list[int] = []
    for c, o in zip(cand.order, cand.options, strict=True):
        route = cand.routes[c][o]
        _join(path, roadmap, route.points[0])
        base = sum(len(p) for p in path) - 1
        lane_idx.extend(base + i for i in route.lane_idx)
        path.append(route.points[1:])
    return np.concatenate(path), lane_idx


def _dedupe(path: np.ndarray, lane_idx: list[int]) -> tuple[np.ndarray, list[int]]:
    """Drop consecutive duplicate points; keep the lane indices right, drop empty lanes."""
    keep = np.r_[True, np.any(np.abs(np.diff(path, axis=0)) > 1e-9, axis=1)]
    new_index = np.cumsum(keep) - 1
    return path[keep], [int(new_index[i]) for i in lane_idx if keep[i + 1]]


def _fill_gaps(path: np.ndarray, lane_idx: list[int], target: Polygon | MultiPolygon,
               swath_m: float,
               roadmap: VisibilityRoadmap) -> tuple[np.ndarray, list[int], int]:
    """Out-and-back detours into water of ``target`` the swath misses (module doc, step 6).

    Largest pieces first, until at most ``GAP_TARGET_FRACTION`` of ``target`` is left
    uncovered; each detour runs from the nearest path vertex to the point of the piece
    farthest from the path (a sliver's tip, a cove's head; pulled into the drivable region
    when it lies in the conservative offset's rim) and back.
    """
    detours = 0
    allowed = GAP_TARGET_FRACTION * target.area
    for _ in range(GAP_PASSES_N):
        # A hair wider than the swath: neighbouring lanes' bands overlap instead of leaving
        # hairline gaps that would join real gaps into lane-long slivers.
        swept = swept_band(path, swath_m * (1.0 + 1e-6), quad_segs=4)
        pieces = _polygons(target.difference(swept))
        excess = sum(g.area for g in pieces) - allowed
        gaps = sorted((g for g in pieces if g.area >= GAP_MIN_SWATHS2 * swath_m ** 2),
                      key=lambda g: -g.area)
        inserts = []
        vertices = shapely.points(path)
        for gap in gaps:
            if excess <= 0.0:
                break
            # From the vertex nearest the piece to the piece's point farthest from that
            # vertex: an out-and-back along a sliver, or to the head of a cove.
            v = int(np.argmin(shapely.distance(gap, vertices)))
            ring = np.asarray(gap.exterior.coords)[:-1]
            goal = ring[int(np.argmax(np.hypot(*(ring - path[v]).T)))]
            if not roadmap.contains(goal):
                goal = np.array(shapely.ops.nearest_points(roadmap.free, Point(goal))[0].coords[0])
            out, _ = roadmap.shortest_path(path[v], goal)
            if out is None or len(out) < 2:
                continue
            inserts.append((v, np.vstack([out[1:], out[-2::-1]])))
            excess -= gap.intersection(swept_band(out, swath_m, quad_segs=4)).area
        if not inserts:
            break
        # Insert from the back so earlier indices stay valid.
        for v, det in sorted(inserts, key=lambda x: -x[0]):
            path = np.vstack([path[:v + 1], det, path[v + 1:]])
            lane_idx = [i + len(det) if i >= v else i for i in lane_idx]
            detours += 1
    return path, lane_idx, detours


def _make_legal(path: np.ndarray, lane_idx: list[int],
                roadmap: VisibilityRoadmap) -> tuple[np.ndarray, list[int]]:
    """Replace any leg that leaves the region by the shortest path (a safety net)."""
    ok = roadmap.segments_free(path[:-1], path[1:])
    if np.all(ok):
        return path, lane_idx
    lanes = set(lane_idx)
    out, new_idx, mapping = [path[:1]], [], {}
    for k in range(len(path) - 1):
        mapping[k] = sum(len(p) for p in out) - 1
        if ok[k] or k in lanes:
            out.append(path[k + 1:k + 2])
            continue
        leg, _ = roadmap.shortest_path(path[k], path[k + 1])
        out.append(path[k + 1:k + 2] if leg is None else leg[1:])
    new_idx = [mapping[i] for i in lane_idx]
    return np.concatenate(out), new_idx


def plan_coverage(area: Polygon, swath_m: float, margin_m: float, start_xy: Sequence[float],
                  sweep_angle_rad: float | None = None, *,
                  optimise_order: bool = True) -> CoveragePlan:
    """Plan a boustrophedon survey of ``area`` (water; holes = islands).

    Args:
        area: the water polygon [m, map frame]; must be valid and simple.
        swath_m: lane spacing = width surveyed by one pass [m] (> 0).
        margin_m: keep-out distance from the shore and the islands [m] (>= 0).
        start_xy: where the boat starts (on the water of ``area``) [m].
        sweep_angle_rad: lane direction (ENU, 0 = east); None picks the shortest plan.
        optimise_order: False sweeps lane by lane, left to right (a naive baseline).

    Raises:
        InvalidArea: area not a valid simple non-empty Polygon.
        InvalidCoverageParameter: swath, margin, angle or start malformed / out of range.
        StartOutsideArea: start not on the water of ``area``.
        NoCoverableArea: nothing left once the margin is removed.

    """
    area = validate_area(area)
    swath_m = _positive(swath_m, "swath_m")
    margin_m = _positive(margin_m, "margin_m", allow_zero=True)
    start = _point(start_xy, "start_xy")
    if sweep_angle_rad is not None:
        sweep_angle_rad = float(sweep_angle_rad)
        if not math.isfinite(sweep_angle_rad):
            raise InvalidCoverageParameter(
                f"sweep_angle_rad must be finite or None, got {sweep_angle_rad}")
    if not area.covers(Point(start)):
        raise StartOutsideArea(f"start {tuple(start)} is not on the water of the area")
    simplify = min(SIMPLIFY_MAX_M, SIMPLIFY_SWATH_FRACTION * swath_m)
    parts = _polygons(coverable_region(area, margin_m, simplify))
    if not parts:
        raise NoCoverableArea(f"no water is left {margin_m} m away from the shore and islands")
    # Drive the part containing (or nearest to) the start; report the others.
    region = min(parts, key=lambda p: p.distance(Point(start)))
    unreachable = float(sum(p.area for p in parts) - region.area)
    head = [start]
    if not region.covers(Point(start)):
        entry = np.array(shapely.ops.nearest_points(region, Point(start))[0].coords[0])
        if not area.covers(LineString([start, entry])):
            raise StartOutsideArea(f"start {tuple(start)} cannot reach the survey region "
                                   f"without crossing land")
        head.append(entry)
    head = np.array(head)
    roadmap = VisibilityRoadmap(region)
    rings = [np.asarray(r.coords)[:-1] for r in (region.exterior, *region.interiors)]

    if sweep_angle_rad is not None:
        angles = [sweep_angle_rad % math.pi]
    else:
        angles = list(np.radians(np.arange(0.0, 180.0, ANGLE_STEP_DEG)))
        rect = np.asarray(region.minimum_rotated_rectangle.exterior.coords)
        edges = np.diff(rect[:3], axis=0)
        long_edge = edges[np.argmax(np.hypot(*edges.T))]
        angles.append(math.atan2(long_edge[1], long_edge[0]) % math.pi)
    sweeps = [s for s in (_sweep(rings, a, swath_m) for a in angles) if s is not None]
    if not sweeps:
        raise NoCoverableArea("the region is too thin for a single lane")
    sweeps.sort(key=lambda s: _estimate(s, swath_m))
    if optimise_order:
        screened, work = [], 0
        for sweep in sweeps[:ANGLE_CANDIDATES_N]:
            if len(screened) >= FINALISTS_N and work >= SCREEN_WORK_MAX:
                break
            screened.append(_plan_angle(rings, sweep, head[-1], swath_m, roadmap))
            work += len(sweep.seg_lr) + len(sweep.cells)
        cands = sorted(screened, key=lambda c: c.cost)
        cands = [c.refine(REFINE_MOVES) for c in cands[:FINALISTS_N]]
    else:
        cands = [_naive_candidate(sweeps[0])]
    # Gaps are measured on the exact (round) offset: what coverage_ratio reports.
    target = area.buffer(-margin_m) if margin_m > 0.0 else area
    target = min(_polygons(target), key=lambda p: p.distance(region.representative_point()))
    finals = []
    for cand in cands:
        path, lane_idx = _assemble(cand, head, roadmap)
        path, lane_idx = _dedupe(path, lane_idx)
        path, lane_idx, detours = _fill_gaps(path, lane_idx, target, swath_m, roadmap)
        path, lane_idx = _make_legal(path, lane_idx, roadmap)
        path, lane_idx = _dedupe(path, lane_idx)
        finals.append((_polyline_length(path), path, lane_idx, detours, cand))
    length, path, lane_idx, detours, best = min(finals, key=lambda f: f[0])
    lanes = [((float(path[i, 0]), float(path[i, 1])), (float(path[i + 1, 0]),
                                                        float(path[i + 1, 1])))
             for i in lane_idx]
    lane_length = float(sum(math.dist(a, b) for a, b in lanes))
    return CoveragePlan(
        lanes=lanes, path_xy=path, sweep_angle_rad=float(best.sweep.angle % math.pi),
        length_m=length, lower_bound_m=region.area / swath_m,
        lane_start_index=tuple(lane_idx), lane_length_m=lane_length, region=region,
        unreachable_area_m2=unreachable, detours_n=detours)
