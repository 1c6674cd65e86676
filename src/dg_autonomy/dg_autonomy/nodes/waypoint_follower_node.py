"""Lifecycle node ``waypoint_follower``: pure pursuit from odometry to ``cmd_vel``.

Topics (relative names, remap as needed):

* ``odom`` (nav_msgs/Odometry, sub, SENSOR_QOS = best effort): validated (finite values, unit
  quaternion, frame ``frame_id``, stamp no older than ``odom_max_age_s``); each valid message
  feeds the command watchdog. Best effort is what a sensor stream wants (the newest sample,
  no retransmits) and it matches every publisher: reliable ones (ros_gz_bridge, whose
  publishers are ``rclcpp::QoS(KeepLast(10))``, and dg_sim's ground vehicle, which copies
  that) as well as best-effort hardware drivers; a reliable subscription would silently get
  nothing from the latter.
* ``waypoints`` (nav_msgs/Path, sub, STATE_QOS = transient local, so the publisher must be
  transient local too): replaces the plan; a path with a non-finite point, the wrong frame or
  too many poses is rejected and logged, the previous plan kept.
* ``cmd_vel`` (geometry_msgs/Twist, pub, reliable depth 1 offering a deadline of
  ``command_timeout_s``, compatible with Gazebo DiffDrive via ros_gz_bridge): forward speed
  in linear.x [m/s], yaw rate in angular.z [rad/s]; only finite values; zero Twist is the
  safe output (deactivate, error, stale odometry, goal reached, exit).
* ``mission_progress`` (dg_interfaces/MissionProgress, pub, STATE_QOS): on state changes
  (IDLE, RUNNING, HOLDING while odometry is stale or the node inactive, SUCCEEDED once the
  final waypoint is reached) and on each waypoint reached.

Parameter ``waypoints`` (double[] ``[x0, y0, x1, y1, ...]`` [m] in ``frame_id``, optional) is
read on configure: a NaN/Inf or an odd length makes configure fail with a logged reason; the
process keeps running, unconfigured. The tuning parameters are read on configure as well.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry, Path
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult

from dg_autonomy.control.pure_pursuit import (
    FollowStatus,
    InvalidWaypoints,
    PurePursuit,
    PurePursuitConfig,
    waypoints_from_flat,
)
from dg_common.geometry import yaw_from_quaternion
from dg_common.lifecycle import ActuatorNode, ControlStatus
from dg_common.main import run_node
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.qos import SENSOR_QOS, STATE_QOS, command_pub_qos
from dg_common.validation import (
    InvalidInput,
    odometry_rejection,
    require_frame,
    require_size,
)
from dg_interfaces.msg import MissionProgress

#: Pure pursuit settings (fields of :class:`PurePursuitConfig`, with its defaults), as ROS
#: parameters.
_pp = partial(core_default, PurePursuitConfig)
_TUNING = (
    ParamSpec("speed_mps", "float", "cruise speed [m/s]", default=_pp("speed_mps"),
              min=0.01, max=20.0, read_only=True),
    ParamSpec("speed_min_mps", "float", "speed floor while moving [m/s]",
              default=_pp("speed_min_mps"), min=0.0, max=20.0, read_only=True),
    ParamSpec("yaw_rate_max_radps", "float", "yaw rate limit [rad/s]",
              default=_pp("yaw_rate_max_radps"), min=0.01, max=20.0, read_only=True),
    ParamSpec("lookahead_min_m", "float", "minimum lookahead distance [m]",
              default=_pp("lookahead_min_m"), min=0.01, max=100.0, read_only=True),
    ParamSpec("lookahead_max_m", "float", "maximum lookahead distance [m]",
              default=_pp("lookahead_max_m"), min=0.01, max=100.0, read_only=True),
    ParamSpec("lookahead_time_s", "float", "lookahead = this * |speed| [s] (0: fixed)",
              default=_pp("lookahead_time_s"), min=0.0, max=60.0, read_only=True),
    ParamSpec("acceptance_radius_m", "float", "waypoint reached within this distance [m]",
              default=_pp("acceptance_radius_m"), min=0.01, max=100.0, read_only=True),
    ParamSpec("turn_slowdown_radius_m", "float",
              "slow down on arcs tighter than this radius [m] (0: off)",
              default=_pp("turn_slowdown_radius_m"), min=0.0, max=100.0, read_only=True),
    ParamSpec("goal_decel_mps2", "float", "braking toward the final waypoint [m/s^2]",
              default=_pp("goal_decel_mps2"), min=0.01, max=20.0, read_only=True),
    ParamSpec("rotate_in_place_angle_rad", "float",
              "turn in place when the goal point is beyond this bearing [rad] (pi: never)",
              default=_pp("rotate_in_place_angle_rad"), min=0.01, max=math.pi, read_only=True),
)

SCHEMA = (
    ParamSpec("frame_id", "str", "frame of odometry and waypoints (REP-105)", default="odom",
              read_only=True),
    ParamSpec("odom_max_age_s", "float", "reject odometry stamped older than this [s]",
              default=0.5, min=0.001, max=60.0, read_only=True),
    ParamSpec("max_waypoints", "int", "reject paths with more poses than this", default=10000,
              min=1, max=1_000_000, read_only=True),
    ParamSpec("mission_name", "str", "name in mission_progress", default="waypoints",
              read_only=True),
    *_TUNING,
)

WAYPOINTS_DESCRIPTION = ("waypoints [x0, y0, x1, y1, ...] [m] in frame_id, read on configure "
                         "(optional: the waypoints topic replaces them)")


def _waypoints_from_param(value: Any) -> list[float] | None:
    """The flat waypoint list of the ``waypoints`` parameter value (None: not set).

    Raises:
        ParameterError: if the value is not a list of numbers, has an odd length or a
            non-finite value.

    """
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return None
    if isinstance(value, (str, bytes, bool)) or not hasattr(value, "__iter__"):
        raise ParameterError(f"parameter 'waypoints' must be a list of numbers, got {value!r}")
    values = list(value)
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ParameterError(f"parameter 'waypoints' must be a list of numbers, got {value!r}")
    flat = [float(v) for v in values]
    try:
        waypoints_from_flat(flat)
    except InvalidWaypoints as exc:
        raise ParameterError(f"parameter 'waypoints': {exc}") from None
    return flat


class WaypointFollowerNode(ActuatorNode):
    """Follows waypoints (parameter or ``waypoints`` topic) with :class:`PurePursuit`."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node (unconfigured unless ``autostart``)."""
        self._setup_done = False
        super().__init__("waypoint_follower", SCHEMA, **kwargs)
        self._setup()

    def _setup(self) -> None:
        """Declare ``waypoints`` and create monitors, once.

        Called from ``__init__`` and from :meth:`configure`, because the base class
        configures inside its own constructor when ``autostart`` is set.
        """
        if self._setup_done:
            return
        self._setup_done = True
        # Declared outside the schema so that a bad value fails configure (a lifecycle
        # transition, logged) instead of the constructor; validated on change below.
        self.declare_parameter("waypoints", None, ParameterDescriptor(
            description=WAYPOINTS_DESCRIPTION, dynamic_typing=True))
        self.add_on_set_parameters_callback(self._on_set_waypoints)
        self.odom_monitor = self.diagnostics.monitor("odom", self.params.command_timeout_s)
        self.path_monitor = self.diagnostics.monitor("waypoints", math.inf)
        self.plan: PurePursuit | None = None
        self._config: PurePursuitConfig | None = None
        self._pose: tuple[float, float, float, float] | None = None  # x, y, yaw, speed
        self._plan_id = 0
        self._progress_key: tuple[int, int, int, int] | None = None
        self._cmd_pub = self._progress_pub = None
        self._subs: list[Any] = []

    @staticmethod
    def _on_set_waypoints(params: list) -> SetParametersResult:
        for p in params:
            if p.name == "waypoints":
                try:
                    _waypoints_from_param(p.value)
                except ParameterError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    # --- lifecycle hooks ----------------------------------------------------------
    def configure(self) -> None:
        """Validate tuning and waypoints, then create publishers and subscriptions.

        Raises:
            ParameterError: on invalid waypoints or inconsistent tuning (configure fails).

        """
        self._setup()
        p = self.params
        try:
            self._config = PurePursuitConfig(**{s.name: getattr(p, s.name) for s in _TUNING})
        except ValueError as exc:
            raise ParameterError(f"pure pursuit parameters: {exc}") from None
        flat = _waypoints_from_param(self.get_parameter("waypoints").value)
        self.plan = None if flat is None else PurePursuit(
            zip(flat[0::2], flat[1::2], strict=True), self._config)
        self._plan_id += 1
        self._cmd_pub = self.create_publisher(Twist, "cmd_vel",
                                              command_pub_qos(p.command_timeout_s))
        self._progress_pub = self.create_publisher(MissionProgress, "mission_progress",
                                                   STATE_QOS)
        self._subs = [
            self.create_subscription(Odometry, "odom", self.guarded(self._on_odom), SENSOR_QOS),
            self.create_subscription(Path, "waypoints", self.guarded(self._on_path), STATE_QOS),
        ]
        n = self.plan.total if self.plan else 0
        self._set_progress(MissionProgress.STATE_IDLE,
                           f"configured with {n} waypoints" if n else "waiting for waypoints")

    def cleanup(self) -> None:
        """Destroy publishers and subscriptions, forget plan and pose."""
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in (self._cmd_pub, self._progress_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._subs, self._cmd_pub, self._progress_pub = [], None, None
        self.plan, self._pose, self._progress_key = None, None, None

    def control_step(self, now_s: float) -> ControlStatus:
        """Run pure pursuit on the latest odometry and publish the command."""
        if self.plan is None or self._pose is None:
            self._publish_cmd(0.0, 0.0)
            self._set_progress(MissionProgress.STATE_IDLE, "waiting for waypoints")
            return ControlStatus.IDLE
        res = self.plan.step(*self._pose)
        self.diagnostics.set_value("cross_track_error_m", f"{res.cross_track_error_m:.3f}")
        self.diagnostics.set_value("active_waypoint", res.waypoint_index)
        self.diagnostics.set_value("waypoints_reached",
                                   f"{res.waypoints_reached}/{self.plan.total}")
        if res.status is FollowStatus.WORKING:
            self._publish_cmd(res.speed_mps, res.yaw_rate_radps)
            self._set_progress(MissionProgress.STATE_RUNNING,
                               f"waypoint {res.waypoint_index + 1}/{self.plan.total}")
            return ControlStatus.WORKING
        self._publish_cmd(0.0, 0.0)
        if res.status is FollowStatus.FINISHED:
            self._set_progress(MissionProgress.STATE_SUCCEEDED,
                               f"reached all {self.plan.total} waypoints")
            return ControlStatus.FINISHED
        self._set_progress(MissionProgress.STATE_HOLDING, "invalid pose")
        return ControlStatus.HOLD

    def publish_safe_output(self, reason: str) -> None:
        """Publish a zero Twist; an unfinished mission is HOLDING meanwhile."""
        self._publish_cmd(0.0, 0.0)
        if self.plan is not None and not self.plan.finished:
            self._set_progress(MissionProgress.STATE_HOLDING, f"holding: {reason}")

    # --- callbacks ----------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        now = self.now_s()
        rejection = odometry_rejection(msg, self.params.frame_id, now,
                                       self.params.odom_max_age_s)
        if rejection is not None:
            self.reject(self.odom_monitor, *rejection)
            return
        pos, q, tw = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
        self._pose = (pos.x, pos.y, yaw_from_quaternion(q.x, q.y, q.z, q.w), tw.linear.x)
        self.watchdog.feed(now)
        self.odom_monitor.tick(now)

    def _on_path(self, msg: Path) -> None:
        frame = self.params.frame_id
        try:
            require_frame("waypoints", msg.header.frame_id, frame)
            require_size("waypoints", len(msg.poses), self.params.max_waypoints)
            for i, ps in enumerate(msg.poses):
                if ps.header.frame_id not in ("", frame):
                    raise InvalidInput(f"waypoints: pose {i} in frame '{ps.header.frame_id}', "
                                       f"not '{frame}'")
            plan = PurePursuit([(ps.pose.position.x, ps.pose.position.y) for ps in msg.poses],
                               self._config)
        except InvalidInput as exc:
            self.reject(self.path_monitor, "invalid", f"{exc}; keeping the previous plan")
            return
        except InvalidWaypoints as exc:
            self.reject(self.path_monitor, "non_finite",
                        f"waypoints: {exc}; keeping the previous plan")
            return
        self.plan = plan
        self._plan_id += 1
        self.path_monitor.tick(self.now_s())
        self.get_logger().info(f"new plan: {plan.total} waypoints")
        self._set_progress(MissionProgress.STATE_RUNNING if self.active
                           else MissionProgress.STATE_IDLE, f"new plan: {plan.total} waypoints")

    # --- helpers ------------------------------------------------------------------
    def _publish_cmd(self, speed_mps: float, yaw_rate_radps: float) -> None:
        if not (math.isfinite(speed_mps) and math.isfinite(yaw_rate_radps)):
            # A bug in the core; the guard around the timer turns this into a safe output.
            raise RuntimeError(f"non-finite command ({speed_mps}, {yaw_rate_radps})")
        msg = Twist()
        msg.linear.x = float(speed_mps)
        msg.angular.z = float(yaw_rate_radps)
        self._cmd_pub.publish(msg)

    def _set_progress(self, state: int, detail: str) -> None:
        """Publish progress when the state, waypoint count or plan changed."""
        completed = self.plan.reached if self.plan else 0
        total = self.plan.total if self.plan else 0
        key = (state, completed, total, self._plan_id)
        if key == self._progress_key or self._progress_pub is None:
            return
        if self._progress_key is None or self._progress_key[0] != state:
            self.get_logger().info(f"mission {self.params.mission_name}: {detail}")
        self._progress_key = key
        msg = MissionProgress(mission=self.params.mission_name, state=state, detail=detail,
                              completed=completed, total=total)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params.frame_id
        self._progress_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    """Run the ``waypoint_follower`` node."""
    raise SystemExit(run_node(WaypointFollowerNode, args))
