"""Isolate a test session's or a demo run's ROS traffic and files (DESIGN.md §2).

Tests call :func:`isolate_ros` from a ``conftest.py`` before ``rclpy.init``; ``dg demo``
calls it for each run. It picks a DDS domain from the process id (test sessions run one
after another under ``make test``), keeps discovery on this host, and points ROS_HOME /
ROS_LOG_DIR at a private directory.
"""

from __future__ import annotations

import os
import tempfile

# Domain ids 1..100 keep the RTPS ports valid for every participant count we use
# (Fast DDS port formula: 7400 + 250 * domain + ...; the usable maximum is 232).
_DOMAINS = 100


def isolate_ros(env: dict[str, str] | None = None, home: str | None = None) -> dict[str, str]:
    """Set (in ``env`` or ``os.environ``) a private domain, localhost discovery and dirs.

    ``home`` is the ROS_HOME to use (a new temporary directory when None).
    """
    target = os.environ if env is None else env
    home = home or tempfile.mkdtemp(prefix="dg-ros-home-")
    target["ROS_DOMAIN_ID"] = str(1 + os.getpid() % _DOMAINS)
    target["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    target["ROS_HOME"] = home
    target["ROS_LOG_DIR"] = os.path.join(home, "log")
    target.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    return target
