"""Recording of ROS 2 topics to MCAP files that standard rosbag2/MCAP tools read (pure)."""
