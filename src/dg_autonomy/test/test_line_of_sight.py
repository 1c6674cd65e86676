"""Integral LOS guidance: geometry, switching, drift compensation in closed loop, validation."""

import math

import numpy as np
import pytest
from usv_test_model import Boat

from dg_autonomy.control.heading_speed import HeadingSpeedController
from dg_autonomy.control.thrust_allocation import ThrusterConfig, allocate
from dg_autonomy.guidance.line_of_sight import (
    IntegralLos,
    InvalidPath,
    LosConfig,
    LosStatus,
    corner_speed_limit,
    validate_path,
)

DT_S = 0.1
ALLOC = ThrusterConfig()


def follow(boat, los, path, speed, seconds, use_velocity=True, stop_at_end=False):
    ctrl = HeadingSpeedController()
    sat, log = False, []
    for _ in range(int(seconds / DT_S)):
        kw = {"u_mps": boat.u, "v_mps": boat.v, "r_radps": boat.r} if use_velocity else {}
        res = los.step(boat.x, boat.y, path, DT_S, **kw)
        log.append(res)
        if res.finished and stop_at_end:
            break
        out = ctrl.step(boat.psi, boat.r, boat.u, res.heading_rad,
                        0.0 if res.finished else corner_speed_limit(res, speed, 0.6, 0.15),
                        DT_S, sat)
        left, right, sat = allocate(out.tau_x_n, out.tau_n_nm, ALLOC)
        boat.step(left, right, DT_S)
    return log


def test_geometry_of_one_step():
    los = IntegralLos(LosConfig(lookahead_m=10.0, integral_gain=0.0))
    res = los.step(5.0, 2.0, [[0.0, 0.0], [20.0, 0.0]])
    assert res.status is LosStatus.WORKING and res.segment_index == 0
    assert res.cross_track_m == pytest.approx(2.0)      # left of an eastward path
    assert res.heading_rad == pytest.approx(-math.atan(2.0 / 10.0))  # steer right, back
    assert res.distance_to_go_m == pytest.approx(15.0)
    assert res.along_track_m == pytest.approx(5.0)


def test_switching_by_along_track_distance_and_finish():
    los = IntegralLos(LosConfig(acceptance_radius_m=2.0))
    path = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]
    assert los.step(7.0, 0.5, path).segment_index == 0
    res = los.step(8.5, 3.0, path)   # 1.5 m before the corner along track, well off the circle
    assert res.segment_index == 1 and res.path_angle_rad == pytest.approx(math.pi / 2)
    assert not res.finished
    res = los.step(10.5, 8.5, path)  # within 2 m of the end
    assert res.finished and res.status is LosStatus.FINISHED
    assert res.distance_to_go_m == pytest.approx(1.5)
    assert los.step(10.0, 10.5, path).distance_to_go_m == 0.0  # passed the end


def test_next_turn_and_corner_speed_limit():
    los = IntegralLos()
    res = los.step(0.0, 0.0, [[0.0, 0.0], [50.0, 0.0], [50.0, 20.0]])
    assert res.next_turn_rad == pytest.approx(math.pi / 2)
    v = corner_speed_limit(res, cruise_mps=2.0, turn_speed_mps=0.5, decel_mps2=0.1)
    assert v == 2.0  # far away
    res = los.step(45.0, 0.0, [[0.0, 0.0], [50.0, 0.0], [50.0, 20.0]])
    v = corner_speed_limit(res, cruise_mps=2.0, turn_speed_mps=0.5, decel_mps2=0.1)
    assert v == pytest.approx(math.sqrt(0.25 + 2 * 0.1 * 5.0))


def test_new_path_restarts_and_single_point_path_goes_there():
    los = IntegralLos()
    los.step(0.0, 0.0, [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    los.step(9.0, 0.0, [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]])
    assert los.segment_index == 1
    res = los.step(9.0, 0.0, [[20.0, 0.0]])
    assert res.segment_index == 0 and res.heading_rad == pytest.approx(0.0)
    assert res.distance_to_go_m == pytest.approx(11.0)


@pytest.mark.parametrize("path, match", [
    ([], "empty|N x 2"),
    ([[0.0, 0.0], [math.nan, 1.0]], "not finite"),
    ([[0.0, 0.0, 0.0]], "N x 2"),
    ("abc", "numeric|N x 2"),
])
def test_invalid_paths_raise(path, match):
    with pytest.raises(InvalidPath, match=match):
        IntegralLos().step(0.0, 0.0, path)


def test_duplicates_merged_and_nan_position_reported():
    assert validate_path([[0, 0], [0, 0], [1, 0]]).shape == (2, 2)
    res = IntegralLos().step(math.nan, 0.0, [[0.0, 0.0], [1.0, 0.0]])
    assert res.status is LosStatus.ERROR_INVALID_INPUT


def test_bad_config():
    with pytest.raises(ValueError, match="lookahead_m"):
        LosConfig(lookahead_m=0.0)
    with pytest.raises(ValueError, match="integral_gain"):
        LosConfig(integral_gain=-1.0)


@pytest.mark.parametrize("lookahead_m, integral_gain, crab, max_offset_m", [
    (20.0, 0.0, False, None),    # proportional LOS: a steady offset Delta tan(crab) remains
    (8.0, 0.25, False, 0.05),    # ILOS (Børhaug et al. 2008) removes it
    (20.0, 0.05, True, 0.05),    # the defaults: ILOS + measured crab angle
])
def test_cross_current_offset(lookahead_m, integral_gain, crab, max_offset_m):
    # 0.3 m/s current across an eastward 400 m lane at 2 m/s: crab angle atan(0.3 / 2).
    boat = Boat(x=0.0, y=0.0, current_mps=(0.0, 0.3))
    los = IntegralLos(LosConfig(lookahead_m=lookahead_m, integral_gain=integral_gain,
                                crab_feedforward=crab))
    log = follow(boat, los, [[0.0, 0.0], [400.0, 0.0]], 2.0, 150.0)
    tail = np.array([r.cross_track_m for r in log[-300:]])  # last 30 s
    if max_offset_m is None:
        assert tail.mean() == pytest.approx(lookahead_m * 0.3 / 2.0, rel=0.15)  # pushed left
    else:
        assert np.max(np.abs(tail)) < max_offset_m


def test_lawnmower_turn_is_followed_and_finishes():
    boat = Boat(current_mps=(0.0, 0.2))
    path = [[0.0, 0.0], [100.0, 0.0], [100.0, 20.0], [0.0, 20.0]]
    log = follow(boat, IntegralLos(), path, 1.5, 200.0, stop_at_end=True)
    assert log[-1].finished
    assert [r.segment_index for r in log] == sorted(r.segment_index for r in log)
    assert math.hypot(boat.x - 0.0, boat.y - 20.0) < 3.0
    # Settled on the last lane 50 m after the turn.
    assert max(abs(r.cross_track_m) for r in log
               if r.segment_index == 2 and r.along_track_m > 50.0) < 1.0


def test_loiter_circle_converges_to_radius():
    boat = Boat(x=0.0, y=-5.0)
    los = IntegralLos(LosConfig(lookahead_m=6.0))
    ctrl = HeadingSpeedController()
    sat = False
    dists = []
    for _ in range(int(150 / DT_S)):
        res = los.step_circle(boat.x, boat.y, (0.0, 0.0), 20.0, DT_S)
        out = ctrl.step(boat.psi, boat.r, boat.u, res.heading_rad, 1.0, DT_S, sat)
        left, right, sat = allocate(out.tau_x_n, out.tau_n_nm, ALLOC)
        boat.step(left, right, DT_S)
        dists.append(math.hypot(boat.x, boat.y))
    assert abs(np.mean(dists[-300:]) - 20.0) < 1.0
    with pytest.raises(InvalidPath, match="radius"):
        los.step_circle(0.0, 0.0, (0.0, 0.0), 0.0)
