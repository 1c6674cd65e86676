"""Test session setup for dg_motion: private DDS domain and localhost discovery.

Must run before any ``rclpy.init`` (DESIGN.md §2); pytest imports conftest first.
"""

from dg_common.testing import ros_context  # noqa: F401 - the fixture; isolates ROS first
