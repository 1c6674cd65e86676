"""A geometric joint path through waypoints: a C2 cubic spline ``q(s)``.

The path is scipy's ``CubicSpline`` through the points (de Boor, "A Practical Guide to
Splines", 1978: piecewise cubic, continuous first and second derivatives), with the
"not-a-knot" end condition by default, which is also TOPP-RA's ``SplineInterpolator``
default, so both parameterise the same curve. The parameter ``s`` defaults to the
normalised cumulative chord length ``s_k = Σ|q_k − q_{k−1}| / Σ|…|`` in [0, 1], which keeps
``|q'(s)|`` nearly uniform for unevenly spaced waypoints (a uniform parameter would make the
spline overshoot between close points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from dg_motion.errors import MotionInputError

#: Consecutive waypoints closer than this [rad] (Euclidean) are one waypoint.
DUPLICATE_TOLERANCE_RAD = 1e-9


@dataclass(frozen=True)
class JointPath:
    """``q(s)`` for s in ``[s_knots[0], s_knots[-1]]``; points (N, dof) at ``s_knots`` (N,)."""

    s_knots: np.ndarray
    q_points: np.ndarray
    spline: CubicSpline

    @classmethod
    def from_points(cls, q_points: np.ndarray, s: np.ndarray | None = None, *,
                    bc_type: str = "not-a-knot") -> JointPath:
        """The C2 spline through ``q_points`` (N >= 2, dof) at parameters ``s`` (increasing).

        Raises:
            MotionInputError: non-finite points, fewer than 2, repeated points (with the
                default chord-length parameter) or non-increasing ``s``.

        """
        try:
            q = np.asarray(q_points, dtype=float)
        except (TypeError, ValueError):
            raise MotionInputError("path points are not numeric") from None
        if q.ndim != 2 or q.shape[0] < 2 or q.shape[1] < 1:
            raise MotionInputError(f"path points must have shape (N >= 2, dof), got {q.shape}")
        bad = np.flatnonzero(~np.isfinite(q).all(axis=1))
        if bad.size:
            raise MotionInputError(f"path point {int(bad[0])} is not finite: "
                                   f"{q[bad[0]].tolist()}")
        if s is None:
            step = np.linalg.norm(np.diff(q, axis=0), axis=1)
            same = np.flatnonzero(step <= DUPLICATE_TOLERANCE_RAD)
            if same.size:
                raise MotionInputError(f"path points {int(same[0])} and {int(same[0]) + 1} "
                                       "coincide")
            s_arr = np.concatenate([[0.0], np.cumsum(step)]) / step.sum()
            s_arr[-1] = 1.0
        else:
            s_arr = np.asarray(s, dtype=float)
            if s_arr.shape != (q.shape[0],) or not np.isfinite(s_arr).all():
                raise MotionInputError(f"path parameter must be finite with shape "
                                       f"({q.shape[0]},), got {s_arr.shape}")
            if np.any(np.diff(s_arr) <= 0.0):
                raise MotionInputError("path parameter s must be strictly increasing")
        if q.shape[0] == 2 and bc_type == "not-a-knot":
            bc_type = "natural"  # two points: a straight line either way
        return cls(s_arr, q, CubicSpline(s_arr, q, axis=0, bc_type=bc_type))

    @property
    def dof(self) -> int:
        """Number of joints."""
        return int(self.q_points.shape[1])

    @property
    def s_start(self) -> float:
        """First parameter value."""
        return float(self.s_knots[0])

    @property
    def s_end(self) -> float:
        """Last parameter value."""
        return float(self.s_knots[-1])

    @property
    def length(self) -> float:
        """Length of the parameter interval ``s_end - s_start`` (1 by default)."""
        return float(self.s_knots[-1] - self.s_knots[0])

    def eval(self, s: np.ndarray | float) -> np.ndarray:
        """Positions ``q(s)`` [rad], shape (len(s), dof) (or (dof,) for a scalar)."""
        return self.spline(np.clip(s, self.s_start, self.s_end))

    def deriv(self, s: np.ndarray | float) -> np.ndarray:
        """First derivative ``q'(s)`` [rad per unit s]."""
        return self.spline(np.clip(s, self.s_start, self.s_end), 1)

    def deriv2(self, s: np.ndarray | float) -> np.ndarray:
        """Second derivative ``q''(s)``."""
        return self.spline(np.clip(s, self.s_start, self.s_end), 2)
