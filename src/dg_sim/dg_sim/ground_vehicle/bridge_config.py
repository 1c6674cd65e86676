"""Read a ros_gz_bridge YAML config and find the ROS topics of a robot's Gazebo streams (pure).

The embedded simulator stands in for Gazebo + ros_gz_bridge (DESIGN.md §3). It knows the
Gazebo side of its robot (the gz topics and types that the model's systems publish, e.g.
DiffDrive's ``/model/ugv/odometry``) and takes the ROS side (topic names) from the same bridge
file that ros_gz_bridge reads, so both worlds publish the same ROS topics. Every mismatch in
type or direction is an error naming the file, the entry and what was expected.

Parsing follows ros_gz_bridge's ``src/bridge_config.cpp``: the file is a YAML sequence of
maps; ``topic_name`` sets both names and excludes ``ros_topic_name``/``gz_topic_name``; a
missing name takes the other one; ``ros_type_name`` and ``gz_type_name`` are required;
``direction`` is ``BIDIRECTIONAL`` (default), ``GZ_TO_ROS`` or ``ROS_TO_GZ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DIRECTIONS = ("BIDIRECTIONAL", "GZ_TO_ROS", "ROS_TO_GZ")

#: Prefixes under which ros_gz accepts Gazebo message type names.
_GZ_TYPE_PREFIXES = ("gz.msgs.", "ignition.msgs.", "gz::msgs::", "ignition::msgs::")


class BridgeConfigError(ValueError):
    """The bridge config is unreadable, malformed, or lacks/mismatches a required stream."""


@dataclass(frozen=True)
class BridgeEntry:
    """One bridged topic, names and types as ros_gz_bridge resolves them."""

    ros_topic_name: str
    gz_topic_name: str
    ros_type_name: str    #: e.g. ``nav_msgs/msg/Odometry``
    gz_type_name: str     #: e.g. ``gz.msgs.Odometry``
    direction: str        #: one of :data:`DIRECTIONS`


@dataclass(frozen=True)
class StreamSpec:
    """A stream the simulated robot has, identified by its Gazebo topic and type.

    ``gz_topic`` may contain ``{model}``, replaced by the model name, and other
    ``{placeholders}`` (e.g. ``{world}``) given to :func:`resolve_streams` as ``names``.
    """

    role: str             #: our key for the stream, e.g. ``odom``
    gz_topic: str
    gz_type: str
    ros_type: str
    direction: str


#: Streams of the diff-drive UGV: gz-sim DiffDrive (cmd_vel, odometry, tf), OdometryPublisher
#: (ground truth), a navsat sensor and the simulation clock.
GROUND_VEHICLE_STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("cmd_vel", "/model/{model}/cmd_vel", "gz.msgs.Twist",
               "geometry_msgs/msg/Twist", "ROS_TO_GZ"),
    StreamSpec("odom", "/model/{model}/odometry", "gz.msgs.Odometry",
               "nav_msgs/msg/Odometry", "GZ_TO_ROS"),
    StreamSpec("tf", "/model/{model}/tf", "gz.msgs.Pose_V",
               "tf2_msgs/msg/TFMessage", "GZ_TO_ROS"),
    StreamSpec("navsat", "/model/{model}/navsat", "gz.msgs.NavSat",
               "sensor_msgs/msg/NavSatFix", "GZ_TO_ROS"),
    StreamSpec("ground_truth", "/model/{model}/ground_truth/odometry", "gz.msgs.Odometry",
               "nav_msgs/msg/Odometry", "GZ_TO_ROS"),
    StreamSpec("clock", "/clock", "gz.msgs.Clock", "rosgraph_msgs/msg/Clock", "GZ_TO_ROS"),
)


#: Streams of the VRX WAM-V (osrf/vrx ``vrx_gz/src/vrx_gz/bridges.py`` and
#: ``payload_bridges.py``: ``thrust``, ``navsat``, ``imu``, ``odometry``, ``clock``; sensor and
#: link names from ``vrx_urdf/wamv_gazebo/urdf/components/wamv_gps.xacro``/``wamv_imu.xacro``
#: as the WAM-V instantiates them: ``gps_wamv``, ``imu_wamv``). Thrust topics are relative
#: in VRX (gz-sim Thruster: ``<namespace>/<topic>``); ``{world}`` is the Gazebo world name.
USV_STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("left_thrust", "/{model}/thrusters/left/thrust", "gz.msgs.Double",
               "std_msgs/msg/Float64", "ROS_TO_GZ"),
    StreamSpec("right_thrust", "/{model}/thrusters/right/thrust", "gz.msgs.Double",
               "std_msgs/msg/Float64", "ROS_TO_GZ"),
    StreamSpec("gnss", "/world/{world}/model/{model}/link/{model}/gps_wamv_link/sensor/navsat/"
               "navsat", "gz.msgs.NavSat", "sensor_msgs/msg/NavSatFix", "GZ_TO_ROS"),
    StreamSpec("imu", "/world/{world}/model/{model}/link/{model}/imu_wamv_link/sensor/"
               "imu_wamv_sensor/imu", "gz.msgs.IMU", "sensor_msgs/msg/Imu", "GZ_TO_ROS"),
    StreamSpec("ground_truth", "/model/{model}/odometry", "gz.msgs.Odometry",
               "nav_msgs/msg/Odometry", "GZ_TO_ROS"),
    StreamSpec("clock", "/clock", "gz.msgs.Clock", "rosgraph_msgs/msg/Clock", "GZ_TO_ROS"),
)


def _gz_type_base(name: str) -> str:
    for prefix in _GZ_TYPE_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _gz_topic_key(name: str) -> str:
    """Gazebo topics are absolute; ``model/x`` and ``/model/x`` name the same topic."""
    return name if name.startswith("/") else "/" + name


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BridgeConfigError(f"{where}: '{key}' must be a string, got {value!r}")
    return value.strip()


def _parse_entry(entry: Any, where: str) -> BridgeEntry:
    if not isinstance(entry, dict):
        raise BridgeConfigError(f"{where}: must be a YAML map, got {entry!r}")
    topic = _text(entry, "topic_name", where)
    ros_topic = _text(entry, "ros_topic_name", where)
    gz_topic = _text(entry, "gz_topic_name", where)
    ros_type = _text(entry, "ros_type_name", where)
    gz_type = _text(entry, "gz_type_name", where)
    direction = _text(entry, "direction", where) or "BIDIRECTIONAL"
    if topic and (ros_topic or gz_topic):
        raise BridgeConfigError(
            f"{where}: 'topic_name' excludes 'ros_topic_name' and 'gz_topic_name'")
    if topic:
        ros_topic = gz_topic = topic
    ros_topic, gz_topic = ros_topic or gz_topic, gz_topic or ros_topic
    if not ros_topic:
        raise BridgeConfigError(f"{where}: no topic name (topic_name, ros_topic_name or "
                                "gz_topic_name)")
    if not ros_type or not gz_type:
        raise BridgeConfigError(f"{where}: both 'ros_type_name' and 'gz_type_name' must be set")
    if direction not in DIRECTIONS:
        raise BridgeConfigError(
            f"{where}: direction '{direction}' is not one of {list(DIRECTIONS)}")
    return BridgeEntry(ros_topic, gz_topic, ros_type, gz_type, direction)


def parse_bridge_config(text: str, source: str = "<string>") -> tuple[BridgeEntry, ...]:
    """Parse the YAML text of a bridge config; ``source`` names it in errors.

    Raises:
        BridgeConfigError: on invalid YAML or an invalid entry (unlike ros_gz_bridge, which
            logs and skips bad entries, we refuse the file: a skipped stream is a silent bug).

    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BridgeConfigError(f"bridge config {source}: invalid YAML: {exc}") from None
    if not isinstance(data, list) or not data:
        raise BridgeConfigError(
            f"bridge config {source}: top level must be a non-empty YAML sequence of maps")
    return tuple(_parse_entry(e, f"bridge config {source}, entry {i}")
                 for i, e in enumerate(data))


def load_bridge_config(path: str | Path) -> tuple[BridgeEntry, ...]:
    """Read and parse the bridge config file at ``path``.

    Raises:
        BridgeConfigError: if the file cannot be read or is invalid.

    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BridgeConfigError(f"cannot read bridge config '{path}': {exc}") from None
    return parse_bridge_config(text, str(path))


def resolve_streams(entries: Iterable[BridgeEntry], specs: Iterable[StreamSpec],
                    model: str, source: str = "<bridge config>",
                    names: Mapping[str, str] | None = None) -> dict[str, BridgeEntry]:
    """Map each spec's role to the bridge entry of its Gazebo topic, checking types.

    ``names`` fills the spec topics' placeholders other than ``{model}`` (e.g. ``world``).

    Raises:
        BridgeConfigError: if a stream has no entry, more than one, or an entry whose ROS
            type, Gazebo type or direction differs from the spec.

    """
    entries = tuple(entries)
    found: dict[str, BridgeEntry] = {}
    for spec in specs:
        gz_topic = _gz_topic_key(spec.gz_topic.format(model=model, **(names or {})))
        what = (f"the {spec.role} stream of model '{model}' (gz topic {gz_topic}, "
                f"{spec.gz_type} -> {spec.ros_type}, {spec.direction})")
        matches = [e for e in entries if _gz_topic_key(e.gz_topic_name) == gz_topic]
        if not matches:
            raise BridgeConfigError(f"{source}: no entry for {what}")
        if len(matches) > 1:
            raise BridgeConfigError(f"{source}: {len(matches)} entries for {what}; keep one")
        entry = matches[0]
        for field, got, expected in (
                ("ros_type_name", entry.ros_type_name, spec.ros_type),
                ("gz_type_name", _gz_type_base(entry.gz_type_name), _gz_type_base(spec.gz_type)),
                ("direction", entry.direction, spec.direction)):
            if got != expected:
                raise BridgeConfigError(
                    f"{source}: entry '{entry.ros_topic_name}' has {field} '{got}', "
                    f"expected '{expected}' for {what}")
        found[spec.role] = entry
    return found


def load_ground_vehicle_topics(path: str | Path, model: str = "ugv") -> dict[str, BridgeEntry]:
    """Bridge entries of the UGV's streams (keys: the roles of :data:`GROUND_VEHICLE_STREAMS`).

    Raises:
        BridgeConfigError: see :func:`load_bridge_config` and :func:`resolve_streams`.

    """
    return resolve_streams(load_bridge_config(path), GROUND_VEHICLE_STREAMS, model, str(path))


def load_usv_topics(path: str | Path, model: str = "wamv",
                    world: str = "sydney_regatta") -> dict[str, BridgeEntry]:
    """Bridge entries of the boat's streams (keys: the roles of :data:`USV_STREAMS`).

    Raises:
        BridgeConfigError: see :func:`load_bridge_config` and :func:`resolve_streams`.

    """
    return resolve_streams(load_bridge_config(path), USV_STREAMS, model, str(path),
                           {"world": world})
