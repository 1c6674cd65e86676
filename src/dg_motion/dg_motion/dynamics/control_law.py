"""Joint torque control laws: PD + gravity compensation and computed torque.

Sign convention: errors are reference minus measured, ``e = q_ref - q`` [rad],
``e_dot = qd_ref - qd`` [rad/s]. The gains are those of the closed-loop error dynamics
``e_ddot + kd e_dot + kp e = 0`` (``kp`` [1/s^2], ``kd`` [1/s]; ``kp = w^2``, ``kd = 2 w``
is critical damping at ``w`` rad/s, e.g. 400 / 40 for 20 rad/s), the same for both laws:

1. ``COMPUTED_TORQUE`` (inverse-dynamics control; Siciliano et al., "Robotics: Modelling,
   Planning and Control", Springer 2009, sec. 8.5.2, eq. 8.57): ``tau = M(q) (qdd_ref + kp e
   + kd e_dot) + C(q, qd) qd + g(q)``, evaluated as one RNEA call on the corrected
   acceleration. With an exact model the error obeys the linear dynamics above, so the
   tracking error of a smooth reference vanishes up to the sampling effects.
2. ``PD_GRAVITY`` (PD control with gravity compensation; Takegaki & Arimoto, ASME J. Dyn.
   Sys. Meas. Control 103(2), 1981; Siciliano sec. 8.5.1): ``tau = g(q) + M(q) (kp e + kd
   e_dot)``: no acceleration or Coriolis feedforward. The PD torque gains are the error gains
   above times the model's inertia, so both laws have the same stiffness and damping per
   joint and differ by the feedforward alone (constant torque gains of 400 N m/rad and
   40 N m s/rad would make the UR5's wrists, ~0.01 kg m^2, unstable at 1 kHz:
   ``kd dt / I = 4 > 2``). Its tracking error is about ``qdd_ref / kp``.

3. Optional integral action (``ki`` [1/s^3], both laws): ``kp e + kd e_dot`` becomes ``kp e +
   kd e_dot + ki z`` with ``z`` the integral of ``e`` over the loop period ``dt_s``; it removes
   the steady error a model does not explain (dry friction, an unknown payload's weight).
   The error dynamics ``s^3 + kd s^2 + kp s + ki`` are stable for ``ki < kp kd`` (Routh;
   16000 at 400 / 40); ``ki z`` is clamped to ``integral_limit`` [rad/s^2] (anti-windup) and
   ``z`` is reset with :meth:`JointController.reset_integral` (a new law, a hold).

Both saturate each joint's torque at ``effort_max`` [N m] (the result says so through
:attr:`JointController.last_status`). Non-finite inputs raise :class:`MotionInputError`
before any torque is produced: the control loop catches it and holds; no NaN ever reaches
an actuator. The payload can be changed at run time (:meth:`JointController.set_payload`):
gravity and inverse dynamics then include it from the next call on.
"""

from __future__ import annotations

import enum
import math

import numpy as np
import pinocchio as pin

from dg_motion.dynamics.rigid_body import Payload, RigidBodyModel
from dg_motion.errors import MotionInputError


class ControlMode(enum.Enum):
    """Which control law :class:`JointController` applies."""

    PD_GRAVITY = "pd_gravity"              #: PD + gravity compensation, no feedforward
    COMPUTED_TORQUE = "computed_torque"    #: inverse dynamics with the reference acceleration


class EffortStatus(enum.Enum):
    """Result of the last :meth:`JointController.effort` call."""

    OK = "ok"                  #: torque within effort_max on every joint
    SATURATED = "saturated"    #: at least one joint clipped at effort_max


def _gains(name: str, value: np.ndarray, n: int, *, allow_inf: bool = False) -> np.ndarray:
    arr = np.array(value, dtype=float).reshape(-1)
    if arr.size == 1:
        arr = np.full(n, float(arr[0]))
    if arr.shape != (n,):
        raise MotionInputError(f"{name} must have {n} values (one per joint), got {arr.size}")
    ok = (arr > 0.0) & (np.isfinite(arr) | allow_inf)
    if not ok.all():
        raise MotionInputError(f"{name} must be {'> 0' if allow_inf else 'finite and > 0'}, "
                               f"got {arr.tolist()}")
    return arr


class JointController:
    """A joint torque controller for a :class:`RigidBodyModel`, fit for a 1 kHz loop.

    One Pinocchio call and a few vector operations per :meth:`effort`.
    """

    def __init__(self, model: RigidBodyModel, mode: ControlMode | str, kp: np.ndarray,
                 kd: np.ndarray, effort_max: np.ndarray, *, ki: np.ndarray | None = None,
                 dt_s: float = 0.001, integral_limit: float = 50.0) -> None:
        """Controller on ``model`` with error gains and torque limits.

        ``kp`` [1/s^2], ``kd`` [1/s] (one per joint or one for all), ``effort_max`` [N m]
        (inf = unlimited); ``ki`` [1/s^3] (None = no integral action) integrated every
        ``dt_s`` [s] (one :meth:`effort` call per loop period), ``ki z`` clamped to
        ``integral_limit`` [rad/s^2].

        Raises:
            MotionInputError: unknown mode, wrong sizes, non-positive gains or limits, an
                unstable ``ki >= kp kd``.

        """
        if not isinstance(model, RigidBodyModel):
            raise MotionInputError(f"expected a RigidBodyModel, got {type(model).__name__}")
        try:
            self.mode = ControlMode(mode)
        except ValueError:
            raise MotionInputError(f"unknown control mode {mode!r}; expected one of "
                                   f"{[m.value for m in ControlMode]}") from None
        n = model.dof
        self.kp = _gains("kp", kp, n)
        self.kd = _gains("kd", kd, n)
        self.effort_max = _gains("effort_max", effort_max, n, allow_inf=True)
        self.ki = np.zeros(n) if ki is None else np.array(ki, dtype=float).reshape(-1)
        if self.ki.size == 1:
            self.ki = np.full(n, float(self.ki[0]))
        if self.ki.shape != (n,) or not np.all(np.isfinite(self.ki) & (self.ki >= 0.0)):
            raise MotionInputError(f"ki must be {n} finite values >= 0, got {ki!r}")
        if np.any(self.ki >= self.kp * self.kd):
            raise MotionInputError(f"ki must stay below kp * kd (stability), got ki "
                                   f"{self.ki.tolist()} for kp * kd {(self.kp * self.kd).tolist()}")
        if not (math.isfinite(dt_s) and dt_s > 0.0 and integral_limit > 0.0):
            raise MotionInputError(f"dt_s and integral_limit must be > 0, got {dt_s}, "
                                   f"{integral_limit}")
        self._dt, self._ilim = float(dt_s), float(integral_limit)
        self._z = np.zeros(n)
        self._model = model
        self._dyn = (model.pin_model, model.data)   # swapped as one tuple (atomic)
        self._zero = np.zeros(n)
        self._n = n
        #: Status of the last :meth:`effort` call.
        self.last_status = EffortStatus.OK

    @property
    def model(self) -> RigidBodyModel:
        """The model the feedforward uses (arm + current payload)."""
        return self._model

    @property
    def payload(self) -> Payload:
        """The payload the feedforward assumes."""
        return self._model.payload

    def set_payload(self, payload: Payload) -> None:
        """Re-tune gravity and inverse dynamics for ``payload`` (replaces the previous one)."""
        model = self._model.with_payload(payload)
        # One tuple assignment: a concurrent effort() sees the old or the new pair, never a mix.
        self._dyn = (model.pin_model, model.data)
        self._model = model

    def reset_integral(self) -> None:
        """Forget the integrated error (a new law, a hold, a new goal after a fault)."""
        self._z[:] = 0.0

    def _checked(self, name: str, value: np.ndarray) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        if arr.shape != (self._n,):
            raise MotionInputError(f"{name} must have shape ({self._n},), got {arr.shape}")
        return arr

    def effort(self, q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray, qd_ref: np.ndarray,
               qdd_ref: np.ndarray) -> np.ndarray:
        """Joint torques [N m] for measured (q, qd) and reference (q_ref, qd_ref, qdd_ref).

        Raises:
            MotionInputError: an input has the wrong shape or a non-finite value (nothing is
                commanded; the caller holds).

        """
        q = self._checked("q", q)
        qd = self._checked("qd", qd)
        qdd_ref = self._checked("qdd_ref", qdd_ref)
        e = self._checked("q_ref", q_ref) - q
        v = self.kp * e + self.kd * (self._checked("qd_ref", qd_ref) - qd)
        if self.ki.any() and math.isfinite(e.sum()):
            self._z += e * self._dt
            iz = np.clip(self.ki * self._z, -self._ilim, self._ilim)
            self._z = np.where(self.ki > 0.0, iz / np.where(self.ki > 0.0, self.ki, 1.0), 0.0)
            v = v + iz
        acc = qdd_ref + v
        # Any NaN/inf input (or an overflowing product) makes this one sum non-finite: each
        # of q, qd, q_ref, qd_ref enters v, and v and qdd_ref enter acc.
        if not math.isfinite(acc.sum()):
            raise MotionInputError(f"non-finite controller input: q={q.tolist()}, "
                                   f"qd={qd.tolist()}, q_ref={np.asarray(q_ref).tolist()}, "
                                   f"qd_ref={np.asarray(qd_ref).tolist()}, "
                                   f"qdd_ref={qdd_ref.tolist()}")
        model, data = self._dyn
        if self.mode is ControlMode.COMPUTED_TORQUE:
            tau = pin.rnea(model, data, q, qd, acc)
        else:
            tau = pin.rnea(model, data, q, self._zero, v)    # g(q) + M(q) v
        if (np.abs(tau) - self.effort_max).max() > 0.0:
            self.last_status = EffortStatus.SATURATED
            return np.minimum(np.maximum(tau, -self.effort_max), self.effort_max)
        self.last_status = EffortStatus.OK
        out = tau.copy()     # Pinocchio returns its own buffer, overwritten by the next call
        return out
