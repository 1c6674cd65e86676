"""``dg demo``'s runner without a launch: a failing set-up still leaves its report."""

import json
from pathlib import Path

import dg_bringup.demo as demo
from dg_bringup.scenarios import Scenario


def _failing_prepare(run_dir, args):
    raise RuntimeError("no good images to teach from")


def test_failed_prepare_leaves_metrics_and_prints_the_run_folder_last(tmp_path, monkeypatch,
                                                                      capsys):
    launched = []
    sc = Scenario(description="test", launch_file="none.launch.xml", analyze=lambda d: {},
                  timeout_s=1.0, rtf=1.0, prepare=_failing_prepare)
    monkeypatch.setitem(demo.SCENARIOS, "broken", sc)
    monkeypatch.setattr(demo, "run_launch", lambda *a, **k: launched.append(a) or 0)
    code = demo.run_demo("broken", rtf=1.0, runs_dir=tmp_path, launch_args={})
    assert code == 1 and not launched
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["prepare_error"] == "RuntimeError: no good images to teach from"


def test_prepared_arguments_do_not_override_the_users(tmp_path, monkeypatch, capsys):
    seen = {}
    sc = Scenario(description="test", launch_file="none.launch.xml",
                  analyze=lambda d: {"succeeded": True}, timeout_s=1.0, rtf=1.0,
                  prepare=lambda d, a: {"recipe_file": "taught.yaml", "model": "taught.dgpc"})
    monkeypatch.setitem(demo.SCENARIOS, "prep", sc)
    monkeypatch.setattr(demo, "get_package_share_directory", lambda pkg: str(tmp_path))

    def fake_launch(launch_file, args, env):
        seen.update(args)
        return 0
    monkeypatch.setattr(demo, "run_launch", fake_launch)
    demo.run_demo("prep", rtf=1.0, runs_dir=tmp_path, launch_args={"recipe_file": "mine.yaml"})
    assert seen["recipe_file"] == "mine.yaml" and seen["model"] == "taught.dgpc"
