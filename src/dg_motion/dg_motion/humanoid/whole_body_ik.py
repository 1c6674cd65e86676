"""Whole-body inverse kinematics of the biped: CoM, feet and pelvis orientation -> 12 joints.

The walking pattern gives, every control period, where the CoM, both soles and the pelvis
orientation should be; a position-controlled robot needs joint angles. With a free-flyer root
the unknowns are the pelvis pose (6) and the 12 leg joints, and the tasks are both soles (6
each), the CoM (3) and the pelvis orientation (3): 18 equations for 18 unknowns, so a
feasible target is met exactly, and an infeasible one (CoM out of reach with straight legs, a
step too long) is met as well as the weights allow, the feet first.

Method (each iteration, numbered as in :meth:`WholeBodyIK.solve`):

1. Forward kinematics, frame Jacobians (``LOCAL_WORLD_ALIGNED``: linear rows the velocity of
   the frame origin, angular rows in world axes) and the CoM Jacobian (Pinocchio: Carpentier
   et al., "The Pinocchio C++ library", SII 2019).
2. Task errors in the world: positions by difference, orientations by ``log3(R_des R^T)``.
3. Weighted damped least squares ``(A^T A + lambda I) dv = A^T b`` with ``A = W J``,
   ``b = W e`` and the damping ``lambda = E + w_bar`` of T. Sugihara, "Solvability-Unconcerned
   Inverse Kinematics by the Levenberg-Marquardt Method", IEEE T-RO 27(5), 2011 (``E`` the
   weighted squared error / 2): quick near a solution, well-conditioned at the knee
   singularity (straight legs) and for unreachable targets.
4. Joint limits as an active set: a joint whose step would cross its limit is set to the
   limit, its column removed and the rest re-solved (at most once per joint per iteration).
   The solution therefore never leaves the URDF's limits.
5. Integrate on the configuration manifold (``pinocchio.integrate``: the base orientation
   stays a unit quaternion).

Warm start: without ``base_init`` the previous call's pelvis pose seeds the next, so at 200 Hz a
solve typically takes one or two iterations.
"""

# Transforms, rotations and Jacobians keep the textbook capitals (T, R, J, A).
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pinocchio as pin

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.types import LEG_JOINTS
from dg_motion.robots.model import check_pose
from dg_motion.robots.urdf import _captured_stderr, check_urdf_xml


@dataclass(frozen=True)
class IKSettings:
    """Weights and tolerances of :class:`WholeBodyIK` (units per field)."""

    #: Task weights (squared-error weights; per metre for positions, per rad for angles).
    #: The feet dominate: an unreachable CoM is given up before a foot slides.
    foot_weight: float = 1.0e4
    com_weight: float = 1.0e2
    pelvis_weight: float = 1.0
    #: Sugihara's bias damping ``w_bar`` (1e-3 of the squared error scale ~ (0.01 m)^2 of
    #: one control period's target change, times the foot weight's order).
    damping_bias: float = 1.0e-4
    #: Stop iterating when every task error is below these.
    converge_m: float = 1.0e-6
    converge_rad: float = 1.0e-5
    #: An answer is ``ok`` when the residuals are below these.
    ok_position_m: float = 1.0e-3
    ok_rotation_rad: float = 1.0e-2
    #: Iteration caps: warm-started (the previous solution seeds the pelvis) and cold. A
    #: warm solve at 200 Hz converges in 1-3; the cap bounds the time spent on a target
    #: that cannot be met (each iteration ~0.3 ms in Python); the configuration with the
    #: least weighted error seen is returned.
    max_iterations: int = 8
    max_iterations_cold: int = 40

    def __post_init__(self) -> None:
        """Reject non-positive or non-finite values."""
        for name in ("foot_weight", "com_weight", "pelvis_weight", "damping_bias",
                     "converge_m", "converge_rad", "ok_position_m", "ok_rotation_rad"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0.0:
                raise MotionInputError(f"IKSettings.{name} must be finite and > 0, got {value}")
        if self.max_iterations < 1 or self.max_iterations_cold < 1:
            raise MotionInputError("IKSettings.max_iterations(_cold) must be >= 1")


@dataclass(frozen=True)
class IKResult:
    """One whole-body IK answer (always finite, within the joint limits)."""

    q: np.ndarray              #: joint angles [rad], LEG_JOINTS order
    base_pose: np.ndarray      #: pelvis pose in the world (4x4)
    com_error_m: float         #: |CoM target - CoM reached|
    foot_error_m: float        #: worst sole position error
    foot_error_rad: float      #: worst sole orientation error
    pelvis_error_rad: float    #: pelvis orientation error
    ok: bool                   #: every residual below the settings' ``ok_*`` tolerances
    iterations: int            #: Newton iterations used


class LegKinematics(NamedTuple):
    """Forward kinematics: CoM position [m] and sole poses (4x4) in the world."""

    com: np.ndarray
    left_sole: np.ndarray
    right_sole: np.ndarray


def sole_pose(target: np.ndarray | tuple | list, what: str) -> np.ndarray:
    """A sole target as a 4x4 pose: ``(x, y, z, yaw)`` (sole flat) or a 4x4 transform.

    Raises:
        MotionInputError: wrong shape, non-finite, or not a rigid transform.

    """
    arr = np.asarray(target, dtype=float)
    if arr.shape == (4,):
        if not np.isfinite(arr).all():
            raise MotionInputError(f"{what}: non-finite (x, y, z, yaw) {arr.tolist()}")
        T = np.eye(4)
        c, s = math.cos(arr[3]), math.sin(arr[3])
        T[:2, :2] = [[c, -s], [s, c]]
        T[:3, 3] = arr[:3]
        return T
    if arr.shape == (4, 4):
        return check_pose(arr, what)
    raise MotionInputError(f"{what}: expected (x, y, z, yaw) or a 4x4 pose, got shape "
                           f"{arr.shape}")


def _rotation(R: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(R, dtype=float)
    if arr.shape != (3, 3) or not np.isfinite(arr).all():
        raise MotionInputError(f"{what}: expected a finite 3x3 rotation matrix")
    if np.abs(arr.T @ arr - np.eye(3)).max() > 1e-6 or np.linalg.det(arr) < 0.0:
        raise MotionInputError(f"{what}: not a rotation matrix (not orthonormal, det +1)")
    return arr


def _vector(v: np.ndarray | tuple | list, n: int, what: str) -> np.ndarray:
    arr = np.asarray(v, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.isfinite(arr).all():
        raise MotionInputError(f"{what}: expected {n} finite values, got {np.asarray(v)!r}")
    return arr


class WholeBodyIK:
    """Weighted damped-least-squares IK over the pelvis pose and the 12 leg joints."""

    def __init__(self, urdf_path: str | Path, joint_names: tuple[str, ...] = LEG_JOINTS,
                 left_sole: str = "l_sole", right_sole: str = "r_sole",
                 base: str = "pelvis", settings: IKSettings | None = None) -> None:
        """Load the URDF with a free-flyer root at ``base``.

        Movable joints the URDF has beyond ``joint_names`` are locked at zero.

        Raises:
            MotionInputError: unreadable URDF, a missing joint or frame, a root link other
                than ``base``.

        """
        path = Path(urdf_path)
        check_urdf_xml(path)
        reason = ""
        with _captured_stderr() as errors:
            try:
                full = pin.buildModelFromUrdf(str(path), pin.JointModelFreeFlyer())
            except (ValueError, RuntimeError) as exc:
                full, reason = None, str(exc)
        if full is None:
            raise MotionInputError(f"{path}: malformed URDF ({'; '.join(errors) or reason})")
        missing = [n for n in joint_names if not full.existJointName(n)]
        if missing:
            raise MotionInputError(f"{path}: joints {missing} not in the URDF")
        lock = [j for j in range(2, full.njoints) if full.names[j] not in joint_names]
        model = (pin.buildReducedModel(full, lock, pin.neutral(full)) if lock else full)
        for frame in (left_sole, right_sole, base):
            if not model.existFrame(frame):
                raise MotionInputError(f"{path}: no frame '{frame}' in the URDF")
        base_frame = model.frames[model.getFrameId(base)]
        if base_frame.parentJoint != 1 or not base_frame.placement.isIdentity():
            raise MotionInputError(f"{path}: '{base}' must be the URDF's root link")
        self.model = model
        self.data = model.createData()
        self.joint_names = tuple(joint_names)
        self.settings = settings or IKSettings()
        self._idx_q = np.array([model.idx_qs[model.getJointId(n)] for n in joint_names])
        self._idx_v = np.array([model.idx_vs[model.getJointId(n)] for n in joint_names])
        if any(model.nqs[model.getJointId(n)] != 1 for n in joint_names):
            raise MotionInputError(f"{path}: every leg joint must be revolute (1 DoF)")
        self.lower = model.lowerPositionLimit[self._idx_q].copy()
        self.upper = model.upperPositionLimit[self._idx_q].copy()
        # Joints column index in v: the base's 6 columns are never limited.
        self._lower_v = np.full(model.nv, -np.inf)
        self._upper_v = np.full(model.nv, np.inf)
        self._lower_v[self._idx_v] = self.lower
        self._upper_v[self._idx_v] = self.upper
        self._left = model.getFrameId(left_sole)
        self._right = model.getFrameId(right_sole)
        self._base = model.getFrameId(base)
        self.mass_kg = float(pin.computeTotalMass(model))
        self._last_base: np.ndarray | None = None
        self._lwa = pin.ReferenceFrame.LOCAL_WORLD_ALIGNED

    # -- conversions ------------------------------------------------------------------

    def _configuration(self, q: np.ndarray, base_pose: np.ndarray) -> np.ndarray:
        qp = pin.neutral(self.model)
        qp[:7] = pin.SE3ToXYZQUAT(pin.SE3(np.ascontiguousarray(base_pose[:3, :3]),
                                          np.ascontiguousarray(base_pose[:3, 3])))
        qp[self._idx_q] = q
        return qp

    def _base_pose(self, qp: np.ndarray) -> np.ndarray:
        return pin.XYZQUATToSE3(qp[:7]).homogeneous

    def joints(self, qp: np.ndarray) -> np.ndarray:
        """The leg joints (LEG_JOINTS order) of a full Pinocchio configuration."""
        return qp[self._idx_q].copy()

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) joint limits [rad] from the URDF, LEG_JOINTS order."""
        return self.lower.copy(), self.upper.copy()

    def check_q(self, q: np.ndarray | tuple | list, what: str = "q") -> np.ndarray:
        """``q`` as 12 finite floats (MotionInputError otherwise)."""
        return _vector(q, len(self.joint_names), what)

    # -- forward kinematics -----------------------------------------------------------

    def forward(self, q: np.ndarray | tuple | list,
                base_pose: np.ndarray | None = None) -> LegKinematics:
        """CoM and sole poses in the world for joints ``q`` and the pelvis at ``base_pose``.

        ``base_pose`` (4x4) defaults to the identity: the results are then in the pelvis
        frame.
        """
        q = self.check_q(q)
        T = np.eye(4) if base_pose is None else check_pose(base_pose, "base_pose")
        qp = self._configuration(q, T)
        com = pin.centerOfMass(self.model, self.data, qp, False).copy()
        pin.updateFramePlacements(self.model, self.data)
        return LegKinematics(com, self.data.oMf[self._left].homogeneous.copy(),
                             self.data.oMf[self._right].homogeneous.copy())

    # -- inverse kinematics -----------------------------------------------------------

    def initial_base(self, com: np.ndarray, pelvis_rotation: np.ndarray,
                     q: np.ndarray) -> np.ndarray:
        """A pelvis pose that puts the CoM of configuration ``q`` at ``com`` (4x4)."""
        com_local = self.forward(q).com
        T = np.eye(4)
        T[:3, :3] = pelvis_rotation
        T[:3, 3] = com - pelvis_rotation @ com_local
        return T

    def solve(self, com: np.ndarray | tuple | list, pelvis_rotation: np.ndarray,
              left_sole: np.ndarray | tuple | list, right_sole: np.ndarray | tuple | list,
              q_init: np.ndarray | tuple | list,
              base_init: np.ndarray | None = None) -> IKResult:
        """Joint angles that put the CoM, both soles and the pelvis orientation on target.

        Args:
            com: CoM target in the world [m] (3).
            pelvis_rotation: pelvis orientation target in the world (3x3).
            left_sole: left sole target, ``(x, y, z, yaw)`` (flat sole) or 4x4.
            right_sole: right sole target, same forms.
            q_init: starting joint angles (LEG_JOINTS order); clamped into the limits.
            base_init: starting pelvis pose (4x4); default the previous solution's, or for
                the first call one that puts ``q_init``'s CoM on target.

        Returns:
            The best configuration found: finite, within the joint limits; ``ok`` says
            whether it meets the targets.

        Raises:
            MotionInputError: non-finite or malformed targets or ``q_init``.

        """
        c_des = _vector(com, 3, "com")
        R_pelvis = _rotation(pelvis_rotation, "pelvis_rotation")
        T_left = sole_pose(left_sole, "left_sole")
        T_right = sole_pose(right_sole, "right_sole")
        q0 = np.clip(self.check_q(q_init, "q_init"), self.lower, self.upper)
        s = self.settings
        max_iterations = s.max_iterations
        if base_init is not None:
            T0 = check_pose(base_init, "base_init")
        elif self._last_base is not None:
            T0 = self._last_base
        else:
            T0 = self.initial_base(c_des, R_pelvis, q0)
            max_iterations = s.max_iterations_cold
        model, data = self.model, self.data
        w = np.sqrt(np.concatenate([np.full(12, s.foot_weight), np.full(3, s.com_weight),
                                    np.full(3, s.pelvis_weight)]))
        targets = ((self._left, T_left), (self._right, T_right))
        qp = self._configuration(q0, T0)
        A = np.empty((18, model.nv))
        e = np.empty(18)
        iterations = 0
        best: tuple[float, np.ndarray, tuple[float, float, float, float]] | None = None
        while True:
            # 1. kinematics and Jacobians at qp
            A[12:15] = pin.jacobianCenterOfMass(model, data, qp, False)
            pin.computeJointJacobians(model, data, qp)
            pin.updateFramePlacements(model, data)
            # 2. task errors (world)
            for k, (fid, T) in enumerate(targets):
                M = data.oMf[fid]
                e[6 * k:6 * k + 3] = T[:3, 3] - M.translation
                e[6 * k + 3:6 * k + 6] = pin.log3(T[:3, :3] @ M.rotation.T)
                A[6 * k:6 * k + 6] = pin.getFrameJacobian(model, data, fid, self._lwa)
            e[12:15] = c_des - data.com[0]
            e[15:18] = pin.log3(R_pelvis @ data.oMf[self._base].rotation.T)
            A[15:18] = pin.getFrameJacobian(model, data, self._base, self._lwa)[3:]
            norms = np.sqrt(np.einsum("ij,ij->i", e.reshape(6, 3), e.reshape(6, 3)))
            pos_err = float(max(norms[0], norms[2]))
            rot_err = float(max(norms[1], norms[3]))
            com_err, pel_err = float(norms[4]), float(norms[5])
            b = w * e
            cost = 0.5 * float(b @ b)
            if best is None or cost < best[0]:
                best = (cost, qp, (pos_err, rot_err, com_err, pel_err))
            if (max(pos_err, com_err) < s.converge_m and max(rot_err, pel_err) < s.converge_rad
                    or iterations >= max_iterations):
                break
            iterations += 1
            # 3.-4. damped least squares with the joint limits as an active set
            dv = self._limited_step(w[:, None] * A, b, qp)
            # 5. integrate on the manifold
            qp = pin.integrate(model, qp, dv)
            qp[self._idx_q] = np.clip(qp[self._idx_q], self.lower, self.upper)
        _, qp, (pos_err, rot_err, com_err, pel_err) = best
        base_pose = self._base_pose(qp)
        self._last_base = base_pose
        ok = (max(pos_err, com_err) <= s.ok_position_m
              and max(rot_err, pel_err) <= s.ok_rotation_rad)
        return IKResult(self.joints(qp), base_pose, com_err, float(pos_err), float(rot_err),
                        pel_err, bool(ok), iterations)

    def _limited_step(self, A: np.ndarray, b: np.ndarray, qp: np.ndarray) -> np.ndarray:
        """Damped least squares step; joints that would cross a limit stop at it."""
        lam = 0.5 * float(b @ b) + self.settings.damping_bias
        H = A.T @ A
        H.flat[::H.shape[0] + 1] += lam
        dv = np.linalg.solve(H, A.T @ b)
        q_v = np.zeros(self.model.nv)
        q_v[self._idx_v] = qp[self._idx_q]
        new = q_v + dv
        over = (new < self._lower_v) | (new > self._upper_v)
        if not over.any():
            return dv
        # Active set: the joints that would cross stop at their limit, the rest re-solve.
        free = np.ones(self.model.nv, dtype=bool)
        for _ in range(len(self._idx_v)):
            dv[over] = np.clip(new[over], self._lower_v[over], self._upper_v[over]) - q_v[over]
            free &= ~over
            Af = A[:, free]
            H = Af.T @ Af
            H.flat[::H.shape[0] + 1] += lam
            dv[free] = np.linalg.solve(H, Af.T @ (b - A[:, ~free] @ dv[~free]))
            new = q_v + dv
            over = free & ((new < self._lower_v) | (new > self._upper_v))
            if not over.any():
                break
        return dv

    def reset_warm_start(self) -> None:
        """Forget the previous solution (the next solve seeds the pelvis from its CoM)."""
        self._last_base = None
