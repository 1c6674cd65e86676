"""Benchmark 4: boustrophedon survey coverage of seeded random lakes with islands.

Ours: ``dg_autonomy.coverage.boustrophedon.plan_coverage`` with the sweep angle left free.
Reference: the lower bound on path length, area / swath width (a path of that length
sweeps the area exactly once, with no turns); in-process baseline: the same lanes visited
lane by lane (``optimise_order=False``), to show what the cell ordering saves in transit.

Lakes: irregular star-shaped shores (radius = mean + harmonics 2..6 + smoothed noise), 200 to
800 m across, 1 to 3 islands of the same kind; lane spacing 1/60 to 1/40 of the lake's
extent (40 to 60 survey lines across, 4 to 20 m); shore margin 5 m; the boat starts from a
dock on the shore (a random point of the margin line). All seeded.

Measured here, independently of the planner's own bookkeeping:

* the coverable region is the water shrunk by the margin with the islands grown by it,
  ``lake.buffer(-margin)`` (shapely's round offset): the boat may not enter the margin, so
  nothing else can be both reached and surveyed;
* coverage = area of (path buffered by swath / 2) inside that region / its area;
* a leg is *outside* when the coverable region (grown by 1 µm for round-off) does not cover
  it: any turn, transit or lane that enters the margin counts;
* planning time per lake: CPU time of ``plan_coverage`` (the goal), wall time reported too
  (the CI machine's cores are shared).

Run: ``python bench/usv_coverage.py --json bench/results/usv_coverage.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import nearest_points

from dg_autonomy.coverage.boustrophedon import plan_coverage

NAME = "usv_coverage"
SEEDS = tuple(range(8))
MARGIN_M = 5.0
LANES_ACROSS = (40.0, 60.0)
GOAL_COVERAGE = 0.995
GOAL_LENGTH_RATIO = 1.10
GOAL_PLAN_S = 1.0
LOWER_BOUND_ONLY = ("idealised lower bound (area / swath, no turns), not an achievable path: "
                    "no peer planner installed")


def star_polygon(rng: np.random.Generator, center: tuple[float, float], radius_m: float,
                 n: int, harmonics: int = 6, amplitude: float = 0.25,
                 noise: float = 0.02) -> Polygon:
    """Star-shaped polygon: radius with random low harmonics and smoothed periodic noise."""
    th = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, harmonics + 1):
        r += rng.uniform(0.0, amplitude / k ** 0.8) * np.cos(k * th + rng.uniform(0, 2 * math.pi))
    z = rng.standard_normal(n)
    spec = np.fft.rfft(z)
    spec[n // 8:] = 0.0
    z = np.fft.irfft(spec, n)
    r += noise * z / max(1e-9, float(np.abs(z).max()))
    r = np.maximum(r, 0.35)
    return Polygon(np.c_[center[0] + radius_m * r * np.cos(th),
                         center[1] + radius_m * r * np.sin(th)])


def random_lake(seed: int, size_m: tuple[float, float] = (200.0, 800.0),
                islands: tuple[int, int] = (1, 3), margin_m: float = MARGIN_M,
                center: tuple[float, float] = (0.0, 0.0)) -> Polygon:
    """A seeded random lake (Polygon, holes = islands) whose margin region is one piece.

    Lakes whose shore-margin region splits into pieces are redrawn from the same generator:
    no path can cover disconnected water without leaving the margin.
    """
    rng = np.random.default_rng(seed)
    for _ in range(200):
        radius = 0.5 * rng.uniform(*size_m)
        shore = star_polygon(rng, center, radius, 160)
        shore = affinity.scale(shore, rng.uniform(0.6, 1.0), 1.0, origin=center)
        shore = affinity.rotate(shore, rng.uniform(0.0, 180.0), origin=center)
        if not shore.is_valid:
            continue
        n_islands = int(rng.integers(islands[0], islands[1] + 1))
        inner = shore.buffer(-0.15 * radius)
        minx, miny, maxx, maxy = inner.bounds
        holes: list[Polygon] = []
        for _ in range(300):
            if len(holes) == n_islands:
                break
            c = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            island = star_polygon(rng, c, rng.uniform(0.05, 0.14) * radius, 40,
                                  harmonics=4, amplitude=0.3, noise=0.03)
            if inner.contains(island) and not any(
                    island.buffer(3.0 * margin_m + 10.0).intersects(h) for h in holes):
                holes.append(island)
        if len(holes) < n_islands:
            continue
        lake = Polygon(shore.exterior.coords, [h.exterior.coords for h in holes])
        if lake.is_valid and lake.buffer(-margin_m).geom_type == "Polygon":
            return lake
    raise RuntimeError(f"seed {seed}: no valid lake drawn")


def swept(path: np.ndarray, swath_m: float) -> Polygon:
    """Path buffered by half the swath (per-leg union if GEOS gives an invalid buffer)."""
    band = LineString(path).buffer(0.5 * swath_m)
    if band.is_valid:
        return band
    legs = shapely.linestrings(np.stack([path[:-1], path[1:]], axis=1))
    return shapely.union_all(shapely.buffer(legs, 0.5 * swath_m))


def evaluate(seed: int) -> dict:
    """Plan one lake and measure the result independently."""
    rng = np.random.default_rng(1000 + seed)
    lake = random_lake(seed)
    minx, miny, maxx, maxy = lake.bounds
    extent = max(maxx - minx, maxy - miny)
    swath = extent / rng.uniform(*LANES_ACROSS)
    region = lake.buffer(-MARGIN_M)
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    far = Point(minx + 1e4 * math.cos(bearing), miny + 1e4 * math.sin(bearing))
    dock = np.array(nearest_points(region.exterior, far)[0].coords[0])

    c0, w0 = time.process_time(), time.perf_counter()
    plan = plan_coverage(lake, swath, MARGIN_M, dock)
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    naive = plan_coverage(lake, swath, MARGIN_M, dock, optimise_order=False)

    path = plan.path_xy
    coverage = region.intersection(swept(path, swath)).area / region.area
    allowed = region.buffer(1e-6)
    shapely.prepare(allowed)
    legs = shapely.linestrings(np.stack([path[:-1], path[1:]], axis=1))
    outside = int(np.count_nonzero(~shapely.covers(allowed, legs)))
    length = float(np.sum(np.hypot(*np.diff(path, axis=0).T)))
    bound = region.area / swath
    return {"seed": seed, "extent_m": extent, "islands": len(lake.interiors),
            "swath_m": swath, "lanes": len(plan.lanes), "area_m2": region.area,
            "coverage": coverage, "legs_outside": outside, "length_m": length,
            "lower_bound_m": bound, "length_ratio": length / bound,
            "transit_m": plan.transit_length_m, "naive_transit_m": naive.transit_length_m,
            "naive_length_ratio": naive.length_m / bound, "detours": plan.detours_n,
            "sweep_angle_deg": math.degrees(plan.sweep_angle_rad),
            "plan_cpu_s": cpu_s, "plan_wall_s": wall_s,
            "_lake": lake, "_region": region, "_path": path, "_dock": dock}


def plot(rows: list[dict], out: Path) -> None:
    """Small multiples: every lake, its path, and what the swath misses (red)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 4
    fig, axes = plt.subplots(math.ceil(len(rows) / cols), cols, figsize=(4.2 * cols, 8.8))
    for ax, r in zip(np.ravel(axes), rows, strict=False):
        lake, region, path = r["_lake"], r["_region"], r["_path"]
        ax.set_facecolor("#d9c9a3")  # land
        ax.fill(*lake.exterior.xy, color="#cfe6fb")
        for hole in lake.interiors:
            ax.fill(*hole.xy, color="#d9c9a3")
        ax.fill(*region.exterior.xy, color="#9cc9f0")
        for hole in region.interiors:
            ax.fill(*hole.xy, color="#cfe6fb")
        # Missed water; a 1 cm opening drops the hairline seams between adjacent lanes'
        # bands (lanes exactly one swath apart), which have no area but would draw as lines.
        missed = region.difference(swept(path, r["swath_m"])).buffer(-0.01).buffer(0.01)
        for gap in getattr(missed, "geoms", [missed]):
            if gap.area > 1e-3:
                ax.fill(*gap.exterior.xy, color="red", lw=0)
        ax.plot(path[:, 0], path[:, 1], "-", color="#12355b", lw=0.5)
        ax.plot(*r["_dock"], "o", color="#e07b00", ms=5)
        ax.set_title(f"seed {r['seed']}: {r['coverage'] * 100:.2f} % covered, "
                     f"L/bound {r['length_ratio']:.3f}\n{r['lanes']} lanes x "
                     f"{r['swath_m']:.1f} m, {r['legs_outside']} legs outside, "
                     f"{r['plan_cpu_s'] * 1e3:.0f} ms", fontsize=8)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in np.ravel(axes)[len(rows):]:
        ax.axis("off")
    fig.suptitle("USV boustrophedon coverage (dark blue: water 5 m off the shore; red: missed; "
                 "orange: dock)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    """Run the benchmark, print a table, write the JSON and the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("bench/results") / f"{NAME}.json")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = [evaluate(s) for s in SEEDS]
    cov_min = min(r["coverage"] for r in rows)
    outside = sum(r["legs_outside"] for r in rows)
    ratio_max = max(r["length_ratio"] for r in rows)
    cpu_max = max(r["plan_cpu_s"] for r in rows)
    wall_max = max(r["plan_wall_s"] for r in rows)
    transit = sum(r["transit_m"] for r in rows) / sum(r["naive_transit_m"] for r in rows)
    results = [
        {"metric": "coverage_min_pct", "ours": 100.0 * cov_min, "reference": None,
         "reference_source": "measured: path buffered by swath/2 inside lake.buffer(-margin)",
         "goal": f">= {100 * GOAL_COVERAGE:.1f}", "pass": cov_min >= GOAL_COVERAGE,
         "no_reference_reason": "absolute goal: no peer coverage planner installed"},
        {"metric": "legs_outside_margin_total", "ours": float(outside), "reference": 0.0,
         "reference_source": "Fields2Cover lets turns leave the field (F2C issues #76, #122)",
         "goal": "== 0", "pass": outside == 0,
         "no_reference_reason": "absolute goal (0 legs); Fields2Cover not run here, its "
                                "issues cited as context only"},
        {"metric": "length_over_lower_bound_max", "ours": ratio_max, "reference": 1.0,
         "reference_source": "lower bound: coverable area / swath width",
         "goal": f"<= {GOAL_LENGTH_RATIO:.2f}", "pass": ratio_max <= GOAL_LENGTH_RATIO,
         "no_reference_reason": LOWER_BOUND_ONLY},
        {"metric": "length_over_lower_bound_median", "ours":
            statistics.median(r["length_ratio"] for r in rows), "reference": 1.0,
         "reference_source": "lower bound: coverable area / swath width",
         "goal": "informational", "pass": True, "no_reference_reason": LOWER_BOUND_ONLY},
        {"metric": "plan_cpu_s_max", "ours": cpu_max, "reference": None,
         "reference_source": "USV survey acceptance goal", "goal": f"<= {GOAL_PLAN_S:.1f}",
         "pass": cpu_max <= GOAL_PLAN_S,
         "no_reference_reason": "absolute goal: no peer coverage planner installed"},
        {"metric": "plan_wall_s_max", "ours": wall_max, "reference": None,
         "reference_source": "wall clock on shared CI cores", "goal": "informational",
         "pass": True, "no_reference_reason": "informational: no peer coverage planner timed"},
        {"metric": "transit_vs_lane_by_lane_order", "ours": transit, "reference": 1.0,
         "reference_source": "same lanes visited lane by lane (optimise_order=False), "
                             "in process", "goal": "< 1.0", "pass": transit < 1.0,
         "reference_same_run": True},
    ]
    passed = all(r["pass"] for r in results)
    details = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    out = {"name": NAME, "pass": passed, "seconds": time.perf_counter() - t0,
           "results": results, "lakes": details}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    png = args.json.parent / f"{NAME}.png"
    plot(rows, png)
    print(f"{'seed':>4} {'extent':>7} {'isl':>3} {'swath':>6} {'lanes':>5} {'cover%':>7} "
          f"{'out':>3} {'L/bound':>7} {'naive':>6} {'cpu ms':>7} {'wall ms':>7}")
    for r in rows:
        print(f"{r['seed']:>4} {r['extent_m']:>7.0f} {r['islands']:>3} {r['swath_m']:>6.1f} "
              f"{r['lanes']:>5} {100 * r['coverage']:>7.2f} {r['legs_outside']:>3} "
              f"{r['length_ratio']:>7.3f} {r['naive_length_ratio']:>6.3f} "
              f"{1e3 * r['plan_cpu_s']:>7.0f} {1e3 * r['plan_wall_s']:>7.0f}")
    print()
    for r in results:
        ref = "-" if r["reference"] is None else f"{r['reference']:.4g}"
        print(f"{r['metric']:<34} ours {r['ours']:>9.4g}  ref {ref:>6}  goal {r['goal']:<14} "
              f"{'PASS' if r['pass'] else 'FAIL'}")
    print(f"\n{NAME}: {'PASS' if passed else 'FAIL'}  ({out['seconds']:.1f} s; {png})")
    return 0  # ran: pass/fail is in the JSON (dg bench treats a non-zero exit as a crash)


if __name__ == "__main__":
    sys.exit(main())
