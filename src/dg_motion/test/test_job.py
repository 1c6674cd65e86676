"""Job file parsing: the demo job, loops, targets, and malformed input named by file/field."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from offline_jobs import CELL, DEMO_JOB, HOME, PI, write_job

from dg_motion.errors import MotionInputError
from dg_motion.offline.collision import load_cell
from dg_motion.offline.job import GRIPPER_OUTPUT, StepKind, load_job


def test_demo_job_expands_the_loop_over_four_parts() -> None:
    job = load_job(DEMO_JOB)
    names = [s.name for s in job.steps]
    assert len(set(names)) == len(names)
    for i in range(4):
        assert f"down_tray_{i}" in names and f"release_finished_{i}" in names
    kinds = {s.kind for s in job.steps}
    assert {StepKind.PTP, StepKind.LIN, StepKind.CIRC, StepKind.GRIPPER, StepKind.PAYLOAD,
            StepKind.WAIT_IO, StepKind.SET_IO} <= kinds
    # tray[2] (row 1, col 0): the part centre + 0, tool pointing down (z axis = -z)
    cell = load_cell(CELL)
    down = job.steps[names.index("down_tray_2")].target
    assert down is not None and down.pose is not None
    np.testing.assert_allclose(down.pose[:3, 3], cell.locations["tray"].slot_pose(2)[:3, 3])
    np.testing.assert_allclose(down.pose[:3, 2], [0, 0, -1], atol=1e-12)
    # the finished part in the vise rests 0.005 m lower than the raw one (0.03 vs 0.04 high)
    fin = job.frames["vise_finished"].pose
    assert fin is not None
    assert fin[2, 3] == pytest.approx(cell.locations["vise"].pose[2, 3] - 0.005)
    grip = job.steps[names.index("grip_raw_1")]
    assert (grip.io_name, grip.io_value, grip.duration_s) == (GRIPPER_OUTPUT, 1.0, 0.3)
    pay = job.steps[names.index("payload_finished_0")].payload
    assert pay is not None and (pay.part, pay.mass_kg) == ("finished", 0.9)
    np.testing.assert_allclose(pay.com_m, [0, 0, 0.15])


def test_inline_targets_and_defaults(tmp_path: Path) -> None:
    path = write_job(tmp_path, [
        {"ptp": {"joints": HOME}, "speed": 0.3},
        {"name": "up", "lin": {"pose": [0.35, 0.0, 0.45, PI, 0, 0]}},
        {"repeat": {"var": "k", "values": [1, 3], "steps": [
            {"name": "above_{k}", "ptp": {"at": "outfeed[{k}]", "offset": [0, 0, 0.1]}}]}},
    ], defaults={"speed_mps": 0.2})
    job = load_job(path)
    assert [s.name for s in job.steps] == ["ptp_0", "up", "above_1", "above_3"]
    assert job.steps[0].speed == 0.3 and job.steps[1].speed_mps == 0.2
    assert job.steps[3].target is not None and job.steps[3].target.pose is not None
    assert job.steps[3].target.pose[1, 3] == pytest.approx(0.32 + 3 * 0.10)


@pytest.mark.parametrize(("steps", "frames", "message"), [
    ([{"name": "go", "ptp": "tray_9"}], None, "steps[0] (go).ptp: unknown frame 'tray_9'"),
    ([{"name": "go", "ptp": "tray[7]"}], None, "slot index out of range"),
    ([{"name": "go", "lin": {"pose": [0.3, 0.0, float("nan"), PI, 0, 0]}}], None,
     "steps[0] (go).lin.pose[2]: not a finite number"),
    ([{"name": "go", "ptp": {"joints": [0, 0, 4.0, 0, 0, 0]}}], None,
     "steps[0] (go).ptp.joints: elbow_joint = 4.0000 rad is outside its limits"),
    ([{"name": "go", "ptp": "home", "speed": 1.5}], None, "steps[0] (go).speed: 1.5 is out"),
    ([{"name": "go", "ptp": "home", "sped": 0.5}], None, "unknown field(s) ['sped']"),
    ([{"name": "go", "circ": "vise"}], None, "circ needs 'via'"),
    ([{"name": "go", "lin": "home"}], None, "lin needs a Cartesian target"),
    ([{"ptp": "home", "name": "a"}, {"ptp": "home", "name": "a"}], None, "duplicate step"),
    ([{"name": "g", "gripper": "squeeze"}], None, "expected close or open"),
    ([{"name": "p", "payload": "gold"}], None, "unknown part 'gold'"),
    ([{"name": "w", "wait_io": {"name": "done", "value": 1}}], None, "wait_io.timeout_s"),
    ([{"ptp": "home"}], {"bad": {"joints": [0, 0, 0]}}, "frames.bad.joints: expected a list"),
])
def test_malformed_steps_are_named(tmp_path: Path, steps: list, frames: dict | None,
                                   message: str) -> None:
    path = write_job(tmp_path, steps, frames)
    with pytest.raises(MotionInputError, match=re.escape(message)) as info:
        load_job(path)
    assert str(info.value).startswith("job.yaml: ")


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("job:\n  name: x\n  steps: [ {ptp: home\n")
    with pytest.raises(MotionInputError, match=r"broken.yaml: not valid YAML at line \d+"):
        load_job(path)


def test_missing_file_and_missing_job_key(tmp_path: Path) -> None:
    with pytest.raises(MotionInputError, match="cannot read the job file"):
        load_job(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("foo: 1\n")
    with pytest.raises(MotionInputError, match="empty.yaml: job: missing"):
        load_job(tmp_path / "empty.yaml")


def test_bad_robot_and_cell_paths(tmp_path: Path) -> None:
    path = write_job(tmp_path, [{"ptp": "home"}])
    text = path.read_text().replace("model: ur5", "urdf: missing.urdf")
    path.write_text(text)
    with pytest.raises(MotionInputError, match="job.yaml: robot: "):
        load_job(path)
    path = write_job(tmp_path, [{"ptp": "home"}], name="j2.yaml")
    path.write_text(path.read_text().replace(str(CELL), "no_cell.yaml"))
    with pytest.raises(MotionInputError, match="j2.yaml: cell: .*cannot read the cell"):
        load_job(path)
