"""Cartesian LIN and CIRC motions with blending, converted to joint paths and timed.

Semantics as in industrial robot languages (KUKA KRL LIN/CIRC, ABB RAPID MoveL/MoveC,
RoboDK): a **LIN** moves the TCP on the straight line to its end pose, orientation by
spherical linear interpolation (slerp, K. Shoemake, "Animating rotation with quaternion
curves", SIGGRAPH 1985) proportional to the travelled distance; a **CIRC** moves the TCP on
the circular arc from the start through the auxiliary point to the end point, orientation
slerped from start to end (the auxiliary point's orientation is ignored, as KUKA's CIRC
does). Without blending the TCP stops exactly at each segment end.

1. Geometry. Each segment is a curve ``p(sigma), R(sigma)`` over its arc length ``sigma in
   [0, L]``. The CIRC's centre is the circumcentre of (start, aux, end), its plane normal
   ``(aux - start) x (end - start)``; the arc runs counter-clockwise about that normal from
   the start through aux to the end (0 < angle < 2 pi).
2. Blending (approximate positioning, KUKA's C_DIS / ABB's zone): at the corner between
   segments i and i+1 with radius r (reduced to half the shorter segment, as ABB reduces
   overlapping zones), the TCP leaves segment i at arc length ``L_i - r`` and rejoins
   segment i+1 at ``r``. In between, both motions run on and are mixed with a quintic
   transition ``w(u) = 10u^3 - 15u^4 + 6u^5`` (u in [0, 1]): ``p = (1 - w) p_i + w p_(i+1)``
   and ``R = slerp(R_i, R_(i+1), w)`` -- the transition-function blending of J. Lloyd and
   V. Hayward, "Trajectory generation for sensor-driven and time-varying tasks", IJRR 12(4),
   1993. Since ``w' = w'' = 0`` at both ends the blend joins both segments with continuous
   tangent and curvature (position and orientation), and since each mixed point is within
   r of the corner, the TCP stays inside the blend sphere.
3. Sampling at ``step_m`` (and ``step_rad`` of orientation); inverse kinematics at every
   sample seeded with the previous solution, which keeps the branch (the closed-form IK
   returns the solution closest to the seed). A sample without a solution, a solution
   outside the joint limits, a singular one, or a jump of any joint by more than
   ``max_joint_step_rad`` between neighbouring samples (a branch flip: the arm would have
   to leave the path, as near a singularity) raises :class:`CartesianPathError` naming the
   segment and the pose.
4. Timing (:func:`time_cartesian`): the joint samples become a C2 spline
   (:class:`~dg_motion.trajectory.path.JointPath`) over the path parameter ``u`` per piece
   between exact stops, retimed time-optimally by TOPP-RA
   (:func:`~dg_motion.trajectory.topp.retime_path`) under the joint velocity/acceleration
   limits plus the TCP caps as a bound on ``u_dot^2``: speed ``|dp/du| u_dot <= v`` and
   centripetal acceleration ``|d2p/du2 (perp)| u_dot^2 <= a``. The tangential TCP
   acceleration is not a bound on ``u_dot^2`` alone; the timed motion is checked on a fine
   time grid and, while the TCP acceleration exceeds ``tcp_accel_mps2``, retimed with the
   joint acceleration limits scaled by ``0.98 a_cap / a_peak`` (up to 3 passes; cruise speed
   kept), then stretched uniformly (velocities / k, accelerations / k^2) for any rest --
   conservative, not time-optimal.
"""

# Transforms and rotations keep the textbook capitals (T, R).
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pinocchio as pin

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.robots.model import ArmModel, IKStatus, check_pose
from dg_motion.trajectory.path import JointPath
from dg_motion.trajectory.topp import retime_path
from dg_motion.trajectory.types import Trajectory

#: Length that turns one radian of TCP rotation into path parameter [m/rad]: a pure
#: reorientation still advances the joint path's parameter ``u``.
ROTATION_LENGTH_M_PER_RAD = 0.1
#: Passes of joint-acceleration scaling before the uniform stretch for the TCP accel cap.
_ACCEL_ITERATIONS = 3
#: Segments shorter than this [m] are pure reorientations (no blend possible).
MIN_SEGMENT_M = 1e-9


class CartesianPathError(MotionInputError):
    """A Cartesian path cannot be followed; names the segment (0-based) and the pose."""

    def __init__(self, segment_index: int, pose: np.ndarray, reason: str,
                 kind: str = "segment") -> None:
        """Store the failing segment, the failing TCP pose (4x4) and the reason."""
        self.segment_index = segment_index
        self.pose = np.asarray(pose, dtype=float)
        self.reason = reason
        xyz = ", ".join(f"{v:.4f}" for v in self.pose[:3, 3])
        rpy = ", ".join(f"{v:.3f}" for v in pin.rpy.matrixToRpy(self.pose[:3, :3]))
        super().__init__(f"{kind} {segment_index}: {reason} at TCP pose xyz=[{xyz}] m "
                         f"rpy=[{rpy}] rad")


@dataclass(frozen=True)
class LinSegment:
    """Straight TCP line to ``pose_end`` (4x4, base frame); orientation slerped."""

    pose_end: np.ndarray


@dataclass(frozen=True)
class CircSegment:
    """Circular arc through ``pose_aux``'s position to ``pose_end`` (4x4 each)."""

    pose_aux: np.ndarray
    pose_end: np.ndarray


class _Curve:
    """One segment's geometry over ``lam in [0, 1]`` (lam = arc length / L)."""

    def __init__(self, T0: np.ndarray, seg: LinSegment | CircSegment, index: int) -> None:
        self.index = index
        self.kind = "LIN" if isinstance(seg, LinSegment) else "CIRC"
        self.T_end = seg.pose_end
        self.p0 = T0[:3, 3].copy()
        self.R0 = T0[:3, :3].copy()
        self.omega = pin.log3(self.R0.T @ seg.pose_end[:3, :3])  # rotation vector, start
        self.angle_rad = float(np.linalg.norm(self.omega))
        pe = seg.pose_end[:3, 3]
        if isinstance(seg, LinSegment):
            self.length_m = float(np.linalg.norm(pe - self.p0))
            self.pe = pe.copy()
            self.center = None
            return
        pa = seg.pose_aux[:3, 3]
        u, v = pa - self.p0, pe - self.p0
        w = np.cross(u, v)
        scale = max(np.linalg.norm(u) * np.linalg.norm(v), 1e-300)
        if np.linalg.norm(w) < 1e-9 * scale or min(np.linalg.norm(u), np.linalg.norm(v),
                                                   np.linalg.norm(pe - pa)) < 1e-6:
            raise CartesianPathError(index, seg.pose_end, "CIRC needs start, auxiliary and "
                                     "end points distinct and not on one line", "CIRC segment")
        ww = float(w @ w)
        self.center = self.p0 + (np.cross(w, u) * float(v @ v)
                                 + np.cross(v, w) * float(u @ u)) / (2.0 * ww)
        self.radius_m = float(np.linalg.norm(self.p0 - self.center))
        self.e1 = (self.p0 - self.center) / self.radius_m
        self.e2 = np.cross(w / math.sqrt(ww), self.e1)
        de = pe - self.center
        self.arc_rad = math.atan2(float(de @ self.e2), float(de @ self.e1)) % (2.0 * math.pi)
        self.length_m = self.radius_m * self.arc_rad

    def position(self, lam: float) -> np.ndarray:
        if self.center is None:
            return self.p0 + lam * (self.pe - self.p0)
        a = lam * self.arc_rad
        return self.center + self.radius_m * (math.cos(a) * self.e1 + math.sin(a) * self.e2)

    def rotation(self, lam: float) -> np.ndarray:
        return self.R0 @ pin.exp3(lam * self.omega)


def _smoothstep5(u: float) -> float:
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _slerp(Ra: np.ndarray, Rb: np.ndarray, w: float) -> np.ndarray:
    return Ra @ pin.exp3(w * pin.log3(Ra.T @ Rb))


def _pose(p: np.ndarray, R: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = p
    return T


@dataclass(frozen=True)
class CartesianPath:
    """Sampled TCP path with its joint solution.

    ``q_points`` (M, dof) [rad], ``poses`` (M, 4, 4) TCP poses, ``s_m`` (M,) arc length of
    the TCP along the path [m], ``u`` (M,) the strictly increasing path parameter [m] (arc
    length plus ``ROTATION_LENGTH_M_PER_RAD`` x rotation), ``segment_of_sample`` (M,) the
    segment each sample belongs to (a blend counts to the segment it leaves), ``stops``
    sample indices where the TCP stops exactly (first, last, and unblended corners).
    """

    names: tuple[str, ...]
    q_points: np.ndarray
    poses: np.ndarray
    s_m: np.ndarray
    u: np.ndarray
    segment_of_sample: np.ndarray
    stops: tuple[int, ...]
    blend_radii_m: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def length_m(self) -> float:
        """Total TCP path length [m]."""
        return float(self.s_m[-1])


def _radii(blend_radius_m: Sequence[float] | float, n_segments: int) -> np.ndarray:
    if np.isscalar(blend_radius_m):
        radii = np.full(max(n_segments - 1, 0), float(blend_radius_m))  # type: ignore[arg-type]
    else:
        radii = np.asarray(blend_radius_m, dtype=float).ravel()
        if len(radii) == n_segments:  # a radius per segment end: the last one is unused
            radii = radii[:-1]
        if len(radii) != max(n_segments - 1, 0):
            raise MotionInputError(f"blend_radius_m: expected one radius per corner "
                                   f"({n_segments - 1}) or per segment ({n_segments}), "
                                   f"got {len(radii)}")
    if not np.isfinite(radii).all() or (radii < 0.0).any():
        raise MotionInputError(f"blend_radius_m must be finite and >= 0, got {radii.tolist()}")
    return radii


def cartesian_path(model: ArmModel, q_start: np.ndarray,
                   segments: Sequence[LinSegment | CircSegment], *,
                   blend_radius_m: Sequence[float] | float = 0.0, step_m: float = 0.002,
                   step_rad: float = 0.01, max_joint_step_rad: float = 0.1) -> CartesianPath:
    """Sample the LIN/CIRC ``segments`` from the TCP pose at ``q_start`` and solve IK.

    ``blend_radius_m``: one radius for every corner, or a list (one per corner, or one per
    segment with the last ignored); 0 = exact stop. ``step_m`` / ``step_rad``: sampling
    resolution in position [m] and orientation [rad]. ``max_joint_step_rad``: largest joint
    change between neighbouring samples before the path counts as a branch flip.

    Raises:
        MotionInputError: bad arguments (non-finite poses, empty segment list, ...).
        CartesianPathError: an unreachable, out-of-limit or singular sample, or a branch
            flip, naming the segment index and the TCP pose.

    """
    q0 = model._check_q(q_start, "start configuration")
    if not model.within_limits(q0):
        raise MotionInputError(f"start configuration {q0.tolist()} is outside the joint limits")
    if not segments:
        raise MotionInputError("Cartesian path: no segments")
    for what, val in (("step_m", step_m), ("step_rad", step_rad),
                      ("max_joint_step_rad", max_joint_step_rad)):
        if not (math.isfinite(val) and val > 0.0):
            raise MotionInputError(f"{what} must be finite and > 0, got {val}")
    checked: list[LinSegment | CircSegment] = []
    for i, seg in enumerate(segments):
        if isinstance(seg, LinSegment):
            checked.append(LinSegment(check_pose(seg.pose_end, f"segment {i} end pose")))
        elif isinstance(seg, CircSegment):
            checked.append(CircSegment(check_pose(seg.pose_aux, f"segment {i} auxiliary pose"),
                                       check_pose(seg.pose_end, f"segment {i} end pose")))
        else:
            raise MotionInputError(f"segment {i}: expected LinSegment or CircSegment, got "
                                   f"{type(seg).__name__}")
    radii = _radii(blend_radius_m, len(checked))

    T = model.fk(q0)
    curves: list[_Curve] = []
    for i, seg in enumerate(checked):
        curves.append(_Curve(T, seg, i))
        T = seg.pose_end
    # a radius may use at most half of each neighbouring segment (blends never overlap)
    r = np.array([min(radii[k], 0.5 * curves[k].length_m, 0.5 * curves[k + 1].length_m)
                  for k in range(len(radii))])
    r[r < MIN_SEGMENT_M] = 0.0

    poses: list[np.ndarray] = [model.fk(q0)]
    seg_of: list[int] = [0]
    stops: list[int] = [0]
    for i, c in enumerate(curves):
        r_in = r[i - 1] if i > 0 else 0.0
        r_out = r[i] if i < len(r) else 0.0
        L = c.length_m
        # core of the segment: lam from r_in / L to 1 - r_out / L
        lam0 = r_in / L if L > MIN_SEGMENT_M else 0.0
        lam1 = 1.0 - r_out / L if L > MIN_SEGMENT_M else 1.0
        span_m = (lam1 - lam0) * L
        span_rad = (lam1 - lam0) * c.angle_rad
        n = max(1, math.ceil(max(span_m / step_m, span_rad / step_rad)))
        if span_m < MIN_SEGMENT_M and span_rad < 1e-9:
            n = 0  # a zero-length segment (end pose = start pose)
        for k in range(1, n + 1):
            lam = lam0 + (lam1 - lam0) * k / n
            poses.append(_pose(c.position(lam), c.rotation(lam)))
            seg_of.append(i)
        if r_out > 0.0:
            nxt = curves[i + 1]
            ang = pin.log3(c.rotation(lam1).T @ nxt.rotation(r_out / nxt.length_m))
            m = max(2, math.ceil(max(2.0 * r_out / step_m,
                                     float(np.linalg.norm(ang)) / step_rad)))
            for k in range(1, m + 1):
                uu = k / m
                w = _smoothstep5(uu)
                la = (L - r_out + uu * r_out) / L
                lb = uu * r_out / nxt.length_m
                p = (1.0 - w) * c.position(la) + w * nxt.position(lb)
                poses.append(_pose(p, _slerp(c.rotation(la), nxt.rotation(lb), w)))
                seg_of.append(i)
        elif i < len(curves) - 1 and n > 0:
            stops.append(len(poses) - 1)
    if len(poses) < 2:
        raise MotionInputError("Cartesian path: every segment ends where it starts")
    if stops[-1] != len(poses) - 1:
        stops.append(len(poses) - 1)

    P = np.array(poses)
    q = _solve_along(model, q0, P, np.array(seg_of), max_joint_step_rad)
    dp = np.linalg.norm(np.diff(P[:, :3, 3], axis=0), axis=1)
    drot = np.array([np.linalg.norm(pin.log3(P[k, :3, :3].T @ P[k + 1, :3, :3]))
                     for k in range(len(P) - 1)])
    du = np.hypot(dp, ROTATION_LENGTH_M_PER_RAD * drot)
    return CartesianPath(names=model.names, q_points=q, poses=P,
                         s_m=np.concatenate([[0.0], np.cumsum(dp)]),
                         u=np.concatenate([[0.0], np.cumsum(du)]),
                         segment_of_sample=np.array(seg_of), stops=tuple(sorted(set(stops))),
                         blend_radii_m=r)


def _solve_along(model: ArmModel, q0: np.ndarray, poses: np.ndarray, seg_of: np.ndarray,
                 max_step_rad: float) -> np.ndarray:
    """IK at every sample, seeded with the previous one; raise naming the segment."""
    lim = model.limits
    q = np.empty((len(poses), model.dof))
    q[0] = q0
    for k in range(1, len(poses)):
        seg = int(seg_of[k])
        res = model.ik(poses[k], q[k - 1])
        if res.status is IKStatus.UNREACHABLE:
            raise CartesianPathError(seg, poses[k], "pose out of reach")
        if res.status is IKStatus.JOINT_LIMITS:
            raise CartesianPathError(seg, poses[k], "reachable only outside the joint limits")
        if res.status is IKStatus.SINGULAR:
            raise CartesianPathError(seg, poses[k], "path passes through a singularity")
        if res.status is not IKStatus.SOLVED or res.q is None:
            raise CartesianPathError(seg, poses[k], f"inverse kinematics {res.status.value}")
        step = res.q - q[k - 1]
        j = int(np.argmax(np.abs(step)))
        if abs(step[j]) > max_step_rad:
            # the continuous continuation of the previous branch, if it exists, lies beyond
            # a limit when the chosen solution is the same angle shifted by 2 pi
            cont = q[k - 1][j] + math.remainder(step[j], 2.0 * math.pi)
            if (abs(math.remainder(step[j], 2.0 * math.pi)) <= max_step_rad
                    and not lim.position_min[j] <= cont <= lim.position_max[j]):
                raise CartesianPathError(seg, poses[k], f"joint '{model.names[j]}' reaches "
                                         f"its limit ({lim.position_min[j]:.3f} .. "
                                         f"{lim.position_max[j]:.3f} rad)")
            raise CartesianPathError(seg, poses[k], f"joint '{model.names[j]}' jumps by "
                                     f"{step[j]:.3f} rad between samples (IK branch flip "
                                     "near a singularity)")
        q[k] = res.q
    return q


class CartesianTrajectory:
    """Timed Cartesian path: rest-to-rest pieces between exact stops, one after the other.

    A Trajectory (``names``, ``duration_s``, ``sample``); ``time_scale`` >= 1 is the uniform
    stretch applied for the TCP acceleration cap.
    """

    def __init__(self, names: tuple[str, ...], pieces: Sequence[Trajectory],
                 time_scale: float = 1.0) -> None:
        """Concatenate ``pieces`` (Trajectories ending at rest), stretched by time_scale."""
        self.names = tuple(names)
        self.pieces = list(pieces)
        self.time_scale = float(time_scale)
        durations = np.array([p.duration_s for p in self.pieces]) * self.time_scale
        self.t_start = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        self.duration_s = float(durations.sum())

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at ``t_s`` (held outside the duration)."""
        t = np.clip(np.atleast_1d(np.asarray(t_s, dtype=float)), 0.0, self.duration_s)
        idx = np.clip(np.searchsorted(self.t_start, t, side="right") - 1, 0,
                      len(self.pieces) - 1)
        dof = len(self.names)
        q, qd, qdd = (np.empty((len(t), dof)) for _ in range(3))
        k = self.time_scale
        for i, piece in enumerate(self.pieces):
            sel = idx == i
            if sel.any():
                a, b, c = piece.sample((t[sel] - self.t_start[i]) / k)
                q[sel], qd[sel], qdd[sel] = a, b / k, c / (k * k)
        return q, qd, qdd


def _tcp_caps(model: ArmModel, path: JointPath, tcp_speed_mps: float,
              tcp_accel_mps2: float | None, tcp_angular_speed_radps: float | None
              ) -> Callable[[np.ndarray], np.ndarray]:
    """``u_dot^2`` cap function for retime_path: TCP speed, angular speed, centripetal acc."""

    def cap(s: np.ndarray) -> np.ndarray:
        qs, dqs = path.eval(s), path.deriv(s)
        out = np.full(len(s), np.inf)
        pos = np.empty((len(s), 3))
        for k in range(len(s)):
            J = model._jacobian(qs[k], model._tool_id)
            pos[k] = model.pin_data.oMf[model._tool_id].translation
            v = J @ dqs[k]
            lin = float(np.linalg.norm(v[:3]))
            if lin > 1e-12:
                out[k] = (tcp_speed_mps / lin) ** 2
            if tcp_angular_speed_radps is not None:
                ang = float(np.linalg.norm(v[3:]))
                if ang > 1e-12:
                    out[k] = min(out[k], (tcp_angular_speed_radps / ang) ** 2)
        if tcp_accel_mps2 is not None and len(s) >= 3:
            dp = np.gradient(pos, s, axis=0)
            ddp = np.gradient(dp, s, axis=0)
            nrm = np.linalg.norm(dp, axis=1, keepdims=True)
            tan = np.divide(dp, nrm, out=np.zeros_like(dp), where=nrm > 1e-12)
            perp = np.linalg.norm(ddp - np.sum(ddp * tan, axis=1, keepdims=True) * tan, axis=1)
            with np.errstate(divide="ignore"):
                out = np.minimum(out, np.where(perp > 1e-9, tcp_accel_mps2 / perp, np.inf))
        return out

    return cap


def tcp_motion(model: ArmModel, traj: Trajectory, dt_s: float = 0.002
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TCP speed [m/s], angular speed [rad/s] and acceleration [m/s^2] sampled every dt_s.

    Speeds from the Jacobian (``J qd``); the acceleration by central differences of the
    TCP velocity.
    """
    t = np.arange(0.0, traj.duration_s + dt_s, dt_s)
    q, qd, _ = traj.sample(t)
    v = np.array([model._jacobian(q[k], model._tool_id) @ qd[k] for k in range(len(t))])
    acc = np.gradient(v[:, :3], dt_s, axis=0)
    return (np.linalg.norm(v[:, :3], axis=1), np.linalg.norm(v[:, 3:], axis=1),
            np.linalg.norm(acc, axis=1))


def time_cartesian(model: ArmModel, path: CartesianPath, limits: JointLimits, *,
                   tcp_speed_mps: float, tcp_accel_mps2: float | None = None,
                   tcp_angular_speed_radps: float | None = None,
                   grid_points: int | None = None) -> CartesianTrajectory:
    """Time ``path`` within the joint ``limits`` and the TCP caps (see the module steps).

    Each piece between exact stops is retimed from rest to rest by TOPP-RA with the TCP
    speed (and angular speed, centripetal acceleration) caps; the whole motion is then
    stretched uniformly if the sampled TCP acceleration exceeds ``tcp_accel_mps2``.

    Raises:
        MotionInputError: non-positive caps, limits for other joints, a path outside the
            position limits (from retime_path).

    """
    for what, val in (("tcp_speed_mps", tcp_speed_mps), ("tcp_accel_mps2", tcp_accel_mps2),
                      ("tcp_angular_speed_radps", tcp_angular_speed_radps)):
        if val is not None and not (math.isfinite(val) and val > 0.0):
            raise MotionInputError(f"{what} must be finite and > 0, got {val}")
    idx = limits.index_of(path.names)
    lim = limits.subset([limits.names[i] for i in idx]) if list(idx) != list(
        range(limits.dof)) else limits
    joint_paths, caps = [], []
    for a, b in zip(path.stops[:-1], path.stops[1:], strict=True):
        jp = JointPath.from_points(path.q_points[a:b + 1], s=path.u[a:b + 1] - path.u[a])
        joint_paths.append((jp, grid_points or max(200, 2 * (b - a) + 1)))
        caps.append(_tcp_caps(model, jp, tcp_speed_mps, tcp_accel_mps2,
                              tcp_angular_speed_radps))

    def timed(acc_factor: float) -> CartesianTrajectory:
        scaled = lim.scaled(acceleration=acc_factor) if acc_factor < 1.0 else lim
        return CartesianTrajectory(path.names, [
            retime_path(jp, scaled, grid_points=grid, sdot_sq_max=cap, names=path.names)
            for (jp, grid), cap in zip(joint_paths, caps, strict=True)])

    traj = timed(1.0)
    if tcp_accel_mps2 is None:
        return traj
    # the tangential TCP acceleration grows with the joint accelerations: lower the joint
    # acceleration limits in proportion (keeps full cruise speed), then stretch what is left
    factor = 1.0
    for attempt in range(_ACCEL_ITERATIONS + 1):
        _, _, acc = tcp_motion(model, traj, min(0.002, traj.duration_s / 500.0))
        peak = float(acc.max())
        if peak <= tcp_accel_mps2:
            return traj
        if attempt == _ACCEL_ITERATIONS:
            break
        factor *= 0.98 * tcp_accel_mps2 / peak
        traj = timed(factor)
    return CartesianTrajectory(path.names, traj.pieces,
                               time_scale=math.sqrt(peak / tcp_accel_mps2) * 1.001)
