"""Multi-waypoint joint motion: through every waypoint without stopping, v/a/jerk limited.

From rest at the first waypoint, through every waypoint, to rest at the last:

* Velocity and acceleration limits only: time-optimal retiming of the C2 spline through the
  waypoints (path.py + topp.py, TOPP-RA).
* With jerk limits (``limits.has_jerk_limits()``): a chain of Ruckig state-to-state
  segments (Berscheid & Kröger, RSS 2021), one per pair of consecutive waypoints, whose
  boundary states at the intermediate waypoints are optimised. Ruckig's own multi-waypoint
  calculation is in its paid Pro version only (pantor/ruckig#112), and TOPP-RA has no jerk
  limits (hungpham2511/toppra#133), hence this construction:

  1. Initial guesses for the waypoint states ``(v_k, a_k)``:

     a. Jerk-limited path following (the main guess): the TOPP motion ``s(t)`` along the
        spline is smoothed by a moving average over a window ``T_f`` (``T_f`` = 1.5 or 2
        jerk ramps ``max_j a_max,j / j_max,j``): ``s_f(t) = (1/T_f) ∫_{t−T_f}^t s(τ) dτ``,
        so ``s_f''' = (s̈(t) − s̈(t−T_f)) / T_f`` is bounded (TOPP's ``s̈`` is piecewise
        constant and bounded) and ``s_f`` stays on the spline, monotone, from rest to rest.
        The joint jerk follows from the chain rule ``q⃛ = q' s⃛ + 3 q'' ṡ s̈ + q''' ṡ³`` (the
        cubic spline's ``q'''`` is piecewise constant). Where the smoothed motion exceeds a
        joint limit by a ratio r (``max(r_v, √r_a, ∛r_j)`` over the joints, sampled), the
        TOPP speed ``ṡ²`` over the window's span of s is capped at ``ṡ²/r²`` and TOPP runs
        again (``retime_path``'s ``sdot_sq_max``); after a few rounds the remaining excess
        is removed by a uniform time scaling. The waypoint states of this jerk-consistent
        motion (at the times where ``s_f`` passes the knots) are the guess: segments between
        them then exist within the jerk limits, also for waypoints closer than one jerk
        ramp, and Ruckig's time-optimal segments are no slower than the path motion itself.
     b. The TOPP motion (v/a limits only) at the knots with a common velocity scale (the
        best of a few), as a fallback for sparse waypoints.
  2. Boundary state of waypoint k: ``(q_k, c_k v_k, c_k² a_k)`` with a scale ``c_k >= 0``
     (a time scaling of the spline motion locally; acceleration components clipped to the
     limits). Each segment is Ruckig's time-optimal motion between its two boundary states,
     so every segment respects the velocity, acceleration and jerk limits by construction
     (Ruckig's guarantee), and its position extrema are checked against the position limits
     (a segment that leaves them counts as infeasible).
  3. Coordinate search on the scales: each ``c_k`` only changes its two adjacent segments,
     so a sweep tries a few multiplicative steps per waypoint and keeps the one that
     shortens those two segments most; the step shrinks when a sweep gains nothing. Starts
     from a feasible scaling (all ``c_k`` halved until every segment is feasible; ``c = 0``,
     stop-and-go, always is).

  The two best guesses are refined by step 3 and the shorter chain is kept. The result is
  continuous in position, velocity and acceleration at every waypoint (the segments share
  their boundary states) and jerk-limited everywhere by Ruckig's construction (the smoothed
  path motion only seeds the search; it is never played); it is not globally time-optimal
  (the boundary states are searched along one direction per waypoint).
* ``stop_at_waypoints=True``: Ruckig rest-to-rest per segment (stop and go).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits
from dg_motion.trajectory.path import DUPLICATE_TOLERANCE_RAD, JointPath
from dg_motion.trajectory.state_to_state import (
    JointState,
    PlanResult,
    RuckigSolver,
    RuckigTrajectory,
)
from dg_motion.trajectory.topp import PathTrajectory, retime_path
from dg_motion.trajectory.types import Trajectory

#: Coordinate search: initial multiplicative step on c_k, smallest step, sweep budget.
SEARCH_STEP_INITIAL = 0.3
SEARCH_STEP_MIN = 0.01
SEARCH_SWEEPS_MAX = 30
#: Upper bound on c_k (the spline's TOPP speed at a waypoint is not a hard bound for
#: segments that leave the spline between waypoints).
SCALE_MAX = 2.0
#: Guess b: TOPP with the acceleration limits scaled by these factors, each with the best
#: common velocity scale among UNIFORM_SCALES.
ACCEL_SCALES = (1.0, 0.5)
UNIFORM_SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)
#: Guess a: smoothing windows in jerk ramps (max_j a_max,j / j_max,j), capping rounds, and
#: samples per round (plus the TOPP grid times) for the limit ratios.
SMOOTHING_WINDOWS_RAMPS = (1.5, 2.0)
SMOOTHING_ROUNDS = 7
SMOOTHING_SAMPLES = 4000
#: Guesses refined by the coordinate search (the best by their initial chain duration).
GUESSES_REFINED = 2


class ChainedTrajectory:
    """Trajectories played one after the other (each from its time 0 to its duration)."""

    def __init__(self, names: Sequence[str], pieces: Sequence[Trajectory]) -> None:
        """Chain ``pieces`` (non-empty; each must start where the previous one ends)."""
        if not pieces:
            raise MotionInputError("a chained trajectory needs at least one piece")
        self.names = tuple(names)
        self.pieces = list(pieces)
        durations = np.array([p.duration_s for p in self.pieces], dtype=float)
        self.t_start = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        self.duration_s = float(durations.sum())

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, velocities, accelerations at times ``t_s``, shape (len(t), dof)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        idx = np.clip(np.searchsorted(self.t_start, t, side="right") - 1, 0,
                      len(self.pieces) - 1)
        dof = len(self.names)
        q, qd, qdd = (np.empty((len(t), dof)) for _ in range(3))
        for k in np.unique(idx):
            sel = idx == k
            local = t[sel] - self.t_start[k]
            if k > 0:
                local = np.maximum(local, 0.0)
            q[sel], qd[sel], qdd[sel] = self.pieces[k].sample(local)
        return q, qd, qdd


def check_waypoints(q_waypoints: np.ndarray, limits: JointLimits) -> np.ndarray:
    """``q_waypoints`` as an (N, dof) float array: finite, N >= 1, within position limits.

    Raises:
        MotionInputError: naming the waypoint (row) and joint at fault.

    """
    try:
        q = np.asarray(q_waypoints, dtype=float)
    except (TypeError, ValueError):
        raise MotionInputError("waypoints are not numeric") from None
    if q.ndim != 2 or q.shape[0] < 1 or q.shape[1] != limits.dof:
        raise MotionInputError(f"waypoints must have shape (N >= 1, {limits.dof}), "
                               f"got {q.shape}")
    bad = np.argwhere(~np.isfinite(q))
    if bad.size:
        r, c = bad[0]
        raise MotionInputError(f"waypoint {r} joint '{limits.names[c]}' is not finite "
                               f"({q[r, c]})")
    for side, viol in (("below min_position", q < limits.position_min - 1e-9),
                       ("above max_position", q > limits.position_max + 1e-9)):
        if viol.any():
            r, c = np.argwhere(viol)[0]
            raise MotionInputError(f"waypoint {r} joint '{limits.names[c]}' = {q[r, c]:.6g} "
                                   f"rad is {side} ({limits.position_min[c]:.6g} .. "
                                   f"{limits.position_max[c]:.6g})")
    return q


def _without_repeats(q: np.ndarray) -> np.ndarray:
    keep = np.concatenate([[True], np.linalg.norm(np.diff(q, axis=0), axis=1)
                           > DUPLICATE_TOLERANCE_RAD])
    return q[keep]


def _stop_and_go(q: np.ndarray, limits: JointLimits, solver: RuckigSolver) -> ChainedTrajectory:
    pieces = []
    for k in range(len(q) - 1):
        a, b = JointState.at_rest(q[k]), JointState.at_rest(q[k + 1])
        result, traj, reason = solver.solve(a, b)
        if result is not PlanResult.SUCCESS:
            raise MotionInputError(f"segment {k} -> {k + 1}: {reason}")
        pieces.append(RuckigTrajectory(limits.names, traj, a, b, result))
    return ChainedTrajectory(limits.names, pieces)


class _SegmentChain:
    """Segment durations of the chain for given scales c (step 2), with a small cache."""

    def __init__(self, q: np.ndarray, v: np.ndarray, a: np.ndarray, limits: JointLimits,
                 solver: RuckigSolver) -> None:
        self.q, self.v, self.a = q, v, a
        self.limits = limits
        self.solver = solver
        self._cache: dict[tuple[int, float, float], float] = {}

    def state(self, k: int, c: float) -> JointState:
        lim = self.limits
        vel = np.clip(c * self.v[k], -lim.velocity_max, lim.velocity_max)
        acc = np.clip(c * c * self.a[k], -lim.acceleration_max, lim.acceleration_max)
        return JointState(self.q[k], vel, acc)

    def solve(self, k: int, c0: float, c1: float) -> tuple:
        return self.solver.solve(self.state(k, c0), self.state(k + 1, c1))

    def total(self, c: np.ndarray) -> float:
        return float(sum(self.duration(k, c[k], c[k + 1]) for k in range(len(c) - 1)))

    def duration(self, k: int, c0: float, c1: float) -> float:
        key = (k, c0, c1)
        hit = self._cache.get(key)
        if hit is None:
            result, traj, _ = self.solve(k, c0, c1)
            hit = traj.duration if result is PlanResult.SUCCESS else np.inf
            self._cache[key] = hit
        return hit


class _SmoothedPathMotion:
    """Guess a: the moving average ``s_f`` of a TOPP motion ``s(t)``, time-scaled by ``scale``.

    Exact evaluation: TOPP's ``s(t)`` is piecewise quadratic in t, so its integral
    ``S(t)`` is piecewise cubic and ``s_f = (S(t) − S(t−T_f)) / T_f``; the derivatives are
    the differences of ``s``, ``ṡ`` and ``s̈`` over the window. Before the start ``s = 0``
    at rest, after the end ``s = s_end`` at rest.
    """

    def __init__(self, topp: PathTrajectory, window_s: float, scale: float = 1.0) -> None:
        self.topp = topp
        self.window_s = window_s
        self.scale = scale
        t, s, sd, u = topp.t_grid, topp.s_grid, topp.sdot, topp.u
        h = np.diff(t)
        self._integral = np.concatenate(
            [[0.0], np.cumsum(s[:-1] * h + sd[:-1] * h**2 / 2.0 + u * h**3 / 6.0)])
        self.duration_s = (topp.duration_s + window_s) * scale

    def _topp_at(self, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """TOPP's s, ṡ, s̈ and ∫s dt at unscaled times ``t`` (rest outside the motion)."""
        tr = self.topp
        end = tr.duration_s
        tc = np.clip(t, 0.0, end)
        i = np.clip(np.searchsorted(tr.t_grid, tc, side="right") - 1, 0, len(tr.u) - 1)
        tau = tc - tr.t_grid[i]
        u = tr.u[i]
        s = tr.s_grid[i] + tr.sdot[i] * tau + 0.5 * u * tau**2
        sd = tr.sdot[i] + u * tau
        big_s = self._integral[i] + tau * (tr.s_grid[i] + tau * (tr.sdot[i] / 2.0
                                                                 + tau * u / 6.0))
        before, after = t < 0.0, t > end
        s = np.where(before, tr.s_grid[0], np.where(after, tr.s_grid[-1], s))
        sd = np.where(before | after, 0.0, sd)
        u = np.where(before | after, 0.0, u)
        big_s = np.where(before, tr.s_grid[0] * t,
                         np.where(after, self._integral[-1] + tr.s_grid[-1] * (t - end), big_s))
        return s, sd, u, big_s

    def s_at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``s_f`` and its first three time derivatives at (scaled) times ``t_s``."""
        t = np.asarray(t_s, dtype=float) / self.scale
        w = self.window_s
        now, then = self._topp_at(t), self._topp_at(t - w)
        s = (now[3] - then[3]) / w
        sd = (now[0] - then[0]) / w / self.scale
        sdd = (now[1] - then[1]) / w / self.scale**2
        sddd = (now[2] - then[2]) / w / self.scale**3
        return s, sd, sdd, sddd

    def joint_motion(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint velocities, accelerations, jerks at (scaled) times ``t_s`` (chain rule)."""
        s, sd, sdd, sddd = self.s_at(t_s)
        spline = self.topp.path.spline
        d1, d2, d3 = (spline(s, k) for k in (1, 2, 3))
        qd = d1 * sd[:, None]
        qdd = d1 * sdd[:, None] + d2 * (sd**2)[:, None]
        qddd = d1 * sddd[:, None] + d2 * (3.0 * sd * sdd)[:, None] + d3 * (sd**3)[:, None]
        return qd, qdd, qddd

    def limit_ratios(self, limits: JointLimits) -> tuple[np.ndarray, np.ndarray]:
        """Sample times and the time scaling ``max(r_v, √r_a, ∛r_j)`` needed at each."""
        breaks = np.concatenate([self.topp.t_grid, self.topp.t_grid + self.window_s])
        t = np.concatenate([np.linspace(0.0, self.duration_s, SMOOTHING_SAMPLES),
                            (breaks - 1e-9) * self.scale, (breaks + 1e-9) * self.scale])
        t = np.clip(t, 0.0, self.duration_s)
        qd, qdd, qddd = self.joint_motion(t)
        r_v = np.max(np.abs(qd) / limits.velocity_max, axis=1)
        r_a = np.max(np.abs(qdd) / limits.acceleration_max, axis=1)
        r_j = np.max(np.abs(qddd) / limits.jerk_max, axis=1)
        return t, np.maximum(np.maximum(r_v, np.sqrt(r_a)), np.cbrt(r_j))

    def knot_states(self, s_knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint velocities and accelerations where ``s_f`` passes ``s_knots``."""
        t = np.linspace(0.0, self.duration_s, SMOOTHING_SAMPLES)
        tk = np.interp(s_knots, self.s_at(t)[0], t)
        for _ in range(3):  # Newton steps on s_f(t) = s_k
            s, sd, _, _ = self.s_at(tk)
            tk = np.where(sd > 1e-9, tk - (s - s_knots) / np.maximum(sd, 1e-9), tk)
        qd, qdd, _ = self.joint_motion(np.clip(tk, 0.0, self.duration_s))
        return qd, qdd


def _smoothed_path_motion(path: JointPath, limits: JointLimits, window_s: float,
                          grid_points: int | None) -> _SmoothedPathMotion | None:
    """Guess a (module docstring): capped TOPP rounds, the fastest scaled result."""
    best: _SmoothedPathMotion | None = None
    grid_s: np.ndarray | None = None
    cap: np.ndarray | None = None
    for _ in range(SMOOTHING_ROUNDS):
        sdot_sq_max = None if cap is None else (
            lambda s, c=cap, g=grid_s: np.interp(s, g, c))
        try:
            topp = retime_path(path, limits, grid_points=grid_points, sdot_sq_max=sdot_sq_max)
        except MotionInputError:
            break
        motion = _SmoothedPathMotion(topp, window_s)
        t, ratio = motion.limit_ratios(limits)
        worst = float(ratio.max())
        scaled = _SmoothedPathMotion(topp, window_s, max(1.0, worst))
        if best is None or scaled.duration_s < best.duration_s:
            best = scaled
        if worst <= 1.0:
            break
        # cap ṡ² over the s span of every violating sample's window
        grid_s = topp.s_grid
        bad = np.flatnonzero(ratio > 1.0)
        s_hi = motion._topp_at(t[bad])[0]
        s_lo = motion._topp_at(t[bad] - window_s)[0]
        lo = np.maximum(np.searchsorted(grid_s, s_lo, side="left") - 1, 0)
        hi = np.searchsorted(grid_s, s_hi, side="right") + 1
        need = np.ones(len(grid_s))
        for a, b, r in zip(lo.tolist(), hi.tolist(), ratio[bad].tolist(), strict=True):
            np.maximum(need[a:b], r, out=need[a:b])
        cap = np.where(need > 1.0, topp.x / need**2, np.inf if cap is None else cap)
    return best


def _uniform_scale(chain: _SegmentChain, n: int) -> np.ndarray:
    """The best common scale c_k = c of all intermediate waypoints (a coarse line search)."""
    best_c, best = np.zeros(n), chain.total(np.zeros(n))
    for cv in UNIFORM_SCALES:
        c = np.full(n, cv)
        c[0] = c[-1] = 0.0
        total = chain.total(c)
        if total < best:
            best_c, best = c, total
    return best_c


def _optimise_scales(chain: _SegmentChain, c: np.ndarray) -> np.ndarray:
    """Step 3: coordinate search on c_1 .. c_{n-2} (c_0 = c_{n-1} = 0: rest)."""
    c = c.copy()
    n = len(c)
    step = SEARCH_STEP_INITIAL
    for _ in range(SEARCH_SWEEPS_MAX):
        gained = 0.0
        for k in range(1, n - 1):
            here = chain.duration(k - 1, c[k - 1], c[k]) + chain.duration(k, c[k], c[k + 1])
            best_c, best = c[k], here
            for f in (1.0 + step, 1.0 / (1.0 + step)):
                ck = min(SCALE_MAX, c[k] * f) if c[k] > 0.0 else step
                cost = chain.duration(k - 1, c[k - 1], ck) + chain.duration(k, ck, c[k + 1])
                if cost < best - 1e-12:
                    best_c, best = ck, cost
            if best_c != c[k]:
                gained += here - best
                c[k] = best_c
        if gained <= 1e-6:
            if step <= SEARCH_STEP_MIN:
                break
            step *= 0.5
    return c


def retime_waypoints(q_waypoints: np.ndarray, limits: JointLimits, *,
                     names: Sequence[str] | None = None, stop_at_waypoints: bool = False,
                     grid_points: int | None = None) -> Trajectory:
    """A motion from rest at the first waypoint through all of them to rest at the last.

    ``q_waypoints`` (N, dof) [rad] in the order of ``names`` (default ``limits.names``).
    Velocity and acceleration limits always hold; with jerk limits on every joint the
    motion is jerk-limited too (module docstring). ``stop_at_waypoints=True`` stops at every
    waypoint. Consecutive repeated waypoints count once. ``grid_points`` sets the TOPP grid.

    Raises:
        MotionInputError: non-finite or out-of-limit waypoints (naming the row and joint),
            joint names that do not match the limits, or limits that are not finite.

    """
    if names is not None:
        limits.index_of(names)
        limits = limits.subset(list(names))
    for attr in ("velocity_max", "acceleration_max"):
        if not np.isfinite(getattr(limits, attr)).all():
            raise MotionInputError(f"waypoint retiming needs finite {attr} for every joint")
    q = _without_repeats(check_waypoints(q_waypoints, limits))
    solver = RuckigSolver(limits)
    if len(q) == 1:
        return _stop_and_go(np.vstack([q, q]), limits, solver)
    if stop_at_waypoints:
        return _stop_and_go(q, limits, solver)
    path = JointPath.from_points(q)
    topp = retime_path(path, limits, grid_points=grid_points)
    if not limits.has_jerk_limits():
        return topp
    guesses: list[tuple[float, _SegmentChain, np.ndarray]] = []
    rest_ends = np.ones(len(q))
    rest_ends[[0, -1]] = 0.0
    ramp_s = float(np.max(limits.acceleration_max / limits.jerk_max))
    for windows in SMOOTHING_WINDOWS_RAMPS:
        motion = _smoothed_path_motion(path, limits, windows * ramp_s, grid_points)
        if motion is None:
            continue
        v, a = motion.knot_states(path.s_knots)
        chain = _SegmentChain(q, v, a, limits, solver)
        guesses.append((chain.total(rest_ends), chain, rest_ends))
    for beta in ACCEL_SCALES:
        ref = topp if beta == 1.0 else retime_path(path, limits.scaled(1.0, beta),
                                                    grid_points=grid_points)
        _, v, a = ref.sample(ref.time_at_s(path.s_knots))
        chain = _SegmentChain(q, v, a, limits, solver)
        c = _uniform_scale(chain, len(q))
        guesses.append((chain.total(c), chain, c))
    guesses.sort(key=lambda g: g[0])
    best: tuple[float, _SegmentChain, np.ndarray] | None = None
    for _, chain, c0 in guesses[:GUESSES_REFINED]:
        c = _optimise_scales(chain, c0)
        total = chain.total(c)
        if best is None or total < best[0]:
            best = (total, chain, c)
    _, chain, c = best
    pieces = []
    for k in range(len(q) - 1):
        result, traj, reason = chain.solve(k, c[k], c[k + 1])
        if result is not PlanResult.SUCCESS:  # c = 0 (rest to rest) failed: out of limits
            raise MotionInputError(f"segment {k} -> {k + 1}: {reason}")
        pieces.append(RuckigTrajectory(limits.names, traj, chain.state(k, c[k]),
                                       chain.state(k + 1, c[k + 1]), result))
    return ChainedTrajectory(limits.names, pieces)
