"""Tests of the COLREGs collision avoidance (dg_autonomy.collision.colregs).

Encounters run in a small closed loop: a kinematic own ship (turn-rate and acceleration
limits) steering the avoidance's course and speed, straight-line targets observed exactly,
and a line-of-sight "plan" back to the x axis, so that returning to the plan is visible.
"""

import math
from dataclasses import dataclass, field

import pytest
from shapely.geometry import Polygon, box

from dg_autonomy.collision.colregs import (
    AvoidanceStatus,
    ColregsAvoidance,
    ColregsConfig,
    ColregsInputError,
    OwnShip,
    Situation,
    TrackedVessel,
    classify,
    relative_bearing_deg,
)
from dg_common.geometry import wrap_angle

OWN_SPEED = 2.5
DT = 0.5
TURN_RATE = math.radians(10.0)
LOS_LOOKAHEAD = 40.0
CFG = ColregsConfig()


@dataclass
class Tgt:
    id: str
    x: float
    y: float
    course: float
    speed: float
    # (time, new course) pairs: a target that manoeuvres
    turns: list = field(default_factory=list)


def target_on_collision(tid, t_col, course_deg, speed, offset=0.0):
    """A target reaching own track point (OWN_SPEED * t_col, offset) at t_col."""
    c = math.radians(course_deg)
    px = OWN_SPEED * t_col
    return Tgt(tid, px - speed * math.cos(c) * t_col, offset - speed * math.sin(c) * t_col,
               c, speed)


@dataclass
class Run:
    t: list
    own: list        # (x, y, heading, speed)
    cmd: list        # AvoidanceResult per step
    rng: dict        # target id -> list of ranges
    tpos: dict       # target id -> list of (x, y)

    def min_range(self, tid=None):
        ids = [tid] if tid else list(self.rng)
        return min(min(self.rng[i]) for i in ids)

    def course_change_deg(self):
        """Course relative to the initial course (deg, > 0 port) per step."""
        return [math.degrees(wrap_angle(h - self.own[0][2])) for _, _, h, _ in self.own]


def simulate(targets, duration_s=320.0, avoidance=None, obstacles=None, fence=None,
             own_y=0.0):
    av = avoidance or ColregsAvoidance(CFG)
    x, y, h, v = 0.0, own_y, 0.0, OWN_SPEED
    run = Run([], [], [], {t.id: [] for t in targets}, {t.id: [] for t in targets})
    for k in range(int(duration_s / DT)):
        t = k * DT
        for tg in targets:
            for when, c in tg.turns:
                if abs(t - when) < DT / 2:
                    tg.course = math.radians(c)
        desired = -math.atan2(y, LOS_LOOKAHEAD)
        obs = [TrackedVessel(tg.id, tg.x, tg.y, tg.course, tg.speed, 0.0, t) for tg in targets]
        res = av.step(OwnShip(x, y, h, h, v), obs, desired, OWN_SPEED, t, obstacles, fence)
        assert math.isfinite(res.course_rad) and math.isfinite(res.speed_mps)
        run.t.append(t)
        run.own.append((x, y, h, v))
        run.cmd.append(res)
        err = wrap_angle(res.course_rad - h)
        h = wrap_angle(h + max(-TURN_RATE * DT, min(TURN_RATE * DT, 0.8 * err * DT)))
        v += max(-0.8 * DT, min(0.4 * DT, res.speed_mps - v))
        x += v * math.cos(h) * DT
        y += v * math.sin(h) * DT
        for tg in targets:
            tg.x += tg.speed * math.cos(tg.course) * DT
            tg.y += tg.speed * math.sin(tg.course) * DT
            run.rng[tg.id].append(math.hypot(tg.x - x, tg.y - y))
            run.tpos[tg.id].append((tg.x, tg.y))
    return run


def own_at(x=0.0, y=0.0, heading_deg=0.0, speed=OWN_SPEED):
    h = math.radians(heading_deg)
    return OwnShip(x, y, h, h, speed)


AT_22_PORT = (100 * math.cos(math.radians(22.0)), 100 * math.sin(math.radians(22.0)))


def vessel(x, y, course_deg, speed=3.0, tid="t"):
    return TrackedVessel(tid, x, y, math.radians(course_deg), speed, 0.0, 0.0)


# --- geometry ----------------------------------------------------------------------------

def test_relative_bearing_is_clockwise_from_bow():
    assert relative_bearing_deg(0, 0, 0.0, 10, 0) == pytest.approx(0.0)
    assert relative_bearing_deg(0, 0, 0.0, 0, -10) == pytest.approx(90.0)    # starboard
    assert relative_bearing_deg(0, 0, 0.0, -10, 0) == pytest.approx(180.0)
    assert relative_bearing_deg(0, 0, 0.0, 0, 10) == pytest.approx(270.0)    # port
    assert relative_bearing_deg(0, 0, math.pi / 2, 10, 0) == pytest.approx(90.0)


@pytest.mark.parametrize("target, expected", [
    (vessel(300, 5, 180), Situation.HEAD_ON),                   # reciprocal, dead ahead
    (vessel(300, -200, 90), Situation.CROSSING_GIVE_WAY),       # from starboard, heading N
    (vessel(300, 200, -90), Situation.CROSSING_STAND_ON),       # from port, heading S
    (vessel(100, 5, 0, speed=1.0), Situation.OVERTAKING),       # slower, ahead, same course
    (vessel(-100, -5, 0, speed=5.0), Situation.BEING_OVERTAKEN),
    (vessel(200, 0, 0, speed=0.1), Situation.OBSTACLE),         # not making way
    # Rule 13(b): own ship more than 22.5 deg abaft the target's beam (alpha in [112.5,
    # 247.5]) overtakes it; 0.1 deg either side of both edges. Target 100 m off at bearing
    # 22 deg to port: own ship is seen from it at alpha = its course + 158 deg.
    (vessel(*AT_22_PORT, 247.4 - 158.0, speed=1.0), Situation.OVERTAKING),
    (vessel(*AT_22_PORT, 247.6 - 158.0, speed=1.0), Situation.CROSSING_STAND_ON),
    (vessel(*AT_22_PORT, 112.6 - 158.0, speed=1.0), Situation.OVERTAKING),
    (vessel(*AT_22_PORT, 112.4 - 158.0, speed=1.0), Situation.CROSSING_STAND_ON),
    (vessel(50, -300, 100), Situation.CROSSING_GIVE_WAY),       # starboard beam
    (vessel(300, 80, 180), Situation.CROSSING_STAND_ON),        # ahead-port, beyond 12 deg
])
def test_classification(target, expected):
    assert classify(own_at(), target) == expected


def test_headon_bearing_threshold_is_configurable():
    t = vessel(300, 80, 180)   # 15 deg off the bow
    assert classify(own_at(), t) == Situation.CROSSING_STAND_ON
    assert classify(own_at(), t, ColregsConfig(headon_bearing_deg=20.0)) == Situation.HEAD_ON


# --- encounters in closed loop -----------------------------------------------------------

def first_engaged(run):
    return next(i for i, r in enumerate(run.cmd) if r.active)


def released(run):
    """Step of the last release (an encounter reported ``resume``)."""
    return max(i for i, r in enumerate(run.cmd) if any(e.action == "resume"
                                                       for e in r.encounters))


def turns_during(run):
    """Course changes [deg] from engagement to release (after it, the plan turns back)."""
    return run.course_change_deg()[first_engaged(run):released(run)]


def test_crossing_give_way_turns_starboard_early_passes_astern_and_resumes():
    tg = target_on_collision("gw", 150, 90, 4.0)
    run = simulate([tg])
    k0 = first_engaged(run)
    assert run.cmd[k0].encounters[0].situation == Situation.CROSSING_GIVE_WAY
    assert run.cmd[k0].encounters[0].rule == "15"
    turns = turns_during(run)
    assert max(turns) <= CFG.port_turn_tolerance_deg          # never to port
    assert min(turns) <= -CFG.min_alteration_deg               # substantial, to starboard
    # Early: the alteration starts within a few seconds of the risk being detected.
    k_turn = k0 + next(i for i, c in enumerate(turns) if c < -10)
    assert run.t[k_turn] - run.t[k0] < 5.0
    assert run.min_range() >= CFG.safety_radius_m
    assert any(r.encounters and r.encounters[0].action == "resume" for r in run.cmd)
    # Back on the plan: inactive, heading east again, near the track.
    x, y, h, _ = run.own[-1]
    assert not run.cmd[-1].active and run.cmd[-1].status is AvoidanceStatus.CLEAR
    assert abs(math.degrees(h)) < 5.0 and abs(y) < 10.0


def test_give_way_passes_astern_of_crossing_target():
    tg = target_on_collision("gw", 150, 90, 3.0)
    x_track = tg.x
    run = simulate([tg])
    # At the moment own ship crosses the target's track line, the target is already ahead
    # (north) of that point: own ship went behind it.
    k = next(i for i, (x, _, _, _) in enumerate(run.own) if x >= x_track)
    assert run.tpos["gw"][k][1] > run.own[k][1]


def test_head_on_both_alter_to_starboard_port_to_port():
    tg = target_on_collision("ho", 150, 180, 3.0, offset=3.0)
    run = simulate([tg])
    k0 = first_engaged(run)
    assert run.cmd[k0].encounters[0].situation == Situation.HEAD_ON
    turns = turns_during(run)
    assert max(turns) <= CFG.port_turn_tolerance_deg
    assert min(turns) <= -CFG.min_alteration_deg
    assert run.min_range() >= CFG.safety_radius_m
    # Port to port: at the closest point the target is on own port side (north of own).
    k = min(range(len(run.own)), key=lambda i: run.rng["ho"][i])
    assert run.tpos["ho"][k][1] > run.own[k][1]
    assert any(r.encounters and r.encounters[0].action == "turn_starboard" for r in run.cmd)


def test_stand_on_keeps_course_and_speed_until_give_way_fails_then_acts():
    tg = target_on_collision("so", 150, -90, 4.0)
    run = simulate([tg])
    k0 = first_engaged(run)
    assert run.cmd[k0].encounters[0].situation == Situation.CROSSING_STAND_ON
    assert run.cmd[k0].status is AvoidanceStatus.STAND_ON
    k_act = next(i for i, r in enumerate(run.cmd) if r.active
                 and r.encounters[0].action != "stand_on")
    # Held course and speed exactly between engagement and the Rule 17(a)(ii) action ...
    for i in range(k0, k_act):
        assert run.cmd[i].course_rad == pytest.approx(0.0, abs=1e-9)
        assert run.cmd[i].speed_mps == pytest.approx(OWN_SPEED)
    # ... which came only when the TCPA was short (the give-way vessel had its chance).
    enc = run.cmd[k_act].encounters[0]
    assert enc.tcpa_s <= CFG.standon_act_tcpa_s + 1.0
    # Rule 17(c): no port turn for a vessel on the port side; and clear of it.
    assert max(turns_during(run)) <= CFG.port_turn_tolerance_deg
    assert run.min_range() >= CFG.safety_radius_m
    assert not run.cmd[-1].active


def test_stand_on_never_moves_when_give_way_vessel_acts():
    tg = target_on_collision("so", 150, -90, 4.0)
    tg.turns = [(80.0, -135.0)]     # the give-way vessel turns to its starboard, early
    run = simulate([tg])
    assert any(r.status is AvoidanceStatus.STAND_ON for r in run.cmd)
    assert all(abs(r.course_rad) < 1e-9 and r.speed_mps == pytest.approx(OWN_SPEED)
               for r in run.cmd)
    assert run.min_range() >= CFG.safety_radius_m


def test_overtaking_keeps_clear_and_returns_to_plan():
    tg = target_on_collision("ot", 200, 0.0, 1.0, offset=2.0)
    run = simulate([tg], duration_s=400)
    k0 = first_engaged(run)
    assert run.cmd[k0].encounters[0].situation == Situation.OVERTAKING
    assert run.cmd[k0].encounters[0].rule == "13"
    assert run.min_range() >= CFG.safety_radius_m
    x, y, h, _ = run.own[-1]
    assert not run.cmd[-1].active and abs(y) < 10.0 and abs(math.degrees(h)) < 5.0
    assert x > tg.x + 50   # passed it


def test_being_overtaken_stands_on_then_keeps_clear():
    tg = target_on_collision("bo", 150, 0.0, 5.0, offset=-2.0)
    run = simulate([tg])
    k0 = first_engaged(run)
    assert run.cmd[k0].encounters[0].situation == Situation.BEING_OVERTAKEN
    assert run.cmd[k0].status is AvoidanceStatus.STAND_ON
    assert run.min_range() >= CFG.safety_radius_m


def test_keeps_manoeuvre_until_past_cpa_and_opening():
    tg = target_on_collision("gw", 150, 90, 4.0)
    run = simulate([tg])
    k_rel = next(i for i, r in enumerate(run.cmd)
                 if r.encounters and r.encounters[0].action == "resume")
    k_min = min(range(len(run.own)), key=lambda i: run.rng["gw"][i])
    assert k_rel >= k_min                                   # not released before CPA
    assert run.rng["gw"][k_rel] > run.rng["gw"][k_rel - 1]  # opening
    # No dithering: while engaged the commanded course changes only a handful of times.
    cmds = run.cmd[first_engaged(run):k_rel]
    changes = sum(1 for a, b in zip(cmds, cmds[1:], strict=False)
                  if abs(wrap_angle(a.course_rad - b.course_rad)) > 1e-6)
    assert changes < 25


def test_multi_target_keeps_safety_radius():
    targets = [target_on_collision("a", 140, 90, 3.5),
               target_on_collision("b", 160, 180, 3.0, offset=4.0),
               target_on_collision("c", 170, -100, 3.0)]
    run = simulate(targets, duration_s=380)
    situations = {e.target_id: e.situation for r in run.cmd for e in r.encounters
                  if e.situation != Situation.SAFE}
    assert situations["a"] == Situation.CROSSING_GIVE_WAY
    assert set(situations) == {"a", "b", "c"}
    for tid in ("a", "b", "c"):
        assert run.min_range(tid) >= CFG.safety_radius_m, tid
    assert not run.cmd[-1].active


def test_static_obstacle_blocks_starboard_escape():
    # An island south of the track near the meeting point: the starboard turn must not
    # enter it (obstacles beat the rules), and the target is still avoided.
    island = box(250, -120, 450, -25)
    tg = target_on_collision("gw", 150, 90, 3.0)
    run = simulate([tg], obstacles=island)
    margin = island.buffer(CFG.obstacle_margin_m * 0.5)
    assert not any(margin.contains(_pt(x, y)) for x, y, _, _ in run.own)
    assert run.min_range() >= CFG.safety_radius_m


def test_geofence_is_respected_during_avoidance():
    fence = Polygon([(-50, -45), (700, -45), (700, 300), (-50, 300)])
    tg = target_on_collision("gw", 150, 90, 3.0)
    run = simulate([tg], fence=fence)
    inner = fence.buffer(-CFG.obstacle_margin_m * 0.5)
    assert all(inner.contains(_pt(x, y)) for x, y, _, _ in run.own)
    assert run.min_range() >= CFG.safety_radius_m


def test_starting_inside_obstacle_margin_moves_out():
    av = ColregsAvoidance(CFG)
    island = box(-20, -30, 20, -8)           # 8 m south of own ship (margin 10 m)
    tg = vessel(300, 0, 180, 3.0)
    res = av.step(own_at(), [tg], 0.0, OWN_SPEED, 0.0, island, None)
    assert res.active and math.isfinite(res.course_rad)
    assert math.sin(res.course_rad) >= -1e-9   # not further south


def _pt(x, y):
    from shapely.geometry import Point
    return Point(x, y)


# --- bad input ----------------------------------------------------------------------------

def test_non_finite_own_ship_raises():
    av = ColregsAvoidance()
    with pytest.raises(ColregsInputError, match="non-finite"):
        av.step(OwnShip(math.nan, 0, 0, 0, 1), [], 0.0, 1.0, 0.0)
    with pytest.raises(ColregsInputError):
        av.step(own_at(), [], math.inf, 1.0, 0.0)
    with pytest.raises(ColregsInputError, match=">= 0"):
        av.step(own_at(), [], 0.0, -1.0, 0.0)


def test_bad_targets_are_skipped_with_reason():
    av = ColregsAvoidance()
    bad = [TrackedVessel("nan", math.nan, 0, 0, 1, 0, 0.0),
           TrackedVessel("old", 100, 0, math.pi, 3, 0, -100.0),
           TrackedVessel("neg", 100, 0, math.pi, -3, 0, 0.0)]
    res = av.step(own_at(), bad, 0.3, 2.0, 0.0)
    assert {r[0] for r in res.rejected_targets} == {"nan", "old", "neg"}
    assert res.course_rad == pytest.approx(0.3) and res.speed_mps == 2.0
    assert not res.active and res.status is AvoidanceStatus.CLEAR


@pytest.mark.parametrize("kwargs, match", [
    ({"safety_radius_m": -1.0}, "safety_radius_m"),
    ({"clear_cpa_m": 10.0}, "clear_cpa_m must exceed"),
    ({"horizon_s": math.nan}, "horizon_s"),
    ({"speed_fractions": ()}, "speed_fractions"),
    ({"completed_range_m": 100.0}, "completed_range_m"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ColregsInputError, match=match):
        ColregsConfig(**kwargs)


def test_target_extrapolated_from_its_stamp():
    av = ColregsAvoidance()
    # A fix 10 s old, 330 m ahead, closing at 3 m/s: 300 m ahead now.
    tg = TrackedVessel("t", 330.0, 1.0, math.pi, 3.0, 0.0, 0.0)
    res = av.step(own_at(), [tg], 0.0, OWN_SPEED, 10.0)
    assert res.encounters[0].range_m == pytest.approx(300.0, abs=0.1)


def test_stand_on_encounter_is_judged_again_when_the_plan_turns_around():
    # Transit west with a vessel coming up astern (being overtaken: stand on); then the
    # plan turns east onto a lane and the same vessel is met head-on: give way to starboard.
    avoid = ColregsAvoidance(ColregsConfig(safety_radius_m=25.0, clear_cpa_m=50.0))
    vessel = TrackedVessel("v", 150.0, 0.0, math.pi, 4.0, 10.0, 0.0)
    west = avoid.step(OwnShip(0.0, 0.0, math.pi, math.pi, 2.0), [vessel], math.pi, 2.0, 0.0)
    assert [e.situation for e in west.encounters if e.target_id == "v"] == ["being_overtaken"]
    east = avoid.step(OwnShip(0.0, 0.0, 0.0, 0.0, 2.0), [vessel], 0.0, 2.0, 1.0)
    enc = next(e for e in east.encounters if e.target_id == "v")
    assert enc.situation == "head_on" and enc.rule == "14"
    assert east.active and wrap_angle(east.course_rad - 0.0) < -math.radians(10.0)
