"""Offline programming: YAML jobs of PTP/LIN/CIRC moves, checks, cycle time, views."""
