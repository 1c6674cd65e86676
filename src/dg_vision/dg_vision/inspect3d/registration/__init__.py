"""Scan-to-CAD registration: deterministic global alignment, multi-scale ICP.

Millimetres; transforms map scan coordinates into the CAD frame.

* :mod:`~dg_vision.inspect3d.registration.cad_target`: :func:`prepare_cad`, a CAD mesh
  sampled and indexed once (:class:`CadTarget`, cached by mesh content);
* :mod:`~dg_vision.inspect3d.registration.icp`: :func:`icp_point_to_plane`, the fine stage,
  and the :class:`Registration` result;
* :mod:`~dg_vision.inspect3d.registration.global_search`: :func:`register_to_cad`, seeded
  candidate poses (principal axes, per-view moments, FPFH/RANSAC) refined by that ICP;
* :mod:`~dg_vision.inspect3d.registration.descriptors`: the FPFH features and view moments
  the global search compares;
* :mod:`~dg_vision.inspect3d.registration.rigid`: rigid-transform helpers
  (:func:`rotation_angle_deg`).
"""

from dg_vision.inspect3d.registration.cad_target import CadTarget, prepare_cad
from dg_vision.inspect3d.registration.descriptors import fpfh_features
from dg_vision.inspect3d.registration.global_search import register_to_cad
from dg_vision.inspect3d.registration.icp import MIN_POINTS, Registration, icp_point_to_plane
from dg_vision.inspect3d.registration.rigid import rotation_angle_deg

__all__ = [
    "MIN_POINTS", "CadTarget", "Registration", "fpfh_features", "icp_point_to_plane",
    "prepare_cad", "register_to_cad", "rotation_angle_deg",
]
