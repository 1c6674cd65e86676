"""Benchmark 3: 1 km survey lawnmower at 2 m/s with wind and a 0.3 m/s cross current.

Pure cores in lockstep (no ROS): :class:`dg_autonomy.control.usv_pilot.UsvPilot` (integral
LOS + heading/speed control + differential-thrust allocation, exactly what ``usv_navigator``
runs, default settings) drives :class:`dg_sim.usv.dynamics.UsvModel` of the VRX WAM-V at
20 Hz, with :mod:`dg_sim.usv.disturbances` wind (5 m/s mean toward 30 deg, gust gain 1 m/s,
tau 2 s, VRX ``USVWind`` formulation) and a uniform 0.3 m/s current toward north, i.e.
straight across the east-west survey lanes.

Pattern: 5 lanes of 200 m (1000 m of survey line) 20 m apart, alternating direction, joined
by a 40 m run-out, a 20 m cross leg and a 40 m run-in (two 90 deg corners), as survey lines
are run: the boat turns outside the surveyed area and is settled on the line before it
starts logging. The judge uses the TRUE position only, never a controller's own segment
index or thresholds: every sample with 0 <= x <= 200 m (the surveyed area; turns, run-outs
and run-ins all lie outside it) counts for the nearest lane, its cross-track error is the
north offset from that lane. A mission is completed when every lane was run from its first
to its last metre (true track) and the controller reported the end of the path within
1500 s. The worst error on the turns (outside the area, off the nearest segment) is
reported for information.

Estimator (both controllers): the boat's EKF, :class:`_usv_common.EkfObserver` -
``usv_localization``'s filter fed by ``usv_sim``'s GNSS (5 Hz, 0.5 m white noise plus a
0.3 m Gauss-Markov bias) and IMU with their default noise. The controllers see only its
estimate.

Reference (same plant, disturbances, estimator, sensor noise seeds, heading/speed autopilot,
thrust allocation and corner speed schedule as ours; only the guidance law differs): the
textbook lookahead-based LOS steering law, implemented plainly below (:class:`LookaheadLos`;
Fossen 2011, *Handbook of Marine Craft Hydrodynamics and Motion Control*, §10.3.2): desired
course ``chi_d = alpha_k - atan(e / Delta)`` toward the active segment (angle ``alpha_k``,
cross-track ``e``, lookahead ``Delta``), in course form (``psi_d = chi_d - beta`` with the
estimated sideslip ``beta = atan2(v, u)``) or heading form (``psi_d = chi_d``), switching
waypoints on Fossen's circle of acceptance of radius ``R = 2 L`` (two hull lengths, the
guideline in the same section). Its best settings: ``Delta`` and the form tuned on seeds
``TUNE_SEEDS``, disjoint from the evaluated ``SEEDS``, by the lowest mean lane cross-track
RMS among completed missions (``python bench/usv_lawnmower.py --tune`` prints the grid):
``REF_LOOKAHEAD_M`` and ``REF_COURSE_FORM`` below hold the result.

Pass: on every one of the five evaluated seeds our lane cross-track RMS is at most the
reference's, and so is its mean; our worst lane error over the seeds is at most the
reference's worst; ours completes every mission.

Run: ``python bench/usv_lawnmower.py --json bench/results/usv_lawnmower.json``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402
from _usv_common import EkfObserver, Environment, run_lockstep  # noqa: E402

from dg_autonomy.control.heading_speed import HeadingSpeedController, VesselModel  # noqa: E402
from dg_autonomy.control.thrust_allocation import ThrusterConfig, allocate  # noqa: E402
from dg_autonomy.control.usv_pilot import (  # noqa: E402
    PilotCommand,
    PilotConfig,
    PilotMode,
    UsvPilot,
)
from dg_autonomy.guidance.line_of_sight import (  # noqa: E402
    LosResult,
    LosStatus,
    along_cross,
    corner_speed_limit,
    validate_path,
)
from dg_common.geometry import wrap_angle  # noqa: E402
from dg_sim.usv.disturbances import CurrentField, Wind  # noqa: E402
from dg_sim.usv.dynamics import WAMV, UsvState  # noqa: E402

DT_S = 0.05
DURATION_S = 1500.0
SPEED_MPS = 2.0
LANES, LANE_LENGTH_M, SPACING_M, RUN_M = 5, 200.0, 20.0, 40.0
WIND = {"mean_speed_mps": 5.0, "direction_rad": math.radians(30.0), "gust_gain": 1.0,
        "gust_time_constant_s": 2.0}
CURRENT_MPS, CURRENT_DIR_RAD = 0.3, math.pi / 2
SEEDS = (1, 2, 3, 4, 5)
TUNE_SEEDS = (101, 102)
#: Reference acceptance radius: two hull lengths (Fossen 2011, §10.3.2 guideline).
REF_ACCEPTANCE_M = 2.0 * WAMV.length_m
#: Tuning grid of the reference (``--tune``): lookahead [m] x {course form, heading form}.
TUNE_LOOKAHEADS_M = (3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0)
#: Tuned on TUNE_SEEDS (``python bench/usv_lawnmower.py --tune``): mean lane RMS 0.46 m at
#: Delta 20 m in course form (15 m: 0.47, 30 m: 0.50, 10 m: 0.59); the heading form's best is
#: 0.80 m at 3 m (its steady offset under the cross current grows with Delta).
REF_LOOKAHEAD_M = 20.0
REF_COURSE_FORM = True


class LookaheadLos:
    """Textbook lookahead-based LOS steering over a polyline (Fossen 2011, §10.3.2).

    1. Switch to the next waypoint once inside its circle of acceptance (radius
       ``acceptance_m``); the last waypoint inside its circle ends the path.
    2. Cross-track error to the active segment (angle ``alpha``), positive left (ENU).
    3. Desired course ``chi_d = alpha - atan(e / lookahead_m)``; desired heading
       ``chi_d - atan2(v, u)`` in course form, ``chi_d`` in heading form.
    """

    def __init__(self, path_xy: np.ndarray, lookahead_m: float, acceptance_m: float,
                 course_form: bool) -> None:
        """Follow ``path_xy`` (N x 2) from its first segment."""
        self.path = validate_path(path_xy)
        self.lookahead_m, self.acceptance_m = lookahead_m, acceptance_m
        self.course_form = course_form
        self.k = 0

    def step(self, x: float, y: float, u: float, v: float) -> LosResult:
        """Desired heading at the estimated pose and body velocity over ground."""
        p = self.path
        last = len(p) - 2
        while self.k < last and math.hypot(x - p[self.k + 1][0],
                                           y - p[self.k + 1][1]) <= self.acceptance_m:
            self.k += 1
        a, b = p[self.k], p[self.k + 1]
        alpha = math.atan2(b[1] - a[1], b[0] - a[0])
        s, e = along_cross(x, y, a, alpha)
        chi_d = alpha - math.atan(e / self.lookahead_m)
        psi_d = wrap_angle(chi_d - math.atan2(v, u)) if self.course_form else chi_d
        finished = self.k == last and math.hypot(x - b[0], y - b[1]) <= self.acceptance_m
        turn = 0.0
        if self.k < last:
            c = p[self.k + 2]
            turn = wrap_angle(math.atan2(c[1] - b[1], c[0] - b[0]) - alpha)
        left = float(np.hypot(*(b - a))) - s
        rest = float(np.sum(np.hypot(*np.diff(p[self.k + 1:], axis=0).T)))
        return LosResult(psi_d, self.k, e, left + rest, finished,
                         LosStatus.FINISHED if finished else LosStatus.WORKING,
                         along_track_m=s, segment_left_m=left, path_angle_rad=alpha,
                         next_turn_rad=turn)


def lawnmower() -> np.ndarray:
    """Path points: per lane a run-in start, the lane's two ends and a run-out end."""
    pts: list[tuple[float, float]] = []
    for i in range(LANES):
        y = i * SPACING_M
        sign = 1.0 if i % 2 == 0 else -1.0
        x0, x1 = (0.0, LANE_LENGTH_M) if sign > 0 else (LANE_LENGTH_M, 0.0)
        pts += [(x0 - sign * RUN_M, y), (x0, y), (x1, y), (x1 + sign * RUN_M, y)]
    return np.array(pts)


def distance_to_path(x: np.ndarray, y: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Distance [m] of each point to the nearest segment of the polyline ``path``."""
    p = np.stack([x, y], axis=1)[:, None, :]
    a, b = path[None, :-1], path[None, 1:]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.sum(ab * ab, axis=2), 0.0, 1.0)
    return np.min(np.linalg.norm(p - (a + t[..., None] * ab), axis=2), axis=1)


def ours_controller(path: np.ndarray):
    """Our navigator's pilot (default settings), stopping at the end of the path."""
    pilot = UsvPilot(VesselModel.from_hull(WAMV), ThrusterConfig.from_hull(WAMV),
                     replace(PilotConfig(), hold_at_path_end=False))
    pilot.set_command(PilotCommand.create(PilotMode.FOLLOW_PATH, path, SPEED_MPS))

    def controller(_t: float, s: UsvState, _model: object) -> tuple[float, float] | None:
        out = pilot.step(s.x_m, s.y_m, s.psi_rad, s.u_mps, s.v_mps, s.r_radps, DT_S)
        return None if out.finished else (out.left_n, out.right_n)
    return controller


def reference_controller(path: np.ndarray, lookahead_m: float, course_form: bool):
    """:class:`LookaheadLos` on the pilot's own autopilot, allocation and speed schedule."""
    cfg = PilotConfig()
    los = LookaheadLos(path, lookahead_m, REF_ACCEPTANCE_M, course_form)
    autopilot = HeadingSpeedController(VesselModel.from_hull(WAMV), cfg.heading)
    thrusters = ThrusterConfig.from_hull(WAMV)
    saturated = [False]

    def controller(_t: float, s: UsvState, _model: object) -> tuple[float, float] | None:
        res = los.step(s.x_m, s.y_m, s.u_mps, s.v_mps)
        if res.finished:
            return None
        speed = corner_speed_limit(res, SPEED_MPS, cfg.turn_speed_mps, cfg.corner_decel_mps2,
                                   cfg.corner_threshold_rad)
        speed *= max(0.0, 1.0 - abs(wrap_angle(res.heading_rad - s.psi_rad))
                     / cfg.turn_first_rad)
        out = autopilot.step(s.psi_rad, s.r_radps, s.u_mps, res.heading_rad, speed, DT_S,
                             saturated[0])
        left, right, saturated[0] = allocate(out.tau_x_n, out.tau_n_nm, thrusters)
        return left, right
    return controller


def run(make_controller, seed: int) -> dict[str, float]:
    """One mission of ``make_controller(path)``; lane statistics from the true track [m]."""
    path = lawnmower()
    env = Environment(wind=Wind(**WIND, seed=seed, hull=WAMV),
                      current=CurrentField(CURRENT_MPS, CURRENT_DIR_RAD))
    start = path[0] - np.array([10.0, 0.0])
    observer = EkfObserver(seed + 1)
    trace = run_lockstep(WAMV, UsvState(start[0], start[1], 0.0, SPEED_MPS, 0.0, 0.0),
                         make_controller(path), duration_s=DURATION_S, dt_s=DT_S, env=env,
                         observer=observer)
    x, y = trace.x_m, trace.y_m
    in_area = (x >= 0.0) & (x <= LANE_LENGTH_M)
    lane = np.clip(np.round(y / SPACING_M), 0, LANES - 1)
    xte = np.abs(y - lane * SPACING_M)[in_area]
    spans = [(x[in_area & (lane == j)].min(initial=np.inf),
              x[in_area & (lane == j)].max(initial=-np.inf)) for j in range(LANES)]
    all_lanes = all(lo <= 1.0 and hi >= LANE_LENGTH_M - 1.0 for lo, hi in spans)
    return {"rms": float(np.sqrt(np.mean(xte ** 2))), "max": float(xte.max()),
            "turn_max": float(np.max(distance_to_path(x[~in_area], y[~in_area],
                                                      np.vstack([start, path])), initial=0.0)),
            "completed": bool(trace.stopped_early and all_lanes),
            "time_s": float(trace.t_s[-1]),
            "ekf_rms_m": observer.position_error_rms_m()}


def tune() -> None:
    """Run the reference's grid on TUNE_SEEDS and print it with the best setting."""
    best = None
    print(f"{'lookahead_m':>11s} {'form':>7s} {'mean RMS [m]':>13s} {'completed':>9s}")
    for lookahead in TUNE_LOOKAHEADS_M:
        for course in (True, False):
            res = [run(lambda p, d=lookahead, c=course: reference_controller(p, d, c), s)
                   for s in TUNE_SEEDS]
            rms = float(np.mean([r["rms"] for r in res]))
            done = all(r["completed"] for r in res)
            form = "course" if course else "heading"
            print(f"{lookahead:11.1f} {form:>7s} {rms:13.4f} {str(done):>9s}", flush=True)
            if done and (best is None or rms < best[0]):
                best = (rms, lookahead, form)
    print("best (mean RMS, lookahead_m, form):", best)


def body(report: Report, _args: object) -> None:
    """Ours and the tuned textbook reference on every seed; compare per seed."""
    ours = [run(ours_controller, s) for s in SEEDS]
    ref = [run(lambda p: reference_controller(p, REF_LOOKAHEAD_M, REF_COURSE_FORM), s)
           for s in SEEDS]
    form = "course" if REF_COURSE_FORM else "heading"
    src = f"textbook LOS (Fossen 2011), {form} form, Delta {REF_LOOKAHEAD_M:g} m, R 2 L"
    n = len(SEEDS)
    for seed, o, r in zip(SEEDS, ours, ref, strict=True):
        report.add(f"seed {seed}: lane cross-track RMS [m]", o["rms"], "<= reference",
                   o["rms"] <= r["rms"], r["rms"], src, reference_same_run=True)
    o_rms, r_rms = float(np.mean([r["rms"] for r in ours])), float(np.mean([r["rms"] for r in ref]))
    report.add(f"lane cross-track RMS, mean of {n} seeds [m]", o_rms, "<= reference",
               o_rms <= r_rms, r_rms, src, reference_same_run=True)
    o_max, r_max = max(r["max"] for r in ours), max(r["max"] for r in ref)
    report.add(f"lane cross-track max, worst of {n} seeds [m]", o_max, "<= reference",
               o_max <= r_max, r_max, src, reference_same_run=True)
    report.add("missions completed", sum(r["completed"] for r in ours), f"all {n}",
               all(r["completed"] for r in ours), sum(r["completed"] for r in ref), src,
               reference_same_run=True)
    report.add("turns: cross-track max [m] (info)", max(r["turn_max"] for r in ours),
               "reported only (outside the survey area)", True,
               max(r["turn_max"] for r in ref), src, reference_same_run=True)
    report.add("mission time, mean [s] (info)", float(np.mean([r["time_s"] for r in ours])),
               "reported only", True, float(np.mean([r["time_s"] for r in ref])), src,
               reference_same_run=True)
    report.add("EKF position error RMS [m] (info)",
               float(np.mean([r["ekf_rms_m"] for r in ours])), "reported only", True,
               float(np.mean([r["ekf_rms_m"] for r in ref])), "the same estimator under the "
               "reference", reference_same_run=True)
    report.extra["reference_settings"] = {"lookahead_m": REF_LOOKAHEAD_M, "form": form,
                                          "acceptance_radius_m": REF_ACCEPTANCE_M,
                                          "tuned_on_seeds": TUNE_SEEDS}
    report.extra["per_seed"] = [{"seed": s, "ours": o, "reference": r}
                                for s, o, r in zip(SEEDS, ours, ref, strict=True)]


def main() -> int:
    """Run the benchmark (or, with --tune, only print the reference's tuning grid)."""
    ap = bench_parser(__doc__, "usv_lawnmower")
    ap.add_argument("--tune", action="store_true",
                    help="print the reference's tuning grid on TUNE_SEEDS (no JSON, no rows)")
    args = ap.parse_args()
    if args.tune:
        tune()
        return 0
    return run_bench("usv_lawnmower", body, args)


if __name__ == "__main__":
    raise SystemExit(main())
