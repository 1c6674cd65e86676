"""Node tests of ``waypoint_follower`` with real rclpy and DDS (wall clock, no sim time)."""

import math
import pathlib
import time

import pytest
import rclpy
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry, Path
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile

from dg_autonomy.nodes.waypoint_follower_node import WaypointFollowerNode
from dg_common.geometry import quaternion_from_yaw
from dg_common.qos import STATE_QOS
from dg_common.testing import spin_until
from dg_interfaces.msg import MissionProgress

CONTROL_RATE_HZ = 20.0
PERIOD_S = 1.0 / CONTROL_RATE_HZ
TIMEOUT_S = 0.2
#: Publish -> executor -> receive latency allowed on top of the contract [s].
LATENCY_S = 0.03


def twist_values(msg):
    return (msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z)


class Harness:
    """The follower plus a test node that publishes odometry/paths and records outputs."""

    def __init__(self, context, waypoints=(3.0, 0.0), **params):
        overrides = [Parameter("control_rate_hz", value=CONTROL_RATE_HZ),
                     Parameter("command_timeout_s", value=TIMEOUT_S),
                     Parameter("speed_mps", value=0.5)]
        if waypoints is not None:
            overrides.append(Parameter("waypoints", value=list(waypoints)))
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.follower = WaypointFollowerNode(context=context, parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        self.odom_pub = self.io.create_publisher(Odometry, "odom", 10)
        self.path_pub = self.io.create_publisher(Path, "waypoints", STATE_QOS)
        self.cmds = []       # (receive time [s] on the follower's clock, values)
        self.progress = []
        self.io.create_subscription(Twist, "cmd_vel", self._on_cmd, QoSProfile(depth=100))
        self.io.create_subscription(MissionProgress, "mission_progress",
                                    self.progress.append, STATE_QOS)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.follower)
        self.executor.add_node(self.io)
        self.pose = [0.0, 0.0, 0.0, 0.0]  # x, y, yaw, speed published as odometry

    def _on_cmd(self, msg):
        self.cmds.append((self.follower.now_s(), twist_values(msg)))

    def close(self):
        self.executor.shutdown()
        self.follower.destroy_node()
        self.io.destroy_node()

    def odom(self, x=None, frame="odom"):
        msg = Odometry()
        msg.header.stamp = self.io.get_clock().now().to_msg()
        msg.header.frame_id = frame
        msg.child_frame_id = "base_link"
        px, py, yaw, v = self.pose
        msg.pose.pose.position.x = px if x is None else x
        msg.pose.pose.position.y = py
        q = msg.pose.pose.orientation
        q.x, q.y, q.z, q.w = quaternion_from_yaw(yaw)
        msg.twist.twist.linear.x = v
        return msg

    def spin_until(self, condition, timeout_s, odom_rate_hz=0.0):
        """Spin (publishing odometry at ``odom_rate_hz`` if > 0) until condition() or timeout."""
        next_odom = time.monotonic()

        def publish_odom():
            nonlocal next_odom
            if odom_rate_hz > 0 and time.monotonic() >= next_odom:
                self.odom_pub.publish(self.odom())
                next_odom += 1.0 / odom_rate_hz

        return spin_until(self.executor, condition, timeout_s, each=publish_odom,
                          period_s=0.002)

    def start(self):
        assert self.follower.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.follower.trigger_activate() == TransitionCallbackReturn.SUCCESS
        # Discovery first: a message sent before the subscription matched would be lost.
        assert self.spin_until(lambda: self.odom_pub.get_subscription_count() == 1
                               and self.io.count_publishers("cmd_vel") == 1, 3.0)

    def moving(self):
        return bool(self.cmds) and self.cmds[-1][1][0] > 0.0

    def odom_handled_since(self, t_s):
        """True once the follower has taken a valid odometry message at or after ``t_s``."""
        now = self.follower.now_s()
        return now - self.follower.odom_monitor.age_s(now) >= t_s


@pytest.fixture
def harness_factory(ros_context):
    made = []

    def make(**kwargs):
        h = Harness(ros_context, **kwargs)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


def test_nan_odometry_is_rejected_and_logged_and_cmd_stays_finite(harness_factory, capfd):
    h = harness_factory()
    h.start()
    assert h.spin_until(h.moving, 3.0, odom_rate_hz=50.0)
    # The odometry stream goes on at 50 Hz, all NaN, until the follower has published a
    # command 3 periods past the command timeout counted from the last valid odometry.
    h.pose[0] = math.nan
    t_deadline = h.follower.now_s() + TIMEOUT_S + 3 * PERIOD_S
    assert h.spin_until(lambda: h.cmds[-1][0] >= t_deadline, 3.0, odom_rate_hz=50.0)
    assert h.follower.odom_monitor.rejected["non_finite"] >= 5
    assert all(math.isfinite(v) for _, values in h.cmds for v in values)
    assert h.cmds[-1][1] == (0.0,) * 6  # NaN never fed the watchdog: timed out to zero
    assert "rejected odom: odometry: non-finite value nan" in capfd.readouterr().err


def test_wrong_frame_and_stale_odometry_are_rejected(harness_factory):
    h = harness_factory()
    h.start()
    h.odom_pub.publish(h.odom(frame="map"))
    stale = h.odom()
    stale.header.stamp.sec -= 5
    h.odom_pub.publish(stale)
    rejected = h.follower.odom_monitor.rejected
    assert h.spin_until(lambda: rejected["frame"] == 1 and rejected["stale"] == 1, 2.0)
    assert not h.moving()


def test_path_with_nan_is_rejected_and_previous_plan_kept(harness_factory):
    h = harness_factory(waypoints=(3.0, 0.0, 3.0, 3.0))
    h.start()
    plan = h.follower.plan
    path = Path()
    path.header.frame_id = "odom"
    for x, y in ((1.0, 0.0), (math.nan, 2.0)):
        ps = PoseStamped()
        ps.pose.position.x, ps.pose.position.y = x, y
        path.poses.append(ps)
    h.path_pub.publish(path)
    assert h.spin_until(lambda: h.follower.path_monitor.rejected["non_finite"] == 1, 2.0)
    assert h.follower.plan is plan
    # A valid path replaces the plan.
    path.poses[1].pose.position.x = 1.0
    h.path_pub.publish(path)
    assert h.spin_until(lambda: h.follower.plan is not plan, 2.0)
    assert h.follower.plan.waypoints.tolist() == [[1.0, 0.0], [1.0, 2.0]]


@pytest.mark.parametrize("waypoints, reason", [
    ((1.0, math.nan), "not finite"),
    ((1.0, 2.0, math.inf, 0.0), "not finite"),
    ((1.0, 2.0, 3.0), "pairs"),
])
def test_bad_waypoints_param_prevents_configure_without_crash(harness_factory, capfd,
                                                              waypoints, reason):
    h = harness_factory(waypoints=waypoints)
    assert h.follower.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert h.follower._state_machine.current_state[1] == "unconfigured"
    err = capfd.readouterr().err
    assert "configure failed: parameter 'waypoints'" in err and reason in err
    # Still alive: a valid value set now is accepted on the next configure.
    h.follower.set_parameters([Parameter("waypoints", value=[1.0, 0.0])])
    assert h.follower.trigger_configure() == TransitionCallbackReturn.SUCCESS


def test_bad_waypoints_with_autostart_does_not_crash(harness_factory):
    h = harness_factory(waypoints=(math.nan, 0.0), autostart=True)
    assert h.follower._state_machine.current_state[1] == "unconfigured"


def test_setting_nan_waypoints_at_runtime_is_refused(harness_factory):
    h = harness_factory()
    result = h.follower.set_parameters([Parameter("waypoints", value=[0.0, math.nan])])[0]
    assert not result.successful and "not finite" in result.reason


def test_cmd_becomes_zero_within_timeout_after_odometry_stops(harness_factory):
    h = harness_factory()
    h.start()
    assert h.spin_until(h.moving, 3.0, odom_rate_hz=50.0)
    h.odom_pub.publish(h.odom())
    t_last_odom = h.follower.now_s()
    n_before = len(h.cmds)
    assert h.spin_until(lambda: h.cmds[-1][1] == (0.0,) * 6, 2.0)
    t_zero = next(t for t, v in h.cmds[n_before:] if v == (0.0,) * 6)
    assert TIMEOUT_S - PERIOD_S < t_zero - t_last_odom <= TIMEOUT_S + PERIOD_S + LATENCY_S
    n_zero = len(h.cmds)
    # The safe output keeps coming every period ...
    assert h.spin_until(lambda: len(h.cmds) >= n_zero + 4, 2.0)
    assert all(v == (0.0,) * 6 for _, v in h.cmds[n_zero - 1:])  # ... and stays exactly zero
    holding = [m for m in h.progress if m.state == MissionProgress.STATE_HOLDING]
    assert holding and holding[-1].total == 1


def test_deactivate_publishes_zero(harness_factory):
    h = harness_factory()
    h.start()
    assert h.spin_until(h.moving, 3.0, odom_rate_hz=50.0)
    n = len(h.cmds)
    assert h.follower.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    # Odometry keeps coming; a control timer still running would command motion again
    # within the 4 periods after which the follower is still taking odometry.
    t_deactivated = h.follower.now_s()
    assert h.spin_until(lambda: h.odom_handled_since(t_deactivated + 4 * PERIOD_S), 2.0,
                        odom_rate_hz=50.0)
    after = [v for _, v in h.cmds[n:]]
    assert after and after[-1] == (0.0,) * 6
    assert h.progress[-1].state == MissionProgress.STATE_HOLDING


def test_follows_waypoints_to_success_in_closed_loop(harness_factory):
    h = harness_factory(waypoints=(0.6, 0.0, 0.6, 0.4), acceptance_radius_m=0.1,
                        lookahead_min_m=0.3)
    h.start()
    state = {"t": None}

    def integrate():
        # The test's vehicle: a unicycle that does what the last command says.
        now = h.follower.now_s()
        if state["t"] is not None and h.cmds:
            dt = now - state["t"]
            v, w = h.cmds[-1][1][0], h.cmds[-1][1][5]
            x, y, yaw, _ = h.pose
            h.pose = [x + v * dt * math.cos(yaw), y + v * dt * math.sin(yaw), yaw + w * dt, v]
        state["t"] = now
        return bool(h.progress) and h.progress[-1].state == MissionProgress.STATE_SUCCEEDED

    assert h.spin_until(integrate, 10.0, odom_rate_hz=50.0)
    states = [m.state for m in h.progress]
    assert states[0] == MissionProgress.STATE_IDLE
    assert MissionProgress.STATE_RUNNING in states
    running = [m.completed for m in h.progress if m.state == MissionProgress.STATE_RUNNING]
    assert running == sorted(running) and max(running) == 1  # one message per waypoint
    assert h.progress[-1].completed == h.progress[-1].total == 2
    assert math.hypot(h.pose[0] - 0.6, h.pose[1] - 0.4) <= 0.1 + 0.05
    assert h.spin_until(lambda: h.cmds[-1][1] == (0.0,) * 6, 1.0, odom_rate_hz=50.0)


def test_diagnostics_report_stale_odometry(harness_factory):
    h = harness_factory()
    h.start()
    status = h.follower.diagnostics.status()  # odometry never came: stale
    assert status.level == b"\x01" and "odom stale" in status.message


def test_default_params_file_is_complete_and_valid():
    import yaml
    from rclpy.context import Context

    params_file = pathlib.Path(__file__).resolve().parents[3] / "config" / "waypoint_follower.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file)])
    try:
        node = WaypointFollowerNode(context=ctx)
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.plan.total == len(keys["waypoints"]) // 2
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
