"""Pure pursuit core: closed loop on a unicycle, waypoint switching, validation.

The closed-loop tests use a small local unicycle with speed/acceleration limits rather than
dg_sim's model: dg_autonomy must not depend on the simulator (not even for tests, which
colcon runs per package), and the tracker's contract is with any vehicle that turns
(v, omega) into motion. The full loop with dg_sim's vehicle runs in the system scenario.
"""

import math

import numpy as np
import pytest

from dg_autonomy.control.pure_pursuit import (
    FollowStatus,
    InvalidWaypoints,
    PurePursuit,
    PurePursuitConfig,
    validate_waypoints,
    waypoints_from_flat,
)

DT_S = 0.05


class Unicycle:
    """Unicycle with acceleration limits, integrated exactly over each step."""

    def __init__(self, x=0.0, y=0.0, yaw=0.0, accel_mps2=1.0, yaw_accel_radps2=3.0):
        self.x, self.y, self.yaw = x, y, yaw
        self.v = self.w = 0.0
        self.accel, self.yaw_accel = accel_mps2, yaw_accel_radps2

    def step(self, v_cmd, w_cmd, dt):
        self.v += float(np.clip(v_cmd - self.v, -self.accel * dt, self.accel * dt))
        self.w += float(np.clip(w_cmd - self.w, -self.yaw_accel * dt, self.yaw_accel * dt))
        half = 0.5 * self.w * dt
        chord = self.v * dt * np.sinc(half / math.pi)
        self.x += chord * math.cos(self.yaw + half)
        self.y += chord * math.sin(self.yaw + half)
        self.yaw += 2.0 * half


def run(tracker, vehicle, max_steps=4000):
    """Close the loop until FINISHED; return the results of every step."""
    results = []
    for _ in range(max_steps):
        res = tracker.step(vehicle.x, vehicle.y, vehicle.yaw, vehicle.v)
        results.append(res)
        if res.status is FollowStatus.FINISHED:
            break
        vehicle.step(res.speed_mps, res.yaw_rate_radps, DT_S)
    return results


def test_converges_onto_straight_line_from_offset():
    tracker = PurePursuit([(0.0, 0.0), (30.0, 0.0)])
    tracker.step(0.0, 0.0, 0.0, 0.0)  # starts on the first waypoint: on the line
    vehicle = Unicycle(x=0.5, y=1.5)  # then displaced 1.5 m to the left
    results = run(tracker, vehicle)
    assert results[-1].status is FollowStatus.FINISHED
    assert results[0].cross_track_error_m == pytest.approx(1.5)  # + = left
    t_s = np.arange(len(results)) * DT_S
    cte = np.array([r.cross_track_error_m for r in results])
    assert np.max(np.abs(cte[t_s > 10.0])) < 0.02
    assert np.all(np.abs(cte) <= 1.5 + 1e-9)  # no overshoot beyond the initial offset
    assert math.hypot(vehicle.x - 30.0, vehicle.y) <= tracker.config.acceptance_radius_m


def test_follows_square_with_bounded_cross_track_error():
    side = 10.0
    square = [(side, 0.0), (side, side), (0.0, side), (0.0, 0.0)]
    tracker = PurePursuit(square, PurePursuitConfig(speed_mps=0.8))
    vehicle = Unicycle()
    results = run(tracker, vehicle)
    assert results[-1].status is FollowStatus.FINISHED
    assert results[-1].waypoints_reached == 4
    cte = np.abs([r.cross_track_error_m for r in results])
    # Corner cutting is bounded by the lookahead geometry; straight legs track tightly.
    assert cte.max() < 0.4
    assert math.sqrt(np.mean(cte ** 2)) < 0.1
    speeds = np.array([r.speed_mps for r in results])
    yaw_rates = np.array([r.yaw_rate_radps for r in results])
    assert speeds.max() <= 0.8 + 1e-12
    assert np.abs(yaw_rates).max() <= tracker.config.yaw_rate_max_radps + 1e-12
    assert 35.0 / 0.8 < len(results) * DT_S < 40.0 / 0.8 * 1.5  # corners cut, slowed
    assert all(type(r.speed_mps) is float and type(r.yaw_rate_radps) is float for r in results)


def test_waypoint_progress_is_monotonic_and_reported():
    tracker = PurePursuit([(5.0, 0.0), (5.0, 5.0), (10.0, 5.0)])
    results = run(tracker, Unicycle())
    reached = [r.waypoints_reached for r in results]
    assert reached == sorted(reached)
    assert set(reached) == {0, 1, 2, 3}
    assert results[-1].speed_mps == 0.0 and results[-1].yaw_rate_radps == 0.0


def test_decelerates_to_the_final_goal():
    cfg = PurePursuitConfig(speed_mps=1.0, goal_decel_mps2=0.5, speed_min_mps=0.05)
    tracker = PurePursuit([(20.0, 0.0)], cfg)
    results = run(tracker, Unicycle(accel_mps2=2.0))
    dist = np.array([r.distance_to_goal_m for r in results[:-1]])
    speed = np.array([r.speed_mps for r in results[:-1]])
    assert speed[dist > 5.0].min() == pytest.approx(1.0)
    near = dist < 1.0
    profile = np.sqrt(0.05 ** 2 + 2 * 0.5 * np.maximum(dist - cfg.acceptance_radius_m, 0))
    assert np.all(speed[near] <= profile[near] + 1e-9)
    assert speed[-1] < 0.2


def test_slows_down_on_sharp_turns():
    # The hairpin needs tight arcs: the speed must drop well below cruise there.
    tracker = PurePursuit([(10.0, 0.0), (10.0, 1.0), (0.0, 1.0)],
                          PurePursuitConfig(speed_mps=1.0, turn_slowdown_radius_m=2.0))
    results = run(tracker, Unicycle())
    assert results[-1].status is FollowStatus.FINISHED
    assert min(r.speed_mps for r in results[20:-20]) < 0.5


def test_turns_in_place_when_goal_is_behind():
    tracker = PurePursuit([(-5.0, 0.0)])
    res = tracker.step(0.0, 0.0, 0.0, 0.0)
    assert res.status is FollowStatus.WORKING
    assert res.speed_mps == 0.0
    assert abs(res.yaw_rate_radps) == tracker.config.yaw_rate_max_radps
    results = run(tracker, Unicycle())
    assert results[-1].status is FollowStatus.FINISHED


def test_cross_track_error_sign_and_yaw_rate_direction():
    # Right of an eastbound path (y < 0): negative error, turn left (omega > 0).
    tracker = PurePursuit([(0.0, 0.0), (50.0, 0.0)])
    tracker.step(0.0, 0.0, 0.0, 0.0)
    res = tracker.step(0.1, -0.5, 0.0, 0.5)
    assert res.cross_track_error_m == pytest.approx(-0.5)
    assert res.yaw_rate_radps > 0.0
    assert res.waypoint_index == 1


def test_passing_an_intermediate_waypoint_switches_segment():
    tracker = PurePursuit([(5.0, 0.0), (5.0, 5.0)])
    tracker.step(0.0, 0.0, 0.0, 0.0)
    res = tracker.step(5.5, 1.0, 0.0, 0.5)  # beyond the first waypoint, outside its circle
    assert res.waypoints_reached == 1
    assert res.waypoint_index == 1


def test_starting_on_the_first_waypoint_counts_it():
    tracker = PurePursuit([(0.0, 0.0), (5.0, 0.0)])
    res = tracker.step(0.0, 0.0, 0.0, 0.0)
    assert res.waypoints_reached == 1
    assert res.status is FollowStatus.WORKING


def test_finished_stays_finished_with_zero_command():
    tracker = PurePursuit([(1.0, 0.0)])
    assert tracker.step(0.9, 0.0, 0.0, 0.0).status is FollowStatus.FINISHED
    res = tracker.step(3.0, 3.0, 1.0, 0.5)
    assert res.status is FollowStatus.FINISHED
    assert (res.speed_mps, res.yaw_rate_radps) == (0.0, 0.0)
    assert tracker.finished


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_pose_gives_invalid_input_and_zero(bad):
    tracker = PurePursuit([(5.0, 0.0)])
    res = tracker.step(bad, 0.0, 0.0, 0.0)
    assert res.status is FollowStatus.ERROR_INVALID_INPUT
    assert (res.speed_mps, res.yaw_rate_radps) == (0.0, 0.0)
    assert tracker.reached == 0


@pytest.mark.parametrize("points, match", [
    ([(0.0, 0.0), (math.nan, 1.0)], "waypoint 1 is not finite"),
    ([(math.inf, 0.0)], "waypoint 0 is not finite"),
    ([], "no waypoints"),
    ([(1.0, 2.0, 3.0)], "not an"),
    ([("a", 1.0)], "not an"),
])
def test_rejects_invalid_waypoints(points, match):
    with pytest.raises(InvalidWaypoints, match=match):
        PurePursuit(points)


def test_removes_consecutive_duplicates_only():
    wps = validate_waypoints([(0, 0), (0, 0), (1, 0), (1, 0), (0, 0)])
    assert wps.tolist() == [[0, 0], [1, 0], [0, 0]]


def test_flat_waypoints():
    assert waypoints_from_flat([1.0, 2.0, 3.0, 4.0]).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(InvalidWaypoints, match="pairs"):
        waypoints_from_flat([1.0, 2.0, 3.0])
    with pytest.raises(InvalidWaypoints, match="not finite"):
        waypoints_from_flat([1.0, math.nan])


@pytest.mark.parametrize("kwargs, match", [
    ({"speed_mps": 0.0}, "speed_mps"),
    ({"lookahead_min_m": 2.0, "lookahead_max_m": 1.0}, "lookahead_max_m"),
    ({"speed_min_mps": 1.0, "speed_mps": 0.5}, "speed_min_mps"),
    ({"acceptance_radius_m": math.nan}, "finite"),
    ({"rotate_in_place_angle_rad": 4.0}, "pi"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PurePursuitConfig(**kwargs)
