"""Benchmark 3: caliper on rendered edges with known sub-pixel positions.

Ours: ``dg_vision.metrology.caliper.measure_edges`` / ``measure_pairs`` (bilinear profile
averaged over 5 px across the line, derivative of Gaussian sigma = 1 px, Gaussian fit of the
derivative peak). Reference: HALCON-class sub-pixel edge accuracy of 1/20 px; goal: RMS
edge error <= 0.05 px at noise sigma = 2 grey levels.

Images (64 x 64 px, all seeded) are rendered analytically, never drawn with a rasteriser:
the scene is a straight step (grey 70 -> 170, contrast 100) or a bar (two steps, width 6 to
20 px) at a random angle (0..360 deg) and a random sub-pixel offset, blurred by a Gaussian
PSF of sigma_psf (0 = an ideal step: plain area coverage; 0.8 and 1.5 px) in closed form
(erf), and integrated over each pixel's area by 16 x 16 sub-samples (the sensor's fill
factor); then Gaussian noise of sigma 2 grey levels, rounded to uint8. The caliper (length
30 px) crosses the edge at a random angle within +-20 deg of the edge normal, so the true
position along the caliper is the line-line intersection ``s = (c - n.p0) / (n.u)``, and a
bar's true width along the caliper is ``w / (n.u)``.

Measured: edge position error (s measured - s true) RMS and max over all edges and per
PSF (each must meet the goal); pair width error RMS (goal sqrt(2) x 0.05 px, the width being
the difference of two edges) and max; and the time per caliper.

Run: ``python bench/vision_caliper.py --json bench/results/vision_caliper.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_vision.metrology.caliper import measure_edges, measure_pairs  # noqa: E402

NAME = "vision_caliper"
SIZE = 64
SUB = 16
LO, HI = 70.0, 170.0
NOISE = 2.0
PSFS = (0.0, 0.8, 1.5)
N_EDGES = 200          # per PSF
N_BARS = 100           # per PSF
CAL_LEN = 30.0
GOAL_RMS_PX = 0.05
REF_PX = 1.0 / 20.0
GOAL_W_PX = math.sqrt(2.0) * GOAL_RMS_PX
NO_REF_PX = ("published figure (HALCON-class 1/20 px sub-pixel edge accuracy, vendor claim): "
             "context only; no reference caliper run here")
NO_REF = "no reference caliper run here; error vs the analytic ground truth"


def _step(d: np.ndarray, psf: float) -> np.ndarray:
    """Fraction of the bright side at signed distance d from the edge (PSF-blurred)."""
    if psf <= 0:
        return (d > 0).astype(np.float64) + 0.5 * (d == 0)
    return ndtr(d / psf)


def render(n: np.ndarray, cs: list[float], psf: float, rng: np.random.Generator) -> np.ndarray:
    """Pixel-area integrated image of steps along lines n.x = c (alternating up/down)."""
    off = (np.arange(SUB) + 0.5) / SUB - 0.5
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    acc = np.zeros((SIZE, SIZE))
    for oy in off:
        for ox in off:
            d = (xx + ox) * n[0] + (yy + oy) * n[1]
            f = _step(d - cs[0], psf)
            if len(cs) > 1:
                f = f - _step(d - cs[1], psf)
            acc += f
    img = LO + (HI - LO) * acc / SUB ** 2 + rng.normal(0.0, NOISE, acc.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def trial(rng: np.random.Generator, psf: float, bar: bool) -> dict:
    """One rendered scene and its caliper measurement against the truth."""
    phi = rng.uniform(0.0, 2.0 * math.pi)
    n = np.array([math.cos(phi), math.sin(phi)])
    centre = np.array([SIZE / 2.0, SIZE / 2.0]) + rng.uniform(-3.0, 3.0, 2)
    c0 = float(n @ centre)
    bw = float(rng.uniform(6.0, 20.0)) if bar else 0.0
    cs = [c0 - bw / 2.0, c0 + bw / 2.0] if bar else [c0]
    img = render(n, cs, psf, rng)
    alpha = math.radians(rng.uniform(-20.0, 20.0))
    ca, sa = math.cos(alpha), math.sin(alpha)
    u = np.array([ca * n[0] - sa * n[1], sa * n[0] + ca * n[1]])
    length = CAL_LEN + bw
    p0 = centre - u * length / 2.0 + rng.uniform(-0.5, 0.5) * u
    p1 = p0 + u * length
    nu = float(n @ u)
    truth = [(c - float(n @ p0)) / nu for c in cs]
    t0 = time.perf_counter()
    if bar:
        pairs = measure_pairs(img, tuple(p0), tuple(p1), width=5.0, sigma=1.0,
                              threshold=20.0, polarity="rising")
        dt = time.perf_counter() - t0
        if len(pairs) != 1:
            return {"ok": False, "dt": dt, "errors": [], "width_error": None}
        p = pairs[0]
        return {"ok": True, "dt": dt, "errors": [p.first.s - truth[0], p.second.s - truth[1]],
                "width_error": p.width - bw / nu}
    edges = measure_edges(img, tuple(p0), tuple(p1), width=5.0, sigma=1.0, threshold=20.0)
    dt = time.perf_counter() - t0
    if len(edges) != 1:
        return {"ok": False, "dt": dt, "errors": [], "width_error": None}
    return {"ok": True, "dt": dt, "errors": [edges[0].s - truth[0]], "width_error": None}


def _rms(v: list[float]) -> float:
    return float(np.sqrt(np.mean(np.square(v)))) if v else math.nan


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    return run_bench(NAME, _run, parser.parse_args(argv))


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run the trials, print the per-case table, fill the report."""
    rows = []
    all_err: list[float] = []
    all_w: list[float] = []
    times: list[float] = []
    misses = 0
    for k, psf in enumerate(PSFS):
        rng = np.random.default_rng(1000 + k)
        err: list[float] = []
        werr: list[float] = []
        for i in range(N_EDGES + N_BARS):
            r = trial(rng, psf, bar=i >= N_EDGES)
            times.append(r["dt"])
            if not r["ok"]:
                misses += 1
                continue
            err += r["errors"]
            if r["width_error"] is not None:
                werr.append(r["width_error"])
        all_err += err
        all_w += werr
        rows.append({"psf_sigma_px": psf, "edges": len(err), "rms_px": _rms(err),
                     "max_px": float(np.max(np.abs(err))), "mean_px": float(np.mean(err)),
                     "width_rms_px": _rms(werr), "width_max_px": float(np.max(np.abs(werr)))})
    rms, wrms = _rms(all_err), _rms(all_w)
    results = [
        {"metric": "edge position RMS [px]", "ours": rms, "goal": f"<= {GOAL_RMS_PX}",
         "reference": REF_PX, "pass": rms <= GOAL_RMS_PX, "no_reference_reason": NO_REF_PX},
        {"metric": "edge position max |error| [px]", "ours": float(np.max(np.abs(all_err))),
         "goal": "report", "reference": None, "pass": True, "no_reference_reason": NO_REF},
        *({"metric": f"edge RMS at PSF sigma {r['psf_sigma_px']} px [px]", "ours": r["rms_px"],
           "goal": f"<= {GOAL_RMS_PX}", "reference": REF_PX,
           "pass": r["rms_px"] <= GOAL_RMS_PX, "no_reference_reason": NO_REF_PX}
          for r in rows),
        # The width is the difference of two edges: sqrt(2) x the edge goal.
        {"metric": "pair width RMS [px]", "ours": wrms, "goal": f"<= {GOAL_W_PX:.3f}",
         "reference": GOAL_W_PX, "pass": wrms <= GOAL_W_PX,
         "no_reference_reason": "reference is the goal (sqrt(2) x 1/20 px), not a measurement; "
                                "no reference caliper run here"},
        {"metric": "pair width max |error| [px]", "ours": float(np.max(np.abs(all_w))),
         "goal": "report", "reference": None, "pass": True, "no_reference_reason": NO_REF},
        {"metric": "missed / extra edges", "ours": misses, "goal": "0", "reference": None,
         "pass": misses == 0, "no_reference_reason": NO_REF},
        {"metric": "time per caliper p50 [ms]", "ours": 1e3 * float(np.median(times)),
         "goal": "report", "reference": None, "pass": True,
         "no_reference_reason": "no reference caliper timed in this run"},
    ]
    report.extend(results)
    report.extra.update({"per_psf": rows,
           "setup": {"image_px": SIZE, "contrast": HI - LO, "noise_sigma": NOISE,
                     "caliper_width_px": 5.0, "sigma_px": 1.0, "edges_per_psf": N_EDGES,
                     "bars_per_psf": N_BARS}})
    print(f"{'psf':>5} {'edges':>6} {'rms px':>8} {'max px':>8} {'bias px':>8} "
          f"{'w rms':>8} {'w max':>8}")
    for r in rows:
        print(f"{r['psf_sigma_px']:>5.1f} {r['edges']:>6} {r['rms_px']:>8.4f} {r['max_px']:>8.4f} "
              f"{r['mean_px']:>8.4f} {r['width_rms_px']:>8.4f} {r['width_max_px']:>8.4f}")
    print()


if __name__ == "__main__":
    sys.exit(main())
