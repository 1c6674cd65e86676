"""COLREGs collision avoidance: rules 8 and 13-17 over a course/speed search.

:class:`ColregsAvoidance` is called once per control step by the navigator with the own ship,
the tracked targets, the plan's course and speed and optional static obstacles and geofence.
It returns the course and speed to steer (the plan's when nothing is at risk) and one
:class:`EncounterInfo` per nearby target (published as ``dg_interfaces/Encounter``).

One concept per module:

* :mod:`.rules`: the situations and the rule geometry that classifies an encounter
  (head-on, crossing give-way / stand-on, overtaking, being overtaken, obstacle).
* :mod:`.encounters`: per-target encounter state -- entry on risk of collision (Rule 7),
  the stand-on vessel's authority to act (Rule 17), passing and release.
* :mod:`.manoeuvre`: the cost-ranked search over candidate courses and speeds (collision,
  rule violations, clearance, static obstacles and geofence).
* :mod:`.avoidance`: :class:`ColregsAvoidance`, the step that ties them together.
* :mod:`.config`, :mod:`.interface`: the configuration and the step's inputs and outputs.

Conventions: local ENU frame [m], ENU yaw (0 = east, counter-clockwise) [rad], speeds over
ground [m/s], time [s] on the caller's clock.
"""

from dg_autonomy.collision.colregs.avoidance import ColregsAvoidance
from dg_autonomy.collision.colregs.config import ColregsConfig, ColregsInputError
from dg_autonomy.collision.colregs.interface import (
    AvoidanceResult,
    AvoidanceStatus,
    EncounterInfo,
    OwnShip,
    TrackedVessel,
)
from dg_autonomy.collision.colregs.rules import RULES, Situation, classify, relative_bearing_deg

__all__ = [
    "RULES",
    "AvoidanceResult",
    "AvoidanceStatus",
    "ColregsAvoidance",
    "ColregsConfig",
    "ColregsInputError",
    "EncounterInfo",
    "OwnShip",
    "Situation",
    "TrackedVessel",
    "classify",
    "relative_bearing_deg",
]
