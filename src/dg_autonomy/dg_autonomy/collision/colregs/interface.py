"""Inputs and outputs of :meth:`ColregsAvoidance.step`: own ship, targets, result.

Conventions: local ENU frame [m], ENU yaw (0 = east, counter-clockwise) [rad], speeds over
ground [m/s], time [s] on the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

#: Own course over ground is unreliable below this speed [m/s]: the heading is used.
_MIN_COG_SPEED_MPS = 0.2


class AvoidanceStatus(Enum):
    """Outcome of one :meth:`ColregsAvoidance.step`."""

    CLEAR = "clear"          # no encounter: the plan's course and speed
    AVOIDING = "avoiding"    # manoeuvring for at least one target
    STAND_ON = "stand_on"    # holding course and speed for a give-way vessel
    UNSAFE = "unsafe"        # no candidate keeps every clearance: best effort


@dataclass(frozen=True)
class OwnShip:
    """Own ship state: position [m], heading and course over ground [rad], speed [m/s]."""

    x_m: float
    y_m: float
    heading_rad: float
    course_rad: float
    speed_mps: float


@dataclass(frozen=True)
class TrackedVessel:
    """A target at its last fix: position [m], course [rad] and speed [m/s] over ground.

    ``stamp_s`` is the time of the fix; :meth:`ColregsAvoidance.step` extrapolates it to
    ``now_s`` at constant velocity. ``length_m`` 0 when unknown.
    """

    id: str
    x_m: float
    y_m: float
    course_rad: float
    speed_mps: float
    length_m: float = 0.0
    stamp_s: float = 0.0


@dataclass(frozen=True)
class EncounterInfo:
    """One target as classified this step (maps 1:1 to ``dg_interfaces/Encounter``).

    ``situation`` is a :class:`Situation` string, ``rule`` the COLREGs rule number,
    ``action`` one of ``turn_starboard``, ``turn_port``, ``slow_down``, ``stand_on``,
    ``keep_clear`` (manoeuvring, no single dominant change), ``resume`` (encounter just
    ended: back to the plan) or ``none``. ``cpa_m``/``tcpa_s``/``range_m`` are ARPA-style
    values from the present own and target velocities (TCPA < 0: already past).
    """

    target_id: str
    situation: str
    rule: str
    action: str
    cpa_m: float
    tcpa_s: float
    range_m: float


@dataclass(frozen=True)
class AvoidanceResult:
    """Course [rad] and speed [m/s] to steer, and what the avoidance is doing.

    ``active`` is True while any encounter is engaged (the command may then differ from the
    plan). ``rejected_targets`` lists ``(target_id, reason)`` of targets skipped this step.
    """

    course_rad: float
    speed_mps: float
    active: bool
    encounters: list[EncounterInfo]
    status: AvoidanceStatus = AvoidanceStatus.CLEAR
    rejected_targets: list[tuple[str, str]] = field(default_factory=list)

