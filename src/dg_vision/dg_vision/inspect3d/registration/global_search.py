"""Scan-to-CAD registration without a start pose: :func:`register_to_cad`.

Global stage (seeded; numpy, scipy and Open3D's per-point feature code, no threads racing
over random draws, so identical seeds give identical results, bit for bit). Candidate
poses come in stages; the search stops at the first stage whose best candidate puts
``accept_fitness`` of a subsample within 0.5 % of the part's size of the CAD surface:

1. principal axes of the whole surface: the scan's and the CAD surface's centroids and
   second moments (the CAD's exact, integrated over the triangles) give four proper
   rotations (the sign ambiguity of the axes), plus turns about an axis whose two moments
   are nearly equal. Right for full scans (turntable, several views).
2. principal axes per view: a single view shows one side only, so the CAD is ray-cast once
   from 256 directions (cached) and the scan's moments are matched with the six views
   whose eigenvalues are closest (log-distance), four sign choices each.
3. FPFH features (Rusu et al. 2009, computed by Open3D, one value per point) on
   voxel-downsampled clouds (CAD normals signed by the true face normals, scan normals
   towards ``sensor_origin`` or made consistent along the surface): mutual nearest
   neighbours in feature space, then our own RANSAC over triplets drawn with a
   ``numpy.random.Generator(seed)``, an edge-length consistency check (as Open3D's
   ``CorrespondenceCheckerBasedOnEdgeLength``), batched Kabsch fits, ranking by
   correspondence inliers and then by geometric fitness. Open3D's own
   ``registration_ransac_based_on_feature_matching`` runs its hypotheses on several threads
   and is not reproducible run to run (Open3D issues #5647, #7475).

Every candidate gets a short ICP on a fixed subsample (many candidates: a shorter one on
fewer points screens them first); the one with the most close points (ties: lower RMS,
then the earlier one) wins.

The winner is then refined by the multi-scale ICP of
:mod:`~dg_vision.inspect3d.registration.icp`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import MeshLike, PointsLike, as_points, voxel_downsample
from dg_vision.inspect3d.registration.cad_target import CadTarget, prepare_cad
from dg_vision.inspect3d.registration.descriptors import fpfh_features
from dg_vision.inspect3d.registration.icp import (
    _STAGES,
    MIN_POINTS,
    Registration,
    _check_spread,
    _check_transform,
    _fit_quality,
    _icp_stage,
    _multiscale_icp,
    _positive,
)
from dg_vision.inspect3d.registration.rigid import _kabsch_batch, _rodrigues


def _view_candidates(scan: np.ndarray, target: CadTarget, n_views: int = 6
                     ) -> list[np.ndarray]:
    """Principal-axes candidates against the CAD as seen from suitable directions.

    A single-view scan only shows one side of the part: its moments are matched with those
    of the views whose eigenvalues are most like the scan's.
    """
    cs = scan.mean(axis=0)
    ws, es = np.linalg.eigh(np.cov((scan - cs).T))
    _, cents, vals, vecs = target.views()
    dist = np.linalg.norm(np.log(np.maximum(vals, 1e-12)) - np.log(np.maximum(ws, 1e-12)),
                          axis=1)
    out = []
    for v in np.argsort(dist, kind="stable")[:n_views]:
        for sx in (1.0, -1.0):
            for sy in (1.0, -1.0):
                for sz in (1.0, -1.0):
                    r = vecs[v] @ np.diag([sx, sy, sz]) @ es.T
                    if np.linalg.det(r) > 0:
                        out.extend(_with_turns(r, ws, vals[v], vecs[v], cs, cents[v]))
    return out


def _pca_candidates(scan: np.ndarray, target: CadTarget) -> list[np.ndarray]:
    cs = scan.mean(axis=0)
    ws, es = np.linalg.eigh(np.cov((scan - cs).T))
    wc, ec = np.linalg.eigh(target.moments)
    out = []
    for sx in (1.0, -1.0):
        for sy in (1.0, -1.0):
            for sz in (1.0, -1.0):
                r = ec @ np.diag([sx, sy, sz]) @ es.T
                if np.linalg.det(r) > 0:
                    out.extend(_with_turns(r, ws, wc, ec, cs, target.centroid))
    return out


def _with_turns(r: np.ndarray, ws: np.ndarray, wc: np.ndarray, ec: np.ndarray,
                cs: np.ndarray, cc: np.ndarray) -> list[np.ndarray]:
    rot = [r]
    # Nearly equal moments: the axes in that plane are arbitrary, try turns about the third.
    for i, j, axis in ((0, 1, 2), (1, 2, 0)):
        if min(ws[i], wc[i]) > 0 and max(ws[j], wc[j]) / min(ws[i], wc[i]) < 1.15:
            for k in range(1, 12):
                rot.append(ec @ _axis_rot(axis, k * np.pi / 6.0) @ ec.T @ r)
    out = []
    for rr in rot:
        t = np.eye(4)
        t[:3, :3] = rr
        t[:3, 3] = cc - rr @ cs
        out.append(t)
    return out


def _axis_rot(axis: int, angle: float) -> np.ndarray:
    w = np.zeros(3)
    w[axis] = angle
    return _rodrigues(w)


def _ransac_candidates(scan_down: np.ndarray, target: CadTarget, voxel: float, seed: int,
                       n_hypotheses: int, keep: int, sensor_origin: np.ndarray | None = None
                       ) -> list[np.ndarray]:
    """Seeded RANSAC over FPFH correspondences: the ``keep`` best rigid hypotheses.

    Triplets pass an edge-length check (0.9) before a batched Kabsch fit; hypotheses are
    ranked by correspondence inliers (within 1.5 voxels), the best 64 re-ranked by geometric
    fitness (scan points within 1.5 voxels of the CAD surface samples).
    """
    if scan_down.shape[0] < 10:
        return []
    cad_pts, cad_f = target.features(voxel)
    orient = "propagate" if sensor_origin is None else sensor_origin
    scan_f = fpfh_features(scan_down, voxel, orient)
    _, s2c = cKDTree(cad_f).query(scan_f)
    _, c2s = cKDTree(scan_f).query(cad_f)
    mutual = np.flatnonzero(c2s[s2c] == np.arange(scan_f.shape[0]))
    src_idx = mutual if mutual.size >= 30 else np.arange(scan_f.shape[0])
    a, b = scan_down[src_idx], cad_pts[s2c[src_idx]]
    if a.shape[0] < 3:
        return []
    rng = np.random.default_rng(seed)
    tri = rng.integers(0, a.shape[0], size=(n_hypotheses, 3))
    pa, pb = a[tri], b[tri]
    la = np.linalg.norm(pa - np.roll(pa, 1, axis=1), axis=2)
    lb = np.linalg.norm(pb - np.roll(pb, 1, axis=1), axis=2)
    good = np.all((np.minimum(la, lb) >= 0.9 * np.maximum(la, lb)) & (la > 2.0 * voxel),
                  axis=1)
    if not np.any(good):
        return []
    r, t = _kabsch_batch(pa[good], pb[good])
    thr2 = (1.5 * voxel) ** 2
    counts = np.empty(r.shape[0], dtype=np.int64)
    for s in range(0, r.shape[0], 256):
        moved = np.einsum("hij,nj->hni", r[s:s + 256], a) + t[s:s + 256, None, :]
        counts[s:s + 256] = np.count_nonzero(
            np.sum((moved - b[None]) ** 2, axis=2) < thr2, axis=1)
    top = np.argsort(-counts, kind="stable")[:64]
    probe = scan_down[np.random.default_rng(seed + 1).permutation(scan_down.shape[0])[:600]]
    fit = np.empty(top.size)
    for i, k in enumerate(top):
        d, _ = target.tree.query(probe @ r[k].T + t[k], distance_upper_bound=1.5 * voxel)
        fit[i] = np.count_nonzero(np.isfinite(d))
    out = []
    for k in top[np.argsort(-fit, kind="stable")[:keep]]:
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = r[k], t[k]
        out.append(m)
    return out


def _best_candidate(cands: list[np.ndarray], sub: np.ndarray, tgt: tuple, gate: float,
                    floor_mm: float, close: float, screen: int = 6
                    ) -> tuple[np.ndarray | None, tuple]:
    """Refine candidates briefly on ``sub`` and keep the best.

    With more than ``screen`` candidates, a short coarse refinement on part of ``sub``
    picks the ``screen`` most promising first. Most points within ``close`` wins (ties:
    lower RMS; then the earlier candidate).
    """
    def score(t: np.ndarray, pts: np.ndarray, c: float) -> tuple:
        fit, rmse = _fit_quality(pts, tgt, t, c)
        return (-round(fit, 3), rmse)

    if len(cands) > screen:
        few = sub[:300]
        _, frac, kfrac, _ = _STAGES[0]
        quick = [_icp_stage(few, *tgt, c, gate * frac, 8, max(floor_mm, gate * kfrac))[0]
                 for c in cands]
        keys = [score(t, few, 4.0 * close) for t in quick]
        order = sorted(range(len(cands)), key=lambda i: (keys[i], i))[:screen]
        cands = [quick[i] for i in order]
    best, best_key = None, (1.0, np.inf)
    for c in cands:
        t = c
        for _n, frac, kfrac, _it in _STAGES:
            t, _, _ = _icp_stage(sub, *tgt, t, gate * frac, 12, max(floor_mm, gate * kfrac))
        key = score(t, sub, close)
        if best is None or key < best_key:
            best, best_key = t, key
    return best, best_key


def register_to_cad(scan_points: PointsLike, cad_mesh: MeshLike, *, seed: int = 0,
                    voxel_mm: float | None = None, init: np.ndarray | None = None,
                    inlier_mm: float = 0.5, floor_mm: float = 0.01, n_hypotheses: int = 3000,
                    use_features: bool | None = None, accept_fitness: float = 0.9,
                    sensor_origin: npt.ArrayLike | None = None) -> Registration:
    """Register a scan ((N, 3) mm, or an Open3D cloud) to a CAD mesh: scan -> CAD.

    Without ``init`` a deterministic global search runs first, in stages that stop as soon
    as a candidate explains ``accept_fitness`` of a subsample: principal axes of the whole
    surface (full scans), principal axes of the CAD as seen from the directions whose
    moments match the scan's (single views), seeded FPFH/RANSAC (clutter, anything else;
    ``use_features=True`` runs only this stage, ``False`` never). Every candidate is
    refined briefly and the best kept. Then multi-scale point-to-plane ICP. ``voxel_mm``
    (default: CAD bounding-box diagonal / 40) sets the feature scale; ``seed`` fixes every
    random choice (identical seeds, identical results). NaN/inf scan points are dropped
    (``Registration.n_dropped``). ``inlier_mm`` defines fitness and RMSE.
    ``sensor_origin`` (3,), the sensor position in the scan frame (the origin for a camera's
    own cloud), orients the scan's normals for the features; without it their signs are
    propagated along the surface.
    """
    cloud = as_points(scan_points, name="scan_points", min_points=MIN_POINTS)
    _check_spread(cloud.points, "scan points")
    inlier_mm = _positive("inlier_mm", inlier_mm)
    floor_mm = _positive("floor_mm", floor_mm)
    if not 0.0 < float(accept_fitness) <= 1.0:
        raise VisionInputError(f"accept_fitness must be in (0, 1], got {accept_fitness!r}")
    if isinstance(n_hypotheses, bool) or not isinstance(n_hypotheses, int | np.integer) \
            or n_hypotheses < 1:
        raise VisionInputError(f"n_hypotheses must be an integer >= 1, got {n_hypotheses!r}")
    origin = None
    if sensor_origin is not None:
        origin = np.asarray(sensor_origin, dtype=np.float64).reshape(-1)
        if origin.shape != (3,) or not np.all(np.isfinite(origin)):
            raise VisionInputError("sensor_origin must be a finite (x, y, z)")
    target = prepare_cad(cad_mesh)
    scan = cloud.points
    tgt = (target.tree, target.points, target.normals)
    gate = 0.1 * target.diagonal_mm
    n_cand = 1
    if init is not None:
        t_global = _check_transform(init)
    else:
        voxel = float(voxel_mm) if voxel_mm is not None else target.diagonal_mm / 40.0
        if not voxel > 0.0:
            raise VisionInputError(f"voxel_mm must be positive, got {voxel_mm}")
        rng = np.random.default_rng(seed)
        sub = scan[rng.permutation(scan.shape[0])[:800]]
        close = max(0.005 * target.diagonal_mm, 10.0 * floor_mm)
        t_global, key, n_cand = None, (1.0, np.inf), 0
        stages = [] if use_features is True else [
            lambda: _pca_candidates(scan, target), lambda: _view_candidates(scan, target)]
        if use_features is not False:
            stages.append(lambda: _ransac_candidates(
                voxel_downsample(scan, voxel), target, voxel, seed, n_hypotheses, keep=6,
                sensor_origin=origin))
        for make in stages:
            cands = make()
            n_cand += len(cands)
            t_k, key_k = _best_candidate(cands, sub, tgt, gate, floor_mm, close)
            if t_k is not None and (t_global is None or key_k < key):
                t_global, key = t_k, key_k
            if t_global is not None and -key[0] >= accept_fitness:
                break
        if t_global is None:
            raise VisionInputError("no registration candidate: the scan has too few points "
                                   "with usable features")
    t, iters, conv, fit, rmse, cons = _multiscale_icp(
        scan, *tgt, t_global, gate if init is not None else gate / 4.0, floor_mm, seed,
        inlier_mm)
    return Registration(t, fit, rmse, t_global, iters, scan.shape[0], cloud.n_dropped,
                        inlier_mm, conv, n_cand, cons)
