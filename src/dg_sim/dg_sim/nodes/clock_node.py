"""Node ``clock``: the simulation's time source, publishing ``/clock`` at a real-time factor.

Every other node of a simulated run sets ``use_sim_time:=true`` and follows ``/clock``;
this node runs on wall time only (it is the source), so it forces ``use_sim_time`` off.
A dedicated thread publishes each step when the drift-free schedule of
:class:`dg_sim.clock.ClockSchedule` says it is due. With ``duration_s > 0`` the node stops
after that much sim time and the process exits with code 0.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from dg_common.diagnostics import OK, WARN
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParamSpec
from dg_common.sim_time import s_to_stamp
from dg_sim.clock import MAX_RTF, ClockSchedule, ClockStatus, RtfMeter, run_clock

SCHEMA = (
    ParamSpec("rtf", "float", "real-time factor: simulated seconds per wall second",
              default=1.0, min=0.001, max=MAX_RTF),
    ParamSpec("step_s", "float", "simulated time [s] between two /clock messages",
              default=0.005, min=1e-4, max=1.0, read_only=True),
    ParamSpec("start_s", "float", "simulated time [s] of the first /clock message",
              default=0.0, min=0.0, read_only=True),
    ParamSpec("duration_s", "float",
              "exit (code 0) after this much simulated time [s]; 0 runs until stopped",
              default=0.0, min=0.0, read_only=True),
)

#: What ros_gz_bridge offers on /clock: ``rclcpp::QoS(rclcpp::KeepLast(10))``, i.e.
#: reliable, volatile, keep last 10 (ros_gz_bridge/src/factory.hpp, kDefaultPublisherQueue).
CLOCK_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)

#: Wall seconds over which the achieved real-time factor is measured.
RTF_WINDOW_S = 1.0
#: Achieved/target rtf ratio below which diagnostics warn.
RTF_WARN_RATIO = 0.9


class ClockNode(DgNode):
    """Publishes ``/clock`` from a wall-time thread; reports the achieved real-time factor."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the publisher and start the publishing thread."""
        super().__init__("clock", SCHEMA, **kwargs)
        if self.get_parameter("use_sim_time").value:
            self.get_logger().warning(
                "use_sim_time:=true ignored: the clock node is the time source and runs on "
                "wall time")
            self.set_parameters([Parameter("use_sim_time", value=False)])
        p = self.params
        self._pub = self.create_publisher(Clock, "/clock", CLOCK_QOS)
        self._schedule = ClockSchedule(p.step_s, p.rtf, time.monotonic(), start_s=p.start_s)
        self._end_s = p.start_s + p.duration_s if p.duration_s > 0.0 else None
        self._meter = RtfMeter(RTF_WINDOW_S)
        self._msg = Clock()
        for key in ("sim_time_s", "rtf_target", "rtf_achieved", "overruns"):
            self.diagnostics.set_value(key, "")  # all keys exist before the thread writes
        self._report()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            status = run_clock(self._schedule, self._on_step, time.monotonic, self._stop.wait,
                               self._end_s)
        except Exception as exc:  # a dead clock thread must end the process, loudly
            self.get_logger().fatal(f"clock thread failed: {exc!r}")
            self.finish(1)
            raise
        if status is ClockStatus.FINISHED:
            self.get_logger().info(
                f"reached sim time {self._schedule.sim_time_s:.3f} s (duration_s = "
                f"{self.params.duration_s} s): shutting down")
            self.finish(0)  # ends rclpy.spin in run_node

    def _on_step(self, sim_time_s: float) -> None:
        self._msg.clock = s_to_stamp(sim_time_s)
        self._pub.publish(self._msg)
        if self._meter.update(time.monotonic(), sim_time_s) is not None:
            self._report()
        if self.params.rtf != self._schedule.rtf:  # changed with `ros2 param set`
            self._schedule.set_rtf(self.params.rtf)
            self.get_logger().info(f"real-time factor set to {self.params.rtf}")

    def _report(self) -> None:
        s, achieved = self._schedule, self._meter.value
        d = self.diagnostics
        d.set_value("sim_time_s", f"{s.sim_time_s:.3f}")
        d.set_value("rtf_target", f"{s.rtf:g}")
        d.set_value("rtf_achieved", "n/a" if achieved is None else f"{achieved:.3f}")
        d.set_value("overruns", s.overruns)
        if achieved is not None and achieved < RTF_WARN_RATIO * s.rtf:
            d.set_status(WARN, f"behind schedule: rtf {achieved:.2f} of {s.rtf:g}")
        else:
            d.set_status(OK, "running")

    def on_exit(self) -> None:
        """Stop the publishing thread before the node is destroyed."""
        self._stop.set()
        self._thread.join(timeout=1.0)


def main(args: list[str] | None = None) -> None:
    """Run the ``clock`` node (``ros2 run dg_sim clock``)."""
    raise SystemExit(run_node(ClockNode, args))
