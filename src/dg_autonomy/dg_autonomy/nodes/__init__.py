"""ROS 2 nodes of dg_autonomy: parse parameters, convert messages, call the cores, publish."""
