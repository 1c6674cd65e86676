"""Input shapers: expected values derived by hand or from the published closed forms."""

import math

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.shaping.input_shaping import (
    Shaper,
    ShaperKind,
    design_shaper,
    insensitivity_band,
    residual_vibration,
)

ALL_KINDS = list(ShaperKind)


def _impulse_train_amplitude(shaper: Shaper, f_hz: float, zeta: float) -> float:
    """Residual amplitude of an oscillator hit by the impulses relative to a single unit impulse
    at the same time after the last impulse (the shaped command ends t_n later), from the
    superposed impulse responses themselves, not from the C/S formula under test."""
    w = 2 * math.pi * f_hz
    wd = w * math.sqrt(1 - zeta**2)
    tau = np.linspace(0.0, 2 * math.pi / wd, 400)     # time after the last impulse
    t = shaper.duration_s + tau

    def resp(time: np.ndarray, t0: float) -> np.ndarray:
        return np.exp(-zeta * w * (time - t0)) * np.sin(wd * (time - t0)) / wd

    shaped = sum(a * resp(t, ti) for a, ti in zip(shaper.amplitudes, shaper.times_s, strict=True))
    single = resp(tau, 0.0)
    env = np.exp(zeta * w * tau)        # both decay alike from here: compare envelopes
    return float(np.max(np.abs(shaped * env)) / np.max(np.abs(single * env)))


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("zeta", [0.0, 0.05, 0.2])
def test_impulses_valid_and_formula_matches_time_response(kind, zeta):
    s = design_shaper(kind, 8.0, zeta)
    assert np.all(s.amplitudes > 0) and math.isclose(s.amplitudes.sum(), 1.0, abs_tol=1e-12)
    assert s.times_s[0] == 0.0 and np.all(np.diff(s.times_s) > 0)
    for ratio in (0.8, 0.95, 1.0, 1.13):
        v = residual_vibration(s, 8.0 * ratio, zeta)
        assert v == pytest.approx(_impulse_train_amplitude(s, 8.0 * ratio, zeta), abs=2e-4)


@pytest.mark.parametrize("kind,n_half_periods",
                         [("zv", 1), ("zvd", 2), ("zvdd", 3), ("mzv", 1.5), ("ei", 2),
                          ("ei2", 3), ("ei3", 4)])
def test_zero_vibration_shapers_cancel_design_mode(kind, n_half_periods):
    for zeta in (0.0, 0.1, 0.2):
        s = design_shaper(kind, 5.0, zeta)
        v = residual_vibration(s, 5.0, zeta)
        if kind in ("ei", "ei3"):      # a hump of height V sits at the design frequency
            assert v == pytest.approx(0.05, abs=1e-9)
        else:
            assert v < 1e-9
        half_period = 0.5 / (5.0 * math.sqrt(1 - zeta**2))
        if kind.startswith("zv") or kind == "mzv" or zeta == 0.0:
            assert s.duration_s == pytest.approx(n_half_periods * half_period, rel=1e-12)


def test_zv_by_hand():
    # ZV undamped: A = [1/2, 1/2] at [0, T/2]: V(r) = |cos(pi r / 2)|.
    s = design_shaper(ShaperKind.ZV, 10.0)
    np.testing.assert_allclose(s.amplitudes, [0.5, 0.5])
    np.testing.assert_allclose(s.times_s, [0.0, 0.05])
    r = np.linspace(0.5, 1.5, 11)
    np.testing.assert_allclose(residual_vibration(s, 10.0 * r, 0.0),
                               np.abs(np.cos(np.pi * r / 2)), atol=1e-12)
    lo, hi = insensitivity_band(s, 0.0)
    edge = 1 - 2 / math.pi * math.acos(0.05)
    assert lo == pytest.approx(-edge, abs=1e-6) and hi == pytest.approx(edge, abs=1e-6)
    # Damped ZV: A = [1, K] / (1 + K).
    zeta = 0.1
    k = math.exp(-zeta * math.pi / math.sqrt(1 - zeta**2))
    np.testing.assert_allclose(design_shaper("zv", 10.0, zeta).amplitudes,
                               [1 / (1 + k), k / (1 + k)])


def test_mzv_amplitudes_by_hand():
    s = design_shaper("MZV", 4.0)
    a = np.array([1.0, math.sqrt(2.0), 1.0])
    np.testing.assert_allclose(s.amplitudes, a / a.sum())
    np.testing.assert_allclose(s.times_s, np.array([0.0, 0.375, 0.75]) / 4.0)


def test_published_insensitivity_at_zero_damping():
    # Singer & Seering 1990, Singhose 1994 (5 % vibration band, undamped); context table.
    published = {"zv": (-3.2, 3.2), "mzv": (-4.9, 5.5), "zvd": (-14.4, 14.4),
                 "ei": (-19.9, 19.9), "zvdd": (-24.0, 24.0)}
    for kind, (lo_p, hi_p) in published.items():
        lo, hi = insensitivity_band(design_shaper(kind, 10.0), 0.0)
        assert 100 * lo == pytest.approx(lo_p, abs=0.5), kind
        assert 100 * hi == pytest.approx(hi_p, abs=0.5), kind


def test_undamped_ei_closed_forms_and_humps():
    v = 0.05
    np.testing.assert_allclose(design_shaper("ei", 1.0).amplitudes,
                               [(1 + v) / 4, (1 - v) / 2, (1 + v) / 4])
    r = np.linspace(0.3, 1.7, 14001)
    for kind, humps in (("ei", 1), ("ei2", 2), ("ei3", 3)):
        s = design_shaper(kind, 1.0, tolerance=v)
        curve = residual_vibration(s, r, 0.0)
        i = np.arange(1, len(r) - 1)
        peaks = i[(curve[i] > curve[i - 1]) & (curve[i] > curve[i + 1]) & (np.abs(r[i] - 1) < 0.6)]
        assert len(peaks) == humps
        np.testing.assert_allclose(curve[peaks], v, atol=1e-6)


def test_damped_ei_matches_singhose_curve_fit():
    # Singhose et al. 1994/1997 curve fit of the damped EI shaper (valid 0 <= zeta <= 0.3,
    # V <= 0.15): A1, A3 and t2 (in undamped periods) as polynomials in V and zeta.
    v, z = 0.05, 0.1
    a1 = (0.24968 + 0.24961 * v + 0.80008 * z + 1.23328 * v * z + 0.49599 * z**2
          + 3.17316 * v * z**2)
    a3 = (0.25149 + 0.21474 * v - 0.83249 * z + 1.41498 * v * z + 0.85181 * z**2
          - 4.90094 * v * z**2)
    t2 = (0.49990 + 0.46159 * v * z + 4.26169 * v * z**2 + 1.75601 * v * z**3
          + 8.57843 * v**2 * z - 108.644 * v**2 * z**2 + 336.989 * v**2 * z**3)
    s = design_shaper("ei", 1.0, z, tolerance=v)
    assert "numerically" in s.method
    np.testing.assert_allclose(s.amplitudes[[0, 2]], [a1, a3], atol=2e-3)
    assert s.times_s[1] == pytest.approx(t2, abs=2e-3)


@pytest.mark.parametrize("kind", ["ei", "ei2", "ei3"])
@pytest.mark.parametrize("zeta", [0.05, 0.1])
def test_damped_ei_family_is_robust(kind, zeta):
    s = design_shaper(kind, 6.0, zeta)
    assert "numerically" in s.method
    v = residual_vibration(s, 6.0 * np.linspace(0.8, 1.2, 401), zeta)
    assert np.max(v) <= 0.10      # >= 90 % reduction across +-20 %
    # and the humps (local maxima inside the band) are exactly the tolerance (EI definition)
    r = np.linspace(0.45, 1.6, 11501)
    curve = residual_vibration(s, 6.0 * r, zeta)
    i = np.arange(1, len(r) - 1)
    peaks = i[(curve[i] > curve[i - 1]) & (curve[i] > curve[i + 1])]
    assert len(peaks) == {"ei": 1, "ei2": 2, "ei3": 3}[kind]
    np.testing.assert_allclose(curve[peaks], 0.05, atol=1e-5)


def test_heavily_damped_three_hump_falls_back_to_k_weighted_form():
    # Beyond zeta ~ 0.28 the three-hump solution no longer exists (humps merge); the design
    # is still a valid shaper with low vibration at the design frequency.
    s = design_shaper("ei3", 5.0, 0.4)
    assert s.method.startswith("K-weighted")
    assert residual_vibration(s, 5.0, 0.4) < 0.05


def test_bad_input_raises():
    with pytest.raises(MotionInputError, match="unknown shaper kind"):
        design_shaper("zvx", 5.0)
    for f in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(MotionInputError, match="frequency"):
            design_shaper("zv", f)
    for z in (-0.1, 0.9, math.nan):
        with pytest.raises(MotionInputError, match="damping"):
            design_shaper("zv", 5.0, z)
    with pytest.raises(MotionInputError, match="tolerance"):
        design_shaper("ei", 5.0, tolerance=0.0)
    with pytest.raises(MotionInputError, match="sum to 1"):
        Shaper(np.array([0.0, 0.1]), np.array([0.7, 0.7]))
    with pytest.raises(MotionInputError, match="start at 0"):
        Shaper(np.array([0.1, 0.05]), np.array([0.5, 0.5]))
    with pytest.raises(MotionInputError):
        residual_vibration(design_shaper("zv", 5.0), math.nan, 0.0)


def test_residual_vibration_array_and_scalar():
    s = design_shaper("zvd", 3.0, 0.02)
    arr = residual_vibration(s, np.array([2.0, 3.0, 4.0]), 0.02)
    assert arr.shape == (3,)
    assert isinstance(residual_vibration(s, 2.0, 0.02), float)
    assert residual_vibration(s, 2.0, 0.02) == pytest.approx(arr[0])


def test_convolved_shaper_cancels_both_modes_and_keeps_limits():
    from dg_motion.shaping.input_shaping import convolve

    a, b = design_shaper("ei", 4.7, 0.05), design_shaper("zv", 10.0, 0.2)
    both = convolve(a, b)
    assert both.duration_s == pytest.approx(a.duration_s + b.duration_s)
    assert both.amplitudes.sum() == pytest.approx(1.0) and np.all(both.amplitudes > 0)
    for f, z in ((4.7, 0.05), (10.0, 0.2), (6.0, 0.1)):
        assert residual_vibration(both, f, z) == pytest.approx(
            residual_vibration(a, f, z) * residual_vibration(b, f, z), rel=1e-9, abs=1e-12)
    assert residual_vibration(both, 10.0, 0.2) < 1e-9
