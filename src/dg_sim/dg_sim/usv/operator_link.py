"""The operator (ground station) radio link of the boat (pure, seeded).

The ground station sends a heartbeat every ``period_s`` (2 Hz by default, like a MAVLink
GCS's ``HEARTBEAT`` at 1 Hz or faster, which ArduPilot's ``FS_GCS_TIMEOUT`` watches).
Heartbeats are lost during scripted outage windows and, independently, each with
``loss_probability`` (random packet loss), so fail-safes can be tested both ways.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from dg_sim.usv.sensors import OutageWindows, SensorConfigError, make_rng


class OperatorLink:
    """Decides when a heartbeat from the operator reaches the boat."""

    def __init__(self, period_s: float = 0.5,
                 outages: OutageWindows | Iterable[Sequence[float]] = (),
                 loss_probability: float = 0.0, rng: int | np.random.Generator = 0) -> None:
        """Create the link.

        Raises:
            SensorConfigError: on a non-positive period, malformed window or a probability
                outside [0, 1].

        """
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise SensorConfigError(f"operator link: period_s must be > 0, got {period_s!r}")
        if not (math.isfinite(loss_probability) and 0.0 <= loss_probability <= 1.0):
            raise SensorConfigError(
                f"operator link: loss_probability must be in [0, 1], got {loss_probability!r}")
        self.period_s = float(period_s)
        self.outages = outages if isinstance(outages, OutageWindows) else OutageWindows(outages)
        self.loss_probability = float(loss_probability)
        self.rng = make_rng(rng)
        self._next_s: float | None = None
        self.sent = 0
        self.lost = 0

    def up(self, t_s: float) -> bool:
        """True when ``t_s`` is outside every outage window."""
        return not self.outages.active(t_s)

    def poll(self, t_s: float) -> bool:
        """True when a heartbeat arrives at ``t_s`` (call at least every ``period_s``).

        A heartbeat is due every ``period_s``; it arrives unless the link is in an outage or
        the packet is randomly lost.
        """
        if self._next_s is None or t_s < self._next_s - self.period_s:
            self._next_s = t_s      # first call, or the clock went back
        if t_s < self._next_s:
            return False
        self._next_s = max(self._next_s + self.period_s, t_s + 0.5 * self.period_s)
        self.sent += 1
        lost = self.rng.uniform() < self.loss_probability
        if not self.up(t_s) or lost:
            self.lost += 1
            return False
        return True
