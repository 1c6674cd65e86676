"""Where the simulator finds the robots' description files (URDF, servo data).

They live in dg_motion (``config/robots/<robot>/``), installed to its share folder. The
simulator reads those files but never imports dg_motion (the system under test), so it looks
them up itself: the installed share folder first, else the source tree next to this package.
"""

from __future__ import annotations

from pathlib import Path


def dg_motion_robot_file(robot: str, name: str) -> Path:
    """Path of ``config/robots/<robot>/<name>`` of dg_motion (installed, else source tree)."""
    rel = Path("config") / "robots" / robot / name
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
        try:
            path = Path(get_package_share_directory("dg_motion")) / rel
            if path.is_file():
                return path
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parents[2] / "dg_motion" / rel
