"""ROS 2 nodes of dg_motion: parse parameters, convert messages, call the cores, publish."""
