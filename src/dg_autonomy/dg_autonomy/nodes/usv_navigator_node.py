"""Lifecycle node ``usv_navigator``: guidance commands -> differential thrust of the survey boat.

It runs :class:`dg_autonomy.control.usv_pilot.UsvPilot` (integral LOS path following, station
keeping with heading or into the weather, loiter, speed/heading control, yaw-priority thrust
allocation with saturation) and, when the command asks for it, COLREGs avoidance
(:class:`dg_autonomy.collision.colregs.ColregsAvoidance`) between guidance and control.

Topics (relative names resolve in the node's namespace; thrusters are absolute, VRX names):

* ``odometry/filtered`` (nav_msgs/Odometry, sub, SENSOR_QOS): pose in ``frame_id`` (map),
  twist in the body frame (u, v, r over ground, REP-105 child frame). Validated: frame,
  finite values, unit quaternion, stamp no older than ``odom_max_age_s``; each valid message
  feeds the command watchdog. This is the input whose timeout (``command_timeout_s``) makes
  the node publish its safe output: the guidance command itself is latched state (published
  on change only), so its age means nothing.
* ``navigator/command`` (dg_interfaces/GuidanceCommand, sub, STATE_QOS = transient local):
  validated (frame ``frame_id`` or empty, known mode, finite path of at most
  ``max_path_points`` points for FOLLOW_PATH, 0 <= speed <= ``max_speed_mps``, finite
  station and heading, loiter radius > 0 for LOITER); a bad command is rejected with a
  diagnostic and the previous one is kept. MODE_IDLE: zero thrust.
* ``targets`` (dg_interfaces/TargetArray, sub, SENSOR_QOS): the fused targets, frame
  ``frame_id``; targets with non-finite fields are dropped (counted as rejections), the
  array is used while younger than ``targets_max_age_s``.
* ``/wamv/thrusters/left/thrust``, ``/wamv/thrusters/right/thrust`` (std_msgs/Float64 [N],
  pub, reliable depth 1 offering a deadline of ``command_timeout_s``): every control period;
  always finite and within [-thrust_rev_max_n, thrust_fwd_max_n]; the safe output is 0 N on
  both (inactive, stale odometry, error, exit).
* ``navigator/status`` (dg_interfaces/NavigatorStatus, pub, reliable depth 10): at
  ``status_rate_hz`` and on every change of mode/plan/finished/avoiding.
* ``collision_avoidance/encounters`` (dg_interfaces/Encounter, pub, reliable depth 10): one
  message per target whenever its (situation, rule, action) changes.

Station keeping into the weather (``heading_into_weather``): the heading comes from the
station keeper's generalized-momentum observer of the environmental force (bow toward where
the mean force comes from; see :mod:`dg_autonomy.control.station_keeping`), with the
command's ``heading_rad`` until that estimate exceeds ``weather_min_force_n``. Chosen over a
wind-direction parameter: it needs no wind sensor and also accounts for current and waves.

Hull and tuning parameters are read on configure (``config/usv_navigator.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nav_msgs.msg import Odometry
from shapely.ops import unary_union
from std_msgs.msg import Float64

from dg_autonomy.collision.colregs import (
    ColregsAvoidance,
    ColregsConfig,
    OwnShip,
    TrackedVessel,
)
from dg_autonomy.control.heading_speed import HeadingSpeedConfig, VesselModel
from dg_autonomy.control.station_keeping import StationKeepingConfig
from dg_autonomy.control.thrust_allocation import ThrusterConfig
from dg_autonomy.control.usv_pilot import (
    PilotCommand,
    PilotConfig,
    PilotMode,
    PilotStatus,
    UsvPilot,
)
from dg_autonomy.guidance.line_of_sight import InvalidPath, LosConfig
from dg_autonomy.mission.mission_file import MissionError, load_mission
from dg_common.geometry import wrap_angle, yaw_from_quaternion
from dg_common.lifecycle import ActuatorNode, ControlStatus
from dg_common.main import run_node
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.qos import SENSOR_QOS, STATE_QOS, command_pub_qos
from dg_common.sim_time import stamp_to_s
from dg_common.validation import (
    InvalidInput,
    odometry_rejection,
    require_frame,
)
from dg_interfaces.msg import (
    Encounter,
    GuidanceCommand,
    NavigatorStatus,
    TargetArray,
)

_F = "float"


#: Hull (defaults: VesselModel's and ThrusterConfig's, the VRX WAM-V) and thruster layout.
HULL_SCHEMA = (
    _p("mass_kg", _F, "hull mass [kg]", core_default(VesselModel, "mass_kg"), 1.0, 1e6),
    _p("izz_kgm2", _F, "yaw inertia [kg m^2]", core_default(VesselModel, "izz_kgm2"), 0.01, 1e8),
    _p("xu_dot_kg", _F, "surge added mass (magnitude) [kg]",
       core_default(VesselModel, "xu_dot_kg"), 0.0, 1e6),
    _p("yv_dot_kg", _F, "sway added mass (magnitude) [kg]",
       core_default(VesselModel, "yv_dot_kg"), 0.0, 1e6),
    _p("nr_dot_kgm2", _F, "yaw added inertia (magnitude) [kg m^2]",
       core_default(VesselModel, "nr_dot_kgm2"), 0.0, 1e8),
    _p("x_u", _F, "linear surge damping [N s/m]", core_default(VesselModel, "xu_nspm"), 0.0,
       1e6),
    _p("x_uu", _F, "quadratic surge damping [N s^2/m^2]",
       core_default(VesselModel, "xuu_ns2pm2"), 0.0, 1e6),
    _p("y_v", _F, "linear sway damping [N s/m]", core_default(VesselModel, "yv_nspm"), 0.0,
       1e6),
    _p("y_vv", _F, "quadratic sway damping [N s^2/m^2]",
       core_default(VesselModel, "yvv_ns2pm2"), 0.0, 1e6),
    _p("n_r", _F, "linear yaw damping [N m s]", core_default(VesselModel, "nr_nmspr"), 0.0,
       1e8),
    _p("n_rr", _F, "quadratic yaw damping [N m s^2]", core_default(VesselModel, "nrr_nms2pr2"),
       0.0, 1e8),
    _p("thruster_y_m", _F, "lateral offset of each thruster (left +y, right -y) [m]",
       core_default(ThrusterConfig, "left_y_m"), 0.01, 100.0),
    _p("thrust_fwd_max_n", _F, "forward thrust limit per thruster [N]",
       core_default(ThrusterConfig, "max_forward_n"), 0.1, 1e6),
    _p("thrust_rev_max_n", _F, "reverse thrust limit per thruster (magnitude) [N]",
       core_default(ThrusterConfig, "max_reverse_n"), 0.0, 1e6),
)

#: Guidance and control tuning (defaults: the cores', tuned for the WAM-V).
TUNING_SCHEMA = (
    _p("los_lookahead_m", _F, "ILOS lookahead distance Delta [m]",
       core_default(LosConfig, "lookahead_m"), 0.5, 1000.0),
    _p("los_integral_gain", _F, "ILOS integral gain sigma (0: proportional LOS)",
       core_default(LosConfig, "integral_gain"), 0.0, 10.0),
    _p("los_acceptance_radius_m", _F, "switch waypoints this far before them [m]",
       core_default(LosConfig, "acceptance_radius_m"), 0.0, 1000.0),
    _p("los_crab_feedforward", "bool", "subtract the measured crab angle",
       core_default(LosConfig, "crab_feedforward")),
    _p("heading_bandwidth_radps", _F, "heading loop natural frequency [rad/s]",
       core_default(HeadingSpeedConfig, "heading_bandwidth_radps"), 0.01, 20.0),
    _p("turn_speed_mps", _F, "speed at sharp path corners [m/s]",
       core_default(PilotConfig, "turn_speed_mps"), 0.0, 20.0),
    _p("approach_speed_mps", _F, "station keeping: approach speed [m/s]",
       core_default(StationKeepingConfig, "approach_speed_mps"), 0.05, 20.0),
    _p("weather_min_force_n", _F,
       "into the weather: use the observed force direction once its mean exceeds this [N]",
       core_default(StationKeepingConfig, "weather_min_force_n"), 0.0, 1e5),
    _p("hold_at_path_end", "bool", "keep station at the last path point when done",
       core_default(PilotConfig, "hold_at_path_end")),
)

#: COLREGs avoidance (defaults: dg_autonomy.collision.colregs.ColregsConfig's).
COLREGS_SCHEMA = (
    _p("colregs_safety_radius_m", _F, "hard minimum separation [m]",
       core_default(ColregsConfig, "safety_radius_m"), 0.1, 1e5),
    _p("colregs_clear_cpa_m", _F, "desired CPA, 'all clear' [m]",
       core_default(ColregsConfig, "clear_cpa_m"), 0.1, 1e5),
    _p("colregs_horizon_s", _F, "TCPA risk window [s]", core_default(ColregsConfig, "horizon_s"),
       1.0, 3600.0),
    _p("colregs_active_range_m", _F, "targets beyond this range are ignored [m]",
       core_default(ColregsConfig, "active_range_m"), 1.0, 1e6),
    ParamSpec("mission_file", "str",
              "mission file whose islands and geofence bound avoidance manoeuvres "
              "('' = open water)", default="", read_only=True),
)

SCHEMA = (
    ParamSpec("frame_id", "str", "frame of odometry, commands and targets (REP-105)",
              default="map", read_only=True),
    _p("odom_max_age_s", _F, "reject odometry stamped older than this [s]", 0.5, 0.001, 60.0),
    ParamSpec("max_path_points", "int", "reject paths with more points than this",
              default=10000, min=1, max=1_000_000, read_only=True),
    _p("max_speed_mps", _F, "reject commands faster than this [m/s]", 5.0, 0.01, 50.0),
    _p("targets_max_age_s", _F, "ignore a target array older than this [s]", 5.0, 0.01, 600.0),
    _p("status_rate_hz", _F, "navigator/status rate [Hz]", 5.0, 0.1, 100.0),
    ParamSpec("left_thrust_topic", "str", "left thruster command topic",
              default="/wamv/thrusters/left/thrust", read_only=True),
    ParamSpec("right_thrust_topic", "str", "right thruster command topic",
              default="/wamv/thrusters/right/thrust", read_only=True),
    *HULL_SCHEMA, *TUNING_SCHEMA, *COLREGS_SCHEMA,
)


class UsvNavigatorNode(ActuatorNode):
    """Executes GuidanceCommands with :class:`UsvPilot`; see the module docstring."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node (unconfigured unless ``autostart``)."""
        self._setup_done = False
        super().__init__("usv_navigator", SCHEMA, **kwargs)
        self._setup()

    def _setup(self) -> None:
        """Create monitors and state once (configure may run inside the base constructor)."""
        if self._setup_done:
            return
        self._setup_done = True
        timeout = self.params.command_timeout_s
        self.odom_monitor = self.diagnostics.monitor("odometry/filtered", timeout)
        self.command_monitor = self.diagnostics.monitor("navigator/command", math.inf)
        self.targets_monitor = self.diagnostics.monitor("targets", math.inf)
        self.pilot: UsvPilot | None = None
        self.avoidance: ColregsAvoidance | None = None
        self._state: tuple[float, float, float, float, float, float] | None = None
        self._command: GuidanceCommand | None = None
        self._targets: list[TrackedVessel] = []
        self._targets_stamp_s = -math.inf
        self._last_step_s: float | None = None
        self._last_output: tuple[float, float] = (0.0, 0.0)
        self._status_key: tuple[Any, ...] | None = None
        self._last_status_s = -math.inf
        self._encounter_keys: dict[str, tuple[str, str, str]] = {}
        self._pubs: dict[str, Any] = {}
        self._subs: list[Any] = []

    # --- lifecycle hooks ------------------------------------------------------------
    def configure(self) -> None:
        """Build the pilot from the parameters, create publishers and subscriptions.

        Raises:
            ParameterError: on inconsistent hull or tuning values (configure fails).

        """
        self._setup()
        p = self.params
        try:
            model = VesselModel(mass_kg=p.mass_kg, izz_kgm2=p.izz_kgm2, xu_dot_kg=p.xu_dot_kg,
                                yv_dot_kg=p.yv_dot_kg, nr_dot_kgm2=p.nr_dot_kgm2,
                                xu_nspm=p.x_u, xuu_ns2pm2=p.x_uu, yv_nspm=p.y_v,
                                yvv_ns2pm2=p.y_vv, nr_nmspr=p.n_r, nrr_nms2pr2=p.n_rr)
            thrusters = ThrusterConfig(left_y_m=p.thruster_y_m, right_y_m=-p.thruster_y_m,
                                       max_forward_n=p.thrust_fwd_max_n,
                                       max_reverse_n=p.thrust_rev_max_n)
            los = LosConfig(lookahead_m=p.los_lookahead_m, integral_gain=p.los_integral_gain,
                            acceptance_radius_m=p.los_acceptance_radius_m,
                            crab_feedforward=p.los_crab_feedforward)
            heading = HeadingSpeedConfig(heading_bandwidth_radps=p.heading_bandwidth_radps)
            station = StationKeepingConfig(approach_speed_mps=p.approach_speed_mps,
                                           weather_min_force_n=p.weather_min_force_n)
            config = replace(PilotConfig(), los=los, heading=heading, station=station,
                             turn_speed_mps=p.turn_speed_mps,
                             hold_at_path_end=p.hold_at_path_end)
            self.pilot = UsvPilot(model, thrusters, config)
        except ValueError as exc:
            raise ParameterError(f"navigator parameters: {exc}") from None
        self.avoidance = self._make_avoidance()
        qos = command_pub_qos(p.command_timeout_s)
        self._pubs = {
            "left": self.create_publisher(Float64, p.left_thrust_topic, qos),
            "right": self.create_publisher(Float64, p.right_thrust_topic, qos),
            "status": self.create_publisher(NavigatorStatus, "navigator/status", 10),
            "encounters": self.create_publisher(Encounter, "collision_avoidance/encounters", 10),
        }
        g = self.guarded
        self._subs = [
            self.create_subscription(Odometry, "odometry/filtered", g(self._on_odom),
                                     SENSOR_QOS),
            self.create_subscription(GuidanceCommand, "navigator/command", g(self._on_command),
                                     STATE_QOS),
            self.create_subscription(TargetArray, "targets", g(self._on_targets), SENSOR_QOS),
        ]
        if self._command is not None:  # a command that came before a cleanup/configure
            self._apply_command(self._command)

    def _make_avoidance(self) -> ColregsAvoidance:
        """The COLREGs avoidance configured from the parameters."""
        p = self.params
        try:
            cfg = ColregsConfig(safety_radius_m=p.colregs_safety_radius_m,
                                clear_cpa_m=p.colregs_clear_cpa_m,
                                horizon_s=p.colregs_horizon_s,
                                active_range_m=p.colregs_active_range_m,
                                completed_range_m=max(p.colregs_active_range_m + 50.0, 450.0))
        except ValueError as exc:
            raise ParameterError(f"COLREGs parameters: {exc}") from None
        self._static_obstacles = self._geofence = None
        if p.mission_file:
            try:
                mission = load_mission(p.mission_file)
            except MissionError as exc:
                raise ParameterError(f"parameter 'mission_file': {exc}") from None
            self._static_obstacles = unary_union(mission.islands) if mission.islands else None
            self._geofence = mission.geofence
        return ColregsAvoidance(cfg)

    def cleanup(self) -> None:
        """Destroy publishers and subscriptions; forget state (the command is kept)."""
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        self._subs, self._pubs = [], {}
        self.pilot, self._state, self._last_step_s = None, None, None

    def on_activate(self, state: Any) -> Any:
        """Start with fresh controller states (no integrator carried over a pause)."""
        if self.pilot is not None and self._command is not None:
            self._apply_command(self._command)
        self._last_step_s = None
        return super().on_activate(state)

    def control_step(self, now_s: float) -> ControlStatus:
        """One pilot step on the latest odometry; publish thrusts, status and encounters."""
        if self.pilot is None or self._state is None:
            self.publish_safe_output("not ready")
            return ControlStatus.HOLD
        dt = 0.0 if self._last_step_s is None else min(max(now_s - self._last_step_s, 0.0),
                                                       0.5)
        self._last_step_s = now_s
        avoid = self._avoidance_callback(now_s)
        out = self.pilot.step(*self._state, dt, avoid)
        self._publish_thrust(out.left_n, out.right_n)
        self._publish_status(now_s, out)
        self.diagnostics.set_value("pilot", f"{out.status.value}: {out.detail}")
        self.diagnostics.set_value("cross_track_m", f"{out.cross_track_m:.3f}")
        if out.status is PilotStatus.ERROR_INVALID_INPUT:
            return ControlStatus.HOLD
        if out.status is PilotStatus.IDLE:
            return ControlStatus.IDLE
        if out.status is PilotStatus.FINISHED and out.left_n == 0.0 and out.right_n == 0.0:
            return ControlStatus.FINISHED
        return ControlStatus.WORKING

    def publish_safe_output(self, reason: str) -> None:
        """Zero thrust on both thrusters (and a status saying why, rate limited)."""
        if not self._pubs:
            return
        self._publish_thrust(0.0, 0.0)
        if self.pilot is not None:
            self.pilot.control.reset()
        self._last_step_s = None
        self.diagnostics.set_value("safe_output", reason)
        self._publish_status(self.now_s(), None)

    # --- callbacks --------------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        now = self.now_s()
        rejection = odometry_rejection(msg, self.params.frame_id, now,
                                       self.params.odom_max_age_s)
        if rejection is not None:
            self.reject(self.odom_monitor, *rejection)
            return
        pos, q, tw = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
        self._state = (pos.x, pos.y, yaw_from_quaternion(q.x, q.y, q.z, q.w), tw.linear.x,
                       tw.linear.y, tw.angular.z)
        self.watchdog.feed(now)
        self.odom_monitor.tick(now)

    def _on_command(self, msg: GuidanceCommand) -> None:
        try:
            require_frame("navigator/command", msg.header.frame_id, (self.params.frame_id, ""))
            cmd = self._pilot_command(msg)
        except (InvalidInput, InvalidPath, ValueError) as exc:
            self.reject(self.command_monitor, "invalid",
                        f"navigator/command (plan {msg.plan_id}): {exc}; keeping the previous")
            return
        self._command = msg
        self.command_monitor.tick(self.now_s())
        self.get_logger().info(f"plan {msg.plan_id}: mode {PilotMode(msg.mode).name}")
        self._apply_command(msg, cmd)

    def _pilot_command(self, msg: GuidanceCommand) -> PilotCommand:
        p = self.params
        path = [(pt.x, pt.y) for pt in msg.path] if msg.mode == GuidanceCommand.MODE_FOLLOW_PATH \
            else None
        return PilotCommand.create(
            msg.mode, path, msg.speed_mps, (msg.station.x, msg.station.y), msg.heading_rad,
            msg.heading_into_weather, msg.loiter_radius_m, max_speed_mps=p.max_speed_mps,
            max_path_points=p.max_path_points)

    def _apply_command(self, msg: GuidanceCommand, cmd: PilotCommand | None = None) -> None:
        if self.pilot is None:
            return
        self.pilot.set_command(cmd or self._pilot_command(msg))
        if self.avoidance is not None:
            self.avoidance.reset()
        self._status_key = None

    def _on_targets(self, msg: TargetArray) -> None:
        try:
            require_frame("targets", msg.header.frame_id, self.params.frame_id)
        except InvalidInput as exc:
            self.reject(self.targets_monitor, "frame", str(exc))
            return
        good = []
        for t in msg.targets:
            stamp = stamp_to_s(t.header.stamp) or stamp_to_s(msg.header.stamp)
            values = (t.x_m, t.y_m, t.course_rad, t.speed_mps, t.length_m, stamp)
            if not all(math.isfinite(v) for v in values) or t.speed_mps < 0.0 \
                    or t.length_m < 0.0 or not t.id:
                self.reject(self.targets_monitor, "invalid_target",
                            f"targets: target '{t.id}' has invalid fields {values}")
                continue
            good.append(TrackedVessel(t.id, t.x_m, t.y_m, t.course_rad, t.speed_mps,
                                      t.length_m, stamp))
        self._targets = good
        self._targets_stamp_s = self.now_s()
        self.targets_monitor.tick(self._targets_stamp_s)

    # --- helpers ----------------------------------------------------------------------
    def _avoidance_callback(self, now_s: float) -> Callable[[float, float],
                                                            tuple[float, float, bool]] | None:
        cmd = self._command
        if cmd is None or not cmd.collision_avoidance or self.avoidance is None \
                or self._state is None or cmd.mode not in (GuidanceCommand.MODE_FOLLOW_PATH,
                                                           GuidanceCommand.MODE_LOITER):
            return None
        x, y, psi, u, v, _ = self._state
        # Course and speed over ground of the body-frame twist; ColregsAvoidance itself
        # decides below which speed the course is not trusted (it then uses the heading).
        own = OwnShip(x, y, psi, wrap_angle(psi + math.atan2(v, u)), math.hypot(u, v))
        fresh = now_s - self._targets_stamp_s <= self.params.targets_max_age_s
        targets = self._targets if fresh else []

        def avoid(course_rad: float, speed_mps: float) -> tuple[float, float, bool]:
            res = self.avoidance.step(own, targets, course_rad, speed_mps, now_s,
                                      self._static_obstacles, self._geofence)
            self._publish_encounters(res.encounters)
            return res.course_rad, res.speed_mps, res.active
        return avoid

    def _publish_thrust(self, left_n: float, right_n: float) -> None:
        p = self.params
        if not (math.isfinite(left_n) and math.isfinite(right_n)):
            # A bug in a core; the guard turns this into a safe output. Never sent.
            raise RuntimeError(f"non-finite thrust ({left_n}, {right_n})")
        lo, hi = -p.thrust_rev_max_n, p.thrust_fwd_max_n
        left, right = min(max(left_n, lo), hi), min(max(right_n, lo), hi)
        self._pubs["left"].publish(Float64(data=float(left)))
        self._pubs["right"].publish(Float64(data=float(right)))
        self._last_output = (left, right)

    def _publish_status(self, now_s: float, out: Any) -> None:
        cmd = self._command
        msg = NavigatorStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params.frame_id
        msg.plan_id = cmd.plan_id if cmd is not None else 0
        msg.mode = cmd.mode if cmd is not None else GuidanceCommand.MODE_IDLE
        if out is not None:
            msg.finished = bool(out.finished)
            msg.segment_index = int(out.segment_index)
            msg.cross_track_m = float(out.cross_track_m)
            msg.distance_to_go_m = float(out.distance_to_go_m) \
                if math.isfinite(out.distance_to_go_m) else 0.0
            msg.avoiding = bool(out.avoiding)
        msg.thrust_left_n, msg.thrust_right_n = self._last_output
        key = (msg.plan_id, msg.mode, msg.finished, msg.avoiding, out is None)
        period = 1.0 / self.params.status_rate_hz
        if key == self._status_key and now_s - self._last_status_s < period:
            return
        self._status_key, self._last_status_s = key, now_s
        self._pubs["status"].publish(msg)

    def _publish_encounters(self, encounters: list[Any]) -> None:
        seen = set()
        for e in encounters:
            seen.add(e.target_id)
            key = (e.situation, e.rule, e.action)
            if self._encounter_keys.get(e.target_id) == key:
                continue
            self._encounter_keys[e.target_id] = key
            msg = Encounter(target_id=e.target_id, situation=e.situation, rule=e.rule,
                            action=e.action)
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.header.frame_id = self.params.frame_id
            for field_name in ("cpa_m", "tcpa_s", "range_m"):
                value = float(getattr(e, field_name))
                setattr(msg, field_name, value if math.isfinite(value) else -1.0)
            self._pubs["encounters"].publish(msg)
            self.get_logger().info(
                f"encounter {e.target_id}: {e.situation} (rule {e.rule}) -> {e.action}, "
                f"CPA {e.cpa_m:.0f} m in {e.tcpa_s:.0f} s")
        for tid in list(self._encounter_keys):
            if tid not in seen:
                del self._encounter_keys[tid]


def main(args: list[str] | None = None) -> None:
    """Run the ``usv_navigator`` node."""
    raise SystemExit(run_node(UsvNavigatorNode, args))
