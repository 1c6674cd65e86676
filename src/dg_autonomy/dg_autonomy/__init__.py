"""Autonomy for unmanned boats and ground vehicles.

Pure algorithm cores (no rclpy) live in topic packages (``control``, ...); the ROS wiring in
``nodes``, one module per node.
"""
