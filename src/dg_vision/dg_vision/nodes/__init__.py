"""ROS 2 nodes of dg_vision: ``inspection_node`` (recipe on camera frames and clouds)."""
