"""What the global search compares: FPFH features of a cloud and the CAD's per-view moments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dg_vision.inspect3d._common import plane_basis

if TYPE_CHECKING:
    from dg_vision.inspect3d.registration.cad_target import CadTarget


def fpfh_features(points: np.ndarray, voxel: float, orient: str | np.ndarray) -> np.ndarray:
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
