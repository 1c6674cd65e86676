"""Node ``inspection_cell``: the embedded simulator of an inspection station on a conveyor.

Every ``part_period_s`` of sim time (ROS clock: ``use_sim_time:=true`` with dg_sim's clock
node) the next part stops under the station and the node publishes, all with the same header
stamp (the part's arrival time):

* ``image_raw`` (``sensor_msgs/Image``, ``bgr8`` or ``mono8``) and ``camera_info`` (K from
  ``focal_length_px``, principal point at the centre, no distortion; on the board plane one
  pixel is ``mm_per_px``): the part's board seen from above (:mod:`dg_sim.inspection.parts`);
* ``points`` (``sensor_msgs/PointCloud2``, x/y/z ``float32`` in metres, REP-103, frame
  ``cloud_frame_id`` = the conveyor frame: x along the travel, z up from the belt): the
  3D camera's scan of the part's machined housing (:mod:`dg_sim.inspection.depth`);
* ``ground_truth`` (``std_msgs/String``, JSON ``{"stamp_ns", "part_id", "defective",
  "defects": [...], ...}``; ``stamp_ns`` is the header stamp of the three above), for scoring
  only: an inspection node must never read it.

These are the topics a Gazebo camera + depth camera and ros_gz_bridge would give under the
same names (config/inspection_bridge.yaml). The node lives in the ``/inspection`` namespace in
the launch files, next to the inspection node.

Line handshake (``result_topic`` not empty): like an indexing conveyor whose PLC waits for the
station's "done" signal, the next part comes only when the result for the current one
(``dg_interfaces/InspectionResult`` with the same header stamp) has arrived, or after
``result_timeout_s`` (counted as a missed part), and never sooner than ``part_period_s``;
after ``max_consecutive_timeouts`` missed parts in a row the line stops with FAILED.
The first part waits until ``wait_for`` topics have subscribers and (with the handshake) the
result topic has a publisher, then ``start_delay_s``. So an overloaded machine slows the line
down instead of dropping parts.

Progress goes out on ``progress`` (``dg_interfaces/MissionProgress``, transient local):
RUNNING with the parts done, then SUCCEEDED ``finish_delay_s`` after the last of ``n_parts``
parts (0 = run forever), which ends a demo through the demo monitor.
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import numpy as np
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import String

from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.qos import BRIDGE_PUB_QOS, STATE_QOS
from dg_common.sensor_conv import camera_info_msg, image_to_msg, xyz_to_cloud
from dg_common.sim_time import s_to_stamp, stamp_to_ns
from dg_interfaces.msg import InspectionResult, MissionProgress
from dg_sim.inspection.cell import DEFECT_TYPES, CellConfig, CellPart, InspectionCell

#: Period [s of the ROS clock] at which the node checks whether the next part is due.
TICK_S = 0.05
#: The node's outputs that ``wait_for`` may name.
OUTPUT_TOPICS = ("image_raw", "camera_info", "points", "ground_truth")
_F = "float"

# Defaults: the line's own here; what the cell produces from CellConfig (one source). The
# launch files set n_parts, seed and wait_for; config/inspection_cell.yaml the rest.
_cell = partial(core_default, CellConfig)
SCHEMA = (
    _p("n_parts", "int", "parts to present, then report SUCCEEDED (0: run forever)", 0, 0,
       10_000_000),
    _p("part_period_s", _F, "shortest time between two parts [s, sim time]", 1.0, 0.01,
       3600.0),
    _p("start_delay_s", _F, "wait after the line is ready before the first part [s]", 2.0,
       0.0, 3600.0),
    _p("result_topic", "str", "InspectionResult topic of the line handshake ('' = free "
       "running)", "result"),
    _p("result_timeout_s", _F, "give up waiting for a part's result after this long [s]",
       30.0, 0.01, 3600.0),
    _p("finish_delay_s", _F, "after the last part, wait this long before SUCCEEDED (lets "
       "recorders take the last verdict) [s]", 2.0, 0.0, 3600.0),
    _p("max_consecutive_timeouts", "int", "stop the line (FAILED) after this many parts in a "
       "row without a result (0: never)", 3, 0, 1_000_000),
    _p("wait_for", "str[]", "output topics (relative names) that need a subscriber before "
       "the first part", ["image_raw", "camera_info", "points"], choices=OUTPUT_TOPICS),
    _p("encoding", "str", "image encoding", "bgr8", choices=("bgr8", "mono8")),
    _p("publish_points", "bool", "publish the 3D camera's cloud on 'points'", True),
    _p("camera_frame_id", "str", "frame of image_raw / camera_info",
       "inspection_camera_optical_frame"),
    _p("cloud_frame_id", "str", "frame of the points (conveyor: x along travel, z up)",
       "conveyor"),
    # what the cell produces (dg_sim.inspection.cell.CellConfig)
    _p("seed", "int", "seed of everything random (part k uses [seed, k])", _cell("seed"), 0,
       2**31 - 1),
    _p("defect_probability", _F, "probability that a part is defective",
       _cell("defect_probability"), 0.0, 1.0),
    _p("defect_types", "str[]", "defect types to draw from", _cell("defect_types"),
       choices=DEFECT_TYPES),
    _p("second_defect_probability", _F, "probability that a defective part has two defects",
       _cell("second_defect_probability"), 0.0, 1.0),
    _p("image_width_px", "int", "camera width [px]", _cell("image_width_px"), 16, 8192),
    _p("image_height_px", "int", "camera height [px]", _cell("image_height_px"), 16, 8192),
    _p("mm_per_px", _F, "scale on the belt plane [mm/px]", _cell("mm_per_px"), 0.001, 10.0),
    _p("focal_length_px", _F, "focal length [px] (working distance = f * mm_per_px)",
       _cell("focal_length_px"), 1.0, 1e6),
    _p("supersample", "int", "rendering supersampling factor", _cell("supersample"), 1, 8),
    _p("board_shift_px", _F, "max board shift on the belt [px]", _cell("board_shift_px"), 0.0,
       1000.0),
    _p("board_rotation_deg", _F, "max board rotation [deg]", _cell("board_rotation_deg"), 0.0,
       180.0),
    _p("blur_px", _F, "optical blur (Gaussian sigma) [px]", _cell("blur_px"), 0.0, 10.0),
    _p("noise_grey", _F, "sensor noise (Gaussian sigma) [grey levels]", _cell("noise_grey"), 0.0,
       50.0),
    _p("process_sigma_mm", _F, "scatter of the boards' outline and drills [mm]",
       _cell("process_sigma_mm"), 0.0, 1.0),
    _p("depth_pitch_mm", _F, "3D camera: ray spacing on the belt plane [mm]",
       _cell("depth_pitch_mm"), 0.01, 10.0),
    _p("depth_noise_mm", _F, "3D camera: noise along the ray (Gaussian sigma) [mm]",
       _cell("depth_noise_mm"), 0.0, 10.0),
    _p("depth_field_x_mm", _F, "3D camera: field along the travel [mm]", _cell("depth_field_x_mm"),
       1.0, 2000.0),
    _p("depth_field_y_mm", _F, "3D camera: field across the belt [mm]", _cell("depth_field_y_mm"),
       1.0, 2000.0),
    _p("depth_standoff_mm", _F, "3D camera: optical centre above the belt [mm]",
       _cell("depth_standoff_mm"), 20.0, 5000.0),
    _p("part_shift_mm", _F, "max housing shift on the belt [mm]", _cell("part_shift_mm"), 0.0,
       100.0),
    _p("part_yaw_deg", _F, "max housing rotation on the belt [deg]", _cell("part_yaw_deg"), 0.0,
       180.0),
)


def image_msg(img: np.ndarray, encoding: str) -> Image:
    """``sensor_msgs/Image`` of a uint8 BGR image, converted to ``encoding``."""
    return image_to_msg(img, encoding=encoding)


def cloud_msg(points_m: np.ndarray) -> PointCloud2:
    """``sensor_msgs/PointCloud2`` of (N, 3) points [m]: x, y, z float32, unorganised."""
    return xyz_to_cloud(points_m)


class InspectionCellNode(DgNode):
    """Presents parts to the station on the ROS clock; publishes sensors and ground truth."""

    def __init__(self, **kwargs: Any) -> None:
        """Build the cell, the publishers, the handshake subscription and the tick timer.

        Raises:
            ParameterError: for parameters the cell cannot run with.

        """
        super().__init__("inspection_cell", SCHEMA, **kwargs)
        p = self.params
        try:
            self.cell = InspectionCell(CellConfig.from_params(p.as_dict()))
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
        if "points" in p.wait_for and not p.publish_points:
            raise ParameterError("parameter 'wait_for' names 'points' but publish_points is "
                                 "false: the line would never start (drop it from wait_for)")
        q = BRIDGE_PUB_QOS
        self._pubs = {"image_raw": self.create_publisher(Image, "image_raw", q),
                      "camera_info": self.create_publisher(CameraInfo, "camera_info", q),
                      "ground_truth": self.create_publisher(String, "ground_truth", q)}
        if p.publish_points:
            self._pubs["points"] = self.create_publisher(PointCloud2, "points", q)
        self._progress_pub = self.create_publisher(MissionProgress, "progress", STATE_QOS)
        self._result_sub = None
        if p.result_topic:
            # Reliable, as the inspection node publishes results (a best-effort reader lost
            # about one result in 40 with Fast DDS here, stalling the line until the timeout).
            self._result_sub = self.create_subscription(
                InspectionResult, p.result_topic, self.guarded(self._on_result),
                QoSProfile(depth=10))
        cam = self.cell.camera
        self._info = camera_info_msg(cam.k_matrix(), cam.width_px, cam.height_px)
        self._info.header.frame_id = p.camera_frame_id
        self._next = 0                   # index of the next part
        self._started_s: float | None = None
        self._due_s = 0.0
        self._pending: tuple[int, float, CellPart] | None = None  # (stamp ns, sim s, part)
        self._resolved = 0
        self._inspected = 0
        self._timeouts = 0
        self._in_a_row = 0               # parts in a row without a result
        self._agree = 0
        self._finished = False
        self._finish_at_s: float | None = None
        for key, value in (("parts_presented", 0), ("parts_inspected", 0), ("timeouts", 0),
                           ("render_ms", "")):
            self.diagnostics.set_value(key, value)
        self.diagnostics.set_status(OK, "waiting for the line to be ready")
        self._publish_progress(MissionProgress.STATE_IDLE, "waiting for the line")
        self.create_timer(TICK_S, self.guarded(self._tick))

    # --- the line -------------------------------------------------------------------------
    def _ready(self) -> str:
        """'' when the first part may come, else what is missing."""
        missing = [t for t in self.params.wait_for
                   if t in self._pubs and self._pubs[t].get_subscription_count() == 0]
        if self._result_sub is not None and self.count_publishers(
                self._result_sub.topic_name) == 0:
            missing.append(f"a publisher on {self._result_sub.topic_name}")
        return ", ".join(missing)

    def _tick(self) -> None:
        now = self.now_s()
        if now <= 0.0 or self._finished:
            return           # no /clock yet, or done
        p = self.params
        if self._started_s is None:
            missing = self._ready()
            if missing:
                self.get_logger().info(f"waiting for {missing}", throttle_duration_sec=5.0)
                return
            self._started_s = now
            self._due_s = now + p.start_delay_s
            self.diagnostics.set_status(OK, "running")
            self.get_logger().info(f"line ready: first part at t = {self._due_s:.2f} s")
        if self._pending is not None:
            stamp_ns, t_s, part = self._pending
            if now - t_s < p.result_timeout_s:
                return
            self._timeouts += 1
            self.diagnostics.set_value("timeouts", self._timeouts)
            self.diagnostics.set_status(WARN, f"{self._timeouts} parts without a result")
            self.get_logger().warning(
                f"{part.part_id}: no result within {p.result_timeout_s:.1f} s")
            self._resolve(part, "no result")
            self._in_a_row += 1
            if p.max_consecutive_timeouts and self._in_a_row >= p.max_consecutive_timeouts:
                self._finish(failed=f"the station did not answer {self._in_a_row} parts in "
                                    "a row")
                return
        if p.n_parts and self._next >= p.n_parts:
            if self._pending is not None:
                return
            if self._finish_at_s is None:
                last = now if self._result_sub is not None else self._due_s
                self._finish_at_s = last + p.finish_delay_s
            if now >= self._finish_at_s:
                self._finish()
            return
        if now < self._due_s:
            return
        self._present(now)

    def _present(self, now_s: float) -> None:
        p = self.params
        t0 = time.perf_counter()
        part = self.cell.part(self._next)
        render_ms = 1e3 * (time.perf_counter() - t0)
        stamp = s_to_stamp(now_s)
        stamp_ns = stamp_to_ns(stamp)
        img = image_msg(part.image, p.encoding)
        img.header.stamp = stamp
        img.header.frame_id = p.camera_frame_id
        self._info.header.stamp = stamp
        gt = String(data=json.dumps(part.ground_truth(stamp_ns), separators=(",", ":")))
        # Ground truth first: a scorer that has the verdict must already have the truth.
        self._pubs["ground_truth"].publish(gt)
        self._pubs["camera_info"].publish(self._info)
        if "points" in self._pubs:
            cloud = cloud_msg(part.points_mm * 1e-3)
            cloud.header.stamp = stamp
            cloud.header.frame_id = p.cloud_frame_id
            self._pubs["points"].publish(cloud)
        self._pubs["image_raw"].publish(img)
        self._next += 1
        self._due_s = now_s + p.part_period_s
        self.diagnostics.set_value("parts_presented", self._next)
        self.diagnostics.set_value("render_ms", f"{render_ms:.1f}")
        kinds = ",".join(d["type"] for d in part.defects) or "good"
        self.get_logger().info(f"{part.part_id} ({kinds}) at t = {now_s:.2f} s")
        if self._result_sub is not None:
            self._pending = (stamp_ns, now_s, part)
        else:
            self._resolve(part, "")

    def _on_result(self, msg: InspectionResult) -> None:
        if self._pending is None:
            return
        stamp_ns, _, part = self._pending
        if stamp_to_ns(msg.header.stamp) != stamp_ns:
            return           # a late result of a timed-out part, or another station's
        self._inspected += 1
        self._in_a_row = 0
        self.diagnostics.set_value("parts_inspected", self._inspected)
        verdict = "pass" if msg.ok else "reject"
        if msg.ok != part.defective:
            self._agree += 1
        self._resolve(part, verdict)

    def _resolve(self, part: CellPart, verdict: str) -> None:
        self._pending = None
        self._resolved += 1
        truth = "defective" if part.defective else "good"
        detail = f"{part.part_id} {truth}" + (f" -> {verdict}" if verdict else "")
        if self._inspected:
            detail += f" (verdicts agree with truth {self._agree}/{self._inspected})"
        self._publish_progress(MissionProgress.STATE_RUNNING, detail)

    def _finish(self, failed: str = "") -> None:
        self._finished = True
        detail = (f"{self._resolved} parts, {self._inspected} inspected, {self._timeouts} "
                  "without result")
        if failed:
            self.get_logger().error(f"line stopped: {failed} ({detail})")
            self.diagnostics.set_status(ERROR, f"stopped: {failed}")
            self._publish_progress(MissionProgress.STATE_FAILED, f"{failed}; {detail}")
            return
        self.get_logger().info(f"line done: {detail}")
        self.diagnostics.set_status(OK, f"done: {detail}")
        self._publish_progress(MissionProgress.STATE_SUCCEEDED, detail)

    def _publish_progress(self, state: int, detail: str) -> None:
        msg = MissionProgress()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.mission = "inspection"
        msg.state = state
        msg.detail = detail
        msg.completed = self._resolved
        msg.total = self.params.n_parts
        self._progress_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    """Run the ``inspection_cell`` node (``ros2 run dg_sim inspection_cell``)."""
    raise SystemExit(run_node(InspectionCellNode, args))
