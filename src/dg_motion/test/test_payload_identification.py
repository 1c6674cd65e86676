"""Payload identification: regressor exactness, recovery under noise, excitation limits."""

import numpy as np
import pinocchio as pin
import pytest

from dg_motion.dynamics.payload_identification import (
    excitation_trajectory,
    identify_payload,
    payload_regressor,
)
from dg_motion.dynamics.rigid_body import Payload, RigidBodyModel
from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import load_joint_limits
from dg_motion.robots.paths import robot_file

Q_CENTER = np.array([0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0])


@pytest.fixture(scope="module")
def arm() -> RigidBodyModel:
    return RigidBodyModel.from_urdf(robot_file("ur5", "ur5.urdf"))


@pytest.fixture(scope="module")
def limits(arm):
    return load_joint_limits(robot_file("ur5", "joint_limits.yaml"), names=arm.names)


@pytest.fixture(scope="module")
def excitation(arm, limits):
    traj = excitation_trajectory(limits, Q_CENTER, 8.0, seed=3, model=arm, candidates=4)
    return traj.sample(np.arange(0.0, 8.0, 2e-3))


@pytest.mark.parametrize("frame", ["flange", "tool0"])
def test_regressor_reproduces_payload_torques(arm, frame):
    # tool0 sits 0.15 m off the last joint: checks the frame-to-joint parameter map.
    base = RigidBodyModel(arm.base_model, payload_frame=frame)
    payload = Payload(1.3, np.array([0.02, -0.01, 0.05]),
                      np.array([[0.004, 0.001, 0.0], [0.001, 0.005, 0.0], [0.0, 0.0, 0.003]]))
    loaded = base.with_payload(payload)
    rng = np.random.default_rng(0)
    q, qd, qdd = rng.normal(size=(3, 4, 6))
    phi = pin.Inertia(payload.mass_kg, payload.com_m, payload.inertia_kgm2).toDynamicParameters()
    expected = np.array([loaded.inverse_dynamics(*s) - base.inverse_dynamics(*s)
                         for s in zip(q, qd, qdd, strict=True)])
    np.testing.assert_allclose(payload_regressor(base, q, qd, qdd) @ phi, expected.reshape(-1),
                               atol=1e-10)


def test_noise_free_recovery_is_exact(arm, excitation):
    q, qd, qdd = excitation
    payload = Payload.box(0.8, [0.04, 0.06, 0.05], [0.03, 0.0, 0.07])
    loaded = arm.with_payload(payload)
    tau = np.array([loaded.inverse_dynamics(*s) for s in zip(q, qd, qdd, strict=True)])
    est = identify_payload(arm, q, qd, qdd, tau)
    assert est.mass_kg == pytest.approx(0.8, abs=1e-9)
    np.testing.assert_allclose(est.com_m, payload.com_m, atol=1e-9)
    np.testing.assert_allclose(est.inertia_kgm2, payload.inertia_kgm2, atol=1e-8)
    assert est.residual_rms < 1e-9
    assert est.payload() == Payload(est.mass_kg, est.com_m, est.inertia_kgm2)


@pytest.mark.parametrize("mass_kg, com_m", [(0.5, [0.0, 0.1, 0.0]), (3.0, [0.05, -0.05, 0.07])])
def test_noisy_recovery_within_goals(arm, excitation, mass_kg, com_m):
    q, qd, qdd = excitation
    payload = Payload.box(mass_kg, [0.05, 0.05, 0.05], com_m)
    loaded = arm.with_payload(payload)
    tau = np.array([loaded.inverse_dynamics(*s) for s in zip(q, qd, qdd, strict=True)])
    sigma = 0.005 * np.array([150.0, 150.0, 150.0, 28.0, 28.0, 28.0])
    tau += np.random.default_rng(5).normal(size=tau.shape) * sigma
    est = identify_payload(arm, q, qd, qdd, tau)
    assert abs(est.mass_kg - mass_kg) < 0.03 * mass_kg
    assert np.linalg.norm(est.com_m - payload.com_m) < 5e-3
    assert est.condition_number < 100.0
    # The residual is the noise: its RMS matches the noise's (mean over joints of sigma^2).
    assert est.residual_rms == pytest.approx(np.sqrt(np.mean(sigma**2)), rel=0.05)


def test_excitation_respects_limits_and_rests_at_ends(limits):
    traj = excitation_trajectory(limits, Q_CENTER, 6.0, seed=11, amplitude_rad=0.8)
    t = np.linspace(0.0, 6.0, 6001)
    q, qd, qdd, qddd = traj.derivatives(t)
    assert np.all(np.abs(q - Q_CENTER) <= 0.8 + 1e-9)
    assert np.all(np.abs(qd) <= limits.velocity_max * 0.8 * 1.001)
    assert np.all(np.abs(qdd) <= limits.acceleration_max * 0.8 * 1.001)
    assert np.all(np.abs(qddd) <= limits.jerk_max * 0.8 * 1.001)
    for k in (0, -1):
        np.testing.assert_allclose(q[k], Q_CENTER, atol=1e-12)
        np.testing.assert_allclose(qd[k], 0.0, atol=1e-12)
        np.testing.assert_allclose(qdd[k], 0.0, atol=1e-12)
    # Derivatives are consistent (central differences).
    h = t[1] - t[0]
    np.testing.assert_allclose((q[2:] - q[:-2]) / (2 * h), qd[1:-1], atol=1e-4)
    np.testing.assert_allclose((qd[2:] - qd[:-2]) / (2 * h), qdd[1:-1], atol=1e-3)
    again = excitation_trajectory(limits, Q_CENTER, 6.0, seed=11, amplitude_rad=0.8)
    np.testing.assert_array_equal(again.sample(t)[0], q)


def test_static_data_rejected_for_inertia_but_fine_for_mass(arm):
    rng = np.random.default_rng(2)
    poses = Q_CENTER + rng.uniform(-1.0, 1.0, (8, 6))
    z = np.zeros_like(poses)
    payload = Payload.point_mass(1.5, [0.0, 0.04, 0.06])
    tau = np.array([arm.with_payload(payload).gravity(p) for p in poses])
    with pytest.raises(MotionInputError, match="condition number"):
        identify_payload(arm, poses, z, z, tau)
    est = identify_payload(arm, poses, z, z, tau, inertia=False)
    assert est.mass_kg == pytest.approx(1.5, abs=1e-9)
    assert est.inertia_kgm2 is None


def test_bad_inputs(arm, limits, excitation):
    q, qd, qdd = excitation
    with pytest.raises(MotionInputError, match="shape"):
        identify_payload(arm, q, qd, qdd, q[:, :5])
    bad = q.copy()
    bad[3, 2] = np.nan
    with pytest.raises(MotionInputError, match="non-finite"):
        identify_payload(arm, bad, qd, qdd, q)
    with pytest.raises(MotionInputError, match="limits"):
        excitation_trajectory(limits, np.array([0, 0, 4.0, 0, 0, 0]), 5.0, seed=0)
    with pytest.raises(MotionInputError, match="duration"):
        excitation_trajectory(limits, Q_CENTER, 0.0, seed=0)
