"""Boat sensors (pure, seeded): GNSS with noise and outages, IMU, compass.

All models draw from a :class:`numpy.random.Generator` that the caller seeds, so a run is
reproducible; they never import rclpy (the ``usv_sim`` node turns readings into messages).

GNSS: white noise plus a first-order Gauss-Markov (exponentially correlated) bias per axis,
the usual model of the slowly wandering error of a single-frequency receiver (e.g.
Groves, *Principles of GNSS, Inertial, and Multisensor Integrated Navigation Systems*, 2nd
ed., 2013, §9.4 and §14.2.7). During an outage window there is no fix.

IMU: what a Gazebo ``imu`` sensor with ``<localization>ENU</localization>`` reports
(orientation relative to ENU, angular velocity and *specific force* in the body frame, i.e.
``+g`` on z at rest, REP-145), with white noise and a constant turn-on bias per axis. The
default noise figures are those of the VRX WAM-V IMU (``vrx_urdf/wamv_gazebo/urdf/components/
wamv_imu.xacro``: gyro stddev 0.009 rad/s, bias mean 0.00075 rad/s; accelerometer stddev
0.021 m/s^2, bias mean 0.05 m/s^2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dg_common.geodesy import Datum, enu_to_geodetic
from dg_common.geometry import quaternion_from_yaw, wrap_angle

#: Standard gravity [m/s^2] (CGPM 1901), the specific force an IMU at rest measures on z.
GRAVITY_MPS2 = 9.80665


class SensorConfigError(ValueError):
    """A sensor model got an invalid parameter (negative sigma, malformed window, ...)."""


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A generator from a seed, or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SensorConfigError(f"seed must be a non-negative integer or a Generator, "
                                f"got {seed!r}")
    return np.random.default_rng(int(seed))


def _sigma(name: str, value: float) -> float:
    if not (math.isfinite(value) and value >= 0.0):
        raise SensorConfigError(f"{name} must be finite and >= 0, got {value!r}")
    return float(value)


class OutageWindows:
    """Time windows ``[start_s, end_s)`` during which a link or sensor is out."""

    def __init__(self, windows: Iterable[Sequence[float]] = ()) -> None:
        """Validate and sort ``windows`` (pairs of finite times with start < end).

        Raises:
            SensorConfigError: on a malformed window.

        """
        parsed = []
        for i, w in enumerate(windows):
            if len(w) != 2:
                raise SensorConfigError(f"outage window {i}: need [start_s, end_s], got {w!r}")
            start, end = float(w[0]), float(w[1])
            if not (math.isfinite(start) and math.isfinite(end) and start < end):
                raise SensorConfigError(
                    f"outage window {i}: need finite start_s < end_s, got [{start}, {end}]")
            parsed.append((start, end))
        self.windows: tuple[tuple[float, float], ...] = tuple(sorted(parsed))

    @classmethod
    def from_flat(cls, values: Sequence[float], what: str = "outage windows") -> OutageWindows:
        """Windows from a flat list ``[start0, end0, start1, end1, ...]`` (ROS parameter form).

        Raises:
            SensorConfigError: on an odd length or a malformed window.

        """
        if len(values) % 2:
            raise SensorConfigError(
                f"{what}: a flat list of [start_s, end_s] pairs needs an even length, "
                f"got {len(values)} values")
        try:
            return cls(zip(values[0::2], values[1::2], strict=True))
        except SensorConfigError as exc:
            raise SensorConfigError(f"{what}: {exc}") from None

    def active(self, t_s: float) -> bool:
        """True while ``t_s`` is inside a window."""
        return any(start <= t_s < end for start, end in self.windows)

    def __len__(self) -> int:
        """Number of windows."""
        return len(self.windows)


@dataclass(frozen=True)
class GnssFix:
    """One GNSS fix: WGS-84 position and the 1-sigma noise it was drawn with."""

    lat_deg: float
    lon_deg: float
    alt_m: float
    horizontal_sigma_m: float   #: total 1-sigma per horizontal axis (white + bias) [m]
    vertical_sigma_m: float     #: total 1-sigma up [m]


class GnssSensor:
    """GNSS receiver at the boat's antenna: noisy fixes, none during outage windows."""

    def __init__(self, datum: Datum, horizontal_sigma_m: float = 0.5,
                 vertical_sigma_m: float = 1.0, bias_sigma_m: float = 0.0,
                 bias_time_constant_s: float = 60.0, antenna_height_m: float = 1.3,
                 outages: OutageWindows | Iterable[Sequence[float]] = (),
                 rng: int | np.random.Generator = 0) -> None:
        """Create the receiver.

        Args:
            datum: origin of the ENU frame the boat moves in; fixes are WGS-84 around it.
            horizontal_sigma_m: white noise per horizontal axis [m].
            vertical_sigma_m: white noise up [m].
            bias_sigma_m: steady-state sigma of the Gauss-Markov bias per axis [m] (0: none).
            bias_time_constant_s: correlation time of that bias [s].
            antenna_height_m: antenna above the water line [m] (VRX WAM-V GPS: z 1.3 m).
            outages: windows [start_s, end_s) without a fix.
            rng: seed or generator of the noise.

        Raises:
            SensorConfigError: on an invalid parameter.

        """
        self.datum = datum
        self.horizontal_sigma_m = _sigma("horizontal_sigma_m", horizontal_sigma_m)
        self.vertical_sigma_m = _sigma("vertical_sigma_m", vertical_sigma_m)
        self.bias_sigma_m = _sigma("bias_sigma_m", bias_sigma_m)
        if not (math.isfinite(bias_time_constant_s) and bias_time_constant_s > 0.0):
            raise SensorConfigError(
                f"bias_time_constant_s must be finite and > 0, got {bias_time_constant_s!r}")
        self.bias_time_constant_s = float(bias_time_constant_s)
        if not math.isfinite(antenna_height_m):
            raise SensorConfigError(f"antenna_height_m must be finite, got {antenna_height_m}")
        self.antenna_height_m = float(antenna_height_m)
        self.outages = outages if isinstance(outages, OutageWindows) else OutageWindows(outages)
        self.rng = make_rng(rng)
        # The bias starts from its stationary distribution (no artificial transient).
        self._bias = self.rng.normal(0.0, 1.0, 3) * self.bias_sigma_m
        self._bias_t_s: float | None = None

    def _advance_bias(self, t_s: float) -> None:
        if self.bias_sigma_m == 0.0:
            return
        if self._bias_t_s is not None and t_s > self._bias_t_s:
            phi = math.exp(-(t_s - self._bias_t_s) / self.bias_time_constant_s)
            self._bias = (phi * self._bias + math.sqrt(1.0 - phi * phi) * self.bias_sigma_m
                          * self.rng.normal(0.0, 1.0, 3))
        self._bias_t_s = t_s if self._bias_t_s is None else max(self._bias_t_s, t_s)

    def in_outage(self, t_s: float) -> bool:
        """True while ``t_s`` is inside an outage window."""
        return self.outages.active(t_s)

    def fix(self, x_m: float, y_m: float, t_s: float) -> GnssFix | None:
        """A fix of the true position (east ``x_m``, north ``y_m``) at ``t_s``; None in an outage.

        The altitude is the datum's plus the antenna height (the water is a level surface,
        not the tangent plane) plus noise.

        Raises:
            ValueError: if the position is not finite.

        """
        if not (math.isfinite(x_m) and math.isfinite(y_m) and math.isfinite(t_s)):
            raise ValueError(f"GNSS: non-finite position/time ({x_m}, {y_m}, {t_s})")
        self._advance_bias(t_s)
        if self.in_outage(t_s):
            return None
        white = self.rng.normal(0.0, 1.0, 3) * (self.horizontal_sigma_m,
                                                self.horizontal_sigma_m,
                                                self.vertical_sigma_m)
        err = white + self._bias
        g = enu_to_geodetic(self.datum, x_m + err[0], y_m + err[1], 0.0)
        return GnssFix(g.lat_deg, g.lon_deg,
                       self.datum.alt_m + self.antenna_height_m + float(err[2]),
                       math.hypot(self.horizontal_sigma_m, self.bias_sigma_m),
                       math.hypot(self.vertical_sigma_m, self.bias_sigma_m))


@dataclass(frozen=True)
class ImuReading:
    """One IMU sample: orientation (x, y, z, w) relative to ENU, body rates and specific force."""

    orientation_xyzw: tuple[float, float, float, float]
    angular_velocity_radps: tuple[float, float, float]
    linear_acceleration_mps2: tuple[float, float, float]
    orientation_sigma_rad: float
    angular_velocity_sigma_radps: float
    linear_acceleration_sigma_mps2: float


class ImuSensor:
    """Planar-boat IMU: yaw, yaw rate and body accelerations with noise and turn-on bias.

    Roll and pitch are zero (the embedded boat is a 3-DOF surface model); the z gyro and the
    x/y accelerometers carry the boat's motion, z carries gravity.
    """

    def __init__(self, gyro_sigma_radps: float = 0.009, gyro_bias_radps: float = 0.00075,
                 accel_sigma_mps2: float = 0.021, accel_bias_mps2: float = 0.05,
                 orientation_sigma_rad: float = 0.01,
                 rng: int | np.random.Generator = 0) -> None:
        """Create the IMU (defaults: VRX WAM-V IMU, see the module doc).

        ``*_bias_*`` is the 1-sigma of a constant per-axis bias drawn once at turn-on.

        Raises:
            SensorConfigError: on a negative or non-finite sigma.

        """
        self.gyro_sigma_radps = _sigma("gyro_sigma_radps", gyro_sigma_radps)
        self.accel_sigma_mps2 = _sigma("accel_sigma_mps2", accel_sigma_mps2)
        self.orientation_sigma_rad = _sigma("orientation_sigma_rad", orientation_sigma_rad)
        self.rng = make_rng(rng)
        self.gyro_bias_radps = self.rng.normal(0.0, 1.0, 3) * _sigma(
            "gyro_bias_radps", gyro_bias_radps)
        self.accel_bias_mps2 = self.rng.normal(0.0, 1.0, 3) * _sigma(
            "accel_bias_mps2", accel_bias_mps2)

    def measure(self, yaw_rad: float, yaw_rate_radps: float, accel_x_mps2: float,
                accel_y_mps2: float) -> ImuReading:
        """Read the IMU for the true yaw, yaw rate and body-frame acceleration (x fwd, y left).

        Raises:
            ValueError: if an input is not finite.

        """
        values = (yaw_rad, yaw_rate_radps, accel_x_mps2, accel_y_mps2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"IMU: non-finite input {values}")
        n = self.rng.normal(0.0, 1.0, 7)
        yaw = wrap_angle(yaw_rad + self.orientation_sigma_rad * n[0])
        gyro = np.array((0.0, 0.0, yaw_rate_radps)) + self.gyro_bias_radps \
            + self.gyro_sigma_radps * n[1:4]
        acc = np.array((accel_x_mps2, accel_y_mps2, GRAVITY_MPS2)) + self.accel_bias_mps2 \
            + self.accel_sigma_mps2 * n[4:7]
        return ImuReading(quaternion_from_yaw(yaw), tuple(float(v) for v in gyro),
                          tuple(float(v) for v in acc), self.orientation_sigma_rad,
                          self.gyro_sigma_radps, self.accel_sigma_mps2)


class Compass:
    """Magnetic compass corrected to true heading: ENU yaw with a constant bias and noise."""

    def __init__(self, sigma_rad: float = 0.02, bias_rad: float = 0.0,
                 rng: int | np.random.Generator = 0) -> None:
        """Create the compass; ``bias_rad`` models an uncorrected deviation.

        Raises:
            SensorConfigError: on a negative sigma or non-finite bias.

        """
        self.sigma_rad = _sigma("sigma_rad", sigma_rad)
        if not math.isfinite(bias_rad):
            raise SensorConfigError(f"bias_rad must be finite, got {bias_rad!r}")
        self.bias_rad = float(bias_rad)
        self.rng = make_rng(rng)

    def heading(self, yaw_rad: float) -> float:
        """Measured heading (ENU yaw, wrapped to (-pi, pi]) for the true ``yaw_rad``.

        Raises:
            ValueError: if ``yaw_rad`` is not finite.

        """
        if not math.isfinite(yaw_rad):
            raise ValueError(f"compass: non-finite yaw {yaw_rad}")
        return wrap_angle(yaw_rad + self.bias_rad + self.sigma_rad * self.rng.normal())


def body_acceleration(yaw_rad: float, prev_velocity_enu_mps: tuple[float, float],
                      velocity_enu_mps: tuple[float, float], dt_s: float) -> tuple[float, float]:
    """Body-frame acceleration (x fwd, y left) [m/s^2] from two ENU velocities ``dt_s`` apart.

    The kinematic acceleration is the time derivative of the ENU velocity, rotated into the
    body frame; unlike ``u_dot``/``v_dot`` it includes the centripetal terms (``-v r``,
    ``u r``) that an accelerometer senses.

    Raises:
        ValueError: if ``dt_s`` is not > 0.

    """
    if not dt_s > 0.0:
        raise ValueError(f"dt_s must be > 0, got {dt_s}")
    ax = (velocity_enu_mps[0] - prev_velocity_enu_mps[0]) / dt_s
    ay = (velocity_enu_mps[1] - prev_velocity_enu_mps[1]) / dt_s
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return c * ax + s * ay, -s * ax + c * ay
