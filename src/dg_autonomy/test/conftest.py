"""Test session setup for dg_autonomy: private DDS domain and localhost discovery.

Must run before any ``rclpy.init`` (DESIGN.md §2); pytest imports conftest first.
"""

import pytest
import rclpy
from rclpy.context import Context

from dg_common.isolation import isolate_ros

isolate_ros()


@pytest.fixture
def ros_context():
    """A fresh rclpy context per test, shut down afterwards."""
    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
