"""Diagnostics: per-topic rate/age/rejections and node status on ``/diagnostics`` at 1 Hz."""

from __future__ import annotations

from collections import Counter, deque

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from dg_common.sim_time import s_to_stamp

#: Levels as ints (the message field is a ``byte``: converted when publishing).
OK, WARN, ERROR = 0, 1, 2


class TopicMonitor:
    """Receive times of one input topic: rate [Hz] over a window, age, rejections."""

    def __init__(self, topic: str, timeout_s: float, window: int = 50) -> None:
        """Monitor ``topic``; it is stale when nothing good came for ``timeout_s``."""
        self.topic = topic
        self.timeout_s = timeout_s
        self._times: deque[float] = deque(maxlen=window)
        self.received = 0
        self.rejected: Counter[str] = Counter()

    def tick(self, t_s: float) -> None:
        """Record a good message at ``t_s``."""
        self._times.append(t_s)
        self.received += 1

    def reject(self, reason: str) -> None:
        """Record a rejected message (``reason`` is a short category)."""
        self.rejected[reason] += 1

    def rate_hz(self) -> float:
        """Mean rate over the window (0 with fewer than two messages)."""
        if len(self._times) < 2 or self._times[-1] <= self._times[0]:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    def age_s(self, t_s: float) -> float:
        """Seconds since the last good message (inf when none)."""
        return t_s - self._times[-1] if self._times else float("inf")

    def stale(self, t_s: float) -> bool:
        """True when the last good message is older than the timeout."""
        return self.age_s(t_s) > self.timeout_s


class Diagnostics:
    """Publishes one ``DiagnosticStatus`` for the node every ``period_s`` of steady time.

    Steady time, so diagnostics keep flowing when the simulated clock stops.
    """

    def __init__(self, node: Node, period_s: float = 1.0) -> None:
        """Create the publisher and timer on ``node`` (a DG node: it has ``guarded``)."""
        self._node = node
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._monitors: list[TopicMonitor] = []
        self._level = OK
        self._message = "starting"
        self._values: dict[str, str] = {}
        self.callback_errors = 0
        self._timer = node.create_timer(
            period_s, node.guarded(self.publish), clock=Clock(clock_type=ClockType.STEADY_TIME))

    def monitor(self, topic: str, timeout_s: float) -> TopicMonitor:
        """Add and return a monitor for an input topic."""
        m = TopicMonitor(topic, timeout_s)
        self._monitors.append(m)
        return m

    def set_status(self, level: int, message: str) -> None:
        """Set the node's own level (OK/WARN/ERROR) and message."""
        self._level, self._message = level, message

    def set_value(self, key: str, value: object) -> None:
        """Report an extra key/value (e.g. cross-track error)."""
        self._values[key] = str(value)

    def status(self) -> DiagnosticStatus:
        """The status that the next publish will send."""
        t = self._node.now_s()  # the node's time: a time-source node overrides it
        level, messages = self._level, [self._message]
        # list() copies in one step: values may be set from a node's simulation thread
        values = [KeyValue(key=k, value=v) for k, v in list(self._values.items())]
        for m in self._monitors:
            age = m.age_s(t)
            values += [
                KeyValue(key=f"{m.topic} rate_hz", value=f"{m.rate_hz():.2f}"),
                KeyValue(key=f"{m.topic} age_s", value=f"{age:.3f}"),
                KeyValue(key=f"{m.topic} received", value=str(m.received)),
                KeyValue(key=f"{m.topic} rejected", value=str(sum(m.rejected.values()))),
            ]
            values += [KeyValue(key=f"{m.topic} rejected {r}", value=str(n))
                       for r, n in m.rejected.items()]
            if m.stale(t):
                level = max(level, WARN)
                messages.append(f"{m.topic} stale")
        values.append(KeyValue(key="callback_errors", value=str(self.callback_errors)))
        if self.callback_errors:
            level = max(level, WARN)
        return DiagnosticStatus(
            level=bytes([level]), name=self._node.get_fully_qualified_name(),
            message="; ".join(messages), hardware_id=self._node.get_name(), values=values)

    def publish(self) -> None:
        """Publish the current status."""
        msg = DiagnosticArray()
        msg.header.stamp = s_to_stamp(self._node.now_s())
        msg.status = [self.status()]
        self._pub.publish(msg)
