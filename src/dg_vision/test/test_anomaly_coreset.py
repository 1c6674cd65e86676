"""Greedy k-center coreset: covers the data better than random picks, deterministic."""

import numpy as np
import pytest

from dg_vision.anomaly.coreset import greedy_coreset
from dg_vision.errors import VisionInputError


def covering_radius(x: np.ndarray, idx: np.ndarray) -> float:
    d = np.linalg.norm(x[:, None, :] - x[idx][None, :, :], axis=2)
    return float(d.min(axis=1).max())


def test_greedy_covers_better_than_random_and_keeps_outliers():
    rng = np.random.default_rng(0)
    # one dense 2-D cluster plus 5 rare (but normal) far points, embedded in 16-D
    x2 = np.r_[rng.normal(0, 1, (1000, 2)), rng.normal(0, 0.3, (5, 2)) + 20.0]
    rot, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    x = np.c_[x2, np.zeros((len(x2), 14))] @ rot
    idx = greedy_coreset(x, 50, seed=0)
    assert len(idx) == 50 and len(set(idx.tolist())) == 50
    assert np.all(np.diff(idx) > 0)
    assert np.any(idx >= 1000)  # the rare cluster is represented
    rand = rng.choice(len(x), 50, replace=False)
    assert covering_radius(x, idx) < 0.5 * covering_radius(x, rand)
    # projected (d* = 8 < 16) selection still covers well and is seeded
    idx_p = greedy_coreset(x, 50, seed=3, projection_dim=8)
    assert np.array_equal(idx_p, greedy_coreset(x, 50, seed=3, projection_dim=8))
    assert covering_radius(x, idx_p) < 0.5 * covering_radius(x, rand)


def test_greedy_is_a_two_approximation_on_a_line():
    x = np.linspace(0, 1, 101)[:, None]
    for seed in range(5):
        idx = greedy_coreset(x, 3, seed=seed)
        # optimal 3-center radius on [0, 1] is 1/6; greedy k-center guarantees <= 2 x that
        assert covering_radius(x, idx) <= 2 / 6 + 1e-9
        assert 0 in idx or 100 in idx  # the second pick is an end of the line


def test_edge_cases():
    x = np.zeros((4, 2))
    assert np.array_equal(greedy_coreset(x, 10), np.arange(4))
    with pytest.raises(VisionInputError):
        greedy_coreset(np.zeros((0, 2)), 1)
    with pytest.raises(VisionInputError):
        greedy_coreset(np.full((3, 2), np.nan), 1)
