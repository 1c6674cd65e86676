"""QoS profiles by topic class (DESIGN.md §4.4).

Commands: reliable, depth 1. A publisher of commands may *offer* a deadline, but
subscriptions never *request* one: a requested deadline makes the subscription
incompatible with publishers that offer none (ros_gz_bridge, teleop tools), so it would
silently receive nothing. Command timeouts are enforced in the node with
:class:`dg_common.watchdog.Watchdog` on the ROS clock (which also works in sim time).
"""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

#: Sensor streams: best effort, keep last 5 (rclpy's ``qos_profile_sensor_data``).
SENSOR_QOS: QoSProfile = qos_profile_sensor_data

#: State, maps, plans: latched for late joiners.
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)

#: What ros_gz_bridge's publishers offer: ``rclcpp::QoS(rclcpp::KeepLast(10))``, i.e.
#: reliable, volatile, keep last 10 (ros_gz_bridge/src/factory.hpp, kDefaultPublisherQueue).
#: The embedded simulators publish what the bridge would (sensors, odometry, tf, /clock) with
#: it, so subscribers see the same QoS in every world.
BRIDGE_PUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)

#: Subscriptions to commands.
COMMAND_SUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def command_pub_qos(deadline_s: float) -> QoSProfile:
    """Reliable depth-1 profile for command publishers offering ``deadline_s`` [s]."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1,
        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
        deadline=Duration(seconds=deadline_s))
