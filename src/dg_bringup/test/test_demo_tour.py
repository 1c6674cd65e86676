"""``dg demo tour``'s orchestration with the launches stubbed: legs in order, each through the
scenario runner into its own folder, a failing leg fails the tour but the others still run,
``tour.json`` and the summary table; and the real tour's definition against the registry and
``config/tour/``."""

import inspect
import json
import sys
from pathlib import Path

import pytest
import yaml

import dg_bringup.cli as cli
import dg_bringup.demo as demo
from dg_bringup.launch_runner import LaunchError
from dg_bringup.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario
from dg_bringup.scenarios.tour import TOUR, Tour, TourLeg

REPO = Path(__file__).resolve().parents[3]


def _scenario(rtf, metrics):
    return Scenario(description="stub", launch_file="stub.launch.xml",
                    analyze=lambda run_dir: dict(metrics), timeout_s=10.0, rtf=rtf)


@pytest.fixture
def stub_tour(tmp_path, monkeypatch):
    """A tour of three stubbed scenarios (the second one fails); the launches it made."""
    monkeypatch.setitem(SCENARIOS, "boat", _scenario(3.0, {"succeeded": True, "coverage": 0.97,
                                                           "other": 1}))
    monkeypatch.setitem(SCENARIOS, "line", _scenario(2.0, {"succeeded": False, "recall": 0.5}))
    monkeypatch.setitem(SCENARIOS, "arm", _scenario(1.0, {"succeeded": True, "parts": 1}))
    monkeypatch.setitem(SCENARIOS, "t", Tour(description="stub tour", legs=(
        TourLeg("boat", args={"seed": "3"}, files={"mission_file": "m.yaml"},
                metrics=("coverage", "missing_key")),
        TourLeg("line", metrics=("recall",)),
        TourLeg("arm", metrics=("parts",)),
    )))
    share = tmp_path / "share"
    (share / "config" / "tour").mkdir(parents=True)
    (share / "config" / "tour" / "m.yaml").write_text("mission: {}\n")
    monkeypatch.setattr(demo, "get_package_share_directory", lambda pkg: str(share))
    launched = []

    def fake_launch(launch_file, args, env):
        launched.append(dict(args))
        run_dir = Path(args["run_dir"])
        (run_dir / "recording.mcap").write_bytes(b"")
        (run_dir / "parameters.yaml").write_text("{}\n")
        return 0
    monkeypatch.setattr(demo, "run_launch", fake_launch)
    return share, launched


def _tour_dir(capsys, runs):
    out = capsys.readouterr().out
    tour_dir = Path(out.strip().splitlines()[-1])        # the tour's folder is printed last
    assert tour_dir.parent == runs and tour_dir.name.endswith("-t")
    return out, tour_dir


def test_legs_run_in_order_and_a_failed_leg_fails_the_tour_but_not_the_rest(
        stub_tour, tmp_path, capsys):
    share, launched = stub_tour
    runs = tmp_path / "runs"
    assert demo.run_tour("t", runs_dir=runs) == 1
    out, tour_dir = _tour_dir(capsys, runs)
    # every leg ran, in order, into its own folder inside the tour's, at its scenario's rtf
    assert [Path(a["run_dir"]).name.split("-", 2)[2] for a in launched] == ["boat", "line", "arm"]
    assert all(Path(a["run_dir"]).parent == tour_dir for a in launched)
    assert [a["rtf"] for a in launched] == ["3.0", "2.0", "1.0"]
    # the leg's own arguments; its files from the installed config/tour/
    assert launched[0]["seed"] == "3"
    assert launched[0]["mission_file"] == str(share / "config" / "tour" / "m.yaml")
    assert "mission_file" not in launched[1]
    report = json.loads((tour_dir / "tour.json").read_text())
    assert report["scenario"] == "t" and report["succeeded"] is False
    assert report["wall_time_s"] >= sum(leg["wall_time_s"] for leg in report["legs"]) - 0.2
    assert [(leg["scenario"], leg["succeeded"], leg["exit_code"]) for leg in report["legs"]] == [
        ("boat", True, 0), ("line", False, 1), ("arm", True, 0)]
    # each leg's key metrics (absent ones as null) and its run folder with the full metrics
    assert [leg["metrics"] for leg in report["legs"]] == [
        {"coverage": 0.97, "missing_key": None}, {"recall": 0.5}, {"parts": 1}]
    for leg, args in zip(report["legs"], launched, strict=True):
        assert leg["run_dir"] == args["run_dir"]
        metrics = json.loads((Path(leg["run_dir"]) / "metrics.json").read_text())
        assert metrics["scenario"] == leg["scenario"]
    assert json.loads((Path(launched[0]["run_dir"]) / "metrics.json").read_text())["other"] == 1
    # one summary table naming every leg, its result and its folder
    table = out[out.index("t summary"):]
    for leg in report["legs"]:
        assert leg["scenario"] in table and Path(leg["run_dir"]).name in table
    assert "FAILED (1)" in table and "coverage 0.970" in table and "missing_key None" in table
    assert "t FAILED (failed: line): 2/3 legs succeeded" in out


def test_a_leg_that_cannot_launch_is_reported_and_the_tour_goes_on(stub_tour, tmp_path,
                                                                   monkeypatch, capsys):
    _, launched = stub_tour
    fake_launch = demo.run_launch

    def launch_or_fail(launch_file, args, env):
        if Path(args["run_dir"]).name.endswith("-boat"):
            raise LaunchError("stub.launch.xml: no such file")
        return fake_launch(launch_file, args, env)
    monkeypatch.setattr(demo, "run_launch", launch_or_fail)
    runs = tmp_path / "runs"
    assert demo.run_tour("t", runs_dir=runs, rtf=0.5) == 1
    _, tour_dir = _tour_dir(capsys, runs)
    legs = json.loads((tour_dir / "tour.json").read_text())["legs"]
    assert (legs[0]["succeeded"], legs[0]["exit_code"]) == (False, 2)
    assert legs[0]["error"] == "stub.launch.xml: no such file"
    assert legs[0]["metrics"] == {"coverage": None, "missing_key": None}
    assert [Path(a["run_dir"]).name.split("-", 2)[2] for a in launched] == ["line", "arm"]
    assert [a["rtf"] for a in launched] == ["0.5", "0.5"]          # --rtf: every leg


def test_all_legs_succeeding_is_exit_code_0(stub_tour, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(SCENARIOS, "line", _scenario(2.0, {"succeeded": True, "recall": 1.0}))
    assert demo.run_tour("t", runs_dir=tmp_path) == 0
    out, tour_dir = _tour_dir(capsys, tmp_path)
    assert json.loads((tour_dir / "tour.json").read_text())["succeeded"] is True
    assert "t succeeded: 3/3 legs succeeded" in out


def test_a_missing_tour_file_stops_before_any_leg(stub_tour, tmp_path, capsys):
    share, launched = stub_tour
    (share / "config" / "tour" / "m.yaml").unlink()
    runs = tmp_path / "runs"
    assert demo.run_tour("t", runs_dir=runs) == 2
    assert not launched and not runs.exists()
    assert "m.yaml missing" in capsys.readouterr().out


def test_tours_and_scenarios_are_not_run_by_each_others_runner(stub_tour, tmp_path):
    with pytest.raises(ValueError, match="is a tour"):
        demo.run_demo("t", rtf=1.0, runs_dir=tmp_path, launch_args={})
    with pytest.raises(ValueError, match="is a scenario"):
        demo.run_tour("boat", runs_dir=tmp_path)


def test_dg_demo_runs_the_tour_by_default_and_gives_it_no_launch_arguments(tmp_path,
                                                                          monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(demo, "run_tour", lambda name, **kw: calls.append((name, kw)) or 0)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--runs-dir", str(tmp_path)])
    assert exit_.value.code == 0
    assert calls == [("tour", {"rtf": None, "runs_dir": tmp_path})]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "tour", "seed:=3"])
    assert exit_.value.code == 2 and not calls[1:]
    assert "takes no launch arguments" in capsys.readouterr().err


def test_the_tour_is_the_default_and_covers_each_pillar_with_its_short_inputs():
    assert DEFAULT_SCENARIO == "tour" and SCENARIOS["tour"] is TOUR
    assert [leg.scenario for leg in TOUR.legs] == ["usv_survey", "inspection", "arm", "humanoid"]
    for leg in TOUR.legs:
        sc = SCENARIOS[leg.scenario]
        assert isinstance(sc, Scenario)
        for name in leg.files.values():
            assert yaml.safe_load((REPO / "config" / "tour" / name).read_text()), name
        # every key metric is a key the scenario's analysis writes
        source = inspect.getsource(sys.modules[sc.analyze.__module__])
        assert 2 <= len(leg.metrics) <= 3
        for key in leg.metrics:
            assert f'"{key}"' in source, (leg.scenario, key)


def test_the_tours_humanoid_mission_passes_the_mission_nodes_schema():
    from dg_bringup.nodes.humanoid_mission_node import SCHEMA
    from dg_common.param_schema import validate

    specs = {s.name: s for s in SCHEMA}
    path = REPO / "config" / "tour" / "humanoid_mission.yaml"
    for name, value in yaml.safe_load(path.read_text())["/**"]["ros__parameters"].items():
        validate(specs[name], value)                    # ParameterError if out of its range
