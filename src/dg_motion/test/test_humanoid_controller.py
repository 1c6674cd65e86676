"""The walking controller core without a simulator: modes, bad commands, bad sensors."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.controller import (
    TRANSITIONS,
    ControllerConfig,
    Event,
    PlanFrame,
    WalkingController,
    transition_table_markdown,
)
from dg_motion.humanoid.types import LEG_JOINTS, Mode, Sensors


@pytest.fixture(scope="module")
def controller_factory():
    return lambda **kw: WalkingController(ControllerConfig(**kw))


def standing_sensors(ctrl, t=0.0, **changes):
    """What a robot standing still on the controller's posture measures."""
    weight = ctrl.ik.mass_kg * 9.81 / 2.0
    s = Sensors(t=t, q=ctrl.standing_q.copy(), dq=np.zeros(12),
                imu_quat=np.array([1.0, 0.0, 0.0, 0.0]), imu_gyro=np.zeros(3),
                imu_acc=np.array([0.0, 0.0, 9.81]),
                left_wrench=np.array([0.0, 0.0, weight, 0.0, 0.0, 0.0]),
                right_wrench=np.array([0.0, 0.0, weight, 0.0, 0.0, 0.0]))
    return dataclasses.replace(s, **changes)


def test_standing_posture_puts_the_com_over_the_feet(controller_factory):
    ctrl = controller_factory()
    com, left, right = ctrl.ik.forward(ctrl.standing_q)
    assert left[2, 3] == pytest.approx(right[2, 3], abs=1e-6)
    assert com[2] - left[2, 3] == pytest.approx(ctrl.config.com_height_m, abs=1e-3)
    assert com[0] == pytest.approx(left[0, 3], abs=1e-3)          # over the sole centres
    assert right[1, 3] - left[1, 3] == pytest.approx(-ctrl.config.foot_width_m, abs=1e-3)


def test_standing_still_holds_the_posture(controller_factory):
    ctrl = controller_factory()
    for k in range(40):
        cmd = ctrl.update(standing_sensors(ctrl, t=0.005 * k))
    assert cmd.mode is Mode.STANDING and cmd.support == "double"
    assert np.all(np.isfinite(cmd.q_target))
    assert np.abs(cmd.q_target - ctrl.standing_q).max() < 0.02


def test_velocity_walks_and_zero_velocity_stops(controller_factory):
    ctrl = controller_factory()
    ctrl.update(standing_sensors(ctrl))
    assert ctrl.set_velocity(0.2, 0.0, 0.0) == ""
    assert ctrl.mode is Mode.WALKING
    assert ctrl.update(standing_sensors(ctrl, t=0.005)).footsteps    # steps planned
    ctrl.set_velocity(0.0, 0.0, 0.0)
    assert ctrl.mode is Mode.STOPPING


def test_bad_commands_are_rejected_or_clamped(controller_factory):
    ctrl = controller_factory(max_goal_distance_m=10.0)
    ctrl.update(standing_sensors(ctrl))
    for bad in ((float("nan"), 0.0, 0.0), (0.0, float("inf"), 0.0)):
        with pytest.raises(MotionInputError, match="rejected"):
            ctrl.set_velocity(*bad)
    assert ctrl.mode is Mode.STANDING                   # nothing changed
    assert "clamp" in ctrl.set_velocity(50.0, 0.0, 0.0).lower()
    ctrl.stop()
    with pytest.raises(MotionInputError, match="not finite"):
        ctrl.set_goal(float("nan"), 0.0, 0.0)
    with pytest.raises(MotionInputError, match="max_goal_distance_m"):
        ctrl.set_goal(100.0, 0.0, 0.0)


def test_lost_imu_and_bad_joint_states_stop_safely_and_never_send_nan(controller_factory):
    ctrl = controller_factory()
    good = ctrl.update(standing_sensors(ctrl)).q_target
    ctrl.set_velocity(0.2, 0.0, 0.0)
    cmd = ctrl.update(standing_sensors(ctrl, t=0.005, imu_valid=False))
    assert cmd.mode is Mode.SAFE_STOP and "IMU lost" in cmd.reason
    q = ctrl.standing_q.copy()
    q[3] = np.nan
    cmd = ctrl.update(standing_sensors(ctrl, t=0.01, q=q))
    assert cmd.mode is Mode.SAFE_STOP and "not finite" in cmd.reason
    assert np.all(np.isfinite(cmd.q_target)) and np.abs(cmd.q_target - good).max() < 0.05
    ctrl.set_velocity(0.2, 0.0, 0.0)                     # no walking from safe_stop
    assert ctrl.mode is Mode.SAFE_STOP
    ctrl.reset()
    assert ctrl.mode is Mode.STANDING                   # upright: the reset is taken


def test_a_tilted_pelvis_is_a_fall_and_the_robot_crouches(controller_factory):
    ctrl = controller_factory()
    ctrl.update(standing_sensors(ctrl))
    tilt = 0.8                                        # rad about x, beyond tilt_limit_rad
    quat = np.array([np.cos(tilt / 2), np.sin(tilt / 2), 0.0, 0.0])
    cmd = ctrl.update(standing_sensors(ctrl, t=0.005, imu_quat=quat))
    assert cmd.mode is Mode.FALLEN and "fall" in cmd.reason
    knee = LEG_JOINTS.index("l_knee")
    assert cmd.q_target[knee] == pytest.approx(ctrl.config.crouch_knee_rad)


def test_a_goal_missed_after_the_last_step_is_walked_to_again(controller_factory):
    ctrl = controller_factory()
    ctrl.update(standing_sensors(ctrl))
    ctrl.set_goal(0.1, 0.0, 0.0)
    t, cmd = 0.0, None

    def walk_until_done(max_s=6.0):
        nonlocal t, cmd
        for _ in range(round(max_s / 0.005)):
            t += 0.005
            cmd = ctrl.update(standing_sensors(ctrl, t=t))
            if ctrl.pattern.current_swing is None and ctrl.pattern.steps_left() == 0:
                break

    walk_until_done()
    assert ctrl.mode is Mode.WALKING
    # The feet slipped back 8 cm on the way (the plan frame moves where the feet are).
    ctrl.frame = PlanFrame(x=-0.08)
    for _ in range(round(4.0 / 0.005)):
        t += 0.005
        cmd = ctrl.update(standing_sensors(ctrl, t=t))
        if ctrl.pattern.steps_left() > 0:
            break
    assert cmd.mode is Mode.WALKING and cmd.footsteps       # walking to it again
    assert ctrl.goal_error()[0] == pytest.approx(0.08, abs=1e-6)
    for _ in range(round(6.0 / 0.005)):
        t += 0.005
        cmd = ctrl.update(standing_sensors(ctrl, t=t))
        if cmd.mode is Mode.STANDING:
            break
    assert cmd.mode is Mode.STANDING and "goal reached: feet 0.000 m" in cmd.reason


def test_the_transition_table_is_complete_and_drawn():
    pairs = {(t.state, t.event) for t in TRANSITIONS}
    for mode in (Mode.STANDING, Mode.WALKING, Mode.STOPPING):
        assert (mode, Event.FALL) in pairs and (mode, Event.SENSORS_LOST) in pairs
    assert (Mode.FALLEN, Event.RESET) in pairs and (Mode.SAFE_STOP, Event.RESET) in pairs
    assert not any(t.state is Mode.FALLEN and t.event is Event.WALK for t in TRANSITIONS)
    diagram = transition_table_markdown()
    assert diagram.count("-->") == len(TRANSITIONS) + 1


def test_readme_diagram_is_the_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert transition_table_markdown() in readme, (
        "src/dg_motion/README.md: paste dg_motion.humanoid.controller.transition_table_markdown()")
