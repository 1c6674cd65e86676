"""Differential-drive ground vehicle: unicycle kinematics, wheel odometry and a GNSS fix (pure).

Model (REP-103: x forward, y left, z up; world frame ENU):

* The commanded forward speed v [m/s] and yaw rate omega [rad/s] are first clamped to the
  speed limits, then the actual velocities move toward them at most by the acceleration
  limits over the step (rate limiting, as gz-sim DiffDrive's ``SpeedLimiter`` does).
* The velocities are then held constant over the step (zero-order hold, like a physics step)
  and the pose integrated *exactly* along the resulting arc::

      x' = x + v dt sinc(omega dt / 2) cos(yaw + omega dt / 2)
      y' = y + v dt sinc(omega dt / 2) sin(yaw + omega dt / 2)
      yaw' = yaw + omega dt

  with ``sinc(u) = sin(u) / u`` (-> 1 as u -> 0). This equals the textbook arc formula
  ``x' = x + v/omega (sin(yaw') - sin(yaw))`` for omega != 0 and the straight line for
  omega = 0, without the division by zero.
* Wheel odometry dead-reckons the same way from *measured* velocities, v + N(0, sigma_v^2) and
  omega + N(0, sigma_omega^2) (white noise per step from a seeded ``numpy`` Generator),
  starting at the initial pose: the odom frame is placed on the world frame at start, so
  waypoints given in odom and the ground truth share coordinates until odometry drifts.
  (gz-sim DiffDrive starts its odometry at identity instead; both agree when the vehicle
  spawns at the world origin, the default.) Its pose variance grows by (sigma_v dt)^2 and
  (sigma_omega dt)^2 per step (integrated white noise, cross terms ignored).
* GNSS: a world position (east, north, up) [m] relative to a geodetic datum is converted to
  WGS-84 latitude/longitude/altitude with :mod:`dg_common.geodesy` (exact ENU <-> geodetic
  through ECEF; the tangent-plane error bound is stated there). Gaussian noise with sigma in
  metres is added in east/north/up before the conversion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dg_common.geodesy import Datum, Geodetic, enu_to_geodetic
from dg_common.geometry import wrap_angle

#: Variance [m^2, rad^2] reported for perfectly known quantities (never exactly zero).
VARIANCE_FLOOR = 1e-9


@dataclass(frozen=True)
class Pose2D:
    """Planar pose: position [m] and yaw [rad] (counter-clockwise from x)."""

    x_m: float = 0.0
    y_m: float = 0.0
    yaw_rad: float = 0.0


@dataclass(frozen=True)
class DriveLimits:
    """Velocity and acceleration limits of the drive."""

    speed_max_mps: float = 1.0            #: forward speed limit [m/s]
    speed_min_mps: float = -0.5           #: reverse speed limit [m/s] (<= 0)
    yaw_rate_max_radps: float = 1.5       #: |yaw rate| limit [rad/s]
    accel_max_mps2: float = 1.0           #: |linear acceleration| limit [m/s^2]
    yaw_accel_max_radps2: float = 3.0     #: |yaw acceleration| limit [rad/s^2]

    def __post_init__(self) -> None:
        """Reject limits that cannot be met."""
        if not self.speed_min_mps <= 0.0 <= self.speed_max_mps:
            raise ValueError(f"need speed_min_mps <= 0 <= speed_max_mps, got "
                             f"{self.speed_min_mps}, {self.speed_max_mps}")
        for name in ("yaw_rate_max_radps", "accel_max_mps2", "yaw_accel_max_radps2"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class OdometryNoise:
    """Standard deviations of the velocity measurements behind wheel odometry."""

    speed_sigma_mps: float = 0.0
    yaw_rate_sigma_radps: float = 0.0

    def __post_init__(self) -> None:
        """Reject negative or non-finite sigmas."""
        for name in ("speed_sigma_mps", "yaw_rate_sigma_radps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")


def integrate_pose(pose: Pose2D, speed_mps: float, yaw_rate_radps: float,
                   dt_s: float) -> Pose2D:
    """Pose after ``dt_s`` [s] at constant speed and yaw rate (exact arc, see module doc)."""
    half_turn = 0.5 * yaw_rate_radps * dt_s
    chord_m = speed_mps * dt_s * float(np.sinc(half_turn / math.pi))
    heading = pose.yaw_rad + half_turn
    return Pose2D(pose.x_m + chord_m * math.cos(heading),
                  pose.y_m + chord_m * math.sin(heading),
                  wrap_angle(pose.yaw_rad + 2.0 * half_turn))


def rate_limit(current: float, target: float, max_rate: float, dt_s: float) -> float:
    """Move ``current`` toward ``target`` by at most ``max_rate * dt_s``."""
    step = max_rate * dt_s
    return current + min(max(target - current, -step), step)


class DiffDriveModel:
    """Unicycle with limits; true pose (world frame) and wheel odometry (odom frame)."""

    def __init__(self, limits: DriveLimits, initial_pose: Pose2D = Pose2D(),
                 noise: OdometryNoise = OdometryNoise(),
                 rng: np.random.Generator | None = None) -> None:
        """Place the vehicle at ``initial_pose``, at rest; odometry starts there too.

        ``rng`` draws the odometry noise (a seeded Generator makes runs reproducible); it may
        be None only when the noise is zero.
        """
        if rng is None and (noise.speed_sigma_mps > 0.0 or noise.yaw_rate_sigma_radps > 0.0):
            raise ValueError("odometry noise needs a random Generator (rng)")
        self.limits = limits
        self.noise = noise
        self._rng = rng
        self.pose = initial_pose          #: true pose, world frame
        self.speed_mps = 0.0              #: true forward speed
        self.yaw_rate_radps = 0.0         #: true yaw rate
        self.odom_pose = initial_pose     #: dead-reckoned pose, odom frame
        self.odom_speed_mps = 0.0         #: measured forward speed
        self.odom_yaw_rate_radps = 0.0    #: measured yaw rate
        self.odom_position_variance_m2 = VARIANCE_FLOOR
        self.odom_yaw_variance_rad2 = VARIANCE_FLOOR

    def step(self, cmd_speed_mps: float, cmd_yaw_rate_radps: float, dt_s: float) -> None:
        """Advance by ``dt_s`` [s] (> 0) under the commanded speed and yaw rate (finite)."""
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        if not (math.isfinite(cmd_speed_mps) and math.isfinite(cmd_yaw_rate_radps)):
            raise ValueError(f"non-finite command ({cmd_speed_mps}, {cmd_yaw_rate_radps})")
        lim = self.limits
        v_target = min(max(cmd_speed_mps, lim.speed_min_mps), lim.speed_max_mps)
        w_target = min(max(cmd_yaw_rate_radps, -lim.yaw_rate_max_radps), lim.yaw_rate_max_radps)
        self.speed_mps = rate_limit(self.speed_mps, v_target, lim.accel_max_mps2, dt_s)
        self.yaw_rate_radps = rate_limit(
            self.yaw_rate_radps, w_target, lim.yaw_accel_max_radps2, dt_s)
        self.pose = integrate_pose(self.pose, self.speed_mps, self.yaw_rate_radps, dt_s)

        v_meas, w_meas = self.speed_mps, self.yaw_rate_radps
        if self._rng is not None:
            v_meas += self.noise.speed_sigma_mps * float(self._rng.standard_normal())
            w_meas += self.noise.yaw_rate_sigma_radps * float(self._rng.standard_normal())
        self.odom_speed_mps, self.odom_yaw_rate_radps = v_meas, w_meas
        self.odom_pose = integrate_pose(self.odom_pose, v_meas, w_meas, dt_s)
        self.odom_position_variance_m2 += (self.noise.speed_sigma_mps * dt_s) ** 2
        self.odom_yaw_variance_rad2 += (self.noise.yaw_rate_sigma_radps * dt_s) ** 2


class GnssModel:
    """GNSS fixes with white Gaussian position noise [m]."""

    def __init__(self, datum: Datum, horizontal_sigma_m: float,
                 vertical_sigma_m: float, rng: np.random.Generator) -> None:
        """Fixes relative to ``datum`` (the world origin) with the given sigmas (>= 0)."""
        for name, v in (("horizontal_sigma_m", horizontal_sigma_m),
                        ("vertical_sigma_m", vertical_sigma_m)):
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        self.datum = datum
        self.horizontal_sigma_m = horizontal_sigma_m
        self.vertical_sigma_m = vertical_sigma_m
        self._rng = rng

    def fix(self, east_m: float, north_m: float, up_m: float = 0.0) -> Geodetic:
        """A noisy fix (lat_deg, lon_deg, alt_m) of the world position (east, north, up) [m]."""
        ne, nn, nu = self._rng.standard_normal(3)
        return enu_to_geodetic(self.datum, east_m + self.horizontal_sigma_m * float(ne),
                               north_m + self.horizontal_sigma_m * float(nn),
                               up_m + self.vertical_sigma_m * float(nu))

    def covariance_enu_m2(self) -> tuple[float, ...]:
        """Row-major 3x3 ENU position covariance [m^2], as ``NavSatFix`` carries it."""
        h2 = max(self.horizontal_sigma_m ** 2, VARIANCE_FLOOR)
        v2 = max(self.vertical_sigma_m ** 2, VARIANCE_FLOOR)
        return (h2, 0.0, 0.0, 0.0, h2, 0.0, 0.0, 0.0, v2)
