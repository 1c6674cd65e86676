"""Tests of CPA/TCPA (dg_autonomy.collision.cpa)."""

import math

import numpy as np
import pytest

from dg_autonomy.collision.cpa import (
    CpaInputError,
    cpa_tcpa,
    cpa_tcpa_array,
    min_range_within,
    velocity_enu,
)


def test_head_on_collision_course():
    cpa, tcpa = cpa_tcpa((0, 0), (2, 0), (100, 0), (-3, 0))
    assert cpa == pytest.approx(0.0, abs=1e-9)
    assert tcpa == pytest.approx(20.0)


def test_crossing_with_offset():
    # Target 10 m ahead on own track, moving north: relative velocity (-1, 1).
    cpa, tcpa = cpa_tcpa((0, 0), (1, 0), (10, 0), (0, 1))
    assert tcpa == pytest.approx(5.0)
    assert cpa == pytest.approx(math.hypot(5, 5))


def test_past_cpa_gives_negative_tcpa():
    cpa, tcpa = cpa_tcpa((0, 0), (1, 0), (-10, 5), (0, 0))
    assert tcpa == pytest.approx(-10.0)
    assert cpa == pytest.approx(5.0)


def test_same_velocity_means_constant_range():
    cpa, tcpa = cpa_tcpa((0, 0), (3, 1), (30, 40), (3, 1))
    assert (cpa, tcpa) == (pytest.approx(50.0), 0.0)


@pytest.mark.parametrize("bad", [
    ((math.nan, 0), (1, 0), (1, 1), (0, 0)),
    ((0, 0), (math.inf, 0), (1, 1), (0, 0)),
    ((0, 0), (1, 0), (1,), (0, 0)),
    ((0, 0), (1, 0), (1, 1), "ab"),
])
def test_bad_input_raises_clear_error(bad):
    with pytest.raises(CpaInputError, match="must be"):
        cpa_tcpa(*bad)


def test_vectorised_matches_scalar():
    rng = np.random.default_rng(1)
    dp = rng.normal(0, 100, (50, 2))
    dv = rng.normal(0, 3, (50, 2))
    cpa, tcpa = cpa_tcpa_array(dp, dv)
    for i in range(50):
        c, t = cpa_tcpa((0, 0), (0, 0), dp[i], dv[i])
        assert cpa[i] == pytest.approx(c) and tcpa[i] == pytest.approx(t)


def test_min_range_within_clamps_to_window():
    dp = np.array([[100.0, 0.0], [100.0, 10.0], [-10.0, 5.0]])
    dv = np.array([[-1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    d, t = min_range_within(dp, dv, 50.0)
    assert d[0] == pytest.approx(50.0) and t[0] == 50.0       # CPA beyond the horizon
    assert d[2] == pytest.approx(math.hypot(10, 5)) and t[2] == 0.0   # already past


def test_velocity_enu_convention():
    vx, vy = velocity_enu(math.pi / 2, 2.0)     # ENU yaw 90 deg = north
    assert vx == pytest.approx(0.0, abs=1e-12) and vy == pytest.approx(2.0)
