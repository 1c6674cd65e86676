"""Trajectories: state-to-state (Ruckig), time-optimal paths, multi-waypoint, Cartesian."""
