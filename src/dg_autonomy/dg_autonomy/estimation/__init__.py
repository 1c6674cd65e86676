"""State estimation (EKF localization)."""
