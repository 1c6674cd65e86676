"""Plan a job: every step becomes a timed joint trajectory with its I/O events and payload.

1. The robot starts at rest at the job's ``start`` configuration.
2. ``ptp``: the target's joints (a Cartesian target through ``ArmModel.ik``, the solution
   nearest the current joints), then the time-optimal jerk-limited rest-to-rest motion
   (Ruckig: Berscheid & Kröger, "Jerk-limited Real-time Trajectory Generation with Arbitrary
   Target States", RSS 2021) under the joint limits scaled by the step's ``speed``
   (velocity) and ``accel`` (acceleration and jerk) fractions.
3. ``lin``/``circ``: a run of consecutive Cartesian steps, each but the last with a blend
   radius > 0, becomes one Cartesian path (straight lines and circular arcs through the
   ``via`` pose, corners rounded within the blend radius) whose joint points come from IK
   along the path; it is timed at the run's slowest TCP speed within the joint velocity and
   acceleration limits (time-optimal path parameterisation, Pham & Pham, T-RO 2018), rest
   to rest.
4. ``gripper``/``set_io``/``wait_io``/``wait_s``/``payload``: the arm holds still for the
   grip time / 0 / the expected wait / the dwell / 0 s; the I/O event is at the hold's start.
5. The estimated cycle time is the sum of the moves' durations (``wait_io`` counts its
   ``expected_s``).

A move that cannot be planned (no IK solution, a joint target out of limits, a Cartesian
path through a joint limit or an IK branch flip) raises :class:`MovePlanningError`, naming
the move, the check that failed and the pose; :func:`plan_moves` returns the moves planned
up to it (the job checks report both).
"""

# Transforms keep the textbook capital T.
# ruff: noqa: N803, N806

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.offline.collision import xyzrpy_from_pose
from dg_motion.offline.job import NO_PAYLOAD, Job, PayloadSpec, Step, StepKind, Target
from dg_motion.robots.limits import JointLimits
from dg_motion.robots.model import IKStatus
from dg_motion.trajectory.cartesian import (
    CartesianPath,
    CartesianTrajectory,
    CircSegment,
    LinSegment,
    cartesian_path,
)
from dg_motion.trajectory.path import JointPath
from dg_motion.trajectory.state_to_state import JointState, plan_state_to_state
from dg_motion.trajectory.types import SampledTrajectory, Trajectory


class CheckKind(enum.Enum):
    """The check a move fails (the report's ``check`` field)."""

    REACHABILITY = "reachability"      # no IK solution / Cartesian path not followable
    JOINT_LIMITS = "joint_limits"      # a joint leaves its position range
    SINGULARITY = "singularity"        # manipulability below the margin on a Cartesian move
    VELOCITY = "velocity"              # joint velocity above its limit
    ACCELERATION = "acceleration"      # joint acceleration above its limit
    JERK = "jerk"                      # joint jerk above its limit
    COLLISION = "collision"            # arm, gripper or held part closer to the cell than allowed
    PLANNING = "planning"              # the trajectory generator rejected the motion


class IoKind(enum.Enum):
    """What an I/O event does."""

    SET = "set"    # set output ``name`` to ``value``
    WAIT = "wait"  # wait until input ``name`` equals ``value`` (fail after ``timeout_s``)


@dataclass(frozen=True)
class IoEvent:
    """An I/O event at ``t_s`` [s] after its move's start."""

    t_s: float
    kind: IoKind
    name: str
    value: float
    timeout_s: float = 0.0


@dataclass(frozen=True)
class PlannedMove:
    """A planned step (or a blended run of lin/circ steps) ready to execute.

    ``trajectory`` is in the arm's joint order (a hold for non-motion steps); ``payload`` is
    what the gripper holds during the move (for a payload step: from the step on).
    """

    index: int
    name: str
    kind: StepKind
    steps: tuple[int, ...]
    trajectory: Trajectory
    io: tuple[IoEvent, ...]
    payload: PayloadSpec
    t_start_s: float

    @property
    def duration_s(self) -> float:
        """Duration of the move [s]."""
        return float(self.trajectory.duration_s)


@dataclass(frozen=True)
class PlannedJob:
    """A planned job: the moves in order and the estimated cycle time [s]."""

    name: str
    names: tuple[str, ...]
    moves: tuple[PlannedMove, ...]
    cycle_time_s: float
    start_q: np.ndarray = field(repr=False)


class MovePlanningError(MotionInputError):
    """A move cannot be planned; ``check``, ``move_index``, ``move_name``, ``reason``, ``pose``."""

    def __init__(self, move_index: int, move_name: str, check: CheckKind, reason: str,
                 pose: np.ndarray | None = None) -> None:
        """Build the message ``move <index> '<name>' fails <check>: <reason>``."""
        self.move_index, self.move_name, self.check = move_index, move_name, check
        self.reason, self.pose = reason, pose
        super().__init__(f"move {move_index} '{move_name}' fails {check.value}: {reason}")


def hold(names: tuple[str, ...], q: np.ndarray, duration_s: float) -> SampledTrajectory:
    """The arm at rest at ``q`` for ``duration_s`` [s] (a Trajectory)."""
    z = np.zeros((2, len(names)))
    if duration_s <= 0.0:
        return SampledTrajectory(names, np.zeros(1), q[None, :].copy(), z[:1], z[:1])
    return SampledTrajectory(names, np.array([0.0, duration_s]), np.stack([q, q]), z, z.copy())


class PathProfileTrajectory:
    """``q(t) = path(u(t))``: a joint path driven by a 1-D timing profile ``u(t)``.

    ``qd = dq/du u_dot``, ``qdd = dq/du u_ddot + d2q/du2 u_dot^2`` (chain rule).
    """

    def __init__(self, names: tuple[str, ...], path: JointPath, profile: Trajectory) -> None:
        """Wrap ``path`` (over the parameter ``u``) and ``profile`` (1-D, u in its range)."""
        self.names, self.path, self.profile = tuple(names), path, profile
        self.duration_s = float(profile.duration_s)

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at ``t_s`` (held outside the duration)."""
        u, ud, udd = (a[:, 0] for a in self.profile.sample(np.atleast_1d(t_s)))
        d1, d2 = self.path.deriv(u), self.path.deriv2(u)
        return (self.path.eval(u), d1 * ud[:, None],
                d1 * udd[:, None] + d2 * (ud * ud)[:, None])


#: Fraction of the joint limits the Cartesian path timing aims at (the bounds hold on the
#: evaluation grid; the margin covers the spline between grid points).
_PATH_MARGIN = 0.95


def _path_profile(names: tuple[str, ...], path: JointPath, dp_du: float,
                  limits: JointLimits, tcp_speed_mps: float) -> PathProfileTrajectory:
    """Jerk-limited rest-to-rest timing of one joint path (constant bounds on u's derivatives).

    With d1, d2, d3 the largest first, second and third derivatives of each joint along the
    path (per unit u), ``|qd| <= d1 v``, ``|qdd| <= d1 a + d2 v^2`` and
    ``|qddd| <= d1 j + 3 d2 v a + d3 v^3`` whenever ``|u_dot| <= v``, ``|u_ddot| <= a``,
    ``|u_dddot| <= j``. Choosing v, a, j so that each right side is within the joint limit
    (times ``_PATH_MARGIN``) makes any profile within (v, a, j) respect the joint velocity,
    acceleration and jerk limits; the profile is Ruckig's time-optimal 1-DoF one within them.
    """
    u = np.linspace(path.s_start, path.s_end, max(50, 4 * len(path.s_knots)))
    d1 = np.abs(path.deriv(u)).max(axis=0)
    d2 = np.abs(path.deriv2(u)).max(axis=0)
    d3 = np.abs(path.spline(u, 3)).max(axis=0)
    vmax, amax, jmax = (_PATH_MARGIN * x for x in (limits.velocity_max,
                                                     limits.acceleration_max,
                                                     limits.jerk_max))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = min(tcp_speed_mps / max(dp_du, 1e-12), float(np.min(vmax / d1)),
                float(np.min(np.sqrt(0.5 * amax / d2))),
                float(np.min(np.cbrt(0.25 * jmax / d3))))
        a = float(np.min((amax - d2 * v * v) / d1))
        a = min(a, float(np.min(np.sqrt(0.25 * jmax / np.maximum(3.0 * d2 * v, 1e-300)))))
        j = float(np.min((jmax - 3.0 * d2 * v * a - d3 * v**3) / d1))
    if not all(math.isfinite(x) and x > 0.0 for x in (v, a, j)):
        raise MotionInputError(f"no feasible timing along the path (bounds v={v}, a={a}, "
                               f"j={j})")
    one = np.ones(1)
    ulim = JointLimits(("u",), one * (path.s_start - 1.0), one * (path.s_end + 1.0), one * v,
                       one * a, one * j, one * np.inf)
    profile = plan_state_to_state(JointState.at_rest(one * path.s_start),
                                  JointState.at_rest(one * path.s_end), ulim)
    return PathProfileTrajectory(names, path, profile)


def time_path_jerk_limited(path: CartesianPath, limits: JointLimits, *,
                           tcp_speed_mps: float) -> CartesianTrajectory:
    """Time a Cartesian path rest to rest within joint v/a/j limits and a TCP speed cap.

    Jerk-limited counterpart of ``cartesian.time_cartesian`` (TOPP-RA: time-optimal but
    with acceleration steps, i.e. unbounded jerk, which the job checks reject): each piece
    between exact stops is a C2 joint spline over the path parameter (``JointPath``), timed
    by :func:`_path_profile`; pieces run one after the other.
    """
    lim = limits.subset(list(path.names))
    pieces = []
    for a, b in zip(path.stops[:-1], path.stops[1:], strict=True):
        u = path.u[a:b + 1] - path.u[a]
        jp = JointPath.from_points(path.q_points[a:b + 1], s=u)
        dp = np.linalg.norm(np.diff(path.poses[a:b + 1, :3, 3], axis=0), axis=1)
        dp_du = float(np.max(dp / np.diff(u))) if len(u) > 1 else 1.0
        pieces.append(_path_profile(path.names, jp, dp_du, lim, tcp_speed_mps))
    return CartesianTrajectory(path.names, pieces)


def _pose_text(T: np.ndarray) -> str:
    v = xyzrpy_from_pose(T)
    return "[" + ", ".join(f"{a:.3f}" for a in v) + "]"


class _Planner:
    def __init__(self, job: Job) -> None:
        self.job, self.arm = job, job.arm
        self.q = job.start_q.copy()
        self.payload = NO_PAYLOAD
        self.t_s = 0.0
        self.moves: list[PlannedMove] = []

    def fail(self, name: str, check: CheckKind, reason: str,
             pose: np.ndarray | None = None) -> MovePlanningError:
        return MovePlanningError(len(self.moves), name, check, reason, pose)

    def joints_of(self, step: Step, target: Target) -> np.ndarray:
        if target.q is not None:
            return target.q
        assert target.pose is not None
        res = self.arm.ik(target.pose, self.q)
        if res.status is IKStatus.SOLVED and res.q is not None:
            return res.q
        check = CheckKind.JOINT_LIMITS if res.status is IKStatus.JOINT_LIMITS else (
            CheckKind.SINGULARITY if res.status is IKStatus.SINGULAR else CheckKind.REACHABILITY)
        why = {IKStatus.JOINT_LIMITS: "every IK solution is outside the joint limits",
               IKStatus.SINGULAR: "the pose is singular"}.get(
            res.status, "the pose is out of the arm's reach (no IK solution)")
        raise self.fail(step.name, check, f"target '{target.label}' "
                        f"{_pose_text(target.pose)}: {why}", target.pose)

    def add(self, name: str, kind: StepKind, steps: tuple[int, ...], traj: Trajectory,
            io: tuple[IoEvent, ...] = ()) -> None:
        self.moves.append(PlannedMove(len(self.moves), name, kind, steps, traj, io,
                                      self.payload, self.t_s))
        self.t_s += float(traj.duration_s)

    def ptp(self, step: Step) -> None:
        assert step.target is not None
        q_goal = self.joints_of(step, step.target)
        limits = self.arm.limits.scaled(step.speed, step.accel, step.accel)
        try:
            traj = plan_state_to_state(JointState.at_rest(self.q), JointState.at_rest(q_goal),
                                       limits, self.arm.names)
        except MotionInputError as exc:
            check = CheckKind.JOINT_LIMITS if "limit" in str(exc) else CheckKind.PLANNING
            raise self.fail(step.name, check, str(exc), step.target.pose) from None
        self.add(step.name, step.kind, (step.index,), traj)
        self.q = q_goal

    def cartesian(self, run: list[Step]) -> None:
        segments = []
        for s in run:
            assert s.target is not None and s.target.pose is not None
            if s.kind is StepKind.LIN:
                segments.append(LinSegment(s.target.pose))
            else:
                assert s.via is not None and s.via.pose is not None
                segments.append(CircSegment(s.via.pose, s.target.pose))
        blends = [s.blend_m for s in run[:-1]] + [0.0]
        name = "+".join(s.name for s in run)
        try:
            path = cartesian_path(self.arm, self.q, segments, blend_radius_m=blends)
        except MotionInputError as exc:
            msg = str(exc)
            check = CheckKind.JOINT_LIMITS if "limit" in msg else CheckKind.REACHABILITY
            k = _segment_of(msg, len(run))
            raise self.fail(run[k].name if k is not None else name, check, msg,
                            run[k if k is not None else -1].target.pose) from None
        try:
            traj = time_path_jerk_limited(path, self.arm.limits,
                                          tcp_speed_mps=min(s.speed_mps for s in run))
        except MotionInputError as exc:
            raise self.fail(name, CheckKind.PLANNING, str(exc), run[-1].target.pose) from None
        self.add(name, run[0].kind if len(run) == 1 else StepKind.LIN,
                 tuple(s.index for s in run), traj)
        self.q = np.asarray(path.q_points[-1], dtype=float).copy()

    def other(self, step: Step) -> None:
        io: tuple[IoEvent, ...] = ()
        if step.kind in (StepKind.GRIPPER, StepKind.SET_IO):
            io = (IoEvent(0.0, IoKind.SET, step.io_name, step.io_value),)
        elif step.kind is StepKind.WAIT_IO:
            io = (IoEvent(0.0, IoKind.WAIT, step.io_name, step.io_value, step.timeout_s),)
        elif step.kind is StepKind.PAYLOAD:
            assert step.payload is not None
            self.payload = step.payload
        self.add(step.name, step.kind, (step.index,), hold(self.arm.names, self.q,
                                                           step.duration_s), io)

    def run(self) -> None:
        steps = self.job.steps
        i = 0
        while i < len(steps):
            step = steps[i]
            if step.kind is StepKind.PTP:
                self.ptp(step)
            elif step.kind.is_cartesian:
                run = [step]
                while (run[-1].blend_m > 0.0 and i + len(run) < len(steps)
                       and steps[i + len(run)].kind.is_cartesian):
                    run.append(steps[i + len(run)])
                self.cartesian(run)
                i += len(run)
                continue
            else:
                self.other(step)
            i += 1


def _segment_of(message: str, n: int) -> int | None:
    """The segment index a Cartesian-path error names ("segment k"), if any."""
    words = message.replace(",", " ").replace(":", " ").split()
    for a, b in zip(words, words[1:], strict=False):
        if a == "segment" and b.isdigit() and int(b) < n:
            return int(b)
    return None


def plan_moves(job: Job) -> tuple[list[PlannedMove], MovePlanningError | None]:
    """The moves planned up to the first that cannot be planned, and that failure (or None)."""
    p = _Planner(job)
    try:
        p.run()
    except MovePlanningError as exc:
        return p.moves, exc
    return p.moves, None


def plan_job(job: Job) -> PlannedJob:
    """Plan every step of ``job`` (steps 1-5 of the module docstring).

    Raises:
        MovePlanningError: a move cannot be planned (names the move, the check and why).

    """
    moves, failure = plan_moves(job)
    if failure is not None:
        raise failure
    cycle = math.fsum(m.duration_s for m in moves)
    return PlannedJob(job.name, job.arm.names, tuple(moves), cycle, job.start_q.copy())
