"""Benchmark: push recovery of the biped, ours against the pattern without feedback.

The MuJoCo biped (``bench/_humanoid_loop.py``, sensor noise seed 0, flat ground) stands
0.5 s, then either walks forward at a commanded speed or keeps standing. The torso is pushed
for 0.1 s with a constant force (impulse = force x 0.1 s), forward (+x) or laterally (+y):

- walking: at the middle of the first right-foot single support that starts after t = 2 s
  (0.25 s into its 0.5 s); +y is toward the swinging left foot (the side a step can catch);
- standing: at t = 2.25 s, both feet on the ground.

A trial is survived when the simulator's fall flag (pelvis below half its standing height
or tilted beyond 45 deg) stays down for 3 s after the push ends.

- Ours: ``WalkingController(ControllerConfig())``: DCM feedback, CoM admittance, foot
  damping and hip strategy (step adjustment is off by default: see ``ControllerConfig``).
  Both configurations land with the same late-contact search (it is no balance feedback).
- Reference, same run, same robot, same pattern and push: ``ControllerConfig(balance=False,
  step_adjustment=False)``, the walking pattern (ZMP preview control) played open loop.

A push survived only says something about push recovery when the robot also survives the
same window without a push, so the benchmark first runs every configuration unpushed
(impulse 0, otherwise the same trial, the window extended by 3 s so that a gait that falls
by itself just after the window does not count as walking) walking at each of
``WALK_CANDIDATES_MPS`` and standing. The walking comparison is made at the slowest
candidate speed at which both configurations walk unpushed; standing is a second scenario.
For each scenario where both survive unpushed, the largest impulse survived is found by
bisection on [0, 64] N s (7 halvings: 0.5 N s) per direction and configuration (it assumes
survival is monotonic in the impulse; every trial is in the JSON), and the goal per
direction is ours >= 2 x the reference's largest survived impulse.

A scenario in which a configuration falls unpushed gets one row instead: the sim time until
which each configuration stayed upright without a push (window + margin). It is no push
comparison and passes only on ours staying up to the end (it cannot depend on a reference
that falls by itself).

Run: ``python bench/humanoid_push.py --json bench/results/humanoid_push.json`` (a few
minutes on 2 cores).
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
STAND_FIRST_S = 0.5
PUSH_S = 0.1
#: Walking speeds screened unpushed [m/s]: stepping in place with a tiny forward velocity,
#: slow, the original 0.2 m/s, faster. The comparison uses the slowest both can walk.
WALK_CANDIDATES_MPS = (0.01, 0.1, 0.2, 0.3)
PUSH_AFTER_S = 2.0          #: walking: the first right single support starting after this
MID_STANCE_S = 0.25         #: half of the default 0.5 s single support
STAND_PUSH_AT_S = PUSH_AFTER_S + MID_STANCE_S   #: standing: the push time
SURVIVE_S = 3.0
#: The unpushed runs go on this long past the push window's end: a gait that falls by
#: itself just after the window does not walk, and its "survived" pushes mean nothing.
UNPUSHED_MARGIN_S = 3.0
IMPULSE_MAX_NS = 64.0
HALVINGS = 7
GOAL_RATIO = 2.0
CONFIGS = {"ours": ControllerConfig(),
           "reference": ControllerConfig(balance=False, step_adjustment=False)}
DIRECTIONS = {"forward": (1.0, 0.0, 0.0), "lateral": (0.0, 1.0, 0.0)}
REF_SOURCE = "same pattern without DCM feedback / step adjustment, this run"


def scenario_name(walk_mps: float | None) -> str:
    """``"walk 0.3 m/s"`` or ``"stand"``."""
    return "stand" if walk_mps is None else f"walk {walk_mps:g} m/s"


def trial(who: str, walk_mps: float | None, direction: str, impulse_ns: float,
          margin_s: float = 0.0) -> dict:
    """Walk at ``walk_mps`` (None: stand), push; whether the robot stands 3 s after the push.

    ``impulse_ns = 0`` is the unpushed run over the same window; ``margin_s`` extends the
    window past its end (3 s after the push).
    """
    loop = Loop(CONFIGS[who], BipedSimConfig(seed=0, **NOISE))
    loop.run(STAND_FIRST_S)
    if walk_mps is not None:
        loop.ctrl.set_velocity(walk_mps, 0.0, 0.0)
    state: dict = {"onset": None, "push": None, "prev": "double"}
    force = [impulse_ns / PUSH_S * c for c in DIRECTIONS[direction]]

    def push_due(lp: Loop, cmd) -> bool:
        if walk_mps is None:
            return lp.t >= STAND_PUSH_AT_S - 1e-9
        if (state["onset"] is None and lp.t > PUSH_AFTER_S and cmd.support == "right"
                and state["prev"] == "double"):
            state["onset"] = lp.t
        return state["onset"] is not None and lp.t >= state["onset"] + MID_STANCE_S - 1e-9

    def hook(lp: Loop, cmd) -> None:
        if state["push"] is None and push_due(lp, cmd):
            if impulse_ns > 0.0:
                lp.sim.push(force, PUSH_S)
            state["push"] = lp.t
        state["prev"] = cmd.support

    def done(lp: Loop, cmd) -> bool:
        return (state["push"] is not None
                and lp.t >= state["push"] + PUSH_S + SURVIVE_S + margin_s)

    loop.run(PUSH_AFTER_S + 2.0 + PUSH_S + SURVIVE_S + margin_s, on_step=hook, stop=done)
    survived = loop.fallen_at is None and state["push"] is not None and done(loop, None)
    label = "unpushed" if impulse_ns == 0.0 else f"{direction:7s} {impulse_ns:5.1f} N s"
    print(f"    {scenario_name(walk_mps):13s} {who:9s} {label}: "
          f"{'survived' if survived else f'fell at {loop.fallen_at} s'}", flush=True)
    window_end = (state["push"] + PUSH_S + SURVIVE_S + margin_s
                  if state["push"] is not None else None)
    return {"impulse_ns": impulse_ns, "survived": survived, "push_at_s": state["push"],
            "fallen_at_s": loop.fallen_at, "window_end_s": window_end,
            "upright_until_s": loop.fallen_at if loop.fallen_at is not None else loop.t}


def unpushed(job: tuple[str, float | None]) -> dict:
    """The unpushed run of ``who`` in one scenario: impulse 0, the window of a push + margin."""
    who, walk_mps = job
    return {"who": who, "walk_mps": walk_mps,
            **trial(who, walk_mps, "forward", 0.0, UNPUSHED_MARGIN_S)}


def largest_survived(job: tuple[str, float | None, str]) -> dict:
    """Bisection of the largest impulse survived (impulse 0 is known to be survived)."""
    who, walk_mps, direction = job
    w0 = time.perf_counter()
    lo, hi = 0.0, IMPULSE_MAX_NS
    trials = [trial(who, walk_mps, direction, hi)]
    if trials[-1]["survived"]:
        lo = hi
    else:
        for _ in range(HALVINGS):
            mid = 0.5 * (lo + hi)
            trials.append(trial(who, walk_mps, direction, mid))
            lo, hi = (mid, hi) if trials[-1]["survived"] else (lo, mid)
    print(f"  {scenario_name(walk_mps):13s} {who:9s} {direction:7s}: largest impulse "
          f"survived {lo:5.1f} N s (falls at {hi:5.1f}; {len(trials)} trials, "
          f"{time.perf_counter() - w0:.0f} s)", flush=True)
    return {"who": who, "walk_mps": walk_mps, "direction": direction, "largest_ns": lo,
            "smallest_fall_ns": hi, "trials": trials}


def body(report: Report, args: argparse.Namespace) -> None:
    """Screen unpushed; bisect where both survive; ours must take twice the reference."""
    scenarios: list[float | None] = [*WALK_CANDIDATES_MPS, None]
    jobs = [(w, s) for s in scenarios for w in CONFIGS]
    print(f"{NAME}: {len(jobs)} unpushed runs (each configuration, each scenario) ...",
          flush=True)
    base = {(r["who"], r["walk_mps"]): r for r in parallel(unpushed, jobs)}

    def both_ok(s: float | None) -> bool:
        return all(base[(w, s)]["survived"] for w in CONFIGS)

    walk = next((v for v in WALK_CANDIDATES_MPS if both_ok(v)), None)
    compared: list[float | None] = ([walk] if walk is not None else []) + (
        [None] if both_ok(None) else [])
    print(f"{NAME}: walking comparison at "
          f"{'none (no speed both walk unpushed)' if walk is None else f'{walk:g} m/s'}; "
          f"standing comparison {'yes' if None in compared else 'no'}", flush=True)

    for s in scenarios:
        if both_ok(s):
            continue
        ours, ref = base[("ours", s)], base[("reference", s)]
        ends = [base[(w, s)]["window_end_s"] for w in CONFIGS if base[(w, s)]["survived"]]
        window = f"the window end at {max(ends):.2f} s" if ends else "the window end"
        note = "no push comparison: " + ", ".join(
            f"{w} falls unpushed at {base[(w, s)]['fallen_at_s']:.2f} s"
            for w in CONFIGS if not base[(w, s)]["survived"])
        report.add(f"{scenario_name(s)}, no push: upright until [s]", ours["upright_until_s"],
                   f"upright to {window} ({note})", ours["survived"],
                   ref["upright_until_s"], REF_SOURCE, reference_same_run=True)

    jobs3 = [(w, s, d) for s in compared for d in DIRECTIONS for w in CONFIGS]
    print(f"{NAME}: bisecting the impulse for {len(jobs3)} scenario/direction/"
          f"configuration triples ...", flush=True)
    found = {(r["who"], r["walk_mps"], r["direction"]): r
             for r in parallel(largest_survived, jobs3)}
    for s in compared:
        for d in DIRECTIONS:
            ours = found[("ours", s, d)]["largest_ns"]
            ref = found[("reference", s, d)]["largest_ns"]
            report.add(f"{scenario_name(s)}, {d} push: largest impulse survived [N s]",
                       ours, f">= {GOAL_RATIO:g} x reference (both survive unpushed)",
                       ours >= GOAL_RATIO * ref and (ours > 0.0 or ref > 0.0), ref,
                       REF_SOURCE, reference_same_run=True)
    report.extra["unpushed"] = list(base.values())
    report.extra["bisections"] = list(found.values())
    report.extra["settings"] = {
        "walk_candidates_mps": WALK_CANDIDATES_MPS, "walk_compared_mps": walk,
        "stand_compared": None in compared, "push_s": PUSH_S,
        "push_at_walking": "mid right single support after t = 2 s",
        "push_at_standing_s": STAND_PUSH_AT_S, "survive_s": SURVIVE_S,
        "unpushed_margin_s": UNPUSHED_MARGIN_S,
        "impulse_max_ns": IMPULSE_MAX_NS, "halvings": HALVINGS, "noise": NOISE,
        "directions": DIRECTIONS}


def main() -> int:
    """Run the benchmark, write the JSON."""
    args = bench_parser(__doc__, NAME).parse_args()
    return run_bench(NAME, body, args)


if __name__ == "__main__":
    sys.exit(main())
