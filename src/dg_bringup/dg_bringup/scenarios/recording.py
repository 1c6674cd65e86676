"""Read a run's MCAP recording back (with mcap-ros2-support, independent of our writer)."""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory


class Recorded:
    """One recorded message: log and publish times [ns], decoded on first use of ``msg``."""

    __slots__ = ("log_time_ns", "publish_time_ns", "_data", "_decode", "_msg")

    def __init__(self, log_time_ns: int, publish_time_ns: int, data: bytes,
                 decode: Callable[[bytes], Any]) -> None:
        """Keep the serialised message (CDR) and its decoder."""
        self.log_time_ns, self.publish_time_ns = log_time_ns, publish_time_ns
        self._data: bytes | None = data
        self._decode = decode
        self._msg: Any = None

    @property
    def msg(self) -> Any:
        """The decoded message (decoded once; the CDR bytes are then dropped)."""
        if self._data is not None:
            self._msg = self._decode(self._data)
            self._data = None
        return self._msg

    @property
    def stamp_ns(self) -> int:
        """``header.stamp`` [ns] of a message whose first field is a std_msgs/Header.

        Read from the CDR bytes without decoding the rest (4-byte encapsulation header, then
        stamp.sec int32 and stamp.nanosec uint32 in the encapsulation's byte order).
        """
        if self._data is None:
            return int(self._msg.header.stamp.sec) * 1_000_000_000 + int(
                self._msg.header.stamp.nanosec)
        order = "<" if self._data[1] & 1 else ">"
        sec, nsec = struct.unpack_from(order + "iI", self._data, 4)
        return sec * 1_000_000_000 + nsec


def read_recording(mcap_path: Path, topics: Collection[str] | None = None,
                   *, lazy: Collection[str] = ()) -> dict[str, list[Recorded]]:
    """Every message of ``topics`` (all if None) per topic, in log-time order, one pass.

    Messages of the ``lazy`` topics stay serialised until their ``msg`` is used (large
    messages of which only a few are needed, e.g. images); the others are decoded here.
    """
    factory = DecoderFactory()
    decoders: dict[int, Callable[[bytes], Any]] = {}
    out: dict[str, list[Recorded]] = defaultdict(list)
    with open(mcap_path, "rb") as f:
        reader = make_reader(f)
        for schema, channel, message in reader.iter_messages(
                topics=None if topics is None else list(topics)):
            decode = decoders.get(channel.id)
            if decode is None:
                decode = factory.decoder_for(channel.message_encoding, schema)
                if decode is None:
                    raise ValueError(f"{mcap_path}: no ROS 2 decoder for {channel.topic} "
                                     f"({channel.message_encoding})")
                decoders[channel.id] = decode
            rec = Recorded(message.log_time, message.publish_time, message.data, decode)
            if channel.topic not in lazy:
                _ = rec.msg
            out[channel.topic].append(rec)
    return dict(out)


def read_topics(mcap_path: Path, topics: list[str] | None = None
                ) -> dict[str, list[tuple[float, Any]]]:
    """Messages per topic as (log time [s], decoded message), in log-time order."""
    return {t: [(r.log_time_ns * 1e-9, r.msg) for r in recs]
            for t, recs in read_recording(mcap_path, topics).items()}


def topic_counts(mcap_path: Path) -> dict[str, int]:
    """Number of messages per topic, from the MCAP summary (no decoding)."""
    with open(mcap_path, "rb") as f:
        summary = make_reader(f).get_summary()
    if summary is None or summary.statistics is None:
        return {}
    counts = summary.statistics.channel_message_counts
    return {ch.topic: counts.get(cid, 0) for cid, ch in summary.channels.items()}
