"""Node tests of ``job_runner`` with real rclpy: its params file agrees with its schema, and a
job that cannot run (fails its checks, or no readable job file) stops the node at start with
a message naming the move or the file, before anything is sent to the arm.

Runs without an arm controller: the node checks and plans its job in its constructor; a
valid job then only waits for the controller.
"""

import signal
from pathlib import Path

import pytest
import rclpy
import yaml
from offline_jobs import CONFIG, PI, write_job
from rclpy.context import Context
from rclpy.parameter import Parameter

from dg_common.main import run_node
from dg_common.param_schema import ParameterError, validate
from dg_motion.nodes.job_runner_node import SCHEMA, JobRunnerNode

PARAMS_FILE = CONFIG / "job_runner.yaml"
FRAMES = {"outside_machine": {"pose": [0.36, 0.0, 0.28, PI, 0, 0]},
          "above_vise": {"at": "vise", "offset": [0, 0, 0.15]}}
#: A short valid job (two PTP moves, planned in well under a second).
GOOD_STEPS = [{"ptp": "outside_machine"}, {"ptp": "home"}]
#: The third move leaves the machine through its left wall (test_offline_checks.py).
THROUGH_WALL_STEPS = [
    {"ptp": "outside_machine"},
    {"lin": "above_vise", "speed_mps": 0.5},
    {"name": "through_wall", "lin": {"pose": [0.62, 0.40, 0.25, PI, 0, 0]}},
]


def test_params_file_matches_the_schema_and_its_defaults(tmp_path: Path) -> None:
    keys = yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"]
    specs = {s.name: s for s in SCHEMA}
    # every schema parameter is in the file except job_file (the launch file sets it)
    assert set(keys) == set(specs) - {"job_file"}
    assert specs["job_file"].default is None          # required: no job without a file
    for name, value in keys.items():
        spec = specs[name]
        assert validate(spec, value) == spec.default, name   # type, range, choices, default
    # the node reads the file as ROS does (a params file and a -p override)
    job = write_job(tmp_path, GOOD_STEPS, FRAMES)
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(PARAMS_FILE),
                                  "-p", f"job_file:={job}"])
    try:
        node = JobRunnerNode(context=ctx)
        try:
            for name, value in keys.items():
                assert node.get_parameter(name).value == value, name
            assert node.params.job_file == str(job)
            assert node.driver.total == 2 * len(keys["runs"])   # 2 moves per run
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_job_failing_its_checks_stops_the_node_naming_the_move(ros_context, tmp_path) -> None:
    job = write_job(tmp_path, THROUGH_WALL_STEPS, FRAMES)
    with pytest.raises(ParameterError) as err:
        JobRunnerNode(context=ros_context,
                      parameter_overrides=[Parameter("job_file", value=str(job))])
    text = str(err.value)
    assert f"job {job} fails its checks" in text
    assert "move 2 'through_wall' fails collision" in text
    assert "machine_left_wall" in text


@pytest.fixture
def node_main(capfd):
    """``run_node(JobRunnerNode, ...)`` as ``main()`` runs it: (exit code, stderr)."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def main(*ros_args: str) -> tuple[int, str]:
        code = run_node(JobRunnerNode, ["job_runner", "--ros-args", *ros_args])
        return code, capfd.readouterr().err

    yield main
    for s, h in handlers.items():   # run_node takes SIGINT/SIGTERM; give them back to pytest
        signal.signal(s, h)


def test_job_failing_its_checks_exits_with_code_2(node_main, tmp_path) -> None:
    job = write_job(tmp_path, THROUGH_WALL_STEPS, FRAMES)
    code, err = node_main("-p", f"job_file:={job}")
    assert code == 2
    assert "configuration error: job" in err and "move 2 'through_wall' fails collision" in err


def test_bad_job_file_is_rejected_with_a_clear_message(node_main, tmp_path) -> None:
    missing = tmp_path / "no_such_job.yaml"
    code, err = node_main("-p", f"job_file:={missing}")
    assert code == 2
    assert f"job_file: {missing}: cannot read the job file: No such file or directory" in err
    # a directory is not a job file either
    code, err = node_main("-p", f"job_file:={tmp_path}")
    assert code == 2 and f"job_file: {tmp_path}: cannot read the job file" in err
    # a file that is not a job names the file and what is wrong
    bad = tmp_path / "not_a_job.yaml"
    bad.write_text("jobs: {}\n")
    code, err = node_main("-p", f"job_file:={bad}")
    assert code == 2 and "job_file: not_a_job.yaml: job: missing" in err, err
    # no job file at all: the parameter is required
    code, err = node_main()
    assert code == 2 and "parameter 'job_file' is required" in err, err
