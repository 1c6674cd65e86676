"""Node ``inspection``: runs an inspection recipe on each synchronised camera frame / cloud.

Topics (relative names; launch files put the node in namespace ``/inspection``):

* ``image_raw`` (sensor_msgs/Image, sub; reliable unless ``reliable_inputs`` is false):
  ``mono8``, ``bgr8``, ``rgb8`` or ``mono16`` (converted by :mod:`dg_common.sensor_conv`; no
  cv_bridge in pip mode). Rejected, with a reason on ``/diagnostics`` and a throttled
  warning, when empty, truncated or inconsistent (``len(data) != step * height``,
  ``step < width * bytes per pixel``), in another encoding, larger than
  ``max_image_pixels``, or stamped more than ``max_input_age_s`` in the past or future or not
  at all (reason ``stale``).
* ``camera_info`` (sensor_msgs/CameraInfo, sub, like ``image_raw``), only when the recipe
  measures in mm through ``units.working_distance_mm`` (it gives the focal length): paired
  with ``image_raw`` by ``header.stamp`` (exact, or within ``sync_slop_s``). Rejected when K
  is not finite, fx or fy is not positive, its size differs from the image's, or its stamp
  is stale.
* ``points`` (sensor_msgs/PointCloud2, sub, like ``image_raw``), only when the recipe has
  3D steps: fields x, y, z as FLOAT32 or FLOAT64, metres on the wire (REP-103), converted to mm for
  the core. Invalid (NaN/Inf) points of an organised cloud (``is_dense`` false) are dropped
  up to ``max_invalid_fraction``; a dense cloud with NaN, too many invalid points, a
  truncated buffer, more than ``max_points`` or a stale stamp is rejected. When the recipe
  has 2D and 3D steps the cloud is synchronised with the image too.
* ``detections`` (vision_msgs/Detection2DArray, pub, reliable depth 10): one per found
  feature or defect; ``bbox.center.theta`` [rad] follows the matcher's angle convention
  (counter-clockwise on screen), ``results[0].hypothesis.class_id`` is the step name,
  ``code:<format>`` or ``anomaly``, ``id`` the step name or a code's text.
* ``annotated`` (sensor_msgs/Image ``bgr8``, pub, reliable depth 2): the recipe's overlay
  (ROIs, edges, circles, match pose, code text, anomaly heat map, pass/fail banner); drawn
  only while someone subscribes.
* ``result`` (dg_interfaces/InspectionResult, pub, reliable depth 10): the verdict with every
  measurement; ``part_id`` is the text of a ``code_read`` step marked ``part_id: true``.
  Published last, after ``detections`` and ``annotated`` of the same stamp, so a consumer
  that finishes on ``result`` has everything.
* ``/diagnostics``: per input rate/age/received/rejected (by reason), ``result``
  rate/received, processing time (last/mean/max ms), passed/failed counts, synchronisation
  drops; ERROR while no usable recipe is loaded, WARN after a rejected input until the next
  inspection.

Threads: the recipe runs on a worker thread of the node, one synchronised set at a time in
arrival order, while the executor keeps taking inputs, ``/clock`` and parameter requests.
A frame can take seconds (anomaly model, registration); were it inspected in the callback,
this node's sim clock would stand still meanwhile and the next part's frame, stamped by a
clock that went on, would look as far in the future as the inspection took, and be rejected
as stale. Sets waiting for the worker are bounded by ``max_backlog``: beyond it the oldest
waiting set is dropped, counted (``backlog dropped``) and reported (WARN).

Parameters: ``recipe_file`` (required), ``anomaly_model_file`` (replaces the recipe's
anomaly model), ``sync_slop_s``, ``sync_queue_size``, ``qos_depth``, ``max_backlog``, the
input limits, ``max_input_age_s`` and ``input_timeout_s``. A missing or inconsistent recipe, or an
anomaly model from another backbone, does not stop the node: it logs the reason, reports
ERROR and rejects inputs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
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
from dg_common.node import WARN_THROTTLE_S, DgNode
from dg_common.param_schema import ParamSpec, core_default
from dg_common.sensor_conv import (
    cloud_rejection,
    first_rejection,
    focal_px,
    image_from_msg,
    image_rejection,
    image_to_msg,
    points_from_msg,
)
from dg_common.sim_time import stamp_to_ns, stamp_to_s
from dg_common.validation import InvalidInput, require_fresh
from dg_interfaces.msg import InspectionResult, Measurement
from dg_vision.errors import VisionInputError
from dg_vision.image import MAX_PIXELS, as_image
from dg_vision.recipe import InspectionOutcome, Recipe, load_recipe
from dg_vision.stamp_sync import StampSync

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
              default=core_default(StampSync, "queue_size"), min=1, max=1000, read_only=True),
    ParamSpec("reliable_inputs", "bool", "subscribe to the inputs reliably, so that no part "
              "goes uninspected (matches reliable publishers: ros_gz_bridge, most camera "
              "drivers); false = best effort, for publishers that only offer that",
              default=True, read_only=True),
    ParamSpec("qos_depth", "int", "subscription queue depth", default=5, min=1, max=1000,
              read_only=True),
    ParamSpec("max_backlog", "int", "synchronised sets waiting for inspection; beyond it the "
              "oldest waiting set is dropped and counted", default=10, min=1, max=1000,
              read_only=True),
    ParamSpec("max_image_pixels", "int", "reject larger images [px]", default=50_000_000,
              min=64, max=MAX_PIXELS, read_only=True),
    ParamSpec("max_points", "int", "reject larger point clouds", default=5_000_000, min=3,
              max=100_000_000, read_only=True),
    ParamSpec("max_invalid_fraction", _F, "organised clouds: most NaN/Inf points dropped "
              "before the cloud is rejected", default=0.5, min=0.0, max=1.0, read_only=True),
    ParamSpec("max_input_age_s", _F, "reject inputs stamped older than this when they "
              "arrive, or this far in the future, or unset [s]", default=5.0,
              min=0.01, max=3600.0, read_only=True),
    ParamSpec("input_timeout_s", _F, "an input is stale (WARN) after this long without a "
              "message [s]", default=10.0, min=0.1, max=1.0e6, read_only=True),
)


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
            topics.append("image_raw")
        if self.recipe is not None and self.recipe.needs_camera_info:
            topics.append("camera_info")
        if self.recipe is None or self.recipe.needs_points:
            topics.append("points")
        timeout = p.input_timeout_s if self.recipe is not None else math.inf
        self.monitors = {t: self.diagnostics.monitor(t, timeout) for t in topics}
        self.result_monitor = self.diagnostics.monitor("result", math.inf)
        self.sync = StampSync(topics, round(p.sync_slop_s * 1e9), p.sync_queue_size)
        self.input_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=p.qos_depth,
            reliability=(ReliabilityPolicy.RELIABLE if p.reliable_inputs
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=DurabilityPolicy.VOLATILE)
        callbacks = {"image_raw": (Image, self._on_image),
                     "camera_info": (CameraInfo, self._on_info),
                     "points": (PointCloud2, self._on_points)}
        for topic in topics:
            msg_type, callback = callbacks[topic]
            self.create_subscription(msg_type, topic, self.guarded(callback), self.input_qos)
        self.detections_pub = self.create_publisher(Detection2DArray, "detections",
                                                    QoSProfile(depth=10))
        self.annotated_pub = self.create_publisher(Image, "annotated", QoSProfile(depth=2))
        self.result_pub = self.create_publisher(InspectionResult, "result", QoSProfile(depth=10))
        self.passed = 0
        self.failed = 0
        self.processing_s: deque[float] = deque(maxlen=100)
        self.last_outcome: InspectionOutcome | None = None
        self.backlog_dropped = 0
        self._backlog: deque[dict[str, tuple[int, Any]]] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._inspect_guarded = self.guarded(self._inspect)
        self._worker = threading.Thread(target=self._work, name="inspection", daemon=True)
        if self.recipe is None:
            self.diagnostics.set_status(ERROR, f"no recipe: {self.recipe_error}")
        else:
            self.diagnostics.set_status(OK, f"recipe '{self.recipe.name}': waiting for "
                                        f"{', '.join(topics)}")
            self.get_logger().info(
                f"recipe '{self.recipe.name}': {len(self.recipe.steps)} steps, "
                f"{len(self.recipe.measurement_names())} measurements; inputs {topics}")
        self._update_values()
        self._worker.start()

    def destroy_node(self) -> None:
        """Stop the worker (after the set it is inspecting), then destroy the node."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._worker.is_alive():
            self._worker.join()
        super().destroy_node()

    # --- inputs -------------------------------------------------------------------------
    def _reject(self, topic: str, reason: str, detail: str) -> None:
        self.reject(self.monitors[topic], reason, detail)
        if self.recipe is not None:
            self.diagnostics.set_status(WARN, f"rejected {topic}: {reason}")
        self._update_values()

    def _check(self, topic: str, header: Header,
               rejection: tuple[str, str] | None = None) -> bool:
        """Reject a message (no recipe, ``rejection`` of its content, stale stamp) or pass."""
        if self.recipe is None:
            self._reject(topic, "no_recipe", f"no usable recipe ({self.recipe_error})")
            return False
        if rejection is None:
            now, limit = self.now_s(), self.params.max_input_age_s
            # A stamp that far ahead comes from another clock (wall time against sim time).
            rejection = first_rejection((("stale", lambda: require_fresh(
                topic, stamp_to_s(header.stamp), now, limit, max_future_s=limit)),))
        if rejection is not None:
            self._reject(topic, *rejection)
            return False
        return True

    def _accept(self, topic: str, header: Header, item: Any) -> None:
        self.monitors[topic].tick(self.now_s())
        for group in self.sync.add(topic, stamp_to_ns(header.stamp), (header, item)):
            self._enqueue(group)
        self._update_values()

    # --- the worker ---------------------------------------------------------------------
    def _enqueue(self, group: dict[str, tuple[int, Any]]) -> None:
        with self._wake:
            if len(self._backlog) >= self.params.max_backlog:
                stamp_ns = self._backlog.popleft()[self.sync.topics[0]][0]
                self.backlog_dropped += 1
                self.diagnostics.set_status(
                    WARN, f"inspection backlog full: dropped the set stamped {stamp_ns} ns")
                self.get_logger().warning(
                    f"inspection backlog full ({self.params.max_backlog} sets): dropped the "
                    f"set stamped {stamp_ns} ns", throttle_duration_sec=WARN_THROTTLE_S)
            self._backlog.append(group)
            self._wake.notify()

    def _work(self) -> None:
        """Worker thread: inspect the waiting sets in arrival order until the node stops."""
        while True:
            with self._wake:
                while not self._backlog and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                group = self._backlog.popleft()
            self._inspect_guarded(group)
            self._update_values()

    @property
    def backlog(self) -> int:
        """Synchronised sets waiting for the worker."""
        return len(self._backlog)

    def _on_image(self, msg: Image) -> None:
        max_px = self.params.max_image_pixels
        if not self._check("image_raw", msg.header, image_rejection(msg, max_px)):
            return
        try:
            img = as_image(image_from_msg(msg, max_px))
        except VisionInputError as exc:
            self._reject("image_raw", "invalid", str(exc))
            return
        self._accept("image_raw", msg.header, img)

    def _on_info(self, msg: CameraInfo) -> None:
        if not self._check("camera_info", msg.header):
            return
        try:
            f_px = focal_px(msg)
        except InvalidInput as exc:
            self._reject("camera_info", "invalid", str(exc))
            return
        self._accept("camera_info", msg.header, (f_px, int(msg.width), int(msg.height)))

    def _on_points(self, msg: PointCloud2) -> None:
        max_pts = self.params.max_points
        if not self._check("points", msg.header, cloud_rejection(msg, max_pts)):
            return
        try:
            pts_m = points_from_msg(msg, max_pts, self.params.max_invalid_fraction)
        except InvalidInput as exc:
            self._reject("points", "non_finite", str(exc))
            return
        self._accept("points", msg.header, pts_m * 1000.0)     # [m] -> [mm] for the core

    # --- inspection ---------------------------------------------------------------------
    def _inspect(self, group: dict[str, tuple[int, Any]]) -> None:
        assert self.recipe is not None
        t0 = time.perf_counter()
        image = points = f_px = None
        header = None
        if "image_raw" in group:
            header, image = group["image_raw"][1]
        if "camera_info" in group:
            f_px, w_info, h_info = group["camera_info"][1][1]
            h, w = image.shape[:2]
            if (w_info or h_info) and (w_info, h_info) != (w, h):
                self._reject("camera_info", "size_mismatch",
                             f"camera_info is {w_info}x{h_info}, image {w}x{h}")
                return
        if "points" in group:
            pheader, points = group["points"][1]
            header = header or pheader
        try:
            outcome = self.recipe.run(
                image=image, points=points, focal_px=f_px,
                overlay=self.annotated_pub.get_subscription_count() > 0)
        except VisionInputError as exc:
            self._reject("image_raw" if image is not None else "points", "recipe_input",
                         str(exc))
            return
        self._publish(header, outcome, time.perf_counter() - t0)

    def _publish(self, header: Header, outcome: InspectionOutcome, dt_s: float) -> None:
        assert self.recipe is not None
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
        result = InspectionResult(
            header=header, part_id=outcome.part_id, recipe=self.recipe.name, ok=outcome.ok,
            anomaly_score=float(outcome.anomaly_score), processing_time_s=dt_s,
            failures=outcome.failures)
        result.measurements = [
            Measurement(name=m.name, unit=m.unit, value=float(m.value),
                        nominal=float(m.nominal), lower=float(m.lower), upper=float(m.upper),
                        ok=bool(m.ok), message=m.message)
            for m in outcome.measurements]
        # last: a consumer that finishes on the result has the detections and overlay too
        self.result_pub.publish(result)
        self.last_outcome = outcome
        self.result_monitor.tick(self.now_s())
        self.passed += int(outcome.ok)
        self.failed += int(not outcome.ok)
        self.processing_s.append(dt_s)
        self.diagnostics.set_status(OK, f"recipe '{self.recipe.name}': inspecting")

    def _update_values(self) -> None:
        d = self.diagnostics
        d.set_value("recipe", self.recipe.name if self.recipe else "")
        d.set_value("passed", self.passed)
        d.set_value("failed", self.failed)
        if self.processing_s:
            d.set_value("processing_time_ms last", f"{self.processing_s[-1] * 1e3:.1f}")
            d.set_value("processing_time_ms mean",
                        f"{1e3 * sum(self.processing_s) / len(self.processing_s):.1f}")
            d.set_value("processing_time_ms max", f"{max(self.processing_s) * 1e3:.1f}")
        d.set_value("backlog", self.backlog)
        d.set_value("backlog dropped", self.backlog_dropped)
        d.set_value("sync dropped", self.sync.dropped_total)
        for topic, n in list(self.sync.dropped.items()):
            d.set_value(f"{topic} sync dropped", n)


def main(args: list[str] | None = None) -> None:
    """Run the ``inspection`` node."""
    raise SystemExit(run_node(InspectionNode, args))
