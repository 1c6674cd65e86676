"""Node ``clock``: the simulation's time source, publishing ``/clock`` at a real-time factor.

Every other node of a simulated run sets ``use_sim_time:=true`` and follows ``/clock``;
this node runs on wall time only (it is the source, see
:class:`dg_sim.nodes.time_source.TimeSource`). With ``duration_s > 0`` the node stops after
that much sim time and the process exits with code 0. A simulator that steps its own physics
can be the time source itself instead (``usv_sim publish_clock:=true``).
"""

from __future__ import annotations

from typing import Any

from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParamSpec
from dg_sim.clock import MAX_RTF
from dg_sim.nodes.time_source import TimeSource

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


class ClockNode(DgNode):
    """Publishes ``/clock`` from a wall-time thread; reports the achieved real-time factor."""

    def __init__(self, **kwargs: Any) -> None:
        """Start the time source."""
        super().__init__("clock", SCHEMA, **kwargs)
        p = self.params
        self.time_source = TimeSource(self, p.step_s, start_s=p.start_s,
                                      duration_s=p.duration_s, owns_status=True)

    def on_exit(self) -> None:
        """Stop the publishing thread before the node is destroyed."""
        self.time_source.stop()


def main(args: list[str] | None = None) -> None:
    """Run the ``clock`` node (``ros2 run dg_sim clock``)."""
    raise SystemExit(run_node(ClockNode, args))
