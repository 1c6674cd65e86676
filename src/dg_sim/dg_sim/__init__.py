"""DG Stack embedded simulator: the simulation clock, the run recorder and the robots.

Pure cores (no rclpy): ``clock`` (sim-time pacing), ``recording.msgdefs`` (rosbag2-style
message definitions) and ``recording.mcap_writer`` (MCAP files as rosbag2 writes them).
Robots: ``usv/`` (survey boat), ``ground_vehicle/``, ``inspection/`` (the inspection cell),
``arm/`` (the MuJoCo arm with a flexible forearm in the CNC cell, a ros2_control-style
hardware plug-in loaded by dg_motion's arm controller, as gz_ros2_control runs inside
Gazebo), ``humanoid/`` (the MuJoCo biped). ROS wiring: one module per node under ``nodes/``.
"""

import os

# MuJoCo renders headless (offscreen, no display); it reads MUJOCO_GL when it loads, so it is
# set here, before any module of this package imports it.
os.environ.setdefault("MUJOCO_GL", "osmesa")
