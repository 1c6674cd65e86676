"""Node ``usv_localization``: GNSS + IMU EKF (:mod:`dg_autonomy.estimation.usv_ekf`) -> odometry.

Topics (absolute defaults, VRX WAM-V names; change them with the ``*_topic`` parameters):

* ``gnss_topic`` = ``/wamv/sensors/gps/gps/fix`` (sensor_msgs/NavSatFix, sub, SENSOR_QOS =
  best effort, which matches the reliable publishers of ros_gz_bridge and dg_sim's usv_sim as
  well as best-effort drivers). Converted to the local ENU ``map`` frame at the datum
  (``datum_*`` parameters, :mod:`dg_common.geodesy`), then fused with chi-square gating.
  Rejected, counted and logged (never fused): a fix with ``status < STATUS_FIX`` (``no_fix``:
  an outage), NaN/Inf latitude/longitude or covariance (``non_finite``), a latitude/longitude
  out of range or farther than ``max_gnss_range_m`` from the datum (``out_of_range``), a fix
  the gate refuses (``outlier``). A NaN altitude is allowed (REP: unknown altitude). The fix
  covariance's east/north block is used when its type is known (floored at
  ``gnss_sigma_floor_m``), else ``gnss_sigma_default_m``
  (:func:`~dg_autonomy.estimation.sensor_conditioning.gnss_covariance_en_m2`).
* ``imu_topic`` = ``/wamv/sensors/imu/imu/data`` (sensor_msgs/Imu, sub, SENSOR_QOS). Every
  valid sample predicts the filter by the time since the previous one (header stamps); the
  specific force is levelled with the IMU's roll and pitch
  (:func:`~dg_autonomy.estimation.sensor_conditioning.level_imu`) and its horizontal part
  drives the velocity (``use_accel``); the orientation's yaw (ENU, as VRX/gz and usv_sim
  report it) is fused as a heading (``use_imu_heading``) unless its covariance says it is
  absent (-1).
  Rejected: NaN/Inf (``non_finite``), a non-unit quaternion (``quaternion``), rates or
  accelerations out of range (``out_of_range``), a stamp not after the previous one
  (``stamp``).
* ``odom_topic`` = ``/odometry/filtered`` (nav_msgs/Odometry, pub, reliable depth 10): at the
  IMU rate once initialized (first GNSS fix), ``header.frame_id`` = ``map_frame_id``,
  ``child_frame_id`` = ``base_frame_id``; pose covariance from the filter (x, y, yaw and their
  correlations; z, roll and pitch are not estimated: variance ``UNESTIMATED_VARIANCE``), twist
  in the child frame (u, v, yaw rate).
* ``/tf`` (tf2_msgs/TFMessage, pub, reliable depth 100 like tf2's broadcaster):
  ``map -> base_link`` with each odometry message when ``publish_tf``.

REP-105 choice: a single EKF estimates the pose in ``map`` directly from GNSS, so this node
publishes ``map -> base_link`` and no separate ``odom`` frame (``odom`` = ``map`` here: the
continuous-odometry frame would only add a second filter without a wheel-odometry-like
source on a boat). Consumers use ``map`` (the navigator, the mission executive). Bringing in
a continuous ``odom`` chain later means publishing ``map -> odom`` instead, with no change to
the consumers of ``/odometry/filtered``.

Diagnostics (``/diagnostics``, 1 Hz): ``gnss_accepted``, ``gnss_rejected`` (all reasons, per
reason on the topic monitor), ``gnss_outage`` (true when no fix was fused for
``gnss_timeout_s``: dead reckoning), ``time_since_gnss_s``, ``position_sigma_m``,
``covariance_trace`` (of the x, y, yaw block), ``resets``; the level is WARN while waiting
for the first fix or during an outage, ERROR when the IMU is stale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from geometry_msgs.msg import TransformStamped
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Imu, NavSatFix, NavSatStatus
from tf2_msgs.msg import TFMessage

from dg_autonomy.estimation.sensor_conditioning import (
    gnss_covariance_en_m2,
    heading_sigma_rad,
    level_imu,
)
from dg_autonomy.estimation.usv_ekf import PSI, EkfInputError, U, UsvEkf, UsvEkfConfig, V, X, Y
from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.geodesy import Datum, GeodesyError, geodetic_to_enu
from dg_common.geometry import quaternion_from_yaw
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.qos import SENSOR_QOS
from dg_common.sim_time import stamp_to_s
from dg_common.validation import InvalidInput, require_finite

#: Variance reported for quantities this 2-D filter does not estimate (z, roll, pitch).
UNESTIMATED_VARIANCE = 1e6
#: Rates and accelerations beyond these are not a boat's [rad/s], [m/s^2].
MAX_RATE_RADPS = 20.0
MAX_ACCEL_MPS2 = 100.0

_F = "float"
_ekf = partial(core_default, UsvEkfConfig)  # the filter's defaults
SCHEMA = (
    ParamSpec("gnss_topic", "str", "GNSS fix topic", default="/wamv/sensors/gps/gps/fix",
              read_only=True),
    ParamSpec("imu_topic", "str", "IMU topic", default="/wamv/sensors/imu/imu/data",
              read_only=True),
    ParamSpec("odom_topic", "str", "filtered odometry topic", default="/odometry/filtered",
              read_only=True),
    ParamSpec("map_frame_id", "str", "world frame (ENU at the datum)", default="map",
              read_only=True),
    ParamSpec("base_frame_id", "str", "boat body frame", default="base_link", read_only=True),
    ParamSpec("publish_tf", "bool", "broadcast map -> base_link on /tf", default=True,
              read_only=True),
    ParamSpec("datum_latitude_deg", _F, "latitude of the map origin [deg]", default=47.3977,
              min=-89.0, max=89.0, read_only=True),
    ParamSpec("datum_longitude_deg", _F, "longitude of the map origin [deg]", default=8.5456,
              min=-180.0, max=180.0, read_only=True),
    ParamSpec("datum_altitude_m", _F, "WGS-84 altitude of the map origin [m]", default=488.0,
              min=-1000.0, max=10000.0, read_only=True),
    ParamSpec("max_gnss_range_m", _F, "reject fixes farther than this from the datum [m]",
              default=50_000.0, min=1.0, max=1e7, read_only=True),
    ParamSpec("gnss_sigma_default_m", _F, "fix sigma when its covariance is unknown [m]",
              default=2.0, min=0.01, max=1000.0, read_only=True),
    ParamSpec("gnss_sigma_floor_m", _F, "lower bound of the fix sigma [m]", default=0.3,
              min=0.001, max=1000.0, read_only=True),
    ParamSpec("gnss_lever_arm_m", "float[]", "GNSS antenna in base_link (x fwd, y left) [m]",
              default=_ekf("gnss_lever_arm_m"), min_len=2, max_len=2, min=-100.0, max=100.0,
              read_only=True),
    ParamSpec("gnss_timeout_s", _F, "no fused fix for this long = GNSS outage [s]",
              default=2.0, min=0.01, max=3600.0, read_only=True),
    ParamSpec("gnss_gate_chi2", _F, "NIS gate of a fix (2 DOF; 13.8 = 99.9 %)",
              default=_ekf("gnss_gate_chi2"), min=1.0, max=1e6, read_only=True),
    ParamSpec("max_consecutive_rejections", "int",
              "gated fixes in a row before the filter re-initializes on GNSS",
              default=_ekf("max_consecutive_rejections"), min=1, max=100000, read_only=True),
    ParamSpec("use_accel", "bool", "drive the velocity with the levelled accelerometer",
              default=True, read_only=True),
    ParamSpec("use_imu_heading", "bool", "fuse the IMU orientation's yaw", default=True,
              read_only=True),
    ParamSpec("heading_sigma_floor_rad", _F, "lower bound of the heading sigma [rad]",
              default=0.01, min=1e-5, max=10.0, read_only=True),
    ParamSpec("heading_gate_chi2", _F, "NIS gate of a heading (1 DOF; 10.8 = 99.9 %)",
              default=_ekf("heading_gate_chi2"), min=1.0, max=1e6, read_only=True),
    ParamSpec("imu_timeout_s", _F, "IMU silent this long = stale (ERROR) [s]", default=0.5,
              min=0.001, max=3600.0, read_only=True),
    ParamSpec("max_imu_gap_s", _F, "longest IMU gap predicted over; longer gaps restart the "
              "IMU clock [s]", default=1.0, min=0.001, max=60.0, read_only=True),
    ParamSpec("gyro_noise_radps", _F, "gyro white noise [rad/s/sqrt(Hz)]",
              default=_ekf("gyro_noise_radps"), min=0.0, max=10.0, read_only=True),
    ParamSpec("gyro_bias_walk", _F, "gyro bias random walk [rad/s/sqrt(s)]",
              default=_ekf("gyro_bias_walk"), min=0.0, max=10.0, read_only=True),
    ParamSpec("accel_noise_mps2", _F, "accelerometer noise incl. wave motion "
              "[m/s^2/sqrt(Hz)]", default=_ekf("accel_noise_mps2"), min=0.0, max=100.0,
              read_only=True),
    ParamSpec("accel_bias_walk", _F, "accelerometer bias random walk [m/s^2/sqrt(s)]",
              default=_ekf("accel_bias_walk"), min=0.0, max=10.0, read_only=True),
    ParamSpec("velocity_walk_mps", _F, "surge random walk without accelerometer "
              "[m/s/sqrt(s)]", default=_ekf("velocity_walk_mps"), min=0.0, max=100.0,
              read_only=True),
    ParamSpec("sway_walk_mps", _F, "sway random walk without accelerometer [m/s/sqrt(s)]",
              default=_ekf("sway_walk_mps"), min=0.0, max=100.0, read_only=True),
)


class UsvLocalizationNode(DgNode):
    """EKF localization of the survey boat (see the module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node, its filter, subscriptions and publishers."""
        super().__init__("usv_localization", SCHEMA, **kwargs)
        p = self.params
        try:
            self.datum = Datum(p.datum_latitude_deg, p.datum_longitude_deg, p.datum_altitude_m)
            config = UsvEkfConfig(
                gyro_noise_radps=p.gyro_noise_radps, gyro_bias_walk=p.gyro_bias_walk,
                accel_noise_mps2=p.accel_noise_mps2, accel_bias_walk=p.accel_bias_walk,
                velocity_walk_mps=p.velocity_walk_mps, sway_walk_mps=p.sway_walk_mps,
                gnss_gate_chi2=p.gnss_gate_chi2,
                heading_gate_chi2=p.heading_gate_chi2,
                max_consecutive_rejections=p.max_consecutive_rejections,
                gnss_lever_arm_m=(float(p.gnss_lever_arm_m[0]), float(p.gnss_lever_arm_m[1])))
        except (GeodesyError, ValueError) as exc:
            raise ParameterError(str(exc)) from None
        self.ekf = UsvEkf(config)
        self._last_imu_s: float | None = None
        self._last_imu_rx_s: float | None = None
        self.gnss_monitor = self.diagnostics.monitor(p.gnss_topic, p.gnss_timeout_s)
        self.imu_monitor = self.diagnostics.monitor(p.imu_topic, p.imu_timeout_s)
        self._odom_pub = self.create_publisher(Odometry, p.odom_topic, 10)
        self._tf_pub = (self.create_publisher(TFMessage, "/tf", QoSProfile(depth=100))
                        if p.publish_tf else None)
        self.create_subscription(NavSatFix, p.gnss_topic, self.guarded(self._on_gnss),
                                 SENSOR_QOS)
        self.create_subscription(Imu, p.imu_topic, self.guarded(self._on_imu), SENSOR_QOS)
        self._status_timer = self.create_timer(
            0.5, self.guarded(self._update_status),
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._update_status()

    # --- GNSS -----------------------------------------------------------------------------
    def _on_gnss(self, msg: NavSatFix) -> None:
        p = self.params
        mon = self.gnss_monitor
        if msg.status.status < NavSatStatus.STATUS_FIX:
            self.reject(mon, "no_fix", f"status {msg.status.status}: no fix")
            return
        try:
            require_finite("gnss", (msg.latitude, msg.longitude))
        except InvalidInput as exc:
            self.reject(mon, "non_finite", str(exc))
            return
        alt = msg.altitude if math.isfinite(msg.altitude) else self.datum.alt_m
        try:
            e, n, _ = geodetic_to_enu(self.datum, msg.latitude, msg.longitude, alt)
        except GeodesyError as exc:
            self.reject(mon, "out_of_range", f"gnss: {exc}")
            return
        if math.hypot(e, n) > p.max_gnss_range_m:
            self.reject(mon, "out_of_range", f"gnss: fix {math.hypot(e, n):.0f} m from the "
                        f"datum (limit {p.max_gnss_range_m:.0f} m)")
            return
        cov = gnss_covariance_en_m2(msg.position_covariance, msg.position_covariance_type,
                                    p.gnss_sigma_default_m, p.gnss_sigma_floor_m)
        if cov is None:
            self.reject(mon, "non_finite", "gnss: non-finite or negative covariance")
            return
        try:
            accepted = self.ekf.update_gnss(e, n, cov_m2=cov)
        except EkfInputError as exc:
            self.reject(mon, "invalid", str(exc))
            return
        if not accepted:
            self.reject(mon, "outlier", f"gnss: fix ({e:.1f}, {n:.1f}) m gated out "
                        f"(NIS {self.ekf.last_nis:.1f} > {p.gnss_gate_chi2:.1f})")
            return
        mon.tick(self.now_s())

    # --- IMU ------------------------------------------------------------------------------
    def _on_imu(self, msg: Imu) -> None:
        p = self.params
        mon = self.imu_monitor
        q, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        has_orientation = msg.orientation_covariance[0] != -1.0
        try:
            require_finite("imu", (w.x, w.y, w.z, a.x, a.y, a.z))
            if has_orientation:
                require_finite("imu orientation", (q.x, q.y, q.z, q.w,
                                                   msg.orientation_covariance[8]))
        except InvalidInput as exc:
            self.reject(mon, "non_finite", str(exc))
            return
        if max(abs(w.x), abs(w.y), abs(w.z)) > MAX_RATE_RADPS or \
                max(abs(a.x), abs(a.y), abs(a.z)) > MAX_ACCEL_MPS2:
            self.reject(mon, "out_of_range", f"imu: rate ({w.x:.3g}, {w.y:.3g}, {w.z:.3g}) "
                        f"rad/s or acceleration ({a.x:.3g}, {a.y:.3g}, {a.z:.3g}) m/s^2")
            return
        quaternion: Sequence[float] | None = None
        if has_orientation:
            quaternion = (q.x, q.y, q.z, q.w)
            norm = math.hypot(*quaternion)
            if abs(norm - 1.0) > 1e-2:
                self.reject(mon, "quaternion", f"imu: orientation norm {norm:.3f} is not 1")
                return
        now = self.now_s()
        stamp = stamp_to_s(msg.header.stamp)
        if stamp <= 0.0:
            stamp = now
        if self._last_imu_s is not None and stamp <= self._last_imu_s:
            self.reject(mon, "stamp", f"imu: stamp {stamp:.3f} s not after the previous "
                        f"{self._last_imu_s:.3f} s")
            return
        imu = level_imu((w.x, w.y, w.z), (a.x, a.y, a.z), quaternion)
        dt = None if self._last_imu_s is None else stamp - self._last_imu_s
        self._last_imu_s = stamp
        mon.tick(now)
        if dt is not None and dt <= p.max_imu_gap_s:
            try:
                self.ekf.predict(imu.yaw_rate_radps, imu.accel_xy_mps2 if p.use_accel else None,
                                 dt)
            except EkfInputError as exc:
                self.reject(mon, "out_of_range", str(exc))
                return
        elif dt is not None:
            self.get_logger().warning(f"imu gap of {dt:.2f} s: not predicted over",
                                      throttle_duration_sec=1.0)
        if has_orientation and p.use_imu_heading:
            self.ekf.update_heading(imu.yaw_rad, heading_sigma_rad(
                msg.orientation_covariance[8], p.heading_sigma_floor_rad))
        if self.ekf.initialized:
            self._publish(msg.header.stamp if stamp_to_s(msg.header.stamp) > 0.0
                          else self.get_clock().now().to_msg())

    # --- outputs --------------------------------------------------------------------------
    def _publish(self, stamp: Any) -> None:
        p = self.params
        x, cov = self.ekf.x, self.ekf.P
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(cov))):
            raise RuntimeError("EKF state is not finite")      # a bug: the guard logs it
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = p.map_frame_id
        msg.child_frame_id = p.base_frame_id
        pose = msg.pose.pose
        pose.position.x, pose.position.y = float(x[X]), float(x[Y])
        qx, qy, qz, qw = quaternion_from_yaw(float(x[PSI]))
        pose.orientation.x, pose.orientation.y = qx, qy
        pose.orientation.z, pose.orientation.w = qz, qw
        pc = np.zeros((6, 6))
        idx = (X, Y, None, None, None, PSI)          # odometry order x y z roll pitch yaw
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                if a is not None and b is not None:
                    pc[i, j] = cov[a, b]
        pc[2, 2] = pc[3, 3] = pc[4, 4] = UNESTIMATED_VARIANCE
        msg.pose.covariance = [float(v) for v in pc.ravel()]
        tw = msg.twist.twist
        tw.linear.x, tw.linear.y = float(x[U]), float(x[V])
        tw.angular.z = float(self.ekf.yaw_rate_radps)
        tc = np.zeros((6, 6))
        tc[:2, :2] = cov[np.ix_((U, V), (U, V))]
        tc[2, 2] = tc[3, 3] = tc[4, 4] = UNESTIMATED_VARIANCE
        tc[5, 5] = self.ekf.yaw_rate_variance_radps2()
        msg.twist.covariance = [float(v) for v in tc.ravel()]
        self._odom_pub.publish(msg)
        if self._tf_pub is not None:
            tf = TransformStamped()
            tf.header = msg.header
            tf.child_frame_id = p.base_frame_id
            tf.transform.translation.x, tf.transform.translation.y = pose.position.x, \
                pose.position.y
            tf.transform.rotation = pose.orientation
            self._tf_pub.publish(TFMessage(transforms=[tf]))

    def _update_status(self) -> None:
        p, ekf, d = self.params, self.ekf, self.diagnostics
        now = self.now_s()
        outage = ekf.initialized and ekf.time_since_gnss_s > p.gnss_timeout_s
        d.set_value("initialized", ekf.initialized)
        d.set_value("gnss_accepted", ekf.gnss_accepted)
        d.set_value("gnss_rejected", sum(self.gnss_monitor.rejected.values()))
        d.set_value("gnss_outliers", ekf.gnss_rejected)
        d.set_value("gnss_outage", outage)
        d.set_value("time_since_gnss_s", f"{ekf.time_since_gnss_s:.2f}")
        d.set_value("resets", ekf.reset_count)
        d.set_value("heading_aligned", ekf.aligned)
        if ekf.initialized:
            d.set_value("position_sigma_m", f"{ekf.position_sigma_m():.3f}")
            d.set_value("covariance_trace", f"{float(np.trace(ekf.P[:3, :3])):.4f}")
        if self.imu_monitor.stale(now):
            d.set_status(ERROR, "IMU stale: no prediction")
        elif not ekf.initialized:
            d.set_status(WARN, "waiting for the first GNSS fix")
        elif outage:
            d.set_status(WARN, f"GNSS outage: dead reckoning for {ekf.time_since_gnss_s:.1f} s "
                               f"(position sigma {ekf.position_sigma_m():.1f} m)")
        else:
            d.set_status(OK, "tracking")


def main(args: list[str] | None = None) -> None:
    """Run the ``usv_localization`` node."""
    raise SystemExit(run_node(UsvLocalizationNode, args))
