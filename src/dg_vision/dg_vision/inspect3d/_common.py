"""Input checks shared by the 3D tools: point arrays and CAD meshes, with clear errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt

from dg_vision.errors import VisionInputError

if TYPE_CHECKING:  # open3d is imported lazily where it is used (import time)
    import open3d as o3d

    from dg_vision.inspect3d.registration import CadTarget

#: Points the 3D tools accept: an (N, 3) array-like, or an Open3D legacy or tensor cloud.
PointsLike: TypeAlias = "npt.ArrayLike | o3d.geometry.PointCloud | o3d.t.geometry.PointCloud"
#: Meshes they accept (see :func:`as_mesh`): an Open3D legacy or tensor TriangleMesh, a
#: ``(vertices (V, 3), triangles (T, 3))`` pair, a checked :class:`MeshArrays` or a prepared
#: :class:`~dg_vision.inspect3d.registration.CadTarget`.
MeshLike: TypeAlias = ("o3d.geometry.TriangleMesh | o3d.t.geometry.TriangleMesh"
                       " | tuple[npt.ArrayLike, npt.ArrayLike] | MeshArrays | CadTarget")

#: Largest point cloud accepted: 20 M points (a full-frame 5 MP depth image is 5 M).
MAX_POINTS = 20_000_000


@dataclass(frozen=True)
class Cloud:
    """A checked point cloud: finite (N, 3) float64 points and how many were dropped."""

    points: np.ndarray
    n_dropped: int
    #: Indices of the kept points in the caller's array.
    kept: np.ndarray


def as_points(points: PointsLike, *, name: str = "points", min_points: int = 3) -> Cloud:
    """Check ``points`` ((N, 3) array-like or an Open3D point cloud); drop NaN/inf rows.

    Raises :class:`VisionInputError` when the shape is wrong or fewer than ``min_points``
    finite points remain.
    """
    if hasattr(points, "points") and not isinstance(points, np.ndarray):  # legacy o3d cloud
        points = np.asarray(points.points)
    elif hasattr(points, "point") and hasattr(points.point, "positions"):  # tensor cloud
        points = points.point.positions.numpy()
    try:
        raw = np.asarray(points)
        if raw.dtype.kind not in "iuf":  # strings, objects, booleans are not coordinates
            raise VisionInputError(f"{name} must be an (N, 3) array of numbers, got dtype "
                                   f"{raw.dtype}")
        arr = raw.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise VisionInputError(f"{name} must be an (N, 3) numeric array: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise VisionInputError(f"{name} must have shape (N, 3), got {arr.shape}")
    if arr.shape[0] > MAX_POINTS:
        raise VisionInputError(f"{name} has {arr.shape[0]} points, more than {MAX_POINTS}")
    if arr.shape[0] and np.isfinite(np.sum(arr)):  # fast path: a finite sum, all finite
        kept = np.arange(arr.shape[0])
    else:
        kept = np.flatnonzero(np.all(np.isfinite(arr), axis=1))
    n_dropped = int(arr.shape[0] - kept.size)
    if kept.size < min_points:
        raise VisionInputError(
            f"{name} has {kept.size} finite points ({n_dropped} NaN/inf dropped of "
            f"{arr.shape[0]}); at least {min_points} are needed")
    pts = arr if n_dropped == 0 else arr[kept]
    return Cloud(np.ascontiguousarray(pts), n_dropped, kept)


@dataclass(frozen=True)
class MeshArrays:
    """A checked triangle mesh: vertices (V, 3) float64, triangles (T, 3) int64."""

    vertices: np.ndarray
    triangles: np.ndarray

    # Computed once per instance (cached_property stores into the instance's __dict__,
    # which a frozen dataclass without slots allows); the arrays must not be modified.
    @cached_property
    def _key(self) -> str:
        h = hashlib.sha1(self.vertices.tobytes())
        h.update(self.triangles.tobytes())
        return h.hexdigest()

    @cached_property
    def _areas(self) -> np.ndarray:
        v = self.vertices[self.triangles]
        a = 0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)
        a.setflags(write=False)
        return a

    def key(self) -> str:
        """Content hash (for caches; computed once)."""
        return self._key

    def triangle_areas(self) -> np.ndarray:
        """Area of every triangle (mm^2; computed once, read-only)."""
        return self._areas

    def sample_surface(self, n: int, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` area-uniform points on the surface (N, 3) and the triangle of each (N,)."""
        area = self.triangle_areas()
        tri = rng.choice(area.size, size=n, p=area / area.sum())
        u, v = rng.random(n), rng.random(n)
        flip = u + v > 1.0
        u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
        a, b, c = (self.vertices[self.triangles[tri, k]] for k in range(3))
        return a + u[:, None] * (b - a) + v[:, None] * (c - a), tri


def as_mesh(mesh: MeshLike, *, name: str = "cad_mesh") -> MeshArrays:
    """Accept an Open3D legacy or tensor TriangleMesh, or a ``(vertices, triangles)`` pair.

    A :class:`MeshArrays` (already checked) is returned as it is, and a prepared
    :class:`~dg_vision.inspect3d.registration.CadTarget` gives its mesh.
    """
    if isinstance(mesh, MeshArrays):
        return mesh
    if isinstance(getattr(mesh, "mesh", None), MeshArrays):  # a CadTarget
        return mesh.mesh
    try:
        if hasattr(mesh, "vertex") and hasattr(mesh, "triangle"):  # tensor mesh
            v = mesh.vertex.positions.numpy()
            t = mesh.triangle.indices.numpy()
        elif hasattr(mesh, "vertices") and hasattr(mesh, "triangles"):  # legacy mesh
            v = np.asarray(mesh.vertices)
            t = np.asarray(mesh.triangles)
        elif isinstance(mesh, (tuple, list)) and len(mesh) == 2:
            v, t = mesh
        else:
            raise VisionInputError(
                f"{name} must be an Open3D TriangleMesh or a (vertices, triangles) pair, got "
                f"{type(mesh).__name__}")
        v = np.asarray(v, dtype=np.float64)
        t = np.asarray(t)
    except VisionInputError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise VisionInputError(f"{name} could not be read as a mesh: {exc}") from exc
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
        raise VisionInputError(f"{name} vertices must be (V>=4, 3), got {v.shape}")
    if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] < 4:
        raise VisionInputError(f"{name} triangles must be (T>=4, 3), got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise VisionInputError(f"{name} triangle indices must be integers, got {t.dtype}")
    if not np.all(np.isfinite(v)):
        raise VisionInputError(f"{name} has NaN or infinite vertices")
    if t.min() < 0 or t.max() >= v.shape[0]:
        raise VisionInputError(f"{name} triangle indices out of range 0..{v.shape[0] - 1}")
    out = MeshArrays(np.ascontiguousarray(v), np.ascontiguousarray(t, dtype=np.int64))
    if not np.any(out.triangle_areas() > 0.0):
        raise VisionInputError(f"{name} has no triangle with a positive area")
    return out


def check_watertight(mesh: MeshArrays, *, name: str = "cad_mesh") -> None:
    """Raise :class:`VisionInputError` unless the mesh is closed and consistently oriented.

    Every edge must be shared by exactly two triangles using it in opposite directions;
    only then are inside and outside defined.
    """
    t = mesh.triangles
    # Merge duplicated vertices first (STL-style meshes repeat them per triangle).
    _, inverse = np.unique(np.round(mesh.vertices, 9), axis=0, return_inverse=True)
    t = inverse.reshape(-1)[t]
    t = t[(t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])]
    directed = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    undirected = np.sort(directed, axis=1)
    _, counts = np.unique(undirected, axis=0, return_counts=True)
    open_edges = int(np.count_nonzero(counts == 1))
    nonmanifold = int(np.count_nonzero(counts > 2))
    if open_edges or nonmanifold:
        raise VisionInputError(
            f"{name} is not watertight ({open_edges} boundary edges, {nonmanifold} edges "
            "shared by more than two triangles): signed distance needs a closed surface")
    _, dcounts = np.unique(directed, axis=0, return_counts=True)
    if np.any(dcounts > 1):
        raise VisionInputError(
            f"{name} is closed but its triangles are not consistently oriented "
            "(an edge is used twice in the same direction)")


def plane_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors that make a right-handed orthonormal basis (e1, e2, n) with ``n``.

    ``n`` must be a unit vector.
    """
    a = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(n, a)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(n, e1)


def voxel_downsample(points: np.ndarray, voxel: float) -> np.ndarray:
    """Deterministic voxel-grid filter: the mean of the points in each occupied voxel.

    Ordered by voxel key (no hashing, no threads: the same input gives the same output).
    """
    keys = np.floor(points / voxel).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    out = np.zeros((counts.size, 3))
    for k in range(3):
        out[:, k] = np.bincount(inverse, weights=points[:, k], minlength=counts.size)
    return out / counts[:, None]
