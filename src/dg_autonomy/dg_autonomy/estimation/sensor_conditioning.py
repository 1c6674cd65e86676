"""Raw GNSS and IMU samples -> the inputs of :mod:`dg_autonomy.estimation.usv_ekf` (pure).

* :func:`gnss_covariance_en_m2`: the east/north covariance of a fix from a NavSatFix-style
  3x3 ENU covariance and its type. An unknown covariance becomes ``sigma_default_m``; an
  approximated or diagonal-known one keeps its diagonal only (the receiver did not vouch for
  cross terms); a known one is used whole. Every eigenvalue is floored at
  ``sigma_floor_m ** 2``: receivers report optimistic sigmas (centimetres with multipath), and
  an over-confident fix would drag the filter and then gate every honest one out.
* :func:`level_imu`: the IMU's roll and pitch (from its orientation) level the specific
  force, whose horizontal part drives the EKF's velocity, and turn the body rates into the
  yaw rate the EKF integrates. Body frame FLU, ZYX Euler angles (REP-103); the kinematics
  are Fossen 2021 (*Handbook of Marine Craft Hydrodynamics and Motion Control*, 2nd ed.,
  ch. 2, Euler-angle attitude representation):

      psi_dot = (q sin(phi) + r cos(phi)) / cos(theta)
      f_level = R_y(theta) R_x(phi) f           (x and y rows: body axes turned level)

  An IMU without orientation is taken as level with yaw 0 (the EKF then gets no heading).
* :func:`heading_sigma_rad`: the sigma of the orientation's yaw, floored.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

#: |cos(pitch)| floor in the yaw-rate kinematics (pitch within 0.06 deg of +-90 deg).
MIN_COS_PITCH = 1e-3


class CovarianceType(enum.IntEnum):
    """How a fix's covariance is known; values equal ``sensor_msgs/NavSatFix.COVARIANCE_TYPE_*``."""

    UNKNOWN = 0
    APPROXIMATED = 1
    DIAGONAL_KNOWN = 2
    KNOWN = 3


def gnss_covariance_en_m2(position_covariance_enu_m2: Sequence[float], covariance_type: int,
                          sigma_default_m: float, sigma_floor_m: float) -> np.ndarray | None:
    """East/north 2x2 covariance [m^2] of a fix, floored (see the module doc).

    ``position_covariance_enu_m2`` is the row-major 3x3 ENU covariance of
    ``sensor_msgs/NavSatFix``; a type other than :class:`CovarianceType` ``UNKNOWN`` and
    ``KNOWN`` keeps the diagonal only. Returns None when the covariance is malformed: not
    nine values, a non-finite value or a negative east or north variance.
    """
    floor_m2 = sigma_floor_m ** 2
    if covariance_type == CovarianceType.UNKNOWN:
        return np.eye(2) * max(sigma_default_m ** 2, floor_m2)
    c = np.asarray(position_covariance_enu_m2, dtype=float)
    if c.size != 9:
        return None
    c = c.reshape(3, 3)[:2, :2]
    if not np.all(np.isfinite(c)) or c[0, 0] < 0.0 or c[1, 1] < 0.0:
        return None
    if covariance_type != CovarianceType.KNOWN:
        c = np.diag(np.diag(c))
    c = 0.5 * (c + c.T)
    w, vec = np.linalg.eigh(c)
    return vec @ np.diag(np.maximum(w, floor_m2)) @ vec.T


@dataclass(frozen=True)
class LevelledImu:
    """One IMU sample in the EKF's terms."""

    roll_rad: float                      #: phi of the orientation [rad] (0 without one)
    pitch_rad: float                     #: theta of the orientation [rad] (0 without one)
    yaw_rad: float                       #: psi of the orientation, ENU [rad] (0 without one)
    yaw_rate_radps: float                #: psi_dot [rad/s]
    accel_xy_mps2: tuple[float, float]   #: horizontal specific force, levelled axes [m/s^2]


def level_imu(angular_velocity_radps: Sequence[float],
              linear_acceleration_mps2: Sequence[float],
              orientation_xyzw: Sequence[float] | None = None) -> LevelledImu:
    """Yaw rate and levelled horizontal specific force of a body-frame IMU sample.

    ``angular_velocity_radps`` (p, q, r) and ``linear_acceleration_mps2`` (f_x, f_y, f_z) are
    in the IMU's FLU body frame; ``orientation_xyzw`` is its orientation quaternion (any
    norm > 0; None: no orientation, taken as level). See the module doc for the equations.
    """
    if orientation_xyzw is None:
        roll = pitch = yaw = 0.0
    else:
        yaw, pitch, roll = (float(a) for a in
                            Rotation.from_quat(orientation_xyzw).as_euler("ZYX"))
    _, wy, wz = angular_velocity_radps
    fx, fy, fz = linear_acceleration_mps2
    cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
    yaw_rate = (wy * sr + wz * cr) / max(cp, MIN_COS_PITCH)
    ax_level = cp * fx + sp * (sr * fy + cr * fz)
    ay_level = cr * fy - sr * fz
    return LevelledImu(roll, pitch, yaw, yaw_rate, (ax_level, ay_level))


def heading_sigma_rad(yaw_variance_rad2: float, sigma_floor_rad: float) -> float:
    """Sigma [rad] of a yaw with variance ``yaw_variance_rad2`` (negative: 0), floored."""
    return max(math.sqrt(max(yaw_variance_rad2, 0.0)), sigma_floor_rad)
