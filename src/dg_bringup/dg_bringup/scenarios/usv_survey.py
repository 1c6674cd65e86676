"""Analysis of the ``usv_survey`` demo: coverage, collisions, encounters, samples, return home.

Everything is computed from the recording (ground truth of the boat and of the other
vessels, the mission's own topics) and the mission file the executive ran; nothing is taken
from the autonomy's own claims except the encounter log it published, which is checked
against the true closest approach.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import yaml
from scipy.interpolate import griddata
from shapely.geometry import LineString, Point
from shapely.ops import unary_union

from dg_autonomy.mission.mission_file import load_mission
from dg_bringup.scenarios.recording import read_topics, topic_counts

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first

SUCCEEDED, FAILED = 3, 4  # dg_interfaces/MissionProgress states
#: Hull-to-hull distance [m] below which two vessels count as colliding (WAM-V 4.9 m long).
COLLISION_DISTANCE_M = 5.0
#: The boat counts as home within this distance [m] of the home point when DONE.
HOME_RADIUS_M = 5.0


def _true_traffic(msgs: dict[str, list]) -> dict[str, np.ndarray]:
    """Per vessel id: (t, x, y) rows from the simulator's ground-truth traffic topic."""
    tracks: dict[str, list[tuple[float, float, float]]] = {}
    for t, arr in msgs.get("/traffic/ground_truth", []):
        for tgt in arr.targets:
            tracks.setdefault(tgt.id, []).append((t, tgt.x_m, tgt.y_m))
    return {k: np.array(v) for k, v in tracks.items()}


def _closest_approach(own: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Minimum distance [m] between two (t, x, y) tracks and its time, on own's time base."""
    ox = np.interp(own[:, 0], other[:, 0], other[:, 1], left=np.nan, right=np.nan)
    oy = np.interp(own[:, 0], other[:, 0], other[:, 2], left=np.nan, right=np.nan)
    d = np.hypot(own[:, 1] - ox, own[:, 2] - oy)
    if np.all(np.isnan(d)):
        return float("inf"), float("nan")
    i = int(np.nanargmin(d))
    return float(d[i]), float(own[i, 0])


def analyze(run_dir: Path) -> dict[str, Any]:
    """Compute metrics from the run folder; write plots, the encounter log and samples."""
    params = yaml.safe_load((run_dir / "parameters.yaml").read_text())
    mission = load_mission(params["/mission_executive"]["ros__parameters"]["mission_file"])
    mcap = run_dir / "recording.mcap"
    msgs = read_topics(mcap, ["/wamv/ground_truth/odometry", "/traffic/ground_truth",
                              "/mission_progress", "/collision_avoidance/encounters",
                              "/mission/samples", "/mission/plan"])
    own = np.array([(t, m.pose.pose.position.x, m.pose.pose.position.y)
                    for t, m in msgs.get("/wamv/ground_truth/odometry", [])]).reshape(-1, 3)
    progress = msgs.get("/mission_progress", [])
    t_done = next((t for t, m in progress if m.state == SUCCEEDED), None)
    failed = any(m.state == FAILED for _, m in progress)
    t_start = own[0, 0] if len(own) else 0.0

    # Coverage of the coverable water (area shrunk by the shore margin), by the swath.
    water = mission.water
    coverable = water.buffer(-mission.shore_margin_m)
    swept = LineString(own[:, 1:]).buffer(mission.swath_m / 2.0) if len(own) > 1 else Point()
    coverage = swept.intersection(coverable).area / coverable.area if coverable.area else 0.0

    # Safety: other vessels (true tracks) and land (islands, outside the reservoir shore =
    # the geofence; the survey area is only the part of the water to be surveyed).
    traffic = _true_traffic(msgs)
    cpas = {vid: _closest_approach(own, tr) for vid, tr in traffic.items()}
    collisions = sum(1 for d, _ in cpas.values() if d < COLLISION_DISTANCE_M)
    land = unary_union([*mission.islands]).union(
        mission.geofence.envelope.buffer(1.0).difference(mission.geofence))
    on_land = np.array([land.contains(Point(x, y)) for _, x, y in own], dtype=int)
    groundings = int(np.sum(np.diff(np.r_[0, on_land]) == 1))
    fence_breaches = int(np.sum(np.diff(np.r_[0, [not mission.geofence.contains(Point(x, y))
                                                   for _, x, y in own]]) == 1))

    # Encounter log: what the autonomy decided, with the true CPA per vessel.
    log: dict[str, dict[str, Any]] = {}
    for t, e in msgs.get("/collision_avoidance/encounters", []):
        entry = log.setdefault(e.target_id, {"target_id": e.target_id, "first_seen_s": t,
                                             "decisions": []})
        entry["decisions"].append({"t_s": round(t, 2), "situation": e.situation,
                                   "rule": e.rule, "action": e.action,
                                   "predicted_cpa_m": round(e.cpa_m, 2),
                                   "tcpa_s": round(e.tcpa_s, 1)})
    for vid, (d, t) in cpas.items():
        log.setdefault(vid, {"target_id": vid, "decisions": []})
        log[vid]["true_cpa_m"] = round(d, 2)
        log[vid]["true_cpa_time_s"] = round(t, 2)
    (run_dir / "encounters.json").write_text(json.dumps(list(log.values()), indent=2) + "\n")
    give_way = sum(1 for e in log.values() for d in e["decisions"]
                   if d["situation"] in ("head_on", "crossing_give_way", "overtaking")
                   and d["action"].startswith(("turn_starboard", "slow")))

    samples = [(m.sample_id, m.x_m, m.y_m, m.temperature_c, m.dissolved_oxygen_mgl,
                m.turbidity_ntu) for _, m in msgs.get("/mission/samples", [])]
    (run_dir / "samples.csv").write_text(
        "sample_id,x_m,y_m,temperature_c,dissolved_oxygen_mgl,turbidity_ntu\n"
        + "".join(",".join(str(v) for v in s) + "\n" for s in samples))
    # Distance to home when the mission reported DONE (afterwards the boat may drift).
    t_home = t_done if t_done is not None else own[-1, 0]
    hx = float(np.interp(t_home, own[:, 0], own[:, 1]))
    hy = float(np.interp(t_home, own[:, 0], own[:, 2]))
    home_d = float(np.hypot(hx - mission.home_xy[0], hy - mission.home_xy[1]))

    plan = msgs.get("/mission/plan", [])
    plan_xy = (np.array([(p.pose.position.x, p.pose.position.y) for p in plan[-1][1].poses])
               if plan else np.zeros((0, 2)))
    metrics = {
        "succeeded": t_done is not None and not failed,
        "completion_time_s": (t_done - t_start) if t_done is not None else None,
        "coverage_ratio": round(float(coverage), 4),
        "collisions": collisions,
        "groundings": groundings,
        "geofence_breaches": fence_breaches,
        "min_vessel_distance_m": min((d for d, _ in cpas.values()), default=float("inf")),
        "vessels_encountered": len(traffic),
        "give_way_manoeuvres": give_way,
        "samples_taken": len(samples),
        "samples_planned": len(mission.samples),
        "returned_home": bool(t_done is not None and home_d <= HOME_RADIUS_M),
        "distance_to_home_at_done_m": round(home_d, 2),
        "track_length_m": float(np.linalg.norm(np.diff(own[:, 1:], axis=0), axis=1).sum()),
        "recorded_topics": len(topic_counts(mcap)),
    }
    _plot_track(run_dir / "track_map.png", mission, own, traffic, plan_xy, samples, log)
    _plot_coverage(run_dir / "coverage_map.png", mission, coverable, swept, coverage)
    _plot_water_quality(run_dir / "water_quality.png", mission, samples)
    return metrics


def _outline(ax: Any, mission: Any) -> None:
    for poly, style in ([mission.geofence, dict(color="tab:red", ls=":",
                                                label="geofence (reservoir shore)")],
                        [mission.outline, dict(color="saddlebrown", label="survey area")]):
        x, y = poly.exterior.xy
        ax.plot(x, y, **style)
    for i, isl in enumerate(mission.islands):
        x, y = isl.exterior.xy
        ax.fill(x, y, color="darkkhaki", label="island" if i == 0 else None)
    ax.plot(*mission.home_xy, "k^", ms=9, label="home")
    ax.set(xlabel="east [m]", ylabel="north [m]")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)


def _plot_track(path: Path, mission: Any, own: np.ndarray, traffic: dict[str, np.ndarray],
                plan_xy: np.ndarray, samples: list, log: dict[str, Any]) -> None:
    fig, ax = plt.subplots(figsize=(11, 8))
    _outline(ax, mission)
    if len(plan_xy):
        ax.plot(plan_xy[:, 0], plan_xy[:, 1], "--", color="0.6", lw=0.8, label="plan")
    ax.plot(own[:, 1], own[:, 2], color="tab:blue", lw=1.3, label="survey boat")
    for vid, tr in traffic.items():
        line, = ax.plot(tr[:, 1], tr[:, 2], lw=1.0, alpha=0.8,
                        label=f"vessel {vid} (CPA {log[vid]['true_cpa_m']:.0f} m)")
        ax.plot(tr[-1, 1], tr[-1, 2], ">", color=line.get_color())
    if samples:
        s = np.array([[x, y] for _, x, y, *_ in samples])
        ax.plot(s[:, 0], s[:, 1], "o", mfc="none", mec="tab:green", ms=9, label="samples")
    ax.set_title("Survey track over the reservoir")
    ax.legend(loc="upper left", fontsize=7, bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _plot_coverage(path: Path, mission: Any, coverable: Any, swept: Any,
                   coverage: float) -> None:
    fig, ax = plt.subplots(figsize=(10, 7))
    _outline(ax, mission)
    covered = swept.intersection(coverable)
    missed = coverable.difference(swept)
    for geom, color, label in ((covered, "tab:green", "covered"), (missed, "tab:red", "missed")):
        parts = getattr(geom, "geoms", [geom])
        for i, g in enumerate(p for p in parts if p.geom_type == "Polygon" and not p.is_empty):
            x, y = g.exterior.xy
            ax.fill(x, y, color=color, alpha=0.45, label=label if i == 0 else None)
    ax.set_title(f"Coverage of the surveyable water: {100 * coverage:.2f} %")
    ax.legend(loc="upper left", fontsize=8, bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _plot_water_quality(path: Path, mission: Any, samples: list) -> None:
    names = ("temperature [°C]", "dissolved oxygen [mg/l]", "turbidity [NTU]")
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    minx, miny, maxx, maxy = unary_union([mission.outline]).bounds
    gx, gy = np.meshgrid(np.linspace(minx, maxx, 120), np.linspace(miny, maxy, 90))
    inside = np.vectorize(lambda x, y: mission.water.contains(Point(x, y)))(gx, gy)
    for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
        _outline(ax, mission)
        if len(samples) >= 3:
            pts = np.array([[s[1], s[2]] for s in samples])
            vals = np.array([s[3 + k] for s in samples])
            grid = griddata(pts, vals, (gx, gy), method="linear")
            near = griddata(pts, vals, (gx, gy), method="nearest")
            grid = np.where(np.isnan(grid), near, grid)
            grid[~inside] = np.nan
            im = ax.pcolormesh(gx, gy, grid, shading="auto", cmap="viridis")
            fig.colorbar(im, ax=ax, shrink=0.8)
            ax.plot(pts[:, 0], pts[:, 1], "k.", ms=6)
        ax.set_title(name)
    fig.suptitle(f"Water quality interpolated from {len(samples)} samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
