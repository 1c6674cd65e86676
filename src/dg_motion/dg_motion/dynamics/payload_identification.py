"""Payload identification from joint torques over an excitation move (linear least squares).

Method (Atkeson, An & Hollerbach, "Estimation of inertial parameters of manipulator loads
and links", IJRR 5(3), 1986; Khalil & Dombre, "Modeling, Identification and Control of
Robots", 2002, ch. 12-13):

1. The joint torques are linear in each body's ten inertial parameters
   ``phi = [m, m c_x, m c_y, m c_z, I_xx, I_xy, I_yy, I_xz, I_yz, I_zz]`` (mass [kg], first
   moment [kg m], rotational inertia about the body frame's origin [kg m^2]; Pinocchio's
   ``toDynamicParameters`` order): ``tau = Y(q, qd, qdd) phi``. Pinocchio's
   ``computeJointTorqueRegressor`` gives ``Y``; the payload is a body rigidly fixed to the
   last joint's body, so its columns are those of that joint, mapped from the payload frame
   to the joint frame by the linear map ``T`` of the frame placement (R, p):
   ``m' = m``, ``h' = R h + m p``,
   ``I'_O = R I_O R^T + 2 (p . R h) 1 - (R h) p^T - p (R h)^T + m (|p|^2 1 - p p^T)``.
2. The known arm's torques (the model without payload, RNEA) are subtracted from the
   measured ones: what remains is the payload's, ``tau - tau_arm = Y T phi_payload``.
3. Samples are stacked and each joint's rows weighted by ``1 / sigma_joint`` (torque noise,
   default proportional to the joint's rated torque): the weighted least-squares solution is
   the maximum-likelihood estimate for Gaussian noise. ``m``, ``c = h / m`` and the inertia
   about the centre of mass ``I_c = I_O - m (|c|^2 1 - c c^T)`` follow.
4. The condition number of the weighted regressor with unit-norm columns measures how well
   the motion excites the parameters (Gautier & Khalil, IEEE T-RA 8(5), 1992). A static
   or poorly exciting motion is rejected.

Excitation (Swevers, Ganseman, Tukel, de Schutter & van Brussel, "Optimal robot excitation
and identification", IEEE T-RA 13(5), 1997): each joint follows a finite Fourier series of
base period ``duration_s`` around ``q_center``, multiplied by the window ``sin^2(pi t / T)``
so that the move starts and ends at rest (zero velocity and acceleration) at the centre.
Each joint's amplitude is scaled to the largest value within its position, velocity,
acceleration and jerk limits (with a margin); with a model, of several seeded coefficient
sets the one with the smallest predicted variance of the mass and centre of mass is kept
(A-optimal design on those parameters, each over its tolerance; the predicted covariance is
``(Y_w^T Y_w)^-1`` of the noise-weighted regressor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from dg_motion.dynamics.rigid_body import Payload, RigidBodyModel
from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits

#: Above this condition number the motion does not determine the parameters (the noise
#: would be amplified by more than 1e6 relative to the signal).
CONDITION_NUMBER_MAX = 1e6

_TRI = ((0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 2))   # Pinocchio's inertia order


def _sym(v: np.ndarray) -> np.ndarray:
    """3x3 symmetric matrix from Pinocchio's (xx, xy, yy, xz, yz, zz)."""
    xx, xy, yy, xz, yz, zz = v
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def _params_in_parent(phi: np.ndarray, rot: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Ten inertial parameters of a body moved into a frame where it sits at (rot, p)."""
    m, h, i_o = phi[0], phi[1:4], _sym(phi[4:10])
    rh = rot @ h
    i_new = (rot @ i_o @ rot.T + 2.0 * float(p @ rh) * np.eye(3) - np.outer(rh, p)
             - np.outer(p, rh) + m * (float(p @ p) * np.eye(3) - np.outer(p, p)))
    return np.concatenate([[m], rh + m * p, [i_new[a, b] for a, b in _TRI]])


def payload_parameter_map(model: RigidBodyModel) -> np.ndarray:
    """The 10x10 map ``T`` from payload-frame to carrying-joint-frame inertial parameters."""
    placement = model.payload_placement
    return np.column_stack([_params_in_parent(e, placement.rotation, placement.translation)
                            for e in np.eye(10)])


def _samples(name: str, value: np.ndarray, dof: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != dof or arr.shape[0] == 0:
        raise MotionInputError(f"{name} must have shape (N, {dof}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MotionInputError(f"{name} contains non-finite values")
    return arr


def payload_regressor(model: RigidBodyModel, q: np.ndarray, qd: np.ndarray,
                      qdd: np.ndarray) -> np.ndarray:
    """Stacked regressor (N*dof, 10): payload torques = regressor @ phi_payload.

    ``phi_payload`` in the payload frame (see the module docstring); rows sample by sample,
    each sample's ``dof`` joints in order.
    """
    dof = model.dof
    q = _samples("q", q, dof)
    qd, qdd = _samples("qd", qd, dof), _samples("qdd", qdd, dof)
    if not q.shape == qd.shape == qdd.shape:
        raise MotionInputError(f"q, qd, qdd must have the same shape, got {q.shape}, "
                               f"{qd.shape}, {qdd.shape}")
    base = model.base_model
    data = base.createData()
    cols = slice(10 * (model.payload_joint - 1), 10 * model.payload_joint)
    out = np.empty((len(q) * dof, 10))
    for k in range(len(q)):
        out[k * dof:(k + 1) * dof] = pin.computeJointTorqueRegressor(
            base, data, q[k], qd[k], qdd[k])[:, cols]
    return out @ payload_parameter_map(model)


@dataclass(frozen=True)
class PayloadEstimate:
    """An identified payload.

    ``mass_kg`` [kg], ``com_m`` (3,) [m] in the payload frame, ``inertia_kgm2`` (3x3)
    [kg m^2] about the centre of mass (None when not estimated), ``residual_rms`` [N m] of
    the fit, ``condition_number`` of the weighted, column-normalised regressor,
    ``parameters`` the raw estimate (m, m c, and the inertia about the frame origin when
    estimated).
    """

    mass_kg: float
    com_m: np.ndarray
    residual_rms: float
    condition_number: float
    inertia_kgm2: np.ndarray | None
    parameters: np.ndarray

    def payload(self) -> Payload:
        """The estimate as a :class:`Payload`.

        A point mass where the inertia is not a rigid body's or was not estimated; a
        non-positive mass becomes no payload.
        """
        if self.mass_kg <= 0.0:
            return Payload()
        if self.inertia_kgm2 is not None:
            try:
                return Payload(self.mass_kg, self.com_m, self.inertia_kgm2)
            except MotionInputError:
                pass
        return Payload.point_mass(self.mass_kg, self.com_m)


def identify_payload(model: RigidBodyModel, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray,
                     tau: np.ndarray, *, inertia: bool = True,
                     torque_noise_std: np.ndarray | None = None) -> PayloadEstimate:
    """Least-squares payload estimate from measured samples (N, dof) of the arm's motion.

    ``model``: the arm (its own payload is ignored: the arm without payload is subtracted);
    ``tau`` [N m] measured joint torques; ``inertia``: also estimate the rotational inertia
    (needs a dynamic excitation; False fits mass and centre of mass only, e.g. from static
    poses); ``torque_noise_std`` (dof,) [N m] per-joint noise for the weights (default: the
    model's rated efforts, i.e. noise proportional to the rating, or 1 where unknown).

    Raises:
        MotionInputError: wrong shapes, non-finite values, or a motion that does not excite
            the parameters (condition number above ``CONDITION_NUMBER_MAX``).

    """
    dof = model.dof
    tau = _samples("tau", tau, dof)
    y = payload_regressor(model, q, qd, qdd)
    if tau.shape != np.shape(q):
        raise MotionInputError(f"tau must have the shape of q {np.shape(q)}, got {tau.shape}")
    base = model.base_model
    data = base.createData()
    qa, qda, qdda = (np.asarray(a, dtype=float) for a in (q, qd, qdd))
    tau_arm = np.array([pin.rnea(base, data, qa[k], qda[k], qdda[k]) for k in range(len(qa))])
    rhs = (tau - tau_arm).reshape(-1)
    if torque_noise_std is None:
        sigma = np.asarray(base.effortLimit, dtype=float).copy()
        sigma[~(np.isfinite(sigma) & (sigma > 0.0))] = 1.0
    else:
        sigma = np.asarray(torque_noise_std, dtype=float)
        if sigma.shape != (dof,) or not (np.isfinite(sigma) & (sigma > 0.0)).all():
            raise MotionInputError(f"torque_noise_std must be {dof} finite values > 0")
    n_par = 10 if inertia else 4
    w = np.tile(1.0 / sigma, len(tau))
    a = y[:, :n_par] * w[:, None]
    b = rhs * w
    norms = np.linalg.norm(a, axis=0)
    if not (norms > 0.0).all():
        cond = float("inf")
    else:
        sv = np.linalg.svd(a / norms, compute_uv=False)
        cond = float(sv[0] / sv[-1]) if sv[-1] > 0.0 else float("inf")
    if not cond <= CONDITION_NUMBER_MAX:
        hint = "or inertia=False" if inertia else "or more varied poses"
        raise MotionInputError(
            f"the motion does not excite the payload's {'inertial' if inertia else 'mass'} "
            f"parameters (condition number {cond:.3g} > {CONDITION_NUMBER_MAX:.0g}); use an "
            f"excitation_trajectory {hint}")
    phi = np.linalg.lstsq(a / norms, b, rcond=None)[0] / norms
    residual = rhs - y[:, :n_par] @ phi
    mass = float(phi[0])
    com = phi[1:4] / mass if mass > 1e-9 else np.zeros(3)
    inertia_c = None
    if inertia:
        i_o = _sym(phi[4:10])
        inertia_c = i_o - mass * (float(com @ com) * np.eye(3) - np.outer(com, com))
    return PayloadEstimate(mass, com, float(np.sqrt(np.mean(residual ** 2))), cond, inertia_c,
                           phi)


class ExcitationTrajectory:
    """Windowed Fourier-series joint motion (a :class:`~dg_motion.trajectory.types.Trajectory`).

    ``q_i(t) = q_center_i + s_i w(t) f_i(t)``, ``w = sin^2(pi t / T)``,
    ``f_i = sum_l a_il sin(l w_f t) + b_il (1 - cos(l w_f t))``, ``w_f = 2 pi / T``.
    """

    def __init__(self, names: tuple[str, ...], q_center: np.ndarray, duration_s: float,
                 a: np.ndarray, b: np.ndarray) -> None:
        """Coefficients ``a``, ``b`` (dof, harmonics), already scaled."""
        self.names = tuple(names)
        self.duration_s = float(duration_s)
        self.q_center = np.asarray(q_center, dtype=float)
        self._a, self._b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)

    def derivatives(self, t_s: np.ndarray) -> tuple[np.ndarray, ...]:
        """Position, velocity, acceleration and jerk at ``t_s`` (each (len(t), dof))."""
        t = np.clip(np.asarray(t_s, dtype=float).reshape(-1), 0.0, self.duration_s)[:, None]
        period = self.duration_s
        wf = 2.0 * np.pi / period
        lw = wf * np.arange(1, self._a.shape[1] + 1)                      # (L,)
        s, c = np.sin(t * lw), np.cos(t * lw)                              # (n, L)
        a, b = self._a.T, self._b.T                                        # (L, dof)
        f = s @ a + (1.0 - c) @ b
        f1 = (c * lw) @ a + (s * lw) @ b
        f2 = (-s * lw**2) @ a + (c * lw**2) @ b
        f3 = (-c * lw**3) @ a + (-s * lw**3) @ b
        k = np.pi / period
        sw, cw = np.sin(2.0 * k * t), np.cos(2.0 * k * t)
        w0, w1, w2, w3 = 0.5 * (1.0 - cw), k * sw, 2.0 * k**2 * cw, -4.0 * k**3 * sw
        q = self.q_center + w0 * f
        qd = w1 * f + w0 * f1
        qdd = w2 * f + 2.0 * w1 * f1 + w0 * f2
        qddd = w3 * f + 3.0 * w2 * f1 + 3.0 * w1 * f2 + w0 * f3
        return q, qd, qdd, qddd

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at times ``t_s`` (rest outside [0, T])."""
        q, qd, qdd, _ = self.derivatives(t_s)
        return q, qd, qdd


def excitation_trajectory(limits: JointLimits, q_center: np.ndarray, duration_s: float,
                          seed: int, *, harmonics: int = 5, amplitude_rad: float = 1.0,
                          limit_fraction: float = 0.8, model: RigidBodyModel | None = None,
                          candidates: int = 12) -> ExcitationTrajectory:
    """A seeded excitation move from rest at ``q_center`` back to rest there.

    Each joint's excursion stays within ``amplitude_rad`` [rad] of ``q_center`` and within
    the position limits; velocity, acceleration (and jerk where finite) stay within
    ``limit_fraction`` of the limits. With ``model``, ``candidates`` seeded coefficient sets
    are tried and the one with the smallest predicted mass and centre-of-mass variance is
    returned (noise weights: the model's rated efforts).

    Raises:
        MotionInputError: q_center outside the limits, non-positive duration or settings.

    """
    dof = limits.dof
    q0 = np.asarray(q_center, dtype=float)
    if q0.shape != (dof,) or not np.isfinite(q0).all():
        raise MotionInputError(f"q_center must be {dof} finite values, got {q0.tolist()}")
    if np.any(q0 <= limits.position_min) or np.any(q0 >= limits.position_max):
        raise MotionInputError(f"q_center {q0.tolist()} is not inside the position limits")
    if not (np.isfinite(duration_s) and duration_s > 0.0):
        raise MotionInputError(f"duration_s must be > 0, got {duration_s}")
    if harmonics < 1 or candidates < 1 or not 0.0 < limit_fraction <= 1.0 \
            or not amplitude_rad > 0.0:
        raise MotionInputError("harmonics and candidates must be >= 1, limit_fraction in "
                               "(0, 1], amplitude_rad > 0")
    if model is not None and model.dof != dof:
        raise MotionInputError(f"model has {model.dof} joints, limits {dof}")
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, duration_s, 4001)
    # Room to each position limit, inside the amplitude bound (0.1 % margin: the peaks are
    # found on a grid of 4001 points).
    room_hi = 0.999 * np.minimum(amplitude_rad, limits.position_max - q0)
    room_lo = 0.999 * np.minimum(amplitude_rad, q0 - limits.position_min)
    best, best_cost = None, np.inf
    for _ in range(candidates):
        decay = 1.0 / np.arange(1, harmonics + 1)
        a = rng.normal(size=(dof, harmonics)) * decay
        b = rng.normal(size=(dof, harmonics)) * decay
        unit = ExcitationTrajectory(limits.names, np.zeros(dof), duration_s, a, b)
        u, ud, udd, uddd = unit.derivatives(grid)
        with np.errstate(divide="ignore"):
            scale = np.min(np.vstack([
                room_hi / np.maximum(u.max(axis=0), 1e-12),
                room_lo / np.maximum(-u.min(axis=0), 1e-12),
                limit_fraction * limits.velocity_max / np.abs(ud).max(axis=0),
                limit_fraction * limits.acceleration_max / np.abs(udd).max(axis=0),
                limit_fraction * limits.jerk_max / np.abs(uddd).max(axis=0)]), axis=0)
        traj = ExcitationTrajectory(limits.names, q0, duration_s, a * scale[:, None],
                                    b * scale[:, None])
        if model is None:
            return traj
        q, qd, qdd = traj.sample(np.linspace(0.0, duration_s, 200))
        y = payload_regressor(model, q, qd, qdd)
        sigma = np.asarray(model.base_model.effortLimit, dtype=float).copy()
        sigma[~(np.isfinite(sigma) & (sigma > 0.0))] = 1.0
        y = y * np.tile(1.0 / sigma, len(q))[:, None]
        # A-optimal on what the payload estimate is judged by: the predicted variances of
        # the mass and of the first moment, each over its tolerance (3 % of the mass and
        # 5 mm times the mass: both scale with the mass, so the ratio is mass-free).
        info = y.T @ y
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            continue
        cost = cov[0, 0] / 0.03**2 + np.trace(cov[1:4, 1:4]) / 0.005**2
        if best is None or cost < best_cost:
            best, best_cost = traj, cost
    if best is None:
        raise MotionInputError("no excitation candidate excites the payload parameters; "
                               "widen amplitude_rad or the limits")
    return best
