"""Time helpers that work with the ROS clock, in sim time or wall time."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from rclpy.node import Node


def stamp_to_s(stamp: Time) -> float:
    """Seconds of a ``builtin_interfaces/Time``."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_to_ns(stamp: Time) -> int:
    """Integer nanoseconds of a ``builtin_interfaces/Time`` (exact, for keys and matching)."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def s_to_stamp(t_s: float) -> Time:
    """``builtin_interfaces/Time`` of ``t_s`` seconds (t_s >= 0)."""
    ns = round(t_s * 1e9)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def now_s(node: Node) -> float:
    """Current ROS time of ``node`` in seconds (sim time when use_sim_time is set)."""
    return node.get_clock().now().nanoseconds * 1e-9
