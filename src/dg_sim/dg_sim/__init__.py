"""DG Stack embedded simulator: the simulation clock, the run recorder and the robots.

Pure cores (no rclpy): ``clock`` (sim-time pacing), ``recording.msgdefs`` (rosbag2-style
message definitions) and ``recording.mcap_writer`` (MCAP files as rosbag2 writes them).
ROS wiring: one module per node under ``nodes/``.
"""
