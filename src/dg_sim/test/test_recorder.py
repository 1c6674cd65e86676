"""MCAP recording: the writer core, and the recorder node with real rclpy and DDS.

Files are read back with an independent reader (mcap + mcap-ros2-support's decoder).
"""

import signal
import subprocess
import sys
import time

import pytest
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TransformStamped
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from nav_msgs.msg import Odometry
from rclpy.duration import Duration
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String
from tf2_msgs.msg import TFMessage

from dg_common.diagnostics import WARN
from dg_common.param_schema import ParameterError
from dg_sim.nodes.recorder_node import SUBSCRIPTION_DEPTH, LossCounter, RecorderNode
from dg_sim.recording.mcap_writer import (
    BackgroundMcapRecorder,
    McapRecorder,
    OfferedQos,
    offered_qos_yaml,
)
from dg_sim.recording.msgdefs import MessageDefinitionError

INFINITE_NS = 2**63 - 1
S = 1_000_000_000


def read(path):
    """(summary, [(topic, schema name, log_time_ns, decoded message)]) of an MCAP file."""
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        header = reader.get_header()
        messages = [(c.topic, s.name, m.log_time, d)
                    for s, c, m, d in reader.iter_decoded_messages(log_time_order=False)]
    return header, summary, messages


def channels(summary):
    return {c.topic: c for c in summary.channels.values()}


# --- writer core -------------------------------------------------------------------------

def test_offered_qos_yaml_has_rosbag2_keys_and_values():
    profile = OfferedQos("keep_last", 10, "best_effort", "transient_local", INFINITE_NS,
                         1_500_000_000, "automatic", INFINITE_NS, False)
    (parsed,) = yaml.safe_load(offered_qos_yaml([profile]))
    assert list(parsed) == ["history", "depth", "reliability", "durability", "deadline",
                            "lifespan", "liveliness", "liveliness_lease_duration",
                            "avoid_ros_namespace_conventions"]
    assert parsed["reliability"] == "best_effort"
    assert parsed["durability"] == "transient_local"
    assert parsed["deadline"] == {"sec": 9223372036, "nsec": 854775807}  # RMW_DURATION_INFINITE
    assert parsed["lifespan"] == {"sec": 1, "nsec": 500_000_000}


def test_writer_round_trip(tmp_path):
    path = tmp_path / "run.mcap"
    rec = McapRecorder(path)
    rec.add_topic("/chatter", "std_msgs/msg/String", "- depth: 7\n", "RIHS01_abc")
    rec.add_topic("/chatter", "std_msgs/msg/String")  # again, same type: no-op
    rec.add_topic("/chatter2", "std_msgs/msg/String")
    rec.add_topic("/odom", "nav_msgs/msg/Odometry")
    with pytest.raises(ValueError, match="recorded as std_msgs/msg/String"):
        rec.add_topic("/chatter", "nav_msgs/msg/Odometry")
    with pytest.raises(MessageDefinitionError):
        rec.add_topic("/bad", "no_such_pkg_xyz/msg/Foo")
    for i in range(3):
        rec.write("/chatter", serialize_message(String(data=f"m{i}")), (5 + i) * S, 7 * S)
    odom = Odometry(child_frame_id="base_link")
    odom.pose.pose.position.x = 2.5
    rec.write("/odom", serialize_message(odom), 9 * S, 9 * S)
    with pytest.raises(KeyError, match="not added"):
        rec.write("/nope", b"", 0, 0)
    with pytest.raises(ValueError, match="negative"):
        rec.write("/odom", b"", -1, 0)
    assert rec.topics["/chatter"].messages == 3
    rec.close()
    rec.close()
    assert rec.closed
    with pytest.raises(ValueError, match="closed"):
        rec.write("/odom", b"", 0, 0)

    header, summary, messages = read(path)
    assert header.profile == "ros2"
    ch = channels(summary)
    assert set(ch) == {"/chatter", "/chatter2", "/odom"}
    assert ch["/chatter"].message_encoding == "cdr"
    assert ch["/chatter"].metadata == {"offered_qos_profiles": "- depth: 7\n",
                                       "topic_type_hash": "RIHS01_abc"}
    schemas = {s.name: s for s in summary.schemas.values()}
    assert set(schemas) == {"std_msgs/msg/String", "nav_msgs/msg/Odometry"}  # one per type
    assert {s.encoding for s in schemas.values()} == {"ros2msg"}
    assert [(t, m.data, log) for t, _, log, m in messages if t == "/chatter"] == [
        ("/chatter", f"m{i}", (5 + i) * S) for i in range(3)]
    (odom_back,) = [m for t, _, _, m in messages if t == "/odom"]
    assert (odom_back.child_frame_id, odom_back.pose.pose.position.x) == ("base_link", 2.5)
    assert summary.statistics.message_count == 4


def test_writer_never_overwrites(tmp_path):
    path = tmp_path / "exists.mcap"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        McapRecorder(path)
    assert path.read_bytes() == b"precious"


def test_background_writer_keeps_order_and_survives_bad_writes(tmp_path):
    errors = []
    rec = BackgroundMcapRecorder(tmp_path / "bg.mcap", flush_period_s=0.05,
                                 on_error=errors.append)
    with pytest.raises(MessageDefinitionError):
        rec.add_topic("/bad", "no_such_pkg_xyz/msg/Foo")  # raised to the caller, not queued
    assert not rec.has_topic("/bad")
    rec.add_topic("/chatter", "std_msgs/msg/String")
    with pytest.raises(ValueError, match="recorded as"):
        rec.add_topic("/chatter", "nav_msgs/msg/Odometry")
    with pytest.raises(KeyError):
        rec.write("/nope", b"", 0, 0)
    path = tmp_path / "bg.mcap"
    header_size = path.stat().st_size
    for i in range(500):
        rec.write("/chatter", serialize_message(String(data=str(i))), i, i)
        if i == 100:
            rec.write("/chatter", b"", -5, 0)  # fails in the writer thread
            deadline = time.monotonic() + 5.0
            while path.stat().st_size <= header_size:  # the periodic flush reaches the disk
                assert time.monotonic() < deadline, "no periodic flush"
                time.sleep(0.005)
    rec.close()
    rec.close()
    with pytest.raises(ValueError, match="closed"):
        rec.write("/chatter", b"", 0, 0)
    assert rec.errors == 1 and "negative" in str(errors[0])
    assert rec.stats()["/chatter"].messages == 500
    _, summary, messages = read(path)
    assert [m.data for _, _, _, m in messages] == [str(i) for i in range(500)]
    assert summary.statistics.chunk_count >= 2  # the flush ended a chunk early


# --- recorder node -------------------------------------------------------------------------

def make_recorder(context, path, **params):
    overrides = [Parameter("output_path", value=str(path)),
                 Parameter("discovery_period_s", value=0.05)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return RecorderNode(context=context, parameter_overrides=overrides)


def matched_publisher(node, msg_type, topic, qos):
    """A publisher and a function telling how many subscriptions it is matched with (DDS)."""
    matched = [0]

    def on_matched(status):
        matched[0] = status.current_count

    pub = node.create_publisher(msg_type, topic, qos,
                                event_callbacks=PublisherEventCallbacks(matched=on_matched))
    return pub, lambda: matched[0]


def deliver(spin_until, recorder, pub, matched, topic, make, count):
    """Publish ``count`` messages once the recorder subscribed, each awaited until written.

    Publishing only after the DDS match means no message is lost to discovery; awaiting
    each one means no best-effort message is lost to a full queue.
    """
    spin_until(lambda: recorder.recorder.has_topic(topic) and matched() > 0, 5.0)

    def written():
        stats = recorder.recorder.stats().get(topic)
        return 0 if stats is None else stats.messages

    for i in range(count):
        before = written()
        pub.publish(make(i))
        spin_until(lambda b=before: written() > b, 5.0)


def odom_msg(i):
    m = Odometry(child_frame_id="base_link")
    m.header.frame_id = "odom"
    m.pose.pose.position.x = float(i)
    return m


def set_sim_time(spin_until, clock_pub, recorder, t_s):
    clock_pub.publish(Clock(clock=Time(sec=t_s)))
    spin_until(lambda: recorder.get_clock().now().nanoseconds == t_s * S, 5.0)


def test_recorder_records_all_topics_with_matching_qos_and_sim_time(
        tmp_path, context, executor, spin_until):
    talker = Node("talker", context=context)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    tf_static = talker.create_publisher(TFMessage, "/tf_static", latched)
    t = TransformStamped(child_frame_id="base_link")
    t.header.frame_id = "map"
    t.transform.translation.z = 0.5
    tf_static.publish(TFMessage(transforms=[t]))  # before the recorder exists
    chatter, chatter_matched = matched_publisher(talker, String, "/chatter", 10)
    odom, odom_matched = matched_publisher(talker, Odometry, "/odom", qos_profile_sensor_data)
    hidden = talker.create_publisher(String, "/_hidden/chatter", 10)
    clock = talker.create_publisher(Clock, "/clock", 10)
    path = tmp_path / "runs" / "demo" / "all.mcap"  # folders are created
    recorder = make_recorder(context, path, use_sim_time=True, exclude=["/rosout"])
    executor.add_node(talker)
    executor.add_node(recorder)

    spin_until(lambda: recorder.recorder.stats().get("/tf_static") is not None
               and recorder.recorder.stats()["/tf_static"].messages == 1, 5.0)
    set_sim_time(spin_until, clock, recorder, 100)
    deliver(spin_until, recorder, chatter, chatter_matched, "/chatter",
            lambda i: String(data=f"hello {i}"), 5)
    hidden.publish(String(data="secret"))
    set_sim_time(spin_until, clock, recorder, 101)
    deliver(spin_until, recorder, odom, odom_matched, "/odom", odom_msg, 4)
    spin_until(lambda: recorder.recorder.has_topic("/parameter_events"), 5.0)
    recorder.on_exit()  # what run_node does on Ctrl-C
    recorder.on_exit()
    executor.remove_node(recorder)
    recorder.destroy_node()
    talker.destroy_node()

    _, summary, messages = read(path)
    ch = channels(summary)
    assert {"/tf_static", "/chatter", "/odom", "/clock", "/parameter_events"} <= set(ch)
    assert "/rosout" not in ch  # excluded
    assert "/_hidden/chatter" not in ch  # hidden topics are skipped, as by rosbag2
    types = {c.topic: summary.schemas[c.schema_id].name for c in ch.values()}
    assert types["/tf_static"] == "tf2_msgs/msg/TFMessage"
    assert types["/odom"] == "nav_msgs/msg/Odometry"
    qos = {topic: yaml.safe_load(c.metadata["offered_qos_profiles"]) for topic, c in ch.items()}
    assert qos["/tf_static"][0]["durability"] == "transient_local"
    assert qos["/odom"][0]["reliability"] == "best_effort"
    assert qos["/chatter"][0]["reliability"] == "reliable"
    assert ch["/chatter"].metadata["topic_type_hash"].startswith("RIHS01_")

    by_topic = {}
    for topic, _, log_ns, msg in messages:
        by_topic.setdefault(topic, []).append((log_ns, msg))
    ((log_ns, tf),) = by_topic["/tf_static"]
    assert log_ns == 0  # before the first /clock
    assert (tf.transforms[0].child_frame_id, tf.transforms[0].transform.translation.z) == (
        "base_link", 0.5)
    hello = [(log, m.data) for log, m in by_topic["/chatter"]]
    assert hello == [(100 * S, f"hello {i}") for i in range(5)]
    odoms = [(log, m.pose.pose.position.x) for log, m in by_topic["/odom"]]
    assert odoms == [(101 * S, float(i)) for i in range(4)]
    assert summary.statistics.channel_message_counts[ch["/chatter"].id] == len(
        by_topic["/chatter"])


def test_loss_counter_counts_gaps_per_publisher_from_the_first_message_heard():
    c = LossCounter()
    c.seen(b"a", 7)          # sent before the recorder heard from it: not lost
    c.seen(b"b", 1)
    c.seen(b"a", 8)
    c.seen(b"a", 11)         # 9 and 10 lost
    c.seen(b"b", 2)          # another publisher's numbers are its own
    c.seen(b"a", 11)         # a duplicate and a late one neither add nor go back
    c.seen(b"a", 10)
    c.seen(b"a", 12)
    c.seen(b"b", None)       # no sequence number from the middleware: nothing known
    assert c.lost == 2


def test_recorder_counts_what_a_starved_recorder_lost(tmp_path, context, executor,
                                                       spin_until):
    """A burst larger than the subscription queue while the recorder does not run: every
    message is either written or counted lost, and the queue held the last ones."""
    talker = Node("talker", context=context)
    odom, matched = matched_publisher(talker, Odometry, "/odom", qos_profile_sensor_data)
    recorder = make_recorder(context, tmp_path / "burst.mcap")
    executor.add_node(talker)
    executor.add_node(recorder)
    deliver(spin_until, recorder, odom, matched, "/odom", odom_msg, 1)
    burst = 3 * SUBSCRIPTION_DEPTH
    for i in range(1, burst + 1):      # nothing spins meanwhile: the recorder is starved
        odom.publish(odom_msg(i))

    def written():
        return recorder.recorder.stats()["/odom"].messages

    def lost():
        return recorder.lost().get("/odom", 0)

    spin_until(lambda: written() + lost() == burst + 1, 10.0)
    assert lost() >= burst - SUBSCRIPTION_DEPTH
    spin_until(lambda: "messages lost" in recorder.diagnostics.status().message, 5.0)
    status = recorder.diagnostics.status()
    assert status.level == bytes([WARN]) and f"/odom {lost()}" in status.message
    assert {kv.key: kv.value for kv in status.values}["messages_lost"] == str(lost())
    recorder.on_exit()
    recorder.destroy_node()
    talker.destroy_node()
    _, _, messages = read(tmp_path / "burst.mcap")
    xs = [m.pose.pose.position.x for topic, _, _, m in messages if topic == "/odom"]
    assert xs[0] == 0.0 and xs[-1] == float(burst)   # the first and the newest were kept


def test_recorder_topics_parameter_selects_and_exclude_wins(tmp_path, context, executor,
                                                            spin_until):
    talker = Node("talker", context=context)
    chatter, matched = matched_publisher(talker, String, "chatter", 10)
    talker.create_publisher(String, "/other", 10)
    path = tmp_path / "some.mcap"
    recorder = make_recorder(context, path, topics=["chatter", "/other"], exclude=["other"])
    executor.add_node(talker)
    executor.add_node(recorder)
    deliver(spin_until, recorder, chatter, matched, "/chatter", lambda i: String(data=str(i)), 2)
    recorder.on_exit()
    recorder.destroy_node()
    talker.destroy_node()
    _, summary, messages = read(path)
    assert set(channels(summary)) == {"/chatter"}
    assert [m.data for _, _, _, m in messages] == ["0", "1"]


@pytest.mark.parametrize(("params", "match"), [
    ({"output_path": ""}, "must name the .mcap file"),
    ({"topics": ["bad name"]}, "parameter 'topics'"),
])
def test_recorder_rejects_bad_parameters(tmp_path, context, params, match):
    overrides = [Parameter("output_path", value=str(tmp_path / "x.mcap"))]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    with pytest.raises(ParameterError, match=match):
        RecorderNode(context=context, parameter_overrides=overrides)


def run_recorder(node_env, *params):
    return subprocess.Popen(
        [sys.executable, "-c", "from dg_sim.nodes.recorder_node import main; main()",
         "--ros-args", *[a for p in params for a in ("-p", p)]],
        env=node_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize(("make_path", "match"), [
    (lambda tmp: tmp / "taken.mcap", "already exists"),
    (lambda tmp: tmp / "a_file" / "x.mcap", "cannot create the folder"),
])
def test_unwritable_output_path_exits_2_without_traceback(tmp_path, node_env, make_path,
                                                          match):
    (tmp_path / "taken.mcap").write_bytes(b"old")
    (tmp_path / "a_file").write_bytes(b"")
    proc = run_recorder(node_env, f"output_path:={make_path(tmp_path)}")
    output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 2, output
    assert "configuration error: parameter 'output_path'" in output and match in output
    assert "Traceback" not in output
    assert (tmp_path / "taken.mcap").read_bytes() == b"old"


def test_ctrl_c_leaves_a_complete_file(tmp_path, node_env, context, executor, spin_until):
    """The recorder as a process, stopped by SIGINT: the file is complete and readable."""
    talker = Node("talker", context=context)
    chatter, matched = matched_publisher(talker, String, "/chatter", 10)
    received = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == "/recorder":
                received.update({kv.key: kv.value for kv in status.values})

    talker.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    executor.add_node(talker)
    path = tmp_path / "ctrl_c.mcap"
    proc = run_recorder(node_env, f"output_path:={path}", "discovery_period_s:=0.05",
                        "topics:=['/chatter']")
    try:
        spin_until(lambda: matched() > 0, 10.0)
        for i in range(10):
            chatter.publish(String(data=f"n{i}"))
        assert chatter.wait_for_all_acked(Duration(seconds=5.0))
        spin_until(lambda: received.get("/chatter received") == "10", 5.0)  # processed
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=10)[0]
    finally:
        proc.kill()
    talker.destroy_node()
    assert proc.returncode == 0, output
    _, summary, messages = read(path)
    assert summary is not None and summary.statistics is not None  # footer and summary written
    assert [m.data for _, _, _, m in messages] == [f"n{i}" for i in range(10)]
    now_ns = time.time_ns()
    assert all(abs(log - now_ns) < 60 * S for _, _, log, _ in messages)  # wall time
