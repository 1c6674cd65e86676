"""ROS nodes of dg_bringup (no algorithms here)."""
