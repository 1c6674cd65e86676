"""Node tests of ``usv_localization`` with real rclpy and DDS (wall clock, no sim time)."""

import math
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Imu, NavSatFix, NavSatStatus
from tf2_msgs.msg import TFMessage

from dg_autonomy.nodes.usv_localization_node import UsvLocalizationNode
from dg_common.geodesy import Datum, enu_to_geodetic
from dg_common.geometry import quaternion_from_yaw, yaw_from_quaternion
from dg_common.param_schema import ParameterError
from dg_common.testing import spin_until

DATUM = Datum(47.3977, 8.5456, 488.0)  # the node's (and usv_sim's) default datum
GNSS_TOPIC = "/wamv/sensors/gps/gps/fix"
IMU_TOPIC = "/wamv/sensors/imu/imu/data"


class Harness:
    """The node plus a test node that publishes sensors and records the outputs."""

    def __init__(self, context, **params):
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.node = UsvLocalizationNode(context=context, parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        # Reliable publishers, as ros_gz_bridge and usv_sim have.
        self.gnss_pub = self.io.create_publisher(NavSatFix, GNSS_TOPIC, 10)
        self.imu_pub = self.io.create_publisher(Imu, IMU_TOPIC, 10)
        self.odom, self.tf, self.diag = [], [], []
        self.io.create_subscription(Odometry, "/odometry/filtered", self.odom.append,
                                    QoSProfile(depth=100))
        self.io.create_subscription(TFMessage, "/tf", self.tf.append, QoSProfile(depth=100))
        self.io.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)
        self.truth = [10.0, -5.0, math.radians(30.0)]      # x, y, yaw of a moored boat
        self.gnss_enabled = True
        self.gnss_override = None                          # callable(msg) -> msg

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()

    def imu_msg(self, **fields):
        msg = Imu()
        msg.header.stamp = self.io.get_clock().now().to_msg()
        msg.header.frame_id = "base_link"
        o = msg.orientation
        o.x, o.y, o.z, o.w = quaternion_from_yaw(self.truth[2])
        msg.orientation_covariance[8] = 0.01 ** 2
        msg.linear_acceleration.z = 9.80665
        for k, v in fields.items():
            obj, attr = k.split("__")
            setattr(getattr(msg, obj), attr, v)
        return msg

    def gnss_msg(self, e=None, n=None):
        lat, lon, alt = enu_to_geodetic(DATUM, self.truth[0] if e is None else e,
                                        self.truth[1] if n is None else n, 0.0)
        msg = NavSatFix()
        msg.header.stamp = self.io.get_clock().now().to_msg()
        msg.header.frame_id = "base_link"
        msg.status.status = NavSatStatus.STATUS_FIX
        msg.latitude, msg.longitude, msg.altitude = lat, lon, alt
        msg.position_covariance = [0.25, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 1.0]
        msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
        return msg

    def spin(self, timeout_s, until):
        """Publish IMU (50 Hz) and GNSS (5 Hz) while spinning until ``until()`` holds."""
        next_imu = next_gnss = time.monotonic()

        def publish():
            nonlocal next_imu, next_gnss
            t = time.monotonic()
            if t >= next_imu:
                self.imu_pub.publish(self.imu_msg())
                next_imu += 1.0 / 50.0
            if self.gnss_enabled and t >= next_gnss:
                self.gnss_pub.publish(self.gnss_msg())
                next_gnss += 1.0 / 5.0

        return spin_until(self.executor, until, timeout_s, each=publish, period_s=0.002)

    def odometry_after(self, n_imu):
        """Spin until ``n_imu`` more odometry messages (one per IMU sample) have come."""
        n = len(self.odom)
        return self.spin(5.0, until=lambda: len(self.odom) >= n + n_imu)

    def start(self):
        assert self.spin(3.0, until=lambda: self.io.count_subscribers(GNSS_TOPIC) >= 1
                         and self.io.count_subscribers(IMU_TOPIC) >= 1
                         and self.io.count_publishers("/odometry/filtered") >= 1)
        assert self.spin(3.0, until=lambda: len(self.odom) > 20)

    def rejected(self, reason, monitor="gnss"):
        m = self.node.gnss_monitor if monitor == "gnss" else self.node.imu_monitor
        return m.rejected[reason]


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context)
    yield h
    h.close()


def test_odometry_and_tf_in_map_at_the_fix(harness):
    h = harness
    h.start()
    assert h.spin(3.0, until=lambda: len(h.odom) > 60)
    msg = h.odom[-1]
    assert msg.header.frame_id == "map" and msg.child_frame_id == "base_link"
    p = msg.pose.pose
    assert (p.position.x, p.position.y) == pytest.approx((10.0, -5.0), abs=0.5)
    q = p.orientation
    assert yaw_from_quaternion(q.x, q.y, q.z, q.w) == pytest.approx(math.radians(30), abs=0.02)
    cov = np.array(msg.pose.covariance).reshape(6, 6)
    assert 0.0 < cov[0, 0] < 0.25 and 0.0 < cov[5, 5] < 0.01 ** 2 * 2
    assert np.all(np.isfinite(cov)) and np.allclose(cov, cov.T)
    tfs = [t for m in h.tf for t in m.transforms]
    assert tfs and tfs[-1].header.frame_id == "map" and tfs[-1].child_frame_id == "base_link"
    assert tfs[-1].transform.translation.x == pytest.approx(p.position.x, abs=0.2)
    # Rate: one odometry per IMU sample.
    stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in h.odom[-40:]]
    assert 30.0 < (len(stamps) - 1) / (stamps[-1] - stamps[0]) < 70.0
    assert h.node.ekf.gnss_accepted > 5


def test_bad_gnss_is_rejected_with_a_reason_and_never_fused(harness):
    h = harness
    h.start()
    bad = []
    m = h.gnss_msg()
    m.latitude = math.nan
    bad.append(("non_finite", m))
    m = h.gnss_msg()
    m.latitude = 91.0
    bad.append(("out_of_range", m))
    m = h.gnss_msg()
    m.longitude = math.inf
    bad.append(("non_finite", m))
    m = h.gnss_msg()
    m.status.status = NavSatStatus.STATUS_NO_FIX
    bad.append(("no_fix", m))
    m = h.gnss_msg()
    m.position_covariance[0] = math.nan
    bad.append(("non_finite", m))
    bad.append(("out_of_range", h.gnss_msg(e=1e6)))          # 1000 km away
    bad.append(("outlier", h.gnss_msg(e=60.0)))              # a 50 m multipath jump
    h.gnss_enabled = False
    for reason, msg in bad:
        before = h.rejected(reason)
        h.gnss_pub.publish(msg)
        assert h.spin(2.0, until=lambda r=reason, b=before: h.rejected(r) > b), reason
    assert h.odometry_after(10)     # 10 IMU periods on, nothing bad was fused
    x = h.node.ekf.state
    assert (x[0], x[1]) == pytest.approx((10.0, -5.0), abs=0.5)
    assert np.all(np.isfinite([v for o in h.odom for v in o.pose.covariance]))
    # A NaN altitude only means "unknown": the fix is used.
    m = h.gnss_msg()
    m.altitude = math.nan
    before = h.node.ekf.gnss_accepted
    h.gnss_pub.publish(m)
    assert h.spin(2.0, until=lambda: h.node.ekf.gnss_accepted > before)


def test_bad_imu_is_rejected_and_odometry_stays_finite(harness):
    h = harness
    h.start()
    cases = [("non_finite", {"angular_velocity__z": math.nan}),
             ("non_finite", {"linear_acceleration__x": math.inf}),
             ("out_of_range", {"angular_velocity__z": 100.0}),
             ("quaternion", {"orientation__w": 3.0})]
    for reason, fields in cases:
        before = h.rejected(reason, "imu")
        h.imu_pub.publish(h.imu_msg(**fields))
        assert h.spin(2.0, until=lambda r=reason, b=before: h.rejected(r, "imu") > b), reason
    # A sample stamped before the last one is refused too.
    old = h.imu_msg()
    old.header.stamp.sec -= 10
    before = h.rejected("stamp", "imu")
    h.imu_pub.publish(old)
    assert h.spin(2.0, until=lambda: h.rejected("stamp", "imu") > before)
    assert h.odometry_after(10)     # 10 IMU periods on, the output is still finite
    assert h.node.diagnostics.callback_errors == 0
    last = h.odom[-1]
    vals = [last.pose.pose.position.x, last.pose.pose.position.y, *last.pose.covariance,
            last.twist.twist.linear.x, last.twist.twist.angular.z]
    assert all(math.isfinite(v) for v in vals)


def test_gnss_outage_dead_reckons_with_growing_covariance(harness):
    h = harness
    h.start()
    sigma0 = h.node.ekf.position_sigma_m()
    h.gnss_enabled = False
    # 3 s of dead reckoning, in the filter's own (IMU-stamp) time.
    assert h.spin(10.0, until=lambda: h.node.ekf.time_since_gnss_s >= 3.0)
    sigma1 = h.node.ekf.position_sigma_m()
    assert sigma1 > 1.5 * sigma0
    # Odometry keeps flowing through the outage, with the grown covariance.
    cov = np.array(h.odom[-1].pose.covariance).reshape(6, 6)
    assert cov[0, 0] + cov[1, 1] == pytest.approx(sigma1 ** 2, rel=0.2)
    # Diagnostics say so.
    h.diag.clear()

    def outage_reported():
        for arr in h.diag:
            for st in arr.status:
                vals = {kv.key: kv.value for kv in st.values}
                if vals.get("gnss_outage") == "True":
                    return st
        return None
    assert h.spin(2.5, until=lambda: outage_reported() is not None)
    st = outage_reported()
    assert st.level == b"\x01" or st.level == 1
    assert "outage" in st.message
    # Back from the outage.
    h.gnss_enabled = True
    assert h.spin(2.0, until=lambda: h.node.ekf.time_since_gnss_s < 0.5)
    assert h.node.ekf.position_sigma_m() < sigma1


def test_invalid_datum_is_a_parameter_error(ros_context):
    with pytest.raises(ParameterError, match="datum_latitude_deg"):
        UsvLocalizationNode(context=ros_context,
                            parameter_overrides=[Parameter("datum_latitude_deg", value=95.0)])
