"""Benchmark 7: flatness (minimum zone), step height and holes on plates, 5 % outliers.

Every plate is generated in its own frame (u, v in the plate, w along its normal) and then
placed with a random rotation and offset; points are uniform in the plate (random, not on a
grid), Gaussian noise sigma = 0.01 mm along the normal (as a depth sensor's), and 5 % of the
points are outliers displaced by +-0.1..2 mm along the normal.

* Flatness: 40 plates of 50 000 points, 80..150 x 60..100 mm, with a form whose minimum-zone
  value is known in closed form: flat (0), bow A (u/a)^2, twist A uv / 2ab, dome
  A (u^2 + v^2) / (a^2 + b^2), A = 0.02..0.2 mm (each is symmetric, so the best plane is
  the nominal one and the zone is A). The truth A is a row of its own; every error is
  measured against it. Goal: |flatness - A| <= 2 sigma and no larger than the reference's,
  and <= 10 ms CPU (median over plates of the per-call median of 5 calls) and no slower
  than the reference. Reference (knows neither the labels nor the form): Open3D
  ``segment_plane`` (RANSAC, 3-point samples, distance threshold 15 sigma, 4 iterations:
  1 - (1 - 0.95^3)^4 >= 99.9 % for 5 % outliers; Open3D's generator seeded), a
  least-squares plane through its inliers, the points within the same threshold of that
  plane, then the same flatness definition as ours (``flatness(..., outlier_k=inf)``: our
  ISO 12781-2 filter and minimum zone, with our outlier rejection off). The threshold was
  chosen from 3..30 sigma on 40 plates seeded apart from the evaluated ones
  (``python bench/vision_flatness.py --tune``, max |error|: 15 sigma 0.0090 mm, 12.5 sigma
  0.0115 and 10 sigma 0.0377 (the band cuts the form), 20 sigma 0.0094 and 30 sigma 0.0188
  (it keeps more outliers); 3 sigma, the noise-only choice, 0.139). Informational: the
  peak-to-valley about the least-squares plane of all points (what a plain LS evaluation
  reports with outliers present), and the same on the points after our outlier rejection
  but without the noise filter (``flatness(..., filter_mm=0)``'s ls_value_mm).
* Step height: 40 plates (50 000 points) with a raised region 0.5..10 mm high; masks are
  the two regions 1 mm away from the step edge. Goal: |error| <= 0.05 mm and no larger than
  the reference's. Reference: plain least-squares planes (no outlier handling), height of
  B's centroid above A's plane.
* Hole: 40 face patches 30 x 30 mm (40 000 points, 0.15 mm mean spacing, as a metrology
  structured-light scan) with a through hole of 4..12 mm diameter anywhere within 4 mm of
  the patch centre; rays through the hole hit a background 10 mm
  below (its points are in the cloud too). Goal: centre and diameter errors <= 0.05 mm and
  no larger than the reference's. Reference: the textbook route, the nearest face point per
  angular sector (arcs of two point spacings) fitted with an algebraic (Kasa) least-squares
  circle, given the true face points (outliers and background removed by their labels, its
  most favourable case).

Run: ``python bench/vision_flatness.py --json bench/results/vision_flatness.json``
(``--tune``: the reference's threshold on the tuning plates, no JSON).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_vision.inspect3d.features import flatness, hole, step_height  # noqa: E402

NAME = "vision_flatness"
SIGMA_MM = 0.01
OUTLIERS = 0.05
N_PLATES = 40
GOAL_FLAT_MM = 2.0 * SIGMA_MM
GOAL_FLAT_MS = 10.0
GOAL_FEATURE_MM = 0.05
FORMS = ("flat", "bow", "twist", "dome")
NO_REF_TIME = "the Kasa reference is not timed; informational timing only"
#: Reference: RANSAC distance threshold in noise sigmas (chosen by ``--tune`` on the plates
#: seeded TUNE_SEED.., not on the evaluated ones) and iterations for 99.9 % success.
RANSAC_K_SIGMA = 15.0
TUNE_K_SIGMA = (3.0, 10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0)
RANSAC_ITERATIONS = math.ceil(math.log(1.0 - 0.999) / math.log(1.0 - (1.0 - OUTLIERS) ** 3))
FLAT_SEED, TUNE_SEED = 7100, 7900


def place(uvw: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """Random rotation + offset: (points, rotation, offset)."""
    r = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    off = rng.uniform(-200.0, 200.0, 3)
    return uvw @ r.T + off, r, off


def corrupt(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise along the normal and 5 % outliers of 0.1..2 mm either way."""
    w = w + rng.normal(0.0, SIGMA_MM, w.size)
    out = rng.random(w.size) < OUTLIERS
    w[out] += rng.choice([-1.0, 1.0], int(out.sum())) * rng.uniform(0.1, 2.0, int(out.sum()))
    return w


def ls_plane(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares plane: (centroid, unit normal)."""
    c = p.mean(axis=0)
    d = p - c
    return c, np.linalg.eigh(d.T @ d)[1][:, 0]


def ls_pv(p: np.ndarray) -> float:
    """Peak-to-valley about the least-squares plane."""
    c, n = ls_plane(p)
    r = (p - c) @ n
    return float(r.max() - r.min())


def ransac_flatness(p: np.ndarray, k_sigma: float) -> float:
    """Reference flatness: Open3D RANSAC plane, LS refit, our definition on its inliers."""
    import open3d as o3d

    thr = k_sigma * SIGMA_MM
    o3d.utility.random.seed(0)
    _, idx = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p)).segment_plane(
        thr, 3, RANSAC_ITERATIONS, probability=0.999)
    c, n = ls_plane(p[np.asarray(idx)])
    keep = np.abs((p - c) @ n) <= thr
    return flatness(p[keep], outlier_k=math.inf).value_mm


def plate(seed: int, i: int) -> tuple[np.ndarray, str, float]:
    """One flatness plate: (placed points, form, true minimum zone A in mm)."""
    rng = np.random.default_rng(seed + i)
    a, b = rng.uniform(40.0, 75.0), rng.uniform(30.0, 50.0)
    n = 50_000
    u, v = rng.uniform(-a, a, n), rng.uniform(-b, b, n)
    form = FORMS[i % len(FORMS)]
    amp = 0.0 if form == "flat" else rng.uniform(0.02, 0.2)
    w = {"flat": 0.0 * u, "bow": amp * (u / a) ** 2, "twist": amp * u * v / (2.0 * a * b),
         "dome": amp * (u * u + v * v) / (a * a + b * b)}[form]
    p, _, _ = place(np.c_[u, v, corrupt(w, rng)], rng)
    return p, form, amp


def median_cpu_ms(fn, repeats: int = 5) -> tuple[object, float]:
    """``fn()``'s result and the median CPU time of ``repeats`` calls (ms)."""
    times = []
    for _ in range(repeats):
        c0 = time.process_time()
        out = fn()
        times.append(time.process_time() - c0)
    return out, 1e3 * statistics.median(times)


def flat_case(i: int) -> dict:
    """One flatness plate: ours, the RANSAC reference and the informational LS values."""
    p, form, amp = plate(FLAT_SEED, i)
    f, cpu_ms = median_cpu_ms(lambda: flatness(p))
    ref, ref_ms = median_cpu_ms(lambda: ransac_flatness(p, RANSAC_K_SIGMA))
    raw = flatness(p, filter_mm=0.0)
    return {"plate": i, "form": form, "true_mm": amp, "min_zone_mm": f.value_mm,
            "error_mm": f.value_mm - amp, "ransac_mm": ref, "ransac_error_mm": ref - amp,
            "ls_filtered_mm": f.ls_value_mm, "ls_all_points_mm": ls_pv(p),
            "ls_inliers_mm": raw.ls_value_mm, "min_zone_inliers_unfiltered_mm": raw.value_mm,
            "outliers_removed": f.n_outliers, "cpu_ms": cpu_ms, "ransac_cpu_ms": ref_ms}


def tune(n_plates: int = N_PLATES) -> None:
    """Print the reference's max |error| per RANSAC threshold on the tuning plates."""
    plates = [plate(TUNE_SEED, i) for i in range(n_plates)]
    print(f"RANSAC threshold on plates seeded {TUNE_SEED}..{TUNE_SEED + n_plates - 1} "
          f"({RANSAC_ITERATIONS} iterations)")
    for k in TUNE_K_SIGMA:
        err = max(abs(ransac_flatness(p, k) - amp) for p, _, amp in plates)
        print(f"  {k:5.1f} sigma = {k * SIGMA_MM:.3f} mm: max |error| {err:.4f} mm")


def step_case(i: int) -> dict:
    """One step-height plate."""
    rng = np.random.default_rng(7200 + i)
    n = 50_000
    u, v = rng.uniform(-50.0, 50.0, n), rng.uniform(-40.0, 40.0, n)
    edge = rng.uniform(-20.0, 20.0)
    h = rng.uniform(0.5, 10.0)
    upper = u > edge
    p, r, _ = place(np.c_[u, v, corrupt(np.where(upper, h, 0.0), rng)], rng)
    ma, mb = u < edge - 1.0, u > edge + 1.0
    c0 = time.process_time()
    ours = step_height(p, ma, mb)
    cpu = time.process_time() - c0
    # Reference: plain least-squares planes, centroid of B above A's plane.
    ca, na = ls_plane(p[ma])
    na = na if na[2] >= 0 else -na
    ref = float((p[mb].mean(axis=0) - ca) @ na)
    # Heights are along A's normal oriented to +z: +h when the plate's w axis points up.
    truth = h if r[2, 2] >= 0 else -h
    return {"plate": i, "true_mm": truth, "ours_mm": ours, "error_mm": ours - truth,
            "ls_mm": ref, "ls_error_mm": ref - truth, "cpu_ms": 1e3 * cpu}


def hole_case(i: int) -> dict:
    """One hole patch."""
    rng = np.random.default_rng(7300 + i)
    n = 40_000
    dia = rng.uniform(4.0, 12.0)
    c = rng.uniform(-4.0, 4.0, 2)
    u, v = rng.uniform(-15.0, 15.0, n), rng.uniform(-15.0, 15.0, n)
    inside = np.hypot(u - c[0], v - c[1]) < dia / 2.0
    w = corrupt(np.where(inside, -10.0, 0.0), rng)
    p, r, off = place(np.c_[u, v, w], rng)
    center = np.array([c[0], c[1], 0.0]) @ r.T + off
    c0 = time.process_time()
    h = hole(p)
    cpu = time.process_time() - c0
    # Reference: nearest face point per sector (true plane, outliers removed by the true
    # labels: the most favourable case for it), algebraic circle fit.
    face = (~inside) & (np.abs(w) < 0.05)
    uf, vf = u[face] - c[0], v[face] - c[1]
    rad, ang = np.hypot(uf, vf), np.arctan2(vf, uf)
    spacing = float(np.sqrt(30.0 * 30.0 / n))
    n_sec = int(np.clip(np.pi * dia / (2.0 * spacing), 12, 720))  # arcs of 2 spacings
    sec = np.minimum(((ang + np.pi) / (2 * np.pi) * n_sec).astype(int), n_sec - 1)
    rim = [np.flatnonzero(sec == k)[np.argmin(rad[sec == k])] for k in range(n_sec)
           if np.any(sec == k)]
    x, y = uf[rim] + c[0], vf[rim] + c[1]
    sol = np.linalg.lstsq(np.c_[x, y, np.ones_like(x)], x * x + y * y, rcond=None)[0]
    kc = 0.5 * sol[:2]
    kr = float(np.sqrt(sol[2] + kc @ kc))
    return {"patch": i, "true_diameter_mm": dia, "diameter_error_mm": h.diameter_mm - dia,
            "center_error_mm": float(np.linalg.norm(h.center - center)),
            "kasa_diameter_error_mm": 2.0 * kr - dia,
            "kasa_center_error_mm": float(np.linalg.norm(kc - c)), "cpu_ms": 1e3 * cpu}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    parser.add_argument("--tune", action="store_true",
                        help="print the reference's error per RANSAC threshold on the "
                             "tuning plates and exit")
    args = parser.parse_args(argv)
    if args.tune:
        tune()
        return 0
    return run_bench(NAME, _run, args)


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run the three sets, print the per-plate table, fill the report."""
    flats = [flat_case(i) for i in range(N_PLATES)]
    steps = [step_case(i) for i in range(N_PLATES)]
    holes = [hole_case(i) for i in range(N_PLATES)]

    def mx(rows: list[dict], key: str) -> float:
        return max(abs(r[key]) for r in rows)

    flat_err, ref_err = mx(flats, "error_mm"), mx(flats, "ransac_error_mm")
    ls_err = max(abs(r["ls_all_points_mm"] - r["true_mm"]) for r in flats)
    ls_in_err = max(abs(r["ls_inliers_mm"] - r["true_mm"]) for r in flats)
    flat_ms = statistics.median(r["cpu_ms"] for r in flats)
    ref_ms = statistics.median(r["ransac_cpu_ms"] for r in flats)
    step_err, step_ref = mx(steps, "error_mm"), mx(steps, "ls_error_mm")
    hole_d, kasa_d = mx(holes, "diameter_error_mm"), mx(holes, "kasa_diameter_error_mm")
    hole_c, kasa_c = mx(holes, "center_error_mm"), mx(holes, "kasa_center_error_mm")
    ransac = (f"Open3D segment_plane ({RANSAC_K_SIGMA:.0f} sigma, {RANSAC_ITERATIONS} it.) + "
              "LS refit + our definition (in-run)")
    results = [
        {"metric": "flatness_true_mm_max", "ours": max(r["true_mm"] for r in flats),
         "reference": None, "reference_source": "closed-form minimum zone of each form",
         "goal": "informational", "pass": True,
         "no_reference_reason": "the ground truth the flatness errors are measured against"},
        {"metric": "flatness_abs_error_mm_max", "ours": flat_err, "reference": ref_err,
         "reference_source": ransac,
         "goal": f"<= {GOAL_FLAT_MM:.3f} (2 sigma) and <= reference",
         "pass": flat_err <= GOAL_FLAT_MM and flat_err <= ref_err, "reference_same_run": True},
        {"metric": "flatness_ls_all_points", "ours": flat_err, "reference": ls_err,
         "reference_source": "least-squares plane PV, all points (in-run)",
         "goal": "informational", "pass": True, "reference_same_run": True},
        {"metric": "flatness_ls_after_outlier_rejection", "ours": flat_err,
         "reference": ls_in_err,
         "reference_source": "least-squares PV of our inliers, no noise filter (in-run)",
         "goal": "informational", "pass": True, "reference_same_run": True},
        {"metric": "flatness_cpu_ms_median", "ours": flat_ms, "reference": ref_ms,
         "reference_source": "50 000 points, per call; reference: the RANSAC route above",
         "goal": f"<= {GOAL_FLAT_MS:.0f} and <= reference",
         "pass": flat_ms <= GOAL_FLAT_MS and flat_ms <= ref_ms, "reference_same_run": True},
        {"metric": "flatness_cpu_ms_max", "ours": max(r["cpu_ms"] for r in flats),
         "reference": max(r["ransac_cpu_ms"] for r in flats),
         "reference_source": "the RANSAC route above", "goal": "informational", "pass": True,
         "reference_same_run": True},
        {"metric": "step_height_abs_error_mm_max", "ours": step_err, "reference": step_ref,
         "reference_source": "plain least-squares planes (in-run)",
         "goal": f"<= {GOAL_FEATURE_MM} and <= reference",
         "pass": step_err <= GOAL_FEATURE_MM and step_err <= step_ref,
         "reference_same_run": True},
        {"metric": "hole_diameter_abs_error_mm_max", "ours": hole_d, "reference": kasa_d,
         "reference_source": "nearest point per sector + Kasa fit, true face labels (in-run)",
         "goal": f"<= {GOAL_FEATURE_MM} and <= reference",
         "pass": hole_d <= GOAL_FEATURE_MM and hole_d <= kasa_d, "reference_same_run": True},
        {"metric": "hole_center_error_mm_max", "ours": hole_c, "reference": kasa_c,
         "reference_source": "nearest point per sector + Kasa fit, true face labels (in-run)",
         "goal": f"<= {GOAL_FEATURE_MM} and <= reference",
         "pass": hole_c <= GOAL_FEATURE_MM and hole_c <= kasa_c, "reference_same_run": True},
        {"metric": "hole_cpu_ms_median", "ours": statistics.median(r["cpu_ms"] for r in holes),
         "reference": None, "reference_source": "40 000 points", "goal": "informational",
         "pass": True, "no_reference_reason": NO_REF_TIME},
    ]
    print(f"{'plate':>5} {'form':>6} {'true':>7} {'minzone':>8} {'err/sig':>7} {'RANSAC':>7} "
          f"{'err/sig':>7} {'LS all':>7} {'LS inl':>7} {'ms':>5} {'ref ms':>6}")
    for r in flats:
        print(f"{r['plate']:>5} {r['form']:>6} {r['true_mm']:>7.4f} {r['min_zone_mm']:>8.4f} "
              f"{r['error_mm'] / SIGMA_MM:>+7.2f} {r['ransac_mm']:>7.4f} "
              f"{r['ransac_error_mm'] / SIGMA_MM:>+7.2f} {r['ls_all_points_mm']:>7.3f} "
              f"{r['ls_inliers_mm']:>7.4f} {r['cpu_ms']:>5.1f} {r['ransac_cpu_ms']:>6.1f}")
    print()
    report.extend(results)
    report.extra.update({"flatness": flats, "step_height": steps, "holes": holes,
                           "sigma_mm": SIGMA_MM, "outlier_fraction": OUTLIERS})


if __name__ == "__main__":
    sys.exit(main())
