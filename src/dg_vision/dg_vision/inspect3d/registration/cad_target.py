"""A CAD mesh prepared for registration and deviation: :class:`CadTarget`, :func:`prepare_cad`.

Area-uniform surface samples with their exact face normals, a k-d tree and the surface
moments are built once per mesh; the ray-casting scene, watertightness check, view moments
and FPFH features lazily. Prepared targets are cached by mesh content, so inspecting many
parts of one type pays the preparation once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from scipy.spatial import cKDTree

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d._common import (
    MeshArrays,
    MeshLike,
    as_mesh,
    check_watertight,
    voxel_downsample,
)
from dg_vision.inspect3d.registration.descriptors import _view_moments, fpfh_features

if TYPE_CHECKING:  # open3d is imported lazily where it is used (import time)
    import open3d as o3d


_T = TypeVar("_T")


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
            return pts, fpfh_features(pts, voxel, self.normals[idx])

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
