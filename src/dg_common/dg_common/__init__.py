"""Node plumbing shared by every DG Stack package.

Pure modules (no rclpy): ``validation``, ``watchdog``, ``geometry``, ``param_schema``.
ROS modules: ``params``, ``qos``, ``diagnostics``, ``node``, ``lifecycle``, ``sim_time``, ``main``.
"""
