"""Job checks end to end: the demo job passes; bad jobs fail naming the move and the check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from offline_jobs import DEMO_JOB, PI, write_job

from dg_motion.offline.check import check_job_cli
from dg_motion.offline.checks import MoveStatus, check_job
from dg_motion.offline.job import StepKind, load_job
from dg_motion.offline.planner import CheckKind, IoKind, MovePlanningError, plan_job

FRAMES = {"outside_machine": {"pose": [0.36, 0.0, 0.28, PI, 0, 0]},
          "above_vise": {"at": "vise", "offset": [0, 0, 0.15]}}


@pytest.fixture(scope="module")
def demo():
    job = load_job(DEMO_JOB)
    report, planned = check_job(job)
    return job, report, planned


def test_demo_job_passes_every_check(demo) -> None:
    job, report, planned = demo
    assert report.passed, report.first_failure
    assert planned is not None and all(m.status is MoveStatus.OK for m in report.moves)
    # the cycle time is the sum of the moves (the machine wait counts its expected 2 s)
    durations = [m.duration_s for m in planned.moves]
    assert report.cycle_time_s == pytest.approx(math.fsum(durations))
    assert sum(m.duration_s for m in planned.moves if m.kind is StepKind.WAIT_IO) == 8.0
    assert 0.0 < report.min_clearance_m < 0.02  # parts released 1 mm above their seats
    for m in report.moves:
        assert m.peak_velocity_ratio <= 1.0 + 1e-6 and m.peak_jerk_ratio <= 1.0 + 1e-6
    # moves chain: each starts where the previous ended; holds keep the arm still
    for a, b in zip(planned.moves, planned.moves[1:], strict=False):
        qa = a.trajectory.sample(np.array([a.duration_s]))[0][0]
        qb = b.trajectory.sample(np.zeros(1))[0][0]
        np.testing.assert_allclose(qa, qb, atol=1e-6)
    # I/O events and payloads: gripper closes at each pick, the held part follows
    closes = [m for m in planned.moves if m.io and m.io[0].name == "gripper"
              and m.io[0].value == 1.0]
    assert len(closes) == 8 and all(e.io[0].kind is IoKind.SET for e in closes)
    lifts = {m.name: m.payload.part for m in planned.moves if m.name.startswith("up_")}
    assert lifts["up_tray_0"] == "raw" and lifts["up_vise_finished_3"] == "finished"
    assert lifts["up_outfeed_2"] is None
    # the Cartesian moves end at their targets: TCP at the part centre in the vise
    job_names = [s.name for s in job.steps]
    down = next(m for m in planned.moves if m.name == "down_vise_0")
    q_end = down.trajectory.sample(np.array([down.duration_s]))[0][0]
    target = job.steps[job_names.index("down_vise_0")].target.pose
    np.testing.assert_allclose(job.arm.fk(q_end), target, atol=1e-6)


def test_move_through_the_machine_wall_is_named(tmp_path: Path) -> None:
    path = write_job(tmp_path, [
        {"ptp": "outside_machine"},
        {"lin": "above_vise", "speed_mps": 0.5},
        {"name": "through_wall", "lin": {"pose": [0.62, 0.40, 0.25, PI, 0, 0]}},
    ], FRAMES)
    report, planned = check_job(load_job(path))
    f = report.first_failure
    assert not report.passed and planned is None
    assert (f.move_name, f.check) == ("through_wall", CheckKind.COLLISION)
    assert "machine_left_wall" in f.reason
    # where: the TCP is at the wall (y between the wall's inner face 0.28 and the limit)
    assert 0.20 < f.tcp_pose[1] < 0.40 and f.t_s > 0.0
    assert report.moves[1].status is MoveStatus.OK


def test_unreachable_target_is_named(tmp_path: Path) -> None:
    path = write_job(tmp_path, [
        {"ptp": "outside_machine"},
        {"name": "too_far", "ptp": {"pose": [1.2, 0.0, 0.1, PI, 0, 0]}},
        {"ptp": "outside_machine"},
    ], FRAMES)
    job = load_job(path)
    report, _ = check_job(job)
    f = report.first_failure
    assert (f.move_index, f.move_name, f.check) == (1, "too_far", CheckKind.REACHABILITY)
    assert "out of the arm's reach" in f.reason and "1.200" in f.reason
    assert report.moves[-1].status is MoveStatus.NOT_PLANNED and report.cycle_time_s is None
    with pytest.raises(MovePlanningError, match="move 1 'too_far' fails reachability"):
        plan_job(job)


def test_joint_move_sweeping_the_door_post_collides(tmp_path: Path) -> None:
    # a PTP from the tray straight to the vise swings the arm through the machine enclosure
    path = write_job(tmp_path, [
        {"ptp": {"at": "tray[0]", "offset": [0, 0, 0.1]}},
        {"name": "shortcut", "ptp": "above_vise"},
    ], FRAMES)
    report, _ = check_job(load_job(path))
    f = report.first_failure
    assert (f.move_name, f.check) == ("shortcut", CheckKind.COLLISION)
    assert "machine_" in f.reason and "penetrates" in f.reason


def test_cli_exit_codes_and_report(tmp_path: Path, capsys) -> None:
    bad = write_job(tmp_path, [
        {"ptp": "outside_machine"}, {"lin": "above_vise", "speed_mps": 0.5},
        {"name": "through_wall", "lin": {"pose": [0.62, 0.40, 0.25, PI, 0, 0]}}], FRAMES)
    report_path = tmp_path / "REPORT.json"
    assert check_job_cli(bad, report_path) == 1
    out = capsys.readouterr().out
    assert "FAILED: move 2 'through_wall' fails collision" in out
    data = json.loads(report_path.read_text())
    assert data["status"] == "failed" and data["first_failure"]["move_name"] == "through_wall"
    assert [m["status"] for m in data["moves"]] == ["ok", "ok", "failed"]
    ok = write_job(tmp_path, [{"ptp": "outside_machine"}, {"ptp": "home"}], FRAMES,
                   name="ok.yaml")
    assert check_job_cli(ok, None) == 0
    assert "PASSED: 2 moves, estimated cycle time" in capsys.readouterr().out
    for steps, why in (([{"name": "nan_move", "ptp": {"pose": [0.3, 0.0, float("nan"), PI,
                                                                0, 0]}}], "not a finite"),
                       ([{"name": "lost", "ptp": "nowhere"}], "unknown frame 'nowhere'")):
        path = write_job(tmp_path, steps, FRAMES, name="bad2.yaml")
        assert check_job_cli(path, tmp_path / "R2.json") == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and why in err[0] and err[0].startswith("error: bad2.yaml: steps[0]")
        assert not (tmp_path / "R2.json").exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text("job: {name: [unclosed\n")
    assert check_job_cli(broken, None) == 2
    assert "not valid YAML" in capsys.readouterr().err
