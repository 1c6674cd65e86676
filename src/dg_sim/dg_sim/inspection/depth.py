"""Depth sensor of the inspection cell: ray casting the part's mesh (Open3D RaycastingScene).

The model is a structured-light 3D camera above the conveyor (a pinhole: optical centre at
``standoff_mm`` above the belt, looking straight down), the kind used to check machined
parts in-line. It reports one point per camera ray, the rays passing through a regular grid
``pitch_mm`` apart on the belt plane over ``field_x_mm`` x ``field_y_mm``: the first surface
each ray hits. Because the rays fan out (up to ~13 deg at the field's edge for the defaults),
the sensor also sees the walls of holes, of the boss and of the step that face it, which is
what fixes the part's position and yaw when the scan is registered to the CAD model (a
scan of horizontal faces alone leaves both free). Rays that hit nothing return no point (the
black rubber belt is below the sensor's intensity threshold), so the cloud holds the part.

Noise: Gaussian along the ray, ``noise_mm`` (default 0.02 mm, a typical figure for such a
sensor at ~150 mm). Surface defects displace the hits along the face normal, moving each hit
along its ray (see :mod:`dg_sim.inspection.machined`).

Frames: the part lies on the belt at a pose (x, y, yaw) of its CAD frame in the ``conveyor``
frame (x along the travel, y across, z up from the belt surface, origin under the sensor).
Points come back in the conveyor frame, millimetres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import open3d as o3d

from dg_sim.inspection.machined import SurfaceDefect

#: Tolerance [mm] for deciding that a hit lies on a defect's face.
_FACE_TOL_MM = 1e-4


@dataclass(frozen=True)
class DepthSensorModel:
    """Ray grid, field, noise and height of the 3D camera."""

    pitch_mm: float = 0.2
    field_x_mm: float = 72.0
    field_y_mm: float = 52.0
    noise_mm: float = 0.02
    standoff_mm: float = 150.0

    def __post_init__(self) -> None:
        """Reject a grid that is empty or absurdly large."""
        if not (math.isfinite(self.pitch_mm) and self.pitch_mm > 0.0):
            raise ValueError(f"pitch_mm must be > 0, got {self.pitch_mm}")
        n = (self.field_x_mm / self.pitch_mm) * (self.field_y_mm / self.pitch_mm)
        if not (1.0 <= n <= 4e6):
            raise ValueError(f"the depth grid would have {n:.0f} rays (1..4e6 allowed): "
                             "check pitch_mm and the field")
        if not (math.isfinite(self.noise_mm) and self.noise_mm >= 0.0):
            raise ValueError(f"noise_mm must be >= 0, got {self.noise_mm}")
        if not (math.isfinite(self.standoff_mm) and self.standoff_mm > 0.0):
            raise ValueError(f"standoff_mm must be > 0, got {self.standoff_mm}")


@dataclass(frozen=True)
class PartPose:
    """Pose of the part's CAD frame on the belt: position [mm] and yaw [deg] about z."""

    x_mm: float
    y_mm: float
    yaw_deg: float

    def matrix(self) -> np.ndarray:
        """4x4 transform CAD -> conveyor [mm]."""
        c, s = math.cos(math.radians(self.yaw_deg)), math.sin(math.radians(self.yaw_deg))
        t = np.eye(4)
        t[:2, :2] = [[c, -s], [s, c]]
        t[:2, 3] = [self.x_mm, self.y_mm]
        return t


class DepthSensor:
    """Scans one mesh (built once into a ray-casting scene) at any pose."""

    def __init__(self, mesh: o3d.geometry.TriangleMesh, model: DepthSensorModel) -> None:
        """Build the ray-casting scene of ``mesh`` [mm, CAD frame]."""
        self.model = model
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
        m = model
        xs = (np.arange(int(round(m.field_x_mm / m.pitch_mm)) + 1) * m.pitch_mm
              - m.field_x_mm / 2)
        ys = (np.arange(int(round(m.field_y_mm / m.pitch_mm)) + 1) * m.pitch_mm
              - m.field_y_mm / 2)
        gx, gy = np.meshgrid(xs, ys)
        # Unit ray directions [conveyor frame] from the optical centre through the belt grid.
        d = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, -m.standoff_mm)])
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        d.flags.writeable = False
        self._dirs = d

    def scan(self, pose: PartPose, rng: np.random.Generator,
             defects: Sequence[SurfaceDefect] = ()) -> np.ndarray:
        """(N, 3) float64 points [mm, conveyor frame] of the part at ``pose``."""
        m = self.model
        c, s = math.cos(math.radians(pose.yaw_deg)), math.sin(math.radians(pose.yaw_deg))
        rot = np.array([[c, -s], [s, c]])
        # The rays expressed in the CAD frame.
        d = self._dirs
        o_cad = np.array([*((np.zeros(2) - [pose.x_mm, pose.y_mm]) @ rot), m.standoff_mm])
        d_cad = np.column_stack([d[:, :2] @ rot, d[:, 2]])
        rays = np.empty((len(d), 6), np.float32)
        rays[:, :3] = o_cad
        rays[:, 3:] = d_cad
        ans = self._scene.cast_rays(o3d.core.Tensor(rays))
        t_hit = ans["t_hit"].numpy().astype(np.float64)
        hit = np.isfinite(t_hit)
        t = t_hit[hit]
        dc = d_cad[hit]
        p_cad = o_cad + t[:, None] * dc
        normals_z = ans["primitive_normals"].numpy()[hit, 2]
        for defect in defects:
            on_face = (normals_z > 0.99) & (np.abs(p_cad[:, 2] - defect.z_mm) < _FACE_TOL_MM)
            # The face moves by dz along +z: the ray now meets it dz / d_z further along.
            t[on_face] += defect.displacement(p_cad[on_face, :2]) / dc[on_face, 2]
        if m.noise_mm > 0:
            t = t + rng.normal(0.0, m.noise_mm, t.shape)
        d_conv = d[hit]
        return np.array([0.0, 0.0, m.standoff_mm]) + t[:, None] * d_conv
