"""The joint trajectory types every part of dg_motion exchanges.

A :class:`Trajectory` is anything with a duration that can be evaluated at any time in
``[0, duration_s]`` (positions [rad], velocities [rad/s], accelerations [rad/s^2], in the
order of its ``names``); outside that interval it holds its end states (zero velocity and
acceleration once it has come to rest). :class:`SampledTrajectory` is the same on a time
grid (what ``dg motion retime`` writes and what a ``trajectory_msgs/JointTrajectory``
carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from dg_motion.errors import MotionInputError


@runtime_checkable
class Trajectory(Protocol):
    """A time-parameterised joint motion."""

    names: tuple[str, ...]
    duration_s: float

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at times ``t_s`` (shape ``(len(t_s), dof)``)."""
        ...


@dataclass(frozen=True)
class SampledTrajectory:
    """A trajectory on a time grid: ``t_s`` (N,), ``q``/``qd``/``qdd`` (N, dof)."""

    names: tuple[str, ...]
    t_s: np.ndarray
    q: np.ndarray
    qd: np.ndarray
    qdd: np.ndarray

    def __post_init__(self) -> None:
        """Check shapes, finiteness and increasing times."""
        n = len(self.t_s)
        for attr in ("q", "qd", "qdd"):
            arr = getattr(self, attr)
            if arr.shape != (n, len(self.names)):
                raise MotionInputError(f"sampled trajectory: {attr} has shape {arr.shape}, "
                                       f"expected ({n}, {len(self.names)})")
            if not np.isfinite(arr).all():
                raise MotionInputError(f"sampled trajectory: non-finite {attr}")
        if n == 0 or not np.isfinite(self.t_s).all() or np.any(np.diff(self.t_s) <= 0.0):
            raise MotionInputError("sampled trajectory: times must be finite and increasing")

    @property
    def duration_s(self) -> float:
        """Time of the last sample [s] (the first is at 0 by convention)."""
        return float(self.t_s[-1] - self.t_s[0])

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cubic Hermite interpolation of positions (velocities, accelerations linear)."""
        t = np.clip(np.asarray(t_s, dtype=float) + self.t_s[0], self.t_s[0], self.t_s[-1])
        if len(self.t_s) == 1:
            k = np.zeros(len(t), dtype=int)
            return self.q[k], self.qd[k], self.qdd[k]
        i = np.clip(np.searchsorted(self.t_s, t, side="right") - 1, 0, len(self.t_s) - 2)
        h = (self.t_s[i + 1] - self.t_s[i])[:, None]
        s = ((t - self.t_s[i])[:, None]) / h
        q0, q1, v0, v1 = self.q[i], self.q[i + 1], self.qd[i], self.qd[i + 1]
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        q = h00 * q0 + h10 * h * v0 + h01 * q1 + h11 * h * v1
        qd = v0 + (v1 - v0) * s
        qdd = self.qdd[i] + (self.qdd[i + 1] - self.qdd[i]) * s
        return q, qd, qdd


def sample_uniform(traj: Trajectory, dt_s: float) -> SampledTrajectory:
    """Sample ``traj`` every ``dt_s`` [s] from 0 to its end (the end always included)."""
    if not dt_s > 0.0:
        raise MotionInputError(f"sample period must be > 0, got {dt_s}")
    n = int(np.floor(traj.duration_s / dt_s + 1e-9)) + 1
    t = np.arange(n) * dt_s
    if traj.duration_s - t[-1] > 1e-9:
        t = np.append(t, traj.duration_s)
    q, qd, qdd = traj.sample(t)
    return SampledTrajectory(tuple(traj.names), t, q, qd, qdd)
