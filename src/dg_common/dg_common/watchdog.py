"""Command watchdog (pure): has a fresh input arrived within the timeout?"""

from __future__ import annotations


class Watchdog:
    """Tracks the time of the last good input against a timeout [s] (sim or wall time)."""

    def __init__(self, timeout_s: float) -> None:
        """Start expired: nothing has been received yet."""
        if not timeout_s > 0.0:
            raise ValueError(f"watchdog timeout must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self._last_s: float | None = None

    def feed(self, now_s: float) -> None:
        """Record a good input at ``now_s``."""
        self._last_s = now_s

    def reset(self) -> None:
        """Forget the last input (e.g. on deactivate)."""
        self._last_s = None

    def expired(self, now_s: float) -> bool:
        """True when no input ever came or the last one is older than the timeout."""
        return self._last_s is None or now_s - self._last_s > self.timeout_s

    def age_s(self, now_s: float) -> float:
        """Seconds since the last input (inf when none)."""
        return float("inf") if self._last_s is None else now_s - self._last_s
