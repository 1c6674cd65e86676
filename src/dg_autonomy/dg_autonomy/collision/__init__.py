"""Collision avoidance: CPA/TCPA, COLREGs, AIS."""
