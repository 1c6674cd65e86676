"""Node tests of ``inspection_cell`` with real rclpy: topics, stamps, units, handshake, progress.

The test owns /clock (``use_sim_time``) and plays the inspection station: it answers each
part with an InspectionResult carrying the part's stamp, or stays silent to force a timeout.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String

from dg_common.param_schema import ParameterError, validate
from dg_common.sim_time import stamp_to_ns
from dg_common.testing import spin_until
from dg_interfaces.msg import InspectionResult, MissionProgress
from dg_sim.nodes.inspection_cell_node import SCHEMA, TICK_S, InspectionCellNode

NS = "/inspection"
SMALL = {"image_width_px": 640, "image_height_px": 480, "supersample": 2,
         "depth_pitch_mm": 0.5}


class Station:
    """Test node: owns /clock, records the cell's outputs, answers with results."""

    def __init__(self, context, executor, cell, with_result_pub=True):
        self.node = Node("station_test", namespace=NS, context=context)
        self.executor, self.cell = executor, cell
        self.clock_pub = self.node.create_publisher(Clock, "/clock", 10)
        self.result_pub = (self.node.create_publisher(InspectionResult, "result", 10)
                           if with_result_pub else None)
        self.out = {}
        for key, cls in (("image_raw", Image), ("camera_info", CameraInfo),
                         ("points", PointCloud2), ("ground_truth", String)):
            self.out[key] = []
            self.node.create_subscription(cls, key, self.out[key].append, QoSProfile(depth=50))
        self.progress = []
        self.node.create_subscription(
            MissionProgress, "progress", self.progress.append,
            QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        executor.add_node(cell)
        executor.add_node(self.node)
        self.t_ns = 0
        self.tick = next(t for t in cell.timers if t.timer_period_ns == round(TICK_S * 1e9))

    def advance(self, until_s):
        """Step /clock to ``until_s`` [s] one cell tick at a time, each once the tick ran."""
        while self.t_ns < round(until_s * 1e9):
            self.t_ns += round(TICK_S * 1e9)
            self.clock_pub.publish(Clock(clock=Time(sec=self.t_ns // 1_000_000_000,
                                                    nanosec=self.t_ns % 1_000_000_000)))
            t = self.t_ns * 1e-9
            if not spin_until(self.executor, lambda t=t: self.cell.now_s() >= t - 1e-9
                              and not self.tick.is_ready(), 10.0):
                pytest.fail(f"the cell's tick at {t:.2f} s did not run within 10 s")

    def spin_until(self, condition, timeout_s=5.0):
        if not spin_until(self.executor, condition, timeout_s):
            pytest.fail(f"condition not met within {timeout_s} s")

    def wait_progress(self, state=MissionProgress.STATE_SUCCEEDED):
        """Spin until the cell's progress says ``state``."""
        self.spin_until(lambda: bool(self.progress) and self.progress[-1].state == state)

    def answer(self, image_msg, ok=True):
        r = InspectionResult()
        r.header = image_msg.header
        r.ok = ok
        self.result_pub.publish(r)


def make_cell(context, **params):
    values = {"use_sim_time": True, "seed": 3, "n_parts": 3, "part_period_s": 1.0,
              "finish_delay_s": 0.2,
              "start_delay_s": 0.5, "wait_for": ["image_raw", "points", "ground_truth"],
              **SMALL, **params}
    return InspectionCellNode(context=context, namespace=NS, parameter_overrides=[
        Parameter(k, value=v) for k, v in values.items()])


def stamp_ns(msg):
    return stamp_to_ns(msg.header.stamp)


def test_free_running_line_publishes_consistent_parts_and_succeeds(context, executor):
    cell = make_cell(context, result_topic="", encoding="mono8")
    st = Station(context, executor, cell, with_result_pub=False)
    st.advance(4.0)
    out = st.out
    st.spin_until(lambda: [len(out[k]) for k in out] == [3, 3, 3, 3])
    assert stamp_ns(out["image_raw"][0]) >= 0.5e9   # nothing before start_delay_s
    for img, info, cloud, gt in zip(*out.values(), strict=True):
        truth = json.loads(gt.data)
        # One stamp for the part on every topic (and in the ground truth's JSON).
        assert stamp_ns(img) == stamp_ns(info) == stamp_ns(cloud) == truth["stamp_ns"] > 0
        assert (img.encoding, img.width, img.height, img.step) == ("mono8", 640, 480, 640)
        assert img.header.frame_id == info.header.frame_id == "inspection_camera_optical_frame"
        # K: f = 3000 px, principal point at the centre; 0.1 mm/px at 300 mm.
        assert info.k[0] == info.k[4] == 3000.0 and info.k[2] == pytest.approx(319.5)
        assert cloud.header.frame_id == "conveyor" and cloud.point_step == 12
        pts = np.frombuffer(bytes(cloud.data), np.float32).reshape(-1, 3)
        assert len(pts) == cloud.width > 5000
        # Metres on the wire: the housing is 60 x 40 mm, 6-16 mm tall.
        assert 0.0055 < np.median(pts[:, 2]) < 0.0165 and np.ptp(pts[:, 0]) < 0.07
        assert {"part_id", "defective", "defects", "serial"} <= set(truth)
    gts = [json.loads(m.data) for m in out["ground_truth"]]
    assert [g["part_id"] for g in gts] == ["P00000", "P00001", "P00002"]
    gaps = np.diff([g["stamp_ns"] for g in gts]) * 1e-9
    assert np.all(gaps >= 1.0 - 1e-6) and np.all(gaps < 1.2)   # part_period_s
    st.advance(5.0)
    st.wait_progress()
    assert (st.progress[-1].completed, st.progress[-1].total) == (3, 3)
    assert len(st.out["image_raw"]) == 3       # no part after n_parts
    cell.destroy_node()


def test_handshake_waits_for_each_result_and_times_out(context, executor):
    cell = make_cell(context, result_topic="result", result_timeout_s=2.0, n_parts=2)
    st = Station(context, executor, cell)
    st.advance(1.0)
    images = st.out["image_raw"]
    st.spin_until(lambda: len(images) == 1)
    first = images[0]
    assert first.encoding == "bgr8" and first.step == 3 * 640
    st.advance(1.9)          # no result yet: the line holds although part_period_s passed ...
    st.answer(first, ok=True)
    st.advance(2.2)
    st.spin_until(lambda: len(images) == 2)
    assert stamp_ns(images[1]) > 1.9e9      # ... until the result released the next part
    # Part 2 gets no result: after result_timeout_s the line gives up and finishes.
    st.advance(5.0)
    st.wait_progress()
    assert stamp_ns(st.progress[-1]) >= stamp_ns(images[1]) + 2.0e9
    assert "1 without result" in st.progress[-1].detail
    status = {v.key: v.value for v in cell.diagnostics.status().values}
    assert status["timeouts"] == "1" and status["parts_inspected"] == "1"
    cell.destroy_node()


def test_line_stops_when_the_station_stops_answering(context, executor):
    cell = make_cell(context, result_topic="result", result_timeout_s=1.0, n_parts=10,
                     part_period_s=0.5, max_consecutive_timeouts=2)
    st = Station(context, executor, cell)
    st.advance(6.0)
    st.wait_progress(MissionProgress.STATE_FAILED)
    assert len(st.out["image_raw"]) == 2       # two parts unanswered, then the line stops
    assert "did not answer 2 parts in a row" in st.progress[-1].detail
    cell.destroy_node()


def test_handshake_waits_for_a_station(context, executor):
    cell = make_cell(context, result_topic="result")
    st = Station(context, executor, cell, with_result_pub=False)
    st.advance(3.0)                            # the cell ticked through 3 s ...
    assert cell._started_s is None             # ... without a station: the line never started
    st.wait_progress(MissionProgress.STATE_IDLE)
    assert st.out["image_raw"] == []
    cell.destroy_node()


@pytest.mark.parametrize("params, match", [
    ({"defect_types": ["scratch", "crack"]}, "defect_types.*crack.*not allowed"),
    ({"wait_for": ["images"]}, "wait_for.*images.*not allowed"),
    ({"encoding": "rgb16"}, "encoding"),
    ({"publish_points": False}, "wait_for.*points.*publish_points is false"),
])
def test_bad_parameters_are_rejected(context, params, match):
    with pytest.raises(ParameterError, match=match):
        make_cell(context, **params)


def test_without_points_the_line_runs_on_the_camera_alone(context, executor):
    cell = make_cell(context, result_topic="", publish_points=False, n_parts=1,
                     wait_for=["image_raw", "camera_info"])
    st = Station(context, executor, cell, with_result_pub=False)
    st.advance(1.0)
    st.spin_until(lambda: len(st.out["image_raw"]) == len(st.out["camera_info"]) == 1)
    assert st.out["points"] == [] and cell.count_publishers(f"{NS}/points") == 0
    cell.destroy_node()


def test_first_part_waits_for_every_wait_for_topic(context, executor):
    cell = make_cell(context, result_topic="", n_parts=1, wait_for=["image_raw", "camera_info"])
    probe = Node("probe", namespace=NS, context=context)
    executor.add_node(cell)
    executor.add_node(probe)
    clock = probe.create_publisher(Clock, "/clock", 10)
    images = []
    probe.create_subscription(Image, "image_raw", images.append, QoSProfile(depth=10))

    def advance(t_s):
        clock.publish(Clock(clock=Time(sec=int(t_s), nanosec=int(t_s % 1 * 1e9))))
        assert spin_until(executor, lambda: cell.now_s() >= t_s - 1e-9, 10.0)

    for k in range(1, 41):           # 2 s of sim time: nobody listens to camera_info
        advance(0.05 * k)
    assert cell._started_s is None and images == []
    probe.create_subscription(CameraInfo, "camera_info", lambda _: None, QoSProfile(depth=10))
    for k in range(41, 81):
        advance(0.05 * k)
    assert spin_until(executor, lambda: len(images) == 1, 5.0)
    cell.destroy_node()
    probe.destroy_node()


def test_the_cell_params_file_documents_the_nodes_defaults():
    import yaml

    path = Path(__file__).resolve().parents[3] / "config" / "inspection_cell.yaml"
    values = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    specs = {s.name: s for s in SCHEMA}
    assert set(values) <= set(specs)
    # One source of defaults: the file lists them, it does not change them; the launch
    # arguments (n_parts, seed, wait_for) are not in it.
    assert {k: validate(specs[k], v) for k, v in values.items()} == {
        k: specs[k].default for k in values}
    assert not {"n_parts", "seed", "wait_for"} & set(values)
