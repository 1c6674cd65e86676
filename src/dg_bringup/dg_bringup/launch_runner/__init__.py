"""Pip-mode replacement for ``ros2 launch``: runs the ROS 2 XML launch format subset we use.

Public API (used by the ``dg`` command): ``run_launch``, ``parse_launch_args`` and
``LaunchError``. Everything outside the supported subset is a ``LaunchError`` naming the file
and the offending tag, attribute or substitution; nothing is silently ignored.
"""

from dg_bringup.launch_runner.errors import LaunchError
from dg_bringup.launch_runner.launch_args import parse_launch_args
from dg_bringup.launch_runner.runner import run_launch

__all__ = ["LaunchError", "parse_launch_args", "run_launch"]
