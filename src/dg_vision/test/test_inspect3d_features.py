"""Flatness (minimum zone), step height and hole measurement against known geometry."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d import flatness, hole, step_height

SIGMA = 0.005


def placed(uvw: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = Rotation.random(random_state=seed).as_matrix()
    off = np.random.default_rng(seed).uniform(-100.0, 100.0, 3)
    return uvw @ r.T + off, r, off


def with_outliers(w: np.ndarray, rng: np.random.Generator, frac: float = 0.05) -> np.ndarray:
    w = w + rng.normal(0.0, SIGMA, w.size)
    out = rng.random(w.size) < frac
    w[out] += rng.choice([-1.0, 1.0], int(out.sum())) * rng.uniform(0.1, 2.0, int(out.sum()))
    return w


@pytest.mark.parametrize("form", ["bow", "twist", "dome"])
def test_min_zone_flatness_matches_the_known_zone(form):
    rng = np.random.default_rng(1)
    a, b, amp, n = 50.0, 30.0, 0.08, 20000
    u, v = rng.uniform(-a, a, n), rng.uniform(-b, b, n)
    w = {"bow": amp * (u / a) ** 2, "twist": amp * u * v / (2 * a * b),
         "dome": amp * (u * u + v * v) / (a * a + b * b)}[form]
    p, _, _ = placed(np.c_[u, v, with_outliers(w, rng)], seed=2)
    f = flatness(p)
    assert abs(f.value_mm - amp) <= 2.0 * SIGMA
    assert f.min_zone_mm <= f.ls_value_mm + 1e-12  # min zone never exceeds least squares
    assert 0.03 < f.n_outliers / n < 0.06
    ls = flatness(p, method="least_squares")
    assert ls.value_mm == pytest.approx(f.ls_value_mm)


def test_plane_normal_and_perfect_plane():
    rng = np.random.default_rng(3)
    u, v = rng.uniform(-20.0, 20.0, 3000), rng.uniform(-10.0, 10.0, 3000)
    p, r, _ = placed(np.c_[u, v, np.zeros_like(u)], seed=4)
    f = flatness(p)
    assert f.value_mm < 1e-9
    assert abs(abs(f.plane_normal @ r[:, 2]) - 1.0) < 1e-9
    assert f.plane_normal[2] >= 0.0


def test_nan_points_dropped_and_too_few_rejected():
    rng = np.random.default_rng(5)
    p = np.c_[rng.uniform(0, 10, 500), rng.uniform(0, 10, 500), rng.normal(0, SIGMA, 500)]
    p[:7] = np.nan
    assert flatness(p).n_dropped == 7
    with pytest.raises(VisionInputError, match="finite points"):
        flatness(np.full((20, 3), np.nan))
    with pytest.raises(VisionInputError, match="method"):
        flatness(p[10:], method="chebyshev")


def test_step_height_with_outliers_and_any_orientation():
    rng = np.random.default_rng(6)
    u, v = rng.uniform(-30.0, 30.0, 20000), rng.uniform(-20.0, 20.0, 20000)
    upper = u > 5.0
    p, r, _ = placed(np.c_[u, v, with_outliers(np.where(upper, 3.25, 0.0), rng)], seed=7)
    h = step_height(p, u < 4.0, np.flatnonzero(u > 6.0))
    truth = 3.25 if r[2, 2] >= 0 else -3.25
    assert abs(h - truth) < 0.01
    with pytest.raises(VisionInputError, match="region B"):
        step_height(p, u < 4.0, np.zeros(u.size, dtype=bool))
    with pytest.raises(VisionInputError, match="shape"):
        step_height(p, np.ones(3, dtype=bool), u > 6.0)


def make_hole(seed: int, dia: float, n: int = 15000):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-3.0, 3.0, 2)
    u, v = rng.uniform(-12.0, 12.0, n), rng.uniform(-12.0, 12.0, n)
    inside = np.hypot(u - c[0], v - c[1]) < dia / 2
    w = with_outliers(np.where(inside, -6.0, 0.0), rng)
    p, r, off = placed(np.c_[u, v, w], seed=seed + 100)
    return p, np.array([c[0], c[1], 0.0]) @ r.T + off


@pytest.mark.parametrize("seed,dia", [(1, 6.0), (2, 9.5)])
def test_hole_centre_and_diameter(seed, dia):
    p, center = make_hole(seed, dia)
    h = hole(p)
    assert abs(h.diameter_mm - dia) < 0.05
    assert np.linalg.norm(h.center - center) < 0.05
    guided = hole(p, center_guess=center + 0.5, diameter_guess=dia + 1.0)
    assert abs(guided.diameter_mm - dia) < 0.05
    fit = hole(p, method="fit")  # biased outward by about half the spacing
    assert 0.0 < fit.diameter_mm - dia < 0.3


def test_no_hole_is_an_error():
    rng = np.random.default_rng(8)
    p = np.c_[rng.uniform(0, 20, 5000), rng.uniform(0, 20, 5000), rng.normal(0, SIGMA, 5000)]
    with pytest.raises(VisionInputError, match="no hole"):
        hole(p)


def test_bad_point_input_is_an_input_error():
    ragged = [[0.0, 0.0, 0.0], [1.0, 2.0]] * 10
    text = [["1", "2", "3"]] * 20
    for bad in (ragged, text):
        with pytest.raises(VisionInputError):
            step_height(bad, np.arange(10), np.arange(10, 20))
        with pytest.raises(VisionInputError):
            flatness(bad)
