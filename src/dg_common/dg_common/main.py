"""The ``main()`` idiom shared by every node; works on Jazzy and Kilted rclpy.

rclpy's own signal handlers shut the context down on SIGINT before user code runs, so an
actuator could no longer publish its safe output. We take SIGINT and SIGTERM ourselves: the
handler only sets a flag (an exception raised asynchronously could land inside rclpy's
message conversion and corrupt it), the spin loop sees it within ``STOP_POLL_S``, the node
publishes its last safe output in ``on_exit``, then it is destroyed and rclpy shut down.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dg_common.param_schema import ParameterError

#: Longest time [s] between a stop signal and the end of spinning.
STOP_POLL_S = 0.1


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create the node with ``factory``, spin it until Ctrl-C/SIGTERM, return an exit code.

    Exit code 0 on a normal stop, the node's ``exit_code`` when it ended itself with
    ``finish()``, 2 on a configuration (parameter) error; the exception propagates for
    anything unexpected (a bug must be loud).
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    node = None
    code = 0
    try:
        node = factory()
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        while not stop.is_set() and node.context.ok():
            executor.spin_once(timeout_sec=STOP_POLL_S)
    except ExternalShutdownException:
        pass
    except ParameterError as exc:
        print(f"configuration error: {exc}", file=sys.stderr, flush=True)
        code = 2
    finally:
        if node is not None:
            code = getattr(node, "exit_code", None) or code
            on_exit = getattr(node, "on_exit", None)
            if on_exit is not None:
                on_exit()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
