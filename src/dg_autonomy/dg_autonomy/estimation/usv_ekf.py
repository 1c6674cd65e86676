"""Extended Kalman filter for a surface vessel: GNSS + IMU (+ heading) in the local ENU map (pure).

State (8): ``[x, y, psi, u, v, b_g, b_ax, b_ay]`` - position in the ``map`` frame (ENU) [m],
yaw ``psi`` (counter-clockwise from east) [rad], body-frame (FLU) velocity over ground
``u`` forward / ``v`` left [m/s], gyro yaw-rate bias [rad/s] and horizontal accelerometer
biases [m/s^2]. This is the usual strapdown-aided error model reduced to the plane
(Farrell, *Aided Navigation*, 2008, ch. 11; Fossen 2021, ch. 13):

Prediction (IMU, zero-order hold over ``dt``)::

    r   = omega_z - b_g
    psi' = r
    x'  = u cos psi - v sin psi,   y' = u sin psi + v cos psi
    u'  = (a_x - b_ax) + r v,      v' = (a_y - b_ay) - r u     (with a levelled accelerometer)
    u'  = 0,                       v' = 0    (without: the body-frame velocity is a random
                                            walk, slower in sway - a boat goes where it
                                            points - which keeps the yaw observable from
                                            the GNSS track)
    biases: random walks

``a_x, a_y`` are the horizontal specific force in the body frame, gravity removed
(:func:`~dg_autonomy.estimation.sensor_conditioning.level_imu` levels the IMU's acceleration
with its roll/pitch). Process noise enters as continuous white noise (gyro, accelerometer or
velocity walk, bias walks) integrated over ``dt`` (``Q_d = G Q_c G^T dt``); the covariance
uses the first-order transition ``F_d = I + F dt``.

Updates:

* GNSS position (ENU, from :mod:`dg_common.geodesy`) of an antenna at the body lever arm ``l``:
  ``h(x) = p + R(psi) l``. Innovations are gated by the normalized innovation squared
  ``NIS = nu^T S^-1 nu`` against a chi-square threshold (2 DOF; default 13.8, 99.9 %), so an
  outlier (multipath jump) is rejected and counted. After ``max_consecutive_rejections``
  gated fixes in a row the filter assumes it, not the receiver, is wrong (e.g. after a long
  outage): it re-initializes the position on the fix (``reset_count``).
* Heading (IMU orientation or compass), yaw innovation wrapped to (-pi, pi], gated with 1 DOF
  (default 10.8, 99.9 %).
* Without any heading aid the yaw starts unknown, where an EKF linearizes badly; the filter
  then aligns coarsely on the GNSS course over ground once the track is
  ``align_min_distance_m`` long (yaw sigma ``align_yaw_sigma_rad``), then refines.

GNSS outages need no special case: predictions keep running (dead reckoning) and the position
covariance grows (with the accelerometer, roughly as ``sigma_a^2 t^3 / 3``); the first fix after
the outage pulls the estimate back. Measurements are applied at the current filter time (the
GNSS latency of one IMU period, ~10-20 ms, is neglected).

Bad input (NaN/Inf, non-positive ``dt`` or sigma) raises :class:`EkfInputError` (an
:class:`~dg_common.validation.InvalidInput`) before the state is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dg_common.geometry import wrap_angle
from dg_common.validation import InvalidInput

#: State indices.
X, Y, PSI, U, V, BG, BAX, BAY = range(8)
N_STATES = 8

#: chi-square 99.9 % quantiles for 1 and 2 degrees of freedom.
CHI2_999_1DOF = 10.828
CHI2_999_2DOF = 13.816


class EkfInputError(InvalidInput):
    """A measurement or prediction input is invalid (non-finite, out of range)."""


@dataclass(frozen=True)
class UsvEkfConfig:
    """Noise model, gating and initialization of :class:`UsvEkf`.

    Noise densities are continuous-time (per square root of a second). The defaults suit a
    consumer MEMS IMU on a small boat in waves and a standalone GNSS receiver.
    """

    gyro_noise_radps: float = 0.005            #: yaw-rate white noise [rad/s/sqrt(Hz)]
    gyro_bias_walk: float = 1e-4               #: gyro bias random walk [rad/s/sqrt(s)]
    accel_noise_mps2: float = 0.1              #: horizontal accel noise [m/s^2/sqrt(Hz)]
    accel_bias_walk: float = 1e-3              #: accel bias random walk [m/s^2/sqrt(s)]
    velocity_walk_mps: float = 0.3             #: surge walk without accel [m/s/sqrt(s)]
    sway_walk_mps: float = 0.05                #: sway walk without accel [m/s/sqrt(s)]
    gnss_gate_chi2: float = CHI2_999_2DOF      #: NIS gate for GNSS (2 DOF)
    heading_gate_chi2: float = CHI2_999_1DOF   #: NIS gate for heading (1 DOF)
    max_consecutive_rejections: int = 10       #: gated fixes in a row before re-initializing
    gnss_lever_arm_m: tuple[float, float] = (0.0, 0.0)  #: antenna in base_link (x fwd, y left)
    initial_yaw_sigma_rad: float = math.pi     #: yaw sigma when no heading came before GNSS
    initial_velocity_sigma_mps: float = 1.0
    initial_gyro_bias_sigma_radps: float = 0.01
    initial_accel_bias_sigma_mps2: float = 0.1
    max_dt_s: float = 1.0                      #: longer predictions are split into pieces
    align_min_distance_m: float = 5.0          #: GNSS track length for the course alignment
    align_yaw_sigma_rad: float = 0.2           #: yaw sigma after it (sideslip allowance)

    def __post_init__(self) -> None:
        """Reject non-finite or non-positive settings."""
        for name in ("gyro_noise_radps", "gyro_bias_walk", "accel_noise_mps2",
                     "accel_bias_walk", "velocity_walk_mps", "sway_walk_mps",
                     "initial_yaw_sigma_rad",
                     "initial_velocity_sigma_mps", "initial_gyro_bias_sigma_radps",
                     "initial_accel_bias_sigma_mps2"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")
        for name in ("gnss_gate_chi2", "heading_gate_chi2", "max_dt_s", "align_min_distance_m",
                     "align_yaw_sigma_rad"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0.0):
                raise ValueError(f"{name} must be finite and > 0, got {v}")
        if not (isinstance(self.max_consecutive_rejections, int)
                and self.max_consecutive_rejections >= 1):
            raise ValueError("max_consecutive_rejections must be an int >= 1")
        if len(self.gnss_lever_arm_m) != 2 or not all(map(math.isfinite, self.gnss_lever_arm_m)):
            raise ValueError("gnss_lever_arm_m must be two finite numbers")


def _finite(what: str, *values: float) -> None:
    for v in values:
        try:
            ok = math.isfinite(v)
        except TypeError:
            ok = False
        if not ok:
            raise EkfInputError(f"{what}: non-finite or non-numeric value {v!r}")


class UsvEkf:
    """The filter. Uninitialized until the first GNSS fix (predictions before it are ignored).

    Counters: ``gnss_accepted``, ``gnss_rejected``, ``heading_accepted``, ``heading_rejected``,
    ``reset_count``; ``time_since_gnss_s`` counts predicted time since the last accepted fix.
    """

    def __init__(self, config: UsvEkfConfig | None = None) -> None:
        """A filter with ``config`` (defaults when None)."""
        self.config = config or UsvEkfConfig()
        self.x = np.zeros(N_STATES)
        self.P = np.eye(N_STATES)
        self.initialized = False
        self.yaw_rate_radps = 0.0           #: last bias-corrected yaw rate [rad/s]
        self.gnss_accepted = 0
        self.gnss_rejected = 0
        self.heading_accepted = 0
        self.heading_rejected = 0
        self.reset_count = 0
        self.consecutive_rejections = 0
        self.last_nis = math.nan
        self.time_since_gnss_s = math.inf
        self._pending_yaw: tuple[float, float] | None = None   # heading seen before GNSS
        self.aligned = False                #: yaw known (heading aid or GNSS course)
        self.time_s = 0.0                   #: predicted time since construction [s]
        self._align_anchor: tuple[float, float, float] | None = None   # (t, e, n)

    # --- accessors ------------------------------------------------------------------------
    @property
    def state(self) -> np.ndarray:
        """Copy of the state vector (see module doc for the order)."""
        return self.x.copy()

    @property
    def covariance(self) -> np.ndarray:
        """Copy of the 8x8 covariance."""
        return self.P.copy()

    def position_sigma_m(self) -> float:
        """Square root of the trace of the position covariance [m] (the horizontal error radius)."""
        return math.sqrt(max(0.0, self.P[X, X] + self.P[Y, Y]))

    def yaw_rate_variance_radps2(self) -> float:
        """Variance of :attr:`yaw_rate_radps` [(rad/s)^2]: gyro noise density^2 + bias variance."""
        return self.config.gyro_noise_radps ** 2 + float(self.P[BG, BG])

    def velocity_enu(self) -> tuple[float, float]:
        """Velocity over ground (east, north) [m/s]."""
        c, s = math.cos(self.x[PSI]), math.sin(self.x[PSI])
        return (c * self.x[U] - s * self.x[V], s * self.x[U] + c * self.x[V])

    # --- prediction -----------------------------------------------------------------------
    def predict(self, yaw_rate_radps: float, accel_xy_mps2: Sequence[float] | None,
                dt_s: float) -> None:
        """Propagate over ``dt_s`` [s] with the gyro yaw rate and the horizontal acceleration.

        ``accel_xy_mps2`` is the levelled body-frame specific force (a_x, a_y) [m/s^2] with
        gravity removed; None selects the constant-velocity model.
        """
        _finite("predict dt_s", dt_s)
        _finite("predict yaw_rate_radps", yaw_rate_radps)
        if accel_xy_mps2 is not None:
            if len(accel_xy_mps2) != 2:
                raise EkfInputError("predict accel_xy_mps2: need two values")
            _finite("predict accel_xy_mps2", *accel_xy_mps2)
        if dt_s <= 0.0:
            raise EkfInputError(f"predict dt_s must be > 0, got {dt_s}")
        if abs(yaw_rate_radps) > 20.0:
            raise EkfInputError(f"predict yaw rate {yaw_rate_radps} rad/s out of range")
        if accel_xy_mps2 is not None and max(map(abs, accel_xy_mps2)) > 100.0:
            raise EkfInputError(f"predict acceleration {accel_xy_mps2} m/s^2 out of range")
        if not self.initialized:
            return
        n = max(1, math.ceil(dt_s / self.config.max_dt_s))
        for _ in range(n):
            self._predict(float(yaw_rate_radps), accel_xy_mps2, dt_s / n)
        self.time_since_gnss_s += dt_s
        self.time_s += dt_s

    def _predict(self, w: float, acc: Sequence[float] | None, dt: float) -> None:
        cfg = self.config
        x = self.x
        psi, u, v = x[PSI], x[U], x[V]
        r = w - x[BG]
        c, s = math.cos(psi), math.sin(psi)
        fc = np.zeros((N_STATES, N_STATES))
        fc[X, PSI], fc[X, U], fc[X, V] = -u * s - v * c, c, -s
        fc[Y, PSI], fc[Y, U], fc[Y, V] = u * c - v * s, s, c
        fc[PSI, BG] = -1.0
        q = np.zeros(N_STATES)
        q[PSI] = cfg.gyro_noise_radps ** 2
        q[BG] = cfg.gyro_bias_walk ** 2
        g_psi = np.zeros(N_STATES)      # how the gyro noise enters (through r)
        g_psi[PSI] = 1.0
        if acc is not None:
            ax, ay = float(acc[0]) - x[BAX], float(acc[1]) - x[BAY]
            fc[U, V], fc[U, BG], fc[U, BAX] = r, -v, -1.0
            fc[V, U], fc[V, BG], fc[V, BAY] = -r, u, -1.0
            g_psi[U], g_psi[V] = v, -u
            q[U] = q[V] = cfg.accel_noise_mps2 ** 2
            q[BAX] = q[BAY] = cfg.accel_bias_walk ** 2
            du, dv = ax + r * v, ay - r * u
        else:
            q[U], q[V] = cfg.velocity_walk_mps ** 2, cfg.sway_walk_mps ** 2
            du = dv = 0.0
        # State: midpoint (second-order) integration of the kinematics.
        psi_m = psi + 0.5 * r * dt
        u_m, v_m = u + 0.5 * du * dt, v + 0.5 * dv * dt
        cm, sm = math.cos(psi_m), math.sin(psi_m)
        x[X] += (u_m * cm - v_m * sm) * dt
        x[Y] += (u_m * sm + v_m * cm) * dt
        x[PSI] = wrap_angle(psi + r * dt)
        if acc is not None:
            x[U] += (ax + r * v_m) * dt
            x[V] += (ay - r * u_m) * dt
        fd = np.eye(N_STATES) + fc * dt
        qd = np.diag(q)
        qd[PSI, PSI] = 0.0
        qd += np.outer(g_psi, g_psi) * cfg.gyro_noise_radps ** 2
        self.P = fd @ self.P @ fd.T + qd * dt
        self.P = 0.5 * (self.P + self.P.T)
        self.yaw_rate_radps = r

    # --- updates --------------------------------------------------------------------------
    def _initialize(self, e: float, n: float, rm: np.ndarray) -> None:
        cfg = self.config
        self.x = np.zeros(N_STATES)
        yaw, yaw_var = (0.0, cfg.initial_yaw_sigma_rad ** 2)
        if self._pending_yaw is not None:
            yaw, yaw_var = self._pending_yaw
        lx, ly = cfg.gnss_lever_arm_m
        c, s = math.cos(yaw), math.sin(yaw)
        self.x[X], self.x[Y] = e - (c * lx - s * ly), n - (s * lx + c * ly)
        self.x[PSI] = yaw
        self.P = np.diag([0.0, 0.0, yaw_var, cfg.initial_velocity_sigma_mps ** 2,
                          cfg.initial_velocity_sigma_mps ** 2,
                          cfg.initial_gyro_bias_sigma_radps ** 2,
                          cfg.initial_accel_bias_sigma_mps2 ** 2,
                          cfg.initial_accel_bias_sigma_mps2 ** 2])
        self.P[:2, :2] = rm + np.eye(2) * (lx * lx + ly * ly) * yaw_var
        self.initialized = True
        self.aligned = self.aligned or yaw_var <= cfg.align_yaw_sigma_rad ** 2
        self.consecutive_rejections = 0
        self.time_since_gnss_s = 0.0

    def update_gnss(self, e_m: float, n_m: float, sigma_m: float | None = None,
                    cov_m2: Sequence[Sequence[float]] | None = None) -> bool:
        """Fuse a GNSS position (ENU [m]) with std ``sigma_m`` or a 2x2 covariance ``cov_m2``.

        Returns True when accepted (or used to initialize/re-initialize), False when gated.
        """
        _finite("gnss position", e_m, n_m)
        if cov_m2 is not None:
            rm = np.asarray(cov_m2, dtype=float)
            if rm.shape != (2, 2) or not np.all(np.isfinite(rm)):
                raise EkfInputError("gnss covariance must be a finite 2x2 matrix")
            rm = 0.5 * (rm + rm.T)
            if np.linalg.eigvalsh(rm)[0] <= 0.0:
                raise EkfInputError("gnss covariance must be positive definite")
        else:
            if sigma_m is None:
                raise EkfInputError("gnss: give sigma_m or cov_m2")
            _finite("gnss sigma_m", sigma_m)
            if sigma_m <= 0.0:
                raise EkfInputError(f"gnss sigma_m must be > 0, got {sigma_m}")
            rm = np.eye(2) * sigma_m ** 2
        if not self.initialized:
            self._initialize(e_m, n_m, rm)
            self.gnss_accepted += 1
            return True
        if not self.aligned:
            self._align_on_course(e_m, n_m)
        lx, ly = self.config.gnss_lever_arm_m
        c, s = math.cos(self.x[PSI]), math.sin(self.x[PSI])
        hm = np.zeros((2, N_STATES))
        hm[0, X] = hm[1, Y] = 1.0
        hm[0, PSI], hm[1, PSI] = -s * lx - c * ly, c * lx - s * ly
        pred = np.array([self.x[X] + c * lx - s * ly, self.x[Y] + s * lx + c * ly])
        innov = np.array([e_m, n_m]) - pred
        sm = hm @ self.P @ hm.T + rm
        nis = float(innov @ np.linalg.solve(sm, innov))
        self.last_nis = nis
        if nis > self.config.gnss_gate_chi2:
            self.gnss_rejected += 1
            self.consecutive_rejections += 1
            if self.consecutive_rejections >= self.config.max_consecutive_rejections:
                # The filter, not the receiver, is wrong: restart the position on the fix,
                # keeping heading, velocity and biases.
                keep_x, keep_p = self.x.copy(), self.P.copy()
                self._pending_yaw = (float(keep_x[PSI]), float(keep_p[PSI, PSI]))
                self._initialize(e_m, n_m, rm)
                self.x[2:] = keep_x[2:]
                self.P[2:, 2:] = keep_p[2:, 2:]
                self.reset_count += 1
                return True
            return False
        self._correct(hm, rm, innov, sm)
        self.gnss_accepted += 1
        self.consecutive_rejections = 0
        self.time_since_gnss_s = 0.0
        return True

    def _align_on_course(self, e: float, n: float) -> None:
        """Coarse yaw alignment from the GNSS track (no heading aid yet).

        With an unknown yaw the EKF's linearization is poor (it can settle on a wrong yaw).
        Once the fixes have moved ``align_min_distance_m`` from an anchor fix, the course over
        ground becomes the yaw (sigma ``align_yaw_sigma_rad``, which allows for sideslip) and
        the mean speed the surge velocity; position, biases and their covariance stay.
        """
        cfg = self.config
        if self._align_anchor is None or self.time_s - self._align_anchor[0] > 30.0:
            self._align_anchor = (self.time_s, e, n)    # start or restart (boat was still)
            return
        t0, e0, n0 = self._align_anchor
        dist, dt = math.hypot(e - e0, n - n0), self.time_s - t0
        if dist < cfg.align_min_distance_m or dt <= 0.0:
            return
        yaw_var = cfg.align_yaw_sigma_rad ** 2
        for i in (PSI, U, V):
            self.P[i, :] = 0.0
            self.P[:, i] = 0.0
        self.x[PSI] = math.atan2(n - n0, e - e0)
        self.x[U], self.x[V] = dist / dt, 0.0
        self.P[PSI, PSI] = yaw_var
        self.P[U, U] = self.P[V, V] = (0.2 * dist / dt + 0.1) ** 2
        self.aligned = True
        self._align_anchor = None

    def update_heading(self, yaw_rad: float, sigma_rad: float) -> bool:
        """Fuse an absolute yaw (ENU) measurement; returns False when gated out."""
        _finite("heading", yaw_rad, sigma_rad)
        if sigma_rad <= 0.0:
            raise EkfInputError(f"heading sigma_rad must be > 0, got {sigma_rad}")
        if not self.initialized:
            self._pending_yaw = (wrap_angle(yaw_rad), sigma_rad ** 2)
            return True
        hm = np.zeros((1, N_STATES))
        hm[0, PSI] = 1.0
        rm = np.array([[sigma_rad ** 2]])
        innov = np.array([wrap_angle(yaw_rad - self.x[PSI])])
        sm = hm @ self.P @ hm.T + rm
        nis = float(innov[0] ** 2 / sm[0, 0])
        if nis > self.config.heading_gate_chi2 and self.P[PSI, PSI] < 1.0:
            self.heading_rejected += 1
            return False
        self._correct(hm, rm, innov, sm)
        self.heading_accepted += 1
        self.aligned = self.aligned or self.P[PSI, PSI] <= self.config.align_yaw_sigma_rad ** 2
        return True

    def _correct(self, hm: np.ndarray, rm: np.ndarray, innov: np.ndarray, sm: np.ndarray) -> None:
        gain = np.linalg.solve(sm, hm @ self.P).T
        self.x = self.x + gain @ innov
        self.x[PSI] = wrap_angle(self.x[PSI])
        ikh = np.eye(N_STATES) - gain @ hm
        self.P = ikh @ self.P @ ikh.T + gain @ rm @ gain.T            # Joseph form
        self.P = 0.5 * (self.P + self.P.T)
