"""The ``main()`` idiom shared by every node; works on Jazzy and Kilted rclpy.

rclpy's own signal handlers shut the context down on SIGINT before user code runs, so an
actuator could no longer publish its safe output. We take SIGINT (KeyboardInterrupt) and
SIGTERM ourselves, let the node publish its last safe output, then destroy it and shut down.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from dg_common.param_schema import ParameterError


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create the node with ``factory``, spin it until Ctrl-C/SIGTERM, return an exit code.

    Exit code 0 on a normal stop, the node's ``exit_code`` when it ended itself with
    ``finish()``, 2 on a configuration (parameter) error; the exception propagates for
    anything unexpected (a bug must be loud).
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _sigterm)
    node = None
    code = 0
    try:
        node = factory()
        rclpy.spin(node)
        code = getattr(node, "exit_code", None) or 0
    except (KeyboardInterrupt, ExternalShutdownException):
        code = getattr(node, "exit_code", None) or 0
    except ParameterError as exc:
        print(f"configuration error: {exc}", file=sys.stderr, flush=True)
        code = 2
    finally:
        if node is not None:
            on_exit = getattr(node, "on_exit", None)
            if on_exit is not None:
                on_exit()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
