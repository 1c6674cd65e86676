"""Surge-speed and heading controllers of a surface vessel: ``(tau_X [N], tau_N [N m])``.

Model (Fossen, *Handbook of Marine Craft Hydrodynamics and Motion Control*, 2nd ed., Wiley
2021, ch. 6-7: the decoupled surge and yaw subsystems of the 3-DOF manoeuvring model):

    (m - X_udot) u_dot + X_u u + X_uu |u| u = tau_X + w_X
    (I_z - N_rdot) r_dot + N_r r + N_rr |r| r = tau_N + w_N

with positive damping coefficients (VRX ``usv_gazebo_dynamics_plugin`` sign convention) and
unknown environmental terms ``w``.

Heading (Fossen 2021, chapter "Motion control systems": PID pole placement with a
reference model and feed-forward): a
second-order reference model with rate and acceleration limits turns the desired heading
into a smooth ``(psi_ref, r_ref, r_dot_ref)``; then

    tau_N = J (r_dot_ref - 2 zeta w_n (r - r_ref) - w_n^2 e - w_i w_n^2 int e) + N_r r + N_rr |r| r

(``J = I_z - N_rdot``, ``e = wrap(psi - psi_ref)``), which places the error poles of the
linearised loop at ``w_n``, damping ``zeta``; the integral (``w_i = w_n / 10``, Fossen's
rule of thumb) removes constant moments (wind, asymmetric thrust).

Speed: feed-forward of the acceleration and damping at the (acceleration-limited) reference
speed plus a PI on the speed error, ``tau_X = M (u_dot_ref + k_p (u_ref - u)) + X_u u_ref +
X_uu |u_ref| u_ref + k_i int (u_ref - u)``; the integral absorbs current and wind drag.

Anti-windup: integrators freeze while the previous allocation saturated (conditional
integration, Åström & Hägglund, *Advanced PID Control*, ISA 2006) and are clamped.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from dg_common.geometry import wrap_angle


class ControllerStatus(enum.Enum):
    """Result of one controller step (Ruckig's ``Result`` idiom)."""

    OK = "ok"                                    #: command computed
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite state or reference; zero output


@dataclass(frozen=True)
class VesselModel:
    """Surge/yaw rigid-body, added-mass and damping coefficients (positive values, SI).

    Defaults: WAM-V of VRX (``wamv_gazebo`` dynamics plugin: mass 180 kg, Izz 446 kg m^2,
    xU 51.3, xUU 72.4, nR 400, added masses 0).
    """

    mass_kg: float = 180.0
    izz_kgm2: float = 446.0
    xu_dot_kg: float = 0.0       #: added mass in surge (magnitude) [kg]
    nr_dot_kgm2: float = 0.0     #: added inertia in yaw (magnitude) [kg m^2]
    yv_dot_kg: float = 0.0       #: added mass in sway (magnitude) [kg]
    xu_nspm: float = 51.3        #: linear surge damping [N s/m]
    xuu_ns2pm2: float = 72.4     #: quadratic surge damping [N s^2/m^2]
    yv_nspm: float = 40.0        #: linear sway damping [N s/m]
    yvv_ns2pm2: float = 0.0      #: quadratic sway damping [N s^2/m^2]
    nr_nmspr: float = 400.0      #: linear yaw damping [N m s/rad]
    nrr_nms2pr2: float = 0.0     #: quadratic yaw damping [N m s^2/rad^2]

    def __post_init__(self) -> None:
        """Require finite, non-negative coefficients and positive inertia."""
        for name, value in vars(self).items():
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if self.mass_kg <= 0.0 or self.izz_kgm2 <= 0.0:
            raise ValueError("mass_kg and izz_kgm2 must be > 0")

    @classmethod
    def from_hull(cls, hull: Any) -> VesselModel:
        """Build from a record with the fields of ``dg_sim.usv.dynamics.HullParams``.

        Duck-typed so that dg_autonomy does not import the simulator.
        """
        return cls(mass_kg=hull.mass_kg, izz_kgm2=hull.izz_kgm2, xu_dot_kg=hull.xu_dot_kg,
                   yv_dot_kg=hull.yv_dot_kg, nr_dot_kgm2=hull.nr_dot_kgm2, xu_nspm=hull.x_u,
                   xuu_ns2pm2=hull.x_uu, yv_nspm=hull.y_v, yvv_ns2pm2=hull.y_vv,
                   nr_nmspr=hull.n_r, nrr_nms2pr2=hull.n_rr)

    @property
    def surge_inertia_kg(self) -> float:
        """Rigid-body plus added mass in surge [kg]."""
        return self.mass_kg + self.xu_dot_kg

    @property
    def sway_inertia_kg(self) -> float:
        """Rigid-body plus added mass in sway [kg]."""
        return self.mass_kg + self.yv_dot_kg

    @property
    def yaw_inertia_kgm2(self) -> float:
        """Rigid-body plus added inertia in yaw [kg m^2]."""
        return self.izz_kgm2 + self.nr_dot_kgm2

    def surge_drag_n(self, u_mps: float) -> float:
        """Surge damping force at speed ``u`` [N] (positive for u > 0)."""
        return self.xu_nspm * u_mps + self.xuu_ns2pm2 * abs(u_mps) * u_mps

    def sway_drag_n(self, v_mps: float) -> float:
        """Sway damping force at sway speed ``v`` [N]."""
        return self.yv_nspm * v_mps + self.yvv_ns2pm2 * abs(v_mps) * v_mps

    def yaw_drag_nm(self, r_radps: float) -> float:
        """Yaw damping moment at rate ``r`` [N m]."""
        return self.nr_nmspr * r_radps + self.nrr_nms2pr2 * abs(r_radps) * r_radps


@dataclass(frozen=True)
class HeadingSpeedConfig:
    """Tuning (SI units). Defaults suit the WAM-V at 0.5-2.5 m/s."""

    heading_bandwidth_radps: float = 1.2     #: w_n of the heading error dynamics
    heading_damping: float = 1.0             #: zeta
    heading_integral_ratio: float = 0.1      #: w_i / w_n (Fossen: 1/10; 0: no integral)
    heading_integral_limit_rad_s: float = 2.0  #: |int e| clamp [rad s]
    ref_bandwidth_radps: float = 2.0         #: heading reference model natural frequency
    ref_max_rate_radps: float = 0.6          #: reference yaw-rate limit
    ref_max_accel_radps2: float = 1.0        #: reference yaw-acceleration limit
    speed_kp_per_s: float = 0.8              #: speed error gain (times surge inertia) [1/s]
    speed_ki_n_per_m: float = 60.0           #: speed error integral gain [N / m]
    speed_integral_limit_n: float = 200.0    #: |integral force| clamp [N]
    max_accel_mps2: float = 0.4              #: speed reference acceleration limit
    max_decel_mps2: float = 0.6              #: speed reference deceleration limit

    def __post_init__(self) -> None:
        """Reject non-finite, negative or zero (where needed) settings."""
        for name, value in vars(self).items():
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        for name in ("heading_bandwidth_radps", "ref_bandwidth_radps", "ref_max_rate_radps",
                     "ref_max_accel_radps2", "max_accel_mps2", "max_decel_mps2"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be > 0")


@dataclass(frozen=True)
class ControlOutput:
    """Generalised forces for the allocation plus the references actually tracked."""

    tau_x_n: float
    tau_n_nm: float
    psi_ref_rad: float
    r_ref_radps: float
    u_ref_mps: float
    status: ControllerStatus


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


class HeadingController:
    """Heading reference model + PID with damping compensation (see module docstring)."""

    def __init__(self, model: VesselModel, config: HeadingSpeedConfig) -> None:
        """Create the controller; the reference starts at the first measured heading."""
        self.model, self.config = model, config
        self.reset()

    def reset(self, psi_rad: float | None = None, r_radps: float = 0.0) -> None:
        """Forget the integral; restart the reference at ``psi_rad`` (None: next measurement)."""
        self._psi_ref = psi_rad
        self._r_ref = r_radps if psi_rad is not None else 0.0
        self._integral = 0.0

    @property
    def integral_rad_s(self) -> float:
        """Current heading-error integral [rad s]."""
        return self._integral

    def step(self, psi_rad: float, r_radps: float, psi_d_rad: float, dt_s: float,
             saturated: bool = False) -> tuple[float, float, float, ControllerStatus]:
        """One step: ``(tau_N, psi_ref, r_ref, status)``; ``saturated`` freezes the integral."""
        if not _finite(psi_rad, r_radps, psi_d_rad, dt_s) or dt_s < 0.0:
            return 0.0, psi_d_rad, 0.0, ControllerStatus.ERROR_INVALID_INPUT
        c, m = self.config, self.model
        if self._psi_ref is None:
            self._psi_ref, self._r_ref = psi_rad, r_radps
        # Reference model: critically damped 2nd order on the wrapped error, rate/acc limited.
        w = c.ref_bandwidth_radps
        err_ref = wrap_angle(psi_d_rad - self._psi_ref)
        acc = w * w * err_ref - 2.0 * w * self._r_ref
        acc = max(-c.ref_max_accel_radps2, min(c.ref_max_accel_radps2, acc))
        r_new = max(-c.ref_max_rate_radps, min(c.ref_max_rate_radps, self._r_ref + acc * dt_s))
        if dt_s > 0.0:
            acc = (r_new - self._r_ref) / dt_s
        self._psi_ref = wrap_angle(self._psi_ref + 0.5 * (self._r_ref + r_new) * dt_s)
        self._r_ref = r_new
        # Keep the reference from running away from a vessel that cannot follow it.
        lag = wrap_angle(self._psi_ref - psi_rad)
        if abs(lag) > math.pi / 2:
            self._psi_ref = wrap_angle(psi_rad + math.copysign(math.pi / 2, lag))
        e = wrap_angle(psi_rad - self._psi_ref)
        wn, zeta = c.heading_bandwidth_radps, c.heading_damping
        if not saturated and c.heading_integral_ratio > 0.0:
            lim = c.heading_integral_limit_rad_s
            self._integral = max(-lim, min(lim, self._integral + e * dt_s))
        j = m.yaw_inertia_kgm2
        a_cmd = (acc - 2.0 * zeta * wn * (r_radps - self._r_ref) - wn * wn * e
                 - c.heading_integral_ratio * wn ** 3 * self._integral)
        tau_n = j * a_cmd + m.yaw_drag_nm(r_radps)
        return tau_n, self._psi_ref, self._r_ref, ControllerStatus.OK


class SpeedController:
    """Surge speed: acceleration-limited reference, feed-forward and PI (module docstring)."""

    def __init__(self, model: VesselModel, config: HeadingSpeedConfig) -> None:
        """Create the controller; the reference starts at the first measured speed."""
        self.model, self.config = model, config
        self.reset()

    def reset(self, u_mps: float | None = None) -> None:
        """Forget the integral; restart the reference at ``u_mps`` (None: next measurement)."""
        self._u_ref = u_mps
        self._integral_n = 0.0

    @property
    def integral_n(self) -> float:
        """Current integral force [N]."""
        return self._integral_n

    def step(self, u_mps: float, u_d_mps: float, dt_s: float,
             saturated: bool = False) -> tuple[float, float, ControllerStatus]:
        """One step: ``(tau_X, u_ref, status)``; ``saturated`` freezes the integral."""
        if not _finite(u_mps, u_d_mps, dt_s) or dt_s < 0.0:
            return 0.0, u_d_mps, ControllerStatus.ERROR_INVALID_INPUT
        c, m = self.config, self.model
        if self._u_ref is None:
            self._u_ref = u_mps
        du = u_d_mps - self._u_ref
        speeding_up = du * self._u_ref >= 0.0 and abs(u_d_mps) > abs(self._u_ref)
        step = (c.max_accel_mps2 if speeding_up else c.max_decel_mps2) * dt_s
        du = max(-step, min(step, du))
        u_dot_ref = du / dt_s if dt_s > 0.0 else 0.0
        self._u_ref += du
        err = self._u_ref - u_mps
        if not saturated:
            lim = c.speed_integral_limit_n
            self._integral_n = max(-lim, min(lim, self._integral_n
                                             + c.speed_ki_n_per_m * err * dt_s))
        tau_x = (m.surge_inertia_kg * (u_dot_ref + c.speed_kp_per_s * err)
                 + m.surge_drag_n(self._u_ref) + self._integral_n)
        return tau_x, self._u_ref, ControllerStatus.OK


class HeadingSpeedController:
    """Heading and surge-speed control together: desired ``(psi, u)`` -> ``(tau_X, tau_N)``."""

    def __init__(self, model: VesselModel | None = None,
                 config: HeadingSpeedConfig | None = None) -> None:
        """Create both loops (defaults: WAM-V model, default tuning)."""
        self.model = model or VesselModel()
        self.config = config or HeadingSpeedConfig()
        self.heading = HeadingController(self.model, self.config)
        self.speed = SpeedController(self.model, self.config)

    def reset(self) -> None:
        """Forget integrals and references (e.g. on a new plan or after a hold)."""
        self.heading.reset()
        self.speed.reset()

    def step(self, psi_rad: float, r_radps: float, u_mps: float, psi_d_rad: float,
             u_d_mps: float, dt_s: float, saturated: bool = False) -> ControlOutput:
        """One control step at measured heading, yaw rate and surge speed (body frame).

        ``saturated``: whether the previous allocation had to clip (freezes integrators).
        A non-finite input gives zero forces and ``ERROR_INVALID_INPUT``.
        """
        tau_n, psi_ref, r_ref, st_h = self.heading.step(psi_rad, r_radps, psi_d_rad, dt_s,
                                                        saturated)
        tau_x, u_ref, st_s = self.speed.step(u_mps, u_d_mps, dt_s, saturated)
        if ControllerStatus.ERROR_INVALID_INPUT in (st_h, st_s):
            return ControlOutput(0.0, 0.0, psi_d_rad, 0.0, u_d_mps,
                                 ControllerStatus.ERROR_INVALID_INPUT)
        return ControlOutput(tau_x, tau_n, psi_ref, r_ref, u_ref, ControllerStatus.OK)
