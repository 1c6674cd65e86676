"""Node tests of ``target_tracker`` with real rclpy and DDS (wall clock)."""

import math
import time

import pytest
from pyais.encode import encode_dict
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from std_msgs.msg import String

from dg_autonomy.nodes.target_tracker_node import TargetTrackerNode
from dg_common.geodesy import Datum, enu_to_geodetic
from dg_common.param_schema import ParameterError
from dg_common.sim_time import s_to_stamp
from dg_common.testing import spin_until
from dg_interfaces.msg import Target, TargetArray

DATUM = (47.3977, 8.5456, 488.0)
MMSI = 211000042


def sentence(x, y, speed_kn=0.0, course=90.0, mmsi=MMSI):
    lat, lon, _ = enu_to_geodetic(Datum(*DATUM), x, y, 0.0)
    return encode_dict({"type": 1, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": speed_kn,
                        "course": course, "heading": 511, "accuracy": 1,
                        "second": int(time.time()) % 60}, sentence_type="VDM")[0]


class Harness:
    """The tracker plus a test node publishing AIS/tracks and recording /targets."""

    def __init__(self, context, **params):
        overrides = [Parameter("publish_rate_hz", value=10.0)]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.node = TargetTrackerNode(context=context, parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        self.ais_pub = self.io.create_publisher(String, "ais/nmea", 50)
        self.trk_pub = self.io.create_publisher(TargetArray, "tracker/targets", 10)
        self.out = []
        self.io.create_subscription(TargetArray, "targets", self.out.append, QoSProfile(depth=50))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()

    def spin_until(self, condition, timeout_s):
        return spin_until(self.executor, condition, timeout_s)

    def connected(self):
        return self.spin_until(lambda: self.ais_pub.get_subscription_count() == 1
                               and self.trk_pub.get_subscription_count() == 1
                               and self.io.count_publishers("targets") == 1, 3.0)

    def latest(self, tid):
        for msg in reversed(self.out):
            for t in msg.targets:
                if t.id == tid:
                    return msg, t
        return None, None


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context)
    yield h
    h.close()


def test_ais_sentence_becomes_target_in_map_frame(harness):
    h = harness
    assert h.connected()
    h.ais_pub.publish(String(data=sentence(150.0, -60.0)))
    assert h.spin_until(lambda: h.latest(str(MMSI))[1] is not None, 3.0)
    msg, t = h.latest(str(MMSI))
    assert msg.header.frame_id == "map"
    assert t.source == Target.SOURCE_AIS
    assert t.x_m == pytest.approx(150.0, abs=0.5) and t.y_m == pytest.approx(-60.0, abs=0.5)
    assert t.position_sigma_m >= 5.0
    assert h.node.ais_monitor.received == 1


def test_malformed_and_out_of_range_sentences_are_counted_node_stays_alive(harness, capfd):
    h = harness
    assert h.connected()
    good = sentence(10.0, 10.0)
    for bad in ("garbage", good[:-2] + "00", "!AIVDM,1,1,,A,1,0*00"):
        h.ais_pub.publish(String(data=bad))
    lat91 = encode_dict({"type": 1, "mmsi": MMSI, "lat": 91.0, "lon": 181.0, "speed": 1.0,
                         "course": 10.0, "second": 1}, sentence_type="VDM")[0]
    h.ais_pub.publish(String(data=lat91))
    rej = h.node.ais_monitor.rejected
    assert h.spin_until(lambda: sum(rej.values()) == 4, 3.0)
    assert rej["malformed"] == 1 and rej["checksum"] == 2 and rej["position_unavailable"] == 1
    assert "rejected ais/nmea" in capfd.readouterr().err
    # Still alive and decoding.
    h.ais_pub.publish(String(data=good))
    assert h.spin_until(lambda: h.latest(str(MMSI))[1] is not None, 3.0)
    assert h.node.diagnostics.callback_errors == 0
    values = {kv.key: kv.value for kv in h.node.diagnostics.status().values}
    assert values["ais/nmea rejected"] == "4"
    assert values["ais/nmea rejected checksum"] == "2"


def test_tracker_target_fuses_with_ais_and_bad_arrays_are_rejected(harness):
    h = harness
    assert h.connected()
    h.ais_pub.publish(String(data=sentence(200.0, 0.0)))
    now = h.node.now_s()
    arr = TargetArray()
    arr.header.stamp = s_to_stamp(now)
    arr.header.frame_id = "map"
    arr.targets.append(Target(id="T1", source=Target.SOURCE_TRACKER, x_m=204.0, y_m=1.0,
                              course_rad=0.0, speed_mps=0.0, position_sigma_m=2.0))
    h.trk_pub.publish(arr)
    assert h.spin_until(lambda: (h.latest(str(MMSI))[1] is not None
                                 and h.latest(str(MMSI))[1].source == Target.SOURCE_FUSED),
                        3.0)
    _, t = h.latest(str(MMSI))
    assert 200.0 < t.x_m < 204.0
    # Wrong frame, NaN and stale arrays are rejected with reasons.
    bad_frame = TargetArray(header=arr.header, targets=arr.targets)
    bad_frame.header.frame_id = "odom"
    h.trk_pub.publish(bad_frame)
    nan = TargetArray()
    nan.header.stamp = s_to_stamp(h.node.now_s())
    nan.header.frame_id = "map"
    nan.targets.append(Target(id="T2", x_m=math.nan))
    h.trk_pub.publish(nan)
    stale = TargetArray()
    stale.header.stamp = s_to_stamp(h.node.now_s() - 60.0)
    stale.header.frame_id = "map"
    h.trk_pub.publish(stale)
    rej = h.node.tracker_monitor.rejected
    assert h.spin_until(lambda: rej["frame"] == 1 and rej["non_finite"] == 1
                        and rej["stale"] == 1, 3.0)
    assert h.latest("T2")[1] is None


def test_invalid_datum_is_a_configuration_error(ros_context):
    with pytest.raises(ParameterError):
        TargetTrackerNode(context=ros_context, parameter_overrides=[
            Parameter("datum_latitude_deg", value=95.0)])
