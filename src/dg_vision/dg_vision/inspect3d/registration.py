"""Scan-to-CAD registration: deterministic global alignment, multi-scale ICP.

Millimetres; transforms map scan coordinates into the CAD frame.

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

Fine stage: point-to-plane ICP (Chen & Medioni 1992; linearised small-angle Gauss-Newton
step as in Low 2004) against area-uniform CAD surface samples carrying their exact face
normals, with Tukey-biweight weights (scale from the MAD of the residuals, so scan outliers
and real defects do not pull), coarse-to-fine: a few thousand points with a wide
correspondence gate first, more points with narrower gates after, and a last step on every
point, which also gives the fitness and RMS error.

A prepared CAD model (surface samples, k-d tree, moments, features) is cached by mesh
content, so inspecting many parts of one type pays the preparation once.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import (
    MeshArrays,
    MeshLike,
    PointsLike,
    as_mesh,
    as_points,
    check_watertight,
    plane_basis,
    voxel_downsample,
)

if TYPE_CHECKING:  # open3d is imported lazily where it is used (import time)
    import open3d as o3d

#: Fewest finite scan points registration accepts.
MIN_POINTS = 30

_T = TypeVar("_T")


@dataclass(frozen=True)
class Registration:
    """Result of a registration.

    ``transform`` (4x4) maps scan points into the CAD frame; ``fitness`` is the fraction of
    (finite) scan points within ``inlier_mm`` of the CAD surface after alignment and
    ``rmse_mm`` their RMS point-to-plane distance; ``global_transform`` is the start of the
    fine stage (the global estimate, or the given initial guess).

    ``constraint`` says how well the scan pins the pose: the smallest eigenvalue of the last
    step's weighted 6x6 point-to-plane normal matrix, normalised (rotation columns divided
    by the points' RMS distance from their centroid, the matrix by the sum of the weights),
    so 0..1 and unit-free. Near 0 a motion exists that leaves every residual unchanged
    (a flat patch slides in its plane; a cylinder turns about its axis): the pose along it
    is not measured. A full scan of a box-like part gives about 0.05..0.2; a recipe can put
    a lower tolerance on it.
    """

    transform: np.ndarray
    fitness: float
    rmse_mm: float
    global_transform: np.ndarray
    iterations: int = 0
    n_points: int = 0
    n_dropped: int = 0
    inlier_mm: float = 0.0
    converged: bool = True
    candidates: int = 0
    constraint: float = float("nan")

    def apply(self, points: npt.ArrayLike) -> np.ndarray:
        """Scan points (N, 3) expressed in the CAD frame."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise VisionInputError(f"points must have shape (N, 3), got {p.shape}")
        return _apply(self.transform, p)


# ----------------------------------------------------------------------------- geometry


def _rodrigues(w: np.ndarray) -> np.ndarray:
    theta = float(np.linalg.norm(w))
    if theta < 1e-12:
        k = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
        return np.eye(3) + k
    k = w / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * (kx @ kx)


def _apply(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ t[:3, :3].T + t[:3, 3]


def _kabsch_batch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations R (H,3,3) and translations t (H,3) with R a + t ~ b for (H, k, 3) sets."""
    ca, cb = a.mean(axis=1), b.mean(axis=1)
    h = np.einsum("hki,hkj->hij", a - ca[:, None], b - cb[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("hij,hjk->hik", u, vt)))
    d[d == 0] = 1.0
    vt = vt.copy()
    vt[:, 2, :] *= d[:, None]
    r = np.einsum("hji,hkj->hik", vt, u)
    return r, cb - np.einsum("hij,hj->hi", r, ca)


def rotation_angle_deg(r: np.ndarray) -> float:
    """Angle (degrees) of a 3x3 rotation matrix."""
    c = (float(np.trace(r[:3, :3])) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


# ----------------------------------------------------------------------------- CAD model


@dataclass(eq=False)
class CadTarget:
    """A CAD mesh prepared once for registration and deviation (see :func:`prepare_cad`).

    Everything derived from the mesh is built once, lazily where it is not always needed,
    and shared by the threads using the target: the surface samples and their k-d tree, the
    Open3D ray-casting scene (:meth:`scene`), the watertightness check
    (:meth:`check_watertight`), the view moments and the FPFH features.
    """

    mesh: MeshArrays
    points: np.ndarray
    normals: np.ndarray
    tree: cKDTree
    spacing_mm: float
    centroid: np.ndarray
    moments: np.ndarray  # area-weighted covariance of the surface (3x3)
    diagonal_mm: float
    _features: dict = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _lazy(self, key: Hashable, build: Callable[[], _T]) -> _T:
        with self._lock:
            if key not in self._features:
                self._features[key] = build()
            return self._features[key]

    def scene(self) -> tuple[o3d.t.geometry.RaycastingScene, np.ndarray]:
        """Open3D ``RaycastingScene`` of the mesh and its offset (3,) (built once).

        The vertices are shifted by the offset (the bounding box's centre) before the
        float32 conversion Open3D needs (keeps ~1e-5 mm resolution far from the origin):
        subtract it from ray origins and query points.
        """
        def build() -> tuple[o3d.t.geometry.RaycastingScene, np.ndarray]:
            import open3d as o3d

            lo, hi = self.mesh.vertices.min(axis=0), self.mesh.vertices.max(axis=0)
            center = 0.5 * (lo + hi)
            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(
                o3d.core.Tensor((self.mesh.vertices - center).astype(np.float32)),
                o3d.core.Tensor(self.mesh.triangles.astype(np.uint32)))
            return scene, center

        return self._lazy("scene", build)

    def check_watertight(self) -> None:
        """Raise :class:`VisionInputError` unless the mesh is closed and consistently oriented.

        Checked once; signed distance (inside/outside) needs it.
        """
        def build() -> VisionInputError | None:
            try:
                check_watertight(self.mesh)
            except VisionInputError as exc:
                return exc
            return None

        err = self._lazy("watertight", build)
        if err is not None:
            raise VisionInputError(str(err))

    def views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Moments of the CAD surface as seen from 256 directions (cached).

        Each view ray-casts a 100 x 100 grid of parallel rays; returns the directions
        (V, 3), the visible points' centroids (V, 3), covariance eigenvalues (V, 3,
        ascending) and eigenvectors (V, 3, 3, columns).
        """
        return self._lazy("views", lambda: _view_moments(self))

    def features(self, voxel: float) -> tuple[np.ndarray, np.ndarray]:
        """Voxel-downsampled CAD points and their FPFH features (cached per voxel size)."""
        def build() -> tuple[np.ndarray, np.ndarray]:
            pts = voxel_downsample(self.points, voxel)
            _, idx = self.tree.query(pts)
            return pts, _fpfh(pts, voxel, self.normals[idx])

        return self._lazy(round(float(voxel), 9), build)


_CACHE: OrderedDict[tuple, CadTarget] = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 4


def prepare_cad(cad_mesh: MeshLike, *, spacing_mm: float | None = None, seed: int = 0) -> CadTarget:
    """Sample the CAD surface (area-uniform, exact face normals) and build the k-d tree.

    ``spacing_mm`` (default: about 100 000 samples, 0.05..1 mm) is the mean sample spacing.
    Results are cached by mesh content.
    """
    if isinstance(cad_mesh, CadTarget):
        return cad_mesh
    mesh = as_mesh(cad_mesh)
    area_t = mesh.triangle_areas()
    area = float(area_t.sum())
    if spacing_mm is None:
        spacing_mm = float(np.clip(np.sqrt(area / 100_000.0), 0.05, 1.0))
    if not spacing_mm > 0.0:
        raise VisionInputError(f"spacing_mm must be positive, got {spacing_mm}")
    key = (mesh.key(), round(float(spacing_mm), 9), int(seed))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    n = int(np.clip(area / spacing_mm ** 2, 1000, 2_000_000))
    pts, tri = mesh.sample_surface(n, np.random.default_rng(seed))
    verts = mesh.vertices[mesh.triangles]  # (T, 3, 3)
    fn = np.cross(verts[:, 1] - verts[:, 0], verts[:, 2] - verts[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-300)
    # Exact surface moments: for a triangle, E[x x^T] = (a a^T + b b^T + c c^T + s s^T) / 12
    # with s = a + b + c.
    g = verts.sum(axis=1)
    centroid = (area_t[:, None] * g / 3.0).sum(axis=0) / area
    second = (np.einsum("t,tki,tkj->ij", area_t, verts, verts)
              + np.einsum("t,ti,tj->ij", area_t, g, g)) / (12.0 * area)
    moments = second - np.outer(centroid, centroid)
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    target = CadTarget(mesh, pts, fn[tri], cKDTree(pts), float(spacing_mm), centroid,
                       moments, float(np.linalg.norm(hi - lo)))
    with _LOCK:
        _CACHE[key] = target
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return target


# ----------------------------------------------------------------------------- ICP core


def _gn_update(p: np.ndarray, q: np.ndarray, nrm: np.ndarray, floor_mm: float,
               constraint: list[float] | None = None) -> np.ndarray | None:
    """One Tukey-weighted Gauss-Newton point-to-plane step: the 4x4 increment.

    With a ``constraint`` list, the normalised smallest eigenvalue of the step's normal
    matrix is appended to it (see :attr:`Registration.constraint`).
    """
    r = np.einsum("ij,ij->i", p - q, nrm)
    scale = max(4.685 * 1.4826 * float(np.median(np.abs(r))), floor_mm)
    w = np.clip(1.0 - (r / scale) ** 2, 0.0, None) ** 2
    # Rotate about the points' centroid: well conditioned wherever the part sits.
    c = p.mean(axis=0)
    jac = np.empty((r.size, 6))
    jac[:, :3] = np.cross(p - c, nrm)
    jac[:, 3:] = nrm
    jw = jac * w[:, None]
    h = jw.T @ jac
    if constraint is not None:
        few = p[::max(1, p.shape[0] // 4096)] - c  # RMS radius: a strided sample will do
        length = max(float(np.sqrt(np.mean(np.einsum("ij,ij->i", few, few)))), 1e-12)
        d = np.array([1.0 / length] * 3 + [1.0] * 3)
        hn = h * np.outer(d, d) / max(float(w.sum()), 1e-300)
        constraint.append(max(float(np.linalg.eigvalsh(hn)[0]), 0.0))
    h += np.eye(6) * (1e-9 * np.trace(h) + 1e-12)
    try:
        x = -np.linalg.solve(h, jw.T @ r)
    except np.linalg.LinAlgError:
        return None
    inc = np.eye(4)
    inc[:3, :3] = _rodrigues(x[:3])
    inc[:3, 3] = c - inc[:3, :3] @ c + x[3:]
    return inc


#: Approximate nearest neighbours (cKDTree ``eps``): a returned sample is at most 1.5x
#: farther than the nearest; against exact face normals this changes nothing on a face and
#: saves ~15 % of the query time.
_EPS = 0.5


def _icp_stage(src: np.ndarray, tree: cKDTree, tpts: np.ndarray, tnrm: np.ndarray,
               t: np.ndarray, gate: float, iterations: int, floor_mm: float,
               tol_rad: float = 2e-6, tol_mm: float = 2e-5) -> tuple[np.ndarray, int, bool]:
    """Gauss-Newton point-to-plane iterations with Tukey weights on one subsample."""
    done = 0
    for _ in range(iterations):
        done += 1
        p = _apply(t, src)
        d, idx = tree.query(p, distance_upper_bound=gate, eps=_EPS)
        ok = np.isfinite(d)
        if np.count_nonzero(ok) < 6:
            return t, done, False
        inc = _gn_update(p[ok], tpts[idx[ok]], tnrm[idx[ok]], floor_mm)
        if inc is None:
            return t, done, False
        t = inc @ t
        step_rad = np.arccos(np.clip((np.trace(inc[:3, :3]) - 1.0) / 2.0, -1.0, 1.0))
        if step_rad < tol_rad and np.linalg.norm(inc[:3, 3]) < tol_mm:
            return t, done, True
    return t, done, False


def _final_step(src: np.ndarray, tree: cKDTree, tpts: np.ndarray, tnrm: np.ndarray,
                t: np.ndarray, gate: float, floor_mm: float,
                inlier_mm: float) -> tuple[np.ndarray, float, float, float]:
    """One step on every point, with fitness, RMSE and the constraint measure.

    Fitness and RMSE come from the same correspondences with the updated transform (the
    step is tiny once the subsample stages have converged).
    """
    p = _apply(t, src)
    d, idx = tree.query(p, distance_upper_bound=max(gate, 4.0 * inlier_mm), eps=_EPS)
    ok = np.flatnonzero(np.isfinite(d))
    constraint: list[float] = []
    if ok.size >= 6:
        q, nrm = tpts[idx[ok]], tnrm[idx[ok]]
        inc = _gn_update(p[ok], q, nrm, floor_mm, constraint)
        if inc is not None:
            t = inc @ t
            r = np.abs(np.einsum("ij,ij->i", _apply(inc, p[ok]) - q, nrm))
        else:
            r = np.abs(np.einsum("ij,ij->i", p[ok] - q, nrm))
        inl = r <= inlier_mm
        n_in = int(np.count_nonzero(inl))
        if n_in:
            return (t, n_in / src.shape[0], float(np.sqrt(np.mean(r[inl] ** 2))),
                    constraint[0])
    return t, 0.0, float("inf"), constraint[0] if constraint else 0.0


def _fit_quality(src: np.ndarray, target: tuple[cKDTree, np.ndarray, np.ndarray],
                 t: np.ndarray, inlier_mm: float) -> tuple[float, float]:
    """Fraction of points within ``inlier_mm`` (point-to-plane) and their RMS distance."""
    tree, tpts, tnrm = target
    p = _apply(t, src)
    d, idx = tree.query(p, distance_upper_bound=max(inlier_mm * 4.0, 1e-6), eps=_EPS)
    ok = np.isfinite(d)
    r = np.full(src.shape[0], np.inf)
    r[ok] = np.abs(np.einsum("ij,ij->i", p[ok] - tpts[idx[ok]], tnrm[idx[ok]]))
    inl = r <= inlier_mm
    fitness = float(np.count_nonzero(inl)) / src.shape[0]
    rmse = float(np.sqrt(np.mean(r[inl] ** 2))) if np.any(inl) else float("inf")
    return fitness, rmse


#: Coarse-to-fine schedule: (points, gate and smallest Tukey scale as fractions of the
#: widest gate, iterations); then one step on every point with a gate of 1/16. The scale's
#: lower bound keeps the few points that constrain a poorly observed direction (e.g. the
#: walls of a boss in a single view) from being dismissed as outliers while the many points
#: on large faces already fit; the last step uses the residuals' own robust scale.
#: Measured on the inspection cell's views from above (dg_sim): with bounds of 1/8 and 1/32
#: 3 of 60 scans slid up to 1.4 mm along the top face; with 1/4 and 1/16 none did.
_STAGES = ((1500, 1.0, 1.0 / 4.0, 40), (5000, 0.25, 1.0 / 16.0, 20))


def _multiscale_icp(src: np.ndarray, tree: cKDTree, tpts: np.ndarray, tnrm: np.ndarray,
                    init: np.ndarray, gate_mm: float, floor_mm: float, seed: int,
                    inlier_mm: float) -> tuple[np.ndarray, int, bool, float, float, float]:
    """Subsample stages with narrowing gates, then one step on every point.

    Returns the transform, iterations, convergence, fitness, RMSE and constraint.
    """
    order = np.random.default_rng(seed).permutation(src.shape[0])
    t = np.array(init, dtype=np.float64)
    total, converged = 0, False
    for n, frac, kfrac, iters in _STAGES:
        sub = src[order[:n]] if n < src.shape[0] else src
        t, k, converged = _icp_stage(sub, tree, tpts, tnrm, t, gate_mm * frac, iters,
                                     max(floor_mm, gate_mm * kfrac))
        total += k
        if n >= src.shape[0]:
            break
    t, fit, rmse, constraint = _final_step(src, tree, tpts, tnrm, t, gate_mm / 16.0,
                                           floor_mm, inlier_mm)
    return t, total + 1, converged, fit, rmse, constraint


def _check_transform(init: npt.ArrayLike) -> np.ndarray:
    t = np.asarray(init, dtype=np.float64)
    if t.shape != (4, 4) or not np.all(np.isfinite(t)):
        raise VisionInputError(f"init must be a finite 4x4 matrix, got shape {t.shape}")
    r = t[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6) or np.linalg.det(r) < 0:
        raise VisionInputError("init's rotation block is not a proper rotation")
    return t


def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise VisionInputError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise VisionInputError(f"{name} must be a positive number, got {value!r}")
    return v


def _check_spread(points: np.ndarray, name: str) -> None:
    """Raise unless the points span at least a plane (covariance rank >= 2).

    Identical or collinear points leave rotations about their line unmeasured. A strided
    sample is checked first (cheap); only when it looks degenerate are all points checked.
    """
    def eigen(p: np.ndarray) -> np.ndarray:
        return np.linalg.eigvalsh(np.cov((p - p.mean(axis=0)).T))

    def flat(ev: np.ndarray) -> bool:
        return not ev[1] > 1e-12 * max(float(ev[2]), 1e-300) or ev[2] <= 0.0

    step = max(1, points.shape[0] // 4096)
    ev = eigen(points[::step])
    if step > 1 and flat(ev):
        ev = eigen(points)
    if flat(ev):
        raise VisionInputError(
            f"{name} are degenerate (all identical or on one line: covariance eigenvalues "
            f"{', '.join(f'{e:.3g}' for e in ev)} mm^2): they cannot fix a pose")


def icp_point_to_plane(source: PointsLike, target_points: PointsLike | CadTarget,
                       target_normals: npt.ArrayLike | None = None,
                       init: npt.ArrayLike | None = None, *,
                       gate_mm: float | None = None, inlier_mm: float = 0.5,
                       floor_mm: float = 0.01, seed: int = 0) -> Registration:
    """Multi-scale point-to-plane ICP of ``source`` (N, 3) onto target points with normals.

    ``target_points`` (M, 3) with ``target_normals`` (M, 3), or a :class:`CadTarget` from
    :func:`prepare_cad` (its samples, normals and k-d tree; ``target_normals`` then None).
    ``init`` (4x4, default identity) maps source into the target frame; ``gate_mm`` is the
    widest correspondence distance (default 10 % of the target's bounding-box diagonal),
    narrowed by 4 per stage; ``inlier_mm`` defines fitness/RMSE; ``floor_mm`` is the
    smallest robust (Tukey) scale, about the sensor noise or less.
    """
    cloud = as_points(source, name="source", min_points=MIN_POINTS)
    _check_spread(cloud.points, "source points")
    inlier_mm = _positive("inlier_mm", inlier_mm)
    floor_mm = _positive("floor_mm", floor_mm)
    if isinstance(target_points, CadTarget):
        if target_normals is not None:
            raise VisionInputError("target_normals must be None with a CadTarget (it has "
                                   "its own)")
        tpts, tn, tree = target_points.points, target_points.normals, target_points.tree
    else:
        tp = as_points(target_points, name="target_points", min_points=MIN_POINTS)
        if tp.n_dropped:
            raise VisionInputError(f"target_points has {tp.n_dropped} NaN/inf points")
        if target_normals is None:
            raise VisionInputError("target_normals are needed with target points")
        tn = np.asarray(target_normals, dtype=np.float64)
        if tn.shape != tp.points.shape or not np.all(np.isfinite(tn)):
            raise VisionInputError(f"target_normals must be finite with shape "
                                   f"{tp.points.shape}, got {tn.shape}")
        norms = np.linalg.norm(tn, axis=1, keepdims=True)
        if np.any(norms < 1e-12):
            raise VisionInputError("target_normals has zero-length normals")
        tpts, tn, tree = tp.points, tn / norms, cKDTree(tp.points)
    t0 = np.eye(4) if init is None else _check_transform(init)
    if gate_mm is None:
        gate_mm = 0.1 * float(np.linalg.norm(np.ptp(tpts, axis=0)))
    gate_mm = _positive("gate_mm", gate_mm)
    t, iters, conv, fit, rmse, cons = _multiscale_icp(cloud.points, tree, tpts, tn, t0,
                                                      gate_mm, floor_mm, seed, inlier_mm)
    return Registration(t, fit, rmse, t0, iters, cloud.points.shape[0], cloud.n_dropped,
                        inlier_mm, conv, 1, cons)


# ----------------------------------------------------------------------------- global stage


def _fpfh(points: np.ndarray, voxel: float, orient: str | np.ndarray) -> np.ndarray:
    """FPFH features (N, 33) of a cloud, normals from 2.5-voxel neighbourhoods.

    FPFH depends on the normals' signs, so both clouds need outward normals. ``orient``:
    an (N, 3) array of reference directions (the CAD's true face normals); a (3,) sensor
    position (visible surface faces the sensor); or "propagate": signs made consistent
    along the surface (Hoppe et al. 1992, Open3D's minimum-spanning-tree propagation) and
    then flipped as a whole to point away from the centroid.
    """
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=2.5 * voxel, max_nn=30))
    n = np.asarray(pcd.normals).copy()
    if isinstance(orient, str):
        if points.shape[0] > 10:
            pcd.orient_normals_consistent_tangent_plane(10)
            n = np.asarray(pcd.normals).copy()
        if np.sum(np.einsum("ij,ij->i", n, points - points.mean(axis=0))) < 0:
            n = -n
    else:
        ref = np.asarray(orient, dtype=np.float64)
        ref = ref - points if ref.shape == (3,) else ref
        n[np.einsum("ij,ij->i", n, ref) < 0] *= -1.0
    pcd.normals = o3d.utility.Vector3dVector(n)
    f = o3d.pipelines.registration.compute_fpfh_feature(
        pcd, o3d.geometry.KDTreeSearchParamHybrid(radius=5.0 * voxel, max_nn=100))
    return np.ascontiguousarray(np.asarray(f.data).T)


def _fibonacci_sphere(n: int) -> np.ndarray:
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5.0 ** 0.5) * k
    rho = np.sqrt(1.0 - z * z)
    return np.c_[rho * np.cos(phi), rho * np.sin(phi), z]


def _view_moments(target: CadTarget, n_views: int = 256, grid: int = 100
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import open3d as o3d

    dirs = _fibonacci_sphere(n_views)
    mesh = target.mesh
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    scene, center = target.scene()
    rad = 0.5 * float(np.linalg.norm(hi - lo))
    g = (np.arange(grid) + 0.5) / grid * 2.0 * rad - rad
    gu, gv = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    rays = np.empty((n_views, gu.size, 6), dtype=np.float32)
    for i, d in enumerate(dirs):
        e1, e2 = plane_basis(d)
        rays[i, :, :3] = 2.0 * rad * d + gu[:, None] * e1 + gv[:, None] * e2
        rays[i, :, 3:] = -d
    t_hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy().astype(np.float64)
    cents = np.zeros((n_views, 3))
    vals = np.ones((n_views, 3))
    vecs = np.tile(np.eye(3), (n_views, 1, 1))
    for i in range(n_views):
        ok = np.isfinite(t_hit[i])
        if np.count_nonzero(ok) < 10:
            continue
        p = rays[i, ok, :3].astype(np.float64) + t_hit[i, ok, None] * rays[i, ok, 3:]
        cents[i] = p.mean(axis=0) + center
        vals[i], vecs[i] = np.linalg.eigh(np.cov((p - p.mean(axis=0)).T))
    return dirs, cents, vals, vecs


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
    scan_f = _fpfh(scan_down, voxel, "propagate" if sensor_origin is None else sensor_origin)
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
