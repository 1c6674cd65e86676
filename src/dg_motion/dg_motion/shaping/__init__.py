"""Vibration suppression: input shapers, shaped trajectories, mode identification."""
