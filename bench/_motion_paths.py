"""Seeded smooth joint paths and the toppra reference shared by the motion waypoint benches.

A path is a fixed smooth curve per seed, ``q(s) = c + Σ_{f=1..3} (A_f / f) sin(π f s + φ_f)``
(A_f uniform in ±0.8 rad, φ_f uniform, c the UR5's elbow-up centre) sampled at N waypoints
(s uniform), clipped to the UR5 position limits. TOPP-RA (toppra 0.6, Pham & Pham T-RO 2018)
runs on ``toppra.SplineInterpolator`` through the same waypoints at the same knots as ours
(not-a-knot cubic spline), with ``JointVelocityConstraint`` and ``JointAccelerationConstraint``
(interpolation discretisation), solver ``seidel``, ``ParametrizeConstAccel``, from rest to rest.
"""

from __future__ import annotations

import logging
import time

import numpy as np

CENTRE_RAD = np.array([0.0, -1.4, 1.4, -1.5, -1.5, 0.0])
FINE_GRID_POINTS = 5000


def smooth_path(seed: int, n: int, limits) -> np.ndarray:  # noqa: ANN001
    """N waypoints (N, 6) along the seed's fixed smooth curve."""
    rng = np.random.default_rng(seed)
    amp = rng.uniform(-0.8, 0.8, (3, 6))
    ph = rng.uniform(0.0, 2 * np.pi, (3, 6))
    s = np.linspace(0.0, 1.0, n)[:, None]
    q = CENTRE_RAD + sum(amp[f] / (f + 1) * np.sin(np.pi * (f + 1) * s + ph[f])
                         for f in range(3))
    return np.clip(q, limits.position_min, limits.position_max)


def toppra_retime(s_knots: np.ndarray, q: np.ndarray, limits, grid_points: int | None  # noqa: ANN001
                  ) -> tuple[float, float]:
    """(duration [s], runtime [s]) of TOPP-RA; ``grid_points=None``: toppra's own grid."""
    import toppra
    import toppra.algorithm as ta
    import toppra.constraint as tc

    logging.getLogger("toppra").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    path = toppra.SplineInterpolator(s_knots, q)
    vl = np.stack([-limits.velocity_max, limits.velocity_max], axis=1)
    al = np.stack([-limits.acceleration_max, limits.acceleration_max], axis=1)
    grid = None if grid_points is None else np.linspace(s_knots[0], s_knots[-1], grid_points)
    inst = ta.TOPPRA([tc.JointVelocityConstraint(vl), tc.JointAccelerationConstraint(al)],
                     path, gridpoints=grid, solver_wrapper="seidel",
                     parametrizer="ParametrizeConstAccel")
    traj = inst.compute_trajectory(0.0, 0.0)
    runtime = time.perf_counter() - t0
    return float(traj.duration), runtime
