"""Robot models: URDF loading (Pinocchio), kinematics, limits, tool frames."""
