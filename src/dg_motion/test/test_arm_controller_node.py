"""Node tests of ``arm_controller`` with real rclpy, DDS and the loop process (MockSystem).

The mock hardware mirrors position commands (ros2_control's mock_components), so what
``/joint_states`` reports is what the loop commanded: the checks below judge the executor's
output directly. One node (and one loop process) serves every check of a test.
"""

import math

import numpy as np
import pytest
from builtin_interfaces.msg import Duration
from control_msgs.action import FollowJointTrajectory
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dg_common.sim_time import stamp_to_s
from dg_common.testing import spin_until
from dg_motion.nodes.arm_controller_node import UR5_JOINTS, ArmControllerNode

RESULT = FollowJointTrajectory.Result
TIMEOUT_S = 0.3


def _dur(t_s):
    return Duration(sec=int(t_s), nanosec=int(round((t_s % 1.0) * 1e9)))


def trajectory(points, names=UR5_JOINTS):
    msg = JointTrajectory(joint_names=list(names))
    for t, q in points:
        msg.points.append(JointTrajectoryPoint(positions=[float(x) for x in q],
                                               time_from_start=_dur(t)))
    return msg


class Harness:
    def __init__(self, context):
        self.node = ArmControllerNode(context=context, parameter_overrides=[
            Parameter("command_timeout_s", value=TIMEOUT_S),
            Parameter("control_rate_hz", value=50.0),
            Parameter("state_publish_rate_hz", value=200.0),
            Parameter("realtime", value=False),
        ])
        self.io = Node("test_io", context=context)
        self.states = []
        self.io.create_subscription(JointState, "/joint_states", self.states.append,
                                    QoSProfile(depth=1000))
        self.traj_pub = self.io.create_publisher(JointTrajectory,
                                                 "/arm_controller/joint_trajectory", 1)
        self.client = ActionClient(self.io, FollowJointTrajectory,
                                   "/arm_controller/follow_joint_trajectory")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)

    def start(self):
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert self.client.wait_for_server(timeout_sec=5.0)
        assert spin_until(self.executor, lambda: len(self.states) > 5
                          and self.traj_pub.get_subscription_count() == 1, 5.0)

    def close(self):
        self.node.on_exit()
        self.executor.shutdown()
        self.client.destroy()
        self.node.destroy_node()
        self.io.destroy_node()

    def send_goal(self, msg, **fields):
        goal = FollowJointTrajectory.Goal(trajectory=msg, **fields)
        fut = self.client.send_goal_async(goal)
        assert spin_until(self.executor, fut.done, 5.0)
        handle = fut.result()
        assert handle.accepted
        return handle

    def result(self, handle, timeout_s=10.0):
        fut = handle.get_result_async()
        assert spin_until(self.executor, fut.done, timeout_s)
        return fut.result()

    def loop_time_s(self):
        """Loop time [s] of the latest /joint_states sample."""
        return stamp_to_s(self.states[-1].header.stamp)

    def spin_loop_until(self, t_s, timeout_s=5.0):
        """Spin until a /joint_states sample stamped at loop time ``t_s`` [s] or later came."""
        return spin_until(self.executor, lambda: self.loop_time_s() >= t_s, timeout_s)

    def velocities(self, start=0):
        return np.array([s.velocity for s in self.states[start:]])


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context)
    yield h
    h.close()


def test_goal_completes_within_tolerance_and_bad_goals_are_refused_with_reason(harness):
    h = harness
    h.start()
    target = [0.3, -0.4, 0.5, -0.2, 0.1, 0.2]
    res = h.result(h.send_goal(trajectory([(0.5, [0.15, -0.2, 0.25, -0.1, 0.05, 0.1]),
                                           (1.0, target)])))
    assert res.result.error_code == RESULT.SUCCESSFUL, res.result.error_string
    assert spin_until(h.executor, lambda: len(h.states) > 0, 1.0)
    q_final = np.array(h.states[-1].position)
    assert np.abs(q_final - target).max() <= 0.01   # the default goal tolerance

    # Mismatched joint names: INVALID_JOINTS, naming the joints; the arm stays put.
    n = len(h.states)
    names = [*UR5_JOINTS[:5], "gripper_joint"]
    res = h.result(h.send_goal(trajectory([(1.0, target)], names=names)))
    assert res.result.error_code == RESULT.INVALID_JOINTS
    assert "gripper_joint" in res.result.error_string
    assert "wrist_3_joint" in res.result.error_string
    # NaN position: INVALID_GOAL naming the problem.
    res = h.result(h.send_goal(trajectory([(1.0, [0.0, math.nan, 0, 0, 0, 0])])))
    assert res.result.error_code == RESULT.INVALID_GOAL
    assert "non-finite position" in res.result.error_string
    # Out of the elbow's position limit (+-pi).
    res = h.result(h.send_goal(trajectory([(1.0, [0, 0, 3.5, 0, 0, 0])])))
    assert res.result.error_code == RESULT.INVALID_GOAL
    assert "elbow_joint" in res.result.error_string
    # The loop's samples for 0.1 s after the last refusal: the arm stayed where it was.
    assert h.spin_loop_until(h.loop_time_s() + 0.1)
    held = np.array([s.position for s in h.states[n:]])
    assert np.abs(held - target).max() <= 0.01
    assert np.all(np.isfinite(held))


def test_topic_stream_that_stops_brakes_to_a_hold(harness):
    h = harness
    h.start()
    # A slow stream: each message asks to keep moving for 2 s, refreshed every 50 ms of loop
    # time (each sent once the node has taken the previous one).
    taken = h.node.topic_monitor
    for k in range(10):
        q = 0.02 * k
        h.traj_pub.publish(trajectory([(2.0, [q + 1.0] * 6)]))
        assert spin_until(h.executor, lambda k=k: taken.received == k + 1, 5.0)
        t_stream_end = h.loop_time_s() + 0.05   # when the next one is due
        assert h.spin_loop_until(t_stream_end)
    n = len(h.states)
    moving = np.abs(h.velocities(n - 3)).max()
    assert moving > 0.05  # it was moving when the stream stopped
    # No more messages: after the timeout the reference brakes to zero velocity and holds.
    assert spin_until(h.executor, lambda: h.states and max(abs(v) for v in h.states[-1].velocity)
                      == 0.0, 3.0)
    stamps = [s.header.stamp.sec + s.header.stamp.nanosec * 1e-9 for s in h.states[n:]]
    first_zero = next(t for t, s in zip(stamps, h.states[n:], strict=True)
                      if max(abs(v) for v in s.velocity) == 0.0)
    # Still moving until the timeout, stopped within the timeout + a jerk-limited brake.
    assert TIMEOUT_S - 0.06 < first_zero - t_stream_end < TIMEOUT_S + 1.0
    q_hold = np.array(h.states[-1].position)
    assert h.spin_loop_until(h.loop_time_s() + 0.2)  # it holds 0.2 s on
    assert np.abs(np.array(h.states[-1].position) - q_hold).max() == 0.0


def test_preemption_mid_motion_has_no_velocity_step(harness):
    h = harness
    h.start()
    h1 = h.send_goal(trajectory([(2.0, [1.0] * 6)]))
    assert spin_until(h.executor, lambda: h.states and h.states[-1].velocity[0] > 0.4, 3.0)
    n = len(h.states)
    h2 = h.send_goal(trajectory([(1.5, [-0.2] * 6)]))
    r1, r2 = h.result(h1), h.result(h2)
    assert "preempted" in r1.result.error_string
    assert r2.result.error_code == RESULT.SUCCESSFUL, r2.result.error_string
    # Velocity changes between consecutive /joint_states samples stay bounded by what
    # continuous motion allows (no step): |dv| <= a_bound * dt with the samples' own dt.
    stamps = np.array([s.header.stamp.sec + s.header.stamp.nanosec * 1e-9
                       for s in h.states[n - 20:]])
    v = np.array([s.velocity for s in h.states[n - 20:]])
    dt = np.diff(stamps)
    ok = dt > 0
    accel = np.abs(np.diff(v, axis=0))[ok] / dt[ok, None]
    # A velocity step of the full speed (~0.75 rad/s) within one 5 ms sample would show as
    # >= 150 rad/s^2; the blended spline stays far below.
    assert accel.max() < 20.0, accel.max()
    assert np.sign(v[-1, 0]) <= 0 or abs(v[-1, 0]) < 1e-9


def test_default_params_file_is_complete_and_valid():
    import pathlib

    import rclpy
    import yaml
    from rclpy.context import Context

    params_file = pathlib.Path(__file__).resolve().parents[3] / "config" / "arm_controller.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file),
                                  "-p", "autostart:=false", "-p", "realtime:=false"])
    try:
        node = ArmControllerNode(context=ctx)
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.limits.names == tuple(keys["joints"])
        node.on_exit()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_bad_hardware_plugin_fails_configure_with_reason(ros_context, capfd):
    node = ArmControllerNode(context=ros_context, parameter_overrides=[
        Parameter("hardware_plugin", value="no_such_pkg.hw:Arm"),
        Parameter("realtime", value=False)])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "cannot import module 'no_such_pkg.hw'" in capfd.readouterr().err
    finally:
        node.destroy_node()
