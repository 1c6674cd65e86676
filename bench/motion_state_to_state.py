"""Benchmark 1: state-to-state jerk-limited motion, ours (validated wrapper) vs raw Ruckig.

10^4 seeded random 7-DoF problems: per joint v_max in [0.5, 3] rad/s, a_max in [1, 10]
rad/s^2, j_max in [5, 100] rad/s^3, positions in [-3, 3] rad, start and target velocity and
acceleration up to 90 % of the limits (states that Ruckig's ``validate_input`` rejects, i.e.
that inevitably overshoot the velocity limit, are re-drawn). Ours:
``plan_state_to_state`` (validation, Ruckig offline ``calculate``, vectorised sampling);
reference: a bare ``ruckig.Ruckig(7).calculate`` on the same input, in the same run.

Checked for every problem: a trajectory is returned; by dense sampling (1000 samples plus
every phase boundary) |v| <= v_max and |a| <= a_max within 1e-9; Ruckig's phase jerks
|j| <= j_max within 1e-9; the end state equals the target; duration <= Ruckig's + 0.1 %.
Also: 500 malformed problems (NaN, out-of-limit states) all raise MotionInputError.

Run: ``python bench/motion_state_to_state.py --json bench/results/motion_state_to_state.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import ruckig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.errors import MotionInputError  # noqa: E402
from dg_motion.robots.limits import JointLimits  # noqa: E402
from dg_motion.trajectory.state_to_state import JointState, plan_state_to_state  # noqa: E402

NAME = "motion_state_to_state"
DOF = 7
PROBLEMS = 10_000
BAD_PROBLEMS = 500
SAMPLES = 1000
TOL = 1e-9
NAMES = tuple(f"joint_{i + 1}" for i in range(DOF))


def draw(rng: np.random.Generator, otg: ruckig.Ruckig
         ) -> tuple[JointLimits, JointState, JointState, ruckig.InputParameter]:
    """One random problem valid for Ruckig (and its raw input)."""
    inf = np.full(DOF, np.inf)
    lim = JointLimits(NAMES, -inf, inf, rng.uniform(0.5, 3.0, DOF), rng.uniform(1.0, 10.0, DOF),
                      rng.uniform(5.0, 100.0, DOF), inf)
    while True:
        s = JointState(rng.uniform(-3, 3, DOF), rng.uniform(-0.9, 0.9, DOF) * lim.velocity_max,
                       rng.uniform(-0.9, 0.9, DOF) * lim.acceleration_max)
        g = JointState(rng.uniform(-3, 3, DOF), rng.uniform(-0.9, 0.9, DOF) * lim.velocity_max,
                       rng.uniform(-0.9, 0.9, DOF) * lim.acceleration_max)
        inp = ruckig.InputParameter(DOF)
        inp.current_position, inp.current_velocity = s.q.tolist(), s.qd.tolist()
        inp.current_acceleration = s.qdd.tolist()
        inp.target_position, inp.target_velocity = g.q.tolist(), g.qd.tolist()
        inp.target_acceleration = g.qdd.tolist()
        inp.max_velocity = lim.velocity_max.tolist()
        inp.max_acceleration = lim.acceleration_max.tolist()
        inp.max_jerk = lim.jerk_max.tolist()
        try:
            otg.validate_input(inp, True, True)
        except ruckig.RuckigError:
            continue
        return lim, s, g, inp


def body(report: Report, args: argparse.Namespace) -> None:
    """Solve, check and compare every problem."""
    rng = np.random.default_rng(2021)
    otg = ruckig.Ruckig(DOF)
    valid = within = ends = jerk_ok = 0
    worst_ratio = 0.0
    worst_v = worst_a = -np.inf
    t_ours, t_raw = [], []
    for _ in range(PROBLEMS):
        lim, s, g, inp = draw(rng, otg)
        raw = ruckig.Trajectory(DOF)
        t0 = time.perf_counter()
        otg.calculate(inp, raw)
        t1 = time.perf_counter()
        try:
            tr = plan_state_to_state(s, g, lim)
        except MotionInputError:
            continue
        t2 = time.perf_counter()
        t_raw.append(t1 - t0)
        t_ours.append(t2 - t1)
        valid += 1
        worst_ratio = max(worst_ratio, tr.duration_s / raw.duration)
        starts = tr._tables[0].ravel()
        t = np.concatenate([np.linspace(0, tr.duration_s, SAMPLES),
                            starts[(starts >= 0) & (starts <= tr.duration_s)]])
        q, qd, qdd = tr.sample(t)
        ev = float(np.max(np.abs(qd) - lim.velocity_max))
        ea = float(np.max(np.abs(qdd) - lim.acceleration_max))
        worst_v, worst_a = max(worst_v, ev), max(worst_a, ea)
        within += ev <= TOL and ea <= TOL
        jerk_ok += bool((tr.jerk_abs_max() <= lim.jerk_max + TOL).all())
        ends += bool(np.allclose(q[np.argmax(t)], g.q, atol=1e-8)
                     and np.allclose(qd[np.argmax(t)], g.qd, atol=1e-8))
    rejected = 0
    for k in range(BAD_PROBLEMS):
        lim, s, g, _ = draw(rng, otg)
        q = s.q.copy()
        qd = s.qd.copy()
        if k % 2:
            q[k % DOF] = np.nan
        else:
            qd[k % DOF] = 1.5 * lim.velocity_max[k % DOF]
        try:
            plan_state_to_state(JointState(q, qd, s.qdd), g, lim)
        except MotionInputError:
            rejected += 1
    src = "ruckig 0.19 Ruckig(7).calculate on the same input, this run"
    report.add("valid_fraction", valid / PROBLEMS, "== 1", valid == PROBLEMS, 1.0, src,
               reference_same_run=True)
    report.add("within_va_limits_fraction", within / max(valid, 1), "== 1 (1e-9, dense)",
               within == valid and valid > 0, 1.0, src, reference_same_run=True)
    report.add("within_jerk_limits_fraction", jerk_ok / max(valid, 1), "== 1 (1e-9)",
               jerk_ok == valid and valid > 0, 1.0, src, reference_same_run=True)
    report.add("reaches_target_fraction", ends / max(valid, 1), "== 1 (1e-8)",
               ends == valid and valid > 0, 1.0, src, reference_same_run=True)
    report.add("velocity_excess_max", worst_v, "<= 1e-9", worst_v <= TOL,
               no_reference_reason="absolute limit check")
    report.add("acceleration_excess_max", worst_a, "<= 1e-9", worst_a <= TOL,
               no_reference_reason="absolute limit check")
    report.add("duration_ratio_max", worst_ratio, "<= 1.001 x Ruckig", worst_ratio <= 1.001,
               1.0, src, reference_same_run=True)
    report.add("bad_input_rejected_fraction", rejected / BAD_PROBLEMS, "== 1",
               rejected == BAD_PROBLEMS, no_reference_reason="input validation of ours only")
    ours_us, raw_us = 1e6 * np.median(t_ours), 1e6 * np.median(t_raw)
    report.add("time_us_median", ours_us, "context (validation + Python wrapper)", True,
               raw_us, src, reference_same_run=True)


def main() -> int:
    """Run the benchmark."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    raise SystemExit(main())
