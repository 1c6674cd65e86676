"""Read a run's MCAP recording back (with mcap-ros2-support, independent of our writer)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from mcap_ros2.reader import read_ros2_messages


def read_topics(mcap_path: Path, topics: list[str] | None = None
                ) -> dict[str, list[tuple[float, Any]]]:
    """Messages per topic as (log time [s], decoded message), in log-time order."""
    out: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    for m in read_ros2_messages(str(mcap_path), topics=topics):
        out[m.channel.topic].append((m.log_time_ns * 1e-9, m.ros_msg))
    return dict(out)


def topic_counts(mcap_path: Path) -> dict[str, int]:
    """Number of messages per topic, from the MCAP summary (no decoding)."""
    from mcap.reader import make_reader

    with open(mcap_path, "rb") as f:
        summary = make_reader(f).get_summary()
    if summary is None or summary.statistics is None:
        return {}
    counts = summary.statistics.channel_message_counts
    return {ch.topic: counts.get(cid, 0) for cid, ch in summary.channels.items()}
