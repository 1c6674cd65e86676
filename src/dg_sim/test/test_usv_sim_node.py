"""Node tests of ``usv_sim`` with real rclpy: topics and types, bad thrust, command timeout.

The test drives the simulator's ROS clock itself (``use_sim_time`` + /clock in lockstep), so a
few simulated seconds take a fraction of that in wall time and every run is identical.
"""

import math
from pathlib import Path

import pyais
import pytest
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, Imu, NavSatFix
from std_msgs.msg import Float64, Header, String

from dg_common.param_schema import ParameterError
from dg_common.sim_time import stamp_to_s
from dg_common.testing import spin_until
from dg_interfaces.msg import TargetArray, WaterSample
from dg_sim.ground_vehicle.bridge_config import BridgeConfigError, load_usv_topics
from dg_sim.nodes.usv_sim_node import UsvSimNode

CONFIG = Path(__file__).resolve().parents[3] / "config"
BRIDGE = CONFIG / "wamv_bridge.yaml"
TRAFFIC = Path(__file__).resolve().parent / "usv_traffic_test.yaml"
STEP_NS = 20_000_000            # 50 Hz, the simulator's rate_hz below
CMD_TIMEOUT_S = 0.3
TOPICS = load_usv_topics(BRIDGE)


def test_bridge_config_has_the_vrx_wamv_topics():
    # osrf/vrx: bridges.thrust / payload_bridges.navsat, imu under the `wamv` namespace.
    assert {k: (v.ros_topic_name, v.ros_type_name) for k, v in TOPICS.items()} == {
        "left_thrust": ("/wamv/thrusters/left/thrust", "std_msgs/msg/Float64"),
        "right_thrust": ("/wamv/thrusters/right/thrust", "std_msgs/msg/Float64"),
        "gnss": ("/wamv/sensors/gps/gps/fix", "sensor_msgs/msg/NavSatFix"),
        "imu": ("/wamv/sensors/imu/imu/data", "sensor_msgs/msg/Imu"),
        "ground_truth": ("/wamv/ground_truth/odometry", "nav_msgs/msg/Odometry"),
        "clock": ("/clock", "rosgraph_msgs/msg/Clock")}
    assert TOPICS["left_thrust"].direction == "ROS_TO_GZ"
    with pytest.raises(BridgeConfigError, match="no entry for the gnss stream.*/world/other/"):
        load_usv_topics(BRIDGE, world="other")


class Harness:
    """Test node: owns /clock, publishes thrust, records every output of the simulator."""

    def __init__(self, context, executor, sim):
        self.node = Node("usv_test_io", context=context)
        self.executor, self.sim = executor, sim
        self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
        self.thrust_pubs = [self.node.create_publisher(
            Float64, TOPICS[role].ros_topic_name, 10) for role in ("left_thrust", "right_thrust")]
        self.out = {}
        qos = QoSProfile(depth=1000)
        for key, cls, topic in (
                ("truth", Odometry, TOPICS["ground_truth"].ros_topic_name),
                ("gnss", NavSatFix, TOPICS["gnss"].ros_topic_name),
                ("imu", Imu, TOPICS["imu"].ros_topic_name),
                ("battery", BatteryState, "/battery"), ("water", WaterSample, "/water_quality"),
                ("heartbeat", Header, "/operator/heartbeat"), ("ais", String, "/ais/nmea"),
                ("targets", TargetArray, "/tracker/targets")):
            self.out[key] = []
            self.node.create_subscription(cls, topic, self.out[key].append, qos)
        executor.add_node(sim)
        executor.add_node(self.node)
        self.t_ns = 0

    def spin_until(self, condition, timeout_s=3.0):
        if not spin_until(self.executor, condition, timeout_s, period_s=0.005):
            pytest.fail(f"condition not met within {timeout_s} s")

    def connect(self):
        self.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in self.thrust_pubs)
                        and self.clock_pub.get_subscription_count() >= 1)

    def thrust(self, left, right):
        for pub, value in zip(self.thrust_pubs, (left, right), strict=True):
            pub.publish(Float64(data=value))

    def advance(self, until_s, thrust=None):
        """Step the clock to ``until_s`` [s] in 20 ms steps, waiting for each sim step."""
        while self.t_ns < round(until_s * 1e9):
            if thrust is not None:
                self.thrust(*thrust)
            self.t_ns += STEP_NS
            t_s = self.t_ns * 1e-9
            self.clock_pub.publish(Clock(clock=Time(sec=self.t_ns // 1_000_000_000,
                                                    nanosec=self.t_ns % 1_000_000_000)))
            self.spin_until(lambda t_s=t_s: (self.sim._last_clock_s or 0.0) >= t_s - 1e-9)
        # the ground truth of the last step (published every step) has arrived
        t_end_s = self.t_ns * 1e-9
        self.spin_until(lambda: max(self.stamps("truth"), default=0.0) >= t_end_s - 1e-9)

    def stamps(self, key):
        return [stamp_to_s((m if key == "heartbeat" else m.header).stamp) for m in self.out[key]]


def make_sim(context, **params):
    overrides = [Parameter("bridge_config", value=str(BRIDGE)),
                 Parameter("use_sim_time", value=True),
                 Parameter("rate_hz", value=50.0),
                 Parameter("cmd_timeout_s", value=CMD_TIMEOUT_S),
                 Parameter("gnss_rate_hz", value=10.0),
                 Parameter("battery_rate_hz", value=5.0),
                 Parameter("water_rate_hz", value=5.0),
                 Parameter("tracker_rate_hz", value=5.0),
                 Parameter("traffic_file", value=str(TRAFFIC)),
                 Parameter("gnss_outages_s", value=[1.0, 1.6]),
                 Parameter("operator_outages_s", value=[1.0, 2.0])]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return UsvSimNode(context=context, parameter_overrides=overrides)


@pytest.fixture
def rig(context, executor):
    sim = make_sim(context)
    h = Harness(context, executor, sim)
    h.connect()
    yield sim, h
    sim.destroy_node()
    h.node.destroy_node()


def finite_state(sim):
    return all(math.isfinite(v) for v in sim.state.as_tuple())


def test_publishes_every_topic_with_the_bridge_types(rig):
    sim, h = rig
    h.advance(3.0, thrust=(300.0, 200.0))
    out = h.out
    assert {k: len(v) > 0 for k, v in out.items()} == dict.fromkeys(out, True)
    assert min(h.stamps("truth")) > 0.0           # nothing before the first /clock
    truth = out["truth"][-1]
    assert (truth.header.frame_id, truth.child_frame_id) == ("map", "base_link")
    assert truth.twist.twist.linear.x > 0.5                       # it moved forward
    assert truth.twist.twist.angular.z < 0.0                      # more left thrust: to starboard
    assert len(out["truth"]) == pytest.approx(150, abs=2)         # every step at 50 Hz
    # GNSS at 10 Hz, silent in the outage [1.0, 1.6) s; near the datum.
    gnss = h.stamps("gnss")
    assert not any(1.0 <= t < 1.6 for t in gnss) and len(gnss) == pytest.approx(24, abs=2)
    fix = out["gnss"][-1]
    assert fix.status.status == fix.status.STATUS_FIX
    assert fix.latitude == pytest.approx(47.3977, abs=1e-3)
    assert fix.position_covariance_type == NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    imu = out["imu"][-1]
    assert imu.linear_acceleration.z == pytest.approx(9.81, abs=0.3)
    assert len(out["imu"]) == pytest.approx(150, abs=2)
    # Heartbeat at 2 Hz, none in the operator outage [1, 2) s.
    beats = h.stamps("heartbeat")
    assert not any(1.0 <= t < 2.0 for t in beats) and len(beats) >= 3
    bat = out["battery"][-1]
    assert 0.99 < bat.percentage < 1.0 and bat.current < 0.0 and bat.voltage < 29.4
    water = out["water"][-1]
    assert 10.0 < water.temperature_c < 26.0 and water.dissolved_oxygen_mgl > 0.0
    assert water.header.frame_id == "map"
    # AIS: real sentences that decode; tracked targets in the map frame.
    decoded = pyais.decode(*[m.data for m in out["ais"][:1]]).asdict()
    assert decoded["msg_type"] == 1 and decoded["mmsi"] in (211000001, 211000003)
    targets = out["targets"][-1]
    assert targets.header.frame_id == "map"
    assert sorted(t.id for t in targets.targets) == ["T1", "T2"]
    # Each bridged topic has exactly the bridge's ROS type (same graph as ros_gz_bridge).
    pubs = dict(h.node.get_publisher_names_and_types_by_node("usv_sim", "/"))
    for role in ("gnss", "imu", "ground_truth"):
        assert pubs[TOPICS[role].ros_topic_name] == [TOPICS[role].ros_type_name], role
    subs = dict(h.node.get_subscriber_names_and_types_by_node("usv_sim", "/"))
    for role in ("left_thrust", "right_thrust"):
        assert subs[TOPICS[role].ros_topic_name] == [TOPICS[role].ros_type_name], role
    assert pubs["/battery"] == ["sensor_msgs/msg/BatteryState"]
    assert pubs["/ais/nmea"] == ["std_msgs/msg/String"]
    assert pubs["/tracker/targets"] == ["dg_interfaces/msg/TargetArray"]


def test_non_finite_thrust_is_rejected_and_the_state_stays_finite(rig):
    sim, h = rig
    h.advance(0.2, thrust=(100.0, 100.0))
    for n, (left, right) in enumerate(((math.nan, math.inf), (-math.inf, math.nan)), start=1):
        h.thrust(left, right)
        h.spin_until(lambda n=n: [m.rejected["non_finite"] for m in sim.cmd_monitors] == [n, n])
        h.advance(h.t_ns * 1e-9 + 0.1)
    assert sim.cmd_n == [100.0, 100.0]              # the last valid command stands
    assert all(math.isfinite(f) for f in sim.model.thrust_actual_n)
    assert finite_state(sim)
    assert all(math.isfinite(m.pose.pose.position.x) and math.isfinite(m.twist.twist.linear.x)
               for m in h.out["truth"])
    status = {v.key: v.value for v in sim.diagnostics.status().values}
    assert status["/wamv/thrusters/left/thrust rejected non_finite"] == "2"
    # Beyond the hull's limits: saturated like gz-sim's Thruster, counted.
    h.advance(h.t_ns * 1e-9 + 0.1, thrust=(1e6, -1e6))
    assert sim.saturated_cmds > 0
    assert sim.model.thrust_actual_n[0] <= sim.hull.thrust_fwd_max_n
    assert sim.model.thrust_actual_n[1] >= -sim.hull.thrust_rev_max_n


def test_thrust_goes_to_zero_after_cmd_timeout(rig):
    sim, h = rig
    h.advance(1.0, thrust=(400.0, 400.0))
    t_last = h.t_ns * 1e-9
    assert sim.applied_cmd_n == (400.0, 400.0)
    h.advance(t_last + CMD_TIMEOUT_S - 0.04)
    assert sim.applied_cmd_n == (400.0, 400.0)      # still within the timeout
    h.advance(t_last + CMD_TIMEOUT_S + 0.04)
    assert sim.applied_cmd_n == (0.0, 0.0)
    # Thrust follows the command through the thrusters' first-order lag: ~0 after 6 tau.
    h.advance(t_last + CMD_TIMEOUT_S + 0.04 + 6 * sim.hull.thruster_time_constant_s)
    assert max(abs(f) for f in sim.model.thrust_actual_n) < 400.0 * math.exp(-5.5)
    status = sim.diagnostics.status()
    assert "stale" in status.message
    assert {v.key: v.value for v in status.values}["command"] == "timeout: zero thrust"
    speed = h.out["truth"][-1].twist.twist.linear.x
    h.advance(h.t_ns * 1e-9 + 1.0)
    assert 0.0 <= h.out["truth"][-1].twist.twist.linear.x < speed   # coasting down


def test_bad_traffic_or_bridge_file_is_a_parameter_error(context, tmp_path):
    bad = tmp_path / "traffic.yaml"
    bad.write_text("vessels:\n  - {mmsi: 1, waypoints_m: [[0, 0], [0, 0]]}\n")
    with pytest.raises(ParameterError, match="traffic_file.*zero length"):
        make_sim(context, traffic_file=str(bad))
    bridge = tmp_path / "bridge.yaml"
    bridge.write_text(BRIDGE.read_text().replace("gz.msgs.IMU", "gz.msgs.Magnetometer"))
    with pytest.raises(ParameterError, match="bridge_config.*imu"):
        make_sim(context, bridge_config=str(bridge))
    with pytest.raises(ParameterError, match="gnss_outages_s"):
        make_sim(context, gnss_outages_s=[5.0, 1.0])


def test_default_params_file_is_complete_and_valid():
    import rclpy
    import yaml
    from rclpy.context import Context

    params_file = CONFIG / "usv_sim.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file)])
    try:
        node = UsvSimNode(context=ctx, parameter_overrides=[
            Parameter("bridge_config", value=str(BRIDGE))])
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.params.hull == keys["hull"] and node.params.traffic_file == ""
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_outage_windows_can_be_injected_live(rig):
    sim, h = rig
    result = sim.set_parameters([Parameter("gnss_outages_s", value=[2.0, 1.0])])[0]
    assert not result.successful and "start_s < end_s" in result.reason
    assert sim.set_parameters([Parameter("gnss_outages_s", value=[0.5, 0.9]),
                               Parameter("operator_outages_s", value=[0.0, 0.6])])[0].successful
    h.advance(1.2)
    # Fixes and heartbeats after the windows have arrived (so any before them did too).
    h.spin_until(lambda: max(h.stamps("gnss"), default=0.0) >= 0.9 and h.stamps("heartbeat"))
    assert not any(0.5 <= t < 0.9 for t in h.stamps("gnss"))
    assert min(h.stamps("heartbeat")) >= 0.6


def test_publish_clock_is_lockstep_time_source(context, executor):
    """publish_clock: /clock comes from the simulator after each step's data, in fixed steps."""
    # rtf 5: the publishers keep the last 10 messages (ros_gz_bridge QoS); faster than the
    # test node drains them, a reliable writer overwrites and the test would see gaps
    sim = make_sim(context, publish_clock=True, rtf=5.0, gnss_outages_s=[100.0, 101.0])
    assert sim.get_parameter("use_sim_time").value is False  # the source runs on wall time
    h = Harness(context, executor, sim)
    clocks = []
    h.node.create_subscription(Clock, "/clock", lambda m: clocks.append(stamp_to_s(m.clock)),
                               QoSProfile(depth=1000))
    try:
        h.spin_until(lambda: len(clocks) >= 100, timeout_s=20.0)
        clocks = clocks[:100]   # the simulator runs on: judge a fixed stretch
        steps = [round(b - a, 9) for a, b in zip(clocks[:-1], clocks[1:], strict=True)]
        assert set(steps) == {0.02}, set(steps)  # rate_hz 50: no gaps, no repeats
        # Every ground-truth stamp is a clock step (wait for the data of the stretch's last
        # step: another topic's messages may still be in flight when /clock arrives).
        h.spin_until(lambda: max(h.stamps("truth"), default=0.0) >= clocks[-1], timeout_s=5.0)
        truth = {round(t, 6) for t in h.stamps("truth") if clocks[0] <= t <= clocks[-1]}
        assert truth == {round(c, 6) for c in clocks}
        gnss = h.stamps("gnss")
        assert max(b - a for a, b in zip(gnss[:-1], gnss[1:], strict=True)) < 0.1 + 1e-6
        assert clocks[-1] - gnss[-1] <= 0.1 + 1e-6
        assert sim.now_s() >= clocks[-1]
        assert min(h.stamps("truth")) > 0.0 and clocks[0] > 0.0  # no zero ("unset") stamps
        # Input ages are judged on the simulator's own time: fresh commands are not stale.
        for pub in h.thrust_pubs:
            pub.publish(Float64(data=10.0))
        h.spin_until(lambda: all(m.received for m in sim.cmd_monitors), timeout_s=5.0)
        values = {kv.key: kv.value for kv in sim.diagnostics.status().values}
        ages = [float(v) for k, v in values.items() if k.endswith("thrust age_s")]
        assert len(ages) == 2 and max(ages) < 1.0, values
    finally:
        sim.on_exit()
        sim.destroy_node()
        h.node.destroy_node()
