"""Shared pieces of the 3D-inspection benchmarks.

Used by vision_icp and vision_global_registration: synthetic scans of the CAD part, poses
and pose errors (the report table/JSON: :mod:`_report`).

Scans: ``full_scan`` samples the CAD surface area-uniformly (every face seen, as a scanner
on a turntable or a multi-view cell gives), ``view_scan`` ray-casts the mesh from one
direction on a regular grid of parallel rays (a single structured-light view: only what
that side sees); both add Gaussian noise (``full_scan``: isotropic, ``view_scan``: along
the ray). Everything is seeded.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from dg_vision.inspect3d._common import as_mesh, plane_basis
from dg_vision.inspect3d.registration import rotation_angle_deg


def full_scan(mesh, n: int, sigma_mm: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` area-uniform surface points with isotropic N(0, sigma) noise (CAD frame)."""
    p, _ = as_mesh(mesh).sample_surface(n, rng)
    return p + rng.normal(0.0, sigma_mm, p.shape)


def view_scan(mesh, direction: np.ndarray, pitch_mm: float, sigma_mm: float,
              rng: np.random.Generator) -> np.ndarray:
    """Single-view scan: where parallel rays first hit the mesh (CAD frame).

    The rays run along ``-direction`` on a grid with ``pitch_mm``; N(0, sigma) noise is added
    along the ray.
    """
    import open3d as o3d

    m = as_mesh(mesh)
    d = np.asarray(direction, dtype=float)
    d /= np.linalg.norm(d)
    e1, e2 = plane_basis(d)
    c = m.vertices.mean(axis=0)
    rad = float(np.max(np.linalg.norm(m.vertices - c, axis=1)))
    g = np.arange(-rad, rad, pitch_mm) + rng.uniform(0.0, pitch_mm)
    gu, gv = np.meshgrid(g, g, indexing="ij")
    origins = c + 2.0 * rad * d + gu.reshape(-1, 1) * e1 + gv.reshape(-1, 1) * e2
    dirs = np.broadcast_to(-d, origins.shape)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(m.vertices.astype(np.float32)),
                        o3d.core.Tensor(m.triangles.astype(np.uint32)))
    rays = o3d.core.Tensor(np.hstack([origins, dirs]).astype(np.float32))
    t_hit = scene.cast_rays(rays)["t_hit"].numpy().astype(np.float64)
    ok = np.isfinite(t_hit)
    t = t_hit[ok] + rng.normal(0.0, sigma_mm, int(ok.sum()))
    return origins[ok] + t[:, None] * dirs[ok]


def small_pose(rng: np.random.Generator, max_deg: float, max_mm: float) -> np.ndarray:
    """A 4x4 pose error of bounded size.

    Rotation up to ``max_deg`` about a random axis, translation up to ``max_mm`` in a random
    direction (both magnitudes uniform).
    """
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    tr = rng.normal(size=3)
    tr *= rng.uniform(0.0, max_mm) / np.linalg.norm(tr)
    t = np.eye(4)
    t[:3, :3] = Rotation.from_rotvec(axis * math.radians(rng.uniform(0.0, max_deg))).as_matrix()
    t[:3, 3] = tr
    return t


def random_pose(rng: np.random.Generator, max_mm: float) -> np.ndarray:
    """A 4x4 pose: uniformly random rotation, translation uniform in a ball of ``max_mm``."""
    t = np.eye(4)
    t[:3, :3] = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    tr = rng.normal(size=3)
    t[:3, 3] = tr * max_mm * rng.random() ** (1.0 / 3.0) / np.linalg.norm(tr)
    return t


def move(points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (N, 3) points."""
    return points @ t[:3, :3].T + t[:3, 3]


def pose_error(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(rotation error in degrees, translation error in mm) of a scan->CAD estimate."""
    return (rotation_angle_deg(estimate[:3, :3] @ truth[:3, :3].T),
            float(np.linalg.norm(estimate[:3, 3] - truth[:3, 3])))
