"""MuJoCo simulation of the 12-DoF biped (pure: no rclpy)."""
