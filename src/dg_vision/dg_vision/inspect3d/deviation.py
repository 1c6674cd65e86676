"""Deviation of a registered scan from its CAD model, and surface defects.

Points must already be in the CAD frame (apply ``Registration.transform``), in mm.

* :func:`signed_deviation`: signed distance of every point to the CAD surface with Open3D's
  ``RaycastingScene.compute_signed_distance`` (closest point on the triangles; the sign by
  ray parity, voted over three rays so that a ray grazing an edge cannot flip it). Inside
  and outside only exist for a closed surface, so the mesh is checked to be watertight and
  consistently oriented first. Coordinates are shifted to the mesh's centre before the
  float32 conversion Open3D needs (keeps ~1e-5 mm resolution far from the origin).
  The scene and the check are built once per prepared CAD model
  (:class:`~dg_vision.inspect3d.registration.CadTarget`, from
  :func:`~dg_vision.inspect3d.registration.prepare_cad`, which also caches by mesh content):
  pass the prepared target to inspect many parts without repeating any of it.
* :func:`find_surface_defects`: out-of-tolerance points are split by sign and clustered by
  connected components of the fixed-radius neighbour graph (no seeds, no order effects);
  each cluster with enough points is a *bump* (material above the surface, deviation > 0)
  or a *dent* (below). With the CAD mesh, *missing* material is found the other way round:
  CAD surface samples with no scan point within the coverage radius, clustered the same
  way (optionally only the surface a sensor can see, for single-view scans).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import MeshLike, PointsLike, as_points
from dg_vision.inspect3d.registration import CadTarget, prepare_cad


@dataclass(frozen=True)
class SurfaceDefect:
    """One surface defect.

    ``kind`` "dent" | "bump" | "missing", ``centroid`` (x, y, z) mm, ``size_mm`` (largest
    extent), ``depth_mm`` (largest |deviation|; for "missing" the largest distance from the
    uncovered CAD surface to the nearest scan point), ``n_points`` (scan points, or CAD
    samples for "missing").
    """

    kind: str
    centroid: np.ndarray
    size_mm: float
    depth_mm: float
    n_points: int
    #: Extent across the largest one (mm), in the surface.
    width_mm: float = 0.0
    #: Indices into the caller's ``points`` (empty for "missing").
    indices: np.ndarray | None = None


def _closed_target(cad_mesh: MeshLike) -> CadTarget:
    target = prepare_cad(cad_mesh)
    target.check_watertight()
    return target


def signed_deviation(points: PointsLike, cad_mesh: MeshLike) -> np.ndarray:
    """Signed distance (mm) of each point to the CAD surface: + outside, - inside.

    ``cad_mesh``: a mesh (see :func:`~dg_vision.inspect3d._common.as_mesh`) or a prepared
    :class:`~dg_vision.inspect3d.registration.CadTarget`. Returns an (N,) array aligned
    with ``points``; rows that were NaN/inf in the input are NaN in the output (the only
    NaNs). A mesh that is not closed raises :class:`VisionInputError`.
    """
    cloud = as_points(points, name="points", min_points=1)
    scene, center = _closed_target(cad_mesh).scene()
    import open3d as o3d

    q = o3d.core.Tensor((cloud.points - center).astype(np.float32))
    d = scene.compute_signed_distance(q, nsamples=3).numpy().astype(np.float64)
    n = cloud.points.shape[0] + cloud.n_dropped
    out = np.full(n, np.nan)
    out[cloud.kept] = d
    return out


def _number(name: str, value: object) -> float:
    """``value`` as a float; strings, None and the like raise :class:`VisionInputError`."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer
                                                 | np.floating):
        raise VisionInputError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise VisionInputError(f"{name} must be finite, got {value!r}")
    return v


def _values(deviation: npt.ArrayLike, n: int) -> np.ndarray:
    """The deviations as an (n,) float array (NaN allowed: those rows are ignored)."""
    try:
        dev = np.asarray(deviation)
        if dev.dtype.kind not in "iuf":
            raise VisionInputError(f"deviation must be numbers, got dtype {dev.dtype}")
        dev = dev.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise VisionInputError(f"deviation must be an (N,) numeric array: {exc}") from exc
    if dev.shape != (n,):
        raise VisionInputError(
            f"deviation must have shape ({n},) to match points, got {dev.shape}")
    return dev


def _origins(sensor_origin: npt.ArrayLike) -> np.ndarray:
    """Sensor positions as a finite (K, 3) array from (3,) or (K, 3) input."""
    try:
        o = np.asarray(sensor_origin)
        if o.dtype.kind not in "iuf":
            raise VisionInputError(f"sensor_origin must be numbers, got dtype {o.dtype}")
        o = o.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise VisionInputError(f"sensor_origin must be (3,) or (K, 3) numbers: {exc}") from exc
    if o.shape != (3,) and not (o.ndim == 2 and o.shape[1] == 3 and o.shape[0] >= 1):
        raise VisionInputError(f"sensor_origin must have shape (3,) or (K, 3), got {o.shape}")
    if not np.all(np.isfinite(o)):
        raise VisionInputError("sensor_origin must be finite")
    return o.reshape(-1, 3)


def _components(points: np.ndarray, radius: float) -> tuple[int, np.ndarray]:
    if points.shape[0] == 0:
        return 0, np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    n = points.shape[0]
    g = coo_matrix((np.ones(pairs.shape[0]), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)


def _extent(points: np.ndarray) -> tuple[float, float]:
    """Largest extent and the extent across it (mm), along the cluster's principal axes."""
    if points.shape[0] < 2:
        return 0.0, 0.0
    c = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    proj = c @ vt[:2].T
    ext = np.ptp(proj, axis=0)
    return float(ext[0]), float(ext[1]) if ext.size > 1 else 0.0


def median_spacing(points: np.ndarray, *, sample: int = 2000, seed: int = 0,
                   tree: cKDTree | None = None) -> float:
    """Median nearest-neighbour distance (mm) over a seeded sample of the points.

    ``tree``: a k-d tree of exactly these points, if one exists already.
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(points.shape[0])[:sample]
    d, _ = (tree if tree is not None else cKDTree(points)).query(points[idx], k=2)
    return float(np.median(d[:, 1]))


def find_surface_defects(points: PointsLike, deviation: npt.ArrayLike, *,
                         tolerance_mm: float, min_points: int = 10,
                         cluster_mm: float | None = None, cad_mesh: MeshLike | None = None,
                         coverage_mm: float | None = None,
                         sensor_origin: npt.ArrayLike | None = None,
                         max_view_angle_deg: float = 65.0) -> list[SurfaceDefect]:
    """Cluster out-of-tolerance points into dents and bumps; find missing material.

    Defects come largest first; "missing" needs ``cad_mesh``.

    ``points`` (N, 3) in the CAD frame and their ``deviation`` (N,) from
    :func:`signed_deviation`; rows with NaN/inf in either are ignored. ``cluster_mm``
    (default 5x the median point spacing) links out-of-tolerance points into one defect;
    clusters smaller than ``min_points`` are dropped as noise. With ``cad_mesh``, CAD
    surface with no scan point within ``coverage_mm`` (default 3x the spacing) that also
    lies within half that of the surface's tangent plane is reported as "missing";
    ``sensor_origin`` ((3,) or (K, 3) positions in the CAD frame) restricts that check to
    the surface those viewpoints can see: facing a sensor within ``max_view_angle_deg``
    (scanners sample steeper surfaces too sparsely to tell) and not occluded.
    ``cad_mesh`` may be a prepared :class:`~dg_vision.inspect3d.registration.CadTarget`.
    """
    tolerance_mm = _number("tolerance_mm", tolerance_mm)
    if tolerance_mm <= 0:
        raise VisionInputError(f"tolerance_mm must be positive, got {tolerance_mm}")
    if isinstance(min_points, bool) or not isinstance(min_points, int | np.integer) \
            or min_points < 1:
        raise VisionInputError(f"min_points must be an integer >= 1, got {min_points!r}")
    cloud = as_points(points, name="points", min_points=0)
    n = cloud.points.shape[0] + cloud.n_dropped
    dev = _values(deviation, n)
    origins = None if sensor_origin is None else _origins(sensor_origin)
    max_view_angle_deg = _number("max_view_angle_deg", max_view_angle_deg)
    if not 0.0 < max_view_angle_deg <= 90.0:
        raise VisionInputError(
            f"max_view_angle_deg must be in (0, 90], got {max_view_angle_deg}")
    fin = np.isfinite(dev[cloud.kept])
    good = cloud.kept[fin]  # rows of the caller's arrays with finite point and deviation
    if good.size < 3:
        raise VisionInputError(f"only {good.size} finite points with a finite deviation")
    pts_g = cloud.points if good.size == cloud.kept.size else cloud.points[fin]
    dev_g = dev[good]
    tree = cKDTree(pts_g)
    spacing = median_spacing(pts_g, tree=tree)
    if cluster_mm is None:
        cluster_mm = 5.0 * spacing
    cluster_mm = _number("cluster_mm", cluster_mm)
    if not cluster_mm > 0:
        raise VisionInputError(f"cluster_mm must be positive, got {cluster_mm}")
    defects: list[SurfaceDefect] = []
    for kind, sel in (("bump", dev_g > tolerance_mm), ("dent", dev_g < -tolerance_mm)):
        idx = np.flatnonzero(sel)
        n_comp, labels = _components(pts_g[idx], cluster_mm)
        counts = np.bincount(labels, minlength=n_comp)
        for c in np.flatnonzero(counts >= min_points):
            members = idx[labels == c]
            p = pts_g[members]
            size, width = _extent(p)
            defects.append(SurfaceDefect(kind, p.mean(axis=0), size,
                                         float(np.max(np.abs(dev_g[members]))),
                                         int(members.size), width, good[members]))
    if cad_mesh is not None:
        cover = 3.0 * spacing if coverage_mm is None else _number("coverage_mm",
                                                                  coverage_mm)
        if not cover > 0:
            raise VisionInputError(f"coverage_mm must be positive, got {coverage_mm}")
        defects += _missing(pts_g, tree, prepare_cad(cad_mesh), cover, min_points,
                            origins, max_view_angle_deg)
    defects.sort(key=lambda d: (-d.n_points, d.kind, tuple(np.round(d.centroid, 6))))
    return defects


def _missing(pts: np.ndarray, tree: cKDTree, target: CadTarget, cover: float,
             min_points: int, origins: np.ndarray | None,
             max_angle_deg: float) -> list[SurfaceDefect]:
    """CAD surface not covered by the scan (``tree``: k-d tree of ``pts``)."""
    samples, normals = target.points, target.normals
    if origins is None:
        kept = np.arange(samples.shape[0])
    else:
        kept = np.flatnonzero(_visible(target, samples, normals, origins, max_angle_deg))
    # A scan point covers a CAD sample when it is within ``cover`` of it and near its
    # tangent plane (within cover / 2), so points on an adjacent wall do not cover a face.
    s_kept = samples[kept]
    dk, ik = tree.query(s_kept, k=8, distance_upper_bound=cover)
    found = np.isfinite(dk)
    offs = pts[np.where(found, ik, 0)] - s_kept[:, None, :]
    along = np.abs(np.einsum("mkj,mj->mk", offs, normals[kept]))
    covered = np.any(found & (along <= 0.5 * cover), axis=1)
    unc = kept[~covered]
    d, _ = tree.query(samples[unc], distance_upper_bound=10.0 * cover)
    depth_all = np.zeros(samples.shape[0])
    depth_all[unc] = d
    n_comp, labels = _components(samples[unc], 2.5 * target.spacing_mm)
    counts = np.bincount(labels, minlength=n_comp)
    out = []
    for c in np.flatnonzero(counts >= min_points):
        members = unc[labels == c]
        p = samples[members]
        gap = depth_all[members]
        if np.any(~np.isfinite(gap)):  # nothing within 10x the radius: query exactly
            gap, _ = tree.query(p)
        size, width = _extent(p)
        out.append(SurfaceDefect("missing", p.mean(axis=0), size, float(np.max(gap)),
                                 int(members.size), width, np.zeros(0, dtype=np.int64)))
    return out


def _visible(cad_mesh: MeshLike, samples: np.ndarray, normals: np.ndarray,
             sensor_origin: npt.ArrayLike, max_angle_deg: float) -> np.ndarray:
    """CAD samples a sensor can see (``cad_mesh``: a mesh or a prepared CadTarget).

    They face at least one sensor position (within ``max_angle_deg``) and are not occluded
    from it.
    """
    import open3d as o3d

    target = prepare_cad(cad_mesh)
    origins = _origins(sensor_origin)
    cos_max = float(np.cos(np.radians(max_angle_deg)))
    scene, center = target.scene()
    vis = np.zeros(samples.shape[0], dtype=bool)
    for o in origins:
        to = o - samples
        dist = np.linalg.norm(to, axis=1)
        facing = np.einsum("ij,ij->i", to, normals) > cos_max * dist
        idx = np.flatnonzero(facing & ~vis)
        if idx.size == 0:
            continue
        dirs = to[idx] / dist[idx, None]
        start = samples[idx] + 1e-3 * normals[idx] - center
        rays = o3d.core.Tensor(np.hstack([start, dirs]).astype(np.float32))
        t_hit = scene.cast_rays(rays)["t_hit"].numpy()
        vis[idx[~(t_hit < dist[idx])]] = True
    return vis
