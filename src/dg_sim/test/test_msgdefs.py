"""rosbag2-format message definitions: exact layout, dependency rules, errors, decoding."""

import os

import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import PointCloud2, PointField
from tf2_msgs.msg import TFMessage

from dg_interfaces.msg import MissionProgress
from dg_sim.recording import msgdefs
from dg_sim.recording.msgdefs import (
    SEPARATOR,
    MessageDefinitionError,
    clear_cache,
    full_message_definition,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def share_text(package, name):
    from ament_index_python.packages import get_package_share_directory

    with open(os.path.join(get_package_share_directory(package), "msg", f"{name}.msg"),
              encoding="utf-8", newline="") as f:
        return f.read()


def block(name, text):
    return f"\n{SEPARATOR}\nMSG: {name}\n{text}"


@pytest.fixture
def fake_prefix(tmp_path, monkeypatch):
    """An ament prefix with package ``fake_msgs``; returns a function adding a file to it."""
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "fake_msgs").touch()
    (tmp_path / "share" / "fake_msgs" / "msg").mkdir(parents=True)
    monkeypatch.setenv("AMENT_PREFIX_PATH",
                       f"{tmp_path}{os.pathsep}{os.environ['AMENT_PREFIX_PATH']}")

    def add(filename, text):
        (tmp_path / "share" / "fake_msgs" / "msg" / filename).write_text(text)
        return text
    return add


def test_odometry_layout_matches_rosbag2():
    text = full_message_definition("nav_msgs/msg/Odometry")
    assert text.startswith(share_text("nav_msgs", "Odometry"))
    headers = [line for line in text.split("\n") if line.startswith("MSG: ")]
    # depth first, dependencies of each type in sorted order, each type once
    assert headers == [
        "MSG: geometry_msgs/PoseWithCovariance", "MSG: geometry_msgs/Pose",
        "MSG: geometry_msgs/Point", "MSG: geometry_msgs/Quaternion",
        "MSG: geometry_msgs/TwistWithCovariance", "MSG: geometry_msgs/Twist",
        "MSG: geometry_msgs/Vector3", "MSG: std_msgs/Header", "MSG: builtin_interfaces/Time"]
    assert text.count(SEPARATOR) == len(headers)
    assert len(SEPARATOR) == 80 and set(SEPARATOR) == {"="}
    assert block("std_msgs/Header", share_text("std_msgs", "Header")) in text
    assert text.endswith(block("builtin_interfaces/Time", share_text("builtin_interfaces",
                                                                     "Time")))


def test_short_and_long_type_names_give_the_same_text():
    assert (full_message_definition("geometry_msgs/Twist")
            == full_message_definition("geometry_msgs/msg/Twist")
            == share_text("geometry_msgs", "Twist") + block(
                "geometry_msgs/Vector3", share_text("geometry_msgs", "Vector3")))


def test_exact_text_with_local_names_arrays_constants_and_comments(fake_prefix):
    outer = fake_prefix("Outer.msg", (
        "# Header Inner in a comment is not a field\n"
        "uint8 MODE_A=1\n"
        "string LABEL=abc\n"
        "Inner inner\n"
        "  Inner[] inners  # an unbounded array of a type of this package\n"
        "\n"
        "fake_msgs/Inner[<=3] bounded\n"
        "std_msgs/Header header\n"
        "wstring name\n"
        "string<=8 short_name\n"
        "float64[3] values\n"))
    inner = fake_prefix("Inner.msg", "builtin_interfaces/Time stamp\nint32 x\n")
    assert full_message_definition("fake_msgs/msg/Outer") == (
        outer
        + block("fake_msgs/Inner", inner)
        + block("builtin_interfaces/Time", share_text("builtin_interfaces", "Time"))
        + block("std_msgs/Header", share_text("std_msgs", "Header")))


def test_a_type_referring_to_itself_is_listed_once(fake_prefix):
    text = fake_prefix("Tree.msg", "Tree[] children\n")
    assert full_message_definition("fake_msgs/Tree") == text + block("fake_msgs/Tree", text)


def test_idl_only_type_is_refused_clearly(fake_prefix):
    fake_prefix("OnlyIdl.idl", "module fake_msgs { module msg { struct OnlyIdl { }; }; };\n")
    with pytest.raises(MessageDefinitionError, match="only in IDL"):
        full_message_definition("fake_msgs/msg/OnlyIdl")


def test_missing_dependency_names_the_type(fake_prefix):
    fake_prefix("Broken.msg", "Gone gone\n")
    with pytest.raises(MessageDefinitionError, match="fake_msgs/Gone"):
        full_message_definition("fake_msgs/msg/Broken")


def test_too_deep_nesting_is_refused(fake_prefix):
    for i in range(60):
        fake_prefix(f"Level{i}.msg", f"Level{i + 1} next\n")
    fake_prefix("Level60.msg", "int8 x\n")
    with pytest.raises(MessageDefinitionError, match="deeper than 50"):
        full_message_definition("fake_msgs/msg/Level0")


@pytest.mark.parametrize(("type_name", "match"), [
    ("Twist", "not a message type name"),
    ("geometry_msgs/srv/Foo", "not a message type name"),
    ("a/msg/b/c", "not a message type name"),
    ("no_such_pkg_xyz/msg/Foo", "not in the ament index"),
    ("geometry_msgs/msg/NoSuchType", "is missing"),
])
def test_bad_names_are_refused_clearly(type_name, match):
    with pytest.raises(MessageDefinitionError, match=match):
        full_message_definition(type_name)


def test_results_are_cached_until_cleared(fake_prefix):
    fake_prefix("Cached.msg", "int8 a\n")
    first = full_message_definition("fake_msgs/msg/Cached")
    fake_prefix("Cached.msg", "int8 b\n")
    assert full_message_definition("fake_msgs/msg/Cached") is first
    assert msgdefs.full_message_definition.cache_info().hits >= 1
    clear_cache()
    assert full_message_definition("fake_msgs/msg/Cached") == "int8 b\n"


def odometry():
    m = Odometry(child_frame_id="base_link")
    m.header.frame_id = "odom"
    m.header.stamp = Time(sec=12, nanosec=345)
    m.pose.pose.position.x = 1.5
    m.pose.covariance[35] = 0.25
    m.twist.twist.angular.z = -0.5
    return m


def tf_message():
    t = TransformStamped(child_frame_id="base_link")
    t.header.frame_id = "odom"
    t.transform.rotation.w = 1.0
    return TFMessage(transforms=[t, t])


def cloud():
    return PointCloud2(height=1, width=2, point_step=4, row_step=8, is_dense=True,
                       fields=[PointField(name="x", offset=0, datatype=7, count=1)],
                       data=bytes(range(8)))


@pytest.mark.parametrize(("type_name", "msg", "check"), [
    ("nav_msgs/msg/Odometry", odometry(),
     lambda d: (d.child_frame_id, d.header.frame_id, d.header.stamp.nanosec,
                d.pose.pose.position.x, d.pose.covariance[35], d.twist.twist.angular.z)
     == ("base_link", "odom", 345, 1.5, 0.25, -0.5)),
    ("tf2_msgs/msg/TFMessage", tf_message(),
     lambda d: [t.child_frame_id for t in d.transforms] == ["base_link"] * 2),
    ("sensor_msgs/msg/PointCloud2", cloud(),
     lambda d: (d.width, d.fields[0].name, bytes(d.data)) == (2, "x", bytes(range(8)))),
    ("rosgraph_msgs/msg/Clock", Clock(clock=Time(sec=3, nanosec=5)),
     lambda d: (d.clock.sec, d.clock.nanosec) == (3, 5)),
    ("dg_interfaces/msg/MissionProgress", MissionProgress(mission="survey", state=1, total=4),
     lambda d: (d.mission, d.state, d.total) == ("survey", 1, 4)),
])
def test_an_independent_decoder_reads_cdr_with_the_definition(type_name, msg, check):
    schema = Schema(id=1, name=type_name, encoding="ros2msg",
                    data=full_message_definition(type_name).encode())
    decode = DecoderFactory().decoder_for("cdr", schema)
    assert check(decode(serialize_message(msg)))
