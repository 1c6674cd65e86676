"""MCAP files laid out as rosbag2's MCAP storage plugin writes them (pure; no rclpy).

Profile ``ros2``; one schema per message type (name ``pkg/msg/Type``, encoding ``ros2msg``,
data from :func:`dg_sim.recording.msgdefs.full_message_definition`); one channel per topic
(message encoding ``cdr``, metadata ``offered_qos_profiles`` and ``topic_type_hash`` as
rosbag2 writes them); messages are the serialized CDR bytes exactly as received
(rclpy ``raw=True`` subscriptions), which is what rosbag2 stores. Chunks are zstd-compressed.

No ``rosbag2`` metadata record is written: rosbag2 derives a bag's metadata from the MCAP
summary when that record is absent, while a record without the complete
``serialized_metadata`` YAML makes it read the QoS profiles in the pre-Jazzy integer format.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from mcap.writer import CompressionType, Writer

from dg_sim.recording.msgdefs import full_message_definition

#: MCAP library string in the file header.
LIBRARY = "dg_sim recorder (mcap-python)"

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class OfferedQos:
    """One publisher's QoS as rosbag2 stores it; policies are rmw's lower-case names.

    Durations are nanoseconds (rmw's "infinite" is 2**63 - 1 ns).
    """

    history: str
    depth: int
    reliability: str
    durability: str
    deadline_ns: int
    lifespan_ns: int
    liveliness: str
    liveliness_lease_duration_ns: int
    avoid_ros_namespace_conventions: bool


def _rmw_time(ns: int) -> dict[str, int]:
    return {"sec": ns // _NS_PER_S, "nsec": ns % _NS_PER_S}


def offered_qos_yaml(profiles: list[OfferedQos]) -> str:
    """The ``offered_qos_profiles`` channel metadata: a YAML list in rosbag2's version-9 form.

    Same keys and values as ``rosbag2_storage::serialize_rclcpp_qos_vector``: policies as
    strings (``reliable``, ``transient_local``, ...), durations as ``{sec, nsec}``.
    """
    return yaml.safe_dump([{
        "history": p.history,
        "depth": p.depth,
        "reliability": p.reliability,
        "durability": p.durability,
        "deadline": _rmw_time(p.deadline_ns),
        "lifespan": _rmw_time(p.lifespan_ns),
        "liveliness": p.liveliness,
        "liveliness_lease_duration": _rmw_time(p.liveliness_lease_duration_ns),
        "avoid_ros_namespace_conventions": p.avoid_ros_namespace_conventions,
    } for p in profiles], sort_keys=False, default_flow_style=False)


@dataclass
class TopicStats:
    """What was written on one topic."""

    type_name: str
    messages: int = 0
    bytes: int = 0


class McapRecorder:
    """Writes ROS 2 messages (serialized CDR) to a new MCAP file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Create ``path`` (it must not exist) and write the file header.

        Raises:
            FileExistsError: ``path`` exists (a recording is never overwritten).
            OSError: ``path`` cannot be created.

        """
        self.path = Path(path)
        self._file: BinaryIO | None = open(self.path, "xb")  # closed in close()
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library=LIBRARY)
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.topics: dict[str, TopicStats] = {}

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._file is None

    def add_topic(self, topic: str, type_name: str, offered_qos_profiles: str = "",
                  type_hash: str = "") -> None:
        """Register ``topic`` of ``type_name`` (e.g. ``nav_msgs/msg/Odometry``).

        ``offered_qos_profiles`` is YAML from :func:`offered_qos_yaml`; ``type_hash`` the
        REP-2011 hash (``RIHS01_...``). Adding a topic again with the same type does nothing.

        Raises:
            MessageDefinitionError: the type's definition cannot be built.
            ValueError: the topic was added with another type.

        """
        known = self.topics.get(topic)
        if known is not None:
            if known.type_name != type_name:
                raise ValueError(
                    f"topic '{topic}' is recorded as {known.type_name}, not {type_name}")
            return
        schema_id = self._schemas.get(type_name)
        if schema_id is None:
            data = full_message_definition(type_name).encode()
            schema_id = self._writer.register_schema(type_name, "ros2msg", data)
            self._schemas[type_name] = schema_id
        self._channels[topic] = self._writer.register_channel(
            topic, "cdr", schema_id,
            {"offered_qos_profiles": offered_qos_profiles, "topic_type_hash": type_hash})
        self.topics[topic] = TopicStats(type_name)

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int) -> None:
        """Append one serialized message received at ``log_time_ns`` [ns].

        Raises:
            KeyError: ``topic`` was not added.
            ValueError: a negative time, or the recorder is closed.

        """
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        if log_time_ns < 0 or publish_time_ns < 0:
            raise ValueError(f"negative time on {topic}: log {log_time_ns} ns, "
                             f"publish {publish_time_ns} ns")
        stats = self.topics.get(topic)
        if stats is None:
            raise KeyError(f"topic '{topic}' was not added")
        self._writer.add_message(self._channels[topic], log_time_ns, data, publish_time_ns,
                                 sequence=stats.messages & 0xFFFFFFFF)  # uint32 in MCAP
        stats.messages += 1
        stats.bytes += len(data)

    def flush(self) -> None:
        """End the open chunk and push everything written so far to the operating system.

        After a crash (power loss, SIGKILL) the data up to the last flush can be recovered
        (``mcap recover``); flushing often costs compression ratio.
        """
        if self._file is not None:
            self._writer.flush()

    def close(self) -> None:
        """Write the summary and footer and close the file (a second call does nothing)."""
        if self._file is None:
            return
        try:
            self._writer.finish()
        finally:
            self._file.close()
            self._file = None


class BackgroundMcapRecorder:
    """A :class:`McapRecorder` written by its own thread; callers only enqueue.

    The thread that receives messages never touches the file. This matters because
    :func:`dg_common.main.run_node` turns Ctrl-C into a ``KeyboardInterrupt`` raised wherever
    the main thread is: one landing inside a write would leave a half-written record in the
    open chunk and make the whole file unreadable. Enqueueing (``queue.SimpleQueue.put``) is
    atomic. Chunks are flushed every ``flush_period_s`` [s, wall] so a crash loses at most
    that much data. The thread is a daemon, so a recorder never keeps a process alive:
    call :meth:`close` to complete the file.
    """

    def __init__(self, path: str | os.PathLike[str], flush_period_s: float = 5.0,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        """Create the file now (errors are raised here) and start the writer thread.

        ``on_error`` is called from the writer thread with each exception a write raised
        (the message is dropped and counted in :attr:`errors`).

        Raises:
            FileExistsError: ``path`` exists.
            OSError: ``path`` cannot be created.

        """
        if not flush_period_s > 0.0:
            raise ValueError(f"flush_period_s must be > 0 s, got {flush_period_s}")
        self._recorder = McapRecorder(path)
        self.path = self._recorder.path
        self._flush_period_s = flush_period_s
        self._on_error = on_error
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = (
            queue.SimpleQueue())
        self._types: dict[str, str] = {}
        self._closing = False
        #: Exceptions raised by writes so far (their messages were dropped).
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="mcap-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_flush_s = time.monotonic() + self._flush_period_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_flush_s - time.monotonic()))
            except queue.Empty:
                pass
            else:
                if item is None:
                    break
                self._call(*item)
            if time.monotonic() >= next_flush_s:
                self._call(self._recorder.flush, ())
                next_flush_s = time.monotonic() + self._flush_period_s
        self._call(self._recorder.close, ())

    def _call(self, function: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            function(*args)
        except Exception as exc:  # noqa: BLE001 - one bad message must not end recording
            self.errors += 1
            if self._on_error is not None:
                self._on_error(exc)

    def add_topic(self, topic: str, type_name: str, offered_qos_profiles: str = "",
                  type_hash: str = "") -> None:
        """Register ``topic`` (arguments as :meth:`McapRecorder.add_topic`).

        The message definition is built here, so its errors reach the caller.

        Raises:
            MessageDefinitionError: the type's definition cannot be built.
            ValueError: the topic was added with another type, or the recorder is closed.

        """
        self._check_open()
        known = self._types.get(topic)
        if known is not None and known != type_name:
            raise ValueError(f"topic '{topic}' is recorded as {known}, not {type_name}")
        full_message_definition(type_name)  # cached: the writer thread reuses it
        self._types[topic] = type_name
        self._queue.put((self._recorder.add_topic,
                         (topic, type_name, offered_qos_profiles, type_hash)))

    def has_topic(self, topic: str) -> bool:
        """True once ``topic`` was added."""
        return topic in self._types

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int) -> None:
        """Enqueue one message (arguments as :meth:`McapRecorder.write`).

        Raises:
            KeyError: ``topic`` was not added.
            ValueError: the recorder is closed.

        """
        self._check_open()
        if topic not in self._types:
            raise KeyError(f"topic '{topic}' was not added")
        self._queue.put((self._recorder.write, (topic, data, log_time_ns, publish_time_ns)))

    def _check_open(self) -> None:
        if self._closing:
            raise ValueError(f"{self.path} is closed")

    def stats(self) -> dict[str, TopicStats]:
        """Messages and bytes written so far per topic (a snapshot)."""
        return self._recorder.topics.copy()

    def queued(self) -> int:
        """Operations waiting for the writer thread (approximate)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Write everything queued, complete and close the file (a second call only waits)."""
        if not self._closing:
            self._closing = True
            self._queue.put(None)
        self._thread.join()
