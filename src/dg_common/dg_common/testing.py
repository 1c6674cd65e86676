"""Pytest set-up shared by the packages' tests (DESIGN.md §2).

Importing this module isolates the test session's ROS traffic (:func:`isolate_ros`), so a
package's ``test/conftest.py`` imports it before anything calls ``rclpy.init``::

    from dg_common.testing import ros_context  # noqa: F401 - the fixture
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import Executor

from dg_common.isolation import isolate_ros

isolate_ros()


@pytest.fixture
def ros_context() -> Iterator[Context]:
    """A fresh rclpy context per test, shut down afterwards."""
    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


def spin_until(executor: Executor, condition: Callable[[], bool], timeout_s: float, *,
               each: Callable[[], None] | None = None, period_s: float = 0.01) -> bool:
    """Spin ``executor`` until ``condition()`` holds (True) or ``timeout_s`` [s] passed (False).

    ``each()`` runs before every spin (a test that plays a sensor publishes there);
    ``period_s`` bounds how long one spin waits for work [s]. The one way tests wait on ROS,
    never a fixed time: a negative assertion ("nothing was sent") first waits here for the
    evidence that the node has handled the input or passed the deadline (its input counter
    moved, a later message on the same topic came, its published stamps passed the deadline).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if each is not None:
            each()
        executor.spin_once(timeout_sec=period_s)
        if condition():
            return True
    return False
