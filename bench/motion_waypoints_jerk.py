"""Benchmark 3: multi-waypoint motion with jerk limits vs TOPP-RA (no jerk) and stop-and-go.

Ours: ``dg_motion.trajectory.waypoints.retime_waypoints`` with the UR5 limits including
jerk (60 / 100 rad/s^3) through N = 5..50 waypoints of seeded smooth paths
(bench/_motion_paths.py): Ruckig segments with optimised waypoint states, seeded by a
jerk-limited (smoothed, capped TOPP) motion along the spline. References in the
same run: TOPP-RA on a fine grid with the velocity and acceleration limits only (it has no
jerk limits: a lower bound for any jerk-limited motion along the spline), and Ruckig
rest-to-rest per segment (stopping at every waypoint, jerk-limited).

Goals: duration <= 1.10 x TOPP-RA; >= 15 % shorter than stop-and-go; jerk never exceeded
(Ruckig's phase jerks of every segment, 1e-9, and the finite differences of the sampled
accelerations, 1e-6 relative), velocity and acceleration within limits by dense sampling
(20000 samples, 1e-9).

Run: ``python bench/motion_waypoints_jerk.py --json bench/results/motion_waypoints_jerk.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_paths import FINE_GRID_POINTS, smooth_path, toppra_retime  # noqa: E402
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.robots.limits import load_joint_limits  # noqa: E402
from dg_motion.robots.paths import robot_file  # noqa: E402
from dg_motion.trajectory.path import JointPath  # noqa: E402
from dg_motion.trajectory.waypoints import retime_waypoints  # noqa: E402

NAME = "motion_waypoints_jerk"
SIZES = (5, 10, 20, 30, 50)
SEEDS = (1, 2, 3)
TOL = 1e-9


def body(report: Report, args: argparse.Namespace) -> None:
    """Durations, limits and runtimes per N and seed."""
    limits = load_joint_limits(robot_file("ur5", "joint_limits.yaml"))
    rows = []
    jerk_ok = va_ok = True
    for n in SIZES:
        for seed in SEEDS:
            q = smooth_path(seed, n, limits)
            path = JointPath.from_points(q)
            ref, _ = toppra_retime(path.s_knots, q, limits, FINE_GRID_POINTS)
            t0 = time.perf_counter()
            ours = retime_waypoints(q, limits)
            runtime = time.perf_counter() - t0
            stop = retime_waypoints(q, limits, stop_at_waypoints=True)
            jerk_ok &= all(bool((p.jerk_abs_max() <= limits.jerk_max + TOL).all())
                           for p in ours.pieces)
            t_dense = np.linspace(0.0, ours.duration_s, 20000)
            _, qd, qdd = ours.sample(t_dense)
            jerk_fd = np.diff(qdd, axis=0) / np.diff(t_dense)[:, None]
            jerk_ok &= bool((np.abs(jerk_fd) <= limits.jerk_max * (1.0 + 1e-6)).all())
            va_ok &= bool((np.abs(qd) <= limits.velocity_max + TOL).all()
                          and (np.abs(qdd) <= limits.acceleration_max + TOL).all())
            rows.append({"n": n, "seed": seed, "ours_s": ours.duration_s, "toppra_s": ref,
                         "stop_s": stop.duration_s, "ratio_toppra": ours.duration_s / ref,
                         "saving_vs_stop": 1.0 - ours.duration_s / stop.duration_s,
                         "ours_ms": 1e3 * runtime})
    report.extra["trials"] = rows
    src = (f"toppra 0.6 seidel, v/a only, {FINE_GRID_POINTS}-point grid on the same spline, "
           "this run")
    for n in SIZES:
        sel = [r for r in rows if r["n"] == n]
        worst = max(r["ratio_toppra"] for r in sel)
        report.add(f"duration_ratio_toppra_max_n{n}", worst, "<= 1.10", worst <= 1.10, 1.0,
                   src, reference_same_run=True)
        saving = min(r["saving_vs_stop"] for r in sel)
        report.add(f"saving_vs_stop_min_n{n}", saving, ">= 0.15", saving >= 0.15, 0.0,
                   "Ruckig rest-to-rest per segment (jerk-limited), this run",
                   reference_same_run=True)
        report.add(f"runtime_ms_max_n{n}", max(r["ours_ms"] for r in sel), "context", True,
                   no_reference_reason="no open jerk-limited multi-waypoint reference")
    report.add("jerk_limits_kept", float(jerk_ok), "== 1 (1e-9)", jerk_ok,
               no_reference_reason="absolute limit check")
    report.add("va_limits_kept_dense", float(va_ok), "== 1 (1e-9)", va_ok,
               no_reference_reason="absolute limit check")


def main() -> int:
    """Run the benchmark."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    raise SystemExit(main())
