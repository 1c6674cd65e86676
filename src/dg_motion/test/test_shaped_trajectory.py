"""Shaped trajectories: the convolution, limits kept by sampling, residual vibration."""

import math

import numpy as np
import pytest
import ruckig
from scipy.signal import cont2discrete

from dg_motion.errors import MotionInputError
from dg_motion.shaping.input_shaping import Shaper, design_shaper, residual_vibration
from dg_motion.shaping.shaped_trajectory import ShapedTrajectory
from dg_motion.trajectory.types import SampledTrajectory, Trajectory

V_MAX = np.array([1.0, 2.0, 0.5])
A_MAX = np.array([4.0, 6.0, 3.0])
J_MAX = np.array([40.0, 80.0, 20.0])


class RuckigMove:
    """A rest-to-rest Ruckig trajectory as a dg_motion Trajectory (test adapter)."""

    def __init__(self, q0, q1, v=V_MAX, a=A_MAX, j=J_MAX):
        dof = len(q0)
        inp = ruckig.InputParameter(dof)
        inp.current_position, inp.target_position = list(q0), list(q1)
        inp.max_velocity, inp.max_acceleration, inp.max_jerk = list(v), list(a), list(j)
        self._traj = ruckig.Trajectory(dof)
        assert ruckig.Ruckig(dof).calculate(inp, self._traj) == ruckig.Result.Working
        self.names = tuple(f"j{i}" for i in range(dof))
        self.duration_s = self._traj.duration

    def sample(self, t_s):
        out = [self._traj.at_time(float(np.clip(t, 0.0, self.duration_s))) for t in t_s]
        return tuple(np.array([o[k] for o in out]).reshape(len(t_s), -1) for k in range(3))


@pytest.fixture(scope="module")
def move():
    return RuckigMove([0.0, 0.5, -0.2], [1.2, -0.7, 0.3])


def test_is_a_trajectory_with_longer_duration(move):
    s = design_shaper("ei2", 6.0, 0.05)
    st = ShapedTrajectory(move, s)
    assert isinstance(st, Trajectory)
    assert st.names == move.names
    assert st.duration_s == pytest.approx(move.duration_s + s.duration_s)
    q, qd, qdd = st.sample(np.array([0.0, st.duration_s, st.duration_s + 1.0]))
    np.testing.assert_allclose(q[0], [0.0, 0.5, -0.2], atol=1e-12)
    np.testing.assert_allclose(q[1:], [[1.2, -0.7, 0.3]] * 2, atol=1e-12)
    np.testing.assert_allclose(qd, 0.0, atol=1e-12)
    np.testing.assert_allclose(qdd, 0.0, atol=1e-12)


def test_convolution_by_hand(move):
    s = Shaper(np.array([0.0, 0.1, 0.25]), np.array([0.2, 0.5, 0.3]))
    st = ShapedTrajectory(move, s)
    for t in (0.05, 0.2, 0.7, move.duration_s + 0.1):
        expect = sum(a * move._traj.at_time(float(np.clip(t - ti, 0, move.duration_s)))[0][1]
                     for a, ti in ((0.2, 0.0), (0.5, 0.1), (0.3, 0.25)))
        assert st.sample(np.array([t]))[0][0, 1] == pytest.approx(expect, abs=1e-12)


def test_single_impulse_is_identity(move):
    st = ShapedTrajectory(move, Shaper(np.array([0.0]), np.array([1.0])))
    t = np.linspace(0, move.duration_s, 57)
    for got, want in zip(st.sample(t), move.sample(t), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("kind", ["zv", "mzv", "zvd", "ei", "ei2", "ei3"])
def test_limits_hold_by_sampling(move, kind):
    st = ShapedTrajectory(move, design_shaper(kind, 3.0, 0.1))
    dt = 5e-4
    t = np.arange(0.0, st.duration_s + dt, dt)
    q, qd, qdd = st.sample(t)
    assert np.all(np.abs(qd) <= V_MAX + 1e-9)
    assert np.all(np.abs(qdd) <= A_MAX + 1e-9)
    jerk = np.diff(qdd, axis=0) / dt
    assert np.all(np.abs(jerk) <= J_MAX * (1 + 1e-6) + 1e-6)
    lo = np.minimum([0.0, 0.5, -0.2], [1.2, -0.7, 0.3])
    hi = np.maximum([0.0, 0.5, -0.2], [1.2, -0.7, 0.3])
    assert np.all(q >= lo - 1e-12) and np.all(q <= hi + 1e-12)
    # derivatives are consistent (the shaped motion is one smooth motion)
    np.testing.assert_allclose(np.gradient(q, dt, axis=0)[1:-1], qd[1:-1], atol=2e-3)
    np.testing.assert_allclose(np.gradient(qd, dt, axis=0)[1:-1], qdd[1:-1], atol=2e-2)


def _residual_amplitude(traj, f_hz, zeta, t_eval):
    """Simulate x'' + 2 zeta w x' + w^2 x = -a(t) (a mode excited by the joint acceleration of
    joint 0), exact first-order-hold discretisation; free-vibration amplitude at t_eval."""
    w = 2 * math.pi * f_hz
    wd = w * math.sqrt(1 - zeta**2)
    dt = 2e-4
    a_c = np.array([[0.0, 1.0], [-w * w, -2 * zeta * w]])
    b_c = np.array([[0.0], [-1.0]])
    # foh: z[k+1] = ad z[k] + bd u[k], x[k] = cd z[k] + dd u[k] (shifted state coordinates)
    ad, bd, cd, dd, _ = cont2discrete((a_c, b_c, np.eye(2), np.zeros((2, 1))), dt,
                                      method="foh")
    t = np.arange(0.0, t_eval + dt / 2, dt)
    acc = traj.sample(t)[2][:, 0]
    z = np.zeros(2)
    for u in acc[:-1]:
        z = ad @ z + bd[:, 0] * u
    x, xd = cd @ z + dd[:, 0] * acc[-1]
    return math.hypot(x, (xd + zeta * w * x) / wd)


def test_shaped_move_residual_matches_formula(move):
    f, zeta = 4.0, 0.05
    for kind in ("zv", "zvd", "ei"):
        s = design_shaper(kind, f * 1.1, zeta)   # 10 % frequency error
        plain = _residual_amplitude(move, f, zeta, move.duration_s + 0.5)
        shaped = _residual_amplitude(ShapedTrajectory(move, s), f, zeta,
                                     move.duration_s + 0.5 + s.duration_s)
        assert shaped / plain == pytest.approx(residual_vibration(s, f, zeta), abs=2e-3)


def test_bad_input(move):
    moving = SampledTrajectory(("a",), np.array([0.0, 1.0]), np.array([[0.0], [1.0]]),
                               np.array([[1.0], [1.0]]), np.zeros((2, 1)))
    with pytest.raises(MotionInputError, match="start at rest"):
        ShapedTrajectory(moving, design_shaper("zv", 5.0))
    with pytest.raises(MotionInputError, match="Shaper"):
        ShapedTrajectory(move, [0.5, 0.5])
    st = ShapedTrajectory(move, design_shaper("zv", 5.0))
    with pytest.raises(MotionInputError, match="non-finite"):
        st.sample(np.array([0.1, math.nan]))
