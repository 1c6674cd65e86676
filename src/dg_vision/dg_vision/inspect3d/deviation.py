"""Deviation of a registered scan from its CAD model, and surface defects.

Points must already be in the CAD frame (apply ``Registration.transform``), in mm.

* :func:`signed_deviation`: signed distance of every point to the CAD surface with Open3D's
  ``RaycastingScene.compute_signed_distance`` (closest point on the triangles; the sign by
  ray parity, voted over three rays so that a ray grazing an edge cannot flip it). Inside
  and outside only exist for a closed surface, so the mesh is checked to be watertight and
  consistently oriented first. Coordinates are shifted to the mesh's centre before the
  float32 conversion Open3D needs (keeps ~1e-5 mm resolution far from the origin).
* :func:`find_surface_defects`: out-of-tolerance points are split by sign and clustered by
  connected components of the fixed-radius neighbour graph (no seeds, no order effects);
  each cluster with enough points is a *bump* (material above the surface, deviation > 0)
  or a *dent* (below). With the CAD mesh, *missing* material is found the other way round:
  CAD surface samples with no scan point within the coverage radius, clustered the same
  way (optionally only the surface a sensor can see, for single-view scans).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import MeshArrays, as_mesh, as_points, check_watertight


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


_SCENES: OrderedDict[str, tuple] = OrderedDict()
_LOCK = threading.Lock()


def _scene(mesh: MeshArrays):
    key = mesh.key()
    with _LOCK:
        if key in _SCENES:
            _SCENES.move_to_end(key)
            return _SCENES[key]
    import open3d as o3d

    check_watertight(mesh)
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    center = 0.5 * (lo + hi)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor((mesh.vertices - center).astype(np.float32)),
                        o3d.core.Tensor(mesh.triangles.astype(np.uint32)))
    with _LOCK:
        _SCENES[key] = (scene, center)
        while len(_SCENES) > 4:
            _SCENES.popitem(last=False)
    return scene, center


def signed_deviation(points, cad_mesh) -> np.ndarray:
    """Signed distance (mm) of each point to the CAD surface: + outside, - inside.

    Returns an (N,) array aligned with ``points``; rows that were NaN/inf in the input are
    NaN in the output (the only NaNs). A mesh that is not closed raises
    :class:`VisionInputError`.
    """
    arr = np.asarray(points, dtype=np.float64) if isinstance(points, np.ndarray) else points
    cloud = as_points(arr, name="points", min_points=1)
    mesh = as_mesh(cad_mesh)
    scene, center = _scene(mesh)
    import open3d as o3d

    q = o3d.core.Tensor((cloud.points - center).astype(np.float32))
    d = scene.compute_signed_distance(q, nsamples=3).numpy().astype(np.float64)
    n = cloud.points.shape[0] + cloud.n_dropped
    out = np.full(n, np.nan)
    out[cloud.kept] = d
    return out


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


def median_spacing(points: np.ndarray, *, sample: int = 2000, seed: int = 0) -> float:
    """Median nearest-neighbour distance (mm) over a seeded sample of the points."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(points.shape[0])[:sample]
    d, _ = cKDTree(points).query(points[idx], k=2)
    return float(np.median(d[:, 1]))


def find_surface_defects(points, deviation, *, tolerance_mm: float, min_points: int = 10,
                         cluster_mm: float | None = None, cad_mesh=None,
                         coverage_mm: float | None = None, sensor_origin=None,
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
    """
    if not np.isfinite(tolerance_mm) or tolerance_mm <= 0:
        raise VisionInputError(f"tolerance_mm must be positive, got {tolerance_mm}")
    if min_points < 1:
        raise VisionInputError(f"min_points must be >= 1, got {min_points}")
    pts = np.asarray(points, dtype=np.float64)
    dev = np.asarray(deviation, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise VisionInputError(f"points must have shape (N, 3), got {pts.shape}")
    if dev.shape != (pts.shape[0],):
        raise VisionInputError(
            f"deviation must have shape ({pts.shape[0]},) to match points, got {dev.shape}")
    good = np.flatnonzero(np.all(np.isfinite(pts), axis=1) & np.isfinite(dev))
    if good.size < 3:
        raise VisionInputError(f"only {good.size} finite points with a finite deviation")
    pts_g, dev_g = pts[good], dev[good]
    spacing = median_spacing(pts_g)
    if cluster_mm is None:
        cluster_mm = 5.0 * spacing
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
        cover = 3.0 * spacing if coverage_mm is None else float(coverage_mm)
        if not cover > 0:
            raise VisionInputError(f"coverage_mm must be positive, got {coverage_mm}")
        defects += _missing(pts_g, cad_mesh, cover, min_points, sensor_origin,
                            max_view_angle_deg)
    defects.sort(key=lambda d: (-d.n_points, d.kind, tuple(np.round(d.centroid, 6))))
    return defects


def _missing(pts: np.ndarray, cad_mesh, cover: float, min_points: int,
             sensor_origin, max_angle_deg: float) -> list[SurfaceDefect]:
    from dg_vision.inspect3d.registration import prepare_cad

    target = prepare_cad(cad_mesh)
    samples, normals = target.points, target.normals
    keep = np.ones(samples.shape[0], dtype=bool)
    if sensor_origin is not None:
        keep = _visible(as_mesh(cad_mesh), samples, normals, sensor_origin, max_angle_deg)
    # A scan point covers a CAD sample when it is within ``cover`` of it and near its
    # tangent plane (within cover / 2), so points on an adjacent wall do not cover a face.
    kept = np.flatnonzero(keep)
    tree = cKDTree(pts)
    dk, ik = tree.query(samples[kept], k=8, distance_upper_bound=cover)
    found = np.isfinite(dk)
    offs = pts[np.where(found, ik, 0)] - samples[kept][:, None, :]
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
            gap, _ = cKDTree(pts).query(p)
        size, width = _extent(p)
        out.append(SurfaceDefect("missing", p.mean(axis=0), size, float(np.max(gap)),
                                 int(members.size), width, np.zeros(0, dtype=np.int64)))
    return out


def _visible(mesh: MeshArrays, samples: np.ndarray, normals: np.ndarray,
             sensor_origin, max_angle_deg: float) -> np.ndarray:
    """CAD samples a sensor can see.

    They face at least one sensor position (within ``max_angle_deg``) and are not occluded
    from it.
    """
    import open3d as o3d

    origins = np.asarray(sensor_origin, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(origins)):
        raise VisionInputError("sensor_origin must be finite")
    if not 0.0 < max_angle_deg <= 90.0:
        raise VisionInputError(f"max_view_angle_deg must be in (0, 90], got {max_angle_deg}")
    cos_max = float(np.cos(np.radians(max_angle_deg)))
    scene, center = _scene(mesh)
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
