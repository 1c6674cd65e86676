"""Input validation helpers (pure): finite values, frames, stamp age, sizes, odometry."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any


class InvalidInput(ValueError):
    """An incoming message must be rejected; the message says why."""


def require_finite(what: str, values: Iterable[float]) -> None:
    """Raise InvalidInput if any value is NaN or infinite."""
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise InvalidInput(f"{what}: non-finite value {v} at index {i}")


def require_frame(what: str, frame_id: str, expected: str | Iterable[str]) -> None:
    """Raise InvalidInput unless ``frame_id`` is the expected frame (or one of them)."""
    allowed = {expected} if isinstance(expected, str) else set(expected)
    if frame_id not in allowed:
        raise InvalidInput(f"{what}: frame '{frame_id}' is not {sorted(allowed)}")


def require_fresh(what: str, stamp_s: float, now_s: float, max_age_s: float,
                  max_future_s: float = 0.5) -> None:
    """Raise InvalidInput if a stamp is older than ``max_age_s`` or too far in the future.

    A zero stamp (never set by the sender) is rejected too.
    """
    if stamp_s <= 0.0:
        raise InvalidInput(f"{what}: stamp not set")
    age = now_s - stamp_s
    if age > max_age_s:
        raise InvalidInput(f"{what}: stale by {age:.3f} s (limit {max_age_s:.3f} s)")
    if -age > max_future_s:
        raise InvalidInput(f"{what}: stamp {-age:.3f} s in the future")


def require_size(what: str, n: int, max_n: int, min_n: int = 1) -> None:
    """Raise InvalidInput if a container size is outside ``[min_n, max_n]``."""
    if n < min_n:
        raise InvalidInput(f"{what}: {n} elements, need at least {min_n}")
    if n > max_n:
        raise InvalidInput(f"{what}: {n} elements, more than the limit {max_n}")


def require_unit_quaternion(what: str, x: float, y: float, z: float, w: float,
                            tolerance: float = 1e-2) -> None:
    """Raise InvalidInput unless the quaternion (x, y, z, w) has (nearly) unit norm."""
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if abs(norm - 1.0) > tolerance:
        raise InvalidInput(f"{what}: orientation quaternion norm {norm:.3f} is not 1")


def odometry_rejection(msg: Any, frame_id: str, now_s: float, max_age_s: float
                       ) -> tuple[str, str] | None:
    """Why a ``nav_msgs/Odometry`` must be rejected, as (reason, detail), or None if valid.

    Checks, in order: frame, finite pose and twist, unit quaternion, stamp age. ``reason``
    is the diagnostic category: ``frame``, ``non_finite``, ``quaternion`` or ``stale``.
    """
    pos, q, tw = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist
    stamp_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    checks: tuple[tuple[str, Callable[[], None]], ...] = (
        ("frame", lambda: require_frame("odometry", msg.header.frame_id, frame_id)),
        ("non_finite", lambda: require_finite("odometry", (
            pos.x, pos.y, pos.z, q.x, q.y, q.z, q.w, tw.linear.x, tw.linear.y, tw.linear.z,
            tw.angular.x, tw.angular.y, tw.angular.z))),
        ("quaternion", lambda: require_unit_quaternion("odometry", q.x, q.y, q.z, q.w)),
        ("stale", lambda: require_fresh("odometry", stamp_s, now_s, max_age_s)),
    )
    for reason, check in checks:
        try:
            check()
        except InvalidInput as exc:
            return reason, str(exc)
    return None
