"""Rigid-body dynamics of an arm with a payload, on Pinocchio.

Equation of motion (Featherstone, "Rigid Body Dynamics Algorithms", Springer 2008, ch. 5-7):
``tau = M(q) qdd + C(q, qd) qd + g(q)``. Pinocchio (Carpentier et al., SII 2019) evaluates
it with the recursive Newton-Euler algorithm (inverse dynamics, ``pin.rnea``), the articulated
body algorithm (forward dynamics, ``pin.aba``) and the composite rigid body algorithm (mass
matrix, ``pin.crba``); this module wraps them with input checks and a payload.

Payload: a rigid body fixed to the payload frame (the tool flange by default): mass [kg],
centre of mass [m] in that frame and rotational inertia [kg m^2] about the centre of mass,
axes of that frame. It is merged into the inertia of the joint that carries the frame
(spatial inertias add once expressed in the same frame: ``Y_joint += X_frame . Y_payload``),
so every algorithm sees the arm plus payload as one model. A model is never mutated: each
``with_payload``/``scaled_inertia`` returns a new :class:`RigidBodyModel` built on copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pinocchio as pin

from dg_motion.errors import MotionInputError
from dg_motion.robots.urdf import load_urdf_model


@dataclass(frozen=True, eq=False)
class Payload:
    """A rigid payload on the tool flange (all zero = no payload).

    ``mass_kg`` [kg]; ``com_m`` (3,) [m] centre of mass in the payload frame;
    ``inertia_kgm2`` (3, 3) [kg m^2] rotational inertia about the centre of mass, axes of
    the payload frame (symmetric, positive semi-definite).
    """

    mass_kg: float = 0.0
    com_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    inertia_kgm2: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))

    def __post_init__(self) -> None:
        """Reject non-finite values, negative mass and non-physical inertia."""
        mass = float(self.mass_kg)
        com = np.array(self.com_m, dtype=float)
        inertia = np.array(self.inertia_kgm2, dtype=float)
        if not np.isfinite(mass) or mass < 0.0:
            raise MotionInputError(f"payload mass must be finite and >= 0 kg, got {mass}")
        if com.shape != (3,) or not np.isfinite(com).all():
            raise MotionInputError(f"payload centre of mass must be 3 finite numbers [m], "
                                   f"got {com.tolist()}")
        if inertia.shape != (3, 3) or not np.isfinite(inertia).all():
            raise MotionInputError("payload inertia must be a finite 3x3 matrix [kg m^2]")
        if not np.allclose(inertia, inertia.T, atol=1e-12, rtol=1e-9):
            raise MotionInputError("payload inertia must be symmetric")
        principal = np.linalg.eigvalsh(inertia)
        tol = 1e-12 + 1e-9 * float(np.abs(principal).max(initial=0.0))
        # A rigid body's principal moments are >= 0 and obey the triangle inequality.
        if principal[0] < -tol or principal[2] > principal[0] + principal[1] + tol:
            raise MotionInputError(f"payload inertia is not a rigid body's: principal moments "
                                   f"{principal.tolist()} kg m^2")
        if mass == 0.0 and (np.any(com != 0.0) or np.any(inertia != 0.0)):
            raise MotionInputError("a payload of 0 kg must have zero centre of mass and inertia")
        object.__setattr__(self, "mass_kg", mass)
        object.__setattr__(self, "com_m", com)
        object.__setattr__(self, "inertia_kgm2", inertia)

    def __eq__(self, other: object) -> bool:
        """Equal mass, centre of mass and inertia (exact comparison)."""
        if not isinstance(other, Payload):
            return NotImplemented
        return (self.mass_kg == other.mass_kg and np.array_equal(self.com_m, other.com_m)
                and np.array_equal(self.inertia_kgm2, other.inertia_kgm2))

    __hash__ = None  # type: ignore[assignment]  # mutable numpy fields

    @classmethod
    def point_mass(cls, mass_kg: float, com_m: np.ndarray) -> Payload:
        """A point mass [kg] at ``com_m`` [m] (no rotational inertia)."""
        return cls(mass_kg, np.asarray(com_m, dtype=float), np.zeros((3, 3)))

    @classmethod
    def box(cls, mass_kg: float, size_m: np.ndarray, com_m: np.ndarray) -> Payload:
        """A solid box of full sizes ``size_m`` [m] centred at ``com_m`` [m], axes aligned."""
        a, b, c = np.asarray(size_m, dtype=float)
        inertia = mass_kg / 12.0 * np.diag([b * b + c * c, a * a + c * c, a * a + b * b])
        return cls(mass_kg, np.asarray(com_m, dtype=float), inertia)

    def scaled(self, factor: float) -> Payload:
        """Mass and inertia times ``factor`` (centre of mass unchanged)."""
        return Payload(self.mass_kg * factor, self.com_m if factor else np.zeros(3),
                       self.inertia_kgm2 * factor)


NO_PAYLOAD = Payload()


def _vector(name: str, value: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n,):
        raise MotionInputError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MotionInputError(f"{name} contains non-finite values: {arr.tolist()}")
    return arr


class RigidBodyModel:
    """Dynamics of an arm (a ``pinocchio.Model``) carrying a :class:`Payload`.

    Joint order is the model's (``names``); torques [N m], positions [rad], velocities
    [rad/s], accelerations [rad/s^2]. Gravity is the model's (Pinocchio default -9.81 m/s^2
    along base z).
    """

    def __init__(self, pin_model: pin.Model, *, payload_frame: str = "flange",
                 payload: Payload = NO_PAYLOAD) -> None:
        """Copy ``pin_model`` (never mutated) and attach ``payload`` at ``payload_frame``.

        Raises:
            MotionInputError: the frame is unknown or the model has non-revolute/prismatic
                joints (nq != nv).

        """
        if not isinstance(pin_model, pin.Model):
            raise MotionInputError(f"expected a pinocchio.Model, got {type(pin_model).__name__}")
        if pin_model.nq != pin_model.nv or pin_model.nv == 0:
            raise MotionInputError(f"model must have only 1-DoF joints (nq == nv > 0), got "
                                   f"nq={pin_model.nq}, nv={pin_model.nv}")
        if not pin_model.existFrame(payload_frame):
            raise MotionInputError(f"payload frame '{payload_frame}' is not in the model; "
                                   f"frames: {[f.name for f in pin_model.frames]}")
        if not isinstance(payload, Payload):
            raise MotionInputError(f"expected a Payload, got {type(payload).__name__}")
        self._base = pin.Model(pin_model)   # the arm without payload (a private copy)
        self.payload_frame = payload_frame
        self.payload = payload
        frame = self._base.frames[self._base.getFrameId(payload_frame)]
        #: Index of the joint whose body carries the payload.
        self.payload_joint: int = int(frame.parentJoint)
        #: Placement of the payload frame in that joint's frame.
        self.payload_placement: pin.SE3 = pin.SE3(frame.placement)
        model = pin.Model(self._base)
        if payload.mass_kg > 0.0:
            y = pin.Inertia(payload.mass_kg, payload.com_m, payload.inertia_kgm2)
            model.inertias[self.payload_joint] = (model.inertias[self.payload_joint]
                                                  + self.payload_placement.act(y))
        #: The arm plus payload (a private copy; do not modify).
        self.pin_model: pin.Model = model
        self.data: pin.Data = model.createData()
        self.names: tuple[str, ...] = tuple(model.names[1:])
        self.dof: int = model.nv

    @classmethod
    def from_urdf(cls, urdf_path: str | Path, *, payload_frame: str = "flange",
                  payload: Payload = NO_PAYLOAD) -> RigidBodyModel:
        """Load the arm from a URDF file (with its drives' armature, robots.urdf).

        Raises:
            MotionInputError: the file is missing or not a valid URDF, or see ``__init__``.

        """
        return cls(load_urdf_model(urdf_path), payload_frame=payload_frame, payload=payload)

    @property
    def base_model(self) -> pin.Model:
        """The arm without payload (a copy)."""
        return pin.Model(self._base)

    def with_payload(self, payload: Payload) -> RigidBodyModel:
        """The same arm carrying ``payload`` instead of the current one."""
        return RigidBodyModel(self._base, payload_frame=self.payload_frame, payload=payload)

    def scaled_inertia(self, factor: float) -> RigidBodyModel:
        """Every link's mass and inertia (payload included) times ``factor`` > 0.

        For robustness studies: a controller built on ``scaled_inertia(1.1)`` believes the
        arm 10 % heavier than it is. Gravity scales by ``factor`` exactly (linear in the
        inertial parameters); the drives' armature (``model.armature``, data-sheet rotor
        inertia, robots.urdf) is not a link parameter and is kept.
        """
        if not np.isfinite(factor) or factor <= 0.0:
            raise MotionInputError(f"inertia scale factor must be > 0, got {factor}")
        base = pin.Model(self._base)
        for j in range(base.njoints):
            y = base.inertias[j]
            base.inertias[j] = pin.Inertia(y.mass * factor, y.lever, y.inertia * factor)
        return RigidBodyModel(base, payload_frame=self.payload_frame,
                              payload=self.payload.scaled(factor))

    def gravity(self, q: np.ndarray) -> np.ndarray:
        """Gravity torques ``g(q)`` [N m]."""
        q = _vector("q", q, self.dof)
        return pin.computeGeneralizedGravity(self.pin_model, self.data, q).copy()

    def mass_matrix(self, q: np.ndarray) -> np.ndarray:
        """Joint-space inertia matrix ``M(q)`` [kg m^2] (symmetric, CRBA)."""
        q = _vector("q", q, self.dof)
        m = pin.crba(self.pin_model, self.data, q)
        return np.triu(m) + np.triu(m, 1).T

    def nonlinear_effects(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """``C(q, qd) qd + g(q)`` [N m]."""
        q, qd = _vector("q", q, self.dof), _vector("qd", qd, self.dof)
        return pin.nonLinearEffects(self.pin_model, self.data, q, qd).copy()

    def inverse_dynamics(self, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray) -> np.ndarray:
        """Joint torques [N m] that produce ``qdd`` at state (q, qd) (RNEA)."""
        q, qd = _vector("q", q, self.dof), _vector("qd", qd, self.dof)
        qdd = _vector("qdd", qdd, self.dof)
        return pin.rnea(self.pin_model, self.data, q, qd, qdd).copy()

    def forward_dynamics(self, q: np.ndarray, qd: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """Joint accelerations [rad/s^2] under torques ``tau`` at state (q, qd) (ABA)."""
        q, qd = _vector("q", q, self.dof), _vector("qd", qd, self.dof)
        tau = _vector("tau", tau, self.dof)
        return pin.aba(self.pin_model, self.data, q, qd, tau).copy()

    def __repr__(self) -> str:
        """Joint names and payload."""
        return (f"RigidBodyModel({list(self.names)}, payload {self.payload.mass_kg:g} kg at "
                f"{self.payload.com_m.tolist()} m in '{self.payload_frame}')")
