"""Humanoid walking: footsteps, ZMP preview control, whole-body IK, balance (pure, no rclpy)."""
