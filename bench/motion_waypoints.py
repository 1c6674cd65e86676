"""Benchmark 2: multi-waypoint retiming (v/a limits) against TOPP-RA in the same run.

Ours: ``dg_motion.trajectory.topp.retime_path`` (our reachability-analysis TOPP, default
grid) on ``JointPath.from_points`` through N = 5..50 waypoints of seeded smooth UR5 paths
(bench/_motion_paths.py). Reference: toppra on the same spline (settings in
_motion_paths.py). Duration goal: ours <= 1.01 x toppra on a fine grid (5000 points, its best
setting: the duration converges from above as the grid is refined). Runtime goal: ours <=
toppra for every N (median of interleaved runs), against toppra with its default grid
(``propose_gridpoints``, its fastest usual setting); the fine-grid toppra runtime is context.

Run: ``python bench/motion_waypoints.py --json bench/results/motion_waypoints.json``.
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
from dg_motion.trajectory.topp import retime_path  # noqa: E402

NAME = "motion_waypoints"
SIZES = (5, 10, 20, 30, 50)
SEEDS = (1, 2, 3)
REPS = 5


def body(report: Report, args: argparse.Namespace) -> None:
    """Durations and runtimes per N and seed."""
    limits = load_joint_limits(robot_file("ur5", "joint_limits.yaml"))
    rows = []
    for n in SIZES:
        for seed in SEEDS:
            q = smooth_path(seed, n, limits)
            path = JointPath.from_points(q)
            ref_fine, rt_fine = toppra_retime(path.s_knots, q, limits, FINE_GRID_POINTS)
            ours_t, ref_t = [], []
            for _ in range(REPS):  # interleaved
                t0 = time.perf_counter()
                ours = retime_path(JointPath.from_points(q), limits)
                ours_t.append(time.perf_counter() - t0)
                ref_default, rt = toppra_retime(path.s_knots, q, limits, None)
                ref_t.append(rt)
            rows.append({"n": n, "seed": seed, "ours_s": ours.duration_s,
                         "toppra_fine_s": ref_fine, "toppra_default_s": ref_default,
                         "ratio": ours.duration_s / ref_fine,
                         "ours_ms": 1e3 * float(np.median(ours_t)),
                         "toppra_default_ms": 1e3 * float(np.median(ref_t)),
                         "toppra_fine_ms": 1e3 * rt_fine})
    report.extra["trials"] = rows
    src = ("toppra 0.6 seidel, SplineInterpolator on the same knots, "
           f"{FINE_GRID_POINTS}-point grid, this run")
    worst = max(rows, key=lambda r: r["ratio"])
    report.add("duration_ratio_max", worst["ratio"], "<= 1.01 x TOPP-RA (fine grid)",
               worst["ratio"] <= 1.01, 1.0, src, reference_same_run=True)
    for n in SIZES:
        sel = [r for r in rows if r["n"] == n]
        ours_ms = float(np.median([r["ours_ms"] for r in sel]))
        ref_ms = float(np.median([r["toppra_default_ms"] for r in sel]))
        report.add(f"runtime_ms_median_n{n}", ours_ms, "<= TOPP-RA default grid",
                   ours_ms <= ref_ms, ref_ms,
                   "toppra 0.6 seidel, default propose_gridpoints, interleaved, this run",
                   reference_same_run=True)
        fine = float(np.median([r["toppra_fine_ms"] for r in sel]))
        report.add(f"runtime_ms_median_n{n}_vs_fine", ours_ms, "<= TOPP-RA fine grid",
                   ours_ms <= fine, fine, src, reference_same_run=True)


def main() -> int:
    """Run the benchmark."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    raise SystemExit(main())
