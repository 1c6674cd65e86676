"""Benchmark 9: the CNC load/unload job end to end on the MuJoCo arm, shaped vs plain.

Shaped + compensated against the same job unshaped and uncompensated, in one run.

Ours: ``config/arm_cnc_job.yaml`` (4 parts: tray -> vise -> machine -> outfeed) checked and
planned offline (``dg_motion.offline``), then executed in-process
(``dg_motion.execution.in_process_runner``: the job runner's sequencer and driver, the
1 kHz control loop and the MuJoCo arm with its flexible forearm in lockstep, no ROS): an
identification test move (modes from the tool accelerometer), the job *plain* (PD +
gravity with the arm's own model, unshaped: the reference) and the job *shaped* (EI
shapers of the identified modes, computed torque with the payload fed forward at each pick
and place). Both runs start from the same cell (reset between them).

Measured from the run (the analysis of ``dg demo arm``, ``dg_bringup.scenarios.arm_cell``):
residual tool vibration at every stop after a move (peak of the accelerometer minus its
mean, while the gripper closes), cycle time, tracking error, contact steps between the arm
and the cell, parts made. Goals (issue table): residual vibration >= 90 % lower than the
plain run's (peak over the job's stops, and mean); cycle time <= one period of the
dominant mode more than plain per shaped move; 0 collisions; every part made in both runs.

Run: ``python bench/motion_cnc_cell.py --json bench/results/motion_cnc_cell.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_bringup.scenarios.arm_cell import residual_peaks  # noqa: E402
from dg_motion.execution.control_loop import (  # noqa: E402
    ControlLoop,
    LoopConfig,
    controller_limits,
)
from dg_motion.execution.in_process_runner import InProcessDriver, RunRecord  # noqa: E402
from dg_motion.execution.job_driver import MOVE_END, MOVE_START, RUN_END, RUN_START  # noqa: E402
from dg_motion.execution.job_sequencer import JobSequencer, RunSpec  # noqa: E402
from dg_motion.offline.checks import check_job  # noqa: E402
from dg_motion.offline.job import load_job  # noqa: E402
from dg_motion.robots.paths import robot_file  # noqa: E402

NAME = "motion_cnc_cell"
ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "config" / "arm_cnc_job.yaml"
CONTROLLER = ROOT / "config" / "arm_controller.yaml"
SIM = ROOT / "config" / "arm_sim.yaml"
PARTS = 4
GOAL_REDUCTION = 0.90
MAX_SIM_S = 400.0


def _per_run(rec: RunRecord) -> dict[str, dict]:
    """Start/end, moves and the samples' summary of each run of the record."""
    a = rec.arrays()
    out: dict[str, dict] = {}
    starts: dict[tuple[str, str], float] = {}
    for t, kind, run, name in rec.events:
        if kind == RUN_START:
            out[run] = {"start_s": t, "end_s": None, "moves": []}
        elif kind == RUN_END and run in out:
            out[run]["end_s"] = t
        elif kind == MOVE_START:
            starts[(run, name)] = t
        elif kind == MOVE_END and run in out and (run, name) in starts:
            out[run]["moves"].append((starts.pop((run, name)), t, name))
    for r in out.values():
        t0, t1 = r["start_s"], r["end_s"] if r["end_s"] is not None else np.inf
        sel = (a["t_s"] >= t0) & (a["t_s"] <= t1)
        stops = residual_peaks(r["moves"], a["t_s"], a["accel"])
        r["peaks"] = np.array([p for _, _, p in stops])
        r["time_s"] = t1 - t0
        r["error_max_rad"] = float(a["error_max_rad"][sel].max())
        r["collision_steps"] = float(a["contact_steps"][sel].max()
                                     - a["contact_steps"][sel].min())
        r["parts_done"] = float(a["parts_done"][sel][-1])
        r["motion_moves"] = len(r["moves"])
    return out


def _run(report: Report, args: argparse.Namespace) -> None:
    params = yaml.safe_load(CONTROLLER.read_text())["/**"]["ros__parameters"]
    hw = yaml.safe_load(SIM.read_text())
    hw["cell"] = str((SIM.parent / hw["cell"]).resolve())
    job = load_job(JOB)
    check, planned = check_job(job)
    if planned is None:
        raise RuntimeError(f"the job fails its checks: {check.first_failure}")
    urdf = str(robot_file("ur5", "ur5.urdf"))
    limits = controller_limits(urdf, str(robot_file("ur5", "joint_limits.yaml")),
                               list(job.arm.names))
    loop = ControlLoop(LoopConfig(
        "dg_sim.arm.mujoco_system:MujocoSystem", hw, limits, law="pd_gravity",
        kp=params["kp"], kd=params["kd"], ki=params["ki"], robot_description=urdf,
        period_s=1.0 / params["loop_rate_hz"]))
    seq = JobSequencer(planned, [RunSpec("plain", False, False), RunSpec("shaped", True, True)],
                       limits)
    driver = InProcessDriver(loop, seq, plain_law="pd_gravity",
                             compensated_law="computed_torque",
                             goal_tolerance_rad=params["goal_tolerance_rad"],
                             path_tolerance_rad=params["path_tolerance_rad"])
    t0 = time.monotonic()
    rec = driver.run(MAX_SIM_S)
    wall = time.monotonic() - t0
    runs = _per_run(rec)
    plain, shaped = runs["plain"], runs["shaped"]
    mode = seq.mode
    print(f"job: {rec.text} ({'ok' if rec.success else 'FAILED'}), {wall:.0f} s wall; modes "
          + ", ".join(f"{f:.2f} Hz / {z:.3f}" for f, z, _ in mode.modes)
          + f"; shaper {seq.shaper.name} {seq.shaper.duration_s * 1e3:.0f} ms")
    for name, r in runs.items():
        print(f"  {name:7s} time {r['time_s']:.1f} s, residual peak {r['peaks'].max():.3f} "
              f"mean {r['peaks'].mean():.3f} m/s^2 over {len(r['peaks'])} stops, tracking "
              f"{r['error_max_rad'] * 1e3:.2f} mrad, contacts {r['collision_steps']:.0f}, "
              f"parts {r['parts_done']:.0f}")
    ref = "same job unshaped + PD gravity, this run"
    peak_red = 1.0 - shaped["peaks"].max() / plain["peaks"].max()
    mean_red = 1.0 - shaped["peaks"].mean() / plain["peaks"].mean()
    report.add("job completed (both runs)", float(rec.success), "== 1", rec.success,
               no_reference_reason="completion is absolute")
    report.add("residual vibration peak reduction", peak_red, f">= {GOAL_REDUCTION}",
               peak_red >= GOAL_REDUCTION, plain["peaks"].max(), ref + " (m/s^2)",
               reference_same_run=True)
    report.add("residual vibration mean reduction", mean_red, f">= {GOAL_REDUCTION}",
               mean_red >= GOAL_REDUCTION, plain["peaks"].mean(), ref + " (m/s^2)",
               reference_same_run=True)
    period = 1.0 / mode.frequency_hz
    per_move = (shaped["time_s"] - plain["time_s"]) / max(shaped["motion_moves"], 1)
    report.add("cycle time added per shaped move [s]", per_move,
               f"<= one period of the dominant mode ({period:.3f} s)", per_move <= period,
               plain["time_s"], ref + " (job time, s)", reference_same_run=True)
    report.add("cycle time shaped / plain", shaped["time_s"] / plain["time_s"], "report",
               True, plain["time_s"], ref + " (job time, s)", reference_same_run=True)
    report.add("tracking error max, shaped + compensated [mrad]",
               shaped["error_max_rad"] * 1e3, "report", True, plain["error_max_rad"] * 1e3,
               ref + " (mrad)", reference_same_run=True)
    collisions = plain["collision_steps"] + shaped["collision_steps"]
    report.add("collision steps (both runs)", collisions, "== 0", collisions == 0,
               no_reference_reason="the cell must never be touched")
    parts = min(plain["parts_done"], shaped["parts_done"])
    report.add("parts made per run (fewest)", parts, f"== {PARTS}", parts == PARTS,
               no_reference_reason="the job's own count")
    report.extra["modes"] = [list(m) for m in mode.modes]
    report.extra["shaper"] = {"name": seq.shaper.name, "times_s": seq.shaper.times_s,
                              "amplitudes": seq.shaper.amplitudes}
    report.extra["runs"] = {k: {"time_s": v["time_s"], "peaks_mps2": v["peaks"],
                                "error_max_rad": v["error_max_rad"]} for k, v in runs.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    return run_bench(NAME, _run, bench_parser(__doc__, NAME).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
