"""Benchmark: push recovery of the walking biped, ours against the pattern without feedback.

The MuJoCo biped (``bench/_humanoid_loop.py``, sensor noise seed 0, flat ground) stands
0.5 s and walks forward at 0.2 m/s. At the middle of the first right-foot single support
that starts after t = 2 s (0.25 s into its 0.5 s), the torso is pushed for 0.1 s with a
constant force (impulse = force x 0.1 s), either forward (+x) or laterally toward the
swinging left foot (+y: the side a step can catch). The push is survived when the
simulator's fall flag (pelvis below half its standing height or tilted beyond 45 deg) stays
down for 3 s after the push ends. The largest impulse survived is found by bisection on
[0, 64] N s (7 halvings: 0.5 N s), per direction and controller (it assumes survival is
monotonic in the impulse; every trial is in the JSON).

- Ours: ``WalkingController(ControllerConfig())``: DCM feedback, CoM admittance, hip
  strategy and step adjustment.
- Reference, same run, same robot, same pattern and push: ``ControllerConfig(balance=False,
  step_adjustment=False)``, the walking pattern (ZMP preview control) played open loop.

Goal per direction: ours >= 2 x the reference's largest survived impulse.

Run: ``python bench/humanoid_push.py --json bench/results/humanoid_push.json`` (~2 min on
2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _humanoid_loop import NOISE, Loop, parallel  # noqa: E402
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.humanoid.controller import ControllerConfig  # noqa: E402
from dg_sim.humanoid.sim import BipedSimConfig  # noqa: E402

NAME = "humanoid_push"
PUSH_S = 0.1
WALK_MPS = 0.2
PUSH_AFTER_S = 2.0          #: the first right single support starting after this time
MID_STANCE_S = 0.25         #: half of the default 0.5 s single support
SURVIVE_S = 3.0
IMPULSE_MAX_NS = 64.0
HALVINGS = 7
GOAL_RATIO = 2.0
CONFIGS = {"ours": ControllerConfig(),
           "reference": ControllerConfig(balance=False, step_adjustment=False)}
DIRECTIONS = {"forward": (1.0, 0.0, 0.0), "lateral": (0.0, 1.0, 0.0)}


def trial(who: str, direction: str, impulse_ns: float) -> dict:
    """Walk, push at mid right stance; whether the robot stands 3 s after the push."""
    loop = Loop(CONFIGS[who], BipedSimConfig(seed=0, **NOISE))
    loop.run(0.5)
    loop.ctrl.set_velocity(WALK_MPS, 0.0, 0.0)
    state: dict = {"onset": None, "push": None, "prev": "double"}
    force = [impulse_ns / PUSH_S * c for c in DIRECTIONS[direction]]

    def hook(lp: Loop, cmd) -> None:
        if state["push"] is None:
            if (state["onset"] is None and lp.t > PUSH_AFTER_S and cmd.support == "right"
                    and state["prev"] == "double"):
                state["onset"] = lp.t
            if state["onset"] is not None and lp.t >= state["onset"] + MID_STANCE_S - 1e-9:
                if impulse_ns > 0.0:
                    lp.sim.push(force, PUSH_S)
                state["push"] = lp.t
        state["prev"] = cmd.support

    def done(lp: Loop, cmd) -> bool:
        return state["push"] is not None and lp.t >= state["push"] + PUSH_S + SURVIVE_S

    loop.run(PUSH_AFTER_S + 2.0 + PUSH_S + SURVIVE_S, on_step=hook, stop=done)
    survived = loop.fallen_at is None and state["push"] is not None and done(loop, None)
    print(f"    {who:9s} {direction:7s} {impulse_ns:5.1f} N s: "
          f"{'survived' if survived else f'fell at {loop.fallen_at} s'}", flush=True)
    return {"impulse_ns": impulse_ns, "survived": survived, "push_at_s": state["push"],
            "fallen_at_s": loop.fallen_at}


def largest_survived(job: tuple[str, str]) -> dict:
    """Bisection of the largest impulse survived by ``who`` in ``direction``."""
    who, direction = job
    w0 = time.perf_counter()
    lo, hi = 0.0, IMPULSE_MAX_NS
    trials = [trial(who, direction, hi)]
    if trials[-1]["survived"]:
        lo = hi
    else:
        for _ in range(HALVINGS):
            mid = 0.5 * (lo + hi)
            trials.append(trial(who, direction, mid))
            lo, hi = (mid, hi) if trials[-1]["survived"] else (lo, mid)
    print(f"  {who:9s} {direction:7s}: largest impulse survived {lo:5.1f} N s "
          f"(falls at {hi:5.1f}; {len(trials)} trials, {time.perf_counter() - w0:.0f} s)",
          flush=True)
    return {"who": who, "direction": direction, "largest_ns": lo, "smallest_fall_ns": hi,
            "trials": trials}


def body(report: Report, args: argparse.Namespace) -> None:
    """Bisect ours and the reference per direction; ours must take twice the reference."""
    jobs = [(w, d) for d in DIRECTIONS for w in CONFIGS]
    print(f"{NAME}: bisecting the impulse for {len(jobs)} controller/direction pairs ...",
          flush=True)
    found = {(r["who"], r["direction"]): r for r in parallel(largest_survived, jobs)}
    for d in DIRECTIONS:
        ours, ref = found[("ours", d)]["largest_ns"], found[("reference", d)]["largest_ns"]
        report.add(f"{d} push: largest impulse survived [N s]", ours,
                   f">= {GOAL_RATIO:g} x reference", ours >= GOAL_RATIO * ref
                   and (ours > 0.0 or ref > 0.0), ref,
                   "same pattern without DCM feedback / step adjustment, this run",
                   reference_same_run=True)
    report.extra["bisections"] = list(found.values())
    report.extra["settings"] = {"walk_mps": WALK_MPS, "push_s": PUSH_S,
                                "push_at": "mid right single support after t = 2 s",
                                "survive_s": SURVIVE_S, "impulse_max_ns": IMPULSE_MAX_NS,
                                "halvings": HALVINGS, "noise": NOISE,
                                "directions": DIRECTIONS}


def main() -> int:
    """Run the benchmark, write the JSON."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    sys.exit(main())
