"""A joint trajectory convolved with an input shaper's impulse sequence.

Input shaping (Singer & Seering 1990) filters a command by convolution with impulses
``(t_i, A_i)``: ``q_s(t) = sum_i A_i q(t - t_i)``, where ``q`` holds its start state before 0
and its end state after its duration. Every derivative is convolved the same way
(``qd_s = sum A_i qd(t - t_i)`` ...), and with ``A_i > 0``, ``sum A_i = 1`` each value of
``q_s``, ``qd_s``, ``qdd_s`` and of the jerk is a convex combination of values the original
trajectory takes, so every position, velocity, acceleration and jerk bound the original
respects (a box per joint) holds for the shaped one too. The move lasts longer by the
shaper's duration (its last impulse time).

The original must start and end at rest (zero velocity and acceleration): holding a moving
state before 0 or after the end would not be a motion the robot can follow.
"""

from __future__ import annotations

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.shaping.input_shaping import Shaper
from dg_motion.trajectory.types import Trajectory

#: An end state counts as "at rest" below these (per joint) [rad/s], [rad/s^2].
REST_VELOCITY_TOL = 1e-6
REST_ACCELERATION_TOL = 1e-4


class ShapedTrajectory:
    """``traj`` convolved with ``shaper`` (a :class:`Trajectory`; see module docstring)."""

    def __init__(self, traj: Trajectory, shaper: Shaper) -> None:
        """Wrap ``traj``; raises :class:`MotionInputError` if it does not start/end at rest."""
        if not isinstance(shaper, Shaper):
            raise MotionInputError(f"shaped trajectory: expected a Shaper, got "
                                   f"{type(shaper).__name__}")
        duration = float(traj.duration_s)
        if not (np.isfinite(duration) and duration >= 0.0):
            raise MotionInputError(f"shaped trajectory: invalid duration {traj.duration_s}")
        self.names: tuple[str, ...] = tuple(traj.names)
        self.traj = traj
        self.shaper = shaper
        self._base_duration_s = duration
        self.duration_s: float = duration + shaper.duration_s
        q, qd, qdd = traj.sample(np.array([0.0, duration]))
        for label, i in (("start", 0), ("end", 1)):
            if not (np.isfinite(q[i]).all() and np.isfinite(qd[i]).all()
                    and np.isfinite(qdd[i]).all()):
                raise MotionInputError(f"shaped trajectory: non-finite {label} state")
            if (np.max(np.abs(qd[i]), initial=0.0) > REST_VELOCITY_TOL
                    or np.max(np.abs(qdd[i]), initial=0.0) > REST_ACCELERATION_TOL):
                raise MotionInputError(
                    f"shaped trajectory: the trajectory must {label} at rest (|qd| <= "
                    f"{REST_VELOCITY_TOL} rad/s, |qdd| <= {REST_ACCELERATION_TOL} rad/s^2), "
                    f"got qd={np.round(qd[i], 6).tolist()}, qdd={np.round(qdd[i], 6).tolist()}")
        self._q_start = q[0].copy()
        self._q_end = q[1].copy()

    def _sample_base(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The original trajectory, held at rest outside ``[0, duration]``."""
        dof = len(self.names)
        n = len(t_s)
        q = np.empty((n, dof))
        qd = np.zeros((n, dof))
        qdd = np.zeros((n, dof))
        before = t_s < 0.0
        after = t_s > self._base_duration_s
        inside = ~(before | after)
        q[before] = self._q_start
        q[after] = self._q_end
        if inside.any():
            qi, qdi, qddi = self.traj.sample(t_s[inside])
            q[inside], qd[inside], qdd[inside] = qi, qdi, qddi
        return q, qd, qdd

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations of the shaped motion at ``t_s`` [s]."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        if not np.isfinite(t).all():
            raise MotionInputError("shaped trajectory: non-finite sample time")
        t = np.clip(t, 0.0, self.duration_s)
        dof = len(self.names)
        q = np.zeros((len(t), dof))
        qd = np.zeros((len(t), dof))
        qdd = np.zeros((len(t), dof))
        for a_i, t_i in zip(self.shaper.amplitudes, self.shaper.times_s, strict=True):
            qi, qdi, qddi = self._sample_base(t - t_i)
            q += a_i * qi
            qd += a_i * qdi
            qdd += a_i * qddi
        return q, qd, qdd
