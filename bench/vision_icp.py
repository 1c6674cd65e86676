"""Benchmark 5: scan-to-CAD ICP, 50 000 points, sigma = 0.02 mm, start within 10 deg / 5 mm.

Part: ``dg_vision.inspect3d.cad.example_part`` (80 x 50 x 26 mm machined part: chamfered
plate, raised step, two bosses, a pocket, three through holes; no symmetry, all six degrees
of freedom constrained). Each of 50 trials (seeds 5000..5049) draws a fresh 50 000-point
scan (area-uniform over the whole surface, isotropic Gaussian noise sigma = 0.02 mm) and a
pose error (rotation uniform in 0..10 deg about a random axis, translation uniform in 0..5 mm
in a random direction); the scan is expressed in the perturbed frame and registered from the
identity.

Ours: ``register_to_cad(scan, mesh, init=I)``: multi-scale point-to-plane ICP (numpy +
scipy cKDTree, single thread) against 100 000 CAD surface samples with exact face normals;
the CAD preparation (sampling, k-d tree) is cached per part type and timed separately.
Time: CPU time of the call (``time.process_time``; the benchmark machine's 2 cores are shared,
wall time is reported too). Errors: rotation angle of T_est T_true^-1, and |t_est - t_true|
(the CAD origin is at the part's centre).

Reference, in the same run on every trial, the same scans, CAD samples and normals, from
the same identity start: Open3D's legacy ``registration_icp`` with
``TransformationEstimationPointToPlane(kernel)`` (multi-threaded; its CPU time sums all
threads) run through the same coarse-to-fine schedule as ours: the same random subsamples
(1 500 points, gate 0.1 x the CAD diagonal = 9.6 mm, Tukey k = gate / 4, up to 40
iterations; 5 000 points, gate / 4, Tukey k = gate / 16, 20 iterations; these k are our
stages' smallest robust scales, a noise-sized k rejects everything from a 5 mm start), then
all points with our last step's gate of 2 mm and a kernel tied to the noise: HuberLoss
k = 1.345 sigma (the 95 %-efficiency constant; Open3D's robust-kernel tutorial uses
TukeyLoss k = sigma with a 10 sigma gate), up to 30 iterations where ours takes one step.
Open3D stops a stage when fitness and RMSE change by < 1e-6 (its API has no step-size
criterion, ours stops below 2e-6 rad and 2e-5 mm). The last stage was chosen by
``python bench/vision_icp.py --tune`` on trials seeded 6000..6009 (not the evaluated ones)
among Tukey k = 1, 3, 4.685 sigma and Huber k = 1.345 sigma, 1 or 30 iterations: Huber
1.345 sigma with 30 had the smallest maximum errors (0.0013 deg, 0.00044 mm; Tukey
4.685 / 3 / 1 sigma: 0.0014 / 0.0017 / 0.0037 deg; one iteration: 0.0016..0.0037 deg).
``registration_icp`` builds a k-d tree of the 100 000 target points on every call; that
build (timed in the same run, three per trial) is taken off the reference's time, as our CAD
preparation is off ours.

Pass: each accuracy and time row needs ours within its goal and no worse than the
reference (ours <= reference, factor 1); the count of trials within both error goals must
be at least the reference's.

Run: ``python bench/vision_icp.py --json bench/results/vision_icp.json`` (``--tune``: the
reference's last stage on the tuning trials, no JSON).
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
from dg_vision.inspect3d.registration.icp import _STAGES  # noqa: E402

NAME = "vision_icp"
TRIALS = 50
TUNE_TRIALS = 10
EVAL_SEED, TUNE_SEED = 5000, 6000
N_POINTS = 50_000
SIGMA_MM = 0.02
GOAL_MS = 100.0
GOAL_ROT_DEG = 0.1
GOAL_TRANS_MM = 0.05
#: register_to_cad's own coarse-to-fine schedule (read from it, not copied), given to the
#: reference: (points, gate and Tukey k as fractions of the widest gate 0.1 x CAD diagonal,
#: iterations); subsamples are the first points of ``default_rng(0).permutation`` (ours with
#: its default seed 0).
SCHEDULE = _STAGES
#: Gate of the last stage on every point: our last step's max(gate / 16, 4 x inlier_mm 0.5).
FINAL_GATE_MM = 2.0
#: The reference's last stage, chosen by --tune: (kernel, k in noise sigmas, iterations).
FINAL = ("huber", 1.345, 30)
TUNE_FINAL = tuple((kernel, k, it) for kernel, k in (("tukey", 1.0), ("tukey", 3.0),
                                                     ("tukey", 4.685), ("huber", 1.345))
                   for it in (1, 30))


def trial_scan(mesh, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One trial's scan (in the perturbed frame) and its true scan -> CAD pose."""
    rng = np.random.default_rng(seed)
    pts = full_scan(mesh, N_POINTS, SIGMA_MM, rng)
    truth = small_pose(rng, 10.0, 5.0)
    return move(pts, np.linalg.inv(truth)), truth  # scan frame = CAD frame moved by truth^-1


def open3d_icp(scan: np.ndarray, target, gate_mm: float,
               final: tuple[str, float, int] = FINAL) -> tuple[np.ndarray, float, float, int]:
    """Open3D point-to-plane ICP, robust kernels, our schedule, from the identity.

    Returns (transform, cpu s, wall s, registration_icp calls).
    """
    import open3d as o3d

    reg = o3d.pipelines.registration
    kernel, k_sigma, final_iters = final
    last_loss = {"tukey": reg.TukeyLoss, "huber": reg.HuberLoss}[kernel](k_sigma * SIGMA_MM)
    stages = [(n, gate_mm * g, reg.TukeyLoss(gate_mm * k), it) for n, g, k, it in SCHEDULE]
    stages.append((scan.shape[0], FINAL_GATE_MM, last_loss, final_iters))
    order = np.random.default_rng(0).permutation(scan.shape[0])
    c0, w0 = time.process_time(), time.perf_counter()
    t = np.eye(4)
    for n, gate, loss, iters in stages:
        src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(scan[order[:n]]))
        res = reg.registration_icp(
            src, target, gate, t, reg.TransformationEstimationPointToPlane(loss),
            reg.ICPConvergenceCriteria(relative_fitness=1e-6, relative_rmse=1e-6,
                                       max_iteration=iters))
        t = np.asarray(res.transformation)
    return t, time.process_time() - c0, time.perf_counter() - w0, len(stages)


def open3d_target(cad):
    """The CAD samples and their exact normals as an Open3D cloud."""
    import open3d as o3d

    target = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cad.points))
    target.normals = o3d.utility.Vector3dVector(cad.normals)
    return target


def kdtree_cpu_s(target, repeats: int = 5) -> float:
    """Median CPU time of the k-d tree ``registration_icp`` builds of the target per call."""
    import open3d as o3d

    times = []
    for _ in range(repeats):
        c0 = time.process_time()
        o3d.geometry.KDTreeFlann(target)
        times.append(time.process_time() - c0)
    return statistics.median(times)


def tune() -> None:
    """Print the reference's errors per last-stage setting on the tuning trials."""
    mesh = example_part()
    cad = prepare_cad(mesh)
    target = open3d_target(cad)
    trials = [trial_scan(mesh, TUNE_SEED + i) for i in range(TUNE_TRIALS)]
    print(f"reference's last stage on trials seeded {TUNE_SEED}..{TUNE_SEED + TUNE_TRIALS - 1}")
    for final in TUNE_FINAL:
        errs, cpu = [], []
        for scan, truth in trials:
            t, c, _, _ = open3d_icp(scan, target, 0.1 * cad.diagonal_mm, final)
            errs.append(pose_error(t, truth))
            cpu.append(1e3 * c)
        rot, trans = np.array(errs).T
        print(f"  {final[0]:5s} k = {final[1]:5.3f} sigma, {final[2]:2d} it.: max {rot.max():.5f} "
              f"deg {trans.max():.5f} mm, rms {np.sqrt(np.mean(rot ** 2)):.5f} deg "
              f"{np.sqrt(np.mean(trans ** 2)):.5f} mm, cpu median {np.median(cpu):.0f} ms")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    parser.add_argument("--tune", action="store_true",
                        help="print the reference's errors per last-stage setting on the "
                             "tuning trials and exit")
    args = parser.parse_args(argv)
    if args.tune:
        tune()
        return 0
    return run_bench(NAME, _run, args)


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run the trials, print the per-trial table, fill the report."""
    mesh = example_part()
    c0 = time.process_time()
    cad = prepare_cad(mesh)
    prep_s = time.process_time() - c0
    target = open3d_target(cad)
    tree_s = kdtree_cpu_s(target)
    gate_mm = 0.1 * cad.diagonal_mm  # register_to_cad's widest gate

    rows = []
    for trial in range(TRIALS):
        scan, truth = trial_scan(mesh, EVAL_SEED + trial)
        c0, w0 = time.process_time(), time.perf_counter()
        reg = register_to_cad(scan, mesh, init=np.eye(4))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        rot, trans = pose_error(reg.transform, truth)
        start_rot, start_trans = pose_error(np.eye(4), truth)
        t_o3d, cpu_o, wall_o, calls = open3d_icp(scan, target, gate_mm)
        rot_o, trans_o = pose_error(t_o3d, truth)
        rows.append({"trial": trial, "start_rot_deg": start_rot, "start_trans_mm": start_trans,
                     "rot_err_deg": rot, "trans_err_mm": trans, "cpu_ms": 1e3 * cpu,
                     "wall_ms": 1e3 * wall, "fitness": reg.fitness, "rmse_mm": reg.rmse_mm,
                     "iterations": reg.iterations, "o3d_rot_err_deg": rot_o,
                     "o3d_trans_err_mm": trans_o, "o3d_cpu_ms": 1e3 * cpu_o,
                     "o3d_cpu_ms_no_kdtree": 1e3 * (cpu_o - calls * tree_s),
                     "o3d_wall_ms": 1e3 * wall_o})

    def col(key: str) -> list[float]:
        return [r[key] for r in rows]

    def within(prefix: str) -> int:
        return sum(r[f"{prefix}rot_err_deg"] <= GOAL_ROT_DEG
                   and r[f"{prefix}trans_err_mm"] <= GOAL_TRANS_MM for r in rows)

    def row(metric: str, ours: float, ref: float, goal: float | None) -> dict:
        """A row that passes with ours <= goal and ours <= reference (None: informational)."""
        return {"metric": metric, "ours": ours, "reference": ref,
                "reference_source": "Open3D point-to-plane ICP, Tukey/Huber kernels, our "
                                    "schedule, same scans (this run)",
                "goal": "informational" if goal is None else f"<= {goal:g} and <= reference",
                "pass": goal is None or (ours <= goal and ours <= ref),
                "reference_same_run": True}

    cpu_med = statistics.median(col("cpu_ms"))
    ref_cpu_med = statistics.median(col("o3d_cpu_ms_no_kdtree"))
    ours_ok, ref_ok = within(""), within("o3d_")
    results = [
        row("cpu_ms_median", cpu_med, ref_cpu_med, GOAL_MS),
        row("cpu_ms_max", max(col("cpu_ms")), max(col("o3d_cpu_ms_no_kdtree")), None),
        row("wall_ms_median", statistics.median(col("wall_ms")),
            statistics.median(col("o3d_wall_ms")), None),
        row("rot_err_deg_max", max(col("rot_err_deg")), max(col("o3d_rot_err_deg")),
            GOAL_ROT_DEG),
        row("trans_err_mm_max", max(col("trans_err_mm")), max(col("o3d_trans_err_mm")),
            GOAL_TRANS_MM),
        {"metric": "trials_within_goals", "ours": float(ours_ok), "reference": float(ref_ok),
         "reference_source": f"of {TRIALS} trials, both error goals; Open3D as above",
         "goal": ">= reference", "pass": ours_ok >= ref_ok, "reference_same_run": True},
        {"metric": "cad_prepare_cpu_ms", "ours": 1e3 * prep_s, "reference": 1e3 * tree_s,
         "reference_source": "ours once per part type (cached): 100k samples + k-d tree; "
                             "Open3D: its target k-d tree, built in every registration_icp "
                             "call (taken off its times above)",
         "goal": "informational", "pass": True, "reference_same_run": True},
    ]
    print(f"{'trial':>5} {'start deg':>9} {'start mm':>8} {'rot deg':>8} {'trans mm':>8} "
          f"{'cpu ms':>7} {'wall ms':>7} {'o3d deg':>8} {'o3d mm':>8} {'o3d cpu':>8}")
    for r in rows:
        print(f"{r['trial']:>5} {r['start_rot_deg']:>9.2f} {r['start_trans_mm']:>8.2f} "
              f"{r['rot_err_deg']:>8.5f} {r['trans_err_mm']:>8.5f} {r['cpu_ms']:>7.1f} "
              f"{r['wall_ms']:>7.1f} {r['o3d_rot_err_deg']:>8.5f} {r['o3d_trans_err_mm']:>8.5f} "
              f"{r['o3d_cpu_ms_no_kdtree']:>8.0f}")
    print()
    report.extend(results)
    report.extra.update({"trials": rows, "n_points": N_POINTS, "sigma_mm": SIGMA_MM,
                         "open3d_final_stage": list(FINAL)})


if __name__ == "__main__":
    sys.exit(main())
