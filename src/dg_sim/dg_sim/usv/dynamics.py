"""3-DOF (surge, sway, yaw) maneuvering model of a twin-thruster USV (pure, no rclpy).

Model (Fossen, *Handbook of Marine Craft Hydrodynamics and Motion Control*, 2nd ed., Wiley 2021,
ch. 6 and §10.3), written for relative velocities ``nu_r = nu - nu_c``::

    M nu_r' + C(nu_r) nu_r + D(nu_r) nu_r = tau + tau_env
    nu' = nu_r' + nu_c'          nu_c = R(psi)^T V_c,   nu_c' = r (v_c, -u_c, 0)
    eta' = R(psi) nu     (x' = u cos psi - v sin psi,  y' = u sin psi + v cos psi,  psi' = r)

* Frames: world ENU (``map``; x east, y north, yaw ``psi`` counter-clockwise from east, REP-103)
  and body FLU (``base_link``; u forward, v to the LEFT, r counter-clockwise). Fossen uses NED/FRD;
  flipping y and z flips v, r, Y and N together, and the 3-DOF equations keep their form.
* ``M = diag(m + a11, m + a22, Iz + a66)`` with positive added masses ``a11 = -X_udot``,
  ``a22 = -Y_vdot``, ``a66 = -N_rdot`` (CG at the origin: x_g = 0).
* ``C(nu_r) nu_r = (-(m + a22) v_r r,  (m + a11) u_r r,  (a22 - a11) u_r v_r)``: rigid-body plus
  added-mass Coriolis/centripetal terms (Fossen 2021 eqs. 6.43, 6.51); the last one is the Munk
  moment. Writing the rigid-body part in relative velocities is exact for an irrotational,
  constant current (Fossen 2021, Property 10.1); a current that varies along the track is
  treated as quasi-steady (its gradient is neglected).
* ``D(nu_r) nu_r = ((X_u + X_uu |u_r|) u_r, (Y_v + Y_vv |v_r|) v_r, (N_r + N_rr |r|) r)`` with
  positive coefficients (the VRX ``SimpleHydrodynamics`` form).
* Thrusters: two fixed, stern-mounted, at body y = +y_m (left) and -y_m (right). Each command is
  clamped to ``[-thrust_rev_max_n, thrust_fwd_max_n]`` (saturation), then the actual thrust
  follows it through a first-order lag with time constant ``thruster_time_constant_s``
  (discretized exactly over the step; 0 = instantaneous). ``tau = (F_l + F_r, 0,
  y_m (F_r - F_l))``: more thrust on the left turns the boat clockwise (to starboard).
* Integration: classical RK4 on the 6-vector (x, y, psi, u, v, r), with the thrust and the
  environmental load held over each step (zero-order hold) and sub-steps of at most
  ``MAX_SUBSTEP_S``.

Hulls (parameters cited at each constant below): :data:`WAMV` (VRX WAM-V) and :data:`OTTER`
(Maritime Robotics Otter, Fossen's MSS ``otter.m``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dg_common.geometry import wrap_angle

#: Longest internal integration step [s]; longer steps are split evenly.
MAX_SUBSTEP_S = 0.05
#: Water density used for the Otter coefficients [kg/m^3] (otter.m).
RHO_SEAWATER = 1025.0
G_MPS2 = 9.81


class UsvModelError(ValueError):
    """Invalid hull parameters, state or input of the USV model."""


@dataclass(frozen=True)
class HullParams:
    """Rigid-body, hydrodynamic and propulsion parameters of a twin-thruster USV (SI units).

    Damping and added-mass coefficients are positive magnitudes (Fossen's ``-X_u`` etc.).
    ``wind_coeff`` is the VRX ``USVWind`` coefficient vector (X [kg/m], Y [kg/m], N [kg]) used by
    :class:`dg_sim.usv.disturbances.Wind`.
    """

    name: str
    mass_kg: float
    izz_kgm2: float
    xu_dot_kg: float             #: surge added mass a11 = -X_udot
    yv_dot_kg: float             #: sway added mass a22 = -Y_vdot
    nr_dot_kgm2: float           #: yaw added inertia a66 = -N_rdot
    x_u: float                   #: linear surge damping [N s/m]
    x_uu: float                  #: quadratic surge damping [N s^2/m^2]
    y_v: float                   #: linear sway damping [N s/m]
    y_vv: float                  #: quadratic sway damping [N s^2/m^2]
    n_r: float                   #: linear yaw damping [N m s]
    n_rr: float                  #: quadratic yaw damping [N m s^2]
    thruster_y_m: float          #: lateral offset of each thruster (left +y, right -y) [m]
    thruster_x_m: float          #: longitudinal thruster position (stern < 0) [m]
    thrust_fwd_max_n: float      #: forward thrust limit of one thruster [N]
    thrust_rev_max_n: float      #: reverse thrust limit of one thruster, as a magnitude [N]
    thruster_time_constant_s: float  #: first-order lag of the thrust [s] (0 = none)
    length_m: float              #: hull length (waves: sample points at +-L/4) [m]
    beam_m: float                #: overall beam [m]
    wind_coeff: tuple[float, float, float] = (0.5, 0.5, 0.33)

    def __post_init__(self) -> None:
        """Reject non-finite, negative or impossible parameters."""
        for f in ("mass_kg", "izz_kgm2", "thruster_y_m", "thrust_fwd_max_n", "length_m",
                  "beam_m"):
            v = getattr(self, f)
            if not (math.isfinite(v) and v > 0.0):
                raise UsvModelError(f"{self.name}: {f} must be finite and > 0, got {v}")
        for f in ("xu_dot_kg", "yv_dot_kg", "nr_dot_kgm2", "x_u", "x_uu", "y_v", "y_vv", "n_r",
                  "n_rr", "thrust_rev_max_n", "thruster_time_constant_s"):
            v = getattr(self, f)
            if not (math.isfinite(v) and v >= 0.0):
                raise UsvModelError(f"{self.name}: {f} must be finite and >= 0, got {v}")
        if not math.isfinite(self.thruster_x_m):
            raise UsvModelError(f"{self.name}: thruster_x_m must be finite")
        if self.x_u + self.x_uu <= 0.0 or self.y_v + self.y_vv <= 0.0 or \
                self.n_r + self.n_rr <= 0.0:
            raise UsvModelError(f"{self.name}: every axis needs some damping")
        if len(self.wind_coeff) != 3 or not all(math.isfinite(c) and c >= 0.0
                                                for c in self.wind_coeff):
            raise UsvModelError(f"{self.name}: wind_coeff must be three finite values >= 0")

    @property
    def m11(self) -> float:
        """Surge inertia m + a11 [kg]."""
        return self.mass_kg + self.xu_dot_kg

    @property
    def m22(self) -> float:
        """Sway inertia m + a22 [kg]."""
        return self.mass_kg + self.yv_dot_kg

    @property
    def m33(self) -> float:
        """Yaw inertia Iz + a66 [kg m^2]."""
        return self.izz_kgm2 + self.nr_dot_kgm2

    @property
    def max_yaw_moment_nm(self) -> float:
        """Largest |yaw moment| of the differential thrust (one forward, one reverse) [N m]."""
        return self.thruster_y_m * (self.thrust_fwd_max_n + self.thrust_rev_max_n)


def surge_thrust_for_speed(params: HullParams, u_mps: float) -> float:
    """Total thrust [N] that holds the steady surge speed ``u_mps`` through water (no sway/yaw)."""
    return (params.x_u + params.x_uu * abs(u_mps)) * u_mps


def steady_surge_speed(params: HullParams, thrust_total_n: float) -> float:
    """Steady surge speed [m/s] under a constant total thrust [N]: the damping balance.

    Solves ``X_u u + X_uu |u| u = T`` for u (sign of T).
    """
    t = abs(thrust_total_n)
    if params.x_uu > 0.0:
        u = (-params.x_u + math.sqrt(params.x_u ** 2 + 4.0 * params.x_uu * t)) / (2 * params.x_uu)
    else:
        u = t / params.x_u
    return math.copysign(u, thrust_total_n)


def max_surge_speed(params: HullParams) -> float:
    """Top speed through water [m/s] with both thrusters at the forward limit."""
    return steady_surge_speed(params, 2.0 * params.thrust_fwd_max_n)


# --- VRX WAM-V ------------------------------------------------------------------------------
#: VRX WAM-V (osrf/vrx, Gazebo Harmonic version):
#: * mass 180 kg, Izz 446 kg m^2: ``wamv_description`` base_link inertial;
#: * hydrodynamics ``vrx_urdf/wamv_gazebo/urdf/dynamics/wamv_gazebo_dynamics_plugin.xacro``
#:   (``vrx::SimpleHydrodynamics``): xDotU = yDotV = nDotR = 0, xU 51.3, xUU 72.4, yV 40,
#:   yVV 0, nR 400, nRR 0;
#: * thrusters ``thruster_layouts/wamv_aft_thrusters.xacro``: engines at
#:   (-2.373776, +-1.027135) m;
#: * thrust limits ``thruster_layouts/wamv_gazebo_thruster_config.xacro``: gz Thruster
#:   ``max_thrust_cmd = (xU + xUU v_max) v_max / 2`` with v_max = 7.71667 m/s (15 kn), i.e.
#:   2353.5 N; ``min_thrust_cmd`` is not set there, so gz-sim's default -1000 N applies;
#: * the gz Thruster applies the commanded force at once; the 0.2 s lag is our assumption for
#:   an electric outboard's spin-up (Fossen's Otter uses 0.1 s, see below);
#: * wind coefficients (.5, .5, .33): VRX ``USVWind`` ``coeff_vector`` of the WAM-V (Sarda et al.,
#:   Ocean Eng. 2016); length 4.9 m (hull_length of ``vrx::Surface``), beam 2.4 m.
WAMV = HullParams(
    name="wamv", mass_kg=180.0, izz_kgm2=446.0,
    xu_dot_kg=0.0, yv_dot_kg=0.0, nr_dot_kgm2=0.0,
    x_u=51.3, x_uu=72.4, y_v=40.0, y_vv=0.0, n_r=400.0, n_rr=0.0,
    thruster_y_m=1.027135, thruster_x_m=-2.373776,
    thrust_fwd_max_n=(51.3 + 72.4 * 7.71667) * 7.71667 / 2.0, thrust_rev_max_n=1000.0,
    thruster_time_constant_s=0.2, length_m=4.9, beam_m=2.4, wind_coeff=(0.5, 0.5, 0.33))


# --- Maritime Robotics Otter (Fossen, MSS otter.m, 2024 revision) ---------------------------
def _otter() -> HullParams:
    """Otter 3-DOF parameters derived exactly as MSS ``otter.m`` does (payload 25 kg at CO).

    otter.m: L = 2.0 m, B = 1.08 m, hull m = 55 kg with CG rg = (0.2, 0, -0.2) m, payload
    mp = 25 kg (the default when called without arguments, at rp = 0), R66 = 0.25 L,
    T_sway = T_yaw = 1 s, U_max = 6 kn; pontoons B_pont = 0.25 m at y_pont = 0.395 m with
    Cb_pont = 0.4; propellers: Bollard pull 24.4 kgf forward and 13.6 kgf reverse for the pair;
    propeller time constant T_n = 0.1 s (Fossen's PythonVehicleSimulator ``otter.py``).
    """
    m_hull, mp, length, beam = 55.0, 25.0, 2.0, 1.08
    m = m_hull + mp
    xg = m_hull * 0.2 / m                                    # CG corrected for the payload
    ig_zz = m_hull * (0.25 * length) ** 2 + m_hull * xg ** 2  # Ig(3,3) of otter.m (rp = 0)
    iz = ig_zz + m * xg ** 2                                  # MRB(6,6) about the CO
    a11 = 2.7 * RHO_SEAWATER * (m_hull / RHO_SEAWATER) ** (5.0 / 3.0) / length ** 2  # Soding
    a22 = 1.5 * m_hull                                        # Yvdot = -1.5 m
    a66 = 1.7 * ig_zz                                         # Nrdot = -1.7 Ig(3,3)
    x_u = 24.4 * G_MPS2 / (6.0 * 0.5144)                      # Xu = -24.4 g / Umax
    y_v = (m + a22) / 1.0                                     # Yv = -M(2,2) / T_sway
    n_r = (iz + a66) / 1.0                                    # Nr = -M(6,6) / T_yaw
    # Cross-flow drag (otter.m crossFlowDrag, strip theory) collapsed to quadratic terms:
    # Y = -0.5 rho T Cd L |v| v and N = -0.5 rho T Cd (L^4 / 32) |r| r, with the draft
    # T = nabla / (2 Cb B_pont L) and Hoerner's 2-D Cd ~ 1.0 at B_pont / (2T) = 0.64.
    draft = (m / RHO_SEAWATER) / (2.0 * 0.4 * 0.25 * length)
    cd = 1.0
    y_vv = 0.5 * RHO_SEAWATER * draft * cd * length
    n_rr = 10.0 * n_r + 0.5 * RHO_SEAWATER * draft * cd * length ** 4 / 32.0  # + otter.m 10 |r|
    # Air: frontal ~ 1.08 x 0.4 m, lateral ~ 2.0 x 0.4 m above water, Cd ~ 1 (our estimate);
    # coefficient = 0.5 rho_air Cd A as VRX's USVWind computes it for boxes.
    wind = (0.5 * 1.2 * beam * 0.4, 0.5 * 1.2 * length * 0.4, 0.5 * 1.2 * length * 0.4 * 0.3)
    return HullParams(
        name="otter", mass_kg=m, izz_kgm2=iz, xu_dot_kg=a11, yv_dot_kg=a22, nr_dot_kgm2=a66,
        x_u=x_u, x_uu=0.0, y_v=y_v, y_vv=y_vv, n_r=n_r, n_rr=n_rr,
        thruster_y_m=0.395, thruster_x_m=-1.0,
        thrust_fwd_max_n=0.5 * 24.4 * G_MPS2, thrust_rev_max_n=0.5 * 13.6 * G_MPS2,
        thruster_time_constant_s=0.1, length_m=length, beam_m=beam, wind_coeff=wind)


#: Maritime Robotics Otter USV, parameters of Fossen's MSS ``otter.m`` (see :func:`_otter`).
OTTER = _otter()

HULLS = {"wamv": WAMV, "otter": OTTER}


@dataclass(frozen=True)
class UsvState:
    """Pose in the world ENU frame and velocities over ground in the body FLU frame."""

    x_m: float = 0.0          #: east [m]
    y_m: float = 0.0          #: north [m]
    psi_rad: float = 0.0      #: yaw, counter-clockwise from east [rad], wrapped to (-pi, pi]
    u_mps: float = 0.0        #: surge velocity over ground [m/s]
    v_mps: float = 0.0        #: sway velocity over ground, positive to the left [m/s]
    r_radps: float = 0.0      #: yaw rate, counter-clockwise [rad/s]

    def as_tuple(self) -> tuple[float, float, float, float, float, float]:
        """(x, y, psi, u, v, r)."""
        return (self.x_m, self.y_m, self.psi_rad, self.u_mps, self.v_mps, self.r_radps)

    def velocity_enu(self) -> tuple[float, float]:
        """Velocity over ground in the world frame (east, north) [m/s]."""
        c, s = math.cos(self.psi_rad), math.sin(self.psi_rad)
        return (c * self.u_mps - s * self.v_mps, s * self.u_mps + c * self.v_mps)

    def speed_mps(self) -> float:
        """Speed over ground [m/s]."""
        return math.hypot(self.u_mps, self.v_mps)


def _finite(what: str, values: Sequence[float], n: int) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise UsvModelError(f"{what}: expected {n} numbers, got {values!r}") from None
    if len(vals) != n:
        raise UsvModelError(f"{what}: expected {n} numbers, got {len(vals)}")
    if not all(math.isfinite(v) for v in vals):
        raise UsvModelError(f"{what}: non-finite value in {vals}")
    return vals


class UsvModel:
    """Integrates the 3-DOF model; keeps the thrusters' lagged state between steps.

    ``thrust_actual_n`` holds the (left, right) thrust [N] at the end of the last step.
    """

    def __init__(self, params: HullParams) -> None:
        """A model of the hull ``params`` with both thrusters at zero."""
        self.params = params
        self.thrust_actual_n: tuple[float, float] = (0.0, 0.0)

    def reset(self) -> None:
        """Set the thrusters back to zero."""
        self.thrust_actual_n = (0.0, 0.0)

    def saturate(self, thrust_n: float) -> float:
        """One thruster's command clamped to ``[-thrust_rev_max_n, thrust_fwd_max_n]``."""
        p = self.params
        return min(max(thrust_n, -p.thrust_rev_max_n), p.thrust_fwd_max_n)

    def thrust_to_tau(self, left_n: float, right_n: float) -> tuple[float, float, float]:
        """Generalized force (X [N], Y [N], N [N m]) of the two thrusters' forces."""
        return (left_n + right_n, 0.0, self.params.thruster_y_m * (right_n - left_n))

    def accelerations(self, state: UsvState, tau: Sequence[float],
                      current_enu_mps: Sequence[float] = (0.0, 0.0)
                      ) -> tuple[float, float, float, float, float, float]:
        """State derivative (x', y', psi', u', v', r') under the total force ``tau`` (X, Y, N)."""
        return self._deriv(state.as_tuple(), tuple(tau), tuple(current_enu_mps))

    def _deriv(self, s: tuple[float, ...], tau: tuple[float, ...],
               cur: tuple[float, float]) -> tuple[float, float, float, float, float, float]:
        p = self.params
        _, _, psi, u, v, r = s
        c, sn = math.cos(psi), math.sin(psi)
        uc, vc = c * cur[0] + sn * cur[1], -sn * cur[0] + c * cur[1]   # current in body
        ur, vr = u - uc, v - vc
        m = p.mass_kg
        cor_x = -(m + p.yv_dot_kg) * vr * r
        cor_y = (m + p.xu_dot_kg) * ur * r
        cor_n = (p.yv_dot_kg - p.xu_dot_kg) * ur * vr
        d_x = (p.x_u + p.x_uu * abs(ur)) * ur
        d_y = (p.y_v + p.y_vv * abs(vr)) * vr
        d_n = (p.n_r + p.n_rr * abs(r)) * r
        dur = (tau[0] - cor_x - d_x) / p.m11
        dvr = (tau[1] - cor_y - d_y) / p.m22
        dr = (tau[2] - cor_n - d_n) / p.m33
        # nu_c' = -S(r) nu_c for a current constant in the world frame.
        return (c * u - sn * v, sn * u + c * v, r, dur + r * vc, dvr - r * uc, dr)

    def step(self, state: UsvState, thrust_cmd_n: Sequence[float],
             tau_env: Sequence[float] = (0.0, 0.0, 0.0),
             current_enu_mps: Sequence[float] = (0.0, 0.0), dt_s: float = 0.05) -> UsvState:
        """State after ``dt_s`` [s] under thruster commands (left, right) [N].

        ``tau_env`` (X [N], Y [N], N [N m], body frame) and the current (east, north) [m/s] are
        held over the step. Commands beyond the limits saturate; non-finite inputs raise
        :class:`UsvModelError` (they never reach the thrusters).
        """
        if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and dt_s > 0.0):
            raise UsvModelError(f"dt_s must be finite and > 0, got {dt_s!r}")
        cmd = _finite("thrust_cmd_n", thrust_cmd_n, 2)
        env = _finite("tau_env", tau_env, 3)
        cur = _finite("current_enu_mps", current_enu_mps, 2)
        s = _finite("state", state.as_tuple(), 6)
        p = self.params
        targets = (self.saturate(cmd[0]), self.saturate(cmd[1]))
        n_sub = max(1, math.ceil(dt_s / MAX_SUBSTEP_S - 1e-9))
        h = dt_s / n_sub
        lag_s = p.thruster_time_constant_s
        alpha = 1.0 if lag_s <= 0.0 else -math.expm1(-h / lag_s)   # 1 - exp(-h / T)
        # Mean over the sub-step of the exact response g + (t0 - g) exp(-t / T):
        # g - (g - t0) * T (1 - exp(-h / T)) / h.
        lag_mean = 0.0 if lag_s <= 0.0 else alpha * lag_s / h
        thrust = self.thrust_actual_n
        for _ in range(n_sub):
            mean = tuple(g - (g - t) * lag_mean for t, g in zip(thrust, targets, strict=True))
            thrust = tuple(t + alpha * (g - t) for t, g in zip(thrust, targets, strict=True))
            tx, ty, tn = self.thrust_to_tau(mean[0], mean[1])
            tau = (tx + env[0], ty + env[1], tn + env[2])
            s = self._rk4(s, tau, cur, h)
        self.thrust_actual_n = (float(thrust[0]), float(thrust[1]))
        if not all(math.isfinite(v) for v in s):
            raise UsvModelError(f"integration diverged: {s}")
        return UsvState(s[0], s[1], wrap_angle(s[2]), s[3], s[4], s[5])

    def _rk4(self, s: tuple[float, ...], tau: tuple[float, ...], cur: tuple[float, float],
             h: float) -> tuple[float, ...]:
        k1 = self._deriv(s, tau, cur)
        k2 = self._deriv(tuple(a + 0.5 * h * b for a, b in zip(s, k1, strict=True)), tau, cur)
        k3 = self._deriv(tuple(a + 0.5 * h * b for a, b in zip(s, k2, strict=True)), tau, cur)
        k4 = self._deriv(tuple(a + h * b for a, b in zip(s, k3, strict=True)), tau, cur)
        return tuple(a + h / 6.0 * (b1 + 2 * b2 + 2 * b3 + b4)
                     for a, b1, b2, b3, b4 in zip(s, k1, k2, k3, k4, strict=True))

    def kinetic_energy_j(self, state: UsvState,
                         current_enu_mps: Sequence[float] = (0.0, 0.0)) -> float:
        """Kinetic energy 0.5 nu_r^T M nu_r [J] relative to the water (incl. added mass)."""
        p = self.params
        c, sn = math.cos(state.psi_rad), math.sin(state.psi_rad)
        ur = state.u_mps - (c * current_enu_mps[0] + sn * current_enu_mps[1])
        vr = state.v_mps - (-sn * current_enu_mps[0] + c * current_enu_mps[1])
        return 0.5 * (p.m11 * ur ** 2 + p.m22 * vr ** 2 + p.m33 * state.r_radps ** 2)


def with_params(params: HullParams, **changes: float) -> HullParams:
    """A copy of ``params`` with some fields changed (validated again)."""
    return replace(params, **changes)
