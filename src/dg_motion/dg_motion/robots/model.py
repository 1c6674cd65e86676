"""A serial arm loaded from any URDF (Pinocchio): kinematics, limits, tool frames, IK.

- Model: ``pinocchio.buildModelFromUrdf`` (Carpentier et al., "The Pinocchio C++ library",
  SII 2019); joint limits from the URDF's ``<limit>`` tags merged with a MoveIt
  ``joint_limits.yaml`` (:mod:`dg_motion.robots.limits`).
- Forward kinematics and the frame Jacobian (``LOCAL_WORLD_ALIGNED``: rows
  ``[linear; angular]`` in base-frame axes, the linear part the velocity of the frame's
  origin).
- Singularity measures: Yoshikawa's manipulability ``w = sqrt(det(J J^T))`` (T. Yoshikawa,
  "Manipulability of Robotic Mechanisms", IJRR 4(2), 1985), computed as the product of J's
  singular values, and J's smallest singular value (distance to the nearest rank loss).
- Inverse kinematics: closed form for the UR geometry (:mod:`.ur_kinematics`, recognised
  from the joint placements, any fixed tool behind the last joint), else Levenberg-Marquardt
  damped least squares with the damping ``E(q) + w_bar`` of T. Sugihara, "Solvability-
  Unconcerned Inverse Kinematics by the Levenberg-Marquardt Method", IEEE T-RO 27(5), 2011
  (``E = e^T e / 2``: stays well-conditioned at singularities and for unreachable targets),
  joint limits by clamping after each step, restarts from seeded random configurations.
"""

# Transforms, rotations and Jacobians keep the textbook capitals (T, R, J, A_i).
# ruff: noqa: N803, N806

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pinocchio as pin

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits, load_joint_limits
from dg_motion.robots.paths import robot_file
from dg_motion.robots.ur_kinematics import (
    URGeometry,
    closest_equivalent,
    geometry_from_placements,
    ur_ik,
)
from dg_motion.robots.urdf import load_urdf_model

#: Smallest singular value of J below which an IK solution is reported SINGULAR.
#: A UR5 exactly at the wrist singularity gives ~1e-16; one 1e-6 rad away ~1e-7.
SINGULAR_SIGMA = 1e-9
#: IK success tolerances (position [m], orientation [rad]).
IK_POSITION_TOL_M = 1e-9
IK_ORIENTATION_TOL_RAD = 1e-9
#: Sugihara's bias damping ``w_bar`` (his recommended 1e-3 of the squared error scale
#: ~ (0.1 m)^2 of an arm-sized problem).
_LM_DAMPING_BIAS = 1e-5
_LM_MAX_ITERATIONS = 200
_LM_RESTARTS = 8


class IKStatus(enum.Enum):
    """Outcome of one inverse-kinematics call."""

    SOLVED = "solved"              #: q reaches the pose within tolerance, inside the limits
    UNREACHABLE = "unreachable"    #: no configuration reaches the pose (q is None)
    JOINT_LIMITS = "joint_limits"  #: the pose is reachable only outside the joint limits
    SINGULAR = "singular"          #: q reaches the pose but J loses rank there (not unique)
    NOT_CONVERGED = "not_converged"  #: numerical IK ran out of iterations (q: best found)


class IKMethod(enum.Enum):
    """Which IK an :meth:`ArmModel.ik` call uses."""

    AUTO = "auto"            #: analytic where the geometry has a closed form, else numerical
    ANALYTIC = "analytic"    #: closed form only (MotionInputError if the model has none)
    NUMERICAL = "numerical"  #: damped least squares from the seed


@dataclass(frozen=True)
class IKResult:
    """An IK answer: status, joint angles [rad] (None when there is none) and residuals."""

    status: IKStatus
    q: np.ndarray | None
    position_error_m: float
    orientation_error_rad: float

    @property
    def ok(self) -> bool:
        """True for SOLVED (a unique, reachable, in-limit solution)."""
        return self.status is IKStatus.SOLVED


def check_pose(T: np.ndarray, what: str = "pose") -> np.ndarray:
    """``T`` as a float 4x4 array if it is a finite rigid transform.

    Raises:
        MotionInputError: ``what`` is not 4x4, not finite, or its rotation is not
            orthonormal with determinant +1 (1e-6), or its last row is not [0 0 0 1].

    """
    try:
        arr = np.asarray(T, dtype=float)
    except (TypeError, ValueError):
        raise MotionInputError(f"{what}: not a numeric 4x4 transform") from None
    if arr.shape != (4, 4):
        raise MotionInputError(f"{what}: expected a 4x4 transform, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise MotionInputError(f"{what}: expected a finite 4x4 transform, got NaN/inf")
    R = arr[:3, :3]
    if (np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or np.linalg.det(R) < 0.0
            or np.abs(arr[3] - [0, 0, 0, 1]).max() > 1e-12):
        raise MotionInputError(f"{what}: not a rigid transform (rotation not orthonormal "
                               "or last row not [0 0 0 1])")
    return arr


def _se3(T: np.ndarray) -> pin.SE3:
    return pin.SE3(np.ascontiguousarray(T[:3, :3]), np.ascontiguousarray(T[:3, 3]))


def pose_error(T_a: np.ndarray, T_b: np.ndarray) -> tuple[float, float]:
    """Position [m] and orientation [rad] distance between two 4x4 poses."""
    dp = float(np.linalg.norm(T_a[:3, 3] - T_b[:3, 3]))
    R = T_a[:3, :3].T @ T_b[:3, :3]
    c = min(1.0, max(-1.0, (np.trace(R) - 1.0) / 2.0))
    if c > 0.999:  # acos loses precision near 0: use the skew part
        s = 0.5 * np.linalg.norm([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
        return dp, float(math.asin(min(1.0, s)))
    return dp, float(math.acos(c))


class ArmModel:
    """A fixed-base serial arm: joint names/limits, FK, Jacobian, IK for a tool frame."""

    def __init__(self, pin_model: pin.Model, *, limits: JointLimits, urdf_path: Path | None,
                 tool_frame: str) -> None:
        """Wrap a Pinocchio model (use :meth:`from_urdf`); every joint must be 1-DoF."""
        if pin_model.nq != pin_model.nv:
            raise MotionInputError("robot model: continuous or multi-DoF joints are not "
                                   "supported (nq != nv)")
        if not pin_model.existFrame(tool_frame):
            raise MotionInputError(f"robot model: unknown tool frame '{tool_frame}' "
                                   f"(frames: {[f.name for f in pin_model.frames]})")
        self.pin_model = pin_model
        self.pin_data = pin_model.createData()
        self.names: tuple[str, ...] = tuple(pin_model.names[1:])
        self.dof = pin_model.nq
        self.limits = limits
        self.urdf_path = urdf_path
        self.tool_frame = tool_frame
        self._tool_id = pin_model.getFrameId(tool_frame)
        self._ur = self._detect_ur()

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_urdf(cls, urdf_path: str | Path, *, tool_frame: str = "tool0",
                  limits_file: str | Path | None = None) -> ArmModel:
        """Load a URDF; ``limits_file`` (MoveIt ``joint_limits.yaml``) overrides its limits.

        Raises:
            MotionInputError: unreadable or malformed URDF (file and reason), unknown tool
                frame, unsupported joints, bad limits file.

        """
        path = Path(urdf_path)
        model = load_urdf_model(path)
        names = tuple(model.names[1:])
        pos_min = np.where(np.abs(model.lowerPositionLimit) < 1e300,
                           model.lowerPositionLimit, -np.inf)
        pos_max = np.where(np.abs(model.upperPositionLimit) < 1e300,
                           model.upperPositionLimit, np.inf)
        vel = np.where(model.velocityLimit > 0.0, model.velocityLimit, np.inf)
        eff = np.where(model.effortLimit > 0.0, model.effortLimit, np.inf)
        inf = np.full(len(names), np.inf)
        try:
            limits = JointLimits(names, pos_min, pos_max, vel, inf, inf.copy(), eff)
        except MotionInputError as exc:
            raise MotionInputError(f"{path}: {exc}") from None
        if limits_file is not None:
            limits = load_joint_limits(limits_file, names, base=limits)
        return cls(model, limits=limits, urdf_path=path, tool_frame=tool_frame)

    @classmethod
    def from_robot(cls, robot: str = "ur5", *, tool_frame: str = "tool0") -> ArmModel:
        """A packaged robot: ``config/robots/<robot>/<robot>.urdf`` + ``joint_limits.yaml``."""
        return cls.from_urdf(robot_file(robot, f"{robot}.urdf"), tool_frame=tool_frame,
                             limits_file=robot_file(robot, "joint_limits.yaml"))

    def with_tool(self, T_flange_tool: np.ndarray, *, name: str = "tool",
                  flange_frame: str = "flange") -> ArmModel:
        """A copy of the arm with a new tool frame ``name`` at ``T_flange_tool`` (4x4).

        The transform is relative to the flange.

        ``flange_frame`` defaults to ``flange``; a model without it uses the last joint's
        frame. The new model's ``tool_frame`` is ``name``.
        """
        T = self._check_pose(T_flange_tool, "tool transform")
        model = pin.Model(self.pin_model)
        if model.existFrame(flange_frame):
            parent = model.frames[model.getFrameId(flange_frame)]
        else:
            parent = model.frames[model.getFrameId(self.names[-1])]
        parent_id = model.getFrameId(parent.name)
        if model.existFrame(name):
            raise MotionInputError(f"with_tool: the model already has a frame '{name}'")
        placement = parent.placement * _se3(T)
        model.addFrame(pin.Frame(name, parent.parentJoint, parent_id, placement,
                                 pin.FrameType.OP_FRAME))
        return ArmModel(model, limits=self.limits, urdf_path=self.urdf_path, tool_frame=name)

    def _detect_ur(self) -> tuple[URGeometry, np.ndarray, np.ndarray] | None:
        """(geometry, T_base_0, T_6_tool) when the chain is the UR structure."""
        m = self.pin_model
        if m.njoints != 7 or any(j.shortname() != "JointModelRZ" for j in m.joints[1:]):
            return None
        if list(m.parents[1:]) != [0, 1, 2, 3, 4, 5]:
            return None
        found = geometry_from_placements([m.jointPlacements[i].homogeneous
                                          for i in range(1, 7)])
        frame = m.frames[self._tool_id]
        if found is None or frame.parentJoint != 6:
            return None
        geom, T_base_0 = found
        return geom, T_base_0, frame.placement.homogeneous

    @property
    def has_analytic_ik(self) -> bool:
        """True when :meth:`ik` uses the closed-form UR solution."""
        return self._ur is not None

    # -- validation -------------------------------------------------------------------

    def _check_q(self, q: np.ndarray, what: str = "q") -> np.ndarray:
        arr = np.asarray(q, dtype=float)
        if arr.shape != (self.dof,):
            raise MotionInputError(f"{what}: expected {self.dof} joint values "
                                   f"{list(self.names)}, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise MotionInputError(f"{what}: non-finite joint values {arr.tolist()}")
        return arr

    @staticmethod
    def _check_pose(T: np.ndarray, what: str = "pose") -> np.ndarray:
        return check_pose(T, what)

    def _frame_id(self, frame: str | None) -> int:
        if frame is None:
            return self._tool_id
        if not self.pin_model.existFrame(frame):
            raise MotionInputError(f"unknown frame '{frame}'")
        return self.pin_model.getFrameId(frame)

    # -- kinematics -------------------------------------------------------------------

    def fk(self, q: np.ndarray, frame: str | None = None) -> np.ndarray:
        """Pose (4x4, base frame) of ``frame`` (default: the tool frame) at ``q`` [rad]."""
        q = self._check_q(q)
        fid = self._frame_id(frame)
        pin.framesForwardKinematics(self.pin_model, self.pin_data, q)
        return self.pin_data.oMf[fid].homogeneous.copy()

    def _fk_tool(self, q: np.ndarray) -> np.ndarray:
        pin.framesForwardKinematics(self.pin_model, self.pin_data, q)
        return self.pin_data.oMf[self._tool_id].homogeneous

    def frame_poses(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """Pose (4x4, base frame) of every frame of the model (links, joints, tools)."""
        q = self._check_q(q)
        pin.framesForwardKinematics(self.pin_model, self.pin_data, q)
        return {f.name: self.pin_data.oMf[i].homogeneous.copy()
                for i, f in enumerate(self.pin_model.frames) if i > 0}

    def jacobian(self, q: np.ndarray, frame: str | None = None) -> np.ndarray:
        """Geometric Jacobian (6 x dof, ``[linear; angular]``, base-frame axes) of ``frame``."""
        q = self._check_q(q)
        return self._jacobian(q, self._frame_id(frame))

    def _jacobian(self, q: np.ndarray, fid: int) -> np.ndarray:
        return pin.computeFrameJacobian(self.pin_model, self.pin_data, q, fid,
                                        pin.LOCAL_WORLD_ALIGNED)

    def singular_values(self, q: np.ndarray, frame: str | None = None) -> np.ndarray:
        """Singular values of the tool Jacobian, descending."""
        return np.linalg.svd(self.jacobian(q, frame), compute_uv=False)

    def manipulability(self, q: np.ndarray, frame: str | None = None) -> float:
        """Yoshikawa's ``sqrt(det(J J^T))`` (product of J's singular values; 0: singular)."""
        return float(np.prod(self.singular_values(q, frame)))

    def min_singular_value(self, q: np.ndarray, frame: str | None = None) -> float:
        """Smallest singular value of J (0 at a singularity; mixed units m / rad)."""
        return float(self.singular_values(q, frame)[-1])

    def within_limits(self, q: np.ndarray, tol_rad: float = 1e-9) -> bool:
        """True when every joint is inside its position limits (``tol_rad`` slack)."""
        q = self._check_q(q)
        return bool(np.all(q >= self.limits.position_min - tol_rad)
                    and np.all(q <= self.limits.position_max + tol_rad))

    # -- inverse kinematics -----------------------------------------------------------

    def _result(self, q: np.ndarray | None, T: np.ndarray, status: IKStatus) -> IKResult:
        if q is None:
            return IKResult(status, None, math.inf, math.inf)
        dp, dr = pose_error(self._fk_tool(q), T)
        if status is IKStatus.SOLVED and (
                np.linalg.svd(self._jacobian(q, self._tool_id), compute_uv=False)[-1]
                < SINGULAR_SIGMA):
            status = IKStatus.SINGULAR
        return IKResult(status, q, dp, dr)

    def _analytic_candidates(self, T: np.ndarray, q6_hint: float) -> list[np.ndarray]:
        assert self._ur is not None
        geom, T_base_0, T_6_tool = self._ur
        T06 = np.linalg.solve(T_base_0, T) @ np.linalg.inv(T_6_tool)
        return [s.q for s in ur_ik(geom, T06, q6_hint)]

    def ik(self, T_target: np.ndarray, q_seed: np.ndarray,
           method: IKMethod | str = IKMethod.AUTO) -> IKResult:
        """Joint angles placing the tool frame at ``T_target`` (4x4, base frame).

        Analytic (UR geometry): the solution closest to ``q_seed`` (each joint's ``+-2 pi``
        equivalent nearest the seed, within limits). Numerical: damped least squares from
        ``q_seed``, then from seeded random restarts.

        Raises:
            MotionInputError: non-finite or non-rigid target, wrong seed size, or
                ``method="analytic"`` on a model without a closed form.

        """
        T = self._check_pose(T_target, "IK target")
        seed = self._check_q(q_seed, "IK seed")
        method = IKMethod(method)
        if method is IKMethod.ANALYTIC and self._ur is None:
            raise MotionInputError("analytic IK: the model is not the UR geometry with the "
                                   f"tool frame '{self.tool_frame}' behind its last joint")
        if method is IKMethod.NUMERICAL or self._ur is None:
            return self._ik_numerical(T, seed)
        candidates = self._analytic_candidates(T, float(seed[5]))
        if not candidates:
            return self._result(None, T, IKStatus.UNREACHABLE)
        lim = self.limits
        best, best_d = None, math.inf
        for q in candidates:
            qe = closest_equivalent(q, seed, lim.position_min, lim.position_max)
            if qe is not None and (d := float(np.sum((qe - seed) ** 2))) < best_d:
                best, best_d = qe, d
        if best is None:
            return IKResult(IKStatus.JOINT_LIMITS, None, math.inf, math.inf)
        return self._result(best, T, IKStatus.SOLVED)

    def ik_all(self, T_target: np.ndarray, q_seed: np.ndarray | None = None) -> list[np.ndarray]:
        """Every distinct IK solution within limits.

        Analytic: up to 8, each joint's equivalent nearest ``q_seed`` (default zeros).
        Non-UR models: the distinct solutions numerical IK finds from seeded restarts.
        """
        T = self._check_pose(T_target, "IK target")
        seed = np.zeros(self.dof) if q_seed is None else self._check_q(q_seed, "IK seed")
        out: list[np.ndarray] = []
        if self._ur is not None:
            lim = self.limits
            for q in self._analytic_candidates(T, float(seed[5])):
                qe = closest_equivalent(q, seed, lim.position_min, lim.position_max)
                if qe is not None:
                    out.append(qe)
        else:
            rng = np.random.default_rng(0)
            for k in range(4 * _LM_RESTARTS):
                start = seed if k == 0 else self._random_q(rng)
                q, err, _ = self._lm(T, start)
                if err < IK_POSITION_TOL_M:
                    out.append(q)
        unique: list[np.ndarray] = []
        for q in out:
            if all(np.abs(q - u).max() > 1e-6 for u in unique):
                unique.append(q)
        return unique

    def _random_q(self, rng: np.random.Generator) -> np.ndarray:
        lo = np.maximum(self.limits.position_min, -math.pi)
        hi = np.minimum(self.limits.position_max, math.pi)
        return rng.uniform(lo, hi)

    def _lm(self, T: np.ndarray, q0: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Levenberg-Marquardt from q0: (q, residual norm, stalled before max iterations)."""
        lo, hi = self.limits.position_min, self.limits.position_max
        q = np.clip(q0, lo, hi)
        err_norm = math.inf
        history: list[float] = []
        for _ in range(_LM_MAX_ITERATIONS):
            Tq = self._fk_tool(q)
            e = np.concatenate([T[:3, 3] - Tq[:3, 3], pin.log3(T[:3, :3] @ Tq[:3, :3].T)])
            err_norm = float(np.linalg.norm(e))
            if err_norm < IK_POSITION_TOL_M * 0.1:
                return q, err_norm, False
            history.append(err_norm)
            if len(history) > 10 and history[-11] - err_norm < 1e-8 * err_norm:
                return q, err_norm, True  # no progress over 10 iterations: a local minimum
            J = self._jacobian(q, self._tool_id)
            g = J.T @ e
            H = J.T @ J + (0.5 * err_norm**2 + _LM_DAMPING_BIAS) * np.eye(self.dof)
            q_new = np.clip(q + np.linalg.solve(H, g), lo, hi)
            # stationary point of |e|^2 / 2 (gradient J^T e ~ 0, or every step clamped away)
            # with a residual left: a local minimum, the target out of reach from here
            if np.linalg.norm(g) < 1e-10 or np.abs(q_new - q).max() < 1e-13:
                return q, err_norm, True
            q = q_new
        return q, err_norm, False

    def _ik_numerical(self, T: np.ndarray, seed: np.ndarray) -> IKResult:
        rng = np.random.default_rng(0)
        best: tuple[np.ndarray, float, bool] | None = None
        for k in range(_LM_RESTARTS):
            start = seed if k == 0 else self._random_q(rng)
            q, err, stalled = self._lm(T, start)
            if best is None or err < best[1]:
                best = (q, err, stalled)
            if err < IK_POSITION_TOL_M:
                break
        assert best is not None
        q, err, stalled = best
        result = self._result(q, T, IKStatus.SOLVED)
        if (result.position_error_m <= IK_POSITION_TOL_M
                and result.orientation_error_rad <= IK_ORIENTATION_TOL_RAD):
            return result
        lim = self.limits
        at_limit = bool(np.any(np.isclose(q, lim.position_min) | np.isclose(q, lim.position_max)))
        if stalled:
            status = IKStatus.JOINT_LIMITS if at_limit else IKStatus.UNREACHABLE
        else:
            status = IKStatus.NOT_CONVERGED
        return IKResult(status, q if status is IKStatus.NOT_CONVERGED else None,
                        result.position_error_m, result.orientation_error_rad)
