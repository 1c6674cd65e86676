"""Node tests of ``humanoid_controller`` with real rclpy and DDS (isolated domain).

The walking controller is replaced by a recording stand-in (:class:`FakeController`, the
same API) so that the checks judge the node's conversions, validation and wiring alone;
the real controller is exercised by the default-params test when its modules are present.
The test drives the node as the simulator's lockstep does: one joint-state message, then
wait for its command.
"""

import math
import pathlib

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist, WrenchStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from dg_common.sim_time import s_to_stamp
from dg_common.testing import spin_until
from dg_interfaces.msg import Footstep as FootstepMsg
from dg_interfaces.msg import WalkingState
from dg_motion.humanoid.types import LEG_JOINTS, Footstep, Mode, Side, WalkingCommand
from dg_motion.nodes.humanoid_controller_node import (
    CONTROLLER_SCHEMA,
    SCHEMA,
    HumanoidControllerNode,
)

REPO = pathlib.Path(__file__).resolve().parents[3]
DT = 0.005


class FakeController:
    """Records what the node hands over; targets = 2 q + 0.1 (order-revealing)."""

    joint_names = LEG_JOINTS

    def __init__(self, values):
        self.values = values
        self.mode = Mode.STANDING
        self.reason = "standing"
        self.sensors = []
        self.velocities = []
        self.goals = []
        self.stops = 0
        self.upright = True
        self.nan_targets = False

    def update(self, sensors):
        self.sensors.append(sensors)
        q = np.full(12, np.nan) if self.nan_targets else 2.0 * sensors.q + 0.1
        return WalkingCommand(
            q_target=q, mode=self.mode, reason=self.reason, support="left",
            com=np.array([0.1, 0.0, 0.78]), zmp=np.array([0.05, 0.09]),
            support_polygon=np.array([[0.0, 0.0], [0.2, 0.0], [0.2, 0.1]]),
            footsteps=[Footstep(Side.RIGHT, 0.3, -0.095, 0.0),
                       Footstep(Side.LEFT, 0.6, 0.095, 0.1)])

    def set_velocity(self, vx, vy, wz):
        if not all(math.isfinite(v) for v in (vx, vy, wz)):
            raise ValueError("non-finite")   # the node must never get here
        self.velocities.append((vx, vy, wz))
        return "vx 0.80 -> 0.30 m/s" if vx > 0.3 else ""

    def set_goal(self, x, y, yaw):
        if math.hypot(x, y) > 50.0:
            raise ValueError(f"goal {math.hypot(x, y):.1f} m away, beyond 50 m")
        self.goals.append((x, y, yaw))

    def stop(self):
        self.stops += 1

    def reset(self):
        if self.upright:
            self.mode = Mode.STANDING


class Harness:
    def __init__(self, context, **params):
        overrides = [Parameter("control_rate_hz", value=50.0),
                     *(Parameter(k, value=v) for k, v in params.items())]
        self.fakes = []

        def factory(values):
            self.fakes.append(FakeController(values))
            return self.fakes[-1]

        self.node = HumanoidControllerNode(controller_factory=factory, context=context,
                                           parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        self.commands, self.states = [], []
        self.io.create_subscription(Float64MultiArray, "/leg_position_controller/commands",
                                    self.commands.append, QoSProfile(depth=100))
        self.io.create_subscription(WalkingState, "/humanoid/walking_state",
                                    self.states.append, QoSProfile(depth=100))
        self.pubs = {topic: self.io.create_publisher(kind, topic, 10) for topic, kind in (
            ("/joint_states", JointState), ("/imu/data", Imu),
            ("/left_foot/wrench", WrenchStamped), ("/right_foot/wrench", WrenchStamped),
            ("/cmd_vel", Twist), ("/goal_pose", PoseStamped))}
        self.reset_client = self.io.create_client(Trigger, "/humanoid_controller/reset")
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)
        self.t = 1.0

    @property
    def fake(self):
        return self.fakes[-1]

    def start(self):
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert spin_until(self.executor, lambda: all(
            p.get_subscription_count() == 1 for p in self.pubs.values()), 5.0)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()

    def spin(self, condition, timeout_s=3.0):
        return spin_until(self.executor, condition, timeout_s)

    # --- inputs ---
    def imu(self, t=None, quat=(0.0, 0.0, 0.0, 1.0), frame="imu"):
        msg = Imu()
        msg.header.stamp, msg.header.frame_id = s_to_stamp(self.t if t is None else t), frame
        o = msg.orientation
        o.x, o.y, o.z, o.w = quat
        msg.angular_velocity.y = 0.02
        msg.linear_acceleration.z = 9.81
        n = self.node.mon_imu.received + sum(self.node.mon_imu.rejected.values())
        self.pubs["/imu/data"].publish(msg)
        assert self.spin(lambda: self.node.mon_imu.received
                         + sum(self.node.mon_imu.rejected.values()) > n)

    def wrenches(self, t=None, fz=(300.0, 250.0), frames=("l_sole", "r_sole")):
        for side, topic, f, frame in zip((Side.LEFT, Side.RIGHT),
                                         ("/left_foot/wrench", "/right_foot/wrench"),
                                         fz, frames, strict=True):
            msg = WrenchStamped()
            msg.header.stamp = s_to_stamp(self.t if t is None else t)
            msg.header.frame_id = frame
            msg.wrench.force.z = f
            msg.wrench.torque.x = 0.5
            mon = self.node.mon_feet[side]
            n = mon.received + sum(mon.rejected.values())
            self.pubs[topic].publish(msg)
            assert self.spin(lambda mon=mon, n=n: mon.received + sum(mon.rejected.values())
                             > n)

    def step(self, q=None, names=None, velocity=True):
        """One simulator step: IMU and wrenches, then the joint states, all stamped alike."""
        self.t += DT
        self.imu()
        self.wrenches()
        self.joints(q, names, velocity, t=self.t)

    def joints(self, q=None, names=None, velocity=True, t=None):
        """Publish one joint-state message; wait until the node used or rejected it."""
        self.t = self.t + DT if t is None else t
        names = list(names or LEG_JOINTS)
        q = np.arange(len(names)) * 0.01 if q is None else np.asarray(q, float)
        msg = JointState(name=names, position=[float(v) for v in q],
                         velocity=[0.5] * len(names) if velocity else [])
        msg.header.stamp = s_to_stamp(self.t)
        n = self.node.joint_messages
        self.pubs["/joint_states"].publish(msg)
        assert self.spin(lambda: self.node.joint_messages > n)

    def diag(self):
        return {kv.key: kv.value for kv in self.node.diagnostics.status().values}

    def call_reset(self):
        assert self.reset_client.wait_for_service(timeout_sec=5.0)
        fut = self.reset_client.call_async(Trigger.Request())
        assert self.spin(fut.done)
        return fut.result()


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context)
    yield h
    h.close()


def ready(h):
    h.start()
    h.imu()
    h.wrenches()


def test_each_joint_state_runs_one_period_with_targets_in_leg_order(harness):
    h = harness
    h.start()
    # Nothing runs before the IMU and both feet have reported.
    h.joints()
    assert h.fake.sensors == [] and h.commands == []
    assert "waiting for /imu/data" in h.node.diagnostics.status().message
    h.imu()
    h.wrenches()
    # joint_state_broadcaster order: any order, with other joints among them
    names = [*reversed(LEG_JOINTS[6:]), "neck_yaw", *LEG_JOINTS[:6]]
    q_by_name = {n: 0.01 * (i + 1) for i, n in enumerate(names)}
    for k in range(5):
        h.step(q=[q_by_name[n] + 0.001 * k for n in names], names=names)
    assert h.spin(lambda: len(h.commands) == 5 and len(h.states) == 5)
    s = h.fake.sensors[-1]
    q_leg = np.array([q_by_name[n] + 0.004 for n in LEG_JOINTS])
    np.testing.assert_allclose(s.q, q_leg)
    np.testing.assert_allclose(s.dq, 0.5)
    np.testing.assert_allclose(h.commands[-1].data, 2.0 * q_leg + 0.1)
    assert s.imu_valid and s.t == pytest.approx(h.t)
    np.testing.assert_allclose(s.imu_quat, [1.0, 0.0, 0.0, 0.0])    # (w, x, y, z)
    np.testing.assert_allclose(s.left_wrench, [0, 0, 300.0, 0.5, 0, 0])
    np.testing.assert_allclose(s.right_wrench, [0, 0, 250.0, 0.5, 0, 0])
    ws = h.states[-1]
    assert (ws.mode, ws.support, ws.header.frame_id) == ("standing", "left", "world")
    assert ws.header.stamp == s_to_stamp(h.t)
    assert (ws.com.x, ws.com.z, ws.zmp.y, ws.zmp.z) == (0.1, 0.78, 0.09, 0.0)
    assert [(p.x, p.y) for p in ws.support_polygon] == [(0.0, 0.0), (0.2, 0.0), (0.2, 0.1)]
    assert [(f.side, f.x, f.yaw) for f in ws.footsteps] == [
        (FootstepMsg.RIGHT, 0.3, 0.0), (FootstepMsg.LEFT, 0.6, 0.1)]
    # Without velocities they are differenced from the previous message.
    h.step(q=q_leg + 0.01, velocity=False)
    np.testing.assert_allclose(h.fake.sensors[-1].dq, 0.01 / DT, rtol=1e-6)


def test_bad_joint_states_send_nothing_and_are_counted(harness):
    h = harness
    ready(h)
    h.step()
    assert h.spin(lambda: len(h.commands) == 1)
    bad_q = np.zeros(12)
    bad_q[3] = math.nan
    h.joints(q=bad_q)                                   # NaN position
    h.joints(names=[*LEG_JOINTS[:11], "r_ankle"])       # a leg joint missing
    h.joints(t=h.t - 0.01)                              # older than the last
    assert dict(h.node.mon_joints.rejected) == {"non_finite": 1, "names": 1, "stale": 1}
    # The controller returning NaN targets: the state goes out, the command does not ...
    h.fake.nan_targets = True
    h.step()
    assert len(h.fake.sensors) == 2
    # ... as the next period's command, the next on the same topic, shows.
    h.fake.nan_targets = False
    h.step()
    assert h.spin(lambda: len(h.states) == 3 and len(h.commands) >= 2)
    assert len(h.fake.sensors) == 3 and len(h.commands) == 2
    np.testing.assert_allclose(h.commands[-1].data, 2.0 * h.fake.sensors[-1].q + 0.1)
    assert all(np.isfinite(c.data).all() for c in h.commands)
    d = h.diag()
    assert d["/joint_states rejected"] == "3" and d["dropped_commands"] == "1"
    assert d["/joint_states rejected names"] == "1"


def test_a_period_waits_for_the_imu_and_wrenches_of_its_step(harness):
    h = harness
    ready(h)
    h.step()
    assert len(h.fake.sensors) == 1
    # The joint states first, then the IMU and the wrenches stamped alike.
    h.t += DT
    h.joints(t=h.t)
    assert len(h.fake.sensors) == 1
    h.imu()                                    # (returns once the node has taken it)
    assert len(h.fake.sensors) == 1            # the wrenches are still missing
    h.wrenches(fz=(100.0, 500.0))
    assert len(h.fake.sensors) == 2 and h.fake.sensors[-1].t == pytest.approx(h.t)
    assert h.fake.sensors[-1].left_wrench[2] == 100.0
    # The IMU of a step never comes: the next joint states run that period with the latest.
    t1 = h.t + DT
    h.wrenches(t=t1)
    h.joints(t=t1)
    assert len(h.fake.sensors) == 2
    t2 = t1 + DT
    h.wrenches(t=t2)
    h.joints(t=t2)
    assert [s.t for s in h.fake.sensors[2:]] == [pytest.approx(t1)]
    assert h.fake.sensors[-1].imu_valid and h.node.late_periods == 1
    h.imu(t=t2)
    assert [s.t for s in h.fake.sensors[2:]] == [pytest.approx(t1), pytest.approx(t2)]
    assert h.spin(lambda: len(h.commands) == 4)


def test_lost_imu_and_stale_wrenches_reach_the_controller_as_invalid(ros_context):
    h = Harness(ros_context, sync_stamps=False)     # each period runs at once
    try:
        ready(h)
        h.joints()
        assert h.fake.sensors[-1].imu_valid
        # Fresh wrenches, IMU older than imu_timeout_s (0.05 s) in stamp time.
        t = h.t + 0.06
        h.wrenches(t=t)
        h.joints(t=t)
        assert not h.fake.sensors[-1].imu_valid
        assert np.isfinite(h.fake.sensors[-1].left_wrench).all()
        h.imu(t=t)
        h.joints()
        assert h.fake.sensors[-1].imu_valid
        # Wrenches older than state_timeout_s (0.1 s): NaN, a bad period for the controller.
        h.imu(t=t + 0.12)
        h.joints(t=t + 0.12)
        s = h.fake.sensors[-1]
        assert s.imu_valid and np.isnan(s.left_wrench).all() and np.isnan(s.right_wrench).all()
        # Invalid IMU messages are rejected and do not refresh it.
        h.imu(quat=(0.0, 0.0, 0.0, 2.0), t=t + 0.2)
        h.imu(quat=(0.0, math.nan, 0.0, 1.0), t=t + 0.2)
        h.imu(frame="pelvis", t=t + 0.2)
        h.wrenches(t=t + 0.2, frames=("r_sole", "l_sole"))
        h.joints(t=t + 0.2)
        assert not h.fake.sensors[-1].imu_valid
        assert dict(h.node.mon_imu.rejected) == {"quaternion": 1, "non_finite": 1,
                                                 "frame": 1}
        assert h.node.mon_feet[Side.LEFT].rejected["frame"] == 1
        assert len(h.fake.sensors) == 5
        assert all(np.isfinite(c.data).all() for c in h.commands)
    finally:
        h.close()


def test_velocity_and_goal_commands_are_validated(harness):
    h = harness
    ready(h)
    cmd_vel, goal = h.pubs["/cmd_vel"], h.pubs["/goal_pose"]
    mon_v, mon_g = h.node.mon_cmd_vel, h.node.mon_goal

    def send_twist(vx, vy=0.0, wz=0.0):
        n = mon_v.received + sum(mon_v.rejected.values())
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = vx, vy, wz
        cmd_vel.publish(msg)
        assert h.spin(lambda: mon_v.received + sum(mon_v.rejected.values()) > n)

    def send_goal(x, y, yaw, frame="world", quat=None):
        n = mon_g.received + sum(mon_g.rejected.values())
        msg = PoseStamped()
        msg.header.frame_id = frame
        msg.pose.position.x, msg.pose.position.y = x, y
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = quat or (0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
        goal.publish(msg)
        assert h.spin(lambda: mon_g.received + sum(mon_g.rejected.values()) > n)

    send_twist(math.nan)
    send_twist(0.2, math.inf)
    send_twist(20.0)                       # absurd: rejected, not clamped
    send_twist(0.1, wz=-9.0)
    assert h.fake.velocities == []
    assert dict(mon_v.rejected) == {"non_finite": 2, "absurd": 2}
    send_twist(0.8)                        # clamped by the controller: passed, reported
    send_twist(0.2, 0.05, 0.1)
    assert h.fake.velocities == [(0.8, 0.0, 0.0), (0.2, 0.05, 0.1)]
    assert h.diag()["last_clamp"] == "vx 0.80 -> 0.30 m/s"

    # The stream stops: after command_timeout_s (0.5 s) the walk is stopped, once.
    now = h.node.now_s()
    h.node.control_step(now + 0.3)
    assert h.fake.stops == 0
    h.node.control_step(now + 0.6)
    h.node.control_step(now + 0.7)
    assert h.fake.stops == 1

    send_goal(2.0, 1.0, 0.5, frame="map")
    send_goal(2.0, 1.0, 0.5, quat=(0.0, 0.0, 0.3, 0.3))
    send_goal(math.nan, 1.0, 0.5)
    send_goal(80.0, 0.0, 0.0)              # refused by the controller, with its reason
    assert h.fake.goals == []
    assert dict(mon_g.rejected) == {"frame": 1, "quaternion": 1, "non_finite": 1,
                                    "refused": 1}
    send_goal(2.0, 1.0, 0.5)
    assert h.fake.goals == [pytest.approx((2.0, 1.0, 0.5))]
    assert h.diag()["/goal_pose rejected refused"] == "1"


def test_reset_service_and_modes_on_diagnostics(harness):
    h = harness
    ready(h)
    h.fake.mode, h.fake.reason = Mode.FALLEN, "fall: pelvis tilt 70 deg"
    h.fake.upright = False
    h.step()
    status = h.node.diagnostics.status()
    assert status.level == bytes([2]) and "fallen: fall: pelvis tilt 70 deg" in status.message
    assert h.spin(lambda: len(h.states) == 1) and h.states[-1].mode == "fallen"
    res = h.call_reset()
    assert not res.success and "still fallen" in res.message
    h.fake.upright = True
    res = h.call_reset()
    assert res.success and res.message == "fallen -> standing"
    h.step()
    status = h.node.diagnostics.status()     # (input monitors may add WARN: wall time here)
    assert status.message.startswith("standing") and status.level != bytes([2])


def test_inactive_node_sends_nothing_and_refuses_commands(ros_context):
    h = Harness(ros_context)
    try:
        assert h.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert h.spin(lambda: h.pubs["/joint_states"].get_subscription_count() == 1)
        h.imu()
        h.wrenches()
        h.joints()
        msg = Twist()
        msg.linear.x = 0.2
        h.pubs["/cmd_vel"].publish(msg)
        assert h.spin(lambda: h.node.mon_cmd_vel.rejected["inactive"] == 1)
        assert h.fake.sensors == [] and h.fake.velocities == [] and h.commands == []
        assert not h.call_reset().success
    finally:
        h.close()


# --- parameters: one source for each default ------------------------------------------------
def _config_values():
    import yaml

    path = REPO / "config" / "humanoid_controller.yaml"
    return path, yaml.safe_load(path.read_text())["/**"]["ros__parameters"]


def test_params_file_keys_are_in_the_schema_with_valid_values():
    from dg_common.param_schema import validate

    _, values = _config_values()
    specs = {s.name: s for s in SCHEMA}
    assert [k for k in values if k not in specs and k not in (
        "autostart", "control_rate_hz", "command_timeout_s")] == []
    for k, v in values.items():
        if k in specs:
            assert validate(specs[k], v) == v, k


def test_every_controller_field_is_a_described_parameter_with_its_default():
    from dataclasses import fields

    from dg_motion.humanoid.controller import ControllerConfig
    from dg_motion.nodes.humanoid_controller_node import CONTROLLER_PARAMS

    names = [f.name for f in fields(ControllerConfig)]
    assert sorted(CONTROLLER_PARAMS) == sorted(names)      # described, with a range
    assert {s.name: s.default for s in CONTROLLER_SCHEMA} == {
        f.name: f.default for f in fields(ControllerConfig)}
    assert set(names) <= {s.name for s in SCHEMA}


def test_controller_gets_its_parameters_by_field_name(ros_context):
    from dataclasses import fields

    from dg_motion.humanoid.controller import ControllerConfig

    h = Harness(ros_context, com_height_m=0.75, ankle_strategy=False)
    try:
        assert h.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        values = h.fake.values
        assert sorted(values) == sorted(f.name for f in fields(ControllerConfig))
        config = ControllerConfig.from_params(values)
        assert (config.com_height_m, config.ankle_strategy) == (0.75, False)
        assert config.dt_s == ControllerConfig().dt_s
    finally:
        h.close()


def test_default_params_file_configures_the_real_controller():
    from dg_motion.robots.paths import SOURCE_ROBOTS_DIR

    if not (SOURCE_ROBOTS_DIR / "biped" / "biped.urdf").exists():
        pytest.skip("no biped URDF yet")
    import rclpy
    from rclpy.context import Context

    path, _ = _config_values()
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(path),
                                  "-p", "autostart:=false"])
    try:
        node = HumanoidControllerNode(context=ctx)
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.controller.mode is Mode.STANDING
        assert tuple(node.controller.joint_names) == LEG_JOINTS
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_refused_controller_parameters_fail_configure_with_reason(ros_context, capfd):
    from dg_common.param_schema import ParameterError

    def refuse(values):
        raise ParameterError(f"walking controller: no standing posture at "
                             f"{values['com_height_m']} m")

    node = HumanoidControllerNode(controller_factory=refuse, context=ros_context,
                                  parameter_overrides=[Parameter("com_height_m", value=1.4)])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert "no standing posture at 1.4 m" in capfd.readouterr().err
    finally:
        node.destroy_node()


# --- launch file ------------------------------------------------------------------------------
@pytest.mark.parametrize("args, labels", [
    ({"sim": "embedded"}, ["humanoid_controller", "humanoid_sim"]),
    ({"sim": "none"}, ["humanoid_controller"]),
])
def test_launch_file_resolves_per_world(tmp_path, args, labels):
    import os

    evaluator = pytest.importorskip("dg_bringup.launch_runner.evaluator")
    try:
        specs = evaluator.load_launch(REPO / "launch" / "humanoid.launch.xml",
                                      {**args, "config_dir": str(REPO / "config")},
                                      environ=os.environ, params_dir=tmp_path,
                                      warn=lambda _: None)
    except Exception as exc:  # noqa: BLE001 - an uninstalled workspace lacks the executables
        if "not found in package" in str(exc):
            pytest.skip(f"workspace not built: {exc}")
        raise
    assert sorted(s.label for s in specs) == labels
    written = "".join(p.read_text() for p in tmp_path.iterdir())
    assert f"use_sim_time: {'false' if args['sim'] == 'none' else 'true'}" in written
    assert "push_times_s" not in written       # no pushes unless asked


def test_launch_passes_pushes_to_the_simulator(tmp_path):
    import os

    import yaml

    evaluator = pytest.importorskip("dg_bringup.launch_runner.evaluator")
    try:
        specs = evaluator.load_launch(
            REPO / "launch" / "humanoid.launch.xml",
            {"config_dir": str(REPO / "config"), "push_times_s": "[6.0, 21.0]",
             "push_forces_n": "[0.0, 60.0, 0.0, 60.0, 0.0, 0.0]", "terrain": "steps"},
            environ=os.environ, params_dir=tmp_path, warn=lambda _: None)
    except Exception as exc:  # noqa: BLE001
        if "not found in package" in str(exc):
            pytest.skip(f"workspace not built: {exc}")
        raise
    assert sorted(s.label for s in specs) == ["humanoid_controller", "humanoid_sim"]
    sim = [yaml.safe_load(p.read_text())["/**"]["ros__parameters"] for p in tmp_path.iterdir()]
    sim = next(v for v in sim if "rtf" in v)
    assert sim["push_times_s"] == [6.0, 21.0] and len(sim["push_forces_n"]) == 6
    assert sim["terrain"] == "steps"
