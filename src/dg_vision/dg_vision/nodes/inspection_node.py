"""Node ``inspection``: runs an inspection recipe on each synchronised camera frame / cloud.

Topics (relative names; launch files put the node in namespace ``/inspection``):

* ``image_raw`` (sensor_msgs/Image, sub; reliable unless ``reliable_inputs`` is false):
  ``mono8``, ``bgr8``, ``rgb8`` or ``mono16`` (converted here; no cv_bridge in pip mode).
  Rejected, with a reason on ``/diagnostics`` and a throttled warning, when empty, truncated
  or inconsistent (``len(data) != step * height``, ``step < width * bytes per pixel``), in
  another encoding, larger than ``max_image_pixels`` or with an unset stamp.
* ``camera_info`` (sensor_msgs/CameraInfo, sub, like ``image_raw``): paired with
  ``image_raw`` by ``header.stamp`` (exact, or within ``sync_slop_s``); gives the focal
  length for a recipe with ``units.working_distance_mm``. Rejected when K is not finite or
  its size differs from the image's.
* ``points`` (sensor_msgs/PointCloud2, sub, like ``image_raw``), only when the recipe has
  3D steps: fields x, y, z as FLOAT32 or FLOAT64, metres on the wire (REP-103), converted to mm for
  the core. Invalid (NaN/Inf) points of an organised cloud (``is_dense`` false) are dropped
  up to ``max_invalid_fraction``; a dense cloud with NaN, too many invalid points, a
  truncated buffer or more than ``max_points`` is rejected. When the recipe has 2D and 3D
  steps the cloud is synchronised with the image too.
* ``result`` (dg_interfaces/InspectionResult, pub, reliable depth 10): the verdict with every
  measurement; ``part_id`` is the text of a ``code_read`` step marked ``part_id: true``.
* ``detections`` (vision_msgs/Detection2DArray, pub, reliable depth 10): one per found
  feature or defect; ``bbox.center.theta`` [rad] follows the matcher's angle convention
  (counter-clockwise on screen), ``results[0].hypothesis.class_id`` is the step name,
  ``code:<format>`` or ``anomaly``, ``id`` the step name or a code's text.
* ``annotated`` (sensor_msgs/Image ``bgr8``, pub, reliable depth 2): the recipe's overlay
  (ROIs, edges, circles, match pose, code text, anomaly heat map, pass/fail banner).
* ``/diagnostics``: per input rate/age/received/rejected (by reason), processing time
  (last/mean/max ms), inspection rate, passed/failed counts, synchronisation drops; ERROR
  while no usable recipe is loaded, WARN after a rejected input until the next inspection.

Parameters: ``recipe_file`` (required), ``anomaly_model_file`` (replaces the recipe's
anomaly model), ``sync_slop_s``, ``sync_queue_size``, ``qos_depth``, the input limits and
``input_timeout_s``. A missing or inconsistent recipe, or an anomaly model from another
backbone, does not stop the node: it logs the reason, reports ERROR and rejects inputs.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import numpy as np
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
)

from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParamSpec
from dg_interfaces.msg import InspectionResult, Measurement
from dg_vision.errors import VisionInputError
from dg_vision.image import MAX_PIXELS, as_image
from dg_vision.nodes.stamp_sync import StampSync
from dg_vision.recipe import InspectionOutcome, Recipe, load_recipe

_F = "float"

SCHEMA = (
    ParamSpec("recipe_file", "str", "inspection recipe (YAML, see dg_vision README)",
              read_only=True),
    ParamSpec("anomaly_model_file", "str",
              "anomaly model replacing the one of the recipe's anomaly step ('' = recipe's)",
              default="", read_only=True),
    ParamSpec("sync_slop_s", _F, "largest stamp difference of a synchronised set [s] "
              "(0 = exact stamps)", default=0.005, min=0.0, max=1.0, read_only=True),
    ParamSpec("sync_queue_size", "int", "unmatched messages kept per input topic",
              default=10, min=1, max=1000, read_only=True),
    ParamSpec("reliable_inputs", "bool", "subscribe to the inputs reliably, so that no part "
              "goes uninspected (matches reliable publishers: ros_gz_bridge, most camera "
              "drivers); false = best effort, for publishers that only offer that",
              default=True, read_only=True),
    ParamSpec("qos_depth", "int", "subscription queue depth", default=5, min=1, max=1000,
              read_only=True),
    ParamSpec("max_image_pixels", "int", "reject larger images [px]", default=50_000_000,
              min=64, max=MAX_PIXELS, read_only=True),
    ParamSpec("max_points", "int", "reject larger point clouds", default=5_000_000, min=3,
              max=100_000_000, read_only=True),
    ParamSpec("max_invalid_fraction", _F, "organised clouds: most NaN/Inf points dropped "
              "before the cloud is rejected", default=0.5, min=0.0, max=1.0, read_only=True),
    ParamSpec("input_timeout_s", _F, "an input is stale (WARN) after this long without a "
              "message [s]", default=10.0, min=0.1, max=1.0e6, read_only=True),
)

#: Encodings we convert, with (numpy dtype, channels).
ENCODINGS = {"mono8": (np.uint8, 1), "bgr8": (np.uint8, 3), "rgb8": (np.uint8, 3),
             "mono16": (np.uint16, 1)}


class Rejected(Exception):
    """An input message must be rejected: ``reason`` is the diagnostic category."""

    def __init__(self, reason: str, detail: str) -> None:
        """Reject for ``reason`` (short category) with a readable ``detail``."""
        super().__init__(detail)
        self.reason = reason


def stamp_ns(header: Header) -> int:
    """Nanoseconds of a header stamp."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def image_from_msg(msg: Image, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to a checked uint8 grey or BGR array.

    Raises:
        Rejected: empty, oversize, unsupported encoding, inconsistent or truncated data.

    """
    w, h, step = int(msg.width), int(msg.height), int(msg.step)
    n = len(msg.data)
    if w == 0 or h == 0 or n == 0:
        raise Rejected("empty", f"empty image ({w}x{h}, {n} bytes)")
    if msg.encoding not in ENCODINGS:
        raise Rejected("encoding", f"unsupported encoding {msg.encoding!r}; use one of "
                       f"{list(ENCODINGS)}")
    if w * h > max_pixels:
        raise Rejected("oversize", f"image {w}x{h} has more than {max_pixels} pixels")
    dtype, ch = ENCODINGS[msg.encoding]
    row = w * ch * np.dtype(dtype).itemsize
    if step < row:
        raise Rejected("layout", f"step {step} < width {w} x {ch * np.dtype(dtype).itemsize} "
                       "bytes per pixel")
    if n < step * h:
        raise Rejected("truncated", f"{n} bytes, need step {step} x height {h} = {step * h}")
    if n > step * h:
        raise Rejected("layout", f"{n} bytes, more than step {step} x height {h}")
    buf = np.frombuffer(msg.data, dtype=np.uint8).reshape(h, step)[:, :row]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    arr = np.ascontiguousarray(buf).view(dt).reshape(h, w, ch)
    if msg.encoding == "rgb8":
        arr = arr[:, :, ::-1]
    arr = arr.astype(dtype, copy=False)
    try:
        return as_image(arr[:, :, 0] if ch == 1 else arr)
    except VisionInputError as exc:
        raise Rejected("invalid", str(exc)) from None


def image_to_msg(image: np.ndarray, header: Header) -> Image:
    """A ``bgr8`` (or ``mono8``) ``sensor_msgs/Image`` of a uint8 array."""
    img = np.ascontiguousarray(image)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    return Image(header=header, height=h, width=w, encoding="mono8" if ch == 1 else "bgr8",
                 is_bigendian=0, step=w * ch, data=img.tobytes())


_PF_DTYPES = {PointField.FLOAT32: np.float32, PointField.FLOAT64: np.float64}


def points_from_msg(msg: PointCloud2, max_points: int, max_invalid_fraction: float
                    ) -> np.ndarray:
    """Convert a ``sensor_msgs/PointCloud2`` [m] to (N, 3) float64 [mm].

    Invalid points of an organised cloud (``is_dense`` false) are dropped.

    Raises:
        Rejected: missing/unsupported xyz fields, empty, oversize, truncated, NaN points.

    """
    n_pts = int(msg.width) * int(msg.height)
    if n_pts == 0 or len(msg.data) == 0:
        raise Rejected("empty", f"empty cloud ({msg.width}x{msg.height}, "
                       f"{len(msg.data)} bytes)")
    if n_pts > max_points:
        raise Rejected("oversize", f"cloud has {n_pts} points, more than {max_points}")
    fields = {f.name: f for f in msg.fields}
    names, formats, offsets = [], [], []
    for axis in "xyz":
        f = fields.get(axis)
        if f is None:
            raise Rejected("fields", f"cloud has no '{axis}' field "
                           f"(fields: {sorted(fields)})")
        if f.datatype not in _PF_DTYPES or f.count not in (0, 1):
            raise Rejected("fields", f"field '{axis}' must be one FLOAT32 or FLOAT64, got "
                           f"datatype {f.datatype} count {f.count}")
        dt = np.dtype(_PF_DTYPES[f.datatype]).newbyteorder(">" if msg.is_bigendian else "<")
        names.append(axis)
        formats.append(dt)
        offsets.append(int(f.offset))
        if f.offset + dt.itemsize > msg.point_step:
            raise Rejected("layout", f"field '{axis}' (offset {f.offset}) exceeds point_step "
                           f"{msg.point_step}")
    ps, rs = int(msg.point_step), int(msg.row_step)
    if rs < ps * int(msg.width):
        raise Rejected("layout", f"row_step {rs} < width {msg.width} x point_step {ps}")
    need = rs * int(msg.height)
    if len(msg.data) < need:
        raise Rejected("truncated", f"{len(msg.data)} bytes, need row_step {rs} x height "
                       f"{msg.height} = {need}")
    if len(msg.data) > need:
        raise Rejected("layout", f"{len(msg.data)} bytes, more than row_step x height {need}")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": ps})
    raw = np.frombuffer(msg.data, dtype=np.uint8).reshape(int(msg.height), rs)
    raw = np.ascontiguousarray(raw[:, :ps * int(msg.width)])
    rec = raw.view(dtype).reshape(-1)
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
    good = np.all(np.isfinite(xyz), axis=1)
    n_bad = int(n_pts - good.sum())
    if n_bad:
        if msg.is_dense:
            raise Rejected("non_finite", f"cloud says is_dense but has {n_bad} NaN/Inf points")
        if n_bad > max_invalid_fraction * n_pts or n_bad > n_pts - 3:
            raise Rejected("non_finite", f"{n_bad} of {n_pts} points are NaN/Inf (limit "
                           f"{max_invalid_fraction:.0%})")
        xyz = xyz[good]
    return xyz * 1000.0


class InspectionNode(DgNode):
    """Synchronises camera frames / clouds, runs the recipe and publishes the verdict."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node; a missing recipe_file parameter is a ParameterError."""
        super().__init__("inspection", SCHEMA, **kwargs)
        p = self.params
        self.recipe: Recipe | None = None
        self.recipe_error = ""
        try:
            self.recipe = load_recipe(p.recipe_file,
                                      anomaly_model=p.anomaly_model_file or None)
        except VisionInputError as exc:
            self.recipe_error = str(exc)
            self.get_logger().error(f"no usable recipe, every input will be rejected: {exc}")
        topics: list[str] = []
        if self.recipe is None or self.recipe.needs_image:
            topics += ["image_raw", "camera_info"]
        if self.recipe is None or self.recipe.needs_points:
            topics.append("points")
        timeout = p.input_timeout_s if self.recipe is not None else math.inf
        self.monitors = {t: self.diagnostics.monitor(t, timeout) for t in topics}
        self.sync = StampSync(topics, round(p.sync_slop_s * 1e9), p.sync_queue_size)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=p.qos_depth,
                         reliability=(ReliabilityPolicy.RELIABLE if p.reliable_inputs
                                      else ReliabilityPolicy.BEST_EFFORT),
                         durability=DurabilityPolicy.VOLATILE)
        if "image_raw" in topics:
            self.create_subscription(Image, "image_raw", self.guarded(self._on_image), qos)
            self.create_subscription(CameraInfo, "camera_info", self.guarded(self._on_info),
                                     qos)
        if "points" in topics:
            self.create_subscription(PointCloud2, "points", self.guarded(self._on_points), qos)
        self.result_pub = self.create_publisher(InspectionResult, "result", QoSProfile(depth=10))
        self.detections_pub = self.create_publisher(Detection2DArray, "detections",
                                                    QoSProfile(depth=10))
        self.annotated_pub = self.create_publisher(Image, "annotated", QoSProfile(depth=2))
        self.inspected = 0
        self.passed = 0
        self.failed = 0
        self.processing_s: deque[float] = deque(maxlen=100)
        self._done_t: deque[float] = deque(maxlen=50)
        self.last_outcome: InspectionOutcome | None = None
        if self.recipe is None:
            self.diagnostics.set_status(ERROR, f"no recipe: {self.recipe_error}")
        else:
            self.diagnostics.set_status(OK, f"recipe '{self.recipe.name}': waiting for "
                                        f"{', '.join(topics)}")
            self.get_logger().info(
                f"recipe '{self.recipe.name}': {len(self.recipe.steps)} steps, "
                f"{len(self.recipe.measurement_names())} measurements; inputs {topics}")
        self._update_values()

    # --- inputs -------------------------------------------------------------------------
    def _reject(self, topic: str, reason: str, detail: str) -> None:
        self.reject(self.monitors[topic], reason, detail)
        if self.recipe is not None:
            self.diagnostics.set_status(WARN, f"rejected {topic}: {reason}")
        self._update_values()

    def _accept(self, topic: str, header: Header, item: Any) -> None:
        if self.recipe is None:
            self._reject(topic, "no_recipe", f"no usable recipe ({self.recipe_error})")
            return
        ns = stamp_ns(header)
        if ns <= 0:
            self._reject(topic, "stamp", "header.stamp is not set (needed to synchronise)")
            return
        self.monitors[topic].tick(self.now_s())
        for group in self.sync.add(topic, ns, (header, item)):
            self._inspect(group)
        self._update_values()

    def _on_image(self, msg: Image) -> None:
        if self.recipe is None:
            self._reject("image_raw", "no_recipe", f"no usable recipe ({self.recipe_error})")
            return
        try:
            img = image_from_msg(msg, self.params.max_image_pixels)
        except Rejected as exc:
            self._reject("image_raw", exc.reason, str(exc))
            return
        self._accept("image_raw", msg.header, img)

    def _on_info(self, msg: CameraInfo) -> None:
        k = np.asarray(msg.k, dtype=np.float64)
        if not np.all(np.isfinite(k)) or k[0] < 0 or k[4] < 0:
            self._reject("camera_info", "invalid", f"camera matrix K is not valid: {list(k)}")
            return
        self._accept("camera_info", msg.header, msg)

    def _on_points(self, msg: PointCloud2) -> None:
        if self.recipe is None:
            self._reject("points", "no_recipe", f"no usable recipe ({self.recipe_error})")
            return
        try:
            pts = points_from_msg(msg, self.params.max_points, self.params.max_invalid_fraction)
        except Rejected as exc:
            self._reject("points", exc.reason, str(exc))
            return
        self._accept("points", msg.header, pts)

    # --- inspection ---------------------------------------------------------------------
    def _inspect(self, group: dict[str, tuple[int, Any]]) -> None:
        assert self.recipe is not None
        t0 = time.perf_counter()
        image = info = points = None
        header = None
        if "image_raw" in group:
            header, image = group["image_raw"][1]
            info = group["camera_info"][1][1]
            h, w = image.shape[:2]
            if (info.width or info.height) and (info.width, info.height) != (w, h):
                self._reject("camera_info", "size_mismatch",
                             f"camera_info is {info.width}x{info.height}, image {w}x{h}")
                return
        if "points" in group:
            pheader, points = group["points"][1]
            header = header or pheader
        try:
            outcome = self.recipe.run(image=image, points=points, camera_info=info)
        except VisionInputError as exc:
            self._reject("image_raw" if image is not None else "points", "recipe_input",
                         str(exc))
            return
        self._publish(header, outcome, time.perf_counter() - t0)

    def _publish(self, header: Header, outcome: InspectionOutcome, dt_s: float) -> None:
        assert self.recipe is not None
        result = InspectionResult(
            header=header, part_id=outcome.part_id, recipe=self.recipe.name, ok=outcome.ok,
            anomaly_score=float(outcome.anomaly_score), processing_time_s=dt_s,
            failures=outcome.failures)
        result.measurements = [
            Measurement(name=m.name, unit=m.unit, value=float(m.value),
                        nominal=float(m.nominal), lower=float(m.lower), upper=float(m.upper),
                        ok=bool(m.ok), message=m.message)
            for m in outcome.measurements]
        self.result_pub.publish(result)
        arr = Detection2DArray(header=header)
        for d in outcome.detections:
            det = Detection2D(header=header, id=d.id)
            det.bbox = BoundingBox2D(size_x=float(d.w), size_y=float(d.h))
            det.bbox.center.position.x = float(d.x)
            det.bbox.center.position.y = float(d.y)
            det.bbox.center.theta = math.radians(d.angle_deg)
            hyp = ObjectHypothesisWithPose(
                hypothesis=ObjectHypothesis(class_id=d.class_id, score=float(d.score)))
            hyp.pose.pose.position.x = float(d.x)
            hyp.pose.pose.position.y = float(d.y)
            det.results.append(hyp)
            arr.detections.append(det)
        self.detections_pub.publish(arr)
        if outcome.overlay is not None:
            self.annotated_pub.publish(image_to_msg(outcome.overlay, header))
        self.last_outcome = outcome
        self.inspected += 1
        self.passed += int(outcome.ok)
        self.failed += int(not outcome.ok)
        self.processing_s.append(dt_s)
        self._done_t.append(time.monotonic())
        self.diagnostics.set_status(OK, f"recipe '{self.recipe.name}': inspecting")

    def _update_values(self) -> None:
        d = self.diagnostics
        d.set_value("recipe", self.recipe.name if self.recipe else "")
        d.set_value("inspected", self.inspected)
        d.set_value("passed", self.passed)
        d.set_value("failed", self.failed)
        if self.processing_s:
            d.set_value("processing_time_ms last", f"{self.processing_s[-1] * 1e3:.1f}")
            d.set_value("processing_time_ms mean",
                        f"{1e3 * sum(self.processing_s) / len(self.processing_s):.1f}")
            d.set_value("processing_time_ms max", f"{max(self.processing_s) * 1e3:.1f}")
        t = self._done_t
        rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) >= 2 and t[-1] > t[0] else 0.0
        d.set_value("inspection rate_hz", f"{rate:.2f}")
        d.set_value("sync dropped", self.sync.dropped_total)
        for topic, n in self.sync.dropped.items():
            d.set_value(f"{topic} sync dropped", n)
        d.set_value("rejected inputs", sum(sum(m.rejected.values())
                                           for m in self.monitors.values()))


def main(args: list[str] | None = None) -> None:
    """Run the ``inspection`` node."""
    raise SystemExit(run_node(InspectionNode, args))
