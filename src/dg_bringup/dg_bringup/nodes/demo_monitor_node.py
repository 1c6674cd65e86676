"""Demo monitor: shows a scenario's progress and ends the launch when it is done.

Launched with ``on_exit="shutdown"``: it exits 0 when the mission succeeds (after saving
every node's resolved parameters to the run folder) and 1 when it fails or runs past its
sim-time limit, which ends the whole launch with that code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rclpy.parameter import parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient

from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParamSpec
from dg_common.qos import STATE_QOS
from dg_interfaces.msg import MissionProgress

STATES = {
    MissionProgress.STATE_IDLE: "IDLE",
    MissionProgress.STATE_RUNNING: "RUNNING",
    MissionProgress.STATE_HOLDING: "HOLDING",
    MissionProgress.STATE_SUCCEEDED: "SUCCEEDED",
    MissionProgress.STATE_FAILED: "FAILED",
}

SCHEMA = (
    ParamSpec("progress_topic", "str", "MissionProgress topic to watch",
              default="mission_progress"),
    ParamSpec("timeout_s", "float", "sim-time limit of the scenario [s]", default=600.0,
              min=1.0, max=86400.0),
    ParamSpec("parameters_file", "str",
              "YAML file for every node's resolved parameters ('' = don't save)", default=""),
    ParamSpec("parameter_wait_s", "float", "wall time allowed for collecting parameters [s]",
              default=5.0, min=0.1, max=60.0),
)


@dataclass
class _Query:
    """A pending parameter query to one node: names first (None until listed), then values."""

    client: AsyncParameterClient
    future: Any
    names: list[str] | None = None


class DemoMonitor(DgNode):
    """Prints progress lines and finishes the launch on success, failure or timeout."""

    def __init__(self) -> None:
        """Subscribe to the progress topic and start the timeout check."""
        super().__init__("demo_monitor", SCHEMA)
        self._last: tuple[int, int] | None = None
        self._start_s: float | None = None
        self._pending: dict[str, _Query] = {}
        self._collected: dict[str, dict[str, Any]] = {}
        self._deadline_wall = 0.0
        self._result = 0
        self.create_subscription(MissionProgress, self.params.progress_topic,
                                 self.guarded(self.on_progress), STATE_QOS)
        self._check = self.create_timer(0.1, self.guarded(self.on_timer))

    def on_progress(self, msg: MissionProgress) -> None:
        """Log state changes and item completions; finish on a terminal state."""
        key = (msg.state, msg.completed)
        if key == self._last or self._pending or self._deadline_wall:
            return
        self._last = key
        state = STATES.get(msg.state, f"state {msg.state}")
        self.get_logger().info(
            f"[{state}] {msg.mission} {msg.completed}/{msg.total} {msg.detail} "
            f"(t = {self.now_s():.1f} s)")
        if msg.state == MissionProgress.STATE_SUCCEEDED:
            self._end(0)
        elif msg.state == MissionProgress.STATE_FAILED:
            self._end(1)

    def on_timer(self) -> None:
        """Check the time limit; complete the parameter collection."""
        now = self.now_s()
        if self._deadline_wall:
            self._poll_parameters()
            return
        if now <= 0.0:
            return  # the sim clock has not started
        if self._start_s is None:
            self._start_s = now
        if now - self._start_s > self.params.timeout_s:
            self.get_logger().error(
                f"scenario did not finish within {self.params.timeout_s:.0f} s of sim time")
            self._end(1)

    def _end(self, code: int) -> None:
        self._result = code
        if not self.params.parameters_file:
            self.finish(code)
            return
        self._deadline_wall = time.monotonic() + self.params.parameter_wait_s
        me = self.get_fully_qualified_name()
        for name, ns in self.get_node_names_and_namespaces():
            fqn = f"{ns.rstrip('/')}/{name}"
            if fqn != me:
                client = AsyncParameterClient(self, fqn)
                self._pending[fqn] = _Query(client, client.list_parameters())

    def _poll_parameters(self) -> None:
        """Advance each node's query: list the names, then get the values."""
        for fqn, q in list(self._pending.items()):
            if not q.future.done():
                continue
            result = q.future.result()
            if q.names is None:
                q.names = list(result.result.names)
                q.future = q.client.get_parameters(q.names)
                continue
            values = [parameter_value_to_python(v) for v in result.values]
            if len(values) == len(q.names):
                self._collected[fqn] = dict(zip(q.names, values, strict=True))
            del self._pending[fqn]
        if not self._pending or time.monotonic() > self._deadline_wall:
            if self._pending:
                self.get_logger().warning(f"no parameters from {sorted(self._pending)}")
            self._write_parameters()
            self.finish(self._result)

    def _write_parameters(self) -> None:
        data = {fqn: {"ros__parameters": values}
                for fqn, values in sorted(self._collected.items())}
        path = Path(self.params.parameters_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=True))
        self.get_logger().info(f"resolved parameters of {len(data)} nodes -> {path}")


def main(args: list[str] | None = None) -> None:
    """Run the demo monitor."""
    raise SystemExit(run_node(DemoMonitor, args))
