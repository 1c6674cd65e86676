"""A validated goal's points turned into a continuous trajectory that starts where we are.

joint_trajectory_controller (ros2_controllers, ``interpolation_method: splines``) interpolates
between points by what they carry: positions only, positions + velocities (cubic Hermite),
positions + velocities + accelerations (quintic Hermite), and inserts the current state as
the point at time 0. We do the same with one change for positions only: instead of linear
segments (velocity steps at every point) a C2 cubic spline through all points, clamped to
the current velocity at the start and to rest at the end (de Boor, "A Practical Guide to
Splines", ch. IV; scipy ``CubicSpline`` with first-derivative end conditions).

Starting from the current *reference* state (position, velocity, and acceleration where the
points give accelerations) is what makes preemption smooth: a new goal mid-motion continues
with no position or velocity step (joint_trajectory_controller restarts from the measured
state, so the reference velocity can jump; ros2_controllers#1455).

The interpolated motion is checked against the position and velocity limits (a spline may
overshoot between points): a goal whose interpolation leaves them is refused.
"""

from __future__ import annotations

import bisect

import numpy as np
from scipy.interpolate import BPoly, CubicHermiteSpline, CubicSpline, PPoly

from dg_motion.execution.goal_validation import GoalError, GoalRejected, GoalSpec
from dg_motion.robots.limits import JointLimits

#: Interpolated velocities may exceed the limit by this factor (spline bulge between points
#: that sit on the limit; the point values themselves were checked exactly).
VELOCITY_SLACK = 1.05
#: Sampling step [s] of the interpolation check.
CHECK_DT_S = 0.002


class SplineTrajectory:
    """Piecewise polynomial joint trajectory (a :class:`dg_motion.trajectory.types.Trajectory`).

    Stored as power-basis coefficients ``c[k, i, j]`` (order k, interval i, joint j) over the
    breakpoints ``x`` and evaluated with Horner's rule; outside ``[0, duration_s]`` it holds
    its end states (at rest after the end).
    """

    def __init__(self, names: tuple[str, ...], x: np.ndarray, c: np.ndarray) -> None:
        """Breakpoints ``x`` (m + 1,), coefficients ``c`` (order, m, dof), highest first."""
        self.names = names
        self.x = np.asarray(x, dtype=float)
        self.c = np.asarray(c, dtype=float)
        self.duration_s = float(self.x[-1])
        k = self.c.shape[0]
        powers = np.arange(k - 1, -1, -1, dtype=float)[:, None, None]
        self._c1 = (self.c * powers)[:-1]
        self._c2 = (self._c1 * (powers[:-1] - 1))[:-1]
        self._xl = self.x.tolist()
        self._pow = [np.arange(k - 1 - d, -1, -1, dtype=float) for d in range(3)]

    @classmethod
    def from_ppolys(cls, names: tuple[str, ...], polys: list) -> SplineTrajectory:
        """From one vector-valued scipy PPoly or one scalar PPoly/BPoly per joint."""
        if len(polys) == 1:
            return cls(names, polys[0].x, polys[0].c)
        pp = [PPoly.from_bernstein_basis(p) if isinstance(p, BPoly) else p for p in polys]
        return cls(names, pp[0].x, np.stack([p.c for p in pp], axis=2))

    def at(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity, acceleration (dof,) at one time (the control loop's path)."""
        if t_s > self.duration_s:
            q = self._hv(self.duration_s - self.x[-2], 0) @ self.c[:, -1, :]
            return q, np.zeros_like(q), np.zeros_like(q)
        t = max(t_s, 0.0)
        i = min(max(bisect.bisect_right(self._xl, t) - 1, 0), len(self._xl) - 2)
        h = t - self._xl[i]
        return (self._hv(h, 0) @ self.c[:, i, :], self._hv(h, 1) @ self._c1[:, i, :],
                self._hv(h, 2) @ self._c2[:, i, :])

    def _hv(self, h: float, drop: int) -> np.ndarray:
        return h ** self._pow[drop]

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at ``t_s`` (shape ``(len(t_s), dof)``)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        tc = np.clip(t, 0.0, self.duration_s)
        i = np.clip(np.searchsorted(self.x, tc, side="right") - 1, 0, len(self.x) - 2)
        h = (tc - self.x[i])[:, None]
        out = []
        for c in (self.c, self._c1, self._c2):
            acc = np.zeros((len(t), c.shape[2]))
            for k in range(c.shape[0]):
                acc = acc * h + c[k, i]
            out.append(acc)
        q, qd, qdd = out
        after = t > self.duration_s
        qd[after] = 0.0
        qdd[after] = 0.0
        return q, qd, qdd


def interpolate_goal(goal: GoalSpec, q0: np.ndarray, qd0: np.ndarray, qdd0: np.ndarray,
                     limits: JointLimits, start_tolerance_rad: float = 0.01
                     ) -> SplineTrajectory:
    """The goal's motion from the state ``(q0, qd0, qdd0)`` at its time 0.

    A first point at ``time_from_start == 0`` stands for the start state: it must lie within
    ``start_tolerance_rad`` of ``q0`` (else the arm would have to jump).

    Raises:
        GoalRejected: first point at time 0 away from the current state, or interpolation
            leaving the position or velocity limits.

    """
    t, q = goal.t_s, goal.positions
    v, a = goal.velocities, goal.accelerations
    if t[0] <= 0.0:
        dev = np.abs(q[0] - q0)
        if dev.max() > start_tolerance_rad:
            j = int(dev.argmax())
            raise GoalRejected(
                GoalError.INVALID_GOAL,
                f"first point is at time 0 but {dev[j]:.4f} rad away from the current "
                f"position of '{goal.names[j]}' (tolerance {start_tolerance_rad} rad)")
        t, q = t[1:], q[1:]
        v = None if v is None else v[1:]
        a = None if a is None else a[1:]
        if len(t) == 0:  # a single point "here, now": hold
            t, q = np.array([1e-3]), q0[None, :].copy()
            v = None if v is None else np.zeros((1, len(q0)))
            a = None if a is None else np.zeros((1, len(q0)))
    tt = np.concatenate([[0.0], t])
    qq = np.vstack([q0, q])
    dof = len(q0)
    if v is None:
        pieces = [CubicSpline(tt, qq, axis=0, bc_type=((1, qd0), (1, np.zeros(dof))))]
    elif a is None:
        pieces = [CubicHermiteSpline(tt, qq, np.vstack([qd0, v]), axis=0)]
    else:
        vv, aa = np.vstack([qd0, v]), np.vstack([qdd0, a])
        pieces = [BPoly.from_derivatives(tt, np.stack([qq[:, j], vv[:, j], aa[:, j]], axis=1))
                  for j in range(dof)]
    traj = SplineTrajectory.from_ppolys(goal.names, pieces)
    _check_limits(traj, limits, qd0)
    return traj


def _check_limits(traj: SplineTrajectory, limits: JointLimits, qd0: np.ndarray) -> None:
    n = max(2, int(np.ceil(traj.duration_s / CHECK_DT_S)) + 1)
    qs, qds, _ = traj.sample(np.linspace(0.0, traj.duration_s, n))
    lo, hi = limits.position_min - 1e-6, limits.position_max + 1e-6
    out = (qs < lo) | (qs > hi)
    if out.any():
        i, j = np.argwhere(out)[0]
        raise GoalRejected(
            GoalError.INVALID_GOAL,
            f"interpolated position {qs[i, j]:.4f} rad of joint '{traj.names[j]}' at "
            f"{i * traj.duration_s / (n - 1):.3f} s leaves [{limits.position_min[j]:.4f}, "
            f"{limits.position_max[j]:.4f}]")
    # The start velocity is the current one (already moving): allow at least that.
    vmax = np.maximum(limits.velocity_max * VELOCITY_SLACK, np.abs(qd0) + 1e-9)
    fast = np.abs(qds) > vmax
    if fast.any():
        i, j = np.argwhere(fast)[0]
        raise GoalRejected(
            GoalError.INVALID_GOAL,
            f"interpolated velocity {qds[i, j]:.4f} rad/s of joint '{traj.names[j]}' at "
            f"{i * traj.duration_s / (n - 1):.3f} s exceeds the limit "
            f"{limits.velocity_max[j]:.4f} rad/s (points too close in time)")
