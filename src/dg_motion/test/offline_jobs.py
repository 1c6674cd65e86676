"""Shared helpers of the offline-programming tests: the demo files and small job files."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[3] / "config"
CELL = CONFIG / "arm_cell.yaml"
DEMO_JOB = CONFIG / "arm_cnc_job.yaml"
PI = 3.141592653589793
HOME = [2.8244, -1.8796, 1.5195, -1.2106, -1.5708, -1.8879]


def write_job(tmp: Path, steps: list, frames: dict | None = None, name: str = "job.yaml",
              **extra: object) -> Path:
    """A job file in ``tmp`` on the demo cell, starting at the demo's home."""
    job = {"name": "test_job", "robot": {"model": "ur5"}, "cell": str(CELL), "start": "home",
           "frames": {"home": {"joints": HOME}, **(frames or {})}, "steps": steps, **extra}
    path = tmp / name
    path.write_text(yaml.safe_dump({"job": job}, sort_keys=False))
    return path
