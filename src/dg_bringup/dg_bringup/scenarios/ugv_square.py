"""Analysis of the ``ugv_square`` demo: path following metrics and plots from the recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import yaml

from dg_bringup.scenarios.recording import read_topics, topic_counts

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first

SUCCEEDED, RUNNING = 3, 1  # dg_interfaces/MissionProgress states


def distance_to_polyline(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Shortest distance [m] of each point (N×2) to a polyline (M×2, M ≥ 2)."""
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    ab_len2 = np.maximum((ab ** 2).sum(axis=1), 1e-12)
    ap = points[:, None, :] - a[None, :, :]
    t = np.clip((ap * ab[None]).sum(axis=2) / ab_len2[None], 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - closest, axis=2).min(axis=1)


def analyze(run_dir: Path) -> dict[str, Any]:
    """Compute metrics from ``recording.mcap`` + ``parameters.yaml``; write ``path.png``."""
    params = yaml.safe_load((run_dir / "parameters.yaml").read_text())
    follower = params["/waypoint_follower"]["ros__parameters"]
    vehicle = params["/ground_vehicle"]["ros__parameters"]
    wps = np.asarray(follower["waypoints"], dtype=float).reshape(-1, 2)
    start = np.array([vehicle["initial_x_m"], vehicle["initial_y_m"]])
    plan = np.vstack([start, wps])

    mcap = run_dir / "recording.mcap"
    msgs = read_topics(mcap, ["/ground_truth/odom", "/mission_progress"])
    progress = msgs.get("/mission_progress", [])
    t_run = next((t for t, m in progress if m.state == RUNNING), None)
    t_done = next((t for t, m in progress if m.state == SUCCEEDED), None)
    reached = max((m.completed for _, m in progress), default=0)

    track = np.array([(t, m.pose.pose.position.x, m.pose.pose.position.y)
                      for t, m in msgs.get("/ground_truth/odom", [])]).reshape(-1, 3)
    t_end = t_done if t_done is not None else (track[-1, 0] if len(track) else 0.0)
    mask = (track[:, 0] >= (t_run or 0.0)) & (track[:, 0] <= t_end)
    xte = distance_to_polyline(track[mask, 1:], plan) if mask.any() else np.array([np.nan])
    steps = np.diff(track[mask, 1:], axis=0)

    metrics = {
        "succeeded": t_done is not None,
        "waypoints_total": len(wps),
        "waypoints_reached": int(reached),
        "completion_time_s": (t_done - t_run) if (t_done and t_run is not None) else None,
        "cross_track_rms_m": float(np.sqrt(np.mean(xte ** 2))),
        "cross_track_max_m": float(np.max(xte)),
        "path_length_m": float(np.linalg.norm(steps, axis=1).sum()),
        "recorded_topics": len(topic_counts(mcap)),
        "recorded_messages": int(sum(topic_counts(mcap).values())),
    }
    _plot(run_dir / "path.png", plan, track[mask], xte, metrics)
    return metrics


def _plot(path: Path, plan: np.ndarray, track: np.ndarray, xte: np.ndarray,
          metrics: dict[str, Any]) -> None:
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5.5),
                                  gridspec_kw={"width_ratios": [1.2, 1]})
    ax.plot(plan[:, 0], plan[:, 1], "--", color="0.5", label="planned path")
    ax.plot(plan[1:, 0], plan[1:, 1], "s", color="tab:orange", label="waypoints")
    ax.plot(track[:, 1], track[:, 2], color="tab:blue", label="vehicle (ground truth)")
    ax.plot(plan[0, 0], plan[0, 1], "o", color="k", label="start")
    ax.set(xlabel="x (east) [m]", ylabel="y (north) [m]", title="Track (ground truth) and plan")
    ax.axis("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if len(track):
        ax2.plot(track[:, 0] - track[0, 0], xte, color="tab:red")
    ax2.set(xlabel="time since start [s]", ylabel="distance to planned path [m]",
            title=f"Cross-track error (RMS {metrics['cross_track_rms_m']:.3f} m, "
                  f"max {metrics['cross_track_max_m']:.3f} m)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
