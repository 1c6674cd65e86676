"""Node tests of ``usv_navigator`` with real rclpy and DDS (wall clock, no sim time)."""

import math
import pathlib
import time

import pytest
import rclpy
from geometry_msgs.msg import Point
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from std_msgs.msg import Float64
from usv_test_model import Boat

from dg_autonomy.nodes.usv_navigator_node import UsvNavigatorNode
from dg_common.geometry import quaternion_from_yaw
from dg_common.qos import STATE_QOS
from dg_common.testing import spin_until
from dg_interfaces.msg import Encounter, GuidanceCommand, NavigatorStatus, Target, TargetArray

CONTROL_RATE_HZ = 20.0
PERIOD_S = 1.0 / CONTROL_RATE_HZ
TIMEOUT_S = 0.25
LATENCY_S = 0.05
FWD_N, REV_N = 400.0, 150.0


class Harness:
    """The navigator plus a test node: odometry, commands and targets in, thrusts out."""

    def __init__(self, context, **params):
        overrides = [Parameter("control_rate_hz", value=CONTROL_RATE_HZ),
                     Parameter("command_timeout_s", value=TIMEOUT_S),
                     Parameter("thrust_fwd_max_n", value=FWD_N),
                     Parameter("thrust_rev_max_n", value=REV_N)]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.nav = UsvNavigatorNode(context=context, parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        self.odom_pub = self.io.create_publisher(Odometry, "odometry/filtered", 10)
        self.cmd_pub = self.io.create_publisher(GuidanceCommand, "navigator/command", STATE_QOS)
        self.targets_pub = self.io.create_publisher(TargetArray, "targets", 10)
        self.thrust = {"left": [], "right": []}   # (receive time, value)
        self.status, self.encounters = [], []
        for side in ("left", "right"):
            self.io.create_subscription(
                Float64, f"/wamv/thrusters/{side}/thrust",
                lambda m, s=side: self.thrust[s].append((self.nav.now_s(), m.data)),
                QoSProfile(depth=100))
        self.io.create_subscription(NavigatorStatus, "navigator/status", self.status.append, 10)
        self.io.create_subscription(Encounter, "collision_avoidance/encounters",
                                    self.encounters.append, 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.nav)
        self.executor.add_node(self.io)
        self.boat = Boat(fwd_n=FWD_N, rev_n=REV_N)

    def close(self):
        self.executor.shutdown()
        self.nav.destroy_node()
        self.io.destroy_node()

    def odom(self, x=None):
        b = self.boat
        msg = Odometry()
        msg.header.stamp = self.io.get_clock().now().to_msg()
        msg.header.frame_id = "map"
        msg.child_frame_id = "base_link"
        msg.pose.pose.position.x = float(b.x) if x is None else x
        msg.pose.pose.position.y = float(b.y)
        q = msg.pose.pose.orientation
        q.x, q.y, q.z, q.w = quaternion_from_yaw(float(b.psi))
        msg.twist.twist.linear.x, msg.twist.twist.linear.y = float(b.u), float(b.v)
        msg.twist.twist.angular.z = float(b.r)
        return msg

    def command(self, mode, path=(), speed=1.5, plan_id=1, avoid=False, station=(0.0, 0.0)):
        msg = GuidanceCommand(plan_id=plan_id, mode=mode, speed_mps=speed,
                              collision_avoidance=avoid)
        msg.header.frame_id = "map"
        msg.path = [Point(x=float(x), y=float(y)) for x, y in path]
        msg.station = Point(x=station[0], y=station[1])
        self.cmd_pub.publish(msg)

    def spin_until(self, condition, timeout_s, odom_rate_hz=0.0, simulate=False):
        """Spin (publishing odometry at ``odom_rate_hz``; integrating the boat) until true."""
        next_odom = last = time.monotonic()

        def play():
            nonlocal next_odom, last
            now = time.monotonic()
            if simulate:
                left = self.thrust["left"][-1][1] if self.thrust["left"] else 0.0
                right = self.thrust["right"][-1][1] if self.thrust["right"] else 0.0
                self.boat.step(left, right, now - last)
            last = now
            if odom_rate_hz > 0 and now >= next_odom:
                self.odom_pub.publish(self.odom())
                next_odom += 1.0 / odom_rate_hz

        return spin_until(self.executor, condition, timeout_s, each=play, period_s=0.002)

    def start(self):
        assert self.nav.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.nav.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert self.spin_until(lambda: self.odom_pub.get_subscription_count() == 1
                               and self.io.count_publishers("/wamv/thrusters/left/thrust") == 1
                               and self.cmd_pub.get_subscription_count() == 1, 3.0)

    def last_thrust(self):
        return (self.thrust["left"][-1][1] if self.thrust["left"] else None,
                self.thrust["right"][-1][1] if self.thrust["right"] else None)

    def pushing(self):
        left, right = self.last_thrust()
        return left is not None and right is not None and (left != 0.0 or right != 0.0)

    def odom_handled_since(self, t_s):
        """True once the navigator has taken a valid odometry message at or after ``t_s``."""
        now = self.nav.now_s()
        return now - self.nav.odom_monitor.age_s(now) >= t_s

    def all_thrust_ok(self):
        return all(math.isfinite(v) and -REV_N <= v <= FWD_N
                   for side in self.thrust.values() for _, v in side)


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context)
    yield h
    h.close()


def test_follows_a_two_point_path_in_closed_loop(harness):
    h = harness
    h.start()
    h.command(GuidanceCommand.MODE_FOLLOW_PATH, [(0.0, 0.0), (10.0, 0.0)], speed=2.0)
    done = h.spin_until(lambda: bool(h.status) and h.status[-1].finished, 12.0,
                        odom_rate_hz=50.0, simulate=True)
    assert done, f"not finished: boat at ({h.boat.x:.1f}, {h.boat.y:.1f})"
    assert h.boat.x > 7.0 and abs(h.boat.y) < 1.0
    assert h.status[-1].plan_id == 1 and h.status[-1].mode == GuidanceCommand.MODE_FOLLOW_PATH
    assert h.all_thrust_ok()


def test_nan_odometry_is_rejected_and_thrust_goes_to_zero(harness, capfd):
    h = harness
    h.start()
    h.command(GuidanceCommand.MODE_FOLLOW_PATH, [(0.0, 0.0), (50.0, 0.0)])
    assert h.spin_until(h.pushing, 3.0, odom_rate_hz=50.0)
    # The odometry stream goes on at 50 Hz, all NaN, until the navigator has published
    # thrust 3 periods past the command timeout counted from the last valid odometry.
    h.boat.s[0] = math.nan
    t_deadline = h.nav.now_s() + TIMEOUT_S + 3 * PERIOD_S
    assert h.spin_until(lambda: min(side[-1][0] for side in h.thrust.values()) >= t_deadline,
                        3.0, odom_rate_hz=50.0)
    assert h.nav.odom_monitor.rejected["non_finite"] >= 5
    assert h.last_thrust() == (0.0, 0.0)
    assert h.all_thrust_ok()
    assert "rejected odometry/filtered: odometry: non-finite value nan" in capfd.readouterr().err


def test_thrust_is_zero_within_the_timeout_after_odometry_stops(harness):
    h = harness
    h.start()
    h.command(GuidanceCommand.MODE_STATION_KEEP, station=(20.0, 0.0))
    assert h.spin_until(h.pushing, 3.0, odom_rate_hz=50.0)
    h.odom_pub.publish(h.odom())
    t_last = h.nav.now_s()
    n = len(h.thrust["left"])
    assert h.spin_until(lambda: h.last_thrust() == (0.0, 0.0), 2.0)
    t_zero = next(t for t, v in h.thrust["left"][n:] if v == 0.0)  # left pushes (20 m ahead)
    assert TIMEOUT_S - PERIOD_S < t_zero - t_last <= TIMEOUT_S + PERIOD_S + LATENCY_S
    n_zero = len(h.thrust["left"])
    assert h.spin_until(lambda: len(h.thrust["left"]) >= n_zero + 4, 2.0)  # it keeps coming
    assert all(v == 0.0 for _, v in h.thrust["left"][n_zero - 1:])


def test_bad_command_is_rejected_and_the_previous_kept(harness):
    h = harness
    h.start()
    h.command(GuidanceCommand.MODE_STATION_KEEP, station=(5.0, 0.0), plan_id=1)
    assert h.spin_until(lambda: h.nav._command is not None, 2.0)
    bad = [dict(mode=GuidanceCommand.MODE_FOLLOW_PATH, path=[(0.0, 0.0), (math.nan, 1.0)]),
           dict(mode=GuidanceCommand.MODE_FOLLOW_PATH, path=[(0.0, 0.0), (1.0, 1.0)],
                speed=-1.0),
           dict(mode=9)]
    for n, fields in enumerate(bad, start=1):
        h.command(plan_id=n + 1, **fields)  # one at a time: the subscription keeps the last
        assert h.spin_until(lambda n=n: h.nav.command_monitor.rejected["invalid"] == n, 2.0)
        assert h.nav._command.plan_id == 1


def test_encounter_published_for_a_target_on_collision_course(harness):
    h = harness
    h.start()
    h.boat.s[3] = 1.5   # moving east at 1.5 m/s (odometry only; not simulated)
    h.command(GuidanceCommand.MODE_FOLLOW_PATH, [(0.0, 0.0), (500.0, 0.0)], avoid=True)
    arr = TargetArray()
    arr.header.frame_id = "map"
    arr.header.stamp = h.io.get_clock().now().to_msg()
    t = Target(id="367000001", source=Target.SOURCE_FUSED, x_m=150.0, y_m=0.0,
               course_rad=math.pi, speed_mps=2.0, length_m=10.0, position_sigma_m=2.0)
    t.header.stamp = arr.header.stamp
    arr.targets = [t]

    def published():
        return any(e.target_id == "367000001" for e in h.encounters)

    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and not published():
        arr.header.stamp = t.header.stamp = h.io.get_clock().now().to_msg()
        h.targets_pub.publish(arr)
        h.spin_until(published, 0.1, odom_rate_hz=50.0)
    assert published()
    enc = next(e for e in h.encounters if e.target_id == "367000001")
    assert enc.situation == "head_on" and enc.rule == "14"
    assert math.isfinite(enc.cpa_m) and enc.range_m > 0.0
    assert h.spin_until(lambda: bool(h.status) and h.status[-1].avoiding, 2.0,
                        odom_rate_hz=50.0)
    assert h.all_thrust_ok()


def test_deactivate_publishes_zero(harness):
    h = harness
    h.start()
    h.command(GuidanceCommand.MODE_STATION_KEEP, station=(20.0, 0.0))
    assert h.spin_until(h.pushing, 3.0, odom_rate_hz=50.0)
    n = len(h.thrust["left"])
    assert h.nav.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    # Odometry keeps coming; a control timer still running would push again within the
    # 3 periods after which the navigator is still taking odometry.
    t_deactivated = h.nav.now_s()
    assert h.spin_until(lambda: h.odom_handled_since(t_deactivated + 3 * PERIOD_S), 2.0,
                        odom_rate_hz=50.0)
    assert len(h.thrust["left"]) > n and h.last_thrust() == (0.0, 0.0)


def test_default_params_file_is_complete_and_valid():
    import yaml
    from rclpy.context import Context

    params_file = pathlib.Path(__file__).resolve().parents[3] / "config" / "usv_navigator.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file)])
    try:
        node = UsvNavigatorNode(context=ctx)
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.pilot is not None and node.avoidance is not None
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
