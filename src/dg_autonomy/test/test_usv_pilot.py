"""The navigator's pure core: command validation, modes, limits, avoidance hook."""

import math

import numpy as np
import pytest
from usv_test_model import Boat

from dg_autonomy.control.thrust_allocation import ThrusterConfig
from dg_autonomy.control.usv_pilot import PilotCommand, PilotMode, PilotStatus, UsvPilot
from dg_autonomy.guidance.line_of_sight import InvalidPath

DT_S = 0.05


def drive(boat, pilot, seconds, avoidance=None, until=None):
    outs = []
    for _ in range(int(seconds / DT_S)):
        out = pilot.step(boat.x, boat.y, boat.psi, boat.u, boat.v, boat.r, DT_S, avoidance)
        outs.append(out)
        boat.step(out.left_n, out.right_n, DT_S)
        if until is not None and until(out):
            break
    return outs


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": 7}, "unknown mode"),
    ({"mode": 1, "path_xy": None, "speed_mps": 1.0}, "needs a path"),
    ({"mode": 1, "path_xy": [[0, 0], [math.nan, 1]], "speed_mps": 1.0}, "not finite"),
    ({"mode": 1, "path_xy": [[0, 0], [1, 1]], "speed_mps": -1.0}, "speed_mps"),
    ({"mode": 1, "path_xy": [[0, 0], [1, 1]], "speed_mps": 9.0, "max_speed_mps": 5.0},
     "speed_mps"),
    ({"mode": 1, "path_xy": [[0, 0], [1, 1], [2, 2]], "speed_mps": 1.0, "max_path_points": 2},
     "limit"),
    ({"mode": 2, "station_xy": (math.inf, 0.0)}, "station"),
    ({"mode": 2, "heading_rad": math.nan}, "heading_rad"),
    ({"mode": 3, "loiter_radius_m": 0.0, "speed_mps": 1.0}, "loiter_radius_m"),
])
def test_bad_commands_are_rejected(kwargs, match):
    with pytest.raises((ValueError, InvalidPath), match=match):
        PilotCommand.create(**kwargs)


def test_idle_and_invalid_state_give_zero_thrust():
    pilot = UsvPilot()
    out = pilot.step(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, DT_S)
    assert out.status is PilotStatus.IDLE and (out.left_n, out.right_n) == (0.0, 0.0)
    pilot.set_command(PilotCommand.create(PilotMode.STATION_KEEP, station_xy=(5.0, 0.0)))
    out = pilot.step(0.0, math.nan, 0.0, 0.0, 0.0, 0.0, DT_S)
    assert out.status is PilotStatus.ERROR_INVALID_INPUT
    assert (out.left_n, out.right_n) == (0.0, 0.0)


def test_follows_a_path_then_holds_at_its_end():
    boat = Boat()
    pilot = UsvPilot()
    pilot.set_command(PilotCommand.create(PilotMode.FOLLOW_PATH, [[0, 0], [40, 0], [40, 20]],
                                          1.5))
    outs = drive(boat, pilot, 120.0)
    first_done = next(i for i, o in enumerate(outs) if o.finished)
    assert outs[first_done].status is PilotStatus.FINISHED
    assert all(o.finished for o in outs[first_done:])
    assert math.hypot(boat.x - 40.0, boat.y - 20.0) < 1.0   # kept station at the end
    assert abs(math.remainder(boat.psi - math.pi / 2, 2 * math.pi)) < 0.2


def test_thrust_is_always_finite_and_within_limits():
    limits = ThrusterConfig(max_forward_n=300.0, max_reverse_n=120.0)
    rng = np.random.default_rng(5)
    boat = Boat(fwd_n=300.0, rev_n=120.0, current_mps=(0.2, -0.1))
    pilot = UsvPilot(thrusters=limits)
    for k in range(12):
        mode = PilotMode(1 + k % 3)
        pts = rng.uniform(-40, 40, (3, 2))
        cmd = PilotCommand.create(mode, pts, 2.0, tuple(pts[0]), float(rng.uniform(-3, 3)),
                                  bool(k % 2), 15.0)
        pilot.set_command(cmd)
        for out in drive(boat, pilot, 10.0):
            for t in (out.left_n, out.right_n):
                assert math.isfinite(t) and -120.0 <= t <= 300.0


def test_loiter_circles_the_station():
    boat = Boat(x=0.0, y=-30.0)
    pilot = UsvPilot()
    pilot.set_command(PilotCommand.create(PilotMode.LOITER, station_xy=(0.0, 0.0),
                                          loiter_radius_m=20.0, speed_mps=1.0))
    drive(boat, pilot, 150.0)
    assert abs(math.hypot(boat.x, boat.y) - 20.0) < 2.0


def test_avoidance_callback_replaces_course_and_speed():
    boat = Boat()
    pilot = UsvPilot()
    pilot.set_command(PilotCommand.create(PilotMode.FOLLOW_PATH, [[0, 0], [200, 0]], 1.5))
    calls = []

    def avoid(course, speed):
        calls.append((course, speed))
        return course - math.pi / 4, 0.5 * speed, True   # 45 deg to starboard, half speed

    outs = drive(boat, pilot, 30.0, avoidance=avoid)
    assert calls and abs(calls[0][0]) < 0.1 and calls[0][1] == pytest.approx(1.5, abs=0.6)
    assert outs[-1].avoiding
    assert boat.y < -5.0                               # went to starboard (south)
    assert math.hypot(boat.u, boat.v) < 1.0
