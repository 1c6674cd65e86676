"""3D inspection against CAD (millimetres; (N, 3) float arrays or Open3D objects).

* :mod:`~dg_vision.inspect3d.registration`: :func:`register_to_cad` (deterministic global
  alignment + multi-scale point-to-plane ICP), :func:`icp_point_to_plane`;
* :mod:`~dg_vision.inspect3d.deviation`: :func:`signed_deviation` (signed distance to the
  CAD surface) and :func:`find_surface_defects` (dents, bumps, missing material);
* :mod:`~dg_vision.inspect3d.features`: :func:`flatness` (minimum zone), :func:`step_height`,
  :func:`hole`;
* :mod:`~dg_vision.inspect3d.cad`: watertight meshes of 2.5D machined parts
  (:func:`extrude_regions`, :func:`example_part`).

Bad input raises :class:`dg_vision.errors.VisionInputError`; NaN/inf points are dropped and
counted.
"""

from dg_vision.inspect3d.cad import Region, example_part, extrude_regions
from dg_vision.inspect3d.deviation import SurfaceDefect, find_surface_defects, signed_deviation
from dg_vision.inspect3d.features import (
    Flatness,
    Hole,
    flatness,
    hole,
    step_height,
)
from dg_vision.inspect3d.registration import (
    CadTarget,
    Registration,
    icp_point_to_plane,
    prepare_cad,
    register_to_cad,
    rotation_angle_deg,
)

__all__ = [
    "CadTarget", "Flatness", "Hole", "Region", "Registration", "SurfaceDefect",
    "example_part", "extrude_regions", "find_surface_defects", "flatness",
    "hole", "icp_point_to_plane", "prepare_cad", "register_to_cad",
    "rotation_angle_deg", "signed_deviation", "step_height",
]
