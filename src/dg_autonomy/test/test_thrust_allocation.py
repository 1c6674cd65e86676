"""Differential-thrust allocation: exactness, limits, yaw priority, bad input."""

import math

import numpy as np
import pytest

from dg_autonomy.control.thrust_allocation import AllocationError, ThrusterConfig, allocate

CFG = ThrusterConfig(left_y_m=1.0, right_y_m=-1.0, max_forward_n=250.0, max_reverse_n=100.0)


def test_feasible_demand_is_exact_and_unsaturated():
    left, right, sat = allocate(200.0, 50.0, CFG)
    assert not sat
    assert CFG.wrench(left, right) == pytest.approx((200.0, 50.0))
    # Positive yaw moment (counter-clockwise): more thrust on the right.
    assert right > left


def test_pure_yaw_and_pure_surge():
    assert allocate(0.0, 0.0, CFG) == (0.0, 0.0, False)
    left, right, _ = allocate(100.0, 0.0, CFG)
    assert left == pytest.approx(50.0) and right == pytest.approx(50.0)
    left, right, _ = allocate(0.0, -60.0, CFG)
    assert left == pytest.approx(30.0) and right == pytest.approx(-30.0)


def test_yaw_has_priority_over_surge_when_saturated():
    # Full forward plus a turn: surge is reduced, the moment is kept.
    left, right, sat = allocate(500.0, 100.0, CFG)
    assert sat
    x, n = CFG.wrench(left, right)
    assert n == pytest.approx(100.0)
    assert x == pytest.approx(400.0)  # right at 250, left at 150
    assert (left, right) == pytest.approx((150.0, 250.0))


def test_moment_beyond_the_box_is_clipped_to_the_largest_possible():
    left, right, sat = allocate(0.0, 1e6, CFG)
    assert sat
    assert (left, right) == pytest.approx((-100.0, 250.0))
    assert CFG.wrench(left, right)[1] == pytest.approx(350.0) == CFG.max_yaw_moment_nm


def test_asymmetric_layout_is_exact():
    cfg = ThrusterConfig(left_y_m=0.8, right_y_m=-1.2, max_forward_n=300.0, max_reverse_n=300.0)
    left, right, sat = allocate(100.0, -40.0, cfg)
    assert not sat and cfg.wrench(left, right) == pytest.approx((100.0, -40.0))


def test_random_demands_stay_in_limits_and_match_when_feasible():
    rng = np.random.default_rng(1)
    for tx, tn in rng.uniform([-800, -600], [800, 600], (2000, 2)):
        left, right, sat = allocate(float(tx), float(tn), CFG)
        for t in (left, right):
            assert -100.0 - 1e-9 <= t <= 250.0 + 1e-9 and math.isfinite(t)
        x, n = CFG.wrench(left, right)
        ul, ur = tx / 2 - tn / 2, tx / 2 + tn / 2
        feasible = -100 <= ul <= 250 and -100 <= ur <= 250
        assert sat != feasible
        if feasible:
            assert (x, n) == pytest.approx((tx, tn))
        else:
            # Yaw priority: the moment is exact whenever some pair in the box gives it.
            if -350.0 <= tn <= 350.0:
                assert n == pytest.approx(tn, abs=1e-6)


@pytest.mark.parametrize("tx, tn", [(math.nan, 0.0), (0.0, math.inf), (-math.inf, 1.0)])
def test_non_finite_demand_raises(tx, tn):
    with pytest.raises(AllocationError, match="non-finite"):
        allocate(tx, tn, CFG)


@pytest.mark.parametrize("kwargs, match", [
    ({"left_y_m": -1.0}, "yaw authority"),
    ({"right_y_m": 0.5}, "yaw authority"),
    ({"max_forward_n": 0.0}, "max_forward_n"),
    ({"max_reverse_n": math.nan}, "finite"),
])
def test_bad_layout_is_rejected(kwargs, match):
    with pytest.raises(AllocationError, match=match):
        ThrusterConfig(**kwargs)


def test_from_hull_duck_typing():
    class Hull:
        thruster_y_m = 1.027135
        thrust_fwd_max_n = 2353.5
        thrust_rev_max_n = 1000.0

    cfg = ThrusterConfig.from_hull(Hull())
    assert cfg == ThrusterConfig()
