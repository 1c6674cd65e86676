"""Where the robot description files (URDF, joint_limits.yaml) of dg_motion live.

Installed packages keep them in ``share/dg_motion/config/robots/<robot>/`` (found through
the ament index, as ``ros2 launch``'s ``$(find-pkg-share dg_motion)`` does); a source checkout
without an install (tests, ``pip install -e``) falls back to ``src/dg_motion/config/robots``.
"""

from __future__ import annotations

from pathlib import Path

from dg_motion.errors import MotionInputError

PACKAGE = "dg_motion"
#: The source tree's robot folder (fallback when the package is not installed).
SOURCE_ROBOTS_DIR = Path(__file__).resolve().parents[2] / "config" / "robots"


def _share_robots_dir() -> Path | None:
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:  # no ROS on this machine: source tree only
        return None
    try:
        return Path(get_package_share_directory(PACKAGE)) / "config" / "robots"
    except (PackageNotFoundError, ValueError, LookupError):
        return None


def robot_file(robot: str, name: str) -> Path:
    """Path of the file ``name`` of robot ``robot`` (e.g. ``robot_file("ur5", "ur5.urdf")``).

    Raises:
        MotionInputError: when neither the installed share folder nor the source tree has it.

    """
    candidates = [d / robot / name for d in (_share_robots_dir(), SOURCE_ROBOTS_DIR)
                  if d is not None]
    for path in candidates:
        if path.is_file():
            return path
    raise MotionInputError(f"robot file '{robot}/{name}' not found (looked in "
                           f"{', '.join(str(p) for p in candidates)})")
