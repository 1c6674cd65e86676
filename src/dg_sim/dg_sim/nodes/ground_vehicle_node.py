"""Node ``ground_vehicle``: the embedded simulator of the diff-drive UGV ``ugv``.

It publishes what Gazebo (DiffDrive, OdometryPublisher, navsat sensor) + ros_gz_bridge
publish for the same model, on the ROS topics named in the bridge config file
(``bridge_config`` parameter; see :mod:`dg_sim.ground_vehicle.bridge_config`):

* subscribes ``cmd_vel`` (geometry_msgs/Twist; linear.x [m/s] and angular.z [rad/s] are
  used, as by DiffDrive). NaN/Inf commands are rejected (diagnostics + throttled warning).
  Like a real motor driver, a command watchdog (``cmd_timeout_s``, ROS clock) stops the
  vehicle, within its deceleration limits, when commands stop.
* publishes ``odom`` (nav_msgs/Odometry, wheel odometry, odom -> base_link, with
  covariance), ``tf`` (odom -> base_link), ``ground_truth/odom`` (true pose in the world
  frame) every step at ``rate_hz``, and ``navsat`` (sensor_msgs/NavSatFix) at
  ``gnss_rate_hz``; all stamped with the ROS time of the step (sim time under
  ``use_sim_time:=true``, the intended mode, with /clock from dg_sim's clock node).

Frames: the ground truth is in the world frame (ENU, origin at the GNSS datum); wheel
odometry starts at the initial pose, i.e. the odom frame starts on the world frame (gz-sim
DiffDrive starts at identity instead: the two agree for a spawn at the origin, the default).

It is a plain :class:`~dg_common.node.DgNode`, not a lifecycle actuator: it simulates the
robot (the thing that moves), it does not command one; the safety behaviour it models (the
command timeout) belongs to the simulated motor driver and must work whether or not anyone
manages its lifecycle, just as Gazebo's does.

Publisher QoS equals ros_gz_bridge's (``rclcpp::QoS(KeepLast(10))``: reliable, volatile,
depth 10), so subscribers see the same offers in both worlds.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from geometry_msgs.msg import TransformStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.time import Time
from sensor_msgs.msg import NavSatFix, NavSatStatus
from tf2_msgs.msg import TFMessage

from dg_common.diagnostics import OK
from dg_common.geodesy import Datum
from dg_common.geometry import quaternion_from_yaw
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.qos import BRIDGE_PUB_QOS, COMMAND_SUB_QOS
from dg_common.validation import InvalidInput, require_finite
from dg_common.watchdog import Watchdog
from dg_sim.ground_vehicle.bridge_config import BridgeConfigError, load_ground_vehicle_topics
from dg_sim.ground_vehicle.kinematics import (
    VARIANCE_FLOOR,
    DiffDriveModel,
    DriveLimits,
    GnssModel,
    OdometryNoise,
    Pose2D,
)

#: Spawn pose and drive limits: the kinematic model's defaults.
_pose = partial(core_default, Pose2D)
_limits = partial(core_default, DriveLimits)
SCHEMA = (
    ParamSpec("bridge_config", "str",
              "ros_gz_bridge YAML naming the vehicle's ROS topics (config/ground_vehicle_bridge"
              ".yaml)", read_only=True),
    ParamSpec("model_name", "str", "Gazebo model name in the bridge's gz topics",
              default="ugv", read_only=True),
    ParamSpec("rate_hz", "float", "simulation step and odometry rate [Hz]", default=50.0,
              min=1.0, max=1000.0, read_only=True),
    ParamSpec("gnss_rate_hz", "float", "GNSS fix rate [Hz]", default=5.0, min=0.1, max=100.0,
              read_only=True),
    ParamSpec("cmd_timeout_s", "float", "stop when no valid cmd_vel came for this long [s]",
              default=0.5, min=0.01, max=60.0, read_only=True),
    ParamSpec("initial_x_m", "float", "spawn position x (east) in world and odom [m]",
              default=_pose("x_m"), min=-1e5, max=1e5, read_only=True),
    ParamSpec("initial_y_m", "float", "spawn position y (north) in world and odom [m]",
              default=_pose("y_m"), min=-1e5, max=1e5, read_only=True),
    ParamSpec("initial_yaw_rad", "float", "spawn heading, counter-clockwise from east [rad]",
              default=_pose("yaw_rad"), min=-3.15, max=3.15, read_only=True),
    ParamSpec("speed_max_mps", "float", "forward speed limit [m/s]",
              default=_limits("speed_max_mps"), min=0.0, max=50.0, read_only=True),
    ParamSpec("speed_min_mps", "float", "reverse speed limit [m/s] (<= 0)",
              default=_limits("speed_min_mps"), min=-50.0, max=0.0, read_only=True),
    ParamSpec("yaw_rate_max_radps", "float", "yaw rate limit [rad/s]",
              default=_limits("yaw_rate_max_radps"), min=0.01, max=20.0, read_only=True),
    ParamSpec("accel_max_mps2", "float", "linear acceleration limit [m/s^2]",
              default=_limits("accel_max_mps2"), min=0.01, max=50.0, read_only=True),
    ParamSpec("yaw_accel_max_radps2", "float", "yaw acceleration limit [rad/s^2]",
              default=_limits("yaw_accel_max_radps2"), min=0.01, max=100.0, read_only=True),
    ParamSpec("odom_speed_sigma_mps", "float", "wheel odometry speed noise sigma [m/s]",
              default=0.01, min=0.0, max=10.0, read_only=True),
    ParamSpec("odom_yaw_rate_sigma_radps", "float", "wheel odometry yaw rate noise [rad/s]",
              default=0.005, min=0.0, max=10.0, read_only=True),
    ParamSpec("gnss_horizontal_sigma_m", "float", "GNSS east/north noise sigma [m]",
              default=0.3, min=0.0, max=100.0, read_only=True),
    ParamSpec("gnss_vertical_sigma_m", "float", "GNSS up noise sigma [m]", default=0.5,
              min=0.0, max=100.0, read_only=True),
    ParamSpec("seed", "int", "seed of the odometry and GNSS noise", default=0, min=0,
              max=2**31 - 1, read_only=True),
    ParamSpec("datum_latitude_deg", "float", "latitude of the world origin [deg]",
              default=47.3977, min=-89.0, max=89.0, read_only=True),
    ParamSpec("datum_longitude_deg", "float", "longitude of the world origin [deg]",
              default=8.5456, min=-180.0, max=180.0, read_only=True),
    ParamSpec("datum_altitude_m", "float", "WGS-84 altitude of the world origin [m]",
              default=488.0, min=-1000.0, max=10000.0, read_only=True),
    ParamSpec("world_frame_id", "str", "frame of the ground truth", default="world",
              read_only=True),
    ParamSpec("odom_frame_id", "str", "odometry frame (REP-105)", default="odom",
              read_only=True),
    ParamSpec("base_frame_id", "str", "vehicle body frame (REP-105)", default="base_link",
              read_only=True),
    ParamSpec("navsat_frame_id", "str", "frame of the GNSS antenna", default="base_link",
              read_only=True),
)


def _diag6(values: tuple[float, ...]) -> list[float]:
    """Row-major 6x6 covariance with ``values`` on the diagonal."""
    cov = np.zeros((6, 6))
    np.fill_diagonal(cov, values)
    return cov.ravel().tolist()


class GroundVehicleNode(DgNode):
    """Steps :class:`DiffDriveModel` on a ROS-clock timer and publishes its sensors."""

    def __init__(self, **kwargs: Any) -> None:
        """Read parameters and the bridge config, create the model, topics and timer.

        Raises:
            ParameterError: on an invalid parameter or bridge config.

        """
        super().__init__("ground_vehicle", SCHEMA, **kwargs)
        p = self.params
        try:
            topics = load_ground_vehicle_topics(p.bridge_config, p.model_name)
            limits = DriveLimits(p.speed_max_mps, p.speed_min_mps, p.yaw_rate_max_radps,
                                 p.accel_max_mps2, p.yaw_accel_max_radps2)
            datum = Datum(p.datum_latitude_deg, p.datum_longitude_deg, p.datum_altitude_m)
        except BridgeConfigError as exc:
            raise ParameterError(f"parameter 'bridge_config': {exc}") from None
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
        odom_rng, gnss_rng = (np.random.default_rng(s)
                              for s in np.random.SeedSequence(p.seed).spawn(2))
        self.model = DiffDriveModel(
            limits, Pose2D(p.initial_x_m, p.initial_y_m, p.initial_yaw_rad),
            OdometryNoise(p.odom_speed_sigma_mps, p.odom_yaw_rate_sigma_radps), odom_rng)
        self.gnss = GnssModel(datum, p.gnss_horizontal_sigma_m, p.gnss_vertical_sigma_m,
                              gnss_rng)

        self.watchdog = Watchdog(p.cmd_timeout_s)
        self._cmd = (0.0, 0.0)  # last valid (speed [m/s], yaw rate [rad/s])
        self._last_step_s: float | None = None
        self._next_gnss_s: float | None = None
        cmd_topic = topics["cmd_vel"].ros_topic_name
        self.cmd_monitor = self.diagnostics.monitor(cmd_topic, p.cmd_timeout_s)
        self.create_subscription(Twist, cmd_topic, self.guarded(self._on_cmd), COMMAND_SUB_QOS)
        self._odom_pub = self.create_publisher(
            Odometry, topics["odom"].ros_topic_name, BRIDGE_PUB_QOS)
        self._truth_pub = self.create_publisher(
            Odometry, topics["ground_truth"].ros_topic_name, BRIDGE_PUB_QOS)
        self._tf_pub = self.create_publisher(
            TFMessage, topics["tf"].ros_topic_name, BRIDGE_PUB_QOS)
        self._navsat_pub = self.create_publisher(
            NavSatFix, topics["navsat"].ros_topic_name, BRIDGE_PUB_QOS)
        self.create_timer(1.0 / p.rate_hz, self.guarded(self._step))
        self.diagnostics.set_status(OK, "running")

    def _on_cmd(self, msg: Twist) -> None:
        now = self.now_s()
        try:
            require_finite("cmd_vel", (msg.linear.x, msg.linear.y, msg.linear.z,
                                       msg.angular.x, msg.angular.y, msg.angular.z))
        except InvalidInput as exc:
            self.reject(self.cmd_monitor, "non_finite", str(exc))
            return
        self._cmd = (msg.linear.x, msg.angular.z)
        self.watchdog.feed(now)
        self.cmd_monitor.tick(now)

    def _step(self) -> None:
        now = self.get_clock().now()
        now_s = now.nanoseconds * 1e-9
        if self._last_step_s is not None and now_s < self._last_step_s:
            self.get_logger().warning(
                f"clock went back from {self._last_step_s:.3f} s to {now_s:.3f} s; "
                "continuing from the current state")
            self._next_gnss_s = None
        elif self._last_step_s is not None and now_s > self._last_step_s:
            timed_out = self.watchdog.expired(now_s)
            speed_mps, yaw_rate_radps = (0.0, 0.0) if timed_out else self._cmd
            self.model.step(speed_mps, yaw_rate_radps, now_s - self._last_step_s)
            self.diagnostics.set_value("command", "timeout: stopping" if timed_out else "ok")
        self._last_step_s = now_s
        self._publish_state(now)
        if self._next_gnss_s is None or now_s >= self._next_gnss_s:
            self._publish_navsat(now)
            period_s = 1.0 / self.params.gnss_rate_hz
            nxt = (self._next_gnss_s or now_s) + period_s
            self._next_gnss_s = nxt if nxt > now_s else now_s + period_s

    def _publish_state(self, now: Time) -> None:
        p, m = self.params, self.model
        stamp = now.to_msg()
        odom = Odometry()
        odom.header.stamp = stamp
        odom.header.frame_id = p.odom_frame_id
        odom.child_frame_id = p.base_frame_id
        self._fill_pose(odom, m.odom_pose)
        odom.twist.twist.linear.x = m.odom_speed_mps
        odom.twist.twist.angular.z = m.odom_yaw_rate_radps
        floor = VARIANCE_FLOOR
        odom.pose.covariance = _diag6((m.odom_position_variance_m2, m.odom_position_variance_m2,
                                       floor, floor, floor, m.odom_yaw_variance_rad2))
        odom.twist.covariance = _diag6((max(m.noise.speed_sigma_mps ** 2, floor), floor, floor,
                                        floor, floor, max(m.noise.yaw_rate_sigma_radps ** 2,
                                                          floor)))
        self._odom_pub.publish(odom)

        tf = TransformStamped()
        tf.header = odom.header
        tf.child_frame_id = p.base_frame_id
        tf.transform.translation.x = odom.pose.pose.position.x
        tf.transform.translation.y = odom.pose.pose.position.y
        tf.transform.rotation = odom.pose.pose.orientation
        self._tf_pub.publish(TFMessage(transforms=[tf]))

        truth = Odometry()
        truth.header.stamp = stamp
        truth.header.frame_id = p.world_frame_id
        truth.child_frame_id = p.base_frame_id
        self._fill_pose(truth, m.pose)
        truth.twist.twist.linear.x = m.speed_mps
        truth.twist.twist.angular.z = m.yaw_rate_radps
        self._truth_pub.publish(truth)

    @staticmethod
    def _fill_pose(msg: Odometry, pose: Pose2D) -> None:
        msg.pose.pose.position.x = pose.x_m
        msg.pose.pose.position.y = pose.y_m
        q = msg.pose.pose.orientation
        q.x, q.y, q.z, q.w = quaternion_from_yaw(pose.yaw_rad)

    def _publish_navsat(self, now: Time) -> None:
        fix = self.gnss.fix(self.model.pose.x_m, self.model.pose.y_m)
        msg = NavSatFix()
        msg.header.stamp = now.to_msg()
        msg.header.frame_id = self.params.navsat_frame_id
        msg.status.status = NavSatStatus.STATUS_FIX
        msg.status.service = NavSatStatus.SERVICE_GPS
        msg.latitude, msg.longitude, msg.altitude = fix
        msg.position_covariance = list(self.gnss.covariance_enu_m2())
        msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
        self._navsat_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    """Run the ``ground_vehicle`` node."""
    raise SystemExit(run_node(GroundVehicleNode, args))
