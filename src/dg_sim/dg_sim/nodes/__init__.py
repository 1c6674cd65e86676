"""ROS 2 nodes of dg_sim: parse parameters, convert messages, call the cores, publish."""
