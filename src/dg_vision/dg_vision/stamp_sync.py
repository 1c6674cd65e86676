"""Pairing of messages from several topics by header stamp (exact or approximate time).

``message_filters`` is not part of the pip-mode ROS 2 install, and what the inspection node
needs is small: every frame of a camera comes as ``image_raw`` + ``camera_info`` with the
same stamp (image_pipeline), a depth sensor's ``points`` with the stamp of its exposure.
:class:`StampSync` keeps a bounded queue per topic and emits a set as soon as every topic
has a message within ``slop_ns`` of the first topic's message (``slop_ns = 0``: exact
stamps). A message that can no longer be matched (every other topic has moved past it by
more than the slop) or that falls out of a full queue is counted as dropped. Pure Python,
no rclpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any


class StampSync:
    """Approximate-time synchroniser over ``topics`` (stamps in integer nanoseconds)."""

    def __init__(self, topics: Sequence[str], slop_ns: int = 0, queue_size: int = 10) -> None:
        """Synchronise ``topics``; the first one is the pivot (e.g. the image)."""
        if not topics or len(set(topics)) != len(topics):
            raise ValueError(f"topics must be distinct and non-empty, got {list(topics)}")
        if slop_ns < 0 or queue_size < 1:
            raise ValueError("slop_ns must be >= 0 and queue_size >= 1")
        self.topics = tuple(topics)
        self.slop_ns = int(slop_ns)
        self.queue_size = int(queue_size)
        self._queues: dict[str, list[tuple[int, Any]]] = {t: [] for t in self.topics}
        self.dropped: Counter[str] = Counter()
        self.matched = 0

    def add(self, topic: str, stamp_ns: int, item: Any) -> list[dict[str, tuple[int, Any]]]:
        """Queue ``item`` of ``topic``; return the sets it completed (oldest first).

        Each set maps topic -> (stamp_ns, item).
        """
        if topic not in self._queues:
            raise KeyError(f"topic {topic!r} is not synchronised here ({list(self.topics)})")
        q = self._queues[topic]
        for i, (s, _) in enumerate(q):
            if s == stamp_ns:          # a repeated stamp replaces the queued message
                q.pop(i)
                self.dropped[topic] += 1
                break
        q.append((int(stamp_ns), item))
        q.sort(key=lambda e: e[0])
        while len(q) > self.queue_size:
            q.pop(0)
            self.dropped[topic] += 1
        out = []
        while (found := self._match()) is not None:
            out.append(found)
        self._prune()
        return out

    def pending(self) -> dict[str, int]:
        """Queued (unmatched) messages per topic."""
        return {t: len(q) for t, q in self._queues.items()}

    @property
    def dropped_total(self) -> int:
        """All dropped messages."""
        return sum(self.dropped.values())

    def _match(self) -> dict[str, tuple[int, Any]] | None:
        pivot_topic = self.topics[0]
        for pi, (ps, pitem) in enumerate(self._queues[pivot_topic]):
            chosen: dict[str, int] = {}
            for t in self.topics[1:]:
                q = self._queues[t]
                if not q:
                    return None
                j = min(range(len(q)), key=lambda k: abs(q[k][0] - ps))
                if abs(q[j][0] - ps) > self.slop_ns:
                    break
                chosen[t] = j
            else:
                result = {pivot_topic: (ps, pitem)}
                self._consume(pivot_topic, pi)
                for t, j in chosen.items():
                    result[t] = self._queues[t][j]
                    self._consume(t, j)
                self.matched += 1
                return result
        return None

    def _consume(self, topic: str, index: int) -> None:
        """Remove the matched entry and everything older (it can no longer match)."""
        q = self._queues[topic]
        self.dropped[topic] += index
        del q[:index + 1]

    def _prune(self) -> None:
        newest = {t: q[-1][0] for t, q in self._queues.items() if q}
        if len(newest) < len(self.topics):
            return
        for t, q in self._queues.items():
            others = [s for u, s in newest.items() if u != t]
            if not others:
                continue
            horizon = min(others) - self.slop_ns
            while q and q[0][0] < horizon:
                q.pop(0)
                self.dropped[t] += 1
