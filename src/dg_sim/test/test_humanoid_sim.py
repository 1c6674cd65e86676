"""The MuJoCo biped: model against Pinocchio, standing, foot wrenches, pushes, bad input, terrain.

Expected values come from an independent reading of the same URDF (Pinocchio) or from
statics (the ground carries m g when nothing moves), not from the simulator itself.
"""

import dataclasses
import math
from pathlib import Path

import mujoco
import numpy as np
import pinocchio as pin
import pytest

from dg_motion.humanoid.types import LEG_JOINTS, Sensors
from dg_sim.humanoid.model import TerrainSpec
from dg_sim.humanoid.sim import BipedSim, BipedSimConfig, BipedSimError

BIPED = Path(__file__).resolve().parents[2] / "dg_motion" / "config" / "robots" / "biped"
URDF = BIPED / "biped.urdf"
G = 9.81
SOLE_HALF = (0.11, 0.06)     # sole box of biped.urdf [m]


def make_sim(**kw) -> BipedSim:
    return BipedSim(BipedSimConfig(urdf_path=str(URDF), **kw))


@pytest.fixture(scope="module")
def standing():
    """A sim after 3 s on standing_posture targets (shared: the run is deterministic)."""
    sim = make_sim()
    q = sim.standing_posture()
    sim.reset(q)
    sim.set_targets(q)
    log = []
    for _ in range(600):
        sim.step(0.005)
        log.append((sim.truth(), sim.sensors()))
    return sim, q, log


def pin_model():
    return pin.buildModelFromUrdf(str(URDF), pin.JointModelFreeFlyer())


def pin_q(model, sim: BipedSim) -> np.ndarray:
    """Pinocchio configuration of the simulator's current state (free flyer + joints)."""
    d = sim.data
    q = pin.neutral(model)
    w, x, y, z = d.qpos[3:7]
    q[:7] = [*d.qpos[0:3], x, y, z, w]
    for name, value in zip(sim.joint_names, sim.sensors().q, strict=True):
        q[model.joints[model.getJointId(name)].idx_q] = value
    return q


def test_joints_and_sensors_are_those_the_walking_controller_expects():
    """The simulator never imports the controller; its joint order (the servo file's) and its
    sensor record must still be what dg_motion's walking controller takes."""
    sim = make_sim()
    assert sim.joint_names == LEG_JOINTS
    reading = sim.sensors()
    assert {f.name for f in dataclasses.fields(reading)} == {
        f.name for f in dataclasses.fields(Sensors) if f.name != "imu_valid"}
    assert Sensors(**vars(reading)).imu_valid


def test_mass_com_and_sole_frames_agree_with_pinocchio():
    sim = make_sim()
    model = pin_model()
    data = model.createData()
    assert sim.total_mass_kg == pytest.approx(pin.computeTotalMass(model), rel=1e-9)
    assert 55.0 <= sim.total_mass_kg <= 65.0
    rng = np.random.default_rng(3)
    lo, hi = sim.joint_limits()
    for q_legs in (sim.standing_posture(), lo + (hi - lo) * rng.uniform(0.2, 0.8, 12)):
        sim.data.qpos[sim._qadr] = q_legs
        sim.data.qpos[3:7] = [math.cos(0.2), 0.1, 0.05, math.sin(0.2)]
        sim.data.qpos[3:7] /= np.linalg.norm(sim.data.qpos[3:7])
        mujoco.mj_forward(sim.model, sim.data)
        q = pin_q(model, sim)
        com = pin.centerOfMass(model, data, q)
        np.testing.assert_allclose(sim.truth().com, com, atol=1e-9)
        pin.framesForwardKinematics(model, data, q)
        for name, pose in zip(("l_sole", "r_sole"), sim.sole_poses(), strict=True):
            ref = data.oMf[model.getFrameId(name)]
            np.testing.assert_allclose(pose[:3, 3], ref.translation, atol=1e-9)
            np.testing.assert_allclose(pose[:3, :3], ref.rotation, atol=1e-9)


def test_standing_posture_is_crouched_level_and_balanced():
    sim = make_sim()
    q = sim.standing_posture()
    knee = q[[sim.joint_names.index("l_knee"), sim.joint_names.index("r_knee")]]
    assert np.all((knee >= 0.3) & (knee <= 0.5))
    lo, hi = sim.joint_limits()
    assert np.all((q >= lo) & (q <= hi))
    sim.reset(q)
    soles = sim.sole_poses()
    for pose in soles:
        assert pose[2, 3] == pytest.approx(0.0, abs=1e-9)           # on the ground
        np.testing.assert_allclose(pose[:3, 2], [0, 0, 1], atol=1e-9)  # flat
    com = sim.truth().com
    assert com[0] == pytest.approx(np.mean([p[0, 3] for p in soles]), abs=1e-6)
    assert 0.75 < com[2] < 0.95
    # feet under the hips: sole centres at the hip width of the URDF (0.192 m apart)
    assert soles[0][1, 3] - soles[1][1, 3] == pytest.approx(0.192, abs=1e-9)


def inside_feet(sim: BipedSim, xy: np.ndarray, margin: float) -> bool:
    """Within the box around both soles (flat, parallel feet), shrunk by ``margin``."""
    soles = sim.sole_poses()
    xs = [p[0, 3] for p in soles]
    ys = [p[1, 3] for p in soles]
    return (min(xs) - SOLE_HALF[0] + margin <= xy[0] <= max(xs) + SOLE_HALF[0] - margin
            and min(ys) - SOLE_HALF[1] + margin <= xy[1] <= max(ys) + SOLE_HALF[1] - margin)


def test_stands_three_seconds_with_com_over_the_feet(standing):
    sim, _, log = standing
    assert sim.t == pytest.approx(3.0)
    assert not any(tr.fallen for tr, _ in log)
    for tr, _ in log:
        assert inside_feet(sim, tr.com[:2], margin=0.05)
        assert tr.zmp is not None and inside_feet(sim, tr.zmp, margin=0.03)
    z = [tr.pelvis_pos[2] for tr, _ in log]
    assert max(z) - min(z) < 0.01                    # settles on the servos, does not sag
    # nearly at rest: the sway on the servos' compliance (leg_servos.yaml) has decayed
    speeds = [np.linalg.norm(tr.com_vel) for tr, _ in log]
    assert max(speeds[-100:]) < 5e-3 < max(speeds[:100])


def test_foot_wrenches_carry_the_weight_and_give_the_true_zmp(standing):
    sim, _, log = standing
    mg = sim.total_mass_kg * G
    for tr, s in log[100:]:                          # after the first 0.5 s of settling
        fz = s.left_wrench[2] + s.right_wrench[2]
        assert fz == pytest.approx(mg, rel=0.03)
        assert fz == pytest.approx(tr.contact_force_n, rel=1e-4)
    # ZMP from the two F/T sensors (moments about each sole centre, sole frames = world
    # axes on flat ground) equals the ZMP from the contact points
    tr, s = log[-1]
    soles = sim.sole_poses()
    num, den = np.zeros(2), 0.0
    for w, pose in zip((s.left_wrench, s.right_wrench), soles, strict=True):
        px, py = -w[4] / w[2], w[3] / w[2]
        num += w[2] * (pose[:2, 3] + [px, py])
        den += w[2]
    np.testing.assert_allclose(num / den, tr.zmp, atol=1e-4)
    # symmetric stance: each foot carries half
    assert s.left_wrench[2] == pytest.approx(s.right_wrench[2], rel=0.02)


def test_imu_reads_gravity_and_level_orientation(standing):
    _, _, log = standing
    s = log[-1][1]
    np.testing.assert_allclose(s.imu_acc, [0.0, 0.0, G], atol=0.2)
    np.testing.assert_allclose(s.imu_gyro, 0.0, atol=0.02)
    assert abs(s.imu_quat[0]) == pytest.approx(1.0, abs=1e-3)


def run(sim: BipedSim, seconds: float) -> bool:
    for _ in range(int(round(seconds / 0.005))):
        sim.step(0.005)
        if sim.truth().fallen:
            return True
    return False


def test_small_push_is_withstood_and_large_push_makes_it_fall():
    sim = make_sim()
    q = sim.standing_posture()
    for force, falls in (((40.0, 0.0, 0.0), False), ((0.0, 600.0, 0.0), True),
                         ((800.0, 0.0, 0.0), True)):
        sim.reset(q)
        run(sim, 0.2)
        sim.push(force, 0.2)
        assert sim.pushing
        assert run(sim, 2.5) is falls, force
        if falls:
            tr = sim.truth()
            tilt = math.acos(1 - 2 * (tr.pelvis_quat[1] ** 2 + tr.pelvis_quat[2] ** 2))
            assert tr.pelvis_pos[2] < 0.5 * sim.standing_pelvis_height_m \
                or tilt > math.radians(45)


def test_push_is_applied_for_its_duration_only():
    sim = make_sim()
    sim.reset(sim.standing_posture())
    sim.push((30.0, 0.0, 0.0), 0.0125)
    sim.step(0.01)
    assert sim.pushing
    sim.step(0.005)       # the push ends inside this step: it stops at its end time
    assert not sim.pushing
    assert not np.any(sim.data.xfrc_applied)


def test_bad_targets_raise_and_leave_the_previous_targets():
    sim = make_sim()
    q = sim.standing_posture()
    sim.set_targets(q)
    lo, hi = sim.joint_limits()
    for bad in ([math.nan] + [0.0] * 11, [0.0] * 11 + [math.inf], [0.0] * 11,
                np.where(np.arange(12) == 3, hi + 0.1, q), "twelve"):
        with pytest.raises(ValueError):
            sim.set_targets(bad)
        np.testing.assert_array_equal(sim.targets(), q)
    run(sim, 0.1)
    assert np.all(np.isfinite(sim.data.qpos)) and np.all(np.isfinite(sim.data.ctrl))
    with pytest.raises(BipedSimError, match="multiple of the physics step"):
        sim.step(0.0025)
    with pytest.raises(BipedSimError):
        sim.push((math.nan, 0.0, 0.0), 0.1)
    with pytest.raises(BipedSimError):
        sim.push((10.0, 0.0, 0.0), 0.0)
    with pytest.raises(BipedSimError, match="soles are not flat"):
        sim.reset(np.where(np.arange(12) == 4, -0.3, 0.0))   # left ankle pitched
    with pytest.raises(BipedSimError, match="terrain"):
        make_sim(terrain="hills")


def test_steps_terrain_is_reproducible_from_its_seed():
    a = TerrainSpec("steps", seed=7, step_height_m=0.02).tiles()
    b = TerrainSpec("steps", seed=7, step_height_m=0.02).tiles()
    c = TerrainSpec("steps", seed=8, step_height_m=0.02).tiles()
    assert a == b and a != c
    heights = np.array([t.height_m for t in a])
    assert np.all(np.abs(heights) <= 0.02) and np.ptp(heights) > 0.03
    near = [t for t in a if math.hypot(t.x_m, t.y_m) <= 0.45]
    assert near and all(t.height_m == 0.0 for t in near)     # flat start
    sim = make_sim(terrain="steps", terrain_seed=7)
    far = next(t for t in a if abs(t.height_m) > 0.01)
    assert sim.ground_height(far.x_m, far.y_m) == far.height_m
    # the robot stands on a tile away from the start, both soles on it
    sim.reset(sim.standing_posture(), base_xy_yaw=(far.x_m, far.y_m, 0.0))
    assert not run(sim, 1.0)
    for pose in sim.sole_poses():
        assert pose[2, 3] == pytest.approx(far.height_m, abs=3e-3)


def test_same_seed_same_run():
    runs = []
    for _ in range(2):
        sim = make_sim(seed=5, gyro_noise_rad_s=0.01)
        sim.reset(sim.standing_posture())
        sim.push((50.0, 20.0, 0.0), 0.1)
        run(sim, 0.5)
        runs.append((sim.data.qpos.copy(), sim.sensors().imu_gyro))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
