"""Node ``recorder``: records topics to one MCAP file, like ``ros2 bag record -a -s mcap``.

Discovery runs every ``discovery_period_s`` (steady time, so it works before ``/clock``
starts). A topic is subscribed once it has a publisher, with ``raw=True`` (messages are
stored as the serialized CDR received) and the QoS rosbag2 adapts to the publishers:
reliable only if every publisher is reliable, transient-local only if every publisher is
transient-local (so latched messages published before the recorder started are recorded).
As with ``ros2 bag record -a``, everything is recorded (``/rosout`` and ``/parameter_events``
included) except hidden topics (a name part starting with ``_``); ``topics`` restricts the
set to the listed names and ``exclude`` removes names.

Log time is the node's ROS clock when ``use_sim_time`` is true (as ``ros2 bag record
--use-sim-time``): messages that arrive before the first ``/clock`` (e.g. latched
``/tf_static``) are logged at time 0, which with the clock node's default ``start_s = 0`` is
the start of the run. On wall time it is the middleware's receive time. Publish time is the
source timestamp of the middleware (wall time), as rosbag2 writes it.

The file is written by a background thread (:class:`BackgroundMcapRecorder`) and completed
in :meth:`RecorderNode.on_exit`, which :func:`dg_common.main.run_node` calls on Ctrl-C and
SIGTERM.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.expand_topic_name import expand_topic_name
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rclpy.topic_or_service_is_hidden import topic_or_service_is_hidden

from dg_common.diagnostics import OK, WARN, TopicMonitor
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec
from dg_sim.recording.mcap_writer import BackgroundMcapRecorder, OfferedQos, offered_qos_yaml
from dg_sim.recording.msgdefs import MessageDefinitionError

SCHEMA = (
    ParamSpec("output_path", "str",
              "MCAP file to write; it must not exist, missing parent folders are created",
              read_only=True),
    ParamSpec("discovery_period_s", "float", "period [s, steady time] of topic discovery",
              default=0.5, min=0.05, max=60.0, read_only=True),
    ParamSpec("topics", "str[]", "topics to record; empty records all (as ros2 bag record -a)",
              default=[], read_only=True),
    ParamSpec("exclude", "str[]", "topics never recorded", default=[], read_only=True),
)

#: Subscription depth: far more than rosbag2's 10 because a Python callback is slower than
#: rosbag2's C++ one, and a recorder starved of CPU must not lose what arrives meanwhile:
#: 100 lost 36 % of a 500 Hz accelerometer on 2 loaded cores (2 s at 500 Hz; each slot is
#: allocated only when used). Depth does not affect QoS compatibility.
SUBSCRIPTION_DEPTH = 1000
#: Period [s, steady time] of the diagnostic values' update.
REPORT_PERIOD_S = 1.0


def _expand_topics(node: DgNode, names: list[str], param: str) -> set[str]:
    """Fully qualified topic names of a ``topics``/``exclude`` parameter.

    Raises:
        ParameterError: a name is not a valid topic name.

    """
    try:
        return {expand_topic_name(t, node.get_name(), node.get_namespace()) for t in names}
    except ValueError as exc:
        raise ParameterError(f"parameter '{param}': {exc}") from None


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM inside the block (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _message_class(type_name: str) -> Any:
    """The Python class of ``pkg/msg/Type``, or None when it cannot be imported."""
    parts = type_name.split("/")
    if len(parts) != 3:
        return None
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        return None


def _offered(info: TopicEndpointInfo) -> OfferedQos:
    q = info.qos_profile
    return OfferedQos(
        history=q.history.name.lower(), depth=q.depth,
        reliability=q.reliability.name.lower(), durability=q.durability.name.lower(),
        deadline_ns=q.deadline.nanoseconds, lifespan_ns=q.lifespan.nanoseconds,
        liveliness=q.liveliness.name.lower(),
        liveliness_lease_duration_ns=q.liveliness_lease_duration.nanoseconds,
        avoid_ros_namespace_conventions=q.avoid_ros_namespace_conventions)


def subscription_qos(publishers: list[TopicEndpointInfo]) -> tuple[QoSProfile, list[str]]:
    """The QoS that receives from all ``publishers`` (rosbag2's ``adapt_request_to_offers``).

    Returns the profile and warnings for mixed offers (some latched messages or some
    reliability are then given up, as rosbag2 does).
    """
    n = len(publishers)
    reliable = sum(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    latched = sum(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                  for p in publishers)
    warnings = []
    if 0 < reliable < n:
        warnings.append("some publishers are reliable, some best effort: subscribing best "
                        "effort (messages of the reliable ones may be dropped)")
    if 0 < latched < n:
        warnings.append("some publishers are transient-local, some volatile: subscribing "
                        "volatile (messages published before this subscription are missed)")
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable == n else ReliabilityPolicy.BEST_EFFORT,
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if latched == n
                    else DurabilityPolicy.VOLATILE))
    return qos, warnings


class LossCounter:
    """Messages of one topic that its publishers sent but the recorder never received.

    Counted from the gaps in each publisher's publication sequence numbers: a best-effort
    message dropped on the way, or one pushed out of a full subscription queue while the
    recorder was starved of CPU (the middleware reports neither). Messages sent before a
    publisher was first heard from are not counted (the recorder subscribes after discovery).
    """

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}  # publisher gid -> last sequence number
        self.lost = 0

    def seen(self, gid: bytes, seq: int | None) -> None:
        """One message ``seq`` (None when the middleware gives none) from ``gid``."""
        if seq is None:
            return
        last = self._last.get(gid)
        if last is not None and seq > last + 1:
            self.lost += seq - last - 1
        if last is None or seq > last:
            self._last[gid] = seq


class RecorderNode(DgNode):
    """Records the selected topics to ``output_path``; ``recorder`` holds the file."""

    def __init__(self, **kwargs: Any) -> None:
        """Validate parameters, create the file, start discovery."""
        super().__init__("recorder", SCHEMA, **kwargs)
        self._only = _expand_topics(self, self.params.topics, "topics")
        self._exclude = _expand_topics(self, self.params.exclude, "exclude")
        self._recorded: dict[str, Any] = {}  # topic -> subscription
        self._monitors: dict[str, TopicMonitor] = {}
        self._skipped: dict[str, str] = {}  # topic -> reason
        self._lost: dict[str, LossCounter] = {}
        self._received_bytes = 0
        #: The file being written (by its own thread).
        self.recorder = self._open(self.params.output_path)
        try:
            self.diagnostics.set_value("output_path", str(self.recorder.path))
            self._discover()
            self._report()
            steady = Clock(clock_type=ClockType.STEADY_TIME)  # runs before /clock does
            self._discovery_timer = self.create_timer(
                self.params.discovery_period_s, self.guarded(self._discover), clock=steady)
            self._report_timer = self.create_timer(
                REPORT_PERIOD_S, self.guarded(self._report), clock=steady)
        except BaseException:
            self.recorder.close()  # no file left half-written, no writer thread left behind
            raise
        self.get_logger().info(f"recording to {self.recorder.path}")

    def _open(self, output_path: str) -> BackgroundMcapRecorder:
        """Create the output file (and its folders).

        Raises:
            ParameterError: the path is empty, exists or cannot be created.

        """
        if not output_path:
            raise ParameterError("parameter 'output_path' must name the .mcap file to write")
        path = os.path.abspath(os.path.expanduser(output_path))
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ParameterError(
                f"parameter 'output_path': cannot create the folder {folder}: "
                f"{exc.strerror or exc}") from None
        try:
            return BackgroundMcapRecorder(path, on_error=self._on_write_error)
        except FileExistsError:
            raise ParameterError(
                f"parameter 'output_path': {path} already exists; a recording is never "
                "overwritten, choose a new path") from None
        except OSError as exc:
            raise ParameterError(
                f"parameter 'output_path': cannot create {path}: {exc.strerror or exc}") from None

    def _wanted(self, topic: str) -> bool:
        if topic in self._exclude:
            return False
        if self._only:
            return topic in self._only
        return not topic_or_service_is_hidden(topic)

    def _skip(self, topic: str, reason: str) -> None:
        self._skipped[topic] = reason
        self.get_logger().warning(f"not recording {topic}: {reason}")

    def _discover(self) -> None:
        """Subscribe to every wanted topic that has gained a publisher."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._recorded or topic in self._skipped or not self._wanted(topic):
                continue
            if len(types) != 1:
                self._skip(topic, f"it has more than one type: {types}")
                continue
            publishers = self.get_publishers_info_by_topic(topic)
            if publishers:  # without a publisher there is no QoS to match yet
                self._subscribe(topic, types[0], publishers)

    def _subscribe(self, topic: str, type_name: str,
                   publishers: list[TopicEndpointInfo]) -> None:
        msg_class = _message_class(type_name)
        if msg_class is None:
            self._skip(topic, f"type {type_name} cannot be imported")
            return
        try:
            self.recorder.add_topic(
                topic, type_name, offered_qos_yaml([_offered(p) for p in publishers]),
                str(getattr(publishers[0], "topic_type_hash", "")))
        except MessageDefinitionError as exc:
            self._skip(topic, str(exc))
            return
        qos, warnings = subscription_qos(publishers)
        for warning in warnings:
            self.get_logger().warning(f"{topic}: {warning}")
        monitor = self.diagnostics.monitor(topic, float("inf"))  # a quiet topic is no fault

        def on_message(data: bytes, info: dict[str, Any]) -> None:
            self._on_message(topic, monitor, data, info)

        self._monitors[topic] = monitor
        self._lost[topic] = LossCounter()
        self._recorded[topic] = self.create_subscription(
            msg_class, topic, self.guarded(on_message), qos, raw=True)
        self.get_logger().info(
            f"recording {topic} [{type_name}] ({qos.reliability.name.lower()}, "
            f"{qos.durability.name.lower()})")

    def _on_message(self, topic: str, monitor: TopicMonitor, data: bytes,
                    info: dict[str, Any]) -> None:
        """Write one message; ``info`` is rclpy's MessageInfo (middleware timestamps [ns])."""
        clock = self.get_clock()
        now_ns = clock.now().nanoseconds
        if clock.ros_time_is_active:  # use_sim_time: 0 until the first /clock
            log_ns = now_ns
        else:
            log_ns = info["received_timestamp"] or now_ns
        self.recorder.write(topic, data, log_ns, info["source_timestamp"])
        gid = info.get("publisher_gid")
        self._lost[topic].seen(gid["data"] if gid else b"", info.get("publication_sequence_number"))
        monitor.tick(now_ns * 1e-9)
        self._received_bytes += len(data)

    def lost(self) -> dict[str, int]:
        """{topic: messages lost so far} of the topics that lost any."""
        return {t: c.lost for t, c in self._lost.items() if c.lost}

    def _on_write_error(self, exc: Exception) -> None:
        self.get_logger().error(f"writing {self.recorder.path} failed: {exc!r}",
                                throttle_duration_sec=1.0)

    def _report(self) -> None:
        d = self.diagnostics
        for topic, stats in self.recorder.stats().items():
            d.set_value(f"{topic} bytes", stats.bytes)
        d.set_value("topics_recorded", len(self._recorded))
        d.set_value("messages_received", sum(m.received for m in self._monitors.values()))
        d.set_value("bytes_received", self._received_bytes)
        d.set_value("write_queue", self.recorder.queued())
        d.set_value("write_errors", self.recorder.errors)
        lost = self.lost()
        d.set_value("messages_lost", sum(lost.values()))
        if self.recorder.errors:
            d.set_status(WARN, f"{self.recorder.errors} messages could not be written")
        elif lost:
            d.set_status(WARN, "messages lost: " + ", ".join(
                f"{t} {n}" for t, n in sorted(lost.items())))
        elif self._skipped:
            d.set_status(WARN, "not recorded: " + ", ".join(sorted(self._skipped)))
        else:
            d.set_status(OK, f"recording {len(self._recorded)} topics")

    def on_exit(self) -> None:
        """Write what is queued and complete the file (a second call does nothing more).

        A second Ctrl-C (or a SIGTERM) while the file is being completed is ignored.
        """
        with _signals_ignored():
            self.recorder.close()
        total = self.recorder.stats()
        self.get_logger().info(
            f"wrote {sum(s.messages for s in total.values())} messages on {len(total)} "
            f"topics to {self.recorder.path}")
        for topic, n in sorted(self.lost().items()):
            self.get_logger().warning(f"{topic}: {n} messages never reached the recorder "
                                      "(gaps in their publishers' sequence numbers)")


def main(args: list[str] | None = None) -> None:
    """Run the ``recorder`` node (``ros2 run dg_sim recorder``)."""
    raise SystemExit(run_node(RecorderNode, args))
