"""The job runner's state machine: every transition, driven with hand-made events."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from dg_motion.errors import MotionInputError
from dg_motion.execution.job_sequencer import (
    TRANSITIONS,
    ActionKind,
    JobEvent,
    JobSequencer,
    JobState,
    RunSpec,
    transition_table_markdown,
)
from dg_motion.offline.job import load_job
from dg_motion.offline.planner import plan_job
from dg_motion.shaping.input_shaping import residual_vibration
from dg_motion.shaping.mode_identification import ModeEstimate
from dg_motion.shaping.shaped_trajectory import ShapedTrajectory

REPO = Path(__file__).resolve().parents[3]
HOME = [2.8244, -1.8796, 1.5195, -1.2106, -1.5708, -1.8879]
PLAIN = RunSpec("plain", shaped=False, compensated=False)
SHAPED = RunSpec("shaped", shaped=True, compensated=True)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """ptp out, close the gripper, payload, wait for an input, ptp home."""
    d = tmp_path_factory.mktemp("job")
    (d / "job.yaml").write_text(yaml.safe_dump({"job": {
        "name": "tiny", "robot": {"model": "ur5"},
        "cell": str(REPO / "config" / "arm_cell.yaml"),
        "start": "home",
        "frames": {"home": {"joints": HOME},
                   "out": {"joints": [HOME[0] + 0.3, *HOME[1:]]}},
        "steps": [{"name": "go", "ptp": "out"}, {"name": "grip", "gripper": "close"},
                  {"name": "load", "payload": "raw"},
                  {"name": "done", "wait_io": {"name": "machine_done", "value": 1,
                                               "timeout_s": 5.0}},
                  {"name": "back", "ptp": "home"}]}}))
    return plan_job(load_job(d / "job.yaml"))


def _kinds(actions):
    return [a.kind for a in actions]


def _limits(job):
    from dg_motion.robots.model import ArmModel
    return ArmModel.from_robot("ur5").limits


def _run_through(seq, job):
    """Answer each action as the node would; return every action in order."""
    seen = []
    pending = seq.handle(JobEvent.READY)
    while pending:
        seen += pending
        nxt = []
        for a in pending:
            if a.kind is ActionKind.SEND_TRAJECTORY:
                nxt.append(JobEvent.GOAL_SUCCEEDED)
            elif a.kind is ActionKind.START_TIMER:
                nxt.append(JobEvent.TIMER)
            elif a.kind is ActionKind.WAIT_INPUT:
                nxt.append(JobEvent.IO_MATCHED)
            elif a.kind is ActionKind.RESET_CELL:
                nxt.append(JobEvent.CELL_RESET)
            elif a.kind is ActionKind.IDENTIFY:
                seq.set_mode(ModeEstimate(8.0, 0.03, 1.0, 0.01))
                nxt.append(JobEvent.MODE_IDENTIFIED)
        pending = [x for ev in nxt for x in seq.handle(ev)]
    return seen


def test_two_runs_with_identification_end_succeeded(job):
    seq = JobSequencer(job, [PLAIN, SHAPED], _limits(job))
    actions = _run_through(seq, job)
    assert seq.state is JobState.SUCCEEDED and seq.ignored_events == 0
    assert actions[-1].kind is ActionKind.FINISH and actions[-1].success
    sends = [a for a in actions if a.kind is ActionKind.SEND_TRAJECTORY]
    assert [a.name for a in sends] == ["identification_out", "identification_back",
                                       "go", "back", "go", "back"]
    # the plain run's trajectories are the planned ones, the shaped run's are shaped by the
    # identified mode's shaper (EI: at most the 5 % tolerance left of that mode)
    assert not isinstance(sends[2].trajectory, ShapedTrajectory)
    shaped = sends[4].trajectory
    assert isinstance(shaped, ShapedTrajectory)
    assert residual_vibration(shaped.shaper, 8.0, 0.03) <= 0.05 + 1e-6  # EI: V at the design f
    # payload only fed to the controller in the compensated run (both runs start with none)
    payloads = [(a.run, a.payload.mass_kg) for a in actions if a.kind is ActionKind.SET_PAYLOAD]
    assert payloads == [("plain", 0.0), ("shaped", 0.0), ("shaped", 1.2)]
    outputs = [(a.run, a.name, a.value) for a in actions if a.kind is ActionKind.SET_OUTPUT]
    assert outputs == [("plain", "gripper", 1.0), ("shaped", "gripper", 1.0)]
    assert sum(a.kind is ActionKind.RESET_CELL for a in actions) == 2


def test_a_known_mode_skips_identification(job):
    seq = JobSequencer(job, [SHAPED], _limits(job), mode=ModeEstimate(6.0, 0.02, 1.0, 0.0))
    first = seq.handle(JobEvent.READY)
    assert seq.state is JobState.STARTING_RUN
    assert ActionKind.RESET_CELL in _kinds(first)
    assert seq.shaper is not None and seq.shaper.frequency_hz == pytest.approx(6.0)


def test_failures_end_the_job_with_the_move_named(job):
    seq = JobSequencer(job, [PLAIN], _limits(job))
    seq.handle(JobEvent.READY)
    seq.handle(JobEvent.CELL_RESET)
    assert seq.state is JobState.MOVING
    out = seq.handle(JobEvent.GOAL_FAILED)
    assert seq.state is JobState.FAILED
    assert out[-1].kind is ActionKind.FINISH and not out[-1].success
    assert "move 0 'go'" in out[-1].text

    seq = JobSequencer(job, [PLAIN], _limits(job))
    for ev in (JobEvent.READY, JobEvent.CELL_RESET):
        seq.handle(ev)
    grip = seq.handle(JobEvent.GOAL_SUCCEEDED)
    # the gripper step waits for the gripper's state input, not a fixed dwell
    assert [(a.kind, a.name, a.value) for a in grip] == [
        (ActionKind.SET_OUTPUT, "gripper", 1.0), (ActionKind.WAIT_INPUT, "gripper", 1.0)]
    assert seq.state is JobState.WAITING_IO
    seq.handle(JobEvent.IO_MATCHED)
    seq.handle(JobEvent.TIMER)
    assert seq.state is JobState.WAITING_IO
    out = seq.handle(JobEvent.IO_TIMEOUT)
    assert seq.state is JobState.FAILED and "'done': input timed out" in out[-1].text


def test_events_without_a_transition_are_ignored_and_counted(job):
    seq = JobSequencer(job, [PLAIN], _limits(job))
    assert seq.handle(JobEvent.GOAL_SUCCEEDED) == []
    assert seq.state is JobState.WAITING and seq.ignored_events == 1


def test_identification_failure_and_bad_modes(job):
    seq = JobSequencer(job, [SHAPED], _limits(job))
    seq.handle(JobEvent.READY)
    seq.handle(JobEvent.GOAL_SUCCEEDED)
    assert _kinds(seq.handle(JobEvent.TIMER)) == [ActionKind.IDENTIFY]
    with pytest.raises(MotionInputError):
        seq.set_mode(ModeEstimate(float("nan"), 0.0, 0.0, 0.0))
    seq.handle(JobEvent.IDENTIFICATION_FAILED)
    assert seq.state is JobState.FAILED
    with pytest.raises(MotionInputError, match="unique"):
        JobSequencer(job, [PLAIN, PLAIN], _limits(job))


def test_the_table_covers_every_state_and_draws_it():
    reachable = {t.next for t in TRANSITIONS} | {JobState.WAITING}
    assert reachable == set(JobState)
    text = transition_table_markdown()
    assert text.count("-->") == len(TRANSITIONS) + 3
    # every (state, event) pair with several rows is told apart by guards
    pairs = {}
    for t in TRANSITIONS:
        pairs.setdefault((t.state, t.event), []).append(t)
    for rows in pairs.values():
        if len(rows) > 1:
            assert all(r.when for r in rows[:-1])


def test_test_move_returns_to_the_start(job):
    seq = JobSequencer(job, [SHAPED], _limits(job))
    out, back = seq.test_move(back=False), seq.test_move(back=True)
    q_out = out.sample(np.array([out.duration_s]))[0][0]
    q_back = back.sample(np.array([back.duration_s]))[0][0]
    assert np.allclose(q_back, job.start_q) and not np.allclose(q_out, job.start_q)


def test_readme_diagram_is_the_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert transition_table_markdown() in readme, (
        "src/dg_motion/README.md: paste transition_table_markdown()'s output")
