"""dg_motion's walking controller on the simulated biped, in one process (no ROS)."""

import numpy as np
import pytest

from dg_motion.humanoid.controller import ControllerConfig, WalkingController
from dg_motion.humanoid.types import Mode, Sensors
from dg_sim.humanoid.sim import BipedSim, BipedSimConfig

DT = 0.005


def run(ctrl, sim, seconds, until=None):
    cmd = None
    for _ in range(round(seconds / DT)):
        cmd = ctrl.update(Sensors(**vars(sim.sensors())))
        assert np.all(np.isfinite(cmd.q_target))
        sim.set_targets(cmd.q_target)
        sim.step(DT)
        if sim.truth().fallen or (until is not None and until(cmd)):
            break
    return cmd


@pytest.fixture
def robot():
    ctrl = WalkingController(ControllerConfig())
    sim = BipedSim(BipedSimConfig())
    sim.reset(ctrl.standing_q)
    sim.set_targets(ctrl.standing_q)
    return ctrl, sim


def test_walks_forward_on_a_velocity_command_and_stops(robot):
    ctrl, sim = robot
    run(ctrl, sim, 1.0)
    assert ctrl.set_velocity(0.3, 0.0, 0.0) == ""
    run(ctrl, sim, 8.0)
    truth = sim.truth()
    assert not truth.fallen, truth.t
    assert truth.com[0] > 1.5                      # forward progress (true CoM, metres)
    ctrl.stop()
    cmd = run(ctrl, sim, 4.0)
    assert not sim.truth().fallen
    assert cmd.mode is Mode.STANDING and cmd.support == "double"


def test_a_sideways_push_while_walking_is_survived(robot):
    """10 N s sideways on the torso in the middle of a walk (bench/humanoid_push.py finds the
    largest impulses, with and without the balance feedback)."""
    ctrl, sim = robot
    run(ctrl, sim, 1.0)
    ctrl.set_velocity(0.3, 0.0, 0.0)
    run(ctrl, sim, 3.0)
    sim.push(np.array([0.0, 100.0, 0.0]), 0.1)
    run(ctrl, sim, 4.0)
    assert not sim.truth().fallen
    assert sim.truth().com[0] > 1.5


def test_walks_to_a_goal_turns_there_and_stands():
    """3 m ahead, then a quarter turn in place (the humanoid demo's first leg), with sensor
    noise: the feet land a little off, the goal is re-planned from where they landed, but not
    in its last steps (re-plans that added steps just before the stop fell here after 11.9 s,
    seeds 1-3 of this noise all fell on the demo's path)."""
    ctrl = WalkingController(ControllerConfig())
    sim = BipedSim(BipedSimConfig(seed=2, gyro_noise_rad_s=0.01, acc_noise_mps2=0.1,
                                  wrench_noise_n=2.0))
    sim.reset(ctrl.standing_q)
    sim.set_targets(ctrl.standing_q)
    run(ctrl, sim, 1.0)
    ctrl.set_goal(3.0, 0.0, np.pi / 2)
    cmd = run(ctrl, sim, 25.0, until=lambda c: c.mode is Mode.STANDING)
    truth = sim.truth()
    assert not truth.fallen, truth.t
    assert cmd.mode is Mode.STANDING and cmd.reason.startswith("goal reached")
    assert np.hypot(truth.com[0] - 3.0, truth.com[1]) < 0.1


def test_walks_over_uneven_ground_feeling_for_lower_landings():
    """+-2 cm steps (terrain and sensor noise of bench/humanoid_terrain.py, seed 0): a foot
    that lands lower than the plan goes on down until its sole feels the ground (without
    that search the controller fell here after 5.9 s of walking)."""
    ctrl = WalkingController(ControllerConfig())
    sim = BipedSim(BipedSimConfig(terrain="steps", terrain_seed=0, step_height_m=0.02, seed=0,
                                  gyro_noise_rad_s=0.01, acc_noise_mps2=0.1,
                                  wrench_noise_n=2.0))
    sim.reset(ctrl.standing_q)
    sim.set_targets(ctrl.standing_q)
    run(ctrl, sim, 1.0)
    ctrl.set_velocity(0.3, 0.0, 0.0)
    run(ctrl, sim, 9.0)
    truth = sim.truth()
    assert not truth.fallen, truth.t
    assert truth.com[0] > 2.0
