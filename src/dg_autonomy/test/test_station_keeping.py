"""Station keeping of a twin-thruster boat: calm, steady force, into the weather, observer."""

import math

import numpy as np
import pytest
from usv_test_model import Boat

from dg_autonomy.control.station_keeping import (
    StationKeeper,
    StationKeepingConfig,
    StationMode,
    StationStatus,
)
from dg_autonomy.control.thrust_allocation import ThrusterConfig, allocate

DT_S = 0.05
ALLOC = ThrusterConfig()


def hold(boat, goal, seconds, into_weather=False, keeper=None):
    sk = keeper or StationKeeper()
    tau_x, sat, log = 0.0, False, []
    for _ in range(int(seconds / DT_S)):
        res = sk.step(boat.x, boat.y, boat.psi, boat.u, boat.v, boat.r, *goal, DT_S,
                      into_weather=into_weather, tau_applied_x_n=tau_x, saturated=sat)
        assert res.status is not StationStatus.ERROR_INVALID_INPUT
        left, right, sat = allocate(res.tau_x_n, res.tau_n_nm, ALLOC)
        tau_x = left + right
        boat.step(left, right, DT_S)
        log.append(res)
    return sk, log


def pose_error(boat, goal):
    return (math.hypot(boat.x - goal[0], boat.y - goal[1]),
            abs(math.remainder(boat.psi - goal[2], 2 * math.pi)))


@pytest.mark.parametrize("start", [(-4.0, 3.0, 0.5), (3.0, -2.0, 2.0), (-5.0, 0.0, 0.0)])
def test_calm_water_acquires_and_holds_the_pose(start):
    boat = Boat(*start)
    goal = (0.0, 0.0, 1.0)
    _, log = hold(boat, goal, 90.0)
    d, dpsi = pose_error(boat, goal)
    assert d < 0.15 and dpsi < 0.05
    assert log[-1].mode is StationMode.HOLD and log[-1].status is StationStatus.ACQUIRED


def test_holds_against_a_steady_force_with_the_bow_into_it():
    # 25 N toward the south-west (7 m/s wind on the WAM-V): bow to the north-east.
    force = (-25.0 * math.cos(math.pi / 4), -25.0 * math.sin(math.pi / 4))
    goal = (0.0, 0.0, math.pi / 4)
    boat = Boat(-3.0, 1.0, 0.0, force_map_n=force)
    _, log = hold(boat, goal, 120.0)
    d, dpsi = pose_error(boat, goal)
    assert d < 0.2 and dpsi < 0.1
    tail = [r.distance_m for r in log[-400:]]
    assert max(tail) < 0.3  # stays there


def test_into_the_weather_finds_the_heading_itself():
    # Force toward the south-east; the command's heading (north) is only the fallback.
    force = (20.0 * math.cos(-math.pi / 4), 20.0 * math.sin(-math.pi / 4))
    boat = Boat(2.0, 2.0, 1.0, force_map_n=force)
    sk, log = hold(boat, (0.0, 0.0, math.pi / 2), 150.0, into_weather=True)
    weather = sk.weather_heading_rad
    assert weather is not None
    assert abs(math.remainder(weather - 3 * math.pi / 4, 2 * math.pi)) < 0.1  # bow to NW
    assert abs(math.remainder(boat.psi - 3 * math.pi / 4, 2 * math.pi)) < 0.15
    assert math.hypot(boat.x, boat.y) < 0.5


def test_observer_estimates_a_constant_force():
    force = (15.0, -10.0)
    boat = Boat(0.0, 0.0, 0.0, force_map_n=force)
    sk, _ = hold(boat, (0.0, 0.0, math.atan2(10.0, -15.0)), 80.0)
    assert np.allclose(sk.observer.mean_force_n, force, atol=2.0)


def test_calm_water_has_no_weather_heading():
    sk, _ = hold(Boat(), (0.0, 0.0, 0.0), 20.0, into_weather=True)
    assert sk.weather_heading_rad is None
    assert sk.hold_heading(0.3, into_weather=True) == 0.3  # falls back on the command


def test_non_finite_input_gives_zero_forces():
    sk = StationKeeper()
    res = sk.step(math.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, DT_S)
    assert res.status is StationStatus.ERROR_INVALID_INPUT
    assert (res.tau_x_n, res.tau_n_nm) == (0.0, 0.0)
    res = sk.step(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, math.inf, 0.0, DT_S)
    assert res.status is StationStatus.ERROR_INVALID_INPUT


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="hold_enter_radius_m"):
        StationKeepingConfig(hold_enter_radius_m=5.0, hold_exit_radius_m=2.0)
    with pytest.raises(ValueError, match="approach_speed_mps"):
        StationKeepingConfig(approach_speed_mps=math.nan)
