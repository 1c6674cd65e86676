"""Execution: ros2_control-style hardware interfaces, trajectory following, control loop."""
