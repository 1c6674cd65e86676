"""Configuration of the COLREGs avoidance and its input error.

Distances [m], times [s], angles [deg]; :class:`ColregsConfig` validates itself on
construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class ColregsInputError(ValueError):
    """Own ship, plan or configuration is invalid (non-finite, negative speed, ...)."""


@dataclass(frozen=True)
class ColregsConfig:
    """Tuning of :class:`ColregsAvoidance` (distances [m], times [s], angles [deg]).

    Defaults suit a 5 m survey boat at 2-3 m/s on a reservoir. The AvdColregs defaults, for
    2 m/s research kayaks, are smaller: min_util_cpa_dist 10, max_util_cpa_dist 75,
    pwt_outer_dist 100, completed_dist 100.
    """

    #: Hard minimum separation (the "collision" CPA; AvdColregs ``min_util_cpa_dist``).
    safety_radius_m: float = 25.0
    #: Desired CPA, "all clear" (AvdColregs ``max_util_cpa_dist``).
    clear_cpa_m: float = 50.0
    #: Risk window on TCPA, and how far ahead candidate manoeuvres are evaluated.
    horizon_s: float = 90.0
    #: Targets beyond this range are ignored (AvdColregs ``pwt_outer_dist``).
    active_range_m: float = 400.0
    #: An encounter ends when the range exceeds this (AvdColregs ``completed_dist``).
    completed_range_m: float = 450.0
    #: Head-on when both relative bearings are within this of the bow (AvdColregs: 12).
    headon_bearing_deg: float = 12.0
    #: Half-width of the stern sector (Rule 13(b): 22.5 abaft the beam -> 67.5).
    overtaking_sector_deg: float = 67.5
    #: Rule 8(b): smallest course alteration to starboard that is "readily apparent".
    min_alteration_deg: float = 30.0
    #: Rule 8(b): a speed reduction to this fraction of the plan speed is readily apparent.
    min_slowdown_ratio: float = 0.5
    #: Stand-on vessel may act (Rule 17(a)(ii)) once its TCPA is below this.
    standon_act_tcpa_s: float = 25.0
    #: ... or once its best own manoeuvre would pass less than this outside the safety radius.
    standon_escape_margin_m: float = 10.0
    #: Course changes to port up to this are not counted as port turns (noise).
    port_turn_tolerance_deg: float = 5.0
    #: Candidate course spacing.
    course_step_deg: float = 5.0
    #: Candidate speeds as fractions of the plan speed (or of ``min_escape_speed_mps``).
    speed_fractions: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25, 0.0)
    #: Speed scale of the candidates when the plan speed is lower (e.g. holding station).
    min_escape_speed_mps: float = 1.0
    #: Targets slower than this are not making way: obstacles, kept clear either side.
    min_vessel_speed_mps: float = 0.3
    #: Candidate courses stay within this of the plan's course at the encounter's start.
    max_course_offset_deg: float = 120.0
    #: Own ship's turn rate, to predict the turn into each candidate course [deg/s].
    turn_rate_dps: float = 10.0
    #: Static obstacles and geofence are checked this far ahead along each candidate.
    obstacle_lookahead_s: float = 30.0
    #: Clearance kept from static obstacles and inside the geofence.
    obstacle_margin_m: float = 10.0
    #: Targets are extrapolated at most this long past their fix; older ones are dropped.
    max_target_age_s: float = 30.0
    #: Fraction of the target length added to the safety radius and the clear CPA.
    length_margin_factor: float = 0.5
    #: Keep the previous command unless another candidate is cheaper by this much.
    switch_margin: float = 0.05

    def __post_init__(self) -> None:
        """Check ranges and consistency; raise ColregsInputError naming the field."""
        for name in ("safety_radius_m", "clear_cpa_m", "horizon_s", "active_range_m",
                     "completed_range_m", "headon_bearing_deg", "overtaking_sector_deg",
                     "min_alteration_deg", "course_step_deg", "min_escape_speed_mps",
                     "turn_rate_dps", "max_course_offset_deg",
                     "obstacle_lookahead_s", "max_target_age_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ColregsInputError(f"ColregsConfig.{name} must be finite and > 0, got {v!r}")
        for name in ("min_slowdown_ratio", "standon_act_tcpa_s", "port_turn_tolerance_deg",
                     "standon_escape_margin_m",
                     "min_vessel_speed_mps", "obstacle_margin_m", "length_margin_factor",
                     "switch_margin"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ColregsInputError(f"ColregsConfig.{name} must be finite and >= 0, got {v!r}")
        if self.clear_cpa_m <= self.safety_radius_m:
            raise ColregsInputError("ColregsConfig.clear_cpa_m must exceed safety_radius_m")
        if self.completed_range_m < self.active_range_m:
            raise ColregsInputError(
                "ColregsConfig.completed_range_m must be >= active_range_m")
        if not 0 < self.overtaking_sector_deg < 90 or self.headon_bearing_deg >= 90:
            raise ColregsInputError(
                "ColregsConfig: overtaking_sector_deg must be in (0, 90), "
                "headon_bearing_deg below 90")
        if self.min_slowdown_ratio >= 1.0:
            raise ColregsInputError("ColregsConfig.min_slowdown_ratio must be < 1")
        fr = self.speed_fractions
        if not fr or any(not (math.isfinite(f) and 0.0 <= f <= 1.5) for f in fr):
            raise ColregsInputError(
                f"ColregsConfig.speed_fractions must be in [0, 1.5], got {fr!r}")

