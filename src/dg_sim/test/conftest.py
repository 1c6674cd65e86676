"""Test set-up for dg_sim: isolated DDS traffic, per-test rclpy contexts, bounded spinning."""

import os
import sys
from collections.abc import Callable, Iterator

import pytest

import dg_common
import dg_sim
from dg_common import testing  # before any rclpy.init: isolates the run's ROS traffic

# Pip mode: the ROS wheels install into the interpreter's prefix, which is an ament prefix
# (share/ament_index). tools/env.sh puts it on AMENT_PREFIX_PATH; do the same when a test
# runs without it, so that message definitions (.msg files) are found.
_prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
if (os.path.isdir(os.path.join(sys.prefix, "share", "ament_index"))
        and sys.prefix not in _prefixes):
    os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join([*_prefixes, sys.prefix])

import rclpy  # noqa: E402 - after the environment above
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402


@pytest.fixture
def context() -> Iterator[Context]:
    """An initialised rclpy context of its own, shut down after the test."""
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture
def executor(context: Context) -> Iterator[SingleThreadedExecutor]:
    """A single-threaded executor on the test's context."""
    ex = SingleThreadedExecutor(context=context)
    yield ex
    ex.shutdown()


SpinUntil = Callable[[Callable[[], bool], float], None]


@pytest.fixture
def spin_until(executor: SingleThreadedExecutor) -> SpinUntil:
    """Spin ``executor`` until ``condition()`` holds; fail after ``timeout_s`` [s]."""
    def spin(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        if not (condition() or testing.spin_until(executor, condition, timeout_s)):
            pytest.fail(f"condition not met within {timeout_s} s")
    return spin


@pytest.fixture
def node_env() -> dict[str, str]:
    """Environment for a node run as a process: this test run's DDS domain and packages."""
    env = os.environ.copy()
    roots = [os.path.dirname(os.path.dirname(os.path.abspath(m.__file__)))
             for m in (dg_sim, dg_common)]
    paths = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*roots, *paths])
    return env
