"""Path tracking and vehicle control laws (pure Python + numpy, no rclpy)."""
