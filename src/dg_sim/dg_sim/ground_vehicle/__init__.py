"""Embedded ground vehicle (diff-drive UGV): pure kinematics/sensor models and bridge config.

``kinematics``: unicycle model with limits, wheel odometry, GNSS fix (numpy only).
``bridge_config``: reads the ros_gz_bridge YAML that names the vehicle's ROS topics.
The ROS node is ``dg_sim.nodes.ground_vehicle_node``.
"""
