"""Analysis of the ``arm`` demo: cycle time, residual vibration, tracking, collisions, parts.

Everything is judged from the recording: the job runner's run and move events
(``/job/events``), the tool accelerometer (``/tool/accelerometer``), the controller's
reference and error (``/arm_controller/controller_state``) and the simulator's ground truth
(``/ground_truth/contact_steps``, ``/ground_truth/parts_done``).

Residual vibration is measured where the arm stands still after a move (a grip, a release,
the machine's cycle): from the move's end to the next move's start, at most
:data:`SETTLE_WINDOW_S`, windows shorter than :data:`MIN_WINDOW_S` skipped. In each window the
accelerometer's mean (gravity and the static pose) is removed and the largest norm of what
is left is the stop's residual vibration; a run's figure is its largest stop.

A run succeeds when it makes every part its job makes (:func:`parts_per_run`: the job file
the job runner ran, named in the run folder's ``parameters.yaml``), with no collision.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker
import numpy as np
import yaml

from dg_bringup.scenarios.recording import read_topics, topic_counts
from dg_motion.errors import MotionInputError
from dg_motion.offline.job import GRIPPER_OUTPUT, Job, StepKind, load_job

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first

#: dg_interfaces/JobEvent constants.
MOVE_START, MOVE_END, IO, RUN_START, RUN_END = 0, 1, 2, 3, 4
SUCCEEDED = 3  # dg_interfaces/MissionProgress.STATE_SUCCEEDED
#: Stretch after a move's end that counts as its residual vibration [s]: the time the
#: gripper's fingers take to close (the cell's grip_time_s, 0.3 s) less a margin, so the
#: window shows the vibration while the part is gripped or released, not the jolt of the
#: grasp itself.
SETTLE_WINDOW_S = 0.25
#: Shorter stops are skipped (the next move starts at once) [s].
MIN_WINDOW_S = 0.15
#: The job runner's node name (its ``job_file`` parameter names the job it ran).
JOB_RUNNER = "/job_runner"


def _series(msgs: list[tuple[float, Any]], fn: Any) -> np.ndarray:
    return np.array([fn(m) for _, m in msgs], dtype=float) if msgs else np.zeros((0,))


def _stamp(m: Any) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def parts_made(job: Job) -> int:
    """Parts one run of ``job`` makes: its releases of a part of the outfeed's type.

    A release is a gripper step that opens while the job holds a part of the cell's
    ``outfeed.part`` type (a finished part put down: what the simulator counts in
    ``parts_done``); what is held follows the job's ``payload`` steps.
    """
    outfeed = job.cell.locations.get("outfeed")
    if outfeed is None:
        return 0
    held, made = None, 0
    for step in job.steps:
        if step.kind is StepKind.PAYLOAD and step.payload is not None:
            held = step.payload.part
        elif (step.kind is StepKind.GRIPPER and step.io_name == GRIPPER_OUTPUT
              and step.io_value == 0.0 and held == outfeed.part):
            made += 1
    return made


def parts_per_run(run_dir: Path) -> int:
    """Parts each run must make: :func:`parts_made` of the job file the job runner ran.

    Raises ValueError when ``parameters.yaml`` names no job file or the job does not load.
    """
    params = yaml.safe_load((run_dir / "parameters.yaml").read_text()) or {}
    job_file = (params.get(JOB_RUNNER) or {}).get("ros__parameters", {}).get("job_file")
    if not isinstance(job_file, str) or not job_file:
        raise ValueError(f"parameters.yaml: no {JOB_RUNNER} job_file parameter")
    try:
        return parts_made(load_job(job_file))
    except MotionInputError as exc:
        raise ValueError(f"the job runner's job_file: {exc}") from None


def _runs(events: list[Any]) -> dict[str, dict[str, Any]]:
    """Per run: start/end time [s], control law, move (start, end, name) intervals."""
    runs: dict[str, dict[str, Any]] = {}
    starts: dict[tuple[str, int, str], float] = {}
    for e in events:
        t = _stamp(e)
        if e.event == RUN_START:
            runs[e.run] = {"start_s": t, "end_s": None, "law": e.name, "moves": []}
        elif e.event == RUN_END and e.run in runs:
            runs[e.run]["end_s"] = t
        elif e.event == MOVE_START:
            starts[(e.run, e.index, e.name)] = t
        elif e.event == MOVE_END and e.run in runs:
            t0 = starts.pop((e.run, e.index, e.name), None)
            if t0 is not None:
                runs[e.run]["moves"].append((t0, t, e.name))
    return runs


def residual_peaks(moves: list[tuple[float, float, str]], t: np.ndarray, acc: np.ndarray
                   ) -> list[tuple[str, float, float]]:
    """(move, end time, residual peak [m/s^2]) at each stop after a move (module docstring)."""
    out = []
    moves = sorted(moves)
    for k, (_, t_end, name) in enumerate(moves):
        t_next = moves[k + 1][0] if k + 1 < len(moves) else t_end + SETTLE_WINDOW_S
        w_end = min(t_end + SETTLE_WINDOW_S, t_next)
        if w_end - t_end < MIN_WINDOW_S:
            continue
        sel = (t > t_end) & (t <= w_end)
        if np.count_nonzero(sel) < 5:
            continue
        a = acc[sel] - acc[sel].mean(axis=0)
        out.append((name, t_end, float(np.linalg.norm(a, axis=1).max())))
    return out


def analyze(run_dir: Path) -> dict[str, Any]:
    """Metrics from ``recording.mcap``; writes ``arm_runs.png``."""
    mcap = run_dir / "recording.mcap"
    topics = ["/job/events", "/job/progress", "/tool/accelerometer",
              "/arm_controller/controller_state", "/ground_truth/contact_steps",
              "/ground_truth/parts_done"]
    msgs = read_topics(mcap, topics)
    events = [m for _, m in msgs.get("/job/events", [])]
    runs = _runs(events)
    progress = msgs.get("/job/progress", [])
    succeeded = any(m.state == SUCCEEDED for _, m in progress)

    imu = msgs.get("/tool/accelerometer", [])
    t_acc = _series(imu, _stamp)
    acc = np.array([(m.linear_acceleration.x, m.linear_acceleration.y,
                     m.linear_acceleration.z) for _, m in imu]).reshape(-1, 3)
    cs = msgs.get("/arm_controller/controller_state", [])
    t_cs = _series(cs, _stamp)
    err = np.array([np.max(np.abs(m.error.positions)) if len(m.error.positions) else np.nan
                    for _, m in cs])
    contacts = msgs.get("/ground_truth/contact_steps", [])
    t_c, n_c = np.array([t for t, _ in contacts]), _series(contacts, lambda m: m.data)
    parts = msgs.get("/ground_truth/parts_done", [])
    t_p = np.array([t for t, _ in parts])
    n_p = _series(parts, lambda m: m.data)

    per_run: dict[str, dict[str, Any]] = defaultdict(dict)
    for name, r in runs.items():
        t0, t1 = r["start_s"], r["end_s"] if r["end_s"] is not None else np.inf
        peaks = residual_peaks(r["moves"], t_acc, acc)
        in_run = (t_cs >= t0) & (t_cs <= t1)
        log_in = (t_c >= t0) & (t_c <= t1)
        p_in = (t_p >= t0) & (t_p <= t1)
        per_run[name] = {
            "job_time_s": (t1 - t0) if np.isfinite(t1) else None,
            "law": r["law"],
            "stops": peaks,
            "residual_peak_mps2": max((p for _, _, p in peaks), default=float("nan")),
            "residual_mean_mps2": float(np.mean([p for _, _, p in peaks])) if peaks
            else float("nan"),
            "tracking_error_max_rad": float(np.nanmax(err[in_run])) if in_run.any()
            else float("nan"),
            "collision_steps": int(n_c[log_in].max() - n_c[log_in].min()) if log_in.any()
            else 0,
            # at the run's end (a run starts from the previous run's cell until its reset)
            "parts_done": int(n_p[p_in][-1]) if p_in.any() else 0,
        }
    plain, shaped = per_run.get("plain"), per_run.get("shaped")
    metrics: dict[str, Any] = {"succeeded": False,
                               "recorded_topics": len(topic_counts(mcap)),
                               "collisions": int(n_c.max() - n_c.min()) if len(n_c) else 0}
    try:
        parts_expected: int | None = parts_per_run(run_dir)
        metrics["parts_per_run"] = parts_expected
    except ValueError as exc:  # the run cannot be judged: not a success, the rest still is
        parts_expected = None
        metrics["parts_per_run_error"] = str(exc)
    if shaped is not None:
        metrics.update(cycle_time_s=shaped["job_time_s"], parts_done=shaped["parts_done"],
                       tracking_error_max_rad=shaped["tracking_error_max_rad"],
                       residual_vibration_shaped_mps2=shaped["residual_peak_mps2"])
    if plain is not None:
        metrics.update(cycle_time_plain_s=plain["job_time_s"],
                       parts_done_plain=plain["parts_done"],
                       tracking_error_max_plain_rad=plain["tracking_error_max_rad"],
                       residual_vibration_plain_mps2=plain["residual_peak_mps2"])
    if plain is not None and shaped is not None and plain["residual_peak_mps2"] > 0:
        metrics["residual_vibration_reduction_ratio"] = float(
            1.0 - shaped["residual_peak_mps2"] / plain["residual_peak_mps2"])
        metrics["residual_vibration_mean_reduction_ratio"] = float(
            1.0 - shaped["residual_mean_mps2"] / plain["residual_mean_mps2"])
    metrics["succeeded"] = bool(
        succeeded and metrics["collisions"] == 0 and parts_expected is not None
        and all(r["parts_done"] == parts_expected for r in per_run.values()))
    _plot(run_dir / "arm_runs.png", per_run, runs, t_acc, acc, t_cs, err)
    return metrics


def _plot(path: Path, per_run: dict[str, dict[str, Any]], runs: dict[str, dict[str, Any]],
          t_acc: np.ndarray, acc: np.ndarray, t_cs: np.ndarray, err: np.ndarray) -> None:
    names = [n for n in ("plain", "shaped") if n in per_run]
    fig, axes = plt.subplots(3, max(len(names), 1), figsize=(7 * max(len(names), 1), 10),
                             squeeze=False, sharey="row")
    for col, name in enumerate(names):
        r, pr = runs[name], per_run[name]
        t0 = r["start_s"]
        t1 = r["end_s"] if r["end_s"] is not None else (t_acc[-1] if len(t_acc) else t0)
        sel = (t_acc >= t0) & (t_acc <= t1)
        ax = axes[0][col]
        if sel.any():
            a = acc[sel] - np.median(acc[sel], axis=0)
            ax.plot(t_acc[sel] - t0, np.linalg.norm(a, axis=1), lw=0.6, color="tab:blue")
        for _, t_end, peak in pr["stops"]:
            ax.plot(t_end - t0, peak, "v", color="tab:red", ms=4)
        ax.set(title=f"{name} ({pr['law']}): job {pr['job_time_s'] or float('nan'):.1f} s, "
                     f"peak residual {pr['residual_peak_mps2']:.2f} m/s²",
               xlabel="time in run [s]", ylabel="tool acceleration − median [m/s²]")
        ax.grid(alpha=0.3)
        ax = axes[1][col]
        stops = pr["stops"]
        ax.bar(range(len(stops)), [p for _, _, p in stops], color="tab:orange")
        ax.set(title="residual vibration at each stop (after the move ends)",
               xlabel="stop #", ylabel="peak [m/s²]")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3, axis="y")
        ax = axes[2][col]
        sel = (t_cs >= t0) & (t_cs <= t1)
        ax.plot(t_cs[sel] - t0, np.degrees(err[sel]) * 60.0, lw=0.6, color="tab:green")
        ax.set(title=f"tracking error (max {pr['tracking_error_max_rad'] * 1e3:.2f} mrad)",
               xlabel="time in run [s]", ylabel="max joint error [arcmin]")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
