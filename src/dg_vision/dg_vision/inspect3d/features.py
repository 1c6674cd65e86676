"""Form and feature measurements on 3D points (mm): flatness, step height, holes.

Flatness (:func:`flatness`) is the minimum-zone value: the smallest distance between two
parallel planes that enclose the surface (ISO 1101; evaluated, as ISO 12781-2 specifies,
on the surface after a low-pass filter that removes measurement noise). Steps:

1. a robust starting plane: least median of squares over seeded triplets on a subsample;
2. outliers are points far from their *neighbourhood*, not from the global plane (form
   error must survive): the residuals are binned on a grid in the plane, each point is
   compared with its cell's median, and points beyond ``outlier_k`` robust sigmas (MAD of
   those local differences) are dropped;
3. filter: every grid cell gets a least-squares plane through its remaining points (about
   200 per cell by default); the cells' planes are evaluated at the grid nodes and averaged
   over the cells sharing a node, which reaches the surface's corners and edges (where bow
   and twist have their extremes) without extrapolating past the data;
4. minimum zone of the node surface by linear programming (Chebyshev fit of a plane,
   ``scipy.optimize.linprog``/HiGHS) over the nodes' convex-hull vertices (only those can
   touch the zone planes); the least-squares value (peak-to-valley about the
   least-squares plane of the same nodes) is reported alongside.

``filter_mm=0`` skips the filter (minimum zone of the raw inliers, noise included).

Step height (:func:`step_height`): robust planes through two regions, the height is the
distance of region B's inliers from region A's plane along A's normal (oriented to +z).

Hole (:func:`hole`): a robust plane through the face around the hole (points on the wall
or below it are off-plane and drop out); the face points are projected into the plane; the
hole is found as the largest empty region of an occupancy grid (or around a given guess);
boundary samples (the nearest face point in each angular sector) get a robust (Tukey)
geometric circle fit; near that fit, the largest empty circle of the face points (a
Voronoi vertex) is the maximum-likelihood edge for points spread uniformly on the face,
and the reported circle is the posterior mean under that model (see
:func:`_posterior_circle`), which removes the empty circle's outward bias (it touches the
nearest points, which lie outside the true edge). That assumes the points' in-plane
scatter is small against the tolerance, which holds for depth sensors (their noise is along
the viewing ray); ``method="fit"`` returns the robust fit of the boundary samples instead
(for clouds with lateral noise; biased outward by about half the point spacing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.spatial import ConvexHull, QhullError, Voronoi, cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import PointsLike, as_points, plane_basis
from dg_vision.metrology.fitting import fit_circle

_MAD = 1.4826


@dataclass(frozen=True)
class Flatness:
    """Flatness of a surface.

    ``value_mm`` by ``method`` ("min_zone" or "least_squares"), the zone's mid
    ``plane_point``/``plane_normal``, and ``ls_value_mm`` (least squares, same data).
    """

    value_mm: float
    plane_normal: np.ndarray
    plane_point: np.ndarray
    ls_value_mm: float
    method: str
    min_zone_mm: float
    n_points: int
    n_outliers: int
    n_dropped: int
    filter_mm: float


@dataclass(frozen=True)
class Hole:
    """A round hole.

    ``center`` (x, y, z) on the face plane, ``diameter_mm``, ``axis`` (face normal),
    ``rms_mm`` of the rim samples about the circle, ``n_rim`` samples used.
    """

    center: np.ndarray
    diameter_mm: float
    axis: np.ndarray
    rms_mm: float
    n_rim: int
    method: str


# ----------------------------------------------------------------------------- planes


def _aligned_axes(uv: np.ndarray, e1: np.ndarray, e2: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """In-plane axes along the points' minimum-area bounding rectangle.

    For a rectangular plate these are its edges, so the filter grid follows the part.
    """
    try:
        hull = uv[ConvexHull(uv).vertices]
    except (QhullError, ValueError):
        return e1, e2
    edges = np.roll(hull, -1, axis=0) - hull
    ang = np.arctan2(edges[:, 1], edges[:, 0])
    ca, sa = np.cos(ang), np.sin(ang)
    pu = hull @ np.c_[ca, sa].T  # (H, edges)
    pv = hull @ np.c_[-sa, ca].T
    area = np.ptp(pu, axis=0) * np.ptp(pv, axis=0)
    k = int(np.argmin(area))
    return ca[k] * e1 + sa[k] * e2, -sa[k] * e1 + ca[k] * e2


def _ls_plane(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = p.mean(axis=0)
    d = p - c
    _, vecs = np.linalg.eigh(d.T @ d)
    n = vecs[:, 0]
    return c, (n if n[2] >= 0 else -n)


def _lmeds_plane(p: np.ndarray, rng: np.random.Generator, n_sub: int = 500,
                 n_hyp: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Least-median-of-squares plane over seeded triplets of a subsample.

    Refined by least squares on the subsample's inliers.
    """
    sub = p[rng.permutation(p.shape[0])[:n_sub]] if p.shape[0] > n_sub else p
    tri = rng.integers(0, sub.shape[0], size=(n_hyp, 3))
    a, b, c = sub[tri[:, 0]], sub[tri[:, 1]], sub[tri[:, 2]]
    nrm = np.cross(b - a, c - a)
    ln = np.linalg.norm(nrm, axis=1)
    ok = ln > 1e-12 * max(1.0, float(np.max(ln, initial=0.0)))
    if not np.any(ok):
        raise VisionInputError("points are collinear or coincident: no plane")
    nrm, a = nrm[ok] / ln[ok, None], a[ok]
    res = np.abs(np.einsum("hj,nj->hn", nrm, sub) - np.einsum("hj,hj->h", nrm, a)[:, None])
    med = np.median(res, axis=1)
    k = int(np.argmin(med))
    keep = res[k] <= max(3.0 * _MAD * med[k], 1e-12)
    if np.count_nonzero(keep) < 3:
        keep = np.ones(sub.shape[0], dtype=bool)
    return _ls_plane(sub[keep])


def _robust_plane(p: np.ndarray, rng: np.random.Generator,
                  k: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LMedS start, then two rounds of least squares on points within ``k`` robust sigmas.

    Returns (point, unit normal with n_z >= 0, inlier mask).
    """
    c, n = _lmeds_plane(p, rng)
    inl = np.ones(p.shape[0], dtype=bool)
    for _ in range(2):
        r = (p - c) @ n
        s = _MAD * float(np.median(np.abs(r - np.median(r))))
        inl = np.abs(r - np.median(r)) <= max(k * s, 1e-9)
        if np.count_nonzero(inl) < 3:
            raise VisionInputError("too few points agree on a plane")
        c, n = _ls_plane(p[inl])
    return c, n, inl


# ----------------------------------------------------------------------------- flatness


def _min_zone(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Minimum-zone plane w = a u + b v + c of points (u, v, w).

    Returns (zone width measured perpendicular to that plane, [a, b, c]).
    """
    pts = np.c_[u, v, w]
    try:
        idx = ConvexHull(pts).vertices
    except (QhullError, ValueError):
        idx = np.arange(pts.shape[0])
    uu, vv, ww = u[idx], v[idx], w[idx]
    n = idx.size
    one = np.ones(n)
    a_ub = np.block([[-uu[:, None], -vv[:, None], -one[:, None], -one[:, None]],
                     [uu[:, None], vv[:, None], one[:, None], -one[:, None]]])
    b_ub = np.concatenate([-ww, ww])
    res = linprog(np.array([0.0, 0.0, 0.0, 1.0]), A_ub=a_ub, b_ub=b_ub,
                  bounds=[(None, None)] * 3 + [(0.0, None)], method="highs")
    if res.status != 0:
        raise VisionInputError(f"minimum-zone fit failed: {res.message}")
    a, b, c, h = res.x
    # The LP measures the zone along w; perpendicular width is smaller by the tilt.
    return 2.0 * h / float(np.sqrt(1.0 + a * a + b * b)), np.array([a, b, c])


def _ls_zone(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
    m = np.c_[u, v, np.ones_like(u)]
    coef, *_ = np.linalg.lstsq(m, w, rcond=None)
    r = w - m @ coef
    return float(np.ptp(r)) / float(np.sqrt(1.0 + coef[0] ** 2 + coef[1] ** 2))


def flatness(points: PointsLike, *, method: str = "min_zone", filter_mm: float | None = None,
             outlier_k: float = 5.0, seed: int = 0) -> Flatness:
    """Flatness (mm) of a nominally flat surface given as (N, 3) points (see module doc).

    ``method``: "min_zone" (default) or "least_squares" (which value is ``value_mm``; both
    are computed). ``filter_mm``: grid cell of the noise filter (default: about 200 points
    per cell; 0 = no filter). ``outlier_k``: local outlier cut in robust sigmas.
    NaN/inf points are dropped (``n_dropped``).
    """
    if method not in ("min_zone", "least_squares"):
        raise VisionInputError(f"method must be 'min_zone' or 'least_squares', got {method!r}")
    if not outlier_k > 0:
        raise VisionInputError(f"outlier_k must be positive, got {outlier_k}")
    cloud = as_points(points, name="points", min_points=10)
    p = cloud.points
    rng = np.random.default_rng(seed)
    c0, n0 = _lmeds_plane(p, rng)
    e1, e2 = plane_basis(n0)
    sub = p[rng.permutation(p.shape[0])[:2000]] if p.shape[0] > 2000 else p
    e1, e2 = _aligned_axes((sub - c0) @ np.c_[e1, e2], e1, e2)
    u, v, w = np.ascontiguousarray(((p - c0) @ np.c_[e1, e2, n0]).T)
    n = p.shape[0]
    stride = max(1, n // 5000)  # robust scales from every stride-th point
    u0, v0 = float(u.min()), float(v.min())
    su, sv = max(float(u.max()) - u0, 1e-9), max(float(v.max()) - v0, 1e-9)
    if filter_mm is None:
        cell = float(np.sqrt(su * sv / max(n / 200.0, 1.0))) if n >= 2000 else 0.0
    else:
        cell = float(filter_mm)
        if not (np.isfinite(cell) and cell >= 0.0):
            raise VisionInputError(f"filter_mm must be >= 0, got {filter_mm}")
    # Outlier cells: ~50 points each (or the filter's cells when those are coarser).
    ocell = max(cell, float(np.sqrt(su * sv / max(n / 50.0, 1.0))))
    nu, nv = max(1, int(round(su / ocell))), max(1, int(round(sv / ocell)))
    iu = np.minimum((u - u0) * (nu / su), nu - 1).astype(np.int64)
    iv = np.minimum((v - v0) * (nv / sv), nv - 1).astype(np.int64)
    cid = iu * nv + iv
    # Sort by (cell, w) with one float argsort: tanh keeps w's order inside a cell.
    ws = w[::stride]
    wmed = float(np.median(ws))
    spread = 10.0 * float(np.median(np.abs(ws - wmed))) + 1e-12
    order = np.argsort(cid + 0.5 + 0.49 * np.tanh((w - wmed) / spread))
    counts = np.bincount(cid, minlength=nu * nv)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    med = np.zeros(nu * nv)
    has = counts > 0
    med[has] = w[order[starts[has] + counts[has] // 2]]
    dloc = w - med[cid]
    s = _MAD * float(np.median(np.abs(dloc[::stride])))
    inl = np.abs(dloc) <= max(outlier_k * s, 1e-12)
    n_out = int(n - np.count_nonzero(inl))
    if np.count_nonzero(inl) < 10:
        raise VisionInputError("fewer than 10 points left after outlier rejection")
    u, v, w = u[inl], v[inl], w[inl]
    if cell > 0.0:
        uu, vv, ww = _filtered_nodes(u, v, w, u0, v0, su, sv, cell)
    else:
        uu, vv, ww = u, v, w
    mz, (a, b, c) = _min_zone(uu, vv, ww)
    ls = _ls_zone(uu, vv, ww)
    nl = np.array([-a, -b, 1.0]) / np.sqrt(1.0 + a * a + b * b)
    normal = nl[0] * e1 + nl[1] * e2 + nl[2] * n0
    um, vm = float(uu.mean()), float(vv.mean())
    point = c0 + um * e1 + vm * e2 + (a * um + b * vm + c) * n0
    if normal[2] < 0:
        normal = -normal
    return Flatness(mz if method == "min_zone" else ls, normal, point, ls, method, mz,
                    int(w.size), n_out, cloud.n_dropped, cell)


def _filtered_nodes(u: np.ndarray, v: np.ndarray, w: np.ndarray, u0: float, v0: float,
                    su: float, sv: float, cell: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise filter: cell least-squares planes evaluated at the grid nodes.

    Values are averaged over the cells sharing a node; where a cell's points do not reach
    its corners (part outline, holes), the plane through its 3 x 3 block of cells is
    evaluated at the cell's own extreme points instead (no extrapolation past the data).
    """
    nu, nv = max(1, int(round(su / cell))), max(1, int(round(sv / cell)))
    cu, cv = su / nu, sv / nv
    iu = np.minimum((u - u0) / cu, nu - 1).astype(np.int64)
    iv = np.minimum((v - v0) / cv, nv - 1).astype(np.int64)
    cid = iu * nv + iv
    du = u - (u0 + (iu + 0.5) * cu)
    dv = v - (v0 + (iv + 0.5) * cv)
    m = nu * nv

    def bc(x: np.ndarray | None) -> np.ndarray:
        return np.bincount(cid, weights=x, minlength=m)

    s1, su_, sv_, sw = bc(None), bc(du), bc(dv), bc(w)
    suu, suv, svv, suw, svw = bc(du * du), bc(du * dv), bc(dv * dv), bc(du * w), bc(dv * w)
    mat = np.stack([np.stack([s1, su_, sv_], -1), np.stack([su_, suu, suv], -1),
                    np.stack([sv_, suv, svv], -1)], -2)
    rhs = np.stack([sw, suw, svw], -1)
    det = np.linalg.det(mat)
    scale = (s1 * cu * cu) * (s1 * cv * cv) * s1 / 144.0
    valid = (s1 >= 10) & (det > 1e-6 * np.maximum(scale, 1e-300))
    if not np.any(valid):  # too sparse for planes: cell means at the cell centres
        keep = np.flatnonzero(s1 > 0)
        return (u0 + (keep // nv + 0.5) * cu, v0 + (keep % nv + 0.5) * cv,
                sw[keep] / s1[keep])
    coef = np.zeros((m, 3))
    coef[valid] = np.linalg.solve(mat[valid], rhs[valid][..., None])[..., 0]
    # Planes through each cell's 3 x 3 block of cells (sums shifted into the centre cell's
    # coordinates): ~9x the points, for the cut cells below, which get no node averaging.
    mom = [x.reshape(nu, nv) for x in (s1, su_, sv_, sw, suu, suv, svv, suw, svw)]
    blk = [np.zeros((nu, nv)) for _ in range(9)]
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            ou, ov = di * cu, dj * cv
            dst = (slice(max(0, -di), nu - max(0, di)), slice(max(0, -dj), nv - max(0, dj)))
            src = (slice(max(0, di), nu + min(0, di)), slice(max(0, dj), nv + min(0, dj)))
            n1, nu1, nv1, nw1, nuu, nuv, nvv, nuw, nvw = (x[src] for x in mom)
            for acc, val in zip(blk, (
                    n1, nu1 + ou * n1, nv1 + ov * n1, nw1,
                    nuu + 2 * ou * nu1 + ou * ou * n1,
                    nuv + ou * nv1 + ov * nu1 + ou * ov * n1,
                    nvv + 2 * ov * nv1 + ov * ov * n1, nuw + ou * nw1, nvw + ov * nw1),
                    strict=True):
                acc[dst] += val
    b1, bu, bv, bw, buu, buv, bvv, buw, bvw = (x.ravel() for x in blk)
    bmat = np.stack([np.stack([b1, bu, bv], -1), np.stack([bu, buu, buv], -1),
                     np.stack([bv, buv, bvv], -1)], -2)
    bcoef = coef.copy()
    bok = valid & (np.linalg.det(bmat) > 0)
    bcoef[bok] = np.linalg.solve(bmat[bok], np.stack([bw, buw, bvw], -1)[bok][..., None])[
        ..., 0]
    c, a, b = coef[:, 0], coef[:, 1], coef[:, 2]
    hu, hv = 0.5 * cu, 0.5 * cv
    # A corner counts as reached when some point of the cell lies within a quarter cell of
    # it in both axes: s_u du / hu + s_v dv / hv >= 1.5 (a cell cut diagonally by an outline
    # or a hole has a full bounding box but an empty corner).
    p1, p2 = du / hu + dv / hv, du / hu - dv / hv
    diag = {}
    for key, val in (((1, 1), p1), ((0, 0), -p1), ((1, 0), p2), ((0, 1), -p2)):
        diag[key] = np.full(m, -np.inf)
        np.maximum.at(diag[key], cid, val)  # 1-D ufunc.at: fast path (2-D is ~20x slower)
    total = np.zeros((nu + 1, nv + 1))
    cnt = np.zeros((nu + 1, nv + 1))
    ci, cj = np.divmod(np.arange(m), nv)
    short = np.zeros(m, dtype=bool)
    for di, dj in ((0, 0), (1, 0), (0, 1), (1, 1)):
        nom_u, nom_v = (hu if di else -hu), (hv if dj else -hv)
        reach = valid & (diag[(di, dj)] >= 1.5)
        np.add.at(total, (ci[reach] + di, cj[reach] + dj),
                  c[reach] + a[reach] * nom_u + b[reach] * nom_v)
        np.add.at(cnt, (ci[reach] + di, cj[reach] + dj), 1.0)
        short |= valid & ~reach
    extra_u, extra_v, extra_w = [], [], []
    # Cells the part's outline or a hole cuts: their plane evaluated at their own extreme
    # points along u, v and both diagonals (the plane's extremes over a cell's points lie
    # on their hull), all inside the data.
    sel = np.flatnonzero(short[cid])
    if sel.size:
        cs, dus, dvs = cid[sel], du[sel], dv[sel]
        cnt_s = np.bincount(cs, minlength=m)
        first = np.concatenate([[0], np.cumsum(cnt_s)[:-1]])
        cells = np.flatnonzero(cnt_s)
        scale = float(max(cu, cv))
        for proj in (dus, dvs, dus + dvs, dus - dvs):
            order = np.argsort(cs + 0.5 + 0.49 * np.tanh(proj / scale))
            for pick in (first[cells], first[cells] + cnt_s[cells] - 1):
                k = sel[order[pick]]
                cc = cid[k]
                extra_u.append(u[k])
                extra_v.append(v[k])
                extra_w.append(bcoef[cc, 0] + bcoef[cc, 1] * du[k] + bcoef[cc, 2] * dv[k])
    node = cnt > 0
    gi, gj = np.nonzero(node)
    return (np.concatenate([u0 + gi * cu, *extra_u]),
            np.concatenate([v0 + gj * cv, *extra_v]),
            np.concatenate([total[node] / cnt[node], *extra_w]))


# ----------------------------------------------------------------------------- step height


def _mask(mask: npt.ArrayLike, n: int, name: str) -> np.ndarray:
    m = np.asarray(mask)
    if m.dtype == bool:
        if m.shape != (n,):
            raise VisionInputError(f"{name} must be a boolean mask of shape ({n},), got "
                                   f"{m.shape}")
        return m
    if m.ndim != 1 or not np.issubdtype(m.dtype, np.integer):
        raise VisionInputError(f"{name} must be a boolean mask or an index array")
    if m.size and (m.min() < -n or m.max() >= n):
        raise VisionInputError(f"{name} has indices outside 0..{n - 1}")
    out = np.zeros(n, dtype=bool)
    out[m] = True
    return out


def step_height(points: PointsLike, region_a_mask: npt.ArrayLike,
                region_b_mask: npt.ArrayLike, *, seed: int = 0) -> float:
    """Height (mm) of region B above region A's plane, along A's normal oriented to +z.

    Regions are boolean masks (or index arrays) over ``points`` (N, 3); each is fitted with
    a robust plane (outliers dropped); NaN/inf points are ignored. Each region needs at
    least 10 finite points.
    """
    cloud = as_points(points, name="points", min_points=0)
    n = cloud.points.shape[0] + cloud.n_dropped
    if cloud.n_dropped:
        arr = np.full((n, 3), np.nan)
        arr[cloud.kept] = cloud.points
    else:
        arr = cloud.points
    finite = np.zeros(n, dtype=bool)
    finite[cloud.kept] = True
    ma = _mask(region_a_mask, arr.shape[0], "region_a_mask") & finite
    mb = _mask(region_b_mask, arr.shape[0], "region_b_mask") & finite
    for name, m in (("region A", ma), ("region B", mb)):
        if np.count_nonzero(m) < 10:
            raise VisionInputError(f"{name} has {np.count_nonzero(m)} finite points; "
                                   "at least 10 are needed")
    rng = np.random.default_rng(seed)
    ca, na, _ = _robust_plane(arr[ma], rng)
    pb = arr[mb]
    cb, nb, inl_b = _robust_plane(pb, rng)
    return float(np.mean((pb[inl_b] - ca) @ na))


# ----------------------------------------------------------------------------- holes


def hole(points: PointsLike, *, center_guess: npt.ArrayLike | None = None,
         diameter_guess: float | None = None, method: str = "empty_circle",
         seed: int = 0) -> Hole:
    """Centre and diameter of a round hole from points of the face around it (mm).

    ``points`` (N, 3): the face surrounding the hole (wall or background points inside the
    hole may be present: they are off the face plane and ignored). ``center_guess`` (x, y, z)
    and ``diameter_guess`` pick the hole when the patch has several (default: the largest
    empty region). ``method``: "empty_circle" (default, see module doc) or "fit".
    """
    if method not in ("empty_circle", "fit"):
        raise VisionInputError(f"method must be 'empty_circle' or 'fit', got {method!r}")
    cloud = as_points(points, name="points", min_points=30)
    rng = np.random.default_rng(seed)
    c0, n0, inl = _robust_plane(cloud.points, rng)
    face = cloud.points[inl]
    e1, e2 = plane_basis(n0)
    uv = (face - c0) @ np.c_[e1, e2]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    area = float(np.prod(np.maximum(hi - lo, 1e-9)))
    spacing = float(np.sqrt(area / face.shape[0]))
    tree = cKDTree(uv)
    if center_guess is not None:
        g = np.asarray(center_guess, dtype=np.float64).reshape(-1)
        if g.shape != (3,) or not np.all(np.isfinite(g)):
            raise VisionInputError("center_guess must be a finite (x, y, z)")
        cen = (g - c0) @ np.c_[e1, e2]
        r0 = 0.5 * float(diameter_guess) if diameter_guess else float(tree.query(cen)[0])
    else:
        cen, r0 = _largest_void(uv, lo, hi, spacing)
    if not r0 > 0:
        raise VisionInputError("no hole found near the guess")
    # Boundary samples: nearest face point per angular sector within the rim annulus.
    band = max(3.0 * spacing, 0.25 * r0)
    cand = np.array(sorted(tree.query_ball_point(cen, r0 + band)), dtype=np.int64)
    if cand.size < 8:
        raise VisionInputError("too few face points around the hole")
    d = uv[cand] - cen
    rad = np.linalg.norm(d, axis=1)
    ang = np.arctan2(d[:, 1], d[:, 0])
    n_sec = int(np.clip(2.0 * np.pi * r0 / (2.0 * spacing), 12, 720))
    sec = np.minimum(((ang + np.pi) / (2.0 * np.pi) * n_sec).astype(np.int64), n_sec - 1)
    order = np.lexsort((rad, sec))
    first = np.concatenate([[True], sec[order][1:] != sec[order][:-1]])
    rim = cand[order[first]]
    if rim.size < 8:
        raise VisionInputError(f"only {rim.size} rim samples: is there a hole?")
    fit = fit_circle(uv[rim], seed=seed)  # LMedS start, Tukey IRLS, geometric distance
    cxy, r, rms, ok = np.array([fit.cx, fit.cy]), fit.r, fit.rms, fit.inliers
    if method == "empty_circle":
        near = cand[np.abs(np.linalg.norm(uv[cand] - cxy, axis=1) - r) <= band]
        cxy, r = _largest_empty_circle(uv[near], cxy, r)
        ring = np.linalg.norm(uv[near] - cxy, axis=1)
        width = min(band, 4.0 * spacing)
        rho = np.count_nonzero(ring <= r + width) / (np.pi * ((r + width) ** 2 - r * r))
        cxy, r = _posterior_circle(uv[near], cxy, r, rho)
        rms = float(np.sqrt(np.mean((np.linalg.norm(uv[rim[ok]] - cxy, axis=1) - r) ** 2)))
    center = c0 + cxy[0] * e1 + cxy[1] * e2
    return Hole(center, 2.0 * float(r), n0, rms, int(np.count_nonzero(ok)), method)


def _largest_void(uv: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  spacing: float) -> tuple[np.ndarray, float]:
    """Centre and equivalent radius of the largest enclosed empty region.

    Empty cells of an occupancy grid, regions touching the patch border excluded.
    """
    from scipy import ndimage

    cell = 2.0 * spacing
    shape = np.maximum(np.ceil((hi - lo) / cell).astype(int), 1)
    occ = np.zeros(shape, dtype=bool)
    ij = np.minimum(((uv - lo) / cell).astype(int), shape - 1)
    occ[ij[:, 0], ij[:, 1]] = True
    occ = ndimage.binary_closing(occ, iterations=1, border_value=1)
    lab, n = ndimage.label(~occ)
    if n == 0:
        raise VisionInputError("no hole found: the face has no empty region")
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sizes[0] = 0
    sizes[border] = 0
    k = int(np.argmax(sizes))
    if sizes[k] < 4:
        raise VisionInputError("no hole found: no enclosed empty region in the face")
    ii, jj = np.nonzero(lab == k)
    cen = lo + (np.c_[ii, jj].mean(axis=0) + 0.5) * cell
    return cen, float(np.sqrt(sizes[k] * cell * cell / np.pi))


def _posterior_circle(pts: np.ndarray, c: np.ndarray, r: float, rho: float
                      ) -> tuple[np.ndarray, float]:
    """Posterior-mean circle of a hole in a Poisson point pattern.

    Face points are spread as a Poisson process of density ``rho`` outside the hole; with a
    flat prior, p(c, R) ~ exp(rho pi R^2) on the circles free of points,
    i.e. weight exp(rho pi (D(c)^2 - D_max^2)) for a centre c whose empty radius is D(c),
    and E[R | c] = D(c) - 1 / (2 pi rho D(c)). Corrects the empty circle's outward bias
    (it touches the nearest points, which lie outside the true edge) and averages its centre
    over the centres the data cannot tell apart.
    """
    if not (rho > 0 and r > 0):
        return c, r
    tree = cKDTree(pts)
    decay = 1.0 / (2.0 * np.pi * rho * r)  # D drops by this -> weight drops by 1/e
    half = 10.0 * decay
    for _ in range(4):
        g = np.linspace(-half, half, 41)
        gx, gy = np.meshgrid(g, g, indexing="ij")
        cc = c + np.c_[gx.ravel(), gy.ravel()]
        dist, _ = tree.query(cc)
        logw = np.pi * rho * (dist ** 2 - np.max(dist) ** 2)
        w = np.exp(logw).reshape(41, 41)
        edge = max(w[0].max(), w[-1].max(), w[:, 0].max(), w[:, -1].max())
        if edge < 1e-4:
            break
        half *= 2.0
    w = w.ravel()
    w /= w.sum()
    c_mean = w @ cc
    r_mean = float(w @ (dist - 1.0 / (2.0 * np.pi * rho * np.maximum(dist, 1e-12))))
    return c_mean, r_mean


def _largest_empty_circle(pts: np.ndarray, c: np.ndarray, r: float
                          ) -> tuple[np.ndarray, float]:
    """Largest circle free of ``pts`` with its centre within r/2 of ``c``.

    The centre is a Voronoi vertex of the points; falls back to (c, nearest distance).
    """
    tree = cKDTree(pts)
    best_c, best_r = c, float(tree.query(c)[0])
    if pts.shape[0] >= 4:
        try:
            vor = Voronoi(pts)
        except QhullError:
            return best_c, best_r
        cand = vor.vertices[np.linalg.norm(vor.vertices - c, axis=1) < 0.5 * r]
        if cand.shape[0]:
            d, _ = tree.query(cand)
            k = int(np.argmax(d))
            if d[k] > best_r:
                best_c, best_r = cand[k], float(d[k])
    return best_c, best_r
