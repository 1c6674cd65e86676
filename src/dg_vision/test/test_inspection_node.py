"""Node tests of ``inspection`` with real rclpy and DDS."""

import math
import threading
import time

import cv2
import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from vision_msgs.msg import Detection2DArray
from vision_test_parts import render_board

from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.param_schema import ParameterError
from dg_common.sensor_conv import image_from_msg as _image_from_msg
from dg_common.sim_time import s_to_stamp
from dg_common.testing import spin_until
from dg_interfaces.msg import InspectionResult
from dg_vision.image import as_image
from dg_vision.nodes.inspection_node import InspectionNode

# --- message conversion ------------------------------------------------------------------

def image_from_msg(msg):
    """What the node makes of an image message (sensor_conv + the core's checks)."""
    return as_image(_image_from_msg(msg))


def _now():
    """A fresh stamp [s]: the node rejects inputs older than max_input_age_s."""
    return time.time()


def _image_msg(img, encoding="mono8", stamp_s=None, frame="camera"):
    msg = Image()
    msg.header.stamp = s_to_stamp(_now() if stamp_s is None else stamp_s)
    msg.header.frame_id = frame
    if encoding == "rgb8":
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif encoding == "bgr8":
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif encoding == "mono16":
        img = img.astype(np.uint16) * 257
    msg.height, msg.width = img.shape[:2]
    msg.encoding = encoding
    msg.step = img.strides[0]
    msg.data = img.tobytes()
    return msg


def test_image_conversion_of_every_encoding():
    gray = render_board(seed=7)
    for enc in ("mono8", "bgr8", "rgb8", "mono16"):
        out = image_from_msg(_image_msg(gray, enc))
        assert out.dtype == np.uint8
        back = out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        assert np.array_equal(back, gray), enc
    colour = np.zeros((20, 30, 3), np.uint8)
    colour[:, :, 0] = 255          # red in RGB
    msg = _image_msg(colour, "mono8")
    msg.encoding, msg.step = "rgb8", 90
    assert image_from_msg(msg)[0, 0].tolist() == [0, 0, 255]    # BGR: red last
    # a padded row (step > width * bpp) and big-endian mono16
    pad = np.zeros((20, 40), np.uint8)
    pad[:, :30] = 77
    msg = _image_msg(pad)
    msg.width = 30
    assert image_from_msg(msg).shape == (20, 30) and image_from_msg(msg).max() == 77
    be = (np.full((20, 30), 200, np.uint16) * 257).astype(">u2")
    msg = _image_msg(np.zeros((20, 30), np.uint8))
    msg.encoding, msg.is_bigendian, msg.step, msg.data = "mono16", 1, 60, be.tobytes()
    assert image_from_msg(msg).max() == 200


# --- the node ------------------------------------------------------------------------------

IMAGE_RECIPE = {
    "name": "node_board",
    "units": {"working_distance_mm": 100.0},       # mm per px = 100 / fx = 0.05
    "steps": [
        {"name": "hole", "type": "circle", "center": [130, 110], "radius": 18, "search": 6,
         "nominal": 1.8, "tol": 0.05},
        {"name": "bar", "type": "caliper_width", "line": [[205, 180], [251, 180]],
         "thickness": 8, "nominal": 0.8, "tol": 0.025},
        {"name": "label", "type": "code_read", "roi": [256, 140, 60, 60], "part_id": True},
    ],
}

CLOUD_RECIPE = {
    "name": "node_plate",
    "steps": [
        {"name": "base", "type": "flatness", "region": [2, 2, 28, 38], "upper": 0.05},
        {"name": "step", "type": "step_height", "region_a": [2, 2, 28, 38],
         "region_b": [32, 2, 58, 38], "nominal": 2.0, "tol": 0.05},
    ],
}


def _camera_info(stamp_s=None, w=400, h=300):
    msg = CameraInfo()
    msg.header.stamp = s_to_stamp(_now() if stamp_s is None else stamp_s)
    msg.width, msg.height = w, h
    msg.k = [2000.0, 0.0, w / 2, 0.0, 2000.0, h / 2, 0.0, 0.0, 1.0]
    return msg


def _cloud_msg(pts_m, stamp_s=None, dense=True, organised=None):
    msg = PointCloud2()
    msg.header.stamp = s_to_stamp(_now() if stamp_s is None else stamp_s)
    msg.header.frame_id = "depth"
    arr = np.asarray(pts_m, np.float32)
    if organised:
        msg.height, msg.width = organised
    else:
        msg.height, msg.width = 1, len(arr)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate("xyz")]
    msg.point_step = 16                    # 4 bytes of padding, as many drivers do
    msg.row_step = 16 * msg.width
    padded = np.zeros((len(arr), 4), np.float32)
    padded[:, :3] = arr
    msg.data = padded.tobytes()
    msg.is_dense = dense
    return msg


def _plate_cloud_m(seed=0, step_mm=2.0):
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(0, 60, 61), np.linspace(0, 40, 41))
    z = np.where(x > 30, step_mm, 0.0)
    pts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    pts[:, 2] += rng.normal(0, 0.002, len(pts))
    return pts / 1000.0


class Harness:
    """The inspection node plus a test node publishing inputs and recording outputs."""

    def __init__(self, context, recipe_file, **params):
        overrides = [Parameter("recipe_file", value=str(recipe_file))]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        self.node = InspectionNode(context=context, parameter_overrides=overrides)
        self.io = Node("test_io", context=context)
        self.image_pub = self.io.create_publisher(Image, "image_raw", 10)
        self.info_pub = self.io.create_publisher(CameraInfo, "camera_info", 10)
        self.points_pub = self.io.create_publisher(PointCloud2, "points", 10)
        self.results, self.detections, self.annotated, self.diags = [], [], [], []
        q = QoSProfile(depth=50)
        self.io.create_subscription(InspectionResult, "result", self.results.append, q)
        self.io.create_subscription(Detection2DArray, "detections", self.detections.append, q)
        self.io.create_subscription(Image, "annotated", self.annotated.append, q)
        self.io.create_subscription(DiagnosticArray, "/diagnostics", self.diags.append, q)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()

    def spin_until(self, condition, timeout_s=5.0):
        return spin_until(self.executor, condition, timeout_s)

    def connected(self, pubs):
        return self.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in pubs)
                               and self.io.count_publishers("result") >= 1
                               and self.node.annotated_pub.get_subscription_count() >= 1, 5.0)

    def rejected(self, topic):
        return self.node.monitors[topic].rejected

    def level(self):
        return self.node.diagnostics.status().level

    def values(self):
        return {kv.key: kv.value for kv in self.node.diagnostics.status().values}


def _write(tmp_path, data, name="recipe.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.fixture
def image_harness(ros_context, tmp_path):
    h = Harness(ros_context, _write(tmp_path, IMAGE_RECIPE))
    yield h
    h.close()


def test_frames_are_inspected_and_published(image_harness, capfd):
    h = image_harness
    assert h.connected([h.image_pub, h.info_pub])
    frames = [(render_board(seed=1), "mono8", True),
              (render_board(hole_r=20.0, seed=2), "bgr8", False),
              (render_board(bar_w=17.0, seed=3), "rgb8", False),
              (render_board(seed=4), "mono16", True)]
    stamps = []
    for img, enc, _ in frames:
        t = s_to_stamp(_now())
        stamps.append(t)
        msg = _image_msg(img, enc)
        msg.header.stamp = t
        info = _camera_info()
        info.header.stamp = t
        h.image_pub.publish(msg)
        h.info_pub.publish(info)
        assert h.spin_until(lambda t=t: any(r.header.stamp == t for r in h.results), 10.0), enc
    assert h.spin_until(lambda: len(h.annotated) == 4 and len(h.detections) == 4, 5.0)
    by_t = {(r.header.stamp.sec, r.header.stamp.nanosec): r for r in h.results}
    by_t = [by_t[(t.sec, t.nanosec)] for t in stamps]
    for r, (_, enc, ok) in zip(by_t, frames, strict=True):
        assert r.ok is ok, (enc, [(m.name, m.value, m.message) for m in r.measurements])
        assert r.recipe == "node_board" and r.part_id == "SN-0042"
        assert r.header.frame_id == "camera" and r.processing_time_s > 0
        assert math.isnan(r.anomaly_score)
        m = {x.name: x for x in r.measurements}
        assert m["hole.diameter"].unit == "mm" and m["bar.width"].unit == "mm"
    assert {m.name: m for m in by_t[0].measurements}["hole.diameter"].value == pytest.approx(
        1.8, abs=0.01)
    assert by_t[1].failures == ["hole.diameter"]
    assert by_t[2].failures == ["bar.width"]
    bad = {m.name: m for m in by_t[1].measurements}["hole.diameter"]
    assert not bad.ok and bad.value == pytest.approx(2.0, abs=0.01) and "upper" in bad.message
    a = h.annotated[0]
    assert (a.encoding, a.width, a.height, a.step) == ("bgr8", 400, 300, 1200)
    assert a.header.stamp == h.results[0].header.stamp
    d = h.detections[0]
    assert d.header.stamp == h.results[0].header.stamp
    hole = next(x for x in d.detections if x.results[0].hypothesis.class_id == "hole")
    assert hole.bbox.center.position.x == pytest.approx(130.0, abs=0.2)
    assert hole.bbox.size_x == pytest.approx(36.0, abs=0.3)
    assert any(x.id == "SN-0042" for x in d.detections)
    v = h.values()
    assert v["result received"] == "4" and v["passed"] == "2" and v["failed"] == "2"
    assert float(v["processing_time_ms mean"]) > 0
    assert h.spin_until(lambda: any(s.name.endswith("inspection") for a in h.diags
                                    for s in a.status), 3.0)
    assert h.node.diagnostics.callback_errors == 0
    assert "rejected" not in capfd.readouterr().err


def test_pairing_by_stamp_with_slop_and_drops(ros_context, tmp_path):
    h = Harness(ros_context, _write(tmp_path, IMAGE_RECIPE), sync_slop_s=0.005)
    try:
        assert h.connected([h.image_pub, h.info_pub])
        img = render_board(seed=5)
        t = _now()
        h.info_pub.publish(_camera_info(t - 1.0))           # no image with this stamp
        h.image_pub.publish(_image_msg(img, "mono8", t))
        assert h.spin_until(lambda: h.node.monitors["image_raw"].received == 1
                            and h.node.monitors["camera_info"].received == 1, 5.0)
        assert h.results == []
        h.info_pub.publish(_camera_info(t + 0.003))         # within the 5 ms slop
        assert h.spin_until(lambda: len(h.results) == 1, 10.0)
        assert h.results[0].header.stamp == s_to_stamp(t)
        assert h.node.sync.dropped["camera_info"] == 1
        assert h.values()["sync dropped"] == "1"
    finally:
        h.close()


def test_bad_images_are_rejected_and_the_node_keeps_running(image_harness, capfd):
    h = image_harness
    assert h.connected([h.image_pub, h.info_pub])
    img = render_board(seed=6)
    empty = _image_msg(img)
    empty.width = empty.height = 0
    empty.data = b""
    truncated = _image_msg(img)
    truncated.data = truncated.data[:-400]
    encoding = _image_msg(img)
    encoding.encoding = "yuv422"
    huge = _image_msg(np.zeros((8, 8), np.uint8))
    huge.width, huge.height, huge.step = 200_000, 100_000, 200_000
    layout = _image_msg(img)
    layout.step = 100                      # < width
    tiny = _image_msg(np.zeros((4, 4), np.uint8))
    no_stamp = _image_msg(img, stamp_s=0.0)
    rej = h.rejected("image_raw")
    for i, msg in enumerate((empty, truncated, encoding, huge, layout, tiny, no_stamp)):
        h.image_pub.publish(msg)           # one at a time: each rejection counted in turn
        assert h.spin_until(lambda i=i: sum(rej.values()) == i + 1, 5.0), dict(rej)
    assert dict(rej) == {"empty": 1, "truncated": 1, "encoding": 1, "oversize": 1,
                         "layout": 1, "invalid": 1, "stale": 1}
    assert h.level() == bytes([WARN])
    assert h.values()["image_raw rejected truncated"] == "1"
    assert "rejected image_raw" in capfd.readouterr().err
    # camera_info of another size than the image, and a non-finite K
    t = _now()
    h.image_pub.publish(_image_msg(img, stamp_s=t))
    h.info_pub.publish(_camera_info(t, w=640, h=480))
    bad_k = _camera_info(t + 0.01)
    bad_k.k[0] = math.nan
    h.info_pub.publish(bad_k)
    zero_f = _camera_info(t + 0.02)
    zero_f.k[4] = 0.0
    h.info_pub.publish(zero_f)
    crej = h.rejected("camera_info")
    assert h.spin_until(lambda: crej["size_mismatch"] == 1 and crej["invalid"] == 2, 5.0)
    # still alive: a good frame is inspected, status back to OK
    t = _now()
    h.image_pub.publish(_image_msg(img, stamp_s=t))
    h.info_pub.publish(_camera_info(t))
    assert h.spin_until(lambda: len(h.results) == 1, 10.0)
    assert h.results[0].ok and h.level() == bytes([OK])
    assert h.node.diagnostics.callback_errors == 0
    v = h.values()
    assert int(v["image_raw rejected"]) + int(v["camera_info rejected"]) == 10


def test_stale_and_future_stamps_are_rejected(image_harness):
    h = image_harness
    assert h.node.params.max_input_age_s == 5.0
    assert h.connected([h.image_pub, h.info_pub])
    img = render_board(seed=6)
    rej = h.rejected("image_raw")
    crej = h.rejected("camera_info")
    for i, stamp in enumerate((_now() - 100.0, _now() + 10.0)):
        h.image_pub.publish(_image_msg(img, stamp_s=stamp))
        h.info_pub.publish(_camera_info(stamp))
        assert h.spin_until(lambda i=i: rej["stale"] == i + 1 and crej["stale"] == i + 1,
                            5.0), (dict(rej), dict(crej))
    assert h.results == [] and h.level() == bytes([WARN])


def test_inputs_keep_coming_while_a_frame_is_inspected(ros_context, tmp_path):
    """On sim time, a frame arriving while the previous one is still inspected is judged by
    the current clock: the next part's frame, stamped 10 s (> max_input_age_s) after the
    one being inspected, is accepted, not taken for a frame from the future."""
    h = Harness(ros_context, _write(tmp_path, IMAGE_RECIPE), use_sim_time=True)
    clock_pub = h.io.create_publisher(Clock, "/clock", 10)
    started, release, finished = threading.Event(), threading.Event(), []
    run = h.node.recipe.run

    def slow_run(**kwargs):
        started.set()
        release.wait(10.0)
        out = run(**kwargs)
        finished.append(True)
        return out

    h.node.recipe.run = slow_run
    try:
        assert h.connected([h.image_pub, h.info_pub])
        img = render_board(seed=7)
        for k, t in enumerate((100.0, 110.0)):
            clock_pub.publish(Clock(clock=s_to_stamp(t)))
            assert h.spin_until(lambda t=t: h.node.now_s() == t, 5.0)
            h.image_pub.publish(_image_msg(img, stamp_s=t))
            h.info_pub.publish(_camera_info(t))
            assert h.spin_until(lambda k=k: h.node.monitors["image_raw"].received == k + 1
                                and h.node.monitors["camera_info"].received == k + 1
                                and started.is_set(), 5.0)
        assert not finished                          # the first frame is still inspected
        assert h.node.backlog == 1 and sum(h.rejected("image_raw").values()) == 0
        release.set()
        assert h.spin_until(lambda: len(h.results) == 2, 20.0)
        assert [r.header.stamp for r in h.results] == [s_to_stamp(100.0), s_to_stamp(110.0)]
        assert h.values()["backlog dropped"] == "0"
    finally:
        release.set()
        h.close()


def test_a_full_backlog_drops_the_oldest_waiting_set(ros_context, tmp_path):
    h = Harness(ros_context, _write(tmp_path, IMAGE_RECIPE), max_backlog=1)
    started, release = threading.Event(), threading.Event()
    run = h.node.recipe.run

    def slow_run(**kwargs):
        started.set()
        release.wait(10.0)
        return run(**kwargs)

    h.node.recipe.run = slow_run
    try:
        assert h.connected([h.image_pub, h.info_pub])
        img = render_board(seed=8)
        t0 = _now()
        stamps = [t0, t0 + 0.1, t0 + 0.2]
        for k, t in enumerate(stamps):
            h.image_pub.publish(_image_msg(img, stamp_s=t))
            h.info_pub.publish(_camera_info(t))
            assert h.spin_until(lambda k=k: h.node.monitors["image_raw"].received == k + 1
                                and h.node.monitors["camera_info"].received == k + 1
                                and started.is_set(), 5.0)
        # the first is being inspected, the second was waiting and gave way to the third
        assert h.node.backlog_dropped == 1 and h.level() == bytes([WARN])
        release.set()
        assert h.spin_until(lambda: len(h.results) == 2, 20.0)
        assert [r.header.stamp for r in h.results] == [s_to_stamp(stamps[0]),
                                                        s_to_stamp(stamps[2])]
    finally:
        release.set()
        h.close()


def test_best_effort_inputs(ros_context, tmp_path):
    h = Harness(ros_context, _write(tmp_path, IMAGE_RECIPE), reliable_inputs=False)
    try:
        assert h.node.input_qos.reliability == ReliabilityPolicy.BEST_EFFORT
        assert h.spin_until(lambda: len(h.io.get_subscriptions_info_by_topic("image_raw")) == 1,
                            5.0)
        for topic in ("image_raw", "camera_info"):
            (info,) = h.io.get_subscriptions_info_by_topic(topic)
            assert info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT, topic
    finally:
        h.close()


def test_point_clouds(ros_context, tmp_path):
    h = Harness(ros_context, _write(tmp_path, CLOUD_RECIPE))
    try:
        assert "image_raw" not in h.node.monitors
        assert h.connected([h.points_pub])
        h.points_pub.publish(_cloud_msg(_plate_cloud_m()))
        assert h.spin_until(lambda: len(h.results) == 1, 10.0)
        r = h.results[0]
        m = {x.name: x for x in r.measurements}
        assert r.ok and m["step.height"].unit == "mm"
        assert m["step.height"].value == pytest.approx(2.0, abs=0.01)   # m -> mm, B above A
        assert r.header.frame_id == "depth" and h.annotated == []
        # organised cloud with a few invalid points: they are dropped
        pts = _plate_cloud_m(seed=1)
        pts[::50] = np.nan
        h.points_pub.publish(_cloud_msg(pts, dense=False, organised=(41, 61)))
        assert h.spin_until(lambda: len(h.results) == 2, 10.0)
        assert h.results[1].ok
        # bad clouds
        nan_dense = _plate_cloud_m()
        nan_dense[3] = np.nan
        all_nan = np.full((100, 3), np.nan)
        truncated = _cloud_msg(_plate_cloud_m())
        truncated.data = truncated.data[:-16]
        no_z = _cloud_msg(_plate_cloud_m())
        no_z.fields = no_z.fields[:2]
        as_int = _cloud_msg(_plate_cloud_m())
        as_int.fields[2].datatype = PointField.INT32
        empty = _cloud_msg(np.zeros((0, 3)))
        rej = h.rejected("points")
        for i, msg in enumerate((_cloud_msg(nan_dense),
                                 _cloud_msg(all_nan, dense=False),
                                 truncated, no_z, as_int, empty)):
            h.points_pub.publish(msg)
            assert h.spin_until(lambda i=i: sum(rej.values()) == i + 1, 5.0), dict(rej)
        assert dict(rej) == {"non_finite": 2, "truncated": 1, "fields": 2, "empty": 1}
        h.points_pub.publish(_cloud_msg(_plate_cloud_m(seed=2)))
        assert h.spin_until(lambda: len(h.results) == 3, 10.0)
        assert h.node.diagnostics.callback_errors == 0
    finally:
        h.close()


def _assert_rejects_without_recipe(h, words):
    assert h.node.recipe is None
    assert h.level() == bytes([ERROR])
    status = h.node.diagnostics.status()
    assert "no recipe" in status.message and words in status.message
    assert h.connected([h.image_pub, h.points_pub])
    h.image_pub.publish(_image_msg(render_board()))
    h.points_pub.publish(_cloud_msg(_plate_cloud_m()))
    assert h.spin_until(lambda: h.rejected("image_raw")["no_recipe"] == 1
                        and h.rejected("points")["no_recipe"] == 1, 5.0)
    assert h.results == [] and h.node.diagnostics.callback_errors == 0


def test_missing_recipe_file_keeps_the_node_up_in_error(ros_context, tmp_path, capfd):
    h = Harness(ros_context, tmp_path / "nope.yaml")
    try:
        _assert_rejects_without_recipe(h, "does not exist")
        assert "no usable recipe" in capfd.readouterr().err
    finally:
        h.close()


def test_inconsistent_recipe_keeps_the_node_up_in_error(ros_context, tmp_path):
    bad = {"name": "bad", "steps": [{"name": "hole", "type": "circle", "center": [1, 2],
                                     "radius": 5, "fixture": "later"},
                                    {"name": "later", "type": "blob_count"}]}
    h = Harness(ros_context, _write(tmp_path, bad))
    try:
        _assert_rejects_without_recipe(h, "step 'hole'")
    finally:
        h.close()


def test_anomaly_model_from_another_backbone(ros_context, tmp_path, anomaly_model):
    import zipfile

    foreign = tmp_path / "foreign.dgm"
    with zipfile.ZipFile(anomaly_model) as src, zipfile.ZipFile(foreign, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "meta.json":
                data = data.replace(b'"efficientnet', b'"resnet18-efficientnet')
            dst.writestr(item, data)
    recipe = {"name": "ad", "steps": [{"name": "surface", "type": "anomaly",
                                       "model": str(anomaly_model)}]}
    path = _write(tmp_path, recipe)
    h = Harness(ros_context, path, anomaly_model_file=str(foreign))
    try:
        _assert_rejects_without_recipe(h, "backbone")
    finally:
        h.close()
    # the same recipe with its own (good) model works and reports the anomaly score
    h = Harness(ros_context, path)
    try:
        assert "camera_info" not in h.node.monitors      # lengths in px: no focal length
        assert h.connected([h.image_pub])
        img = render_board(seed=8)[40:260, 60:340]
        h.image_pub.publish(_image_msg(np.ascontiguousarray(img)))
        assert h.spin_until(lambda: len(h.results) == 1, 10.0)
        assert h.results[0].ok and math.isfinite(h.results[0].anomaly_score)
    finally:
        h.close()


def test_recipe_file_parameter_is_required(ros_context):
    with pytest.raises(ParameterError, match="recipe_file"):
        InspectionNode(context=ros_context)


def test_image_and_cloud_of_one_part_are_inspected_together(ros_context, tmp_path):
    mixed = {"name": "mixed", "units": {"mm_per_px": 0.05},
             "steps": [IMAGE_RECIPE["steps"][0], CLOUD_RECIPE["steps"][1]]}
    h = Harness(ros_context, _write(tmp_path, mixed))
    try:
        assert set(h.node.monitors) == {"image_raw", "points"}   # mm_per_px: no camera_info
        assert h.connected([h.image_pub, h.points_pub])
        t = _now()
        h.image_pub.publish(_image_msg(render_board(seed=9), stamp_s=t))
        assert h.spin_until(lambda: h.node.monitors["image_raw"].received == 1, 5.0)
        assert h.results == []                          # the cloud is still missing
        h.points_pub.publish(_cloud_msg(_plate_cloud_m(), t))
        assert h.spin_until(lambda: len(h.results) == 1, 10.0)
        r = h.results[0]
        assert r.ok and [m.name for m in r.measurements] == [
            "hole.diameter", "hole.x", "hole.y", "step.height"]
        assert r.header.frame_id == "camera"
        assert h.spin_until(lambda: len(h.annotated) == 1, 5.0)
    finally:
        h.close()


def test_params_file_in_config_matches_the_schema():
    from pathlib import Path

    from dg_common.param_schema import validate
    from dg_vision.nodes.inspection_node import SCHEMA

    path = Path(__file__).resolve().parents[1] / "config" / "inspection_node.yaml"
    params = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    specs = {s.name: s for s in SCHEMA}
    assert set(params) == set(specs) - {"recipe_file"}
    for name, value in params.items():
        assert validate(specs[name], value) == specs[name].default, name
