"""Node tests of ``humanoid_sim`` with real rclpy: topics, frames, lockstep, timeout, pushes.

A test node plays the controller: it answers each ``/joint_states`` with the standing
targets, so the simulator's lockstep hand-shake runs as it does with the real controller.
"""

import math
from pathlib import Path

import pytest
from geometry_msgs.msg import PointStamped, WrenchStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray

from dg_common.param_schema import ParameterError
from dg_common.sim_time import stamp_to_s
from dg_common.testing import spin_until
from dg_motion.humanoid.types import LEG_JOINTS
from dg_sim.nodes.humanoid_sim_node import COMMAND_TOPIC, HumanoidSimNode

URDF = (Path(__file__).resolve().parents[2] / "dg_motion" / "config" / "robots" / "biped"
        / "biped.urdf")
STEP_S = 0.005
MASS_KG = 62.4      # biped.urdf


def make_sim(context, **params):
    overrides = [Parameter("urdf_path", value=str(URDF)), Parameter("rtf", value=50.0),
                 Parameter("command_timeout_s", value=2.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return HumanoidSimNode(context=context, parameter_overrides=overrides)


class Controller:
    """Records the simulator's outputs; answers each joint state with ``targets``."""

    def __init__(self, context, executor, sim, answer=True):
        self.node = Node("humanoid_test_controller", context=context)
        self.executor, self.sim = executor, sim
        self.targets = list(sim.sim.standing_posture())
        self.answer = answer
        self.cmd_pub = self.node.create_publisher(Float64MultiArray, COMMAND_TOPIC, 10)
        self.out = {}
        qos = QoSProfile(depth=5000)
        for key, cls, topic in (
                ("joints", JointState, "/joint_states"), ("imu", Imu, "/imu/data"),
                ("left", WrenchStamped, "/left_foot/wrench"),
                ("right", WrenchStamped, "/right_foot/wrench"),
                ("truth", Odometry, "/humanoid_sim/ground_truth"),
                ("com", PointStamped, "/humanoid_sim/com"),
                ("zmp", PointStamped, "/humanoid_sim/zmp"),
                ("fallen", Bool, "/humanoid_sim/fallen"),
                ("push", WrenchStamped, "/humanoid_sim/push"), ("clock", Clock, "/clock")):
            self.out[key] = []
            cb = self._on_joints if key == "joints" else self.out[key].append
            self.node.create_subscription(cls, topic, cb, qos)
        executor.add_node(sim)
        executor.add_node(self.node)

    def _on_joints(self, msg):
        self.out["joints"].append(msg)
        if self.answer:
            self.command(self.targets)

    def command(self, values):
        self.cmd_pub.publish(Float64MultiArray(data=[float(v) for v in values]))

    def spin_until(self, condition, timeout_s=20.0):
        if not spin_until(self.executor, condition, timeout_s, period_s=0.005):
            pytest.fail(f"condition not met within {timeout_s} s")

    def sim_time(self):
        return stamp_to_s(self.out["clock"][-1].clock) if self.out["clock"] else 0.0


@pytest.fixture
def rig(context, executor):
    created = []

    def build(answer=True, **params):
        sim = make_sim(context, **params)
        ctl = Controller(context, executor, sim, answer)
        created.append((sim, ctl))
        return sim, ctl
    yield build
    for sim, ctl in created:
        sim.on_exit()
        sim.destroy_node()
        ctl.node.destroy_node()


def test_publishes_sensor_and_truth_topics_in_lockstep(rig):
    sim, ctl = rig(push_times_s=[0.2], push_forces_n=[40.0, 0.0, 0.0], push_duration_s=0.05)
    ctl.spin_until(lambda: ctl.sim_time() >= 0.5)
    out = ctl.out
    # /clock goes out after a step's data: wait for each stream's sample of that step.
    t_s = ctl.sim_time()
    ctl.spin_until(lambda: out["fallen"] and all(
        out[k] and stamp_to_s(out[k][-1].header.stamp) >= t_s
        for k in ("joints", "imu", "left", "right", "truth", "com", "zmp")))
    js = out["joints"][-1]
    assert list(js.name) == list(LEG_JOINTS)
    assert len(js.position) == len(js.velocity) == len(js.effort) == 12
    assert all(math.isfinite(v) for v in (*js.position, *js.velocity, *js.effort))
    assert out["imu"][-1].header.frame_id == "imu"
    assert out["imu"][-1].linear_acceleration.z == pytest.approx(9.81, abs=0.5)
    assert (out["left"][-1].header.frame_id, out["right"][-1].header.frame_id) == \
        ("l_sole", "r_sole")
    fz = out["left"][-1].wrench.force.z + out["right"][-1].wrench.force.z
    assert fz == pytest.approx(MASS_KG * 9.81, rel=0.1)
    truth = out["truth"][-1]
    assert (truth.header.frame_id, truth.child_frame_id) == ("world", "pelvis")
    assert 0.7 < truth.pose.pose.position.z < 0.9
    assert out["com"][-1].header.frame_id == "world" and out["zmp"]
    assert not any(m.data for m in out["fallen"])
    # one state per clock step, stamped with the step's time (the first few may go out
    # before this test's subscriptions are matched); every state was answered
    stamps = [stamp_to_s(m.header.stamp) for m in out["joints"]]
    assert round(stamps[0] / STEP_S) * STEP_S == pytest.approx(stamps[0])
    assert all(b - a == pytest.approx(STEP_S) for a, b in zip(stamps, stamps[1:], strict=False))
    assert sim.missed_commands == 0
    # (before the first command the simulator does not wait, and the depth-1 command
    # subscription keeps only the newest of a burst: a few answers merge there)
    assert sim.commands_received >= 0.9 * len(stamps)
    # the push: its force when it starts (0.2 s), a zero wrench when it ends (0.25 s)
    pushes = [(stamp_to_s(m.header.stamp), m.wrench.force.x) for m in out["push"]]
    assert [f for _, f in pushes] == [40.0, 0.0]
    assert pushes[0][0] == pytest.approx(0.2) and pushes[1][0] == pytest.approx(0.25)
    assert out["push"][0].header.frame_id == "world"
    # the published names and types
    pubs = dict(ctl.node.get_publisher_names_and_types_by_node("humanoid_sim", "/"))
    assert pubs["/joint_states"] == ["sensor_msgs/msg/JointState"]
    assert pubs["/left_foot/wrench"] == ["geometry_msgs/msg/WrenchStamped"]
    assert pubs["/humanoid_sim/ground_truth"] == ["nav_msgs/msg/Odometry"]
    assert pubs["/clock"] == ["rosgraph_msgs/msg/Clock"]
    subs = dict(ctl.node.get_subscriber_names_and_types_by_node("humanoid_sim", "/"))
    assert subs[COMMAND_TOPIC] == ["std_msgs/msg/Float64MultiArray"]


def test_holds_the_clock_when_commands_stop_and_keeps_the_last_targets(rig):
    sim, ctl = rig(command_timeout_s=0.25)
    ctl.spin_until(lambda: ctl.sim_time() >= 0.1)     # lockstep running
    ctl.answer = False
    missed = sim.missed_commands
    ctl.spin_until(lambda: sim.missed_commands > missed)  # the answers in flight are used up
    t0, missed0 = ctl.sim_time(), sim.missed_commands
    ctl.spin_until(lambda: sim.missed_commands >= missed0 + 4)
    # one step per missed command (give or take the /clock of a step still on its way at
    # either end) instead of a step every 0.1 ms of wall time at rtf 50
    steps = round((ctl.sim_time() - t0) / STEP_S)
    assert 3 <= steps <= 5
    assert list(sim.sim.targets()) == pytest.approx(ctl.targets)
    status = {v.key: v.value for v in sim.diagnostics.status().values}
    assert int(status["missed_commands"]) >= 2


def test_bad_commands_are_rejected_and_never_reach_the_joints(rig):
    sim, ctl = rig()
    ctl.spin_until(lambda: ctl.sim_time() >= 0.05)
    ctl.answer = False
    good = list(sim.sim.targets())
    for n, bad in enumerate(([math.nan] + good[1:], good[:11], [*good[:3], 5.0, *good[4:]]),
                            start=1):
        ctl.command(bad)      # one at a time: the command subscription keeps the last one
        ctl.spin_until(lambda n=n: sum(sim.cmd_monitor.rejected.values()) >= n, timeout_s=5.0)
    assert sim.cmd_monitor.rejected["non_finite"] == 1
    assert list(sim.sim.targets()) == pytest.approx(good)


def test_inconsistent_push_parameters_are_refused(context):
    with pytest.raises(ParameterError, match="3 values per push"):
        make_sim(context, push_times_s=[1.0, 2.0], push_forces_n=[10.0, 0.0, 0.0])
    with pytest.raises(ParameterError, match="outside the joint limits"):
        make_sim(context, initial_joint_positions=[3.0] * 12)
