"""Benchmark: the humanoid walks over random +-2 cm height steps as fast as on flat ground.

Ours: ``WalkingController(ControllerConfig())`` on ``dg_sim``'s MuJoCo biped
(``bench/_humanoid_loop.py``) with ``terrain='steps'``: 0.3 m square tiles, heights uniform
in [-2, +2] cm (the tiles within 0.45 m of the start stay at 0), 5 seeds (terrain seed =
sensor noise seed). Per seed: stand 1 s, ``set_velocity(0.3, 0, 0)`` for 10 s (about 3 m: the
tiles cover 4 m ahead). The controller is told nothing about the terrain.

Reference, same run: the same controller, command and sensor-noise seeds on flat ground.

Judged on the simulator's ground truth: falls (its fall flag: pelvis below half its
standing height above the ground under it, or tilted beyond 45 deg), goal 0 on the steps;
speed = forward distance of the true CoM from 2 s after the command to the end, over that
time, per seed, steps / flat of the same seed; goal: the lowest ratio >= 0.8. A run that
falls counts with its speed until the fall (and fails the fall row).

Run: ``python bench/humanoid_terrain.py --json bench/results/humanoid_terrain.json``
(~1-2 min on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _humanoid_loop import NOISE, Loop, parallel  # noqa: E402
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.humanoid.controller import ControllerConfig  # noqa: E402
from dg_sim.humanoid.sim import BipedSimConfig  # noqa: E402

NAME = "humanoid_terrain"
SEEDS = (0, 1, 2, 3, 4)
STEP_HEIGHT_M = 0.02
VX_MPS = 0.3
STAND_S = 1.0
WALK_S = 10.0
SPEED_FROM_S = 2.0          #: after the command: start-up left out
GOAL_RATIO = 0.8
SOURCE = "same controller, command and seeds on flat ground, this run"


def walk(job: tuple[str, int]) -> dict:
    """Walk at VX_MPS on ``terrain`` with ``seed``; ground-truth speed and fall."""
    terrain, seed = job
    w0 = time.perf_counter()
    loop = Loop(ControllerConfig(),
                BipedSimConfig(terrain=terrain, terrain_seed=seed, step_height_m=STEP_HEIGHT_M,
                               seed=seed, **NOISE))
    loop.run(STAND_S)
    loop.ctrl.set_velocity(VX_MPS, 0.0, 0.0)
    loop.run(WALK_S)
    tr = loop.trace()
    t, com = tr["t"], tr["com"]
    window = t >= STAND_S + SPEED_FROM_S
    if np.count_nonzero(window) >= 2:
        tw, xw = t[window], com[window, 0]
        speed = float((xw[-1] - xw[0]) / (tw[-1] - tw[0]))
    else:
        speed = 0.0
    out = {"terrain": terrain, "seed": seed, "fell": loop.fallen_at is not None,
           "fallen_at_s": loop.fallen_at, "speed_mps": speed,
           "final_com_m": com[-1].tolist(), "reason": loop.ctrl.reason,
           "wall_s": time.perf_counter() - w0}
    print(f"  {terrain:5s} seed {seed}: fell {out['fell']} (at {loop.fallen_at}), "
          f"speed {speed:.3f} m/s, CoM x {com[-1, 0]:.2f} m ({out['wall_s']:.0f} s)", flush=True)
    return out


def body(report: Report, args: argparse.Namespace) -> None:
    """Steps against flat ground, same seeds."""
    jobs = [(terrain, s) for s in SEEDS for terrain in ("steps", "flat")]
    print(f"{NAME}: {len(jobs)} walks of {WALK_S:.0f} s at {VX_MPS} m/s ...", flush=True)
    runs = parallel(walk, jobs)
    steps = {r["seed"]: r for r in runs if r["terrain"] == "steps"}
    flat = {r["seed"]: r for r in runs if r["terrain"] == "flat"}
    falls_steps = sum(r["fell"] for r in steps.values())
    falls_flat = sum(r["fell"] for r in flat.values())
    report.add("falls on +-2 cm steps (5 seeds)", falls_steps, "== 0", falls_steps == 0,
               falls_flat, SOURCE, reference_same_run=True)
    ratios = {s: steps[s]["speed_mps"] / flat[s]["speed_mps"] if flat[s]["speed_mps"] > 0
              else float("nan") for s in SEEDS}
    worst = min(SEEDS, key=lambda s: -np.inf if np.isnan(ratios[s]) else ratios[s])
    ratio = ratios[worst]                        # NaN (flat speed 0): the row fails
    report.add("speed on steps, worst seed [m/s]", steps[worst]["speed_mps"],
               f">= {GOAL_RATIO} x reference (seed {worst}: ratio {ratio:.2f})",
               bool(ratio >= GOAL_RATIO),
               flat[worst]["speed_mps"], SOURCE, reference_same_run=True)
    report.add("speed on steps, mean of seeds [m/s]",
               float(np.mean([r["speed_mps"] for r in steps.values()])), "report", True,
               float(np.mean([r["speed_mps"] for r in flat.values()])), SOURCE,
               reference_same_run=True)
    report.extra["speed_ratio_steps_over_flat"] = {str(k): v for k, v in ratios.items()}
    report.extra["runs"] = runs
    report.extra["settings"] = {"seeds": list(SEEDS), "step_height_m": STEP_HEIGHT_M,
                                "tile_m": 0.3, "vx_mps": VX_MPS, "walk_s": WALK_S,
                                "speed_from_s": SPEED_FROM_S, "noise": NOISE}


def main() -> int:
    """Run the benchmark, write the JSON."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    sys.exit(main())
