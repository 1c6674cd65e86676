"""COLREGs collision avoidance: rules 8 and 13-17 over a course/speed search.

:class:`ColregsAvoidance` is called once per control step by the navigator with the own ship,
the tracked targets, the plan's course and speed and optional static obstacles and geofence.
It returns the course and speed to steer (the plan's when nothing is at risk) and one
:class:`EncounterInfo` per nearby target (published as ``dg_interfaces/Encounter``).

Per target it keeps an encounter state, in the style of MOOS-IvP's ``BHV_AvdColregsV22``
(M. Benjamin, MIT; facts re-used, no code), with different entry and release conditions
against mode thrashing:

* entry: risk of collision (Rule 7) -- CPA under ``clear_cpa_m`` (+ half the target length)
  within ``horizon_s``, inside ``active_range_m`` -- with the present velocity, or with the
  plan's while no other encounter is engaged (a turn of the plan toward a target counts). The
  target is classified once, on entry (Rule 13(d): an overtaking vessel stays one "until
  finally past and clear").
* passed: past CPA and opening with the present velocity (by a 3 s margin for AIS noise) and
  the target abaft the beam of the course held when the encounter began, or resuming the plan
  opens the range too or passes wide (1.5 clear CPAs). From then on the rules no longer apply;
  the target is only kept clear of.
* released: passed and the plan clear of the target (resuming it opens the range or passes at
  least the clear CPA), or beyond ``completed_range_m``. The boat then returns to its plan. For
  one horizon a released target re-enters only on a safety-radius risk along the plan.

Classification (relative bearings clockwise from the bow, degrees [0, 360); beta: target seen
from own ship, alpha: own ship seen from the target):

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

Manoeuvre selection: candidate (course, speed) pairs -- courses every ``course_step_deg``
within ``max_course_offset_deg`` of the plan's course at the start of the encounter, speeds as
fractions of the plan speed -- are scored, each predicted as a turn at ``turn_rate_dps`` into
the course and then a straight run, against every target extrapolated at constant velocity;
the cheapest wins, with a switching margin so that noisy target data does not make the
command dither. Costs, from strongest to weakest:

1. static obstacle or geofence margin violated within ``obstacle_lookahead_s``;
2. predicted range under the safety radius (+ half the target length) within the horizon;
3. rule violations: a port turn in head-on / give-way, or as an acting stand-on vessel with the
   target on the port side (Rule 17(c)); crossing ahead of a crossing target (Rule 15);
   passing starboard to starboard head-on (Rule 14); an alteration that is not "readily
   apparent" (Rule 8(b): < ``min_alteration_deg`` to starboard and, except head-on, speed kept
   above ``min_slowdown_ratio``); any deviation of a stand-on vessel before it may act;
4. predicted range under ``clear_cpa_m``; exposure (time an acting stand-on or passed target
   stays within two clear CPAs: running alongside a target never ends an encounter);
   deviation from the plan; change from the last command.

A rule violation is cheaper than a predicted collision: when no compliant manoeuvre is safe the
boat departs from the rules to avoid immediate danger (Rule 2(b)).

Static obstacles and the geofence are only checked while an encounter is engaged (the plan is
responsible for them otherwise) and right after one: while the plan's look-ahead line back to
the path still crosses an obstacle (or leaves the fence) the search keeps steering around it.

Stand-on (Rule 17): the boat keeps the course and speed it had when the encounter began while
the give-way vessel has time to act; once the TCPA (with that course and speed) drops under
``standon_act_tcpa_s`` and the CPA is still under ``clear_cpa_m``, the give-way vessel is
deemed not to be taking appropriate action and the boat manoeuvres (Rule 17(a)(ii)); it also
acts earlier when waiting longer would leave no manoeuvre of its own that passes at least
``standon_escape_margin_m`` outside the safety radius (Rule 17(b): e.g. a fast vessel
overtaking from astern). It keeps that authority until the encounter ends. A boat that must
manoeuvre for one target cannot hold course for another (Rule 2(b)): its stand-on encounters
then act as well.

Conventions: local ENU frame [m], ENU yaw (0 = east, counter-clockwise) [rad], speeds over
ground [m/s], time [s] on the caller's clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import shapely

from dg_autonomy.collision.cpa import cpa_tcpa, cpa_tcpa_array
from dg_common.geometry import wrap_angle

# --- public data types --------------------------------------------------------------


class ColregsInputError(ValueError):
    """Own ship, plan or configuration is invalid (non-finite, negative speed, ...)."""


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
#: Own course this far [rad] from the plan's = turning onto the plan (classify on the plan).
_TURNING_RAD = math.radians(45.0)
#: A plan course change [rad] beyond which a stand-on encounter is classified again.
_REPLAN_REOPEN_RAD = math.radians(60.0)


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


# --- geometry helpers ---------------------------------------------------------------------

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


# --- the avoidance ----------------------------------------------------------------------

#: Cost weights (dimensionless; see the module docstring for the order).
_W_STATIC = 5000.0
_W_COLLISION = 1000.0
_W_HOLD = 300.0
_W_RULE = 50.0
_W_APPARENT = 20.0
_W_SIDE = 5.0
_W_CLEAR = 3.0
_W_COURSE = 1.0
_W_SPEED = 1.0
_W_CHANGE = 0.5
_W_EXPOSURE = 1.0
#: "Passed" once resuming the plan would pass at least this many clear CPAs off.
_PASSED_CPA_FACTOR = 1.5
#: ... and the CPA of the present motion at least this long ago [s] (AIS noise margin).
_PASSED_MARGIN_S = 3.0
#: Stand-on vessels hold course within this [rad] and speed within this fraction.
_HOLD_COURSE_TOL_RAD = math.radians(2.0)
_HOLD_SPEED_TOL = 0.05
#: Own course over ground is unreliable below this speed [m/s]: the heading is used.
_MIN_COG_SPEED_MPS = 0.2
#: Samples of each predicted turn (start and end included).
_ARC_SAMPLES = 5
#: Distance tolerance [m] of "moving away" from a violated obstacle or fence margin.
_MOVE_TOL_M = 0.01


@dataclass
class _Encounter:
    """Per-target state kept between steps."""

    situation: str
    ref_course_rad: float     # own course when the encounter began
    ref_speed_mps: float      # plan speed when the encounter began
    plan_course_rad: float    # plan course when the encounter began
    started_s: float
    acting: bool = False      # stand-on: Rule 17(a)(ii) action authorised
    passed: bool = False      # past and clear: the rules no longer apply, only clearance
    keep_port: bool = True    # overtaking/obstacle: pass with the target on own port side


@dataclass
class _Target:
    """A validated target extrapolated to now."""

    id: str
    p: np.ndarray             # (2,) position [m]
    v: np.ndarray             # (2,) velocity [m/s]
    course_rad: float
    speed_mps: float
    length_m: float


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


class ColregsAvoidance:
    """COLREGs-compliant collision avoidance over tracked targets (see module docstring).

    Stateful: keeps one encounter per target id between calls; call :meth:`step` at the
    navigator rate (1-10 Hz) with a monotonic ``now_s``. Not thread-safe.
    """

    def __init__(self, config: ColregsConfig | None = None) -> None:
        """Create the avoidance with ``config`` (defaults: :class:`ColregsConfig`)."""
        self.config = config or ColregsConfig()
        self._encounters: dict[str, _Encounter] = {}
        self._last_cmd: tuple[float, float] | None = None
        self._rejoining = False
        #: Release time per target id: a target just released re-enters only on a clear risk.
        self._released: dict[str, float] = {}
        self._geom_src: tuple[Any, Any] | None = None
        self._obstacles: Any = None
        self._obstacles_raw: Any = None
        self._fence_inner: Any = None
        self._fence: Any = None

    # --- public API -----------------------------------------------------------------
    def reset(self) -> None:
        """Forget all encounters and the last command (e.g. on a new mission)."""
        self._encounters.clear()
        self._released.clear()
        self._last_cmd = None
        self._rejoining = False

    def encounter_situation(self, target_id: str) -> str | None:
        """Situation of the engaged encounter with ``target_id`` (None when none)."""
        enc = self._encounters.get(target_id)
        return enc.situation if enc else None

    def step(self, own: OwnShip, targets: Sequence[TrackedVessel], desired_course_rad: float,
             desired_speed_mps: float, now_s: float, static_obstacles: Any = None,
             geofence: Any = None) -> AvoidanceResult:
        """One decision: the course and speed to steer now.

        Args:
            own: own ship state.
            targets: tracked vessels (AIS, radar, fused); invalid or stale ones are skipped
                and listed in ``rejected_targets``.
            desired_course_rad: the plan's course (e.g. from line-of-sight guidance).
            desired_speed_mps: the plan's speed (>= 0).
            now_s: present time on the clock of the target stamps.
            static_obstacles: optional shapely geometry (islands, no-go zones).
            geofence: optional shapely Polygon the boat must stay inside.

        Returns:
            The command (finite always) and one :class:`EncounterInfo` per target in range.

        Raises:
            ColregsInputError: on a non-finite own state, plan or time, or a negative speed.

        """
        cfg = self.config
        if not _finite(own.x_m, own.y_m, own.heading_rad, own.course_rad, own.speed_mps,
                       desired_course_rad, desired_speed_mps, now_s):
            raise ColregsInputError(
                f"non-finite own ship, plan or time: {own}, course {desired_course_rad}, "
                f"speed {desired_speed_mps}, now {now_s}")
        if desired_speed_mps < 0 or own.speed_mps < 0:
            raise ColregsInputError("speeds must be >= 0")
        desired_course = float(wrap_angle(desired_course_rad))
        own_course = own.course_rad if own.speed_mps >= _MIN_COG_SPEED_MPS else own.heading_rad
        p_own = np.array([own.x_m, own.y_m])
        v_own = own.speed_mps * np.array([math.cos(own_course), math.sin(own_course)])
        v_plan = desired_speed_mps * np.array([math.cos(desired_course),
                                               math.sin(desired_course)])
        tracked, rejected = self._validate_targets(targets, now_s, p_own)

        # Update encounters: release the finished ones, engage new risks.
        released: set[str] = set()
        for tid in list(self._encounters):
            if tid not in tracked:
                del self._encounters[tid]
        for tid, t_rel in list(self._released.items()):
            if tid not in tracked or now_s - t_rel > cfg.horizon_s:
                del self._released[tid]
        for tid, tgt in tracked.items():
            rng = float(np.hypot(*(tgt.p - p_own)))
            enc = self._encounters.get(tid)
            if enc is not None and enc.situation in _STAND_ON and not enc.acting \
                    and not enc.passed and abs(wrap_angle(
                        desired_course - enc.plan_course_rad)) > _REPLAN_REOPEN_RAD:
                # The plan turned (a new survey lane, a transit) while we stood on: the
                # geometry that made us the stand-on vessel is gone; judge the encounter
                # afresh (e.g. a vessel astern becomes one met head-on).
                del self._encounters[tid]
                enc = None
            if enc is not None:
                if self._finished(enc, tgt, p_own, v_own, v_plan, rng):
                    del self._encounters[tid]
                    released.add(tid)
                    self._released[tid] = now_s
                continue
            if rng <= cfg.active_range_m and self._at_risk(
                    tgt, p_own, v_own, v_plan, strict=tid in self._released,
                    on_plan=not self._encounters):
                self._engage(tid, tgt, own, own_course, desired_course, desired_speed_mps, now_s)

        # Stand-on vessels: authorise action once the give-way vessel is not acting.
        waiting: list[str] = []
        for tid, enc in self._encounters.items():
            if enc.situation in _STAND_ON and not enc.acting and not enc.passed:
                tgt = tracked[tid]
                v_hold = enc.ref_speed_mps * np.array(
                    [math.cos(enc.ref_course_rad), math.sin(enc.ref_course_rad)])
                cpa, tcpa = cpa_tcpa(p_own, v_hold, tgt.p, tgt.v)
                if not (0.0 <= tcpa <= cfg.horizon_s and cpa < self._clear(tgt)):
                    continue
                if tcpa <= cfg.standon_act_tcpa_s:   # Rule 17(a)(ii)
                    enc.acting = True
                else:
                    waiting.append(tid)
        # Rule 17(b): act as soon as waiting longer would leave no manoeuvre of our own that
        # keeps every such vessel at least standon_escape_margin_m outside its safety radius.
        if waiting and self._best_escape_margin_m(
                own, p_own, own_course, [tracked[t] for t in waiting],
                max(self._encounters[t].ref_speed_mps for t in waiting)
        ) < cfg.standon_escape_margin_m:
            for tid in waiting:
                self._encounters[tid].acting = True
        # A boat that must manoeuvre for one target cannot hold course and speed for another
        # (Rule 2(b)): its stand-on encounters then act too, keeping clear under Rule 17(c).
        if any(not e.passed and (e.situation not in _STAND_ON or e.acting)
               for e in self._encounters.values()):
            for enc in self._encounters.values():
                if enc.situation in _STAND_ON:
                    enc.acting = True

        if released and not self._encounters:
            self._rejoining = True
        if self._encounters or self._rejoining:
            self._set_geometry(static_obstacles, geofence)
        if self._rejoining and not self._encounters and not self._plan_blocked(
                p_own, desired_course, desired_speed_mps):
            self._rejoining = False
        if not self._encounters and not self._rejoining:
            self._last_cmd = None
            course, speed, status = desired_course, desired_speed_mps, AvoidanceStatus.CLEAR
        else:
            course, speed, unsafe = self._search(own, p_own, own_course, tracked,
                                                 desired_course, desired_speed_mps)
            self._last_cmd = (course, speed)
            holding = bool(self._encounters) and all(
                e.situation in _STAND_ON and not e.acting and not e.passed
                for e in self._encounters.values())
            status = (AvoidanceStatus.UNSAFE if unsafe else
                      AvoidanceStatus.STAND_ON if holding else AvoidanceStatus.AVOIDING)
        infos = self._report(tracked, p_own, v_own, course, speed, released)
        return AvoidanceResult(course_rad=float(wrap_angle(course)), speed_mps=float(speed),
                               active=bool(self._encounters) or self._rejoining,
                               encounters=infos,
                               status=status, rejected_targets=rejected)

    # --- targets and encounters ---------------------------------------------------------
    def _validate_targets(self, targets: Sequence[TrackedVessel], now_s: float,
                          p_own: np.ndarray) -> tuple[dict[str, _Target], list[tuple[str, str]]]:
        cfg = self.config
        tracked: dict[str, _Target] = {}
        rejected: list[tuple[str, str]] = []
        for t in targets:
            tid = str(t.id)
            if not _finite(t.x_m, t.y_m, t.course_rad, t.speed_mps, t.length_m, t.stamp_s):
                rejected.append((tid, "non_finite"))
                continue
            if t.speed_mps < 0 or t.length_m < 0:
                rejected.append((tid, "negative speed or length"))
                continue
            age = now_s - t.stamp_s
            if age > cfg.max_target_age_s:
                rejected.append((tid, f"stale by {age:.1f} s"))
                continue
            if tid in tracked:
                rejected.append((tid, "duplicate id"))
                continue
            v = t.speed_mps * np.array([math.cos(t.course_rad), math.sin(t.course_rad)])
            p = np.array([t.x_m, t.y_m]) + v * max(0.0, age)
            if float(np.hypot(*(p - p_own))) > cfg.completed_range_m * 1.5:
                continue   # far away: neither an encounter nor worth reporting
            tracked[tid] = _Target(tid, p, v, float(t.course_rad), float(t.speed_mps),
                                   float(t.length_m))
        return tracked, rejected

    def _safety(self, tgt: _Target) -> float:
        return self.config.safety_radius_m + self.config.length_margin_factor * tgt.length_m

    def _clear(self, tgt: _Target) -> float:
        return self.config.clear_cpa_m + self.config.length_margin_factor * tgt.length_m

    def _at_risk(self, tgt: _Target, p_own: np.ndarray, v_own: np.ndarray,
                 v_plan: np.ndarray, strict: bool = False, on_plan: bool = True) -> bool:
        """Rule 7 risk of collision: CPA under the clear distance within the horizon.

        Judged on the present velocity and, while the boat follows its plan (``on_plan``: no
        other encounter), on the plan's velocity too, so that a turn of the plan toward a
        target counts. ``strict`` (a target released less than a horizon ago): only the
        plan's CPA under the safety radius counts -- the present velocity is that of a boat
        turning back to its plan -- so that the return does not re-open the encounter
        (hysteresis between entry and release).
        """
        cfg = self.config
        if strict:
            checks = [(v_plan, self._safety(tgt))]
        else:
            checks = [(v_own, self._clear(tgt))]
            if on_plan:
                checks.append((v_plan, self._clear(tgt)))
        for v, limit in checks:
            cpa, tcpa = cpa_tcpa(p_own, v, tgt.p, tgt.v)
            if 0.0 <= tcpa <= cfg.horizon_s and cpa < limit:
                return True
        return False

    def _engage(self, tid: str, tgt: _Target, own: OwnShip, own_course: float,
                desired_course: float, desired_speed_mps: float, now_s: float) -> None:
        tv = TrackedVessel(tid, float(tgt.p[0]), float(tgt.p[1]), tgt.course_rad,
                           tgt.speed_mps, tgt.length_m, now_s)
        # Judge the situation on the course the boat is settling on: while it turns onto
        # its plan (a new lane, a transit) the instantaneous course is a passing value --
        # unless it is off its plan because it is avoiding (or just avoided) other vessels:
        # then the plan's course is only the line-of-sight way back, and the other vessel
        # sees the boat's present course.
        if not self._encounters and not self._released \
                and abs(wrap_angle(desired_course - own_course)) > _TURNING_RAD:
            own_course = desired_course
        own_now = OwnShip(own.x_m, own.y_m, own_course, own_course, own.speed_mps)
        situation = classify(own_now, tv, self.config)
        # Overtaking / obstacle: pass on the side the target already is (AvdColregs: if the
        # contact is port of ownship, pass it on ownship's starboard side ... and vice versa).
        d = tgt.p - np.array([own.x_m, own.y_m])
        keep_port = (math.cos(own_course) * d[1] - math.sin(own_course) * d[0]) >= 0.0
        self._encounters[tid] = _Encounter(
            situation=situation, ref_course_rad=own_course, plan_course_rad=desired_course,
            ref_speed_mps=max(desired_speed_mps, own.speed_mps) if situation in _STAND_ON
            else desired_speed_mps, started_s=now_s, keep_port=keep_port)

    def _finished(self, enc: _Encounter, tgt: _Target, p_own: np.ndarray, v_own: np.ndarray,
                  v_plan: np.ndarray, rng: float) -> bool:
        """Advance an encounter to "passed" and tell whether it is over.

        Passed (the rules of the encounter no longer apply, the target is only kept clear
        of): past CPA and opening with the present velocity, and the target abaft the beam
        of the course held when the encounter began -- or resuming the plan opens the range
        as well, or passes the target wide (1.5 times the clear CPA). Over: passed and the
        plan clear of the target (resuming it opens the range or passes at least the clear
        CPA), or out of range.
        """
        if rng >= self.config.completed_range_m:
            return True
        if rng <= self._safety(tgt):
            return False
        cpa_p, tcpa_p = cpa_tcpa(p_own, v_plan, tgt.p, tgt.v)
        if not enc.passed:
            _, tcpa = cpa_tcpa(p_own, v_own, tgt.p, tgt.v)
            if tcpa > -_PASSED_MARGIN_S:
                return False
            beta = relative_bearing_deg(float(p_own[0]), float(p_own[1]),
                                        enc.ref_course_rad, float(tgt.p[0]), float(tgt.p[1]))
            enc.passed = (tcpa_p <= 0.0 or 90.0 <= beta <= 270.0
                          or cpa_p >= _PASSED_CPA_FACTOR * self._clear(tgt))
        return enc.passed and (tcpa_p <= 0.0 or cpa_p >= self._clear(tgt))

    # --- static geometry ----------------------------------------------------------------
    def _set_geometry(self, obstacles: Any, fence: Any) -> None:
        if self._geom_src is not None and self._geom_src[0] is obstacles \
                and self._geom_src[1] is fence:
            return
        self._geom_src = (obstacles, fence)
        m = self.config.obstacle_margin_m
        self._obstacles = self._obstacles_raw = None
        self._fence = self._fence_inner = None
        if obstacles is not None and not obstacles.is_empty:
            self._obstacles_raw = obstacles
            self._obstacles = obstacles.buffer(m) if m > 0 else obstacles
            shapely.prepare(self._obstacles)
        if fence is not None and not fence.is_empty:
            self._fence = fence
            inner = fence.buffer(-m) if m > 0 else fence
            self._fence_inner = inner if not inner.is_empty else fence
            shapely.prepare(self._fence)
            shapely.prepare(self._fence_inner)

    def _best_escape_margin_m(self, own: OwnShip, p_own: np.ndarray, own_course: float,
                              targets: list[_Target], speed: float) -> float:
        """Best margin [m] over the safety radii that a manoeuvre started now achieves.

        Manoeuvres: courses all round (every 10 deg) at ``speed``, and stopping, each with its
        turn at the configured turn rate; per manoeuvre the worst target counts (closest
        range over the horizon minus its safety radius).
        """
        courses = np.tile(own_course + np.radians(np.arange(-180.0, 180.0, 10.0)), 2)
        speeds = np.repeat([speed, 0.0], len(courses) // 2)
        heading = own.heading_rad if own.speed_mps < _MIN_COG_SPEED_MPS else own_course
        t_turn, arc_t, arc_p = self._turn_paths(p_own, heading, own.speed_mps, courses)
        p1 = arc_p[:, -1, :]
        vel = np.stack([np.cos(courses), np.sin(courses)], axis=1) * speeds[:, None]
        t_rest = np.clip(self.config.horizon_s - t_turn, 0.0, None)
        worst = np.full(len(courses), np.inf)
        for tgt in targets:
            dp1 = tgt.p + tgt.v * t_turn[:, None] - p1
            dv = tgt.v - vel
            _, tc = cpa_tcpa_array(dp1, dv)
            rel = dp1 + dv * np.clip(tc, 0.0, t_rest)[:, None]
            d = np.hypot(rel[:, 0], rel[:, 1])
            d_arc = np.linalg.norm(tgt.p + tgt.v * arc_t[:, :, None] - arc_p,
                                   axis=-1).min(axis=1)
            worst = np.minimum(worst, np.minimum(d, d_arc) - self._safety(tgt))
        return float(worst.max())

    def _plan_blocked(self, p_own: np.ndarray, course: float, speed: float) -> bool:
        """True when the plan's look-ahead segment crosses an obstacle or the fence itself.

        Used after an encounter: the plan's line back to the path may cut through an island
        the manoeuvre went around; the search keeps steering until that line is clear.
        """
        if self._obstacles_raw is None and self._fence is None:
            return False
        length = max(speed, 0.0) * self.config.obstacle_lookahead_s
        end = p_own + length * np.array([math.cos(course), math.sin(course)])
        seg = shapely.LineString([p_own, end]) if length > 1e-3 else shapely.Point(p_own)
        if self._obstacles_raw is not None and seg.intersects(self._obstacles_raw):
            return True
        return self._fence is not None and self._fence.contains(
            shapely.Point(p_own)) and not self._fence.contains(seg)

    def _static_penalty(self, p_own: np.ndarray, paths: np.ndarray) -> np.ndarray:
        """Penalty per candidate path (N, K, 2) near an obstacle or out of the fence.

        Paths closer than the margin to an obstacle, or leaving the fence shrunk by the
        margin, cost ``_W_STATIC`` plus a share growing with the violation. When the boat is
        already inside a margin, a path is fine as long as it gets no deeper into it.
        """
        n = len(paths)
        pen = np.zeros(n)
        if self._obstacles_raw is None and self._fence_inner is None:
            return pen
        margin = max(self.config.obstacle_margin_m, 1.0)
        lines = shapely.linestrings(paths)
        start = shapely.Point(p_own)
        if self._obstacles_raw is not None:
            d0 = self._obstacles_raw.distance(start)
            ref = min(self.config.obstacle_margin_m, d0)
            dist = shapely.distance(lines, self._obstacles_raw)
            deep = ref - dist
            bad = deep > _MOVE_TOL_M
            pen += np.where(bad, _W_STATIC * (1.0 + deep / margin), 0.0)
        if self._fence_inner is not None:
            d0 = self._fence_inner.distance(start)
            outside = ~shapely.within(lines, self._fence_inner)
            if outside.any():
                pts = shapely.points(paths.reshape(-1, 2))
                out = shapely.distance(pts, self._fence_inner).reshape(paths.shape[:2])
                worst = out.max(axis=1)
                bad = outside & ((worst > d0 + _MOVE_TOL_M) | (d0 <= 0.0))
                if self._fence.contains(start):
                    bad |= ~shapely.within(lines, self._fence)
                pen += np.where(bad, _W_STATIC * (1.0 + worst / margin), 0.0)
        return pen

    def _turn_paths(self, p_own: np.ndarray, heading: float, speed_now: float,
                    courses: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted turn into each candidate course at the configured turn rate.

        Returns the turn durations (N,) [s], the arc sample times (N, K) [s] and positions
        (N, K, 2) [m] (the last sample is where the straight leg begins). Turns go the short
        way round, at the present speed.
        """
        rate = math.radians(self.config.turn_rate_dps)
        delta = wrap_angle(courses - heading)                                  # (N,)
        t_turn = np.abs(delta) / rate
        frac = np.linspace(0.0, 1.0, _ARC_SAMPLES)                          # (K,)
        times = t_turn[:, None] * frac[None, :]
        theta = heading + delta[:, None] * frac[None, :]
        sign = np.where(delta >= 0.0, 1.0, -1.0)[:, None]
        radius = speed_now / rate
        cx = p_own[0] - sign * radius * math.sin(heading)
        cy = p_own[1] + sign * radius * math.cos(heading)
        pos = np.stack([cx + sign * radius * np.sin(theta),
                        cy - sign * radius * np.cos(theta)], axis=-1)       # (N, K, 2)
        return t_turn, times, pos

    # --- the search ---------------------------------------------------------------------
    def _search(self, own: OwnShip, p_own: np.ndarray, own_course: float,
                tracked: dict[str, _Target], desired_course: float,
                desired_speed: float) -> tuple[float, float, bool]:
        cfg = self.config
        # The plan as it was when the (earliest) encounter began: the boat returns to it.
        first = min(self._encounters.values(), key=lambda e: e.started_s, default=None)
        ref_plan = first.plan_course_rad if first is not None else desired_course
        step = math.radians(cfg.course_step_deg)
        n_steps = int(round(math.pi / step))
        max_off = math.radians(cfg.max_course_offset_deg)
        course_list = [c for c in (desired_course + k * step for k in range(-n_steps, n_steps))
                       if abs(wrap_angle(c - ref_plan)) <= max_off + 1e-9]
        course_list += [own_course, desired_course] + [
            e.ref_course_rad for e in self._encounters.values()]
        speed_scale = max(desired_speed, cfg.min_escape_speed_mps)
        speed_list = sorted({f * speed_scale for f in cfg.speed_fractions} | {desired_speed}
                            | {e.ref_speed_mps for e in self._encounters.values()})
        courses = np.repeat(np.asarray(course_list), len(speed_list))
        speeds = np.tile(np.asarray(speed_list), len(course_list))
        if self._last_cmd is not None:
            courses = np.append(courses, self._last_cmd[0])
            speeds = np.append(speeds, self._last_cmd[1])
        courses = wrap_angle(courses)
        unit = np.stack([np.cos(courses), np.sin(courses)], axis=1)       # (N, 2)
        vel = unit * speeds[:, None]

        # Deviation from the plan and change from the last command.
        deviation = _W_COURSE * np.abs(wrap_angle(courses - desired_course)) / math.pi
        if desired_speed > 0:
            deviation += _W_SPEED * np.clip((desired_speed - speeds) / desired_speed, 0.0,
                                            None)
        deviation += 0.25 * _W_SPEED * np.clip(speeds - desired_speed, 0.0, None) / speed_scale
        cost = np.zeros(len(courses))
        if self._last_cmd is not None:
            cost += _W_CHANGE * np.abs(wrap_angle(courses - self._last_cmd[0])) / math.pi
            cost += 0.5 * _W_CHANGE * np.abs(speeds - self._last_cmd[1]) / speed_scale

        static_pen = np.zeros(len(courses))
        # Predicted own motion: a turn at the turn rate, then straight at the candidate speed.
        heading = own.heading_rad if own.speed_mps < _MIN_COG_SPEED_MPS else own_course
        t_turn, arc_t, arc_p = self._turn_paths(p_own, heading, own.speed_mps, courses)
        p1 = arc_p[:, -1, :]                                                # (N, 2)
        if self._obstacles_raw is not None or self._fence_inner is not None:
            rest = np.clip(cfg.obstacle_lookahead_s - t_turn, 0.0, None)
            end = p1 + vel * rest[:, None] + 1e-3                           # never zero length
            static_pen = self._static_penalty(p_own, np.concatenate(
                [arc_p, end[:, None, :]], axis=1))
            cost += static_pen

        # Targets in range or engaged (farther ones cannot matter within the horizon yet).
        ids = [i for i, t in tracked.items() if i in self._encounters
               or float(np.hypot(*(t.p - p_own))) <= cfg.active_range_m]
        n = len(courses)
        m = len(ids)
        horizon = cfg.horizon_s
        tp = np.array([tracked[i].p for i in ids]).reshape(m, 2)            # (M, 2)
        tv = np.array([tracked[i].v for i in ids]).reshape(m, 2)
        # Closest approach over the horizon: during the turn (arc samples) or on the straight
        # run after it.
        dp1 = tp[None, :, :] + tv[None, :, :] * t_turn[:, None, None] - p1[:, None, :]
        dv = tv[None, :, :] - vel[:, None, :]                               # (N, M, 2)
        _, tc_raw = cpa_tcpa_array(dp1, dv)
        t_rest = np.clip(horizon - t_turn, 0.0, None)[:, None]
        tc = np.clip(tc_raw, 0.0, t_rest)
        rel_at = dp1 + dv * tc[..., None]                                   # target - own
        d_line = np.hypot(rel_at[..., 0], rel_at[..., 1])
        tgt_arc = tp[None, None, :, :] + tv[None, None, :, :] * arc_t[:, :, None, None]
        d_arc = np.linalg.norm(tgt_arc - arc_p[:, :, None, :], axis=-1).min(axis=1)
        in_turn = d_arc < d_line
        dmin = np.where(in_turn, d_arc, d_line)                             # (N, M)
        tmin = np.where(in_turn, 0.5 * t_turn[:, None], t_turn[:, None] + tc)
        # "within": the closest approach is inside the horizon, not cut off by its end.
        within = in_turn | (tc_raw <= t_rest)
        # > 0: the target is on own port side at closest approach (along the candidate).
        side = unit[:, None, 0] * rel_at[..., 1] - unit[:, None, 1] * rel_at[..., 0]

        cost += deviation
        unsafe = np.zeros(n, dtype=bool)
        for j, tid in enumerate(ids):
            enc = self._encounters.get(tid)
            if enc is not None and enc.situation in _STAND_ON and not (enc.acting or enc.passed):
                continue   # a holding stand-on vessel leaves this risk to the give-way one
            safety, clear = self._safety(tracked[tid]), self._clear(tracked[tid])
            # Not (yet) an encounter: judged like the entry test, by a CPA within the
            # horizon; one merely cut off by the horizon is no risk yet.
            d = dmin[:, j] if enc is not None else np.where(within[:, j], dmin[:, j], np.inf)
            # Sooner violations weigh more, so that an unavoidable one is pushed later.
            urgency = 1.0 - 0.5 * tmin[:, j] / horizon
            hard = d < safety
            unsafe |= hard
            cost += np.where(
                hard, _W_COLLISION * (1.0 + (safety - d) / safety) * urgency,
                np.where(d < clear, _W_CLEAR * ((clear - d) / (clear - safety)) ** 2, 0.0))

        # Exposure: how long a target stays within two clear CPAs over the horizon along the
        # candidate, for an acting stand-on vessel and after the target has passed. Running
        # alongside a target (matching its velocity: the cheapest way to keep clear of it)
        # never ends the encounter; this makes the boat let it pass instead.
        for j, tid in enumerate(ids):
            enc = self._encounters.get(tid)
            if enc is None or not (enc.passed or (enc.situation in _STAND_ON and enc.acting)):
                continue
            radius = 2.0 * self._clear(tracked[tid])
            a = np.einsum("ij,ij->i", dv[:, j, :], dv[:, j, :])
            b = 2.0 * np.einsum("ij,ij->i", dp1[:, j, :], dv[:, j, :])
            c = np.einsum("ij,ij->i", dp1[:, j, :], dp1[:, j, :]) - radius ** 2
            disc = b * b - 4.0 * a * c
            root = np.sqrt(np.clip(disc, 0.0, None))
            a_safe = np.where(a > 1e-9, a, 1.0)
            t_in = np.clip((-b - root) / (2.0 * a_safe), 0.0, horizon)
            t_out = np.clip((-b + root) / (2.0 * a_safe), 0.0, horizon)
            inside_forever = (a <= 1e-9) & (c < 0.0)
            exposure = np.where(a > 1e-9, np.where(disc > 0.0, t_out - t_in, 0.0),
                                np.where(inside_forever, horizon, 0.0))
            cost += _W_EXPOSURE * exposure / horizon

        tol = math.radians(cfg.port_turn_tolerance_deg)
        min_alt = math.radians(cfg.min_alteration_deg)
        for j, tid in enumerate(ids):
            tgt = tracked[tid]
            enc = self._encounters.get(tid)
            if enc is None or enc.passed:
                continue
            clear = self._clear(tgt)
            d = dmin[:, j]
            holding = enc.situation in _STAND_ON and not enc.acting
            turn = wrap_angle(courses - enc.ref_course_rad)                    # > 0: to port
            ratio = speeds / max(enc.ref_speed_mps, 1e-6)
            sit = enc.situation
            if sit in _GIVE_WAY:
                cost += np.where(turn > tol, _W_RULE, 0.0)                  # Rules 14/15
                small = -turn < min_alt
                if sit == Situation.CROSSING_GIVE_WAY:
                    small &= ratio > cfg.min_slowdown_ratio
                cost += np.where(small, _W_APPARENT, 0.0)                   # Rule 8(b)
            if sit == Situation.CROSSING_GIVE_WAY:
                own_rel = -rel_at[:, j, :]                                  # own - target
                ahead = (own_rel @ np.array([math.cos(tgt.course_rad),
                                             math.sin(tgt.course_rad)])) > 0.0
                cost += np.where(ahead & (d < 2.0 * clear), _W_RULE, 0.0)    # Rule 15
            elif sit == Situation.HEAD_ON:
                cost += np.where((side[:, j] < 0.0) & (d < 2.0 * clear), _W_RULE, 0.0)
            elif sit in _STAND_ON:
                if holding:                                                  # Rule 17(a)(i)
                    moved = (np.abs(turn) > _HOLD_COURSE_TOL_RAD) | (
                        np.abs(ratio - 1.0) > _HOLD_SPEED_TOL)
                    cost += np.where(moved, _W_HOLD, 0.0)
                elif sit == Situation.CROSSING_STAND_ON:
                    cost += np.where(turn > tol, _W_RULE, 0.0)               # Rule 17(c)
            else:  # overtaking, obstacle: either side, but keep the side chosen
                wrong = (side[:, j] < 0.0) if enc.keep_port else (side[:, j] > 0.0)
                cost += np.where(wrong & (d < 2.0 * clear), _W_SIDE, 0.0)

        best = int(np.argmin(cost))
        # Keep the last command unless beaten by switch_margin (noise), but never into a
        # static obstacle.
        if self._last_cmd is not None and cost[-1] <= cost[best] + cfg.switch_margin \
                and static_pen[-1] <= static_pen[best]:
            best = len(cost) - 1
        return float(courses[best]), float(speeds[best]), bool(unsafe[best])

    # --- reporting ----------------------------------------------------------------------
    def _report(self, tracked: dict[str, _Target], p_own: np.ndarray, v_own: np.ndarray,
                course: float, speed: float, released: set[str]) -> list[EncounterInfo]:
        cfg = self.config
        infos = []
        for tid, tgt in tracked.items():
            rng = float(np.hypot(*(tgt.p - p_own)))
            enc = self._encounters.get(tid)
            if enc is None and tid not in released and rng > cfg.active_range_m:
                continue
            cpa, tcpa = cpa_tcpa(p_own, v_own, tgt.p, tgt.v)
            if enc is None:
                sit, action = Situation.SAFE, ("resume" if tid in released else "none")
            else:
                sit, action = enc.situation, self._action(enc, course, speed)
            infos.append(EncounterInfo(tid, sit, RULES[sit], action, float(cpa), float(tcpa),
                                       rng))
        return infos

    def _action(self, enc: _Encounter, course: float, speed: float) -> str:
        if enc.passed:
            return "resume"
        if enc.situation in _STAND_ON and not enc.acting:
            return "stand_on"
        turn = float(wrap_angle(course - enc.ref_course_rad))
        tol = math.radians(max(self.config.port_turn_tolerance_deg, 5.0))
        if turn < -tol:
            return "turn_starboard"
        if turn > tol:
            return "turn_port"
        if speed < 0.8 * enc.ref_speed_mps:
            return "slow_down"
        return "keep_clear"
