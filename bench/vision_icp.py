"""Benchmark 5: scan-to-CAD ICP, 50 000 points, sigma = 0.02 mm, start within 10 deg / 5 mm.

Part: ``dg_vision.inspect3d.cad.example_part`` (80 x 50 x 26 mm machined part: chamfered
plate, raised step, two bosses, a pocket, three through holes; no symmetry, all six degrees
of freedom constrained). Each trial draws a fresh 50 000-point scan (area-uniform over the
whole surface, isotropic Gaussian noise sigma = 0.02 mm) and a pose error (rotation uniform
in 0..10 deg about a random axis, translation uniform in 0..5 mm in a random direction);
the scan is expressed in the perturbed frame and registered from the identity.

Ours: ``register_to_cad(scan, mesh, init=I)``: multi-scale point-to-plane ICP (numpy +
scipy cKDTree, single thread) against 100 000 CAD surface samples with exact face normals;
the CAD preparation (sampling, k-d tree) is cached per part type and timed separately.
Time: CPU time of the call (``time.process_time``; the benchmark machine's 2 cores are shared,
wall time is reported too). Errors: rotation angle of T_est T_true^-1, and |t_est - t_true|
(the CAD origin is at the part's centre).

Reference, measured in the same run on the same scans and CAD samples: Open3D's legacy
``registration_icp`` with ``TransformationEstimationPointToPlane`` (max correspondence
distance 10 mm = our widest gate, up to 50 iterations, relative fitness/RMSE 1e-6),
multi-threaded (its CPU time sums all threads).

Run: ``python bench/vision_icp.py --json bench/results/vision_icp.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402
from _vision3d import full_scan, move, pose_error, small_pose  # noqa: E402

from dg_vision.inspect3d.cad import example_part  # noqa: E402
from dg_vision.inspect3d.registration import prepare_cad, register_to_cad  # noqa: E402

NAME = "vision_icp"
TRIALS = 50
O3D_TRIALS = 10
N_POINTS = 50_000
SIGMA_MM = 0.02
GOAL_MS = 100.0
GOAL_ROT_DEG = 0.1
GOAL_TRANS_MM = 0.05


def open3d_icp(scan: np.ndarray, target) -> tuple[np.ndarray, float, float]:
    """Open3D legacy point-to-plane ICP from the identity: (transform, cpu s, wall s)."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(scan))
    c0, w0 = time.process_time(), time.perf_counter()
    res = reg.registration_icp(
        src, target, 10.0, np.eye(4), reg.TransformationEstimationPointToPlane(),
        reg.ICPConvergenceCriteria(relative_fitness=1e-6, relative_rmse=1e-6,
                                   max_iteration=50))
    return np.asarray(res.transformation), time.process_time() - c0, time.perf_counter() - w0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    return run_bench(NAME, _run, parser.parse_args(argv))


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run the trials, print the per-trial table, fill the report."""
    import open3d as o3d

    mesh = example_part()
    c0 = time.process_time()
    cad = prepare_cad(mesh)
    prep_s = time.process_time() - c0
    o3d_target = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cad.points))
    o3d_target.normals = o3d.utility.Vector3dVector(cad.normals)

    rows = []
    for trial in range(TRIALS):
        rng = np.random.default_rng(5000 + trial)
        pts = full_scan(mesh, N_POINTS, SIGMA_MM, rng)
        truth = small_pose(rng, 10.0, 5.0)
        scan = move(pts, np.linalg.inv(truth))  # scan frame = CAD frame moved by truth^-1
        c0, w0 = time.process_time(), time.perf_counter()
        reg = register_to_cad(scan, mesh, init=np.eye(4))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        rot, trans = pose_error(reg.transform, truth)
        start_rot, start_trans = pose_error(np.eye(4), truth)
        row = {"trial": trial, "start_rot_deg": start_rot, "start_trans_mm": start_trans,
               "rot_err_deg": rot, "trans_err_mm": trans, "cpu_ms": 1e3 * cpu,
               "wall_ms": 1e3 * wall, "fitness": reg.fitness, "rmse_mm": reg.rmse_mm,
               "iterations": reg.iterations}
        if trial < O3D_TRIALS:
            t_o3d, cpu_o, wall_o = open3d_icp(scan, o3d_target)
            row["o3d_rot_err_deg"], row["o3d_trans_err_mm"] = pose_error(t_o3d, truth)
            row["o3d_cpu_ms"], row["o3d_wall_ms"] = 1e3 * cpu_o, 1e3 * wall_o
        rows.append(row)

    def col(key: str) -> list[float]:
        return [r[key] for r in rows if key in r]

    cpu_med = statistics.median(col("cpu_ms"))
    cpu_max = max(col("cpu_ms"))
    rot_max, trans_max = max(col("rot_err_deg")), max(col("trans_err_mm"))
    o3d_ok = sum(r["o3d_rot_err_deg"] <= GOAL_ROT_DEG and r["o3d_trans_err_mm"] <= GOAL_TRANS_MM
                 for r in rows if "o3d_cpu_ms" in r)
    results = [
        {"metric": "cpu_ms_median", "ours": cpu_med,
         "reference": statistics.median(col("o3d_cpu_ms")),
         "reference_source": "Open3D legacy point-to-plane ICP, same scans, this run "
                             "(issue: 735 ms at 95k/64k on a laptop; numpy 150 ms here)",
         "goal": f"<= {GOAL_MS:.0f}", "pass": cpu_med <= GOAL_MS, "reference_same_run": True},
        {"metric": "cpu_ms_max", "ours": cpu_max, "reference": max(col("o3d_cpu_ms")),
         "reference_source": "Open3D legacy point-to-plane ICP, this run",
         "goal": "informational", "pass": True, "reference_same_run": True},
        {"metric": "wall_ms_median", "ours": statistics.median(col("wall_ms")),
         "reference": statistics.median(col("o3d_wall_ms")),
         "reference_source": "wall clock on shared cores (Open3D multi-threaded)",
         "goal": "informational", "pass": True, "reference_same_run": True},
        {"metric": "rot_err_deg_max", "ours": rot_max,
         "reference": max(col("o3d_rot_err_deg")),
         "reference_source": "Open3D legacy point-to-plane ICP, this run",
         "goal": f"<= {GOAL_ROT_DEG}", "pass": rot_max <= GOAL_ROT_DEG,
         "reference_same_run": True},
        {"metric": "trans_err_mm_max", "ours": trans_max,
         "reference": max(col("o3d_trans_err_mm")),
         "reference_source": "Open3D legacy point-to-plane ICP, this run",
         "goal": f"<= {GOAL_TRANS_MM}", "pass": trans_max <= GOAL_TRANS_MM,
         "reference_same_run": True},
        {"metric": "open3d_trials_within_goals", "ours": float(o3d_ok),
         "reference": float(O3D_TRIALS), "reference_source": "of the Open3D trials",
         "goal": "informational", "pass": True,
         "no_reference_reason": "counts Open3D's own trials; reference is the trial count"},
        {"metric": "cad_prepare_cpu_ms", "ours": 1e3 * prep_s, "reference": None,
         "reference_source": "once per part type (cached): 100k samples + k-d tree",
         "goal": "informational", "pass": True,
         "no_reference_reason": "one-off CAD preparation of ours; no Open3D counterpart timed"},
    ]
    print(f"{'trial':>5} {'start deg':>9} {'start mm':>8} {'rot deg':>8} {'trans mm':>8} "
          f"{'cpu ms':>7} {'wall ms':>7} {'o3d deg':>8} {'o3d mm':>7} {'o3d cpu':>8}")
    for r in rows:
        o3d_cols = (f"{r['o3d_rot_err_deg']:>8.4f} {r['o3d_trans_err_mm']:>7.4f} "
                    f"{r['o3d_cpu_ms']:>8.0f}") if "o3d_cpu_ms" in r else ""
        print(f"{r['trial']:>5} {r['start_rot_deg']:>9.2f} {r['start_trans_mm']:>8.2f} "
              f"{r['rot_err_deg']:>8.4f} {r['trans_err_mm']:>8.4f} {r['cpu_ms']:>7.1f} "
              f"{r['wall_ms']:>7.1f} {o3d_cols}")
    print()
    report.extend(results)
    report.extra.update({"trials": rows, "n_points": N_POINTS, "sigma_mm": SIGMA_MM})


if __name__ == "__main__":
    sys.exit(main())
