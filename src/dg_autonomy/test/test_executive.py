"""Mission executive (pure) with a fake navigator: sequence, fail-safes, persisted progress."""

import copy
import json
import math
from types import SimpleNamespace

import pytest

from dg_autonomy.failsafe.monitor import FailsafeAction, FailsafeState, Fault
from dg_autonomy.mission.executive import (
    ExecutiveConfig,
    MissionExecutive,
    MissionState,
    NavFeedback,
    NavMode,
    Phase,
    order_samples,
    remaining_path,
    split_lanes,
)
from dg_autonomy.mission.mission_file import SamplePoint, parse_mission
from dg_autonomy.mission.progress_store import ProgressStore

MISSION = {
    "name": "test_bay",
    "area": {"polygon": [[0, 0], [200, 0], [200, 120], [0, 120]],
             "islands": [[[90, 50], [110, 50], [110, 70], [90, 70]]]},
    "home": [20, 8],
    "survey": {"swath_m": 20.0, "speed_mps": 2.0, "shore_margin_m": 8.0},
    "samples": {"points": [[150, 100], [50, 30]], "dwell_s": 10.0},
    "transit_speed_mps": 1.5,
    "geofence": {"polygon": [[-20, -20], [220, -20], [220, 140], [-20, 140]], "margin_m": 2.0},
}

LANES = [((10, 20), (190, 20)), ((190, 40), (10, 40)), ((10, 90), (190, 90))]
PATH = [(10, 20), (190, 20), (195, 30), (190, 40), (10, 40), (5, 65), (10, 90), (190, 90)]


def fake_coverage(area, swath_m, margin_m, start_xy, sweep_angle_rad=None):
    return SimpleNamespace(lanes=LANES, path_xy=PATH)


def straight(start, goal):
    return [tuple(start), tuple(goal)]


def make(store=None, mission=None, **config):
    m = parse_mission(copy.deepcopy(mission or MISSION), digest="d1")
    return MissionExecutive(m, ExecutiveConfig(**config), store, coverage=fake_coverage,
                            planner=straight)


def fs(action, cause):
    return FailsafeState(active=(cause,), action=FailsafeAction(action), cause=cause,
                         detected_at={cause: 0.0}, new=(cause,))


class FakeNavigator:
    """Executes each new command instantly: the boat jumps to its end and reports finished."""

    def __init__(self, ex, pose=(20.0, 8.0)):
        self.ex, self.pose, self.t = ex, pose, 0.0
        self.finished = None
        self.log = []   # (phase, detail, mode, plan_id)

    def step(self, dt=1.0, failsafe=None, execute=True, speed=(0.0, 0.0)):
        self.t += dt
        nav = None if self.finished is None else NavFeedback(self.finished, True)
        out = self.ex.update(self.t, (*self.pose, *speed), nav, failsafe)
        cmd = out.command
        if out.command_changed:
            self.log.append((out.status.phase, out.status.detail, cmd.mode, cmd.plan_id))
        if execute and cmd is not None and out.command_changed:
            if cmd.mode is NavMode.FOLLOW_PATH:
                self.pose = cmd.path_xy[-1]
            elif cmd.mode is NavMode.STATION_KEEP:
                self.pose = cmd.station_xy
            self.finished = cmd.plan_id
        return out

    def run(self, until, max_steps=500, **kw):
        for _ in range(max_steps):
            out = self.step(**kw)
            if until(out):
                return out
        raise AssertionError(f"not reached; last {out.status}")


def details(nav):
    return [d for _, d, _, _ in nav.log]


def test_full_sequence_transit_lanes_samples_home(tmp_path):
    store = ProgressStore(tmp_path / "p.json")
    ex = make(store)
    assert (ex.n_lanes, ex.n_samples, ex.total) == (3, 2, 6)
    assert [s.sample_id for s in ex.sample_order] == ["S01", "S02"]  # nearest from (190, 90)
    nav = FakeNavigator(ex)
    first = nav.step()
    assert first.status.state is MissionState.RUNNING
    assert first.command.mode is NavMode.FOLLOW_PATH and first.command.speed_mps == 1.5
    assert first.command.collision_avoidance
    readings = []

    def feed(out):
        if out.status.phase is Phase.SAMPLE and "dwell" in out.status.detail:
            v = 20.0 + len(readings)
            readings.append(v)
            ex.add_reading(nav.t, *nav.pose, v, 8.0, 3.0)
        return out.status.state is MissionState.SUCCEEDED

    last = nav.run(feed)
    assert details(nav) == [
        "TRANSIT to lane 1/3", "SURVEY lane 1/3", "SURVEY lane 2/3", "SURVEY lane 3/3",
        "TRANSIT to sample S01 (1/2)", "SAMPLE S01 (1/2)", "TRANSIT to sample S02 (2/2)",
        "SAMPLE S02 (2/2)", "RETURN_HOME", "DONE 3 lanes, 2 samples, back home"]
    # Lane 2 includes the turn from the end of lane 1; lane 1 starts at its own start.
    lanes = [c for c in ex.tasks if c.kind == "lane"]
    assert lanes[0].path == ((10, 20), (190, 20))
    assert lanes[1].path == ((190, 20), (195, 30), (190, 40), (10, 40))
    ids = [pid for *_, pid in nav.log]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert last.status.completed == last.status.total == 6
    assert nav.pose == (20.0, 8.0) and last.command.mode is NavMode.STATION_KEEP
    assert [r.sample_id for r in ex.records] == ["S01", "S02"]
    assert all(r.n_readings >= 10 for r in ex.records)
    assert ex.records[0].temperature_c == pytest.approx(sum(readings[:ex.records[0].n_readings])
                                                        / ex.records[0].n_readings)
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["status"] == "done" and saved["completed"] == 6
    # After the end: nothing changes any more.
    assert not nav.step().command_changed


def test_sample_dwell_waits_for_station_and_records_missing_reading():
    ex = make(sample_grace_s=5.0)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.phase is Phase.SAMPLE)
    assert ex.add_reading(nav.t, 1.0, 2.0, 20.0, 8.0, 3.0) is False  # before acquisition
    out = nav.run(lambda o: o.samples)
    rec = out.samples[0]
    assert rec.sample_id == "S01" and rec.n_readings == 0 and rec.temperature_c is None
    assert any("no water-quality reading" in e for e in out.events)


def test_hold_failsafe_overrides_and_resumes_mid_lane():
    ex = make()
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3", execute=True)
    lane_cmd = ex.command
    # The boat is half-way along lane 2 (the fake jumped to the end: put it back).
    nav.pose, nav.finished = (100.0, 41.0), None
    out = nav.step(failsafe=fs("hold", Fault.OPERATOR_LINK), execute=False)
    assert out.status.state is MissionState.HOLDING
    assert out.status.detail == "FAILSAFE_HOLD (operator link lost) at lane 2/3"
    assert out.command.mode is NavMode.STATION_KEEP and out.command.station_xy == (100.0, 41.0)
    # A late 'finished' of the interrupted lane must not complete it.
    nav.finished = lane_cmd.plan_id
    out = nav.step(failsafe=fs("hold", Fault.OPERATOR_LINK), execute=False)
    assert ex.completed == 1 and not out.command_changed
    out = nav.step(failsafe=FailsafeState(), execute=False)
    assert out.status.detail == "SURVEY lane 2/3" and out.command.mode is NavMode.FOLLOW_PATH
    assert out.command.path_xy[0] == (100.0, 41.0) and out.command.path_xy[-1] == (10, 40)
    assert len(out.command.path_xy) == 2  # the turn already done is not repeated
    assert any("resuming" in e for e in out.events)
    nav.pose, nav.finished = (10.0, 40.0), out.command.plan_id
    out = nav.step()
    assert ex.completed == 2 and out.status.detail == "SURVEY lane 3/3"


def test_second_hold_on_the_way_back_to_a_lane_keeps_the_resume_point():
    ex = make()
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3", execute=True)
    nav.pose, nav.finished = (100.0, 41.0), None
    nav.step(failsafe=fs("hold", Fault.GNSS), execute=False)
    nav.pose = (100.0, 70.0)  # drifted off the lane while holding
    out = nav.step(failsafe=FailsafeState(), execute=False)
    assert out.status.detail == "TRANSIT to lane 2/3" and out.command.path_xy[-1] == (100, 40)
    nav.pose = (100.0, 60.0)  # a second fault on the way back
    nav.step(failsafe=fs("hold", Fault.GNSS), execute=False)
    out = nav.step(failsafe=FailsafeState(), execute=False)
    assert out.status.detail == "TRANSIT to lane 2/3"
    assert out.command.path_xy[-1] == (100, 40)  # the same point, not the lane's start
    nav.pose, nav.finished = (100.0, 40.0), out.command.plan_id
    out = nav.step()
    assert out.status.detail == "SURVEY lane 2/3"
    assert out.command.path_xy[0] == (100.0, 40.0) and out.command.path_xy[-1] == (10, 40)


def test_return_home_failsafe_is_latched_and_aborts_with_progress(tmp_path):
    store = ProgressStore(tmp_path / "p.json")
    ex = make(store)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3")
    out = nav.step(failsafe=fs("return_home", Fault.BATTERY), execute=False)
    assert out.status.phase is Phase.FAILSAFE_RETURN and out.status.state is MissionState.HOLDING
    assert out.command.mode is NavMode.FOLLOW_PATH and out.command.path_xy[-1] == (20.0, 8.0)
    rtl_id = out.command.plan_id
    # The fault clearing does not cancel the return (latched, as ArduPilot RTL).
    out = nav.step(failsafe=FailsafeState(), execute=False)
    assert not out.command_changed and out.status.phase is Phase.FAILSAFE_RETURN
    nav.pose, nav.finished = (20.0, 8.0), rtl_id
    out = nav.step(failsafe=FailsafeState(), execute=False)
    assert out.status.phase is Phase.ABORTED and out.status.state is MissionState.FAILED
    assert out.status.detail == "ABORTED at home (battery low)"
    assert out.command.mode is NavMode.STATION_KEEP and out.command.station_xy == (20.0, 8.0)
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["status"] == "aborted" and saved["completed"] == 1
    # A restart (battery changed) resumes at lane 2, with new plan ids.
    ex2 = make(store)
    assert "resuming after 1/6 tasks (lane 2/3 next)" in ex2.resume_note
    nav2 = FakeNavigator(ex2, pose=(20.0, 8.0))
    out = nav2.step()
    assert out.status.detail == "TRANSIT to lane 2/3" and out.command.plan_id > rtl_id + 1
    assert out.command.path_xy[-1] == (190, 40)  # far from lane 2's piece: to the lane itself
    out = nav2.step()
    assert out.status.detail == "SURVEY lane 2/3"
    assert out.command.path_xy == ((190.0, 40.0), (10.0, 40.0))


def test_gnss_hold_pauses_a_return_home_then_it_continues():
    ex = make()
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    nav.step(failsafe=fs("return_home", Fault.BATTERY), execute=False)
    out = nav.step(failsafe=fs("hold", Fault.GNSS), execute=False)
    assert out.status.phase is Phase.FAILSAFE_HOLD and out.command.mode is NavMode.STATION_KEEP
    out = nav.step(failsafe=fs("return_home", Fault.BATTERY), execute=False)
    assert out.status.phase is Phase.FAILSAFE_RETURN and out.command.mode is NavMode.FOLLOW_PATH
    assert any("continuing the return home" in e for e in out.events)


def test_geofence_return_home_brakes_first():
    ex = make()
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    nav.pose = (195.0, 20.0)
    out = nav.step(failsafe=fs("return_home", Fault.GEOFENCE), execute=False, speed=(2.0, 0.0))
    assert out.status.phase is Phase.FAILSAFE_BRAKE
    assert out.command.mode is NavMode.STATION_KEEP and out.command.station_xy == (195.0, 20.0)
    out = nav.step(failsafe=fs("return_home", Fault.GEOFENCE), execute=False, speed=(1.0, 0.0))
    assert out.status.phase is Phase.FAILSAFE_BRAKE and not out.command_changed
    out = nav.step(failsafe=FailsafeState(), execute=False, speed=(0.1, 0.0))
    assert out.status.phase is Phase.FAILSAFE_RETURN and out.command.mode is NavMode.FOLLOW_PATH


def test_geofence_brake_times_out():
    ex = make(brake_timeout_s=3.0)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    phases = [nav.step(failsafe=fs("return_home", Fault.GEOFENCE), execute=False,
                       speed=(2.0, 0.0)).status.phase for _ in range(5)]
    assert phases[:3] == [Phase.FAILSAFE_BRAKE] * 3 and phases[-1] is Phase.FAILSAFE_RETURN


def test_geofence_hold_is_latched():
    ex = make()
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    out = nav.step(failsafe=fs("hold", Fault.GEOFENCE), execute=False)
    assert out.status.phase is Phase.FAILSAFE_HOLD
    for _ in range(3):
        out = nav.step(failsafe=FailsafeState(), execute=False)
        assert out.status.phase is Phase.FAILSAFE_HOLD and not out.command_changed
    # A later battery fail-safe still takes the boat home.
    out = nav.step(failsafe=fs("return_home", Fault.BATTERY), execute=False)
    assert out.status.phase is Phase.FAILSAFE_RETURN


def test_loiter_centre_is_moved_inside_the_geofence():
    ex = make(loiter_radius_m=10.0)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    nav.pose = (210.0, 20.0)   # 10 m from the fence line at x = 220
    out = nav.step(failsafe=fs("loiter", Fault.OPERATOR_LINK), execute=False)
    cmd = out.command
    assert out.status.phase is Phase.FAILSAFE_LOITER and cmd.mode is NavMode.LOITER
    assert cmd.loiter_radius_m == 10.0
    assert cmd.station_xy[0] == pytest.approx(220.0 - 12.0, abs=0.1)  # radius + margin inside


def test_resume_from_persisted_progress_starts_at_next_lane(tmp_path):
    store = ProgressStore(tmp_path / "p.json")
    ex = make(store)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3")
    last_id = ex.command.plan_id
    assert json.loads((tmp_path / "p.json").read_text())["completed"] == 1
    # "Kill" the executive mid-lane 2 and start a new one with the same file.
    ex2 = make(store)
    assert ex2.completed == 1
    nav2 = FakeNavigator(ex2, pose=(190.0, 20.0))  # where lane 1 ended
    out = nav2.step()
    assert out.status.detail == "SURVEY lane 2/3"
    assert out.command.path_xy == ((190, 20), (195, 30), (190, 40), (10, 40))  # with the turn
    assert out.status.completed == 1
    assert out.command.plan_id == last_id + 1
    assert out.command.path_xy[-1] == (10, 40)
    assert any("resuming after 1/6 tasks" in e for e in out.events)


def test_resume_reuses_the_persisted_plan(tmp_path):
    # The coverage search has a time budget: a replan could order lanes differently.
    store = ProgressStore(tmp_path / "p.json")
    nav = FakeNavigator(make(store))
    nav.run(lambda o: o.status.detail == "SURVEY lane 2/3")

    def other_coverage(*args, **kwargs):
        raise AssertionError("must not replan when the progress file has the plan")

    m = parse_mission(copy.deepcopy(MISSION), digest="d1")
    ex = MissionExecutive(m, None, store, coverage=other_coverage, planner=straight)
    assert ex.coverage_plan is None and ex.completed == 1
    assert [t.path for t in ex.tasks if t.kind == "lane"][1] == (
        (190, 20), (195, 30), (190, 40), (10, 40))
    assert [s.sample_id for s in ex.sample_order] == ["S01", "S02"]


def test_completed_mission_is_not_rerun(tmp_path):
    store = ProgressStore(tmp_path / "p.json")
    nav = FakeNavigator(make(store))
    nav.run(lambda o: o.status.state is MissionState.SUCCEEDED)
    ex2 = make(store)
    out = ex2.update(1.0, (0.0, 0.0))
    assert out.status.state is MissionState.SUCCEEDED and out.command is None
    assert "already completed" in ex2.resume_note


def test_progress_of_another_mission_or_corrupt_file_starts_over(tmp_path):
    path = tmp_path / "p.json"
    store = ProgressStore(path)
    nav = FakeNavigator(make(store))
    nav.run(lambda o: o.status.detail == "SURVEY lane 3/3")
    other = copy.deepcopy(MISSION)
    other["survey"]["speed_mps"] = 1.0
    m = parse_mission(other, digest="d2")
    ex = MissionExecutive(m, None, store, coverage=fake_coverage, planner=straight)
    assert ex.completed == 0 and "digest" in ex.resume_note
    path.write_text("{ not json")
    ex = make(store)
    assert ex.completed == 0 and "corrupt" in ex.resume_note
    assert (tmp_path / "p.json.corrupt").exists()


def test_no_position_waits_idle():
    ex = make()
    out = ex.update(0.0, None)
    assert out.status.state is MissionState.IDLE and out.command is None
    out = ex.update(0.1, None, failsafe=fs("hold", Fault.GNSS))
    assert out.command is None


def test_planner_failure_fails_the_mission_clearly():
    m = parse_mission(copy.deepcopy(MISSION), digest="d1")
    ex = MissionExecutive(m, None, None, coverage=fake_coverage,
                          planner=lambda s, g: None)
    out = ex.update(0.0, (20.0, 8.0))
    assert out.status.state is MissionState.FAILED
    assert out.status.detail.startswith("FAILED no path from (20.0, 8.0) to (10.0, 20.0)")
    assert out.command.mode is NavMode.STATION_KEEP


def test_no_path_home_holds_once():
    m = parse_mission(copy.deepcopy(MISSION), digest="d1")
    ok = {"v": True}
    ex = MissionExecutive(m, None, None, coverage=fake_coverage,
                          planner=lambda s, g: [tuple(s), tuple(g)] if ok["v"] else None)
    nav = FakeNavigator(ex)
    nav.run(lambda o: o.status.detail == "SURVEY lane 1/3")
    ok["v"] = False
    out = nav.step(failsafe=fs("return_home", Fault.BATTERY), execute=False)
    assert out.status.phase is Phase.FAILSAFE_HOLD and any("no path home" in e for e in out.events)
    for _ in range(3):
        assert not nav.step(failsafe=FailsafeState(), execute=False).command_changed


def test_split_lanes_falls_back_to_bare_lanes():
    pieces = split_lanes([((0, 0), (10, 0)), ((10, 5), (0, 5))], [(0, 0), (10, 0), (99, 99)])
    assert pieces == [((0, 0), (10, 0)), ((10, 5), (0, 5))]
    # Reversed lane direction on the path is followed.
    pieces = split_lanes([((0, 0), (10, 0))], [(10, 0), (0, 0)])
    assert pieces == [((10, 0), (0, 0))]


def test_split_lanes_with_lane_start_index():
    path = [(0, 0), (1, 1), (1, 2), (9, 2), (9, 4), (1, 4)]
    lanes = [((1, 2), (9, 2)), ((9, 4), (1, 4))]
    pieces = split_lanes(lanes, path, lane_start_index=(2, 4))
    assert pieces == [((0, 0), (1, 1), (1, 2), (9, 2)), ((9, 2), (9, 4), (1, 4))]
    # Inconsistent indices fall back to matching the end points.
    assert split_lanes(lanes, path, lane_start_index=(0, 4))[1] == ((9, 2), (9, 4), (1, 4))


def test_remaining_path_and_sample_order():
    q, rest = remaining_path([(0, 0), (10, 0), (10, 10)], (4.0, 1.0))
    assert q == pytest.approx((4.0, 0.0)) and rest == [(4.0, 0.0), (10, 0), (10, 10)]
    q, rest = remaining_path([(0, 0), (10, 0), (10, 10)], (12.0, 5.0))
    assert rest == [(10.0, 5.0), (10, 10)]
    s = [SamplePoint("A", 10, 0), SamplePoint("B", 1, 0), SamplePoint("C", 5, 0)]
    assert [p.sample_id for p in order_samples(s, (0.0, 0.0))] == ["B", "C", "A"]


def test_config_validation():
    with pytest.raises(ValueError, match="loiter_radius_m"):
        ExecutiveConfig(loiter_radius_m=math.nan)
