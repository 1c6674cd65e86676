"""The ``/clock`` source of a simulated run, shared by the ``clock`` node and ``usv_sim``.

A node that is the time source runs on wall time (it forces ``use_sim_time`` off). A
dedicated thread steps a drift-free :class:`dg_sim.clock.ClockSchedule`; at each step it
first calls the node's ``on_step(sim_time_s)`` (a simulator integrates and publishes its
sensor data there) and then publishes ``/clock``, so that no node sees a time whose data is
not out yet (lockstep, as gz-sim does for Gazebo runs). The node's ``rtf`` parameter may be
changed at run time; the achieved real-time factor and overruns go to its diagnostics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.duration import Duration
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from dg_common.diagnostics import OK, WARN
from dg_common.node import DgNode
from dg_common.qos import BRIDGE_PUB_QOS
from dg_common.sim_time import s_to_stamp
from dg_sim.clock import ClockSchedule, ClockStatus, RtfMeter, run_clock

#: What ros_gz_bridge offers on /clock, as on every topic it publishes.
CLOCK_QOS = BRIDGE_PUB_QOS

#: Wall seconds over which the achieved real-time factor is measured.
RTF_WINDOW_S = 1.0
#: Achieved/target rtf ratio below which diagnostics warn.
RTF_WARN_RATIO = 0.9
#: A time source that reaches its end waits this long [wall s] for its reliable subscribers
#: to acknowledge the last steps (Fast DDS's TCP transport drops what is in flight at exit).
#: Readers acknowledge when the writer's periodic heartbeat asks, every 3 s by default in
#: Fast DDS, so a shorter wait ends before the acknowledgement of delivered steps arrives.
ACK_TIMEOUT_S = 3.5


class TimeSource:
    """Publishes ``/clock`` for ``node`` (which has an ``rtf`` parameter) from a thread."""

    def __init__(self, node: DgNode, step_s: float, *, start_s: float = 0.0,
                 duration_s: float = 0.0, on_step: Callable[[float], None] | None = None,
                 owns_status: bool = False) -> None:
        """Start the thread: steps of ``step_s`` from ``start_s`` [s] at ``node.params.rtf``.

        With ``duration_s > 0`` the node finishes (exit code 0) after that much sim time.
        With ``owns_status`` the node's diagnostic level is this source's (OK, or WARN when
        behind schedule); otherwise the node sets it and only the values are reported here.
        """
        if node.get_parameter("use_sim_time").value:
            node.get_logger().warning(
                "use_sim_time:=true ignored: this node is the time source and runs on "
                "wall time")
            node.set_parameters([Parameter("use_sim_time", value=False)])
        self._node = node
        self._on_step = on_step
        self._owns_status = owns_status
        self._pub = node.create_publisher(Clock, "/clock", CLOCK_QOS)
        self.schedule = ClockSchedule(step_s, node.params.rtf, time.monotonic(),
                                      start_s=start_s)
        self._end_s = start_s + duration_s if duration_s > 0.0 else None
        self._meter = RtfMeter(RTF_WINDOW_S)
        #: Sim time [s] of the current step (set before ``on_step``; 0 before the first).
        self.now_s = 0.0
        self._report()  # all diagnostics keys exist before the thread writes them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="time_source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (call from the node's ``on_exit``)."""
        self._stop.set()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        try:
            status = run_clock(self.schedule, self._step, time.monotonic, self._stop.wait,
                               self._end_s)
        except Exception as exc:  # a dead time source must end the process, loudly
            self._node.get_logger().fatal(f"time source thread failed: {exc!r}")
            self._node.finish(1)
            raise
        if status is ClockStatus.FINISHED:
            self._node.get_logger().info(
                f"reached sim time {self.schedule.sim_time_s:.3f} s: shutting down")
            # the last steps reach the reliable subscribers before the process ends
            if not self._pub.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S)):
                self._node.get_logger().warning(
                    f"/clock: last steps not acknowledged within {ACK_TIMEOUT_S} s")
            self._node.finish(0)  # ends rclpy.spin in run_node

    def _step(self, sim_time_s: float) -> None:
        self.now_s = sim_time_s
        if self._on_step is not None:
            self._on_step(sim_time_s)
        self._pub.publish(Clock(clock=s_to_stamp(sim_time_s)))
        if self._meter.update(time.monotonic(), sim_time_s) is not None:
            self._report()
        rtf = self._node.params.rtf
        if rtf != self.schedule.rtf:  # changed with `ros2 param set`
            self.schedule.set_rtf(rtf)
            self._node.get_logger().info(f"real-time factor set to {rtf}")

    def _report(self) -> None:
        s, achieved = self.schedule, self._meter.value
        d = self._node.diagnostics
        d.set_value("sim_time_s", f"{s.sim_time_s:.3f}")
        d.set_value("rtf_target", f"{s.rtf:g}")
        d.set_value("rtf_achieved", "n/a" if achieved is None else f"{achieved:.3f}")
        d.set_value("overruns", s.overruns)
        if not self._owns_status:
            return
        if achieved is not None and achieved < RTF_WARN_RATIO * s.rtf:
            d.set_status(WARN, f"behind schedule: rtf {achieved:.2f} of {s.rtf:g}")
        else:
            d.set_status(OK, "running")
