"""Missions: mission files, executive, persisted progress."""
