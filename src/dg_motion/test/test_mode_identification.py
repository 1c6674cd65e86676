"""Mode identification from free vibration: synthetic signals with known (f, zeta)."""

import math

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.shaping.mode_identification import identify_mode


def _ring(t, f, zeta, amp=1.0, phase=0.3):
    w = 2 * math.pi * f
    return amp * np.exp(-zeta * w * t) * np.cos(w * math.sqrt(1 - zeta**2) * t + phase)


def test_noise_free_single_mode_is_exact():
    t = np.arange(0.0, 2.0, 1e-3)
    est = identify_mode(t, _ring(t, 6.3, 0.04, 0.8) + 0.1)
    assert est.frequency_hz == pytest.approx(6.3, rel=1e-6)
    assert est.damping_ratio == pytest.approx(0.04, abs=1e-6)
    assert est.amplitude == pytest.approx(0.8, rel=1e-5)
    assert est.fit_rms < 1e-8


@pytest.mark.parametrize("f,zeta,seed", [(4.0, 0.01, 1), (7.5, 0.05, 2), (12.0, 0.1, 3),
                                         (15.0, 0.02, 4), (4.0, 0.1, 5)])
def test_noise_drift_and_second_mode(f, zeta, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 2.5, 1e-3)
    y = (_ring(t, f, zeta, 1.0, rng.uniform(0, 6))
         + _ring(t, 2.9 * f, 0.03, 0.3, rng.uniform(0, 6))     # second, weaker mode
         + 0.05 * rng.standard_normal(len(t))                  # accelerometer noise
         + 0.2 + 0.08 * t)                                     # offset and drift
    est = identify_mode(t + 3.0, y)
    assert est.frequency_hz == pytest.approx(f, rel=0.01)
    assert est.damping_ratio == pytest.approx(zeta, abs=0.01)
    assert len(est.modes) == 2
    assert est.modes[1][0] == pytest.approx(2.9 * f, rel=0.02)
    assert est.fit_rms == pytest.approx(0.05, rel=0.1)


def test_window_start_and_jittered_stamps():
    rng = np.random.default_rng(7)
    t = np.sort(np.arange(0.0, 3.0, 1e-3) + rng.uniform(-2e-4, 2e-4, 3000))
    t_end = 1.0                                # a "move" before, free ringing after
    y = np.where(t < t_end, 5.0 * np.sin(2 * math.pi * 1.3 * t),
                 _ring(t - t_end, 9.0, 0.03)) + 0.01 * rng.standard_normal(len(t))
    est = identify_mode(t, y, t_start_s=t_end)
    assert est.frequency_hz == pytest.approx(9.0, rel=0.005)
    assert est.damping_ratio == pytest.approx(0.03, abs=0.005)


def test_position_and_acceleration_give_the_same_mode():
    t = np.arange(0.0, 2.0, 1e-3)
    f, zeta = 5.0, 0.06
    q = _ring(t, f, zeta, 1e-3)
    acc = np.gradient(np.gradient(q, t), t)
    e_q, e_a = identify_mode(t, q), identify_mode(t[5:-5], acc[5:-5])
    assert e_q.frequency_hz == pytest.approx(e_a.frequency_hz, rel=1e-3)
    assert e_q.damping_ratio == pytest.approx(e_a.damping_ratio, abs=1e-3)


def test_pure_noise_keeps_one_mode():
    rng = np.random.default_rng(11)
    t = np.arange(0.0, 2.0, 1e-3)
    est = identify_mode(t, _ring(t, 8.0, 0.05) + 0.05 * rng.standard_normal(len(t)))
    assert len(est.modes) == 1


def test_bad_input():
    t = np.arange(0.0, 1.0, 1e-3)
    with pytest.raises(MotionInputError, match="times but"):
        identify_mode(t, np.zeros(10))
    y = _ring(t, 5.0, 0.02)
    y[3] = math.nan
    with pytest.raises(MotionInputError, match="non-finite"):
        identify_mode(t, y)
    with pytest.raises(MotionInputError, match="samples in the window"):
        identify_mode(t, _ring(t, 5.0, 0.02), t_start_s=0.99)
    with pytest.raises(MotionInputError, match="flat"):
        identify_mode(t, np.full(len(t), 0.3))
    with pytest.raises(MotionInputError, match="increase"):
        identify_mode(t[::-1], _ring(t, 5.0, 0.02))
