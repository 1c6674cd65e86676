"""Node ``mission_executive``: survey mission, fail-safes and persisted progress.

A plain node (it moves nothing itself: ``usv_navigator`` executes its commands). It loads the
mission file (``mission_file``, required; an invalid file ends the process with exit code 2
and a message naming the field), plans the coverage and the transits, and on a timer on the
ROS clock (``update_rate_hz``; sim time works) feeds the fail-safe monitor and the executive.

Topics (relative names; remap as needed):

* ``odometry/filtered`` (nav_msgs/Odometry, sub, best effort): pose in ``frame_id``; the twist
  is in the child frame (REP-105) and rotated into the map frame for the geofence. Rejected:
  wrong frame, NaN/Inf, stale stamp (``odom_max_age_s``).
* ``navigator/status`` (dg_interfaces/NavigatorStatus, sub, best effort): ``finished`` for the
  current ``plan_id`` completes a transit/lane/return or starts a sample's dwell.
* ``operator/heartbeat`` (std_msgs/Header, sub): operator link, timed on receipt.
* ``wamv/sensors/gps/gps/fix`` (sensor_msgs/NavSatFix, sub): a fix with status >= STATUS_FIX
  and finite lat/lon feeds the GNSS fail-safe.
* ``battery`` (sensor_msgs/BatteryState, sub): ``percentage`` (0..1; NaN: charge/capacity).
* ``water_quality`` (dg_interfaces/WaterSample, sub): readings averaged during a dwell.
* ``navigator/command`` (dg_interfaces/GuidanceCommand, pub, transient local): on change only,
  increasing ``plan_id`` (persisted across restarts).
* ``mission_progress`` (dg_interfaces/MissionProgress, pub, transient local): mission
  ``mission_label``, completed/total = lanes + samples + return, detail = state
  (``"SURVEY lane 3/12"``, ``"FAILSAFE_HOLD (operator link lost) at lane 3/12"``).
* ``mission/plan`` (nav_msgs/Path, pub, transient local): the remaining plan.
* ``mission/samples`` (dg_interfaces/WaterSample, pub, transient local depth 100): one per
  recorded sample, ``sample_id`` set.
"""

from __future__ import annotations

import math
import os
from functools import partial
from typing import Any

from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Odometry, Path
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState, NavSatFix, NavSatStatus
from std_msgs.msg import Header

from dg_autonomy.failsafe.monitor import (
    FailsafeAction,
    FailsafeConfig,
    FailsafeError,
    FailsafeMonitor,
    FaultConfig,
)
from dg_autonomy.mission.executive import (
    ExecutiveConfig,
    ExecutiveStatus,
    MissionExecutive,
    NavFeedback,
)
from dg_autonomy.mission.mission_file import MissionError, load_mission
from dg_autonomy.mission.progress_store import ProgressError, ProgressStore
from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.geometry import yaw_from_quaternion
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.qos import SENSOR_QOS, STATE_QOS
from dg_common.validation import odometry_rejection
from dg_interfaces.msg import GuidanceCommand, MissionProgress, NavigatorStatus, WaterSample

ACTIONS = tuple(a.value for a in FailsafeAction)
_fs = partial(core_default, FailsafeConfig)
_ex = partial(core_default, ExecutiveConfig)

SCHEMA = (
    ParamSpec("mission_file", "str", "survey mission YAML (dg_autonomy/mission/mission_file.py)",
              read_only=True),
    ParamSpec("progress_file", "str",
              "progress JSON; '' = $ROS_HOME/dg_mission/<mission name>.progress.json",
              default="", read_only=True),
    ParamSpec("frame_id", "str", "map frame of odometry, mission and commands", default="map",
              read_only=True),
    ParamSpec("mission_label", "str", "mission name in mission_progress", default="survey",
              read_only=True),
    ParamSpec("update_rate_hz", "float", "executive and fail-safe check rate [Hz]",
              default=20.0, min=1.0, max=100.0, read_only=True),
    ParamSpec("odom_max_age_s", "float", "reject odometry stamped older than this [s]",
              default=1.0, min=0.01, max=60.0, read_only=True),
    # Fail-safes (defaults: FailsafeConfig's, ArduPilot-like: see
    # dg_autonomy/failsafe/monitor.py).
    ParamSpec("operator_link_timeout_s", "float", "no operator heartbeat for this long [s]",
              default=_fs("operator_link.timeout_s"), min=0.1, max=3600.0, read_only=True),
    ParamSpec("operator_link_action", "str", "action on operator link loss",
              default=_fs("operator_link.action"), choices=ACTIONS, read_only=True),
    ParamSpec("gnss_timeout_s", "float", "no valid GNSS fix for this long [s]",
              default=_fs("gnss.timeout_s"), min=0.1, max=3600.0, read_only=True),
    ParamSpec("gnss_action", "str", "action on GNSS loss", default=_fs("gnss.action"),
              choices=ACTIONS, read_only=True),
    ParamSpec("battery_timeout_s", "float", "battery below the threshold for this long [s]",
              default=_fs("battery.timeout_s"), min=0.0, max=3600.0, read_only=True),
    ParamSpec("battery_action", "str", "action on low battery", default=_fs("battery.action"),
              choices=ACTIONS, read_only=True),
    ParamSpec("battery_low_soc", "float", "low battery threshold, state of charge [0..1]",
              default=_fs("battery_low_soc"), min=0.0, max=1.0, read_only=True),
    ParamSpec("geofence_timeout_s", "float", "predicted fence breach persisting this long [s]",
              default=_fs("geofence.timeout_s"), min=0.0, max=60.0, read_only=True),
    ParamSpec("geofence_action", "str", "action on a predicted geofence breach",
              default=_fs("geofence.action"), choices=ACTIONS, read_only=True),
    ParamSpec("geofence_brake_decel_mps2", "float",
              "lower bound of the boat's braking deceleration [m/s^2]",
              default=_fs("brake_decel_mps2"), min=0.01, max=20.0, read_only=True),
    ParamSpec("geofence_reaction_time_s", "float",
              "detection + command + thruster delay before braking [s]",
              default=_fs("reaction_time_s"), min=0.0, max=10.0, read_only=True),
    # Executive (defaults: ExecutiveConfig's).
    ParamSpec("arrive_radius_m", "float", "skip a transit when this close to a task start [m]",
              default=_ex("arrive_radius_m"), min=0.1, max=100.0, read_only=True),
    ParamSpec("loiter_radius_m", "float", "fail-safe loiter radius [m]",
              default=_ex("loiter_radius_m"), min=1.0, max=500.0, read_only=True),
    ParamSpec("brake_speed_mps", "float", "geofence: brake until slower than this [m/s]",
              default=_ex("brake_speed_mps"), min=0.01, max=5.0, read_only=True),
    ParamSpec("brake_timeout_s", "float", "geofence: brake at most this long [s]",
              default=_ex("brake_timeout_s"), min=0.1, max=120.0, read_only=True),
    ParamSpec("sample_grace_s", "float", "wait past the dwell for a first reading [s]",
              default=_ex("sample_grace_s"), min=0.1, max=600.0, read_only=True),
    ParamSpec("collision_avoidance", "bool", "COLREGs avoidance while following paths",
              default=_ex("collision_avoidance"), read_only=True),
    ParamSpec("heading_into_weather", "bool", "station keeping heads into the weather",
              default=_ex("heading_into_weather"), read_only=True),
)

#: Recorded samples: reliable and latched for late joiners (the recorder, the demo table).
SAMPLES_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)


def default_progress_path(mission_name: str) -> str:
    """``$ROS_HOME/dg_mission/<name>.progress.json`` (ROS_HOME defaults to ~/.ros)."""
    home = os.environ.get("ROS_HOME") or os.path.join(os.path.expanduser("~"), ".ros")
    return os.path.join(home, "dg_mission", f"{mission_name}.progress.json")


class MissionExecutiveNode(DgNode):
    """Runs :class:`MissionExecutive` and :class:`FailsafeMonitor` on ROS topics."""

    def __init__(self, **kwargs: Any) -> None:
        """Load the mission (ParameterError on an invalid file), plan, create the I/O."""
        super().__init__("mission_executive", SCHEMA, **kwargs)
        p = self.params
        try:
            self.mission = load_mission(p.mission_file)
        except MissionError as exc:
            raise ParameterError(f"parameter 'mission_file': {exc}") from None
        self.progress_path = p.progress_file or default_progress_path(self.mission.name)
        try:
            fs_config = FailsafeConfig(
                operator_link=FaultConfig(p.operator_link_timeout_s, p.operator_link_action),
                gnss=FaultConfig(p.gnss_timeout_s, p.gnss_action),
                battery=FaultConfig(p.battery_timeout_s, p.battery_action),
                geofence=FaultConfig(p.geofence_timeout_s, p.geofence_action),
                battery_low_soc=p.battery_low_soc, fence=self.mission.geofence,
                fence_margin_m=self.mission.geofence_margin_m,
                brake_decel_mps2=p.geofence_brake_decel_mps2,
                reaction_time_s=p.geofence_reaction_time_s)
            ex_config = ExecutiveConfig(
                arrive_radius_m=p.arrive_radius_m, loiter_radius_m=p.loiter_radius_m,
                brake_speed_mps=p.brake_speed_mps, brake_timeout_s=p.brake_timeout_s,
                sample_grace_s=p.sample_grace_s, collision_avoidance=p.collision_avoidance,
                heading_into_weather=p.heading_into_weather)
        except (FailsafeError, ValueError) as exc:
            raise ParameterError(f"fail-safe/executive parameters: {exc}") from None
        self.monitor = FailsafeMonitor(fs_config)
        try:
            self.executive = MissionExecutive(self.mission, ex_config,
                                              ProgressStore(self.progress_path))
        except ProgressError as exc:
            raise ParameterError(f"parameter 'progress_file': {exc}") from None
        except (ValueError, RuntimeError) as exc:
            raise ParameterError(f"mission {self.mission.source}: cannot plan: {exc}") from None
        self.get_logger().info(
            f"mission '{self.mission.name}': {self.executive.n_lanes} lanes, "
            f"{self.executive.n_samples} samples, progress {self.progress_path}: "
            f"{self.executive.resume_note}")

        self._odom: tuple[float, float, float, float, float] | None = None  # t, x, y, vx, vy
        self._finished_plan: int | None = None
        self._progress_key: tuple | None = None
        self._plan_published_from_pose = False
        d = self.diagnostics
        self.odom_monitor = d.monitor("odometry/filtered", 1.0)
        self.status_monitor = d.monitor("navigator/status", 2.0)
        self.heartbeat_monitor = d.monitor("operator/heartbeat", p.operator_link_timeout_s)
        self.gnss_monitor = d.monitor("wamv/sensors/gps/gps/fix", p.gnss_timeout_s)
        self.battery_monitor = d.monitor("battery", 30.0)
        self.wq_monitor = d.monitor("water_quality", math.inf)

        self._cmd_pub = self.create_publisher(GuidanceCommand, "navigator/command", STATE_QOS)
        self._progress_pub = self.create_publisher(MissionProgress, "mission_progress",
                                                   STATE_QOS)
        self._plan_pub = self.create_publisher(Path, "mission/plan", STATE_QOS)
        self._sample_pub = self.create_publisher(WaterSample, "mission/samples", SAMPLES_QOS)
        g = self.guarded
        self.create_subscription(Odometry, "odometry/filtered", g(self._on_odom), SENSOR_QOS)
        self.create_subscription(NavigatorStatus, "navigator/status", g(self._on_status),
                                 SENSOR_QOS)
        self.create_subscription(Header, "operator/heartbeat", g(self._on_heartbeat),
                                 SENSOR_QOS)
        self.create_subscription(NavSatFix, "wamv/sensors/gps/gps/fix", g(self._on_fix),
                                 SENSOR_QOS)
        self.create_subscription(BatteryState, "battery", g(self._on_battery), SENSOR_QOS)
        self.create_subscription(WaterSample, "water_quality", g(self._on_water), SENSOR_QOS)
        self._publish_plan(self.executive.full_plan_xy())
        self._publish_progress(self.executive.update(self.now_s()).status)
        self._timer = self.create_timer(1.0 / p.update_rate_hz, g(self._tick))

    # --- inputs -----------------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        now = self.now_s()
        rejection = odometry_rejection(msg, self.params.frame_id, now,
                                       self.params.odom_max_age_s)
        if rejection is not None:
            self.reject(self.odom_monitor, *rejection)
            return
        pos, q, tw = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
        yaw = yaw_from_quaternion(q.x, q.y, q.z, q.w)
        c, s = math.cos(yaw), math.sin(yaw)
        vx = c * tw.linear.x - s * tw.linear.y
        vy = s * tw.linear.x + c * tw.linear.y
        self._odom = (now, pos.x, pos.y, vx, vy)
        self.monitor.position(now, pos.x, pos.y, vx, vy)
        self.odom_monitor.tick(now)

    def _on_status(self, msg: NavigatorStatus) -> None:
        self.status_monitor.tick(self.now_s())
        if msg.finished:
            self._finished_plan = msg.plan_id

    def _on_heartbeat(self, msg: Header) -> None:
        now = self.now_s()
        if now <= 0.0:
            return  # sim clock not started: a time of 0 would age into a false fault
        self.monitor.feed_operator(now)
        self.heartbeat_monitor.tick(now)

    def _on_fix(self, msg: NavSatFix) -> None:
        now = self.now_s()
        if now <= 0.0:
            return
        valid = (msg.status.status >= NavSatStatus.STATUS_FIX
                 and math.isfinite(msg.latitude) and math.isfinite(msg.longitude))
        self.monitor.feed_gnss(now, valid)
        if valid:
            self.gnss_monitor.tick(now)
        else:
            self.reject(self.gnss_monitor, "no_fix", "GNSS: no fix or non-finite position")

    def _on_battery(self, msg: BatteryState) -> None:
        now = self.now_s()
        if now <= 0.0:
            return
        soc = msg.percentage
        if not math.isfinite(soc) and math.isfinite(msg.charge) and msg.capacity > 0.0:
            soc = msg.charge / msg.capacity
        if not math.isfinite(soc) or not 0.0 <= soc <= 1.0:
            self.reject(self.battery_monitor, "invalid",
                        f"battery: state of charge {soc} not in [0, 1]")
            return
        self.monitor.battery(now, soc)
        self.battery_monitor.tick(now)
        self.diagnostics.set_value("battery_soc", f"{soc:.3f}")

    def _on_water(self, msg: WaterSample) -> None:
        now = self.now_s()
        if msg.header.frame_id not in ("", self.params.frame_id):
            self.reject(self.wq_monitor, "frame",
                        f"water_quality: frame '{msg.header.frame_id}' is not "
                        f"'{self.params.frame_id}'")
            return
        vals = (msg.x_m, msg.y_m, msg.temperature_c, msg.dissolved_oxygen_mgl,
                msg.turbidity_ntu)
        if not all(math.isfinite(v) for v in vals):
            self.reject(self.wq_monitor, "non_finite", "water_quality: non-finite value")
            return
        self.wq_monitor.tick(now)
        self.executive.add_reading(now, *vals)

    # --- loop -------------------------------------------------------------------------
    def _tick(self) -> None:
        now = self.now_s()
        if now <= 0.0:
            return  # sim time: /clock not received yet
        pose = None
        if self._odom is not None and now - self._odom[0] <= self.params.odom_max_age_s:
            pose = self._odom[1:]
        fs = self.monitor.check(now)
        for f in fs.new:
            self.get_logger().warning(f"fail-safe {f.value} detected: action "
                                      f"{self.monitor.config.fault(f).action.value}")
        for f in fs.cleared:
            self.get_logger().info(f"fail-safe {f.value} cleared")
        nav = None if self._finished_plan is None else NavFeedback(self._finished_plan, True)
        out = self.executive.update(now, pose, nav, fs)
        for text in out.events:
            self.get_logger().info(text)
        if pose is not None and not self._plan_published_from_pose:
            self._plan_published_from_pose = True
            self._publish_plan(self.executive.full_plan_xy(pose[:2]))
        if out.command_changed and out.command is not None:
            self._publish_command(out.command)
        for rec in out.samples:
            if rec.n_readings > 0:
                self._publish_sample(rec)
        self._publish_progress(out.status)
        level = OK if fs.ok else WARN
        if out.status.state == MissionProgress.STATE_FAILED and not fs.ok:
            level = ERROR
        self.diagnostics.set_status(level, out.status.detail)
        self.diagnostics.set_value("failsafe", fs.describe())
        self.diagnostics.set_value("plan_id", out.command.plan_id if out.command else 0)

    # --- outputs ----------------------------------------------------------------------
    def _header(self) -> Header:
        h = Header()
        h.stamp = self.get_clock().now().to_msg()
        h.frame_id = self.params.frame_id
        return h

    def _publish_command(self, cmd: Any) -> None:
        values = [cmd.speed_mps, *cmd.station_xy, cmd.heading_rad, cmd.loiter_radius_m]
        values += [v for p in cmd.path_xy for v in p]
        if not all(math.isfinite(v) for v in values):
            raise RuntimeError(f"non-finite navigator command {cmd}")  # a bug: never sent
        msg = GuidanceCommand(
            header=self._header(), plan_id=cmd.plan_id, mode=int(cmd.mode),
            path=[Point(x=float(x), y=float(y)) for x, y in cmd.path_xy],
            speed_mps=float(cmd.speed_mps),
            station=Point(x=float(cmd.station_xy[0]), y=float(cmd.station_xy[1])),
            heading_rad=float(cmd.heading_rad), heading_into_weather=cmd.heading_into_weather,
            loiter_radius_m=float(cmd.loiter_radius_m),
            collision_avoidance=cmd.collision_avoidance)
        self._cmd_pub.publish(msg)
        self.get_logger().info(f"command plan {cmd.plan_id}: {cmd.mode.name}"
                               + (f" {len(cmd.path_xy)} points" if cmd.path_xy else ""))

    def _publish_progress(self, st: ExecutiveStatus) -> None:
        key = (int(st.state), st.detail, st.completed, st.total)
        if key == self._progress_key:
            return
        self._progress_key = key
        msg = MissionProgress(header=self._header(), mission=self.params.mission_label,
                              state=int(st.state), detail=st.detail, completed=st.completed,
                              total=st.total)
        self._progress_pub.publish(msg)

    def _publish_plan(self, xy: list) -> None:
        msg = Path(header=self._header())
        for x, y in xy:
            ps = PoseStamped(header=msg.header)
            ps.pose.position.x, ps.pose.position.y = float(x), float(y)
            ps.pose.orientation.w = 1.0
            msg.poses.append(ps)
        self._plan_pub.publish(msg)

    def _publish_sample(self, rec: Any) -> None:
        self._sample_pub.publish(WaterSample(
            header=self._header(), sample_id=rec.sample_id, x_m=float(rec.x_m),
            y_m=float(rec.y_m), temperature_c=float(rec.temperature_c),
            dissolved_oxygen_mgl=float(rec.dissolved_oxygen_mgl),
            turbidity_ntu=float(rec.turbidity_ntu)))
        self.get_logger().info(
            f"sample {rec.sample_id}: {rec.temperature_c:.2f} C, "
            f"{rec.dissolved_oxygen_mgl:.2f} mg/l O2, {rec.turbidity_ntu:.2f} NTU "
            f"({rec.n_readings} readings)")


def main(args: list[str] | None = None) -> None:
    """Run the ``mission_executive`` node."""
    raise SystemExit(run_node(MissionExecutiveNode, args))

