"""Check a job before it runs: reachability, limits, singularity margin, collisions, cycle time.

The job is planned (:mod:`.planner`: every move timed as it will execute) and every move's
trajectory is sampled every ``dt_s`` (default 4 ms, start and end included) for the limit
checks; the geometric checks (singularity, collision) use the subset of those samples in
which consecutive configurations differ by at most ``GEOMETRY_STEP_RAD`` = 0.005 rad in any
joint (about 5 mm of motion at the UR5's reach; a sample where a joint moved more in one
period is kept with its neighbour). Checks, in the report's terms (:class:`~.planner.CheckKind`):

1. reachability: every target has an IK solution and every Cartesian path can be followed
   (planning fails otherwise, naming the move and the pose);
2. joint_limits: every sampled position within ``[position_min, position_max]``;
3. singularity: Yoshikawa's manipulability ``sqrt(det(J J^T))`` (T. Yoshikawa, IJRR 1985)
   at least ``checks.min_manipulability`` along every LIN/CIRC move (a joint move through
   a singular configuration is harmless; a Cartesian one demands unbounded joint speeds
   near it);
4. velocity, acceleration, jerk: the timed trajectory within the arm's joint limits
   (relative tolerance 1e-6). Jerk is the trajectory's own bound where it has one (Ruckig's
   piecewise-constant jerk profiles), else the finite difference of the sampled
   accelerations;
5. collision: clearance of the arm's URDF collision shapes, the gripper and the held part
   to the cell's static boxes at least ``checks.min_clearance_m``
   (:mod:`.collision`, coal distance queries).

The report (:meth:`JobReport.to_dict`, JSON-ready) has one entry per move (status, duration,
minimum clearance and the closest pair, minimum manipulability, peak velocity/acceleration/
jerk as fractions of the limits), the first failing move (index, name, check, reason, time
and TCP pose) and the estimated cycle time.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dg_motion.offline.collision import CollisionWorld, xyzrpy_from_pose
from dg_motion.offline.job import Job, StepKind
from dg_motion.offline.planner import (
    CheckKind,
    MovePlanningError,
    PlannedJob,
    PlannedMove,
    plan_moves,
)

#: Sample period of the checks [s] (see the module docstring).
CHECK_DT_S = 0.004
#: Largest joint change between two configurations checked for collision and singularity
#: [rad]: 5 mm of motion for a point 1 m from the joint (the UR5's reach is 0.85 m).
GEOMETRY_STEP_RAD = 0.005
#: Relative tolerance on velocity, acceleration and jerk limits.
LIMIT_RTOL = 1e-6
#: Absolute tolerance on joint positions [rad].
POSITION_TOL_RAD = 1e-9


class MoveStatus(enum.Enum):
    """Result of a move's checks."""

    OK = "ok"                      # every check passed
    FAILED = "failed"              # at least one check failed
    NOT_PLANNED = "not_planned"    # an earlier (or this) move could not be planned


@dataclass(frozen=True)
class Failure:
    """A failed check: where (move, time, pose) and why."""

    move_index: int
    move_name: str
    check: CheckKind
    reason: str
    t_s: float | None = None           # time in the move [s]
    t_job_s: float | None = None       # time from the job's start [s]
    q: np.ndarray | None = None        # joints [rad]
    tcp_pose: np.ndarray | None = None  # [x, y, z, roll, pitch, yaw] [m, rad]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"move_index": self.move_index, "move_name": self.move_name,
                "check": self.check.value, "reason": self.reason,
                "t_s": self.t_s, "t_job_s": self.t_job_s,
                "q_rad": None if self.q is None else [float(v) for v in self.q],
                "tcp_pose": None if self.tcp_pose is None else [float(v)
                                                                for v in self.tcp_pose]}


@dataclass
class MoveReport:
    """Check results of one planned move."""

    index: int
    name: str
    kind: str
    status: MoveStatus
    t_start_s: float | None = None
    duration_s: float | None = None
    min_clearance_m: float | None = None
    closest: str | None = None
    min_manipulability: float | None = None
    peak_velocity_ratio: float | None = None
    peak_acceleration_ratio: float | None = None
    peak_jerk_ratio: float | None = None
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {k: getattr(self, k) for k in (
            "index", "name", "kind", "t_start_s", "duration_s", "min_clearance_m", "closest",
            "min_manipulability", "peak_velocity_ratio", "peak_acceleration_ratio",
            "peak_jerk_ratio")}
        out["status"] = self.status.value
        out["failures"] = [f.to_dict() for f in self.failures]
        return out


@dataclass
class JobReport:
    """The job's check report."""

    job: str
    file: str
    passed: bool
    cycle_time_s: float | None
    moves: list[MoveReport]
    first_failure: Failure | None
    min_clearance_m: float | None
    settings: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (REPORT.json)."""
        return {"job": self.job, "file": self.file,
                "status": "passed" if self.passed else "failed",
                "cycle_time_s": self.cycle_time_s, "min_clearance_m": self.min_clearance_m,
                "first_failure": None if self.first_failure is None
                else self.first_failure.to_dict(),
                "settings": self.settings,
                "moves": [m.to_dict() for m in self.moves]}


def _spaced(q: np.ndarray, step_rad: float) -> np.ndarray:
    """Indices of the rows of ``q`` kept for the geometric checks.

    The first and the last row, and each row that differs from the last kept one by at least
    ``step_rad`` in some joint (the row before it too, so kept neighbours differ by at most
    about ``step_rad``).
    """
    keep = [0]
    for k in range(1, len(q)):
        if np.abs(q[k] - q[keep[-1]]).max() >= step_rad:
            if k - 1 > keep[-1]:
                keep.append(k - 1)
            if np.abs(q[k] - q[keep[-1]]).max() >= step_rad:
                keep.append(k)
    if keep[-1] != len(q) - 1:
        keep.append(len(q) - 1)
    return np.array(keep)


def _ratio(values: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """|values| / limit per sample and joint (0 where unlimited)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(values) / limit
    return np.where(np.isfinite(limit), r, 0.0)


class _MoveChecker:
    def __init__(self, job: Job, world: CollisionWorld, dt_s: float) -> None:
        self.job, self.arm, self.world, self.dt_s = job, job.arm, world, dt_s
        self.lim = job.arm.limits

    def fail(self, rep: MoveReport, move: PlannedMove, check: CheckKind, reason: str,
             t: float, q: np.ndarray) -> None:
        rep.failures.append(Failure(move.index, move.name, check, reason + f" at t = {t:.3f} s",
                                    t, move.t_start_s + t, q.copy(),
                                    xyzrpy_from_pose(self.arm.fk(q))))

    def times(self, move: PlannedMove) -> np.ndarray:
        d = move.duration_s
        if move.kind.is_motion:
            return np.linspace(0.0, d, max(2, math.ceil(d / self.dt_s) + 1))
        return np.zeros(1)

    def jerk_ratio(self, move: PlannedMove, t: np.ndarray,
                   qdd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample jerk ratio and the jerk samples' times."""
        own = getattr(move.trajectory, "jerk_abs_max", None)
        if callable(own):
            own = own()
        if own is not None:
            r = float(np.max(_ratio(np.asarray(own), self.lim.jerk_max), initial=0.0))
            return np.array([r]), np.array([0.0])
        if len(t) < 2:
            return np.zeros(1), np.zeros(1)
        jerk = np.diff(qdd, axis=0) / np.diff(t)[:, None]
        return _ratio(jerk, self.lim.jerk_max).max(axis=1), t[1:]

    def check(self, move: PlannedMove) -> MoveReport:
        rep = MoveReport(move.index, move.name, move.kind.value, MoveStatus.OK,
                         move.t_start_s, move.duration_s)
        t = self.times(move)
        q, qd, qdd = move.trajectory.sample(t)
        lim, rtol = self.lim, 1.0 + LIMIT_RTOL
        # 2. joint position limits
        out = (q < lim.position_min - POSITION_TOL_RAD) | (q > lim.position_max
                                                          + POSITION_TOL_RAD)
        if out.any():
            k, j = np.argwhere(out)[0]
            bound = lim.position_min[j] if q[k, j] < lim.position_min[j] else lim.position_max[j]
            self.fail(rep, move, CheckKind.JOINT_LIMITS, f"{self.arm.names[j]} = "
                      f"{q[k, j]:.4f} rad beyond its limit {bound:.4f} rad", t[k], q[k])
        # 4. velocity, acceleration, jerk
        for check, values, limit, unit in (
                (CheckKind.VELOCITY, qd, lim.velocity_max, "rad/s"),
                (CheckKind.ACCELERATION, qdd, lim.acceleration_max, "rad/s^2")):
            r = _ratio(values, limit)
            peak = float(r.max(initial=0.0))
            if check is CheckKind.VELOCITY:
                rep.peak_velocity_ratio = peak
            else:
                rep.peak_acceleration_ratio = peak
            if peak > rtol:
                k, j = np.unravel_index(int(np.argmax(r)), r.shape)
                self.fail(rep, move, check, f"{self.arm.names[j]} {check.value} "
                          f"{abs(values[k, j]):.3f} {unit} above its limit {limit[j]:.3f}",
                          t[k], q[k])
        jr, jt = self.jerk_ratio(move, t, qdd)
        rep.peak_jerk_ratio = float(jr.max(initial=0.0))
        if rep.peak_jerk_ratio > rtol:
            k = int(np.argmax(jr))
            qk = move.trajectory.sample(np.array([jt[k]]))[0][0]
            self.fail(rep, move, CheckKind.JERK, f"peak jerk {rep.peak_jerk_ratio:.2f} x the "
                      "joint jerk limit", float(jt[k]), qk)
        # geometric checks on samples at most GEOMETRY_STEP_RAD apart (any joint)
        keep = _spaced(q, GEOMETRY_STEP_RAD)
        t, q = t[keep], q[keep]
        # 3. singularity margin along Cartesian moves
        if move.kind.is_cartesian:
            w = np.array([self.arm.manipulability(qi) for qi in q])
            rep.min_manipulability = float(w.min())
            thr = self.job.checks.min_manipulability
            if rep.min_manipulability < thr:
                k = int(np.argmin(w))
                self.fail(rep, move, CheckKind.SINGULARITY, f"manipulability "
                          f"{w[k]:.4f} below the margin {thr:g} (near a singularity)", t[k], q[k])
        # 5. collisions
        self.world.set_held_part(move.payload.part)
        dist, best = self.world.clearances(q)
        rep.min_clearance_m = best.distance_m
        rep.closest = f"{best.robot_shape} / {best.cell_object}"
        thr = self.job.checks.min_clearance_m
        if best.distance_m < thr:
            k = int(np.flatnonzero(dist < thr)[0])
            c = self.world.clearance(q[k])
            what = (f"penetrates {c.cell_object} by {-c.distance_m:.3f} m"
                    if c.distance_m < 0 else
                    f"is {c.distance_m * 1000:.2f} mm from {c.cell_object} (< "
                    f"{thr * 1000:g} mm)")
            self.fail(rep, move, CheckKind.COLLISION, f"{c.robot_shape} {what}", t[k], q[k])
        if rep.failures:
            rep.failures.sort(key=lambda f: f.t_s if f.t_s is not None else 0.0)
            rep.status = MoveStatus.FAILED
        return rep


def check_job(job: Job, *, dt_s: float = CHECK_DT_S) -> tuple[JobReport, PlannedJob | None]:
    """Plan and check ``job``; the report and, when every check passed, the planned job."""
    moves, planning_failure = plan_moves(job)
    world = CollisionWorld(job.arm.urdf_path, job.cell, pin_model=job.arm.pin_model)
    checker = _MoveChecker(job, world, dt_s)
    reports = [checker.check(m) for m in moves]
    if planning_failure is not None:
        reports.append(_unplanned(job, planning_failure))
    failures = [f for r in reports for f in r.failures]
    first = min(failures, key=lambda f: (f.move_index, f.t_s or 0.0)) if failures else None
    passed = first is None
    cycle = math.fsum(m.duration_s for m in moves) if planning_failure is None else None
    clearances = [r.min_clearance_m for r in reports if r.min_clearance_m is not None]
    report = JobReport(job.name, str(job.path), passed, cycle, reports, first,
                       min(clearances) if clearances else None,
                       {"sample_dt_s": dt_s, "min_clearance_m": job.checks.min_clearance_m,
                        "min_manipulability": job.checks.min_manipulability})
    planned = None
    if passed:
        planned = PlannedJob(job.name, job.arm.names, tuple(moves), cycle or 0.0,
                             job.start_q.copy())
    return report, planned


def _unplanned(job: Job, exc: MovePlanningError) -> MoveReport:
    kind = next((s.kind.value for s in job.steps if s.name == exc.move_name),
                StepKind.LIN.value)
    pose = None if exc.pose is None else xyzrpy_from_pose(exc.pose)
    return MoveReport(exc.move_index, exc.move_name, kind, MoveStatus.NOT_PLANNED,
                      failures=[Failure(exc.move_index, exc.move_name, exc.check, exc.reason,
                                        tcp_pose=pose)])
