"""RigidBodyModel and Payload: dynamics identities derived independently of the inertia code."""

import numpy as np
import pinocchio as pin
import pytest

from dg_motion.dynamics.rigid_body import Payload, RigidBodyModel
from dg_motion.errors import MotionInputError
from dg_motion.robots.paths import robot_file

URDF = robot_file("ur5", "ur5.urdf")
Q = np.array([0.3, -1.2, 1.4, -0.5, 1.2, 0.4])


@pytest.fixture(scope="module")
def arm() -> RigidBodyModel:
    return RigidBodyModel.from_urdf(URDF)


def _payload_com_height(arm: RigidBodyModel, q: np.ndarray, com: np.ndarray) -> float:
    """World z [m] of a point fixed in the flange frame (forward kinematics only)."""
    model = arm.base_model
    data = model.createData()
    pin.framesForwardKinematics(model, data, q)
    pose = data.oMf[model.getFrameId("flange")]
    return float((pose.rotation @ com + pose.translation)[2])


def test_gravity_of_point_payload_is_gradient_of_its_potential_energy(arm):
    com = np.array([0.02, -0.03, 0.08])
    mass = 1.7
    loaded = arm.with_payload(Payload.point_mass(mass, com))
    extra = loaded.gravity(Q) - arm.gravity(Q)
    # g(q) = dV/dq with V = m * 9.81 * z(q): central differences of the FK height.
    eps = 1e-6
    grad = np.array([(_payload_com_height(arm, Q + eps * e, com)
                      - _payload_com_height(arm, Q - eps * e, com)) / (2 * eps)
                     for e in np.eye(6)])
    np.testing.assert_allclose(extra, mass * 9.81 * grad, atol=1e-6)


def test_payload_inertia_about_last_axis_adds_to_last_diagonal(arm):
    # The flange frame is the last joint's frame (z = the wrist_3 axis): the payload adds
    # I_zz + m (cx^2 + cy^2) to M[5, 5] (parallel axis theorem).
    payload = Payload(2.0, np.array([0.03, 0.04, 0.1]), np.diag([0.01, 0.012, 0.005]))
    delta = arm.with_payload(payload).mass_matrix(Q) - arm.mass_matrix(Q)
    assert delta[5, 5] == pytest.approx(0.005 + 2.0 * (0.03**2 + 0.04**2), rel=1e-9)


def test_inverse_and_forward_dynamics_are_inverse(arm):
    rng = np.random.default_rng(1)
    loaded = arm.with_payload(Payload.box(1.2, [0.05, 0.05, 0.04], [0.0, 0.0, 0.06]))
    for _ in range(5):
        q, qd, qdd = rng.normal(size=(3, 6))
        tau = loaded.inverse_dynamics(q, qd, qdd)
        np.testing.assert_allclose(loaded.forward_dynamics(q, qd, tau), qdd, atol=1e-9)
        m = loaded.mass_matrix(q)
        np.testing.assert_allclose(m, m.T)
        assert np.linalg.eigvalsh(m).min() > 0.0
        np.testing.assert_allclose(tau, m @ qdd + loaded.nonlinear_effects(q, qd), atol=1e-9)


def test_scaled_inertia_scales_everything_linearly(arm):
    loaded = arm.with_payload(Payload.box(1.0, [0.05, 0.05, 0.04], [0.01, 0.0, 0.05]))
    scaled = loaded.scaled_inertia(1.1)
    np.testing.assert_allclose(scaled.gravity(Q), 1.1 * loaded.gravity(Q), rtol=1e-12,
                               atol=1e-12)
    # the drives' armature (data-sheet values on the diagonal) is not a link inertia: kept
    armature = np.diag(loaded.pin_model.armature)
    assert np.all(np.diag(armature) > 0.0)
    np.testing.assert_allclose(scaled.mass_matrix(Q) - armature,
                               1.1 * (loaded.mass_matrix(Q) - armature), rtol=1e-12, atol=1e-12)
    assert scaled.payload.mass_kg == pytest.approx(1.1)


def test_caller_model_never_mutated():
    model = pin.buildModelFromUrdf(str(URDF))
    before = [model.inertias[j].mass for j in range(model.njoints)]
    arm = RigidBodyModel(model, payload=Payload.point_mass(3.0, [0, 0, 0.1]))
    arm.scaled_inertia(2.0).with_payload(Payload.point_mass(1.0, [0, 0, 0]))
    assert [model.inertias[j].mass for j in range(model.njoints)] == before
    # with_payload replaces the payload, it does not add to it.
    again = arm.with_payload(Payload.point_mass(3.0, [0, 0, 0.1]))
    np.testing.assert_allclose(again.gravity(Q), arm.gravity(Q))


@pytest.mark.parametrize("kwargs", [
    {"mass_kg": -1.0},
    {"mass_kg": float("nan")},
    {"mass_kg": 1.0, "com_m": np.array([0.0, np.inf, 0.0])},
    {"mass_kg": 1.0, "com_m": np.zeros(2)},
    {"mass_kg": 1.0, "inertia_kgm2": np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]])},
    {"mass_kg": 1.0, "inertia_kgm2": np.diag([0.1, 0.1, 0.5])},   # triangle inequality
    {"mass_kg": 0.0, "com_m": np.array([0.1, 0.0, 0.0])},
])
def test_bad_payloads_rejected(kwargs):
    with pytest.raises(MotionInputError):
        Payload(**kwargs)


def test_bad_inputs_rejected(arm, tmp_path):
    with pytest.raises(MotionInputError, match="frame"):
        RigidBodyModel(arm.base_model, payload_frame="no_such_frame")
    with pytest.raises(MotionInputError, match="shape"):
        arm.gravity(np.zeros(5))
    with pytest.raises(MotionInputError, match="non-finite"):
        arm.inverse_dynamics(Q, np.full(6, np.nan), Q)
    with pytest.raises(MotionInputError):
        arm.scaled_inertia(0.0)
    bad = tmp_path / "bad.urdf"
    bad.write_text("<robot name='x'><link name='a'>")
    with pytest.raises(MotionInputError, match="URDF"):
        RigidBodyModel.from_urdf(bad)
    with pytest.raises(MotionInputError, match="not found"):
        RigidBodyModel.from_urdf(tmp_path / "missing.urdf")
