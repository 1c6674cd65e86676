"""Unmanned surface vessel simulation: dynamics, disturbances, sensors, traffic."""
