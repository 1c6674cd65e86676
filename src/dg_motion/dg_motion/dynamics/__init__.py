"""Dynamics: computed-torque and feedforward (Pinocchio), payload identification."""
