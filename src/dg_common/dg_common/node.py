"""Base node: schema parameters, diagnostics, guarded callbacks, input rejection."""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from rclpy.node import Node

from dg_common.diagnostics import Diagnostics
from dg_common.param_schema import ParamSpec
from dg_common.params import declare_parameters
from dg_common.sim_time import now_s

#: Minimum seconds between two repeats of the same warning.
WARN_THROTTLE_S = 1.0


class DgNodeMixin:
    """Plumbing every DG node has; mixed into ``Node`` or ``LifecycleNode``."""

    #: Set by :meth:`finish`; :func:`dg_common.main.run_node` returns it as the exit code.
    exit_code: int | None = None

    def init_dg(self: Any, schema: Iterable[ParamSpec]) -> None:
        """Declare and validate parameters, start diagnostics."""
        self.params = declare_parameters(self, schema)
        self.diagnostics = Diagnostics(self)

    def finish(self: Any, exit_code: int) -> None:
        """End the process from inside a callback: spin returns, run_node exits with the code."""
        self.exit_code = exit_code
        self.context.try_shutdown()

    def now_s(self: Any) -> float:
        """Current ROS time [s] (sim time when use_sim_time is set)."""
        return now_s(self)

    def guarded(self: Any, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback so an exception is logged and counted instead of killing the node.

        rclpy re-raises callback exceptions out of spin, which would end the process.
        """
        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the guard's whole purpose
                self.diagnostics.callback_errors += 1
                self.get_logger().error(
                    f"callback {callback.__name__} failed: {exc!r}\n{traceback.format_exc()}",
                    throttle_duration_sec=WARN_THROTTLE_S)
                self.on_callback_error(exc)
                return None
        return wrapper

    def on_callback_error(self, exc: Exception) -> None:
        """Hook after a guarded callback failed (actuators go to their safe output)."""

    def reject(self: Any, monitor: Any, reason: str, detail: str) -> None:
        """Count a rejected input on its monitor and warn (throttled)."""
        monitor.reject(reason)
        self.get_logger().warning(
            f"rejected {monitor.topic}: {detail}", throttle_duration_sec=WARN_THROTTLE_S)


class DgNode(DgNodeMixin, Node):
    """A plain (non-actuating) DG node."""

    def __init__(self, name: str, schema: Iterable[ParamSpec], **kwargs: Any) -> None:
        """Create the node ``name`` with the parameters of ``schema``."""
        Node.__init__(self, name, **kwargs)
        self.init_dg(schema)

    def on_exit(self) -> None:
        """Called once by :func:`dg_common.main.run_node` before the node is destroyed."""
