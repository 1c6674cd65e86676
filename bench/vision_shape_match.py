"""Benchmark 4: shape-based matching, 640 x 480, any rotation, scale 0.9..1.1.

Ours: ``dg_vision.metrology.matching.ShapeModel`` (gradient-direction score over an image
pyramid, exhaustive angle/scale search on the top level with ``cv2.matchTemplate``,
coarse-to-fine tracking, least-squares sub-pixel refinement). Goal: position
<= 0.1 px RMS, angle <= 0.05 deg RMS, <= 50 ms per search; no published reference figure
(HALCON quotes ~1/20 px and ~1/100 deg for its shape-based matching).

Scenes (seeded): a PCB-like part (a 230 x 150 px board with a chamfered corner, 4 mounting
holes, rows of pads, an IC body with pins, a slot; grey levels 40..200) rendered as
polygons 8x supersampled (exact scan conversion: a sub-sample is painted when its centre is
inside the polygon) and area-averaged (anti-aliased, sub-pixel pose) on a
640 x 480 background of grey 60 with random clutter (discs, bars, rings: other objects
that must not disturb the match), Gaussian noise sigma 3 grey levels. The model is taught
once, from one image at angle 0, scale 1, part centred at (320, 240), ROI = the board's
bounding box + 10 px. Test images: uniform random angle in [-180, 180) deg, scale in
[0.9, 1.1], centre anywhere that keeps the part in the image. Truth: the ROI centre mapped
by the rendering pose. Time: CPU time of ``find`` (the goal; OpenCV limited to one thread,
after one warm-up call), p50 and max; wall time reported too (this machine's 2 cores are
shared, so wall time includes waiting for them). Also reported (no goal): 20 harder
scenes with a quarter of the part hidden under a grey patch and illumination falling from
120 % to 50 % across the image, searched with min_score 0.5.

Run: ``python bench/vision_shape_match.py --json bench/results/vision_shape_match.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_vision.metrology.matching import ShapeModel  # noqa: E402

NAME = "vision_shape_match"
W, H = 640, 480
SS = 8
N_SCENES = 60
N_HARD = 20
NOISE = 3.0
SCALE_RANGE = (0.9, 1.1)
GOAL_POS_PX = 0.1
GOAL_ANG_DEG = 0.05
GOAL_MS = 50.0
CENTER = (320.0, 240.0)
NO_REF_ACC = ("no reference matcher run here (HALCON ~1/20 px is a vendor figure); "
              "error vs the rendered ground-truth pose")
NO_REF_TIME = "no reference matcher timed in this run"


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def _circle(cx, cy, r, n=96):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def part_polygons() -> list[tuple[np.ndarray, int]]:
    """The part as (polygon in model px, grey) painted in order; centred on CENTER."""
    cx, cy = CENTER
    x0, y0, x1, y1 = cx - 115, cy - 75, cx + 115, cy + 75
    polys = [(np.array([[x0, y0], [x1 - 25, y0], [x1, y0 + 25], [x1, y1], [x0, y1]]), 150)]
    for hx, hy in ((x0 + 14, y0 + 14), (x1 - 14, y1 - 14), (x0 + 14, y1 - 14)):
        polys.append((_circle(hx, hy, 7.0), 40))
    for i in range(6):
        polys.append((_rect(x0 + 40 + 14 * i, y1 - 30, x0 + 48 + 14 * i, y1 - 16), 200))
    ic = (cx - 10, cy - 45, cx + 50, cy + 5)
    polys.append((_rect(*ic), 55))
    for i in range(5):
        yy = ic[1] + 6 + 10 * i
        polys.append((_rect(ic[0] - 7, yy, ic[0], yy + 4), 200))
        polys.append((_rect(ic[2], yy, ic[2] + 7, yy + 4), 200))
    polys.append((_circle(ic[0] + 8, ic[1] + 8, 3.0, 32), 120))
    polys.append((_rect(x0 + 30, y0 + 25, x0 + 80, y0 + 37), 90))
    polys.append((_circle(x1 - 45, cy + 35, 16.0), 200))
    polys.append((_circle(x1 - 45, cy + 35, 9.0), 40))
    return polys


PART = part_polygons()
ROI = (int(CENTER[0] - 125), int(CENTER[1] - 85), 250, 170)


def paint_polygon(canvas: np.ndarray, poly: np.ndarray, value: int) -> None:
    """Paint the pixels whose centres (integer coordinates) lie inside the polygon.

    Even-odd rule, exact scan conversion: one span per pair of edge crossings of each pixel
    row, worked out inside the polygon's bounding box only.
    """
    h, w = canvas.shape
    x_min = max(int(np.floor(poly[:, 0].min())), 0)
    x_max = min(int(np.ceil(poly[:, 0].max())), w - 1)
    if x_max < x_min:
        return
    p0, p1 = poly, np.roll(poly, -1, axis=0)
    rows_list, xs_list = [], []
    for (xa, ya), (xb, yb) in zip(p0, p1, strict=True):
        if ya == yb:
            continue
        lo, hi = min(ya, yb), max(ya, yb)
        r0, r1 = max(int(np.ceil(lo)), 0), min(int(np.ceil(hi)) - 1, h - 1)
        if r1 < r0:
            continue
        r = np.arange(r0, r1 + 1)          # centres y in [lo, hi): each vertex counted once
        rows_list.append(r)
        xs_list.append(xa + (r - ya) * (xb - xa) / (yb - ya))
    if not rows_list:
        return
    rows, xs = np.concatenate(rows_list), np.concatenate(xs_list)
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    y0, y1 = int(rows.min()), int(rows.max())
    bw = x_max - x_min + 1
    diff = np.zeros((y1 - y0 + 1, bw + 1), np.int32)
    start = np.clip(np.ceil(xs[0::2]).astype(np.int64) - x_min, 0, bw)
    stop = np.clip(np.floor(xs[1::2]).astype(np.int64) + 1 - x_min, 0, bw)
    keep = stop > start
    np.add.at(diff, (rows[0::2][keep] - y0, start[keep]), 1)
    np.add.at(diff, (rows[0::2][keep] - y0, stop[keep]), -1)
    mask = np.cumsum(diff, axis=1)[:, :bw] > 0
    canvas[y0:y1 + 1, x_min:x_max + 1][mask] = value


def render(cx: float, cy: float, angle_deg: float, scale: float, rng: np.random.Generator,
           clutter: bool = True) -> np.ndarray:
    """The scene at the given part pose (ROI centre at (cx, cy)), uint8 grey."""
    canvas = np.full((H * SS, W * SS), 60, np.uint8)
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    ref = np.array([ROI[0] + ROI[2] / 2.0, ROI[1] + ROI[3] / 2.0])

    def fill(poly, value):
        # Sub-sample (i, j) of the canvas has its centre at ((j - 3.5) / 8, (i - 3.5) / 8)
        # in image pixels; it is painted when that centre lies inside the polygon (exact
        # point-in-polygon; cv2.fillPoly would grow every shape by half a sub-sample).
        q = poly * SS + (SS - 1) / 2.0
        paint_polygon(canvas, q, int(value))

    if clutter:
        part_r = 150.0 * scale
        for _ in range(12):
            for _try in range(20):
                p = rng.uniform([20, 20], [W - 20, H - 20])
                if math.hypot(p[0] - cx, p[1] - cy) > part_r + 25:
                    break
            else:
                continue
            kind = rng.integers(3)
            g = int(rng.integers(90, 230))
            if kind == 0:
                fill(_circle(p[0], p[1], rng.uniform(5, 18)), g)
            elif kind == 1:
                t = rng.uniform(0, np.pi)
                d = np.array([math.cos(t), math.sin(t)])
                nrm = np.array([-d[1], d[0]])
                ln, wd = rng.uniform(15, 40), rng.uniform(3, 8)
                fill(np.array([p - d * ln - nrm * wd, p + d * ln - nrm * wd,
                               p + d * ln + nrm * wd, p - d * ln + nrm * wd]), g)
            else:
                r = rng.uniform(8, 16)
                fill(_circle(p[0], p[1], r), g)
                fill(_circle(p[0], p[1], r * 0.5), 60)
    for poly, g in PART:
        q = (poly - ref) @ (scale * rot).T + np.array([cx, cy])
        fill(q, g)
    img = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA).astype(np.float64)
    img += rng.normal(0.0, NOISE, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    parser.add_argument("--scenes", type=int, default=N_SCENES)
    parser.add_argument("--hard", type=int, default=N_HARD)
    return run_bench(NAME, _run, parser.parse_args(argv))


def _run(report: Report, args: argparse.Namespace) -> None:
    """Run the trials, print the per-case table, fill the report."""
    cv2.setNumThreads(1)
    teach_img = render(CENTER[0], CENTER[1], 0.0, 1.0, np.random.default_rng(0), clutter=False)
    t0 = time.perf_counter()
    model = ShapeModel.teach(teach_img, ROI, angle_range=(-180.0, 180.0),
                             scale_range=SCALE_RANGE)
    teach_ms = 1e3 * (time.perf_counter() - t0)
    rng = np.random.default_rng(42)
    rows = []
    model.find(render(CENTER[0], CENTER[1], 10.0, 1.0, rng))       # warm-up
    for i in range(args.scenes):
        ang = float(rng.uniform(-180.0, 180.0))
        sc = float(rng.uniform(*SCALE_RANGE))
        reach = 150.0 * sc
        cx = float(rng.uniform(reach, W - reach))
        cy = float(rng.uniform(min(reach, H / 2), max(H - reach, H / 2)))
        img = render(cx, cy, ang, sc, rng)
        t0, c0 = time.perf_counter(), time.process_time()
        found = model.find(img, min_score=0.6)
        dt, dc = 1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0)
        if not found:
            rows.append({"scene": i, "found": False, "ms": dt, "cpu_ms": dc})
            continue
        m = found[0]
        da = (m.angle_deg - ang + 180.0) % 360.0 - 180.0
        rows.append({"scene": i, "found": True, "ms": dt, "cpu_ms": dc, "dx": m.x - cx,
                     "dy": m.y - cy, "dpos": math.hypot(m.x - cx, m.y - cy), "dang": da,
                     "dscale": m.scale - sc, "score": m.score, "angle": ang, "scale": sc})
    # Robustness set (reported, not part of the goal): a quarter of the part hidden under a
    # flat grey patch and illumination falling from 120 % to 50 % across the image.
    hard = []
    for _ in range(args.hard):
        ang = float(rng.uniform(-180.0, 180.0))
        sc = float(rng.uniform(*SCALE_RANGE))
        cx, cy = float(rng.uniform(160.0, W - 160.0)), float(rng.uniform(160.0, H - 160.0))
        img = render(cx, cy, ang, sc, rng).astype(np.float64)
        ox, oy = rng.choice([-1.0, 1.0], 2)
        x0, y0 = int(cx + min(0.0, ox * 75 * sc)), int(cy + min(0.0, oy * 55 * sc))
        img[y0:y0 + int(75 * sc), x0:x0 + int(75 * sc)] = 90.0
        img *= np.linspace(1.2, 0.5, W)[None, :]
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        t0 = time.perf_counter()
        found = model.find(img, min_score=0.5)
        dt = 1e3 * (time.perf_counter() - t0)
        if found:
            m = found[0]
            da = (m.angle_deg - ang + 180.0) % 360.0 - 180.0
            hard.append({"found": True, "ms": dt, "dpos": math.hypot(m.x - cx, m.y - cy),
                         "dang": da, "score": m.score})
        else:
            hard.append({"found": False, "ms": dt})
    hard_ok = [r for r in hard if r["found"] and r["dpos"] < 3.0 and abs(r["dang"]) < 1.0]
    ok = [r for r in rows if r["found"] and r["dpos"] < 3.0 and abs(r["dang"]) < 1.0]
    misses = len(rows) - len(ok)
    pos_rms = float(np.sqrt(np.mean([r["dpos"] ** 2 for r in ok]))) if ok else math.nan
    ang_rms = float(np.sqrt(np.mean([r["dang"] ** 2 for r in ok]))) if ok else math.nan
    sc_rms = float(np.sqrt(np.mean([r["dscale"] ** 2 for r in ok]))) if ok else math.nan
    times = np.array([r["ms"] for r in rows])
    cpu = np.array([r["cpu_ms"] for r in rows])
    results = [
        {"metric": "found (correct pose)", "ours": len(ok), "goal": f"{len(rows)}",
         "reference": None, "pass": misses == 0, "no_reference_reason": NO_REF_ACC},
        {"metric": "position RMS [px]", "ours": pos_rms, "goal": f"<= {GOAL_POS_PX}",
         "reference": None, "pass": pos_rms <= GOAL_POS_PX, "no_reference_reason": NO_REF_ACC},
        {"metric": "position max [px]", "ours": max((r["dpos"] for r in ok), default=math.nan),
         "goal": "report", "reference": None, "pass": True, "no_reference_reason": NO_REF_ACC},
        {"metric": "angle RMS [deg]", "ours": ang_rms, "goal": f"<= {GOAL_ANG_DEG}",
         "reference": None, "pass": ang_rms <= GOAL_ANG_DEG, "no_reference_reason": NO_REF_ACC},
        {"metric": "angle max [deg]", "ours": max((abs(r["dang"]) for r in ok),
                                                 default=math.nan),
         "goal": "report", "reference": None, "pass": True, "no_reference_reason": NO_REF_ACC},
        {"metric": "scale RMS", "ours": sc_rms, "goal": "report", "reference": None,
         "pass": True, "no_reference_reason": NO_REF_ACC},
        {"metric": "CPU time p50 [ms]", "ours": float(np.median(cpu)), "goal": f"<= {GOAL_MS}",
         "reference": None, "pass": float(np.median(cpu)) <= GOAL_MS,
         "no_reference_reason": NO_REF_TIME},
        {"metric": "CPU time max [ms]", "ours": float(cpu.max()), "goal": "report",
         "reference": None, "pass": True, "no_reference_reason": NO_REF_TIME},
        {"metric": "wall time p50 [ms]", "ours": float(np.median(times)), "goal": "report",
         "reference": None, "pass": True, "no_reference_reason": NO_REF_TIME},
        {"metric": "wall time max [ms]", "ours": float(times.max()), "goal": "report",
         "reference": None, "pass": True, "no_reference_reason": NO_REF_TIME},
        {"metric": "teach time [ms]", "ours": teach_ms, "goal": "report", "reference": None,
         "pass": True, "no_reference_reason": NO_REF_TIME},
        {"metric": "occluded+shaded: found", "ours": len(hard_ok), "goal": f"{len(hard)}",
         "reference": None, "pass": True, "no_reference_reason": NO_REF_ACC},
        {"metric": "occluded+shaded: pos RMS [px]",
         "ours": float(np.sqrt(np.mean([r["dpos"] ** 2 for r in hard_ok]))) if hard_ok
         else math.nan, "goal": "report", "reference": None, "pass": True,
         "no_reference_reason": NO_REF_ACC},
        {"metric": "occluded+shaded: angle RMS [deg]",
         "ours": float(np.sqrt(np.mean([r["dang"] ** 2 for r in hard_ok]))) if hard_ok
         else math.nan, "goal": "report", "reference": None, "pass": True,
         "no_reference_reason": NO_REF_ACC},
    ]
    report.extend(results)
    report.extra.update({"scenes": rows, "hard_scenes": hard,
           "setup": {"image": [W, H], "noise_sigma": NOISE, "scale_range": SCALE_RANGE,
                     "model_points_per_level": model.info["points"], "roi": ROI}})
    print(f"model: {len(model.levels)} levels, points {model.info['points']}")


if __name__ == "__main__":
    sys.exit(main())
