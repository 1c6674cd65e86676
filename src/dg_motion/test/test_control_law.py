"""JointController: the two laws against hand-assembled formulas, saturation, NaN safety,
closed-loop tracking and the payload re-tuning."""

import math
import time

import numpy as np
import pinocchio as pin
import pytest

from dg_motion.dynamics.control_law import ControlMode, EffortStatus, JointController
from dg_motion.dynamics.rigid_body import Payload, RigidBodyModel
from dg_motion.errors import MotionInputError
from dg_motion.robots.paths import robot_file

Q = np.array([0.3, -1.2, 1.4, -0.5, 1.2, 0.4])
EFFORT = np.array([150.0, 150.0, 150.0, 28.0, 28.0, 28.0])
PART = Payload.box(2.5, [0.08, 0.08, 0.06], [0.06, 0.0, 0.09])


@pytest.fixture(scope="module")
def arm() -> RigidBodyModel:
    return RigidBodyModel.from_urdf(robot_file("ur5", "ur5.urdf"))


def test_laws_match_the_textbook_formulas(arm):
    rng = np.random.default_rng(3)
    kp, kd = np.full(6, 400.0), np.full(6, 40.0)
    ct = JointController(arm, ControlMode.COMPUTED_TORQUE, kp, kd, np.full(6, np.inf))
    pd = JointController(arm, "pd_gravity", kp, kd, np.full(6, np.inf))
    for _ in range(5):
        q, qd, q_ref, qd_ref, qdd_ref = rng.normal(size=(5, 6)) * 0.3
        v = kp * (q_ref - q) + kd * (qd_ref - qd)
        m = arm.mass_matrix(q)
        np.testing.assert_allclose(ct.effort(q, qd, q_ref, qd_ref, qdd_ref),
                                   m @ (qdd_ref + v) + arm.nonlinear_effects(q, qd), atol=1e-9)
        np.testing.assert_allclose(pd.effort(q, qd, q_ref, qd_ref, qdd_ref),
                                   arm.gravity(q) + m @ v, atol=1e-9)


def test_at_rest_on_reference_both_laws_give_gravity(arm):
    z = np.zeros(6)
    for mode in ControlMode:
        c = JointController(arm, mode, 400.0, 40.0, EFFORT)
        np.testing.assert_allclose(c.effort(Q, z, Q, z, z), arm.gravity(Q), atol=1e-12)
        assert c.last_status is EffortStatus.OK


def test_saturation(arm):
    z = np.zeros(6)
    c = JointController(arm, ControlMode.COMPUTED_TORQUE, 400.0, 40.0, EFFORT)
    tau = c.effort(Q, z, Q + 3.0, z, z)
    assert c.last_status is EffortStatus.SATURATED
    assert np.all(np.abs(tau) <= EFFORT)
    assert np.any(np.abs(tau) == EFFORT)


@pytest.mark.parametrize("which", range(5))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_and_commands_nothing(arm, which, bad):
    c = JointController(arm, ControlMode.PD_GRAVITY, 400.0, 40.0, EFFORT)
    args = [Q.copy(), np.zeros(6), Q.copy(), np.zeros(6), np.zeros(6)]
    args[which][2] = bad
    with pytest.raises(MotionInputError, match="non-finite"):
        c.effort(*args)


def test_bad_construction_and_shapes(arm):
    with pytest.raises(MotionInputError, match="mode"):
        JointController(arm, "velocity", 1.0, 1.0, EFFORT)
    with pytest.raises(MotionInputError, match="kp"):
        JointController(arm, "pd_gravity", [1.0, 2.0], 1.0, EFFORT)
    with pytest.raises(MotionInputError, match="kd"):
        JointController(arm, "pd_gravity", 1.0, -1.0, EFFORT)
    c = JointController(arm, "pd_gravity", 1.0, 1.0, EFFORT)
    with pytest.raises(MotionInputError, match="shape"):
        c.effort(np.zeros(5), np.zeros(6), Q, np.zeros(6), np.zeros(6))


def _quintic(q0, q1, duration_s, t):
    """Rest-to-rest quintic (positions, velocities, accelerations)."""
    s = np.clip(t / duration_s, 0.0, 1.0)[:, None]
    d = q1 - q0
    p = 10 * s**3 - 15 * s**4 + 6 * s**5
    v = (30 * s**2 - 60 * s**3 + 30 * s**4) / duration_s
    a = (60 * s - 180 * s**2 + 120 * s**3) / duration_s**2
    return q0 + p * d, v * d, a * d


def _track(plant: RigidBodyModel, ctrl: JointController, q0, q1) -> float:
    """1 kHz closed loop, plant = ABA (semi-implicit Euler, 4 substeps); max error [rad]."""
    dt, sub = 1e-3, 4
    t = np.arange(0.0, 1.2, dt)
    qr, vr, ar = _quintic(q0, q1, 1.0, t)
    model, data = plant.pin_model, plant.pin_model.createData()
    q, qd, err = q0.copy(), np.zeros(6), 0.0
    for k in range(len(t)):
        err = max(err, float(np.abs(qr[k] - q).max()))
        tau = ctrl.effort(q, qd, qr[k], vr[k], ar[k])
        for _ in range(sub):
            qd = qd + dt / sub * pin.aba(model, data, q, qd, tau)
            q = q + dt / sub * qd
    return err


def test_tracking_and_payload_retuning(arm):
    q0 = np.array([0.0, -1.6, 1.5, -1.5, -1.5, 0.0])
    q1 = np.array([1.0, -1.2, 1.9, -2.3, -1.3, 0.8])
    plant = arm.with_payload(PART)
    exact = JointController(plant, "computed_torque", 400.0, 40.0, EFFORT)
    pd = JointController(plant, "pd_gravity", 400.0, 40.0, EFFORT)
    e_exact, e_pd = _track(plant, exact, q0, q1), _track(plant, pd, q0, q1)
    assert e_exact < 2e-3
    assert e_pd > 2.0 * e_exact
    # The part is picked but the controller still believes the gripper empty.
    ctrl = JointController(arm, "computed_torque", 400.0, 40.0, EFFORT)
    e_stale = _track(plant, ctrl, q0, q1)
    ctrl.set_payload(PART)
    assert ctrl.payload == PART
    e_new = _track(plant, ctrl, q0, q1)
    assert e_stale > 10.0 * e_exact
    assert e_new == pytest.approx(e_exact, rel=1e-6)


def test_effort_is_fast_enough_for_1khz(arm):
    c = JointController(arm, "computed_torque", 400.0, 40.0, EFFORT)
    z = np.zeros(6)
    times = []
    for _ in range(2000):
        t0 = time.perf_counter()
        c.effort(Q, z, Q, z, z)
        times.append(time.perf_counter() - t0)
    assert math.isfinite(np.median(times))
    assert np.median(times) < 100e-6


def _hold_error(arm, controller, seconds=1.5, dt=0.001):
    """Hold Q with the controller on a plant carrying PART the controller does not know."""
    plant = arm.with_payload(PART)
    q, qd = Q.copy(), np.zeros(6)
    for _ in range(int(seconds / dt)):
        tau = controller.effort(q, qd, Q, np.zeros(6), np.zeros(6))
        qd = qd + plant.forward_dynamics(q, qd, tau) * dt
        q = q + qd * dt
    return np.abs(Q - q).max()


def test_integral_action_removes_the_error_of_an_unknown_payload(arm):
    kp, kd = np.full(6, 400.0), np.full(6, 40.0)
    without = _hold_error(arm, JointController(arm, "pd_gravity", kp, kd, EFFORT))
    pi = JointController(arm, "pd_gravity", kp, kd, EFFORT, ki=np.full(6, 4000.0))
    with_i = _hold_error(arm, pi)
    # without integral action the unknown weight leaves a steady error (~ tau / (kp M))
    assert without > 5e-3 and with_i < without / 100
    pi.reset_integral()
    assert _hold_error(arm, pi, seconds=0.002) < without   # starts again from zero


def test_integral_gain_must_keep_the_loop_stable(arm):
    with pytest.raises(MotionInputError, match="kp \\* kd"):
        JointController(arm, "pd_gravity", 400.0, 40.0, EFFORT, ki=16000.0)
