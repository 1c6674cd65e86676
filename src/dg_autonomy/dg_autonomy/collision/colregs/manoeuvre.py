"""Manoeuvre selection: the cheapest (course, speed) over a candidate grid.

Candidate (course, speed) pairs -- courses every ``course_step_deg`` within
``max_course_offset_deg`` of the plan's course at the start of the encounter, speeds as
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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from dg_autonomy.collision.colregs.config import ColregsConfig
from dg_autonomy.collision.colregs.encounters import _clear_m, _Encounter, _safety_m, _Target
from dg_autonomy.collision.colregs.interface import _MIN_COG_SPEED_MPS, OwnShip
from dg_autonomy.collision.colregs.rules import _GIVE_WAY, _STAND_ON, Situation
from dg_autonomy.collision.cpa import cpa_tcpa_array
from dg_common.geometry import wrap_angle

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
#: Stand-on vessels hold course within this [rad] and speed within this fraction.
_HOLD_COURSE_TOL_RAD = math.radians(2.0)
_HOLD_SPEED_TOL = 0.05
#: Samples of each predicted turn (start and end included).
_ARC_SAMPLES = 5
#: Distance tolerance [m] of "moving away" from a violated obstacle or fence margin.
_MOVE_TOL_M = 0.01


class ManoeuvreSearch:
    """Scores candidate manoeuvres against targets, rules, static obstacles and geofence."""

    def __init__(self, config: ColregsConfig) -> None:
        """Search under ``config``; no static geometry until :meth:`set_geometry`."""
        self.config = config
        self._geom_src: tuple[Any, Any] | None = None
        self._obstacles_raw: Any = None
        self._fence_inner: Any = None
        self._fence: Any = None

    # --- static geometry ----------------------------------------------------------------
    def set_geometry(self, obstacles: Any, fence: Any) -> None:
        """Use shapely ``obstacles`` and ``fence`` (either None); kept while the same objects."""
        if self._geom_src is not None and self._geom_src[0] is obstacles \
                and self._geom_src[1] is fence:
            return
        self._geom_src = (obstacles, fence)
        m = self.config.obstacle_margin_m
        self._obstacles_raw = None
        self._fence = self._fence_inner = None
        if obstacles is not None and not obstacles.is_empty:
            self._obstacles_raw = obstacles
        if fence is not None and not fence.is_empty:
            self._fence = fence
            inner = fence.buffer(-m) if m > 0 else fence
            self._fence_inner = inner if not inner.is_empty else fence
            shapely.prepare(self._fence)
            shapely.prepare(self._fence_inner)

    def best_escape_margin_m(self, own: OwnShip, p_own: np.ndarray, own_course: float,
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
            worst = np.minimum(worst, np.minimum(d, d_arc) - _safety_m(self.config, tgt))
        return float(worst.max())

    def plan_blocked(self, p_own: np.ndarray, course: float, speed: float) -> bool:
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
    def search(self, own: OwnShip, p_own: np.ndarray, own_course: float,
               tracked: dict[str, _Target], encounters: dict[str, _Encounter],
               last_cmd: tuple[float, float] | None, desired_course: float,
               desired_speed: float) -> tuple[float, float, bool]:
        """The cheapest candidate: course [rad], speed [m/s], and whether it is unsafe.

        ``encounters`` are the engaged ones by target id, ``last_cmd`` the previous command
        (course, speed) or None; unsafe: the command keeps no safety radius.
        """
        cfg = self.config
        # The plan as it was when the (earliest) encounter began: the boat returns to it.
        first = min(encounters.values(), key=lambda e: e.started_s, default=None)
        ref_plan = first.plan_course_rad if first is not None else desired_course
        step = math.radians(cfg.course_step_deg)
        n_steps = int(round(math.pi / step))
        max_off = math.radians(cfg.max_course_offset_deg)
        course_list = [c for c in (desired_course + k * step for k in range(-n_steps, n_steps))
                       if abs(wrap_angle(c - ref_plan)) <= max_off + 1e-9]
        course_list += [own_course, desired_course] + [
            e.ref_course_rad for e in encounters.values()]
        speed_scale = max(desired_speed, cfg.min_escape_speed_mps)
        speed_list = sorted({f * speed_scale for f in cfg.speed_fractions} | {desired_speed}
                            | {e.ref_speed_mps for e in encounters.values()})
        courses = np.repeat(np.asarray(course_list), len(speed_list))
        speeds = np.tile(np.asarray(speed_list), len(course_list))
        if last_cmd is not None:
            courses = np.append(courses, last_cmd[0])
            speeds = np.append(speeds, last_cmd[1])
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
        if last_cmd is not None:
            cost += _W_CHANGE * np.abs(wrap_angle(courses - last_cmd[0])) / math.pi
            cost += 0.5 * _W_CHANGE * np.abs(speeds - last_cmd[1]) / speed_scale

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
        ids = [i for i, t in tracked.items() if i in encounters
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
            enc = encounters.get(tid)
            if enc is not None and enc.situation in _STAND_ON and not (enc.acting or enc.passed):
                continue   # a holding stand-on vessel leaves this risk to the give-way one
            safety, clear = _safety_m(cfg, tracked[tid]), _clear_m(cfg, tracked[tid])
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
            enc = encounters.get(tid)
            if enc is None or not (enc.passed or (enc.situation in _STAND_ON and enc.acting)):
                continue
            radius = 2.0 * _clear_m(cfg, tracked[tid])
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
            enc = encounters.get(tid)
            if enc is None or enc.passed:
                continue
            clear = _clear_m(cfg, tgt)
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
        if last_cmd is not None and cost[-1] <= cost[best] + cfg.switch_margin \
                and static_pen[-1] <= static_pen[best]:
            best = len(cost) - 1
        return float(courses[best]), float(speeds[best]), bool(unsafe[best])
