"""Encounter state per target: entry, stand-on authority, passing, release, reporting.

Per target :class:`EncounterTracker` keeps an encounter state, in the style of MOOS-IvP's
``BHV_AvdColregsV22`` (M. Benjamin, MIT; facts re-used, no code), with different entry and
release conditions against mode thrashing:

* entry: risk of collision (Rule 7) -- CPA under ``clear_cpa_m`` (+ half the target length)
  within ``horizon_s``, inside ``active_range_m`` -- with the present velocity, or with the
  plan's while no other encounter is engaged (a turn of the plan toward a target counts). The
  target is classified once, on entry (:func:`.rules.classify`; Rule 13(d): an overtaking
  vessel stays one "until finally past and clear").
* passed: past CPA and opening with the present velocity (by a 3 s margin for AIS noise) and
  the target abaft the beam of the course held when the encounter began, or resuming the plan
  opens the range too or passes wide (1.5 clear CPAs). From then on the rules no longer apply;
  the target is only kept clear of.
* released: passed and the plan clear of the target (resuming it opens the range or passes at
  least the clear CPA), or beyond ``completed_range_m``. The boat then returns to its plan. For
  one horizon a released target re-enters only on a safety-radius risk along the plan.

Stand-on (Rule 17): the boat keeps the course and speed it had when the encounter began while
the give-way vessel has time to act; once the TCPA (with that course and speed) drops under
``standon_act_tcpa_s`` and the CPA is still under ``clear_cpa_m``, the give-way vessel is
deemed not to be taking appropriate action and the boat manoeuvres (Rule 17(a)(ii)); it also
acts earlier when waiting longer would leave no manoeuvre of its own that passes at least
``standon_escape_margin_m`` outside the safety radius (Rule 17(b): e.g. a fast vessel
overtaking from astern). It keeps that authority until the encounter ends. A boat that must
manoeuvre for one target cannot hold course for another (Rule 2(b)): its stand-on encounters
then act as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dg_autonomy.collision.colregs.config import ColregsConfig
from dg_autonomy.collision.colregs.interface import EncounterInfo, OwnShip, TrackedVessel
from dg_autonomy.collision.colregs.rules import (
    _STAND_ON,
    RULES,
    Situation,
    classify,
    relative_bearing_deg,
)
from dg_autonomy.collision.cpa import cpa_tcpa
from dg_common.geometry import wrap_angle

#: Own course this far [rad] from the plan's = turning onto the plan (classify on the plan).
_TURNING_RAD = math.radians(45.0)
#: A plan course change [rad] beyond which a stand-on encounter is classified again.
_REPLAN_REOPEN_RAD = math.radians(60.0)
#: "Passed" once resuming the plan would pass at least this many clear CPAs off.
_PASSED_CPA_FACTOR = 1.5
#: ... and the CPA of the present motion at least this long ago [s] (AIS noise margin).
_PASSED_MARGIN_S = 3.0


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


def _safety_m(cfg: ColregsConfig, tgt: _Target) -> float:
    """Hard minimum separation [m] from ``tgt``: the safety radius plus its length share."""
    return cfg.safety_radius_m + cfg.length_margin_factor * tgt.length_m


def _clear_m(cfg: ColregsConfig, tgt: _Target) -> float:
    """Desired CPA [m] with ``tgt``: the clear CPA plus its length share."""
    return cfg.clear_cpa_m + cfg.length_margin_factor * tgt.length_m


def _validate_targets(cfg: ColregsConfig, targets: Sequence[TrackedVessel], now_s: float,
                      p_own: np.ndarray) -> tuple[dict[str, _Target], list[tuple[str, str]]]:
    """Targets extrapolated to ``now_s`` by id, and ``(id, reason)`` of those skipped."""
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


class EncounterTracker:
    """The encounters engaged, one per target id, and the targets recently released."""

    def __init__(self, config: ColregsConfig) -> None:
        """Track encounters under ``config``."""
        self.config = config
        #: Engaged encounters by target id.
        self.encounters: dict[str, _Encounter] = {}
        #: Release time per target id: a target just released re-enters only on a clear risk.
        self.released: dict[str, float] = {}

    def reset(self) -> None:
        """Forget all encounters and releases."""
        self.encounters.clear()
        self.released.clear()

    def update(self, tracked: dict[str, _Target], own: OwnShip, p_own: np.ndarray,
               own_course: float, v_own: np.ndarray, v_plan: np.ndarray,
               desired_course: float, desired_speed_mps: float, now_s: float) -> set[str]:
        """Release the finished encounters and engage new risks; return the released ids."""
        cfg = self.config
        released: set[str] = set()
        for tid in list(self.encounters):
            if tid not in tracked:
                del self.encounters[tid]
        for tid, t_rel in list(self.released.items()):
            if tid not in tracked or now_s - t_rel > cfg.horizon_s:
                del self.released[tid]
        for tid, tgt in tracked.items():
            rng = float(np.hypot(*(tgt.p - p_own)))
            enc = self.encounters.get(tid)
            if enc is not None and enc.situation in _STAND_ON and not enc.acting \
                    and not enc.passed and abs(wrap_angle(
                        desired_course - enc.plan_course_rad)) > _REPLAN_REOPEN_RAD:
                # The plan turned (a new survey lane, a transit) while we stood on: the
                # geometry that made us the stand-on vessel is gone; judge the encounter
                # afresh (e.g. a vessel astern becomes one met head-on).
                del self.encounters[tid]
                enc = None
            if enc is not None:
                if self._finished(enc, tgt, p_own, v_own, v_plan, rng):
                    del self.encounters[tid]
                    released.add(tid)
                    self.released[tid] = now_s
                continue
            if rng <= cfg.active_range_m and self._at_risk(
                    tgt, p_own, v_own, v_plan, strict=tid in self.released,
                    on_plan=not self.encounters):
                self._engage(tid, tgt, own, own_course, desired_course, desired_speed_mps, now_s)
        return released

    def authorise_stand_on(self, tracked: dict[str, _Target], p_own: np.ndarray,
                           escape_margin_m: Callable[[list[_Target], float], float]) -> None:
        """Give the stand-on encounters authority to act once the give-way vessel is not.

        ``escape_margin_m(targets, speed)``: the best margin [m] over the safety radii that an
        own manoeuvre at ``speed`` started now achieves against ``targets`` (Rule 17(b)).
        """
        cfg = self.config
        waiting: list[str] = []
        for tid, enc in self.encounters.items():
            if enc.situation in _STAND_ON and not enc.acting and not enc.passed:
                tgt = tracked[tid]
                v_hold = enc.ref_speed_mps * np.array(
                    [math.cos(enc.ref_course_rad), math.sin(enc.ref_course_rad)])
                cpa, tcpa = cpa_tcpa(p_own, v_hold, tgt.p, tgt.v)
                if not (0.0 <= tcpa <= cfg.horizon_s and cpa < _clear_m(cfg, tgt)):
                    continue
                if tcpa <= cfg.standon_act_tcpa_s:   # Rule 17(a)(ii)
                    enc.acting = True
                else:
                    waiting.append(tid)
        # Rule 17(b): act as soon as waiting longer would leave no manoeuvre of our own that
        # keeps every such vessel at least standon_escape_margin_m outside its safety radius.
        if waiting and escape_margin_m(
                [tracked[t] for t in waiting],
                max(self.encounters[t].ref_speed_mps for t in waiting)
        ) < cfg.standon_escape_margin_m:
            for tid in waiting:
                self.encounters[tid].acting = True
        # A boat that must manoeuvre for one target cannot hold course and speed for another
        # (Rule 2(b)): its stand-on encounters then act too, keeping clear under Rule 17(c).
        if any(not e.passed and (e.situation not in _STAND_ON or e.acting)
               for e in self.encounters.values()):
            for enc in self.encounters.values():
                if enc.situation in _STAND_ON:
                    enc.acting = True

    def holding(self) -> bool:
        """True when every engaged encounter is a stand-on one still holding course."""
        return bool(self.encounters) and all(
            e.situation in _STAND_ON and not e.acting and not e.passed
            for e in self.encounters.values())

    def report(self, tracked: dict[str, _Target], p_own: np.ndarray, v_own: np.ndarray,
               course: float, speed: float, released: set[str]) -> list[EncounterInfo]:
        """One :class:`EncounterInfo` per engaged, just released or in-range target."""
        cfg = self.config
        infos = []
        for tid, tgt in tracked.items():
            rng = float(np.hypot(*(tgt.p - p_own)))
            enc = self.encounters.get(tid)
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

    # --- internals ----------------------------------------------------------------------
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
            checks = [(v_plan, _safety_m(cfg, tgt))]
        else:
            checks = [(v_own, _clear_m(cfg, tgt))]
            if on_plan:
                checks.append((v_plan, _clear_m(cfg, tgt)))
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
        if not self.encounters and not self.released \
                and abs(wrap_angle(desired_course - own_course)) > _TURNING_RAD:
            own_course = desired_course
        own_now = OwnShip(own.x_m, own.y_m, own_course, own_course, own.speed_mps)
        situation = classify(own_now, tv, self.config)
        # Overtaking / obstacle: pass on the side the target already is (AvdColregs: if the
        # contact is port of ownship, pass it on ownship's starboard side ... and vice versa).
        d = tgt.p - np.array([own.x_m, own.y_m])
        keep_port = (math.cos(own_course) * d[1] - math.sin(own_course) * d[0]) >= 0.0
        self.encounters[tid] = _Encounter(
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
        if rng <= _safety_m(self.config, tgt):
            return False
        cpa_p, tcpa_p = cpa_tcpa(p_own, v_plan, tgt.p, tgt.v)
        if not enc.passed:
            _, tcpa = cpa_tcpa(p_own, v_own, tgt.p, tgt.v)
            if tcpa > -_PASSED_MARGIN_S:
                return False
            beta = relative_bearing_deg(float(p_own[0]), float(p_own[1]),
                                        enc.ref_course_rad, float(tgt.p[0]), float(tgt.p[1]))
            enc.passed = (tcpa_p <= 0.0 or 90.0 <= beta <= 270.0
                          or cpa_p >= _PASSED_CPA_FACTOR * _clear_m(self.config, tgt))
        return enc.passed and (tcpa_p <= 0.0 or cpa_p >= _clear_m(self.config, tgt))
