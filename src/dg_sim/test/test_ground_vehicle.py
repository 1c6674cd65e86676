"""Ground vehicle: kinematics, odometry/GNSS models, bridge config, and the node end to end."""

import math
import os
import random
import time
from pathlib import Path

# Harmless when conftest.py already isolated the session (it runs first): keep its choice.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 200)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from sensor_msgs.msg import NavSatFix  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from dg_common.geodesy import Datum, GeodesyError, enu_to_geodetic  # noqa: E402
from dg_common.param_schema import ParameterError  # noqa: E402
from dg_common.testing import spin_until  # noqa: E402
from dg_sim.ground_vehicle.bridge_config import (  # noqa: E402
    GROUND_VEHICLE_STREAMS,
    BridgeConfigError,
    load_ground_vehicle_topics,
    parse_bridge_config,
    resolve_streams,
)
from dg_sim.ground_vehicle.kinematics import (  # noqa: E402
    DiffDriveModel,
    DriveLimits,
    GnssModel,
    OdometryNoise,
    Pose2D,
    integrate_pose,
)
from dg_sim.nodes.ground_vehicle_node import GroundVehicleNode  # noqa: E402

BRIDGE_CONFIG = Path(__file__).resolve().parents[3] / "config" / "ground_vehicle_bridge.yaml"


# --- kinematics -------------------------------------------------------------------------
def test_straight_line_is_exact():
    p = integrate_pose(Pose2D(1.0, 2.0, math.radians(30)), 2.0, 0.0, 1.5)
    assert p.x_m == pytest.approx(1.0 + 3.0 * math.cos(math.radians(30)), abs=1e-12)
    assert p.y_m == pytest.approx(2.0 + 3.0 * math.sin(math.radians(30)), abs=1e-12)
    assert p.yaw_rad == pytest.approx(math.radians(30), abs=1e-15)


def test_arc_is_exact_half_circle():
    # v = 1 m/s, omega = 0.5 rad/s: radius 2 m; after pi / omega, at (0, 4) heading west.
    p = integrate_pose(Pose2D(), 1.0, 0.5, math.pi / 0.5)
    assert (p.x_m, p.y_m) == pytest.approx((0.0, 4.0), abs=1e-12)
    assert abs(p.yaw_rad) == pytest.approx(math.pi, abs=1e-12)


def test_arc_integration_does_not_depend_on_step_size():
    one = integrate_pose(Pose2D(0.3, -0.2, 0.1), 0.8, -0.7, 2.0)
    many = Pose2D(0.3, -0.2, 0.1)
    for _ in range(1000):
        many = integrate_pose(many, 0.8, -0.7, 0.002)
    assert (many.x_m, many.y_m, many.yaw_rad) == pytest.approx(
        (one.x_m, one.y_m, one.yaw_rad), abs=1e-10)


def test_tiny_yaw_rate_is_continuous_with_straight_line():
    a = integrate_pose(Pose2D(), 1.0, 1e-12, 1.0)
    assert (a.x_m, a.y_m) == pytest.approx((1.0, 0.0), abs=1e-11)


def test_speed_and_acceleration_limits():
    lim = DriveLimits(speed_max_mps=1.0, speed_min_mps=-0.5, yaw_rate_max_radps=1.0,
                      accel_max_mps2=2.0, yaw_accel_max_radps2=4.0)
    m = DiffDriveModel(lim)
    m.step(5.0, 5.0, 0.1)
    assert m.speed_mps == pytest.approx(0.2) and m.yaw_rate_radps == pytest.approx(0.4)
    for _ in range(20):
        m.step(5.0, -5.0, 0.1)
    assert m.speed_mps == 1.0 and m.yaw_rate_radps == -1.0
    for _ in range(20):
        m.step(-5.0, 0.0, 0.1)
    assert m.speed_mps == -0.5 and m.yaw_rate_radps == 0.0


def test_stops_in_speed_over_deceleration():
    m = DiffDriveModel(DriveLimits(accel_max_mps2=1.0))
    for _ in range(100):
        m.step(1.0, 0.0, 0.01)
    assert m.speed_mps == pytest.approx(1.0)
    steps = 0
    while m.speed_mps != 0.0:
        m.step(0.0, 0.0, 0.01)
        steps += 1
    assert steps == pytest.approx(100, abs=1)  # 1 m/s at 1 m/s^2: 1 s
    assert m.speed_mps == 0.0  # exactly zero, not a residual


def test_noise_free_odometry_matches_ground_truth_from_initial_pose():
    m = DiffDriveModel(DriveLimits(), Pose2D(2.0, -1.0, 0.5))
    for i in range(200):
        m.step(0.8, 0.6 * math.sin(i / 20.0), 0.02)
    assert m.odom_pose == m.pose
    assert (m.odom_speed_mps, m.odom_yaw_rate_radps) == (m.speed_mps, m.yaw_rate_radps)


def drive(seed, n=300):
    noise = OdometryNoise(speed_sigma_mps=0.05, yaw_rate_sigma_radps=0.02)
    m = DiffDriveModel(DriveLimits(), noise=noise, rng=np.random.default_rng(seed))
    for _ in range(n):
        m.step(1.0, 0.3, 0.02)
    return m


def test_seeded_odometry_noise_is_reproducible_and_drifts():
    a, b, c = drive(7), drive(7), drive(8)
    assert a.odom_pose == b.odom_pose
    assert a.odom_pose != c.odom_pose
    assert a.pose == c.pose  # the truth does not depend on the noise
    assert a.odom_pose != a.pose
    assert a.odom_position_variance_m2 == pytest.approx(1e-9 + 300 * (0.05 * 0.02) ** 2)


def test_model_rejects_bad_input():
    with pytest.raises(ValueError, match="non-finite"):
        DiffDriveModel(DriveLimits()).step(math.nan, 0.0, 0.1)
    with pytest.raises(ValueError, match="dt_s"):
        DiffDriveModel(DriveLimits()).step(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="rng"):
        DiffDriveModel(DriveLimits(), noise=OdometryNoise(0.1, 0.0))
    with pytest.raises(ValueError, match="speed_min_mps"):
        DriveLimits(speed_min_mps=0.5)


# --- GNSS -------------------------------------------------------------------------------
def test_enu_to_geodetic_matches_degree_lengths_at_45_deg():
    # Standard series for the length of a degree on WGS-84 (e.g. NGA/NIMA TR8350.2 tables).
    phi = math.radians(45.0)
    lat_m = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    datum = Datum(45.0, 7.0, 100.0)
    p = enu_to_geodetic(Datum(45.0, 7.0, 0.0), 300.0, 200.0, 5.0)
    # rel 1e-4: the exact conversion follows the tangent plane, which curves off the parallel
    # (latitude drops by e^2 tan(lat) / (2 R^2), 3.5e-5 of the 200 m offset) and, 200 m
    # north, the parallel is shorter by a factor tan(lat) n / R ~ 3e-5.
    assert p.lat_deg - 45.0 == pytest.approx(200.0 / lat_m, rel=1e-4)
    assert p.lon_deg - 7.0 == pytest.approx(300.0 / lon_m, rel=1e-4)
    assert enu_to_geodetic(datum, 0.0, 0.0, 5.0).alt_m == pytest.approx(105.0, abs=1e-6)


def test_gnss_noise_is_seeded_with_the_requested_sigma():
    datum = Datum(47.0, 8.0, 400.0)
    fixes = [GnssModel(datum, 0.5, 1.0, np.random.default_rng(3)).fix(10.0, 20.0)
             for _ in range(2)]
    assert fixes[0] == fixes[1]
    g = GnssModel(datum, 0.5, 1.0, np.random.default_rng(4))
    truth = enu_to_geodetic(datum, 10.0, 20.0, 0.0)
    samples = np.array([g.fix(10.0, 20.0) for _ in range(4000)])
    m_per_deg_lat = 0.5 / np.std(samples[:, 0] - truth.lat_deg)  # sigma 0.5 m north
    assert m_per_deg_lat == pytest.approx(111_200, rel=0.05)
    assert np.std(samples[:, 2]) == pytest.approx(1.0, rel=0.05)
    assert np.mean(samples[:, 2]) == pytest.approx(400.0, abs=0.1)
    assert g.covariance_enu_m2() == (0.25, 0, 0, 0, 0.25, 0, 0, 0, 1.0)


def test_datum_validation():
    with pytest.raises(GeodesyError, match="latitude"):
        Datum(90.0, 0.0)
    with pytest.raises(GeodesyError, match="longitude"):
        Datum(0.0, math.nan)


# --- bridge config ----------------------------------------------------------------------
def test_repo_bridge_config_names_all_streams():
    topics = load_ground_vehicle_topics(BRIDGE_CONFIG)
    assert {k: v.ros_topic_name for k, v in topics.items()} == {
        "cmd_vel": "cmd_vel", "odom": "odom", "tf": "tf", "navsat": "navsat",
        "ground_truth": "ground_truth/odom", "clock": "/clock"}
    assert topics["cmd_vel"].direction == "ROS_TO_GZ"


ENTRY = """
- ros_topic_name: "{ros}"
  gz_topic_name: "{gz}"
  ros_type_name: "{rtype}"
  gz_type_name: "{gtype}"
  direction: {direction}
"""


def entries(**override):
    """Bridge YAML for all UGV streams, with one stream's fields overridden."""
    text = ""
    for spec in GROUND_VEHICLE_STREAMS:
        fields = dict(ros=spec.role, gz=spec.gz_topic.format(model="ugv"), rtype=spec.ros_type,
                      gtype=spec.gz_type, direction=spec.direction)
        fields.update(override.get(spec.role, {}))
        if fields.get("drop"):
            continue
        text += ENTRY.format(**fields)
    return text


def resolve(text):
    return resolve_streams(parse_bridge_config(text, "test.yaml"), GROUND_VEHICLE_STREAMS,
                           "ugv", "test.yaml")


def test_ros_topic_names_come_from_the_file():
    topics = resolve(entries(odom={"ros": "wheel/odom"}))
    assert topics["odom"].ros_topic_name == "wheel/odom"


@pytest.mark.parametrize("override, match", [
    ({"navsat": {"drop": True}}, r"no entry for the navsat stream .*/model/ugv/navsat"),
    ({"odom": {"rtype": "nav_msgs/msg/Path"}}, r"ros_type_name 'nav_msgs/msg/Path', "
                                               r"expected 'nav_msgs/msg/Odometry'"),
    ({"tf": {"gtype": "gz.msgs.Pose"}}, "gz_type_name 'Pose', expected 'Pose_V'"),
    ({"cmd_vel": {"direction": "BIDIRECTIONAL"}}, "direction 'BIDIRECTIONAL'"),
    ({"odom": {"direction": "SIDEWAYS"}}, "direction 'SIDEWAYS' is not one of"),
])
def test_missing_or_mismatched_stream_is_a_clear_error(override, match):
    with pytest.raises(BridgeConfigError, match=match):
        resolve(entries(**override))


def test_duplicate_entry_is_an_error():
    with pytest.raises(BridgeConfigError, match="2 entries for the odom stream"):
        resolve(entries() + ENTRY.format(ros="odom2", gz="/model/ugv/odometry",
                                         rtype="nav_msgs/msg/Odometry",
                                         gtype="gz.msgs.Odometry", direction="GZ_TO_ROS"))


def test_ros_gz_name_variants_are_accepted():
    text = entries(odom={"gtype": "ignition.msgs.Odometry", "gz": "model/ugv/odometry"})
    text = text.replace('- ros_topic_name: "clock"\n  gz_topic_name: "/clock"',
                        '- topic_name: "/clock"')
    assert resolve(text)["clock"].gz_topic_name == "/clock"


@pytest.mark.parametrize("text, match", [
    ("a: 1", "top level must be a non-empty YAML sequence"),
    ("- [1, 2]", "entry 0: must be a YAML map"),
    ("- {ros_topic_name: x, ros_type_name: std_msgs/msg/String}", "both 'ros_type_name'"),
    ("- {topic_name: x, ros_topic_name: y, ros_type_name: a, gz_type_name: b}", "excludes"),
    ("- {ros_type_name: a, gz_type_name: b}", "no topic name"),
    ("- [unclosed", "invalid YAML"),
])
def test_malformed_config_is_rejected(text, match):
    with pytest.raises(BridgeConfigError, match=match):
        parse_bridge_config(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BridgeConfigError, match="cannot read bridge config"):
        load_ground_vehicle_topics(tmp_path / "nope.yaml")


# --- node -------------------------------------------------------------------------------
RATE_HZ, CMD_TIMEOUT_S, ACCEL_MPS2 = 50.0, 0.3, 2.0


class Io:
    """Test-side publisher of cmd_vel and recorder of the simulator's outputs."""

    def __init__(self, context):
        self.node = Node("test_io", context=context)
        self.cmd_pub = self.node.create_publisher(Twist, "cmd_vel", 10)
        self.truth, self.odom, self.navsat, self.tf = [], [], [], []
        qos = QoSProfile(depth=100)
        for cls, topic, store in ((Odometry, "ground_truth/odom", self.truth),
                                  (Odometry, "odom", self.odom),
                                  (NavSatFix, "navsat", self.navsat), (TFMessage, "tf", self.tf)):
            self.node.create_subscription(cls, topic, store.append, qos)

    def cmd(self, v, w=0.0):
        msg = Twist()
        msg.linear.x, msg.angular.z = v, w
        self.cmd_pub.publish(msg)


def make_vehicle(context, **params):
    overrides = [Parameter("bridge_config", value=str(BRIDGE_CONFIG)),
                 Parameter("rate_hz", value=RATE_HZ),
                 Parameter("cmd_timeout_s", value=CMD_TIMEOUT_S),
                 Parameter("accel_max_mps2", value=ACCEL_MPS2),
                 Parameter("gnss_rate_hz", value=10.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return GroundVehicleNode(context=context, parameter_overrides=overrides)


@pytest.fixture
def sim(context, executor):
    vehicle = make_vehicle(context)
    io = Io(context)
    executor.add_node(vehicle)
    executor.add_node(io.node)
    yield vehicle, io
    vehicle.destroy_node()
    io.node.destroy_node()


def drive_until(executor, io, condition, timeout_s, cmd=None):
    """Spin, publishing ``cmd`` = (v, w) at 20 Hz if given, until condition() or timeout."""
    next_cmd = time.monotonic()

    def send():
        nonlocal next_cmd
        if cmd is not None and time.monotonic() >= next_cmd:
            io.cmd(*cmd)
            next_cmd += 0.05

    return spin_until(executor, condition, timeout_s, each=send, period_s=0.002)


def test_vehicle_stops_within_cmd_timeout_when_commands_stop(sim, executor):
    vehicle, io = sim
    assert drive_until(executor, io, lambda: io.truth and io.truth[-1].twist.twist.linear.x >= 0.5,
                       5.0, cmd=(0.5, 0.2))
    io.cmd(0.5, 0.2)
    t_last_cmd = vehicle.now_s()
    n = len(io.truth)
    assert drive_until(executor, io, lambda: io.truth[-1].twist.twist.linear.x == 0.0, 3.0)
    t_stop = vehicle.now_s()
    brake_s = 0.5 / ACCEL_MPS2
    assert t_stop - t_last_cmd <= CMD_TIMEOUT_S + brake_s + 2.0 / RATE_HZ + 0.05
    assert min(m.twist.twist.linear.x for m in io.truth[n:]) >= 0.0  # braked, no reverse
    stopped, n_stopped = io.truth[-1].pose.pose.position, len(io.truth)
    # 10 more simulation steps (0.2 s at rate_hz) without commands: it stays where it is.
    assert drive_until(executor, io, lambda: len(io.truth) >= n_stopped + 10, 3.0)
    assert io.truth[-1].pose.pose.position == stopped
    assert io.truth[-1].twist.twist.angular.z == 0.0
    status = vehicle.diagnostics.status()
    assert "cmd_vel stale" in status.message
    assert {v.key: v.value for v in status.values}["command"] == "timeout: stopping"


def test_nan_command_is_rejected(sim, executor):
    vehicle, io = sim
    assert drive_until(executor, io, lambda: io.cmd_pub.get_subscription_count() == 1, 3.0)
    for n, (v, w) in enumerate(((math.nan, 0.5), (0.3, math.inf)), start=1):
        io.cmd(v, w)  # one at a time: the command subscription keeps only the last
        assert drive_until(executor, io,
                           lambda n=n: vehicle.cmd_monitor.rejected["non_finite"] == n, 3.0)
    # 10 simulation steps after the last rejection: the vehicle never moved.
    n_rejected = len(io.truth)
    assert drive_until(executor, io, lambda: len(io.truth) >= n_rejected + 10, 3.0)
    assert all(m.twist.twist.linear.x == 0.0 for m in io.truth)
    assert all(math.isfinite(m.pose.pose.position.x) for m in io.odom)
    assert vehicle.cmd_monitor.received == 0


def test_publishes_odom_tf_navsat_on_bridge_topics_and_types(sim, executor):
    vehicle, io = sim
    assert drive_until(executor, io, lambda: len(io.navsat) >= 5 and len(io.tf) >= 5, 5.0,
                       cmd=(0.4, 0.0))
    odom, tf = io.odom[-1], io.tf[-1].transforms[0]
    assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
    assert (tf.header.frame_id, tf.child_frame_id) == ("odom", "base_link")
    assert io.truth[-1].header.frame_id == "world"
    assert odom.pose.covariance[0] > 0.0 and odom.twist.covariance[35] > 0.0
    fix = io.navsat[-1]
    assert fix.position_covariance_type == NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    assert fix.latitude == pytest.approx(47.3977, abs=1e-4)  # config datum, metres away
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in io.navsat]
    assert np.median(np.diff(stamps)) == pytest.approx(0.1, abs=0.021)  # gnss_rate_hz 10
    # Every bridged ROS type is what the node really offers (ros_gz_bridge -> same graph).
    topics = load_ground_vehicle_topics(BRIDGE_CONFIG)
    graph = {}
    assert drive_until(executor, io, lambda: graph.update(
        io.node.get_publisher_names_and_types_by_node("ground_vehicle", "/")) or len(graph) >= 5,
        3.0)
    for role in ("odom", "ground_truth", "tf", "navsat"):
        name = "/" + topics[role].ros_topic_name
        assert graph[name] == [topics[role].ros_type_name], role
    subs = dict(io.node.get_subscriber_names_and_types_by_node("ground_vehicle", "/"))
    assert subs["/cmd_vel"] == [topics["cmd_vel"].ros_type_name]


def test_bad_bridge_config_is_a_parameter_error(context, tmp_path):
    bad = tmp_path / "bridge.yaml"
    bad.write_text(BRIDGE_CONFIG.read_text().replace("gz.msgs.NavSat", "gz.msgs.IMU"))
    with pytest.raises(ParameterError, match="parameter 'bridge_config'.*navsat"):
        make_vehicle(context, bridge_config=str(bad))


def test_default_params_file_is_complete_and_valid():
    import rclpy
    import yaml
    from rclpy.context import Context

    params_file = BRIDGE_CONFIG.parent / "ground_vehicle_sim.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file)])
    try:
        node = make_vehicle(ctx)
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.params.seed == keys["seed"]
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
