"""Time-optimal path parameterisation (TOPP) by reachability analysis.

Reference: H. Pham and Q.-C. Pham, "A New Approach to Time-Optimal Path Parameterization
based on Reachability Analysis", IEEE Transactions on Robotics 34(3), 2018 (TOPP-RA).
This is our implementation of the method; the ``toppra`` package is only a benchmark
reference (bench/motion_waypoints.py).

Along a path ``q(s)`` (path.py), with ``x = ṡ²`` and ``u = s̈``, the joint velocity and
acceleration are ``q̇ = q'(s) ṡ`` and ``q̈ = q'(s) u + q''(s) x``, so on a grid
``s_0 < … < s_M`` with ``u`` constant on each step (``x_{i+1} = x_i + 2 Δ_i u_i``):

1. Constraints of step i, linear in (u, x) (the paper's "interpolation" discretisation, as
   toppra's default): velocity ``0 <= x <= min_j (v_max,j / |q'_j(s_i)|)²`` (and the
   caller's ``sdot_sq_max(s_i)``); acceleration ``|q'_j(s_i) u + q''_j(s_i) x| <= a_max,j``
   at ``s_i`` and ``|(q'_j + 2Δ q''_j)(s_{i+1}) u + q''_j(s_{i+1}) x| <= a_max,j`` at
   ``s_{i+1}``. Each acceleration row is a lower bound ``u >= α_l + β_l x`` and an upper
   bound ``u <= α_h + β_h x`` (a row with ``q' ≈ 0`` bounds x alone).
2. Backward pass, controllable sets ``K_M = {0}``, ``K_i = {x : ∃u, step-i constraints,
   x + 2Δu ∈ K_{i+1}}``. Each is an interval [0, k_i] (x = u = 0 is always feasible since
   every ``a_min < 0 < a_max``), and k_i is a 2-variable LP solved in closed form: x is
   feasible iff every lower bound on u is <= every upper bound, so k_i is the minimum over
   pairs (l, h) with ``β_l > β_h`` of ``(α_h − α_l) / (β_l − β_h)``. Only the pairs with the
   terminal bound ``u <= (k_{i+1} − x) / 2Δ`` depend on k_{i+1}; the others are computed for
   all steps at once (numpy), leaving ``k_i = min(s_i, min_l (k_{i+1} + P_l) / R_l)`` in
   the loop (``P_l = −2Δα_l``, ``R_l = 2Δβ_l + 1``).
3. Forward pass, greedy: from ``x_0 = 0`` take the largest u allowed by step i's
   constraints that keeps ``x_{i+1}`` in ``K_{i+1}`` (the paper's Theorem: this is
   time-optimal on the grid).
4. Time: with constant u, ``Δt_i = 2Δ_i / (ṡ_i + ṡ_{i+1})``; sampling evaluates
   ``s(τ) = s_i + ṡ_i τ + u_i τ²/2`` and the spline exactly.
5. Guard: between grid points the constraints are not enforced; the trajectory is sampled
   at the grid points and at the quarter points of every step, and if a joint exceeds a
   limit by ratio r_v (velocity) or r_a (acceleration), time is stretched by
   ``max(r_v, √r_a)`` (x and u scaled by its inverse square), so the limits hold there.

Jerk limits are not part of TOPP (q⃛ depends on the derivative of u, which this piecewise-
constant u does not bound); jerk-limited multi-waypoint motion is waypoints.py's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.path import JointPath

#: Default grid: steps per path knot interval and in total (at least). The duration's
#: excess over a fine grid shrinks like 1/steps: 400 steps stay within 0.4 % of a
#: 5000-point grid on bench/motion_waypoints.py's paths (it compares with toppra there).
STEPS_PER_KNOT_INTERVAL = 10
MIN_GRID_STEPS = 400


class PathTrajectory:
    """A path retimed by :func:`retime_path`: a Trajectory (names, duration_s, sample)."""

    def __init__(self, names: tuple[str, ...], path: JointPath, s_grid: np.ndarray,
                 x: np.ndarray, u: np.ndarray) -> None:
        """Grid ``s_grid`` (M+1,), ``x = ṡ²`` at the grid points, ``u = s̈`` per step (M,)."""
        self.names = tuple(names)
        self.path = path
        self.s_grid = s_grid
        self.x = x
        self.u = u
        self.sdot = np.sqrt(np.maximum(x, 0.0))
        speed_sum = self.sdot[:-1] + self.sdot[1:]
        stalled = np.flatnonzero(speed_sum <= 0.0)
        if stalled.size:
            raise MotionInputError(f"path cannot be traversed: zero speed around "
                                   f"s = {s_grid[stalled[0]]:.6g}")
        dt = 2.0 * np.diff(s_grid) / speed_sum
        self.t_grid = np.concatenate([[0.0], np.cumsum(dt)])
        self.duration_s = float(self.t_grid[-1])

    def s_at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Path parameter s, ṡ and s̈ at times ``t_s`` (held outside [0, duration])."""
        t = np.clip(np.atleast_1d(np.asarray(t_s, dtype=float)), 0.0, self.duration_s)
        i = np.clip(np.searchsorted(self.t_grid, t, side="right") - 1, 0, len(self.u) - 1)
        tau = t - self.t_grid[i]
        u = self.u[i]
        sd = self.sdot[i] + u * tau
        s = self.s_grid[i] + self.sdot[i] * tau + 0.5 * u * tau**2
        at_end = t >= self.duration_s
        s = np.where(at_end, self.s_grid[-1], np.minimum(s, self.s_grid[i + 1]))
        sd = np.where(at_end, self.sdot[-1], sd)
        u = np.where(at_end, 0.0, u)
        return s, sd, u

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at times ``t_s``, shape (len(t), dof)."""
        s, sd, u = self.s_at(t_s)
        dq = self.path.deriv(s)
        q = self.path.eval(s)
        qd = dq * sd[:, None]
        qdd = dq * u[:, None] + self.path.deriv2(s) * (sd**2)[:, None]
        return q, qd, qdd

    def time_at_s(self, s: np.ndarray) -> np.ndarray:
        """Times [s] at which the motion passes path parameters ``s``."""
        s = np.clip(np.atleast_1d(np.asarray(s, dtype=float)), self.s_grid[0], self.s_grid[-1])
        i = np.clip(np.searchsorted(self.s_grid, s, side="right") - 1, 0, len(self.u) - 1)
        ds = s - self.s_grid[i]
        sd0, u = self.sdot[i], self.u[i]
        # ds = sd0 τ + u τ²/2, smallest τ >= 0 (rationalised root: stable for u -> 0).
        disc = np.sqrt(np.maximum(sd0**2 + 2.0 * u * ds, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(sd0 + disc > 0.0, 2.0 * ds / (sd0 + disc), 0.0)
        return self.t_grid[i] + tau


def default_grid(path: JointPath, grid_points: int | None = None) -> np.ndarray:
    """The s grid: the path knots plus uniform subdivisions of every knot interval."""
    knots = path.s_knots
    if grid_points is None:
        steps_total = max(MIN_GRID_STEPS, STEPS_PER_KNOT_INTERVAL * (len(knots) - 1))
    else:
        if int(grid_points) < 2:
            raise MotionInputError(f"grid_points must be >= 2, got {grid_points}")
        steps_total = int(grid_points) - 1
    per = np.maximum(1, np.ceil(steps_total * np.diff(knots) / path.length)).astype(int)
    parts = [np.linspace(knots[k], knots[k + 1], per[k] + 1)[:-1] for k in range(len(per))]
    return np.concatenate([*parts, knots[-1:]])


def _bounds_on_u(c: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray, eps: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``lo <= c u + d x <= hi`` as ``u >= αl + βl x``, ``u <= αh + βh x``, x <= xb."""
    pos, neg = c > eps, c < -eps
    flat = ~(pos | neg)
    safe = np.where(flat, 1.0, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        al = np.where(pos, lo / safe, np.where(neg, hi / safe, -np.inf))
        ah = np.where(pos, hi / safe, np.where(neg, lo / safe, np.inf))
        beta = np.where(flat, 0.0, -d / safe)
        xb = np.where(flat & (d > 0), hi / d, np.where(flat & (d < 0), lo / d, np.inf))
    return al, beta, ah, beta, xb


def retime_path(path: JointPath, limits: JointLimits, *, grid_points: int | None = None,
                sdot_sq_max: Callable[[np.ndarray], np.ndarray] | None = None,
                names: Sequence[str] | None = None) -> PathTrajectory:
    """Time-optimal motion along ``path``, rest to rest, within v/a limits (steps 1–5).

    ``grid_points``: number of grid points (default: 10 steps per knot interval, at least
    400 steps). ``sdot_sq_max(s)``: an extra cap on ṡ² at the grid points (e.g. a TCP speed
    limit). ``names``: the joint order of the path's columns (default ``limits.names``).

    Raises:
        MotionInputError: a path whose dof differs from the limits, non-finite velocity or
            acceleration limits, a path outside the position limits, or a cap that stalls
            the motion.

    """
    if names is not None:
        limits.index_of(names)  # raises naming unknown / missing joints
        limits = limits.subset(list(names))
    if path.dof != limits.dof:
        raise MotionInputError(f"path has {path.dof} joints, limits have {limits.dof}")
    for attr in ("velocity_max", "acceleration_max"):
        if not np.isfinite(getattr(limits, attr)).all():
            raise MotionInputError(f"time-optimal retiming needs finite {attr} for every joint")
    knots_q = path.q_points
    out = np.flatnonzero(((knots_q < limits.position_min - 1e-9)
                          | (knots_q > limits.position_max + 1e-9)).any(axis=1))
    if out.size:
        raise MotionInputError(f"path point {int(out[0])} is outside the position limits: "
                               f"{knots_q[out[0]].tolist()}")
    s = default_grid(path, grid_points)
    m = len(s) - 1
    dq, ddq = path.deriv(s), path.deriv2(s)
    vmax, amax = limits.velocity_max, limits.acceleration_max
    delta = np.diff(s)[:, None]                                        # (M, 1)

    # 1. velocity bound on x at every grid point (and the caller's cap).
    with np.errstate(divide="ignore"):
        xv = np.min((vmax / np.abs(dq)) ** 2, axis=1)
    if sdot_sq_max is not None:
        cap = np.asarray(sdot_sq_max(s), dtype=float)
        if cap.shape != s.shape or np.isnan(cap).any() or (cap < 0).any():
            raise MotionInputError("sdot_sq_max must return one value >= 0 per grid point")
        xv = np.minimum(xv, cap)
    # acceleration rows at s_i and s_{i+1} (interpolation discretisation).
    eps = 1e-12 * max(1.0, float(np.abs(dq).max()))
    c = np.concatenate([dq[:-1], dq[1:] + 2.0 * delta * ddq[1:]], axis=1)   # (M, 2 dof)
    d = np.concatenate([ddq[:-1], ddq[1:]], axis=1)
    lo = -np.tile(amax, 2)
    hi = np.tile(amax, 2)
    al, bl, ah, bh, xb = _bounds_on_u(c, d, lo, hi, eps)
    # the terminal lower bound x + 2Δu >= 0  <=>  u >= -x / 2Δ
    al = np.concatenate([al, np.zeros((m, 1))], axis=1)
    bl = np.concatenate([bl, -0.5 / delta], axis=1)

    # 2. static part of k_i: all pairs (lower, upper) without the terminal upper bound.
    with np.errstate(divide="ignore", invalid="ignore"):
        den = bl[:, :, None] - bh[:, None, :]
        num = ah[:, None, :] - al[:, :, None]
        pair = np.where(den > 0.0, num / np.where(den > 0.0, den, 1.0), np.inf)
    x_static = np.minimum(np.minimum(xv[:-1], xb.min(axis=1)), pair.reshape(m, -1).min(axis=1))
    # terminal-dependent part: x <= (k + P_l) / R_l where R_l = 2Δβ_l + 1 > 0
    # (joint rows only: the terminal lower bound paired with it only says k_{i+1} >= 0)
    al_j, bl_j = al[:, :-1], bl[:, :-1]
    big_r = 2.0 * delta * bl_j + 1.0
    keep = (big_r > 0.0) & np.isfinite(al_j)
    p_l = np.where(keep, -2.0 * delta * al_j, np.inf)
    r_inv = np.where(keep, 1.0 / np.where(keep, big_r, 1.0), 1.0)
    # The per-step loops run on Python floats over the rows that bind (lean: no numpy call
    # per step), k_next + P_l and α_h + β_h x being the only per-step arithmetic.
    k = [0.0] * (m + 1)
    x_static_l = x_static.tolist()
    rows_k = [[(pv, rv) for pv, rv, kv in zip(pr, rr, kr, strict=True) if kv]
              for pr, rr, kr in zip(p_l.tolist(), r_inv.tolist(), keep.tolist(),
                                            strict=True)]
    for i in range(m - 1, -1, -1):
        kn = k[i + 1]
        best = x_static_l[i]
        for pv, rv in rows_k[i]:
            v = (kn + pv) * rv
            if v < best:
                best = v
        k[i] = best

    # 3. forward pass: the largest u that stays controllable.
    finite_h = np.isfinite(ah)
    rows_u = [[(a, b) for a, b, f in zip(ar, br, fr, strict=True) if f]
              for ar, br, fr in zip(ah.tolist(), bh.tolist(), finite_h.tolist(),
                                            strict=True)]
    two_delta = (2.0 * delta[:, 0]).tolist()
    x = [0.0] * (m + 1)
    u = [0.0] * m
    xi = 0.0
    for i in range(m):
        td = two_delta[i]
        kn = k[i + 1]
        ui = (kn - xi) / td
        for a, b in rows_u[i]:
            v = a + b * xi
            if v < ui:
                ui = v
        xn = xi + td * ui
        xn = 0.0 if xn < 0.0 else (kn if xn > kn else xn)
        u[i] = (xn - xi) / td
        x[i + 1] = xn
        xi = xn
    x = np.asarray(x)
    u = np.asarray(u)
    names_out = limits.names
    traj = PathTrajectory(names_out, path, s, x, u)

    # 5. guard between grid points.
    t_check = np.concatenate([traj.t_grid, *(traj.t_grid[:-1] + f * np.diff(traj.t_grid)
                                             for f in (0.25, 0.5, 0.75))])
    _, qd, qdd = traj.sample(t_check)
    ratio = max(1.0, float(np.max(np.abs(qd) / vmax)),
                float(np.sqrt(np.max(np.abs(qdd) / amax))))
    if ratio > 1.0:
        traj = PathTrajectory(names_out, path, s, x / ratio**2, u / ratio**2)
    return traj
