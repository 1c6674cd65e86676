"""COLREGs situations and the rule geometry that classifies an encounter (Rules 13-17).

Relative bearings are clockwise from the bow, degrees [0, 360); beta: target seen from own
ship, alpha: own ship seen from the target:

* overtaking (Rule 13, own ship keeps clear, either side): alpha in the target's stern sector
  [180 - 67.5, 180 + 67.5], i.e. "more than 22.5 degrees abaft her beam" (Rule 13(b));
  67.5 = AvdColregs ``overtaking_bng_range``.
* being overtaken (Rules 13 + 17, stand-on): beta in own ship's stern sector.
* head-on (Rule 14, both turn to starboard, pass port to port): both |beta| and |alpha| within
  ``headon_bearing_deg`` of the bow (AvdColregs ``headon_abs_relbng_thresh`` = 12 degrees).
* crossing give-way (Rules 15 + 16): target on the starboard side (beta in (0, 112.5]);
  early and substantial action, avoid crossing ahead of her.
* crossing stand-on (Rule 17): target on the port side (beta in [247.5, 360)).
* obstacle: a target slower than ``min_vessel_speed_mps`` (not making way); keep clear.

The classification is pure geometry: whether there is risk of collision (Rule 7) is decided
by the encounter tracking (:mod:`.encounters`), which classifies a target once, on entry.
"""

from __future__ import annotations

import math

from dg_autonomy.collision.colregs.config import ColregsConfig
from dg_autonomy.collision.colregs.interface import OwnShip, TrackedVessel


class Situation:
    """Encounter situations (the ``situation`` strings of ``dg_interfaces/Encounter``)."""

    HEAD_ON = "head_on"
    CROSSING_GIVE_WAY = "crossing_give_way"
    CROSSING_STAND_ON = "crossing_stand_on"
    OVERTAKING = "overtaking"
    BEING_OVERTAKEN = "being_overtaken"
    OBSTACLE = "obstacle"
    SAFE = "safe"


#: Rule numbers reported per situation.
RULES = {
    Situation.HEAD_ON: "14",
    Situation.CROSSING_GIVE_WAY: "15",
    Situation.CROSSING_STAND_ON: "17",
    Situation.OVERTAKING: "13",
    Situation.BEING_OVERTAKEN: "17",
    Situation.OBSTACLE: "8",
    Situation.SAFE: "",
}

_GIVE_WAY = (Situation.HEAD_ON, Situation.CROSSING_GIVE_WAY)
_STAND_ON = (Situation.CROSSING_STAND_ON, Situation.BEING_OVERTAKEN)


def relative_bearing_deg(x_m: float, y_m: float, heading_rad: float,
                         to_x_m: float, to_y_m: float) -> float:
    """Relative bearing [deg, 0..360) of a point seen from a vessel, clockwise from its bow.

    Nautical convention: 0 dead ahead, 90 starboard beam, 180 astern, 270 port beam.
    """
    bearing_enu = math.atan2(to_y_m - y_m, to_x_m - x_m)
    return math.degrees(heading_rad - bearing_enu) % 360.0


def classify(own: OwnShip, target: TrackedVessel,
             config: ColregsConfig | None = None) -> str:
    """The COLREGs situation of ``target`` w.r.t. ``own`` (a :class:`Situation` string).

    Pure geometry (see the module docstring); it does not decide whether there is risk of
    collision -- :class:`ColregsAvoidance` only classifies targets at risk.
    """
    cfg = config or ColregsConfig()
    if target.speed_mps < cfg.min_vessel_speed_mps:
        return Situation.OBSTACLE
    beta = relative_bearing_deg(own.x_m, own.y_m, own.heading_rad, target.x_m, target.y_m)
    alpha = relative_bearing_deg(target.x_m, target.y_m, target.course_rad, own.x_m, own.y_m)
    stern_lo, stern_hi = 180.0 - cfg.overtaking_sector_deg, 180.0 + cfg.overtaking_sector_deg
    if stern_lo <= alpha <= stern_hi:
        return Situation.OVERTAKING           # Rule 13: checked first ("notwithstanding")
    if stern_lo <= beta <= stern_hi:
        return Situation.BEING_OVERTAKEN
    h = cfg.headon_bearing_deg
    if (beta <= h or beta >= 360.0 - h) and (alpha <= h or alpha >= 360.0 - h):
        return Situation.HEAD_ON              # Rule 14
    if beta < 180.0:
        return Situation.CROSSING_GIVE_WAY    # Rule 15: target on own starboard side
    return Situation.CROSSING_STAND_ON        # Rule 17: target on own port side
