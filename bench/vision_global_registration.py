"""Benchmark 6: global scan-to-CAD registration from 100 random poses, reproducible.

Part: ``dg_vision.inspect3d.cad.example_part`` (80 x 50 x 26 mm, no symmetry). Each pose:
a uniformly random rotation and a translation uniform in a ball of 80 mm (the part's
length); a fresh 50 000-point full-surface scan with sigma = 0.02 mm noise expressed in that
frame. Success: after ``register_to_cad(scan, mesh, seed=0)`` the rotation error is
<= 0.1 deg and the translation error <= 0.05 mm (benchmark 5's goals). Time: CPU time per
call (``time.process_time``; the prepared CAD model is cached per part type, its one-off
preparation is timed separately and included in the first call's time).

Reproducibility: every pose is registered twice with the same seed and the two 4x4
transforms are compared bit for bit.

Also measured (informational): 20 single-view scans (parallel rays, 0.35 mm pitch, noise
along the ray: one side of the part only; 10 from random directions of the upper
hemisphere, 10 from nearly straight above as over a conveyor), where the whole-surface
principal axes do not apply and the per-view moments or the seeded FPFH/RANSAC stage do the
work; and 10 of the full scans with only the FPFH/RANSAC stage.

Reference, measured in the same run: Open3D's ``registration_ransac_based_on_feature_
matching`` (same voxel size and FPFH features, mutual filter, edge-length 0.9 and distance
checkers, 100 000 iterations, confidence 0.999), called three times per pose after
``o3d.utility.random.seed(0)`` each time, on 20 of the poses; its first result refined by
the same ICP for the success criterion. Open3D users report its results differ run to run
(Open3D issues #5647, #7475): the table shows on how many poses all three were identical
here (its hypotheses run on OpenMP threads, so this varies with the machine and its load).

Run: ``python bench/vision_global_registration.py --json
bench/results/vision_global_registration.json``.
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
from _vision3d import full_scan, move, pose_error, random_pose, view_scan  # noqa: E402

from dg_vision.inspect3d import registration as reg_mod  # noqa: E402
from dg_vision.inspect3d._common import voxel_downsample  # noqa: E402
from dg_vision.inspect3d.cad import example_part  # noqa: E402
from dg_vision.inspect3d.registration import register_to_cad  # noqa: E402

NAME = "vision_global_registration"
POSES = 100
VIEWS = 20
FORCED = 10
O3D_POSES = 20
O3D_REPEATS = 3
N_POINTS = 50_000
SIGMA_MM = 0.02
GOAL_SUCCESS = 0.95
GOAL_S = 1.0
GOAL_ROT_DEG = 0.1
GOAL_TRANS_MM = 0.05
NO_REF_VIEWS = "Open3D RANSAC is run on the full scans only, not on these; informational"
NO_REF_PREP = "one-off CAD preparation of ours; Open3D has no such step timed here"


def timed(scan: np.ndarray, mesh, **kw) -> tuple[np.ndarray, float]:
    """Register and return (transform, CPU seconds)."""
    c0 = time.process_time()
    r = register_to_cad(scan, mesh, **kw)
    return r.transform, time.process_time() - c0


def trial(scan: np.ndarray, truth: np.ndarray, mesh, **kw) -> dict:
    """Register twice with the same seed; errors, time, reproducibility."""
    t1, cpu1 = timed(scan, mesh, seed=0, **kw)
    t2, cpu2 = timed(scan, mesh, seed=0, **kw)
    rot, trans = pose_error(t1, truth)
    return {"rot_err_deg": rot, "trans_err_mm": trans, "cpu_s": cpu1, "cpu_s_repeat": cpu2,
            "success": rot <= GOAL_ROT_DEG and trans <= GOAL_TRANS_MM,
            "identical": bool(np.array_equal(t1, t2)),
            "max_abs_diff": float(np.max(np.abs(t1 - t2)))}


def open3d_ransac(scan: np.ndarray, mesh, voxel: float) -> tuple[np.ndarray, float]:
    """Open3D RANSAC on FPFH features (same voxel and features as ours): (T, CPU s)."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    cad = reg_mod.prepare_cad(mesh)
    tgt_pts, tgt_f = cad.features(voxel)
    src_pts = voxel_downsample(scan, voxel)
    src_f = reg_mod.fpfh_features(src_pts, voxel, "propagate")

    def cloud(p: np.ndarray):
        return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))

    def feat(f: np.ndarray):
        out = reg.Feature()
        out.data = np.ascontiguousarray(f.T)
        return out

    o3d.utility.random.seed(0)
    c0 = time.process_time()
    res = reg.registration_ransac_based_on_feature_matching(
        cloud(src_pts), cloud(tgt_pts), feat(src_f), feat(tgt_f), True, 1.5 * voxel,
        reg.TransformationEstimationPointToPoint(False), 3,
        [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9),
         reg.CorrespondenceCheckerBasedOnDistance(1.5 * voxel)],
        reg.RANSACConvergenceCriteria(100000, 0.999))
    return np.asarray(res.transformation).copy(), time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    return run_bench(NAME, _run, parser.parse_args(argv))


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run all sets, print the summary, fill the report."""
    mesh = example_part()
    c0 = time.process_time()
    cad = reg_mod.prepare_cad(mesh)
    prep_s = time.process_time() - c0
    voxel = cad.diagonal_mm / 40.0

    full, scans = [], []
    for i in range(POSES):
        rng = np.random.default_rng(6000 + i)
        pts = full_scan(mesh, N_POINTS, SIGMA_MM, rng)
        truth = random_pose(rng, 80.0)
        scan = move(pts, np.linalg.inv(truth))
        scans.append((scan, truth))
        row = trial(scan, truth, mesh)
        if i == 0:
            row["cpu_s"] += prep_s  # the first call of a part type pays the preparation
        full.append({"pose": i, **row})
    c0 = time.process_time()
    cad.views()
    views_s = time.process_time() - c0
    views = []
    for i in range(VIEWS):
        rng = np.random.default_rng(7000 + i)
        if i < VIEWS // 2:  # any direction of the upper hemisphere
            d = rng.normal(size=3)
            d[2] = abs(d[2]) + 0.5
        else:  # from above, as over a conveyor (tilt about 15 deg or less)
            d = np.array([0.0, 0.0, 1.0]) + rng.normal(0.0, 0.15, 3)
        pts = view_scan(mesh, d, 0.35, SIGMA_MM, rng)
        truth = random_pose(rng, 80.0)
        views.append({"view": i, "n_points": int(pts.shape[0]), "top_down": i >= VIEWS // 2,
                      **trial(move(pts, np.linalg.inv(truth)), truth, mesh)})
    forced = [{"pose": i, **trial(scans[i][0], scans[i][1], mesh, use_features=True)}
              for i in range(FORCED)]
    o3d_rows = []
    for i in range(O3D_POSES):
        scan, truth = scans[i]
        runs = [open3d_ransac(scan, mesh, voxel) for _ in range(O3D_REPEATS)]
        ta, cpu_a = runs[0]
        refined = register_to_cad(scan, mesh, init=ta).transform
        rot, trans = pose_error(refined, truth)
        o3d_rows.append({"pose": i, "cpu_s": cpu_a,
                         "identical": all(np.array_equal(ta, t) for t, _ in runs[1:]),
                         "max_abs_diff": max(float(np.max(np.abs(ta - t))) for t, _ in runs),
                         "rot_err_deg": rot, "trans_err_mm": trans,
                         "success": rot <= GOAL_ROT_DEG and trans <= GOAL_TRANS_MM})

    def rate(rows: list[dict], key: str) -> float:
        return sum(bool(r[key]) for r in rows) / len(rows)

    success = rate(full, "success")
    cpu_max = max(r["cpu_s"] for r in full)
    identical = rate(full, "identical")
    o3d_ident = rate(o3d_rows, "identical")
    results = [
        {"metric": "success_rate_full_scans", "ours": success,
         "reference": rate(o3d_rows, "success"),
         "reference_source": f"Open3D FPFH RANSAC + same ICP, {O3D_POSES} of the poses",
         "goal": f">= {GOAL_SUCCESS}", "pass": success >= GOAL_SUCCESS,
         "reference_same_run": True},
        {"metric": "cpu_s_max", "ours": cpu_max,
         "reference": max(r["cpu_s"] for r in o3d_rows),
         "reference_source": "Open3D RANSAC alone (features not counted), multi-threaded",
         "goal": f"<= {GOAL_S}", "pass": cpu_max <= GOAL_S, "reference_same_run": True},
        {"metric": "cpu_s_median", "ours": statistics.median(r["cpu_s"] for r in full),
         "reference": statistics.median(r["cpu_s"] for r in o3d_rows),
         "reference_source": "Open3D RANSAC alone, this run", "goal": "informational",
         "pass": True, "reference_same_run": True},
        {"metric": "identical_repeat_rate", "ours": identical, "reference": o3d_ident,
         "reference_source": "Open3D RANSAC 3x with o3d.utility.random.seed(0) "
                             "(issues #5647, #7475)",
         "goal": "== 1 (bit for bit)", "pass": identical == 1.0, "reference_same_run": True},
        {"metric": "rot_err_deg_max_successes", "ours": max(
            (r["rot_err_deg"] for r in full if r["success"]), default=float("nan")),
         "reference": None, "reference_source": "", "goal": "informational", "pass": True,
         "no_reference_reason": "Open3D's errors are only in the success-rate row (20 poses)"},
        {"metric": "single_view_success_rate", "ours": rate(views, "success"),
         "reference": None, "reference_source": f"{VIEWS} one-sided ray-cast scans",
         "goal": "informational", "pass": True, "no_reference_reason": NO_REF_VIEWS},
        {"metric": "single_view_identical_rate", "ours": rate(views, "identical"),
         "reference": None, "reference_source": "same seed twice", "goal": "== 1",
         "pass": rate(views, "identical") == 1.0, "no_reference_reason": NO_REF_VIEWS},
        {"metric": "single_view_cpu_s_max", "ours": max(r["cpu_s"] for r in views),
         "reference": None, "reference_source": "FPFH + seeded RANSAC path",
         "goal": "informational", "pass": True, "no_reference_reason": NO_REF_VIEWS},
        {"metric": "features_forced_success_rate", "ours": rate(forced, "success"),
         "reference": None, "reference_source": f"{FORCED} full scans, FPFH/RANSAC only",
         "goal": "informational", "pass": True,
         "no_reference_reason": "ablation of ours; Open3D is compared in the rows above"},
        {"metric": "cad_prepare_cpu_s", "ours": prep_s, "reference": None,
         "reference_source": "once per part type (cached)", "goal": "informational",
         "pass": True, "no_reference_reason": NO_REF_PREP},
        {"metric": "cad_views_prepare_cpu_s", "ours": views_s, "reference": None,
         "reference_source": "256 ray-cast views, once per part type, only when a scan "
                             "needs them", "goal": "informational", "pass": True,
         "no_reference_reason": NO_REF_PREP},
    ]
    fails = [r for r in full if not r["success"]]
    print(f"full scans: {len(full) - len(fails)}/{len(full)} within goals; failures: "
          + (", ".join(f"pose {r['pose']} ({r['rot_err_deg']:.2f} deg, "
                       f"{r['trans_err_mm']:.2f} mm)" for r in fails) or "none"))
    print(f"single views: {sum(r['success'] for r in views)}/{len(views)}; forced features: "
          f"{sum(r['success'] for r in forced)}/{len(forced)}; Open3D RANSAC identical "
          f"repeats: {sum(r['identical'] for r in o3d_rows)}/{len(o3d_rows)}\n")
    report.extend(results)
    report.extra.update({"full_scans": full, "single_views": views,
                           "features_forced": forced, "open3d_ransac": o3d_rows})


if __name__ == "__main__":
    sys.exit(main())
