"""The control cycle in-process (position and effort laws) and the loop process boundary."""

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.execution.control_loop import (
    ControlLoop,
    ControlLoopProcess,
    LoopConfig,
    LoopStartError,
    SharedState,
    controller_limits,
)
from dg_motion.execution.goal_validation import Point, Tolerances, validate_goal
from dg_motion.execution.hardware_interface import HardwareEvent, HardwareLifecycle
from dg_motion.execution.trajectory_follower import FollowerMode
from dg_motion.robots.paths import robot_file

URDF = str(robot_file("ur5", "ur5.urdf"))
LIMITS = controller_limits(URDF, str(robot_file("ur5", "joint_limits.yaml")),
                           ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
                            "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"])
MOCK = "dg_motion.execution.hardware_interface:MockSystem"
Q0 = [0.0, -1.2, 1.2, -0.6, -1.57, 0.0]


def goal(q, t=1.0):
    return validate_goal(LIMITS.names, [Point(t, q)], LIMITS,
                         path_tolerance=Tolerances.uniform(6, 0.05),
                         goal_tolerance=Tolerances.uniform(6, 0.005), goal_time_tolerance_s=0.5)


def test_limits_merge_urdf_and_yaml():
    assert LIMITS.effort_max.tolist() == [150.0, 150.0, 150.0, 28.0, 28.0, 28.0]  # URDF
    assert LIMITS.jerk_max.tolist() == [360.0, 360.0, 360.0, 600.0, 600.0, 600.0]  # yaml
    with pytest.raises(MotionInputError, match="not in"):
        controller_limits(URDF, "", ["shoulder_pan_joint", "gripper"])


def run_goal(loop, q_goal, t_end):
    loop.hardware.trigger(HardwareEvent.ACTIVATE)
    loop.cycle(0.0)
    assert loop.handle(("goal", 1, goal(q_goal)), 0.0) == ("started", 1)
    ended, err = [], 0.0
    for k in range(1, int(t_end / loop.config.period_s)):
        r = loop.cycle(k * loop.config.period_s)
        ended += r.ended
        err = max(err, np.abs(r.q_ref - r.q).max())
    return r, ended, err


def test_position_law_passes_the_reference_through():
    loop = ControlLoop(LoopConfig(MOCK, {"initial_positions": Q0}, LIMITS))
    q_goal = np.array(Q0) + 0.3
    r, ended, _ = run_goal(loop, q_goal, 1.3)
    assert [e.outcome.value for e in ended] == ["succeeded"]
    assert np.abs(r.q - q_goal).max() < 1e-9
    assert np.isnan(r.command.effort).all()


def test_computed_torque_on_rigid_body_mock_tracks_closely():
    pytest.importorskip("dg_motion.dynamics.control_law")
    cfg = LoopConfig(MOCK, {"initial_positions": Q0}, LIMITS, law="computed_torque",
                     kp=[400.0] * 6, kd=[40.0] * 6, robot_description=URDF)
    loop = ControlLoop(cfg)
    r, ended, err = run_goal(loop, np.array(Q0) + 0.3, 1.5)
    assert [e.outcome.value for e in ended] == ["succeeded"]
    assert err < 1e-3      # exact model: only the integration error remains
    assert np.isfinite(r.command.effort).all()


def test_position_law_refuses_effort_only_hardware_and_bad_law():
    with pytest.raises(MotionInputError, match="needs a position command interface"):
        ControlLoop(LoopConfig(MOCK, {"command_interfaces": ["effort"]}, LIMITS))
    with pytest.raises(MotionInputError, match="is not one of"):
        ControlLoop(LoopConfig(MOCK, {}, LIMITS, law="fuzzy"))


def test_non_finite_hardware_state_brakes_and_never_commands_nan():
    loop = ControlLoop(LoopConfig(MOCK, {"initial_positions": Q0}, LIMITS))
    loop.hardware.trigger(HardwareEvent.ACTIVATE)
    loop.cycle(0.0)
    loop.handle(("goal", 1, goal(np.array(Q0) + 0.3)), 0.0)
    loop.cycle(0.001)
    loop.hardware.system.q[2] = np.nan
    r = loop.cycle(0.002)
    assert r.command.is_none() and "non-finite" in loop.fault
    assert loop.follower.mode is FollowerMode.STOPPING


def test_seqlock_round_trip_in_process():
    loop = ControlLoop(LoopConfig(MOCK, {"initial_positions": Q0}, LIMITS))
    shared = SharedState(6)
    try:
        r = loop.cycle(0.0)
        shared.set_extra_keys(r)
        shared.write(r, FollowerMode.HOLDING, -1, HardwareLifecycle.INACTIVE)
        snap = shared.read()
        assert snap.q.tolist() == Q0 and snap.cycles == 1
        assert snap.hardware is HardwareLifecycle.INACTIVE
        h = shared.v["header"]
        h[0] += 1                       # a writer in the middle of a write ...
        assert shared.read(max_tries=3) is None   # ... is never read half-done
    finally:
        shared.close()


def test_loop_process_runs_a_goal_and_reports_timing():
    proc = ControlLoopProcess(LoopConfig(MOCK, {"initial_positions": Q0}, LIMITS, rtf=4.0,
                                         realtime=False))
    try:
        proc.send("activate")
        proc.send("goal", 5, goal(np.array(Q0) - 0.2, t=0.5))
        import time
        deadline = time.monotonic() + 10.0
        events = []
        while time.monotonic() < deadline and not any(e[0] == "ended" for e in events):
            events += proc.events()
            time.sleep(0.02)
        assert ("ended", 5, "succeeded", "") in events
        snap = proc.snapshot()
        assert np.abs(snap.q - (np.array(Q0) - 0.2)).max() < 1e-9
        stats = proc.stats()
        assert stats.cycles > 500 and stats.compute_mean_us > 0
    finally:
        proc.close()
    assert not proc.alive


def test_loop_process_reports_a_bad_plugin():
    with pytest.raises(LoopStartError, match="cannot import module"):
        ControlLoopProcess(LoopConfig("nope_pkg.mod:Sys", {}, LIMITS))
