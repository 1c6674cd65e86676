"""Analysis of the ``humanoid`` demo: falls, pushes survived, ZMP tracking, path, footsteps.

Judged from the recording, from the simulator's ground truth wherever it exists and never
with the controller's own thresholds:

* **Falls** from the true pelvis pose (``/humanoid_sim/ground_truth``): the pelvis below
  :data:`FALL_HEIGHT_RATIO` of its standing height or tilted beyond :data:`FALL_TILT_RAD`
  (the same judge as the simulator's ``fallen``, not the controller's fall detector, whose
  reports are counted separately as ``controller_fall_reports``).
* **Pushes** from the simulator's push events (``/humanoid_sim/push``: a non-zero wrench when
  a push starts, zero when it ends). A push is survived when no fall starts within
  :data:`SURVIVE_WINDOW_S` of its start, and the recording covers that window.
* **Measured ZMP** from the foot force/torque sensors (``/left_foot/wrench``,
  ``/right_foot/wrench``, sole frames) placed with the *true* sole poses: forward kinematics
  of the URDF from the true pelvis pose and ``/joint_states`` (Pinocchio), not the
  controller's leg odometry. Where that is not possible (no URDF, topics missing) the
  controller's own measured ZMP from ``/humanoid/walking_state`` is used and
  ``zmp_source`` says so. ``zmp_tracking_rms_m`` compares it with the controller's desired
  ZMP (pattern + balance feedback) while the controller walks.
* **Distance walked** is the length of the true pelvis path after a centred moving average
  over :data:`SWAY_WINDOW_S` (about one step pair), so that the lateral sway of the pelvis
  at each step (a few cm each way) is not counted as distance.
* **Goal error**: the true CoM's horizontal distance to the last goal at the end of the run
  (standing, the CoM is over the midpoint of the feet, where the goal puts them).
* **Footsteps taken**: touch-downs from the foot sensors' vertical force (hysteresis at
  :data:`CONTACT_ON_RATIO` / :data:`CONTACT_OFF_RATIO` of the body weight), placed with the
  true sole poses; compared with the steps the controller had planned for that foot in the
  :data:`PLAN_LOOKBACK_S` before the touch-down (``footstep_error_rms_m``).

Plots in the run folder: ``humanoid_zmp.png``, ``humanoid_com_dcm.png``,
``humanoid_footsteps.png``, ``humanoid_joints.png``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import matplotlib
import numpy as np
import yaml
from matplotlib.patches import Polygon as PolygonPatch

from dg_bringup.scenarios.recording import read_recording, topic_counts
from dg_common.geometry import wrap_angle

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first

SUCCEEDED, FAILED = 3, 4  # dg_interfaces/MissionProgress states
G_MPS2 = 9.81
#: The biped's leg joints in the controller's command order (dg_motion.humanoid.types).
LEG_JOINTS = tuple(f"{side}_{j}" for side in ("l", "r") for j in (
    "hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll"))
#: Fallen: pelvis below this fraction of its standing height, or tilted beyond 45 degrees.
FALL_HEIGHT_RATIO = 0.5
FALL_TILT_RAD = math.radians(45.0)
#: A push is survived when no fall starts within this long of its start [s]: a push that
#: topples the robot does so within about two steps (1.6 s at 0.8 s per step); 3 s leaves
#: margin for a slow fall after a failed recovery step.
SURVIVE_WINDOW_S = 3.0
#: Moving-average window for the walked distance [s] (one step pair at 0.8 s per step).
SWAY_WINDOW_S = 1.6
#: Foot contact hysteresis: on above 15 % of the body weight, off below 5 %.
CONTACT_ON_RATIO, CONTACT_OFF_RATIO = 0.15, 0.05
#: Contact for the ZMP: a foot counts when it carries at least this much [N].
ZMP_MIN_FZ_N = 10.0
#: Planned steps looked at before a touch-down [s] (a step takes 0.8 s; re-plans included).
PLAN_LOOKBACK_S = 1.5
#: The sole drawn in the plots [m] (box sole of the biped, 0.22 m x 0.12 m).
FOOT_LENGTH_M, FOOT_WIDTH_M = 0.22, 0.12
#: Modes in which the controller follows a walking pattern.
WALKING_MODES = ("walking", "stopping")
TOPICS = ["/humanoid/walking_state", "/humanoid_sim/ground_truth", "/humanoid_sim/com",
          "/humanoid_sim/push", "/left_foot/wrench", "/right_foot/wrench", "/joint_states",
          "/leg_position_controller/commands", "/mission_progress"]
MISSION_NODE, SIM_NODE = "/humanoid_mission", "/humanoid_sim"


class SoleKinematics(Protocol):
    """Sole poses from the floating base and the leg joints (the URDF's forward kinematics)."""

    def soles(self, base_pos: np.ndarray, base_quat_xyzw: np.ndarray, q_legs: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(p_left (3), R_left (3x3), p_right, R_right) in the world."""
        ...


class PinocchioSoles:
    """:class:`SoleKinematics` of a URDF with Pinocchio (free-flyer root at the pelvis)."""

    def __init__(self, urdf_path: str | Path, joint_names: Sequence[str] = LEG_JOINTS,
                 left: str = "l_sole", right: str = "r_sole") -> None:
        """Load the model; ValueError when a joint or sole frame is missing."""
        import pinocchio as pin  # noqa: PLC0415 - only the analysis needs it

        self._pin = pin
        self.model = pin.buildModelFromUrdf(str(urdf_path), pin.JointModelFreeFlyer())
        self.data = self.model.createData()
        self._idx = []
        for name in joint_names:
            if not self.model.existJointName(name):
                raise ValueError(f"{urdf_path}: no joint '{name}'")
            self._idx.append(self.model.joints[self.model.getJointId(name)].idx_q)
        self._frames = []
        for frame in (left, right):
            if not self.model.existFrame(frame):
                raise ValueError(f"{urdf_path}: no frame '{frame}'")
            self._frames.append(self.model.getFrameId(frame))

    def soles(self, base_pos: np.ndarray, base_quat_xyzw: np.ndarray, q_legs: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sole poses in the world (module :class:`SoleKinematics`)."""
        pin = self._pin
        q = pin.neutral(self.model)
        q[:3] = base_pos
        quat = np.asarray(base_quat_xyzw, dtype=float)
        q[3:7] = quat / np.linalg.norm(quat)
        q[self._idx] = q_legs
        pin.forwardKinematics(self.model, self.data, q)
        out = []
        for fid in self._frames:
            m = pin.updateFramePlacement(self.model, self.data, fid)
            out += [np.array(m.translation), np.array(m.rotation)]
        return out[0], out[1], out[2], out[3]


def rotation_from_quat_xyzw(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N,3,3) of quaternions (N,4) (x, y, z, w; normalised here)."""
    q = np.asarray(q, dtype=float).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    x, y, z, w = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=1)


def zmp_from_wrenches(soles: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                      min_fz_n: float = ZMP_MIN_FZ_N) -> np.ndarray | None:
    """ZMP (x, y) [m] of the feet in contact, or None when none carries ``min_fz_n``.

    ``soles``: per foot (position p (3), rotation R (3x3) of the sole frame in the world,
    wrench (fx, fy, fz, tx, ty, tz) that the ground exerts on the foot, in the sole frame
    about its origin). The wrenches are summed about the world origin (f = R f_s,
    tau = R tau_s + p x f) and the ZMP is the point of the plane at the loaded soles' mean
    height h where the horizontal moment vanishes: x = (h fx - tau_y) / fz,
    y = (tau_x + h fy) / fz.
    """
    f_sum, tau_sum, hz = np.zeros(3), np.zeros(3), 0.0
    for p, rot, w in soles:
        w = np.asarray(w, dtype=float)
        f = rot @ w[:3]
        if f[2] < min_fz_n:
            continue
        f_sum += f
        tau_sum += rot @ w[3:] + np.cross(p, f)
        hz += f[2] * p[2]
    if f_sum[2] <= 0.0:
        return None
    h = hz / f_sum[2]
    return np.array([(h * f_sum[0] - tau_sum[1]) / f_sum[2],
                     (tau_sum[0] + h * f_sum[1]) / f_sum[2]])


def fall_times(t: np.ndarray, z: np.ndarray, tilt_rad: np.ndarray, standing_z: float
               ) -> list[float]:
    """Times [s] at which the robot falls: entries into (pelvis z < ratio x standing or tilt)."""
    down = (z < FALL_HEIGHT_RATIO * standing_z) | (tilt_rad > FALL_TILT_RAD)
    starts = np.flatnonzero(down & ~np.concatenate([[False], down[:-1]]))
    return [float(t[i]) for i in starts]


def push_starts(t: np.ndarray, force: np.ndarray, min_force_n: float = 1e-6
                ) -> list[tuple[float, np.ndarray]]:
    """(start time [s], force (3) [N]) of each push: a non-zero event after a zero or none."""
    out: list[tuple[float, np.ndarray]] = []
    on = False
    for ti, f in zip(t, force, strict=True):
        nonzero = bool(np.linalg.norm(f) > min_force_n)
        if nonzero and not on:
            out.append((float(ti), np.asarray(f, dtype=float)))
        on = nonzero
    return out


def pushes_survived(push_t: Sequence[float], falls: Sequence[float], t_end: float,
                    window_s: float = SURVIVE_WINDOW_S) -> list[bool]:
    """Per push: no fall within ``window_s`` of its start and the recording covers it."""
    return [t0 + window_s <= t_end and not any(t0 <= tf <= t0 + window_s for tf in falls)
            and not any(tf < t0 for tf in falls) for t0 in push_t]


def smoothed_path_length(t: np.ndarray, xy: np.ndarray, window_s: float = SWAY_WINDOW_S
                         ) -> float:
    """Length [m] of the path ``xy`` (N,2) after a centred moving average over ``window_s``."""
    if len(t) < 2:
        return 0.0
    dt = float(np.median(np.diff(t)))
    n = max(1, round(window_s / dt)) if dt > 0 else 1
    if n >= len(t):
        return float(np.linalg.norm(xy[-1] - xy[0]))
    kernel = np.ones(n) / n
    sm = np.column_stack([np.convolve(xy[:, k], kernel, mode="valid") for k in range(2)])
    # the ends the window cannot centre on: straight to the first/last raw point
    pts = np.vstack([xy[:1], sm, xy[-1:]])
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def touchdowns(fz: np.ndarray, weight_n: float) -> list[int]:
    """Indices where a foot lands: fz rises above ON x weight after being below OFF x weight.

    A foot already loaded at the start has not landed (the initial stance).
    """
    on_th, off_th = CONTACT_ON_RATIO * weight_n, CONTACT_OFF_RATIO * weight_n
    out, contact = [], bool(len(fz)) and fz[0] > off_th
    for i, f in enumerate(fz):
        if contact and f < off_th:
            contact = False
        elif not contact and f > on_th:
            contact = True
            out.append(i)
    return out


def dcm_from_com(t: np.ndarray, com: np.ndarray, omega: float) -> np.ndarray:
    """Divergent component of motion xi = c + c_dot / omega (x, y), c_dot by differences."""
    if len(t) < 2:
        return com[:, :2].copy()
    vel = np.gradient(com[:, :2], t, axis=0)
    return com[:, :2] + vel / omega


@dataclass
class _Series:
    """Time series of one recorded quantity: stamps [s] (sorted) and rows."""

    t: np.ndarray
    v: np.ndarray

    @staticmethod
    def of(rows: list[tuple[float, Any]]) -> _Series:
        rows = sorted(rows, key=lambda r: r[0])
        return _Series(np.array([r[0] for r in rows], dtype=float),
                       np.array([r[1] for r in rows], dtype=float))

    def at(self, t: np.ndarray, tol_s: float = 0.0026) -> tuple[np.ndarray, np.ndarray]:
        """(index, ok) of the sample nearest each of ``t`` within ``tol_s``."""
        if len(self.t) == 0:
            return np.zeros(len(t), dtype=int), np.zeros(len(t), dtype=bool)
        i = np.clip(np.searchsorted(self.t, t), 1, len(self.t) - 1) if len(self.t) > 1 \
            else np.zeros(len(t), dtype=int)
        if len(self.t) > 1:
            left = np.abs(self.t[i - 1] - t) <= np.abs(self.t[i] - t)
            i = np.where(left, i - 1, i)
        return i, np.abs(self.t[i] - t) <= tol_s


def _stamp(m: Any) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def _pt(p: Any) -> tuple[float, float, float]:
    return (p.x, p.y, p.z)


def _wrench(m: Any) -> tuple[float, ...]:
    w = m.wrench
    return (w.force.x, w.force.y, w.force.z, w.torque.x, w.torque.y, w.torque.z)


def _goals(run_dir: Path) -> np.ndarray:
    """The mission's goals (N,3) from parameters.yaml (empty if not there)."""
    flat = _node_params(run_dir, MISSION_NODE).get("goals")
    if not flat or len(flat) % 3:
        return np.zeros((0, 3))
    return np.asarray(flat, dtype=float).reshape(-1, 3)


def _node_params(run_dir: Path, node: str) -> dict[str, Any]:
    """The resolved parameters of ``node`` in the run's parameters.yaml ({} if absent)."""
    path = run_dir / "parameters.yaml"
    params = yaml.safe_load(path.read_text()) if path.exists() else None
    return ((params or {}).get(node) or {}).get("ros__parameters", {}) or {}


def _default_kinematics(run_dir: Path) -> SoleKinematics | None:
    """Sole kinematics from the simulator's URDF (its urdf_path parameter, else dg_motion's)."""
    urdf = _node_params(run_dir, SIM_NODE).get("urdf_path")
    try:
        if not urdf:
            from dg_motion.robots.paths import robot_file  # noqa: PLC0415

            urdf = str(robot_file("biped", "biped.urdf"))
        return PinocchioSoles(urdf)
    except Exception:  # noqa: BLE001 - no model: the analysis falls back (zmp_source)
        return None


@dataclass
class Recording:
    """What the analysis needs from a run, as arrays (filled by :func:`load`)."""

    ws_t: np.ndarray                 #: walking state stamps [s]
    ws_mode: list[str]
    ws: dict[str, np.ndarray]        #: com, com_ref, zmp, zmp_ref, dcm, dcm_ref (N,2|3)
    ws_polygons: list[np.ndarray]    #: support polygon (K,2) per walking state
    ws_steps: list[list[tuple[str, float, float, float]]]   #: planned (side, x, y, yaw)
    truth: _Series                   #: pelvis x y z qx qy qz qw
    com: _Series                     #: true CoM x y z
    push: _Series                    #: push force x y z
    left: _Series                    #: left sole wrench (6)
    right: _Series                   #: right sole wrench (6)
    joints: _Series                  #: measured joint positions, LEG_JOINTS order
    cmd: _Series                     #: commanded joint positions (log time)
    progress: list[tuple[int, int, int, str]]   #: (state, completed, total, detail)


def load(mcap: Path) -> Recording:
    """Read the demo's topics from ``mcap`` into a :class:`Recording`."""
    recs = read_recording(mcap, TOPICS)

    def msgs(topic: str) -> list[Any]:
        return [r.msg for r in recs.get(topic, [])]

    ws = sorted(msgs("/humanoid/walking_state"), key=_stamp)
    fields = {k: np.array([_pt(getattr(m, k)) for m in ws], dtype=float).reshape(-1, 3)
              for k in ("com", "com_ref", "zmp", "zmp_ref", "dcm", "dcm_ref")}
    steps = [[("left" if s.side == 0 else "right", s.x, s.y, s.yaw) for s in m.footsteps]
             for m in ws]
    js_rows = []
    for m in msgs("/joint_states"):
        index = {n: i for i, n in enumerate(m.name)}
        if all(n in index for n in LEG_JOINTS) and len(m.position) == len(m.name):
            js_rows.append((_stamp(m), [m.position[index[n]] for n in LEG_JOINTS]))
    cmd_rows = [(r.log_time_ns * 1e-9, list(r.msg.data))
                for r in recs.get("/leg_position_controller/commands", [])
                if len(r.msg.data) == len(LEG_JOINTS)]
    return Recording(
        ws_t=np.array([_stamp(m) for m in ws], dtype=float),
        ws_mode=[m.mode for m in ws],
        ws=fields,
        ws_polygons=[np.array([(p.x, p.y) for p in m.support_polygon],
                              dtype=float).reshape(-1, 2) for m in ws],
        ws_steps=steps,
        truth=_Series.of([(_stamp(m), (*_pt(m.pose.pose.position),
                                       m.pose.pose.orientation.x, m.pose.pose.orientation.y,
                                       m.pose.pose.orientation.z, m.pose.pose.orientation.w))
                          for m in msgs("/humanoid_sim/ground_truth")]),
        com=_Series.of([(_stamp(m), _pt(m.point)) for m in msgs("/humanoid_sim/com")]),
        push=_Series.of([(_stamp(m), (m.wrench.force.x, m.wrench.force.y, m.wrench.force.z))
                         for m in msgs("/humanoid_sim/push")]),
        left=_Series.of([(_stamp(m), _wrench(m)) for m in msgs("/left_foot/wrench")]),
        right=_Series.of([(_stamp(m), _wrench(m)) for m in msgs("/right_foot/wrench")]),
        joints=_Series.of(js_rows),
        cmd=_Series.of(cmd_rows),
        progress=[(m.state, m.completed, m.total, m.detail) for m in msgs("/mission_progress")],
    )


def _sole_poses(rec: Recording, kin: SoleKinematics | None
                ) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]] | None]:
    """Stamps [s] and the true sole poses (pL, RL, pR, RR) at the joint-state stamps."""
    if kin is None or len(rec.joints.t) == 0 or len(rec.truth.t) == 0:
        return np.zeros(0), None
    i, ok = rec.truth.at(rec.joints.t)
    t = rec.joints.t[ok]
    poses = [kin.soles(rec.truth.v[k, :3], rec.truth.v[k, 3:7], q)
             for k, q in zip(i[ok], rec.joints.v[ok], strict=True)]
    return t, poses


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else float("nan")


def analyze(run_dir: Path, kinematics: SoleKinematics | None = None) -> dict[str, Any]:
    """Metrics from ``recording.mcap`` and ``parameters.yaml``; writes the four plots.

    ``kinematics`` places the soles (default: Pinocchio on the simulator's URDF).
    """
    mcap = run_dir / "recording.mcap"
    rec = load(mcap)
    kin = kinematics if kinematics is not None else _default_kinematics(run_dir)
    goals = _goals(run_dir)
    m: dict[str, Any] = {"recorded_topics": len(topic_counts(mcap))}

    # --- falls, from the true pelvis pose --------------------------------------------------
    tr = rec.truth
    t_end = float(tr.t[-1]) if len(tr.t) else 0.0
    if len(tr.t):
        rot = rotation_from_quat_xyzw(tr.v[:, 3:7])
        tilt = np.arccos(np.clip(rot[:, 2, 2], -1.0, 1.0))
        first = tr.t <= tr.t[0] + 0.5
        standing_z = float(np.median(tr.v[first, 2]))
        falls = fall_times(tr.t, tr.v[:, 2], tilt, standing_z)
    else:
        falls = []
    m["falls"] = len(falls)
    m["controller_fall_reports"] = sum(
        1 for a, b in zip(["", *rec.ws_mode], rec.ws_mode, strict=False)
        if b == "fallen" and a != "fallen")

    # --- pushes ----------------------------------------------------------------------------
    pushes = push_starts(rec.push.t, rec.push.v) if len(rec.push.t) else []
    survived = pushes_survived([p[0] for p in pushes], falls, t_end)
    m["pushes_total"] = len(pushes)
    # what the simulator was told to do: a run that ends before a push is not a success
    m["pushes_planned"] = len(_node_params(run_dir, SIM_NODE).get("push_times_s") or [])
    m["pushes_survived"] = int(sum(survived))

    # --- mission ---------------------------------------------------------------------------
    m["goals_total"] = len(goals)
    m["goals_reached"] = max((c for _, c, _, _ in rec.progress), default=0)
    mission_ok = any(s == SUCCEEDED for s, _, _, _ in rec.progress)
    m["mission_detail"] = rec.progress[-1][3] if rec.progress else ""

    # --- distance walked, goal error (truth) -----------------------------------------------
    m["distance_walked_m"] = smoothed_path_length(tr.t, tr.v[:, :2]) if len(tr.t) else 0.0
    end_xy = rec.com.v[-1, :2] if len(rec.com.t) else (tr.v[-1, :2] if len(tr.t) else None)
    if len(goals) and end_xy is not None:
        m["goal_error_m"] = float(np.hypot(*(end_xy - goals[-1, :2])))
    else:
        m["goal_error_m"] = None
    if len(goals) and len(tr.t):
        r_end = rotation_from_quat_xyzw(tr.v[-1:, 3:7])[0]
        yaw = math.atan2(r_end[1, 0], r_end[0, 0])
        m["goal_yaw_error_rad"] = abs(wrap_angle(yaw - goals[-1, 2]))

    # --- ZMP: measured (true sole poses) vs the controller's desired ------------------------
    t_sole, poses = _sole_poses(rec, kin)
    zmp_t, zmp_xy = np.zeros(0), np.zeros((0, 2))
    if poses is not None and len(rec.left.t) and len(rec.right.t):
        il, okl = rec.left.at(t_sole)
        ir, okr = rec.right.at(t_sole)
        rows_t, rows = [], []
        for k, (pl, rl, pr, rr) in enumerate(poses):
            if not (okl[k] and okr[k]):
                continue
            z = zmp_from_wrenches([(pl, rl, rec.left.v[il[k]]), (pr, rr, rec.right.v[ir[k]])])
            if z is not None:
                rows_t.append(t_sole[k])
                rows.append(z)
        zmp_t, zmp_xy = np.array(rows_t), np.array(rows).reshape(-1, 2)
        m["zmp_source"] = "foot wrenches at the true sole poses"
    else:
        m["zmp_source"] = "walking_state.zmp (controller's estimate)"
    walking = np.array([md in WALKING_MODES for md in rec.ws_mode], dtype=bool)
    ref = rec.ws["zmp_ref"][:, :2]
    if len(zmp_t):
        zs = _Series(zmp_t, zmp_xy)
        i, ok = zs.at(rec.ws_t)
        sel = walking & ok
        err = np.linalg.norm(zs.v[i[sel]] - ref[sel], axis=1)
    else:
        zs = _Series(rec.ws_t, rec.ws["zmp"][:, :2])
        err = np.linalg.norm(rec.ws["zmp"][walking, :2] - ref[walking], axis=1)
    m["zmp_tracking_rms_m"] = _rms(err)
    m["zmp_tracking_max_m"] = float(err.max()) if len(err) else float("nan")
    # the RMS is dominated by the spikes of touch-down and lift-off (a few samples of up to
    # 0.4 m while the foot's force changes within a sample); the median is the tracking
    m["zmp_tracking_median_m"] = float(np.median(err)) if len(err) else float("nan")
    ctrl_err = np.linalg.norm(rec.ws["zmp"][walking, :2] - ref[walking], axis=1)
    m["zmp_tracking_rms_controller_m"] = _rms(ctrl_err)
    m["walking_time_s"] = float(np.count_nonzero(walking) * np.median(np.diff(rec.ws_t))) \
        if len(rec.ws_t) > 1 else 0.0

    # --- footsteps taken (truth) vs planned ------------------------------------------------
    taken = _footsteps_taken(rec, t_sole, poses)
    m["footsteps_taken"] = len(taken)
    errs = _footstep_errors(rec, taken)
    m["footstep_error_rms_m"] = _rms(np.array(errs))

    # --- joint tracking --------------------------------------------------------------------
    jt = _joint_tracking(rec)
    m["joint_tracking_rms_rad"] = _rms(jt.ravel()) if jt.size else float("nan")
    m["joint_tracking_max_rad"] = float(np.abs(jt).max()) if jt.size else float("nan")

    m["succeeded"] = bool(mission_ok and not falls and len(pushes) >= m["pushes_planned"]
                          and m["pushes_survived"] == len(pushes))

    push_marks = [(t, f, _xy_at(tr, t)) for t, f in pushes]
    _plot_zmp(run_dir / "humanoid_zmp.png", rec, zs, walking, push_marks, m)
    _plot_com_dcm(run_dir / "humanoid_com_dcm.png", rec, push_marks, falls)
    _plot_footsteps(run_dir / "humanoid_footsteps.png", rec, taken, goals, push_marks, m)
    _plot_joints(run_dir / "humanoid_joints.png", jt)
    return m


def _xy_at(s: _Series, t: float) -> np.ndarray | None:
    if not len(s.t):
        return None
    i, _ = s.at(np.array([t]), tol_s=math.inf)
    return s.v[i[0], :2]


def _footsteps_taken(rec: Recording, t_sole: np.ndarray,
                     poses: list[tuple[np.ndarray, ...]] | None
                     ) -> list[tuple[float, str, float, float, float]]:
    """(t, side, x, y, yaw) of each touch-down, the sole pose 0.1 s after it (settled)."""
    if poses is None or not len(t_sole) or not len(rec.left.t) or not len(rec.right.t):
        return []
    # body weight: both feet's load over the first 0.5 s (standing in double support)
    weight = sum(float(np.median(s.v[s.t <= s.t[0] + 0.5, 2])) for s in (rec.left, rec.right))
    if weight <= 0.0:
        return []
    out = []
    for side, s, pk in (("left", rec.left, 0), ("right", rec.right, 2)):
        for i in touchdowns(s.v[:, 2], weight):
            k = min(int(np.searchsorted(t_sole, s.t[i] + 0.1)), len(t_sole) - 1)
            p, rot = poses[k][pk], poses[k][pk + 1]
            out.append((float(s.t[i]), side, float(p[0]), float(p[1]),
                        math.atan2(rot[1, 0], rot[0, 0])))
    return sorted(out)


def _footstep_errors(rec: Recording, taken: list[tuple[float, str, float, float, float]]
                     ) -> list[float]:
    """Per touch-down: distance to the nearest step planned for that foot shortly before."""
    out = []
    for t, side, x, y, _ in taken:
        lo, hi = np.searchsorted(rec.ws_t, [t - PLAN_LOOKBACK_S, t])
        best = math.inf
        for k in range(lo, hi):
            for s, px, py, _ in rec.ws_steps[k]:
                if s == side:
                    best = min(best, math.hypot(px - x, py - y))
        if math.isfinite(best):
            out.append(best)
    return out


def _joint_tracking(rec: Recording) -> np.ndarray:
    """Measured minus commanded joint position (N,12) [rad].

    Each joint state is compared with the last command recorded strictly before it (the one
    the servos were holding).
    """
    if not len(rec.cmd.t) or not len(rec.joints.t):
        return np.zeros((0, len(LEG_JOINTS)))
    k = np.searchsorted(rec.cmd.t, rec.joints.t, side="left") - 1
    ok = k >= 0
    return rec.joints.v[ok] - rec.cmd.v[k[ok]]


# --- plots --------------------------------------------------------------------------------
def _mark_pushes(ax: Any, push_marks: list[Any], falls: Sequence[float] = ()) -> None:
    for t, _, _ in push_marks:
        ax.axvline(t, color="tab:purple", lw=1.0, ls="--")
    for t in falls:
        ax.axvline(t, color="k", lw=1.5)


def _push_arrows(ax: Any, push_marks: list[Any]) -> None:
    for k, (_, f, xy) in enumerate(push_marks):
        if xy is None or np.linalg.norm(f[:2]) == 0:
            continue
        d = f[:2] / np.linalg.norm(f[:2]) * 0.3
        ax.annotate("", xy=xy, xytext=xy - d, arrowprops={"arrowstyle": "->",
                                                           "color": "tab:purple", "lw": 2})
        ax.text(*(xy - d), f"push {k + 1}\n{np.linalg.norm(f):.0f} N", color="tab:purple",
                fontsize=7)


def _plot_zmp(path: Path, rec: Recording, zmp: _Series, walking: np.ndarray,
              push_marks: list[Any], m: dict[str, Any]) -> None:
    fig = plt.figure(figsize=(14, 8))
    ax = fig.add_subplot(1, 2, 1)
    last = None
    for poly in rec.ws_polygons:
        if len(poly) < 3 or (last is not None and last.shape == poly.shape
                             and np.allclose(last, poly, atol=0.01)):
            continue
        ax.add_patch(PolygonPatch(poly, closed=True, fill=False, ec="0.6", lw=0.5))
        last = poly
    ax.plot(rec.ws["zmp_ref"][:, 0], rec.ws["zmp_ref"][:, 1], color="tab:orange", lw=1,
            label="desired ZMP (controller)")
    ax.plot(zmp.v[:, 0], zmp.v[:, 1], color="tab:blue", lw=0.6, alpha=0.8,
            label=f"measured ZMP ({m['zmp_source']})")
    _push_arrows(ax, push_marks)
    ax.set(xlabel="x [m]", ylabel="y [m]", title="ZMP and support polygons (grey), top view")
    ax.axis("equal")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ext = np.array([(p[:, 0].min(), p[:, 0].max(), p[:, 1].min(), p[:, 1].max())
                    if len(p) >= 3 else (np.nan,) * 4 for p in rec.ws_polygons]).reshape(-1, 4)
    for row, (axis, name) in enumerate(((0, "x"), (1, "y"))):
        a = fig.add_subplot(2, 2, 2 * row + 2)
        if len(rec.ws_t):
            a.fill_between(rec.ws_t, ext[:, 2 * axis], ext[:, 2 * axis + 1], color="0.85",
                           step="mid", label="support polygon extent")
            a.plot(rec.ws_t, rec.ws["zmp_ref"][:, axis], color="tab:orange", lw=1,
                   label="desired")
        a.plot(zmp.t, zmp.v[:, axis], color="tab:blue", lw=0.6, label="measured")
        _mark_pushes(a, push_marks)
        a.set(xlabel="time [s]", ylabel=f"ZMP {name} [m]")
        a.grid(alpha=0.3)
        if row == 0:
            a.set_title(f"ZMP tracking RMS {m['zmp_tracking_rms_m'] * 1e3:.1f} mm while "
                        "walking (pushes: dashed)")
            a.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_com_dcm(path: Path, rec: Recording, push_marks: list[Any],
                  falls: Sequence[float]) -> None:
    fig, axes = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    com = rec.com
    walking_z = com.v[:, 2] if len(com.t) else np.zeros(0)
    omega = math.sqrt(G_MPS2 / float(np.median(walking_z))) if len(walking_z) and \
        np.median(walking_z) > 0 else None
    dcm_true = dcm_from_com(com.t, com.v, omega) if omega is not None else None
    for axis, ax in enumerate(axes):
        name = "xy"[axis]
        if len(com.t):
            ax.plot(com.t, com.v[:, axis], color="k", lw=1.2, label="CoM (truth)")
        if dcm_true is not None:
            ax.plot(com.t, dcm_true[:, axis], color="tab:red", lw=0.6, alpha=0.7,
                    label="DCM (truth)")
        for key, style, label in (("com", "tab:blue", "CoM (estimated)"),
                                  ("com_ref", "tab:cyan", "CoM (pattern)"),
                                  ("dcm", "tab:orange", "DCM (estimated)"),
                                  ("dcm_ref", "tab:olive", "DCM (reference)")):
            if len(rec.ws_t):
                ax.plot(rec.ws_t, rec.ws[key][:, axis], color=style, lw=0.8, label=label)
        _mark_pushes(ax, push_marks, falls)
        ax.set(ylabel=f"{name} [m]")
        ax.grid(alpha=0.3)
    axes[0].set_title("CoM and DCM (pushes dashed, falls solid black)")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, ncol=3, loc="best")
    axes[1].set_xlabel("time [s]")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _sole_outline(x: float, y: float, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    corners = np.array([(1, 1), (-1, 1), (-1, -1), (1, -1)]) * (FOOT_LENGTH_M / 2,
                                                                  FOOT_WIDTH_M / 2)
    return np.array([x, y]) + corners @ np.array([[c, s], [-s, c]])


def _plot_footsteps(path: Path, rec: Recording, taken: list[tuple[float, str, float, float,
                                                                   float]],
                    goals: np.ndarray, push_marks: list[Any], m: dict[str, Any]) -> None:
    fig, ax = plt.subplots(figsize=(10, 9))
    colors = {"left": "tab:blue", "right": "tab:red"}
    planned = {(s, round(x, 2), round(y, 2), round(yaw, 2))
               for steps in rec.ws_steps for s, x, y, yaw in steps}
    for s, x, y, yaw in sorted(planned):
        ax.add_patch(PolygonPatch(_sole_outline(x, y, yaw), closed=True, fill=False,
                                  ec=colors[s], lw=0.5, ls=":"))
    for _, s, x, y, yaw in taken:
        ax.add_patch(PolygonPatch(_sole_outline(x, y, yaw), closed=True, fc=colors[s],
                                  alpha=0.35, ec=colors[s]))
    if len(rec.truth.t):
        ax.plot(rec.truth.v[:, 0], rec.truth.v[:, 1], color="k", lw=0.8,
                label="pelvis (truth)")
    if len(goals):
        ax.plot(goals[:, 0], goals[:, 1], "*", color="tab:green", ms=14, label="goals")
        for k, (gx, gy, gyaw) in enumerate(goals):
            ax.annotate(f"goal {k + 1}", (gx, gy), xytext=(gx + 0.25 * math.cos(gyaw),
                                                           gy + 0.25 * math.sin(gyaw)),
                        arrowprops={"arrowstyle": "<-", "color": "tab:green"}, fontsize=8)
    _push_arrows(ax, push_marks)
    ax.plot([], [], ls=":", color="0.3", label="planned steps (outline)")
    ax.plot([], [], "s", color="0.5", alpha=0.4, label="steps taken (truth)")
    err = m.get("goal_error_m")
    ax.set(xlabel="x [m]", ylabel="y [m]",
           title=f"Footsteps: {m['footsteps_taken']} taken (left blue, right red), "
                 f"{m['distance_walked_m']:.2f} m walked, goal error "
                 f"{err if err is None else round(err, 3)} m, falls {m['falls']}")
    ax.axis("equal")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_joints(path: Path, jt: np.ndarray) -> None:
    fig, ax = plt.subplots(figsize=(11, 4.5))
    x = np.arange(len(LEG_JOINTS))
    if jt.size:
        ax.bar(x - 0.2, np.degrees(np.sqrt(np.mean(jt ** 2, axis=0))), 0.4, label="RMS")
        ax.bar(x + 0.2, np.degrees(np.abs(jt).max(axis=0)), 0.4, label="max")
    ax.set_xticks(x, LEG_JOINTS, rotation=45, ha="right")
    ax.set(ylabel="measured - commanded [deg]",
           title="Joint tracking (servo lag and load), whole run")
    ax.grid(alpha=0.3, axis="y")
    if jt.size:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
