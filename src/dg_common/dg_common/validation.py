"""Input validation helpers (pure): finite values, frames, stamp age, sizes."""

from __future__ import annotations

import math
from collections.abc import Iterable


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
