"""Simulation clock (pure): sim time in fixed steps, paced against wall time.

Step ``k`` carries sim time ``start_s + k * step_s`` and is due at wall time
``anchor_wall_s + (k - anchor_step) * step_s / rtf``. Deadlines are computed from an anchor,
never by adding up sleeps, so oversleeping one step does not delay the next ones (no drift).
The anchor moves only when the real-time factor changes or when the clock has fallen more
than ``max_lag_s`` behind (an overloaded machine): then it resumes from "now" instead of
publishing a burst of late steps.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable

#: Highest real-time factor accepted (simulated seconds per wall second).
MAX_RTF = 100.0


class ClockStatus(enum.Enum):
    """Why :func:`run_clock` returned."""

    FINISHED = "finished"  #: the end time was published
    STOPPED = "stopped"    #: the wait function reported a stop request


def _check_rtf(rtf: float) -> float:
    if not (math.isfinite(rtf) and 0.0 < rtf <= MAX_RTF):
        raise ValueError(
            f"real-time factor must be in (0, {MAX_RTF}] (as fast as possible is not "
            f"supported), got {rtf}")
    return float(rtf)


class ClockSchedule:
    """Sim time of the current step and the wall time [s] at which it is due."""

    def __init__(self, step_s: float, rtf: float, wall_start_s: float, start_s: float = 0.0,
                 max_lag_s: float = 0.5) -> None:
        """Step 0 (sim time ``start_s``) is due at ``wall_start_s`` [s, any monotonic clock].

        Raises:
            ValueError: for a non-positive step or lag, a negative start or an rtf outside
                (0, MAX_RTF].

        """
        if not (math.isfinite(step_s) and step_s > 0.0):
            raise ValueError(f"step_s must be a positive number of seconds, got {step_s}")
        if not (math.isfinite(start_s) and start_s >= 0.0):
            raise ValueError(f"start_s must be >= 0 s, got {start_s}")
        if not (math.isfinite(max_lag_s) and max_lag_s > 0.0):
            raise ValueError(f"max_lag_s must be > 0 s, got {max_lag_s}")
        self.step_s = float(step_s)
        self.start_s = float(start_s)
        self.max_lag_s = float(max_lag_s)
        self._rtf = _check_rtf(rtf)
        self._step = 0
        self._anchor_step = 0
        self._anchor_wall_s = float(wall_start_s)
        #: Times the clock fell more than ``max_lag_s`` behind and was re-anchored.
        self.overruns = 0

    @property
    def rtf(self) -> float:
        """Target real-time factor."""
        return self._rtf

    @property
    def step_index(self) -> int:
        """Index of the current step (0 for the first)."""
        return self._step

    @property
    def sim_time_s(self) -> float:
        """Sim time [s] of the current step (computed from the index: no accumulated error)."""
        return self.start_s + self._step * self.step_s

    def due_wall_s(self) -> float:
        """Wall time [s] at which the current step is due."""
        return self._anchor_wall_s + (self._step - self._anchor_step) * self.step_s / self._rtf

    def wait_s(self, wall_now_s: float) -> float:
        """Wall seconds to wait from ``wall_now_s`` until the current step is due (>= 0)."""
        return max(0.0, self.due_wall_s() - wall_now_s)

    def advance(self, wall_now_s: float) -> float:
        """Move to the next step and return its sim time [s].

        If that step is already overdue by more than ``max_lag_s``, it becomes due now and
        the schedule continues from there (counted in :attr:`overruns`).
        """
        self._step += 1
        if wall_now_s - self.due_wall_s() > self.max_lag_s:
            self._anchor_step, self._anchor_wall_s = self._step, wall_now_s
            self.overruns += 1
        return self.sim_time_s

    def set_rtf(self, rtf: float) -> None:
        """Change the real-time factor from the current step on (its due time is kept).

        Raises:
            ValueError: for an rtf outside (0, MAX_RTF].

        """
        rtf = _check_rtf(rtf)
        self._anchor_wall_s, self._anchor_step = self.due_wall_s(), self._step
        self._rtf = rtf

    def reached(self, end_s: float) -> bool:
        """True once the current step's sim time is at or past ``end_s`` [s]."""
        return self.sim_time_s >= end_s - 1e-9 * self.step_s


def run_clock(schedule: ClockSchedule, on_step: Callable[[float], None],
              wall_now_s: Callable[[], float], wait: Callable[[float], bool],
              end_s: float | None = None) -> ClockStatus:
    """Publish every step of ``schedule`` on time until ``end_s`` [s] or a stop request.

    ``on_step(sim_time_s)`` is called once per step, when the step is due; ``wall_now_s()``
    reads a monotonic wall clock [s]; ``wait(seconds)`` blocks for up to that long and
    returns True when asked to stop (``threading.Event.wait`` has this contract). With
    ``end_s=None`` it runs until stopped.
    """
    while True:
        if wait(schedule.wait_s(wall_now_s())):
            return ClockStatus.STOPPED
        on_step(schedule.sim_time_s)
        if end_s is not None and schedule.reached(end_s):
            return ClockStatus.FINISHED
        schedule.advance(wall_now_s())


class RtfMeter:
    """Achieved real-time factor, measured over windows of ``window_s`` wall seconds."""

    def __init__(self, window_s: float = 1.0) -> None:
        """Start with no measurement (:attr:`value` is None until a window completes)."""
        if not window_s > 0.0:
            raise ValueError(f"window_s must be > 0 s, got {window_s}")
        self.window_s = window_s
        self.value: float | None = None
        self._start: tuple[float, float] | None = None

    def update(self, wall_s: float, sim_s: float) -> float | None:
        """Record a (wall [s], sim [s]) sample; return the rtf of the window it completes."""
        if self._start is None:
            self._start = (wall_s, sim_s)
            return None
        wall0, sim0 = self._start
        if wall_s - wall0 < self.window_s:
            return None
        self.value = (sim_s - sim0) / (wall_s - wall0)
        self._start = (wall_s, sim_s)
        return self.value
