"""Pure pursuit path tracking over a polyline of waypoints (pure Python + numpy).

Reference: R. C. Coulter, "Implementation of the Pure Pursuit Path Tracking Algorithm",
Carnegie Mellon University, Robotics Institute, CMU-RI-TR-92-01, 1992.

Each step, for a vehicle at (x, y, yaw) moving at speed v:

1. Waypoint switching: the active segment runs from the previous waypoint (for the first
   waypoint: the vehicle's position at its first step) to the active waypoint. An
   intermediate waypoint counts as reached inside the acceptance radius or once the vehicle
   has crossed the corner's bisector line through it (the perpendicular for a straight
   continuation), so a vehicle that cuts the corner or misses the circle does not loop back;
   the final waypoint only counts inside the acceptance radius.
2. Lookahead distance ``L = clip(lookahead_time_s * |v|, lookahead_min_m, lookahead_max_m)``.
3. Goal point: starting at the vehicle's projection onto the active segment, walk along the
   remaining path to the first point at distance L from the vehicle (circle/segment
   intersection). If the vehicle is farther than L from the path, the goal is its
   projection (steer straight back); if the whole remaining path is within L, the goal is the
   final waypoint.
4. Curvature of the arc through the goal point, Coulter's eq.: ``kappa = 2 y_g / L_g^2``
   with (x_g, y_g) the goal point in the vehicle frame and ``L_g`` its distance; the yaw
   rate is ``omega = v kappa``.
5. Speed: cruise speed, reduced by ``R / turn_slowdown_radius_m`` on arcs of radius R below
   that radius (regulated pure pursuit), floored at ``speed_min_mps``, capped by a braking
   profile ``sqrt(speed_min^2 + 2 a (d - r))`` that reaches the acceptance circle (radius r)
   of the final waypoint at ``speed_min_mps`` (d: remaining distance), and finally capped to
   ``yaw_rate_max / |kappa|`` so that ``|omega| <= yaw_rate_max`` *without* leaving the arc.
6. When the goal point lies more than ``rotate_in_place_angle_rad`` off the heading (e.g.
   behind the vehicle, where the pure pursuit arc degenerates), turn in place at the maximum
   yaw rate instead.

Cross-track error is signed: positive when the vehicle is left of the active segment
(REP-103: y left), in metres.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Consecutive waypoints closer than this [m] are one waypoint.
DUPLICATE_TOLERANCE_M = 1e-6


class InvalidWaypoints(ValueError):
    """The waypoints cannot be followed (non-finite, empty, malformed); says why."""


class FollowStatus(enum.Enum):
    """Result of one pure pursuit step (Ruckig's ``Result`` idiom)."""

    WORKING = "working"                          #: command computed, goal not yet reached
    FINISHED = "finished"                        #: final waypoint reached; command is zero
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite pose or speed; command is zero


@dataclass(frozen=True)
class PurePursuitConfig:
    """Tuning of the tracker (SI units)."""

    speed_mps: float = 0.5                 #: cruise speed [m/s]
    speed_min_mps: float = 0.05            #: floor while moving (turns, final approach) [m/s]
    yaw_rate_max_radps: float = 1.0        #: |yaw rate| limit [rad/s]
    lookahead_min_m: float = 0.5           #: lookahead distance bounds [m]
    lookahead_max_m: float = 2.0
    lookahead_time_s: float = 1.5          #: lookahead = this * |speed|, clipped [s]
    acceptance_radius_m: float = 0.25      #: waypoint reached within this distance [m]
    turn_slowdown_radius_m: float = 1.0    #: slow down on arcs tighter than this [m] (0: off)
    goal_decel_mps2: float = 0.5           #: braking toward the final waypoint [m/s^2]
    rotate_in_place_angle_rad: float = 1.5 #: turn in place beyond this bearing [rad] (pi: off)

    def __post_init__(self) -> None:
        """Reject inconsistent or non-finite settings with a message naming the field."""
        for name, value in vars(self).items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        positive = ("speed_mps", "yaw_rate_max_radps", "lookahead_min_m",
                    "acceptance_radius_m", "goal_decel_mps2", "rotate_in_place_angle_rad")
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("speed_min_mps", "lookahead_time_s", "turn_slowdown_radius_m"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.speed_min_mps > self.speed_mps:
            raise ValueError(f"speed_min_mps ({self.speed_min_mps}) exceeds speed_mps "
                             f"({self.speed_mps})")
        if self.lookahead_max_m < self.lookahead_min_m:
            raise ValueError(f"lookahead_max_m ({self.lookahead_max_m}) is below "
                             f"lookahead_min_m ({self.lookahead_min_m})")
        if self.rotate_in_place_angle_rad > math.pi:
            raise ValueError(f"rotate_in_place_angle_rad must be <= pi, got "
                             f"{self.rotate_in_place_angle_rad}")


@dataclass(frozen=True)
class PurePursuitResult:
    """Command and progress of one step."""

    speed_mps: float              #: forward speed command [m/s]
    yaw_rate_radps: float         #: yaw rate command [rad/s]
    waypoint_index: int           #: active waypoint (end of the active segment)
    waypoints_reached: int        #: waypoints reached so far
    cross_track_error_m: float    #: signed distance to the active segment, + = left [m]
    distance_to_goal_m: float     #: remaining path length to the final waypoint [m]
    status: FollowStatus


def validate_waypoints(points: Iterable[Sequence[float]]) -> np.ndarray:
    """Waypoints as an (n, 2) float array [m], consecutive duplicates removed.

    Raises:
        InvalidWaypoints: if there is no point, a point is not an (x, y) pair, or a
            coordinate is NaN/Inf (the message gives the index).

    """
    rows = []
    for i, p in enumerate(points):
        try:
            x, y = (float(c) for c in p)
        except (TypeError, ValueError):
            raise InvalidWaypoints(f"waypoint {i} is not an (x, y) pair: {p!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InvalidWaypoints(f"waypoint {i} is not finite: ({x}, {y})")
        if rows and math.hypot(x - rows[-1][0], y - rows[-1][1]) < DUPLICATE_TOLERANCE_M:
            continue
        rows.append((x, y))
    if not rows:
        raise InvalidWaypoints("no waypoints: at least one (x, y) point is needed")
    return np.array(rows, dtype=float)


def waypoints_from_flat(values: Sequence[float]) -> np.ndarray:
    """Waypoints from a flat list ``[x0, y0, x1, y1, ...]`` (a ROS ``double[]`` parameter).

    Raises:
        InvalidWaypoints: on an odd length, plus everything :func:`validate_waypoints` rejects.

    """
    if len(values) % 2:
        raise InvalidWaypoints(
            f"flat waypoint list needs pairs [x0, y0, x1, y1, ...], got {len(values)} values")
    return validate_waypoints(zip(values[0::2], values[1::2], strict=True))


def _circle_exit(q0: np.ndarray, q1: np.ndarray, center: np.ndarray, radius: float) -> float:
    """Largest s in [0, 1] with |q0 + s (q1 - q0) - center| = radius (q1 outside the circle)."""
    d = q1 - q0
    f = q0 - center
    a = float(d @ d)
    b = 2.0 * float(f @ d)
    c = float(f @ f) - radius * radius
    disc = max(b * b - 4.0 * a * c, 0.0)
    return min(max((-b + math.sqrt(disc)) / (2.0 * a), 0.0), 1.0)


class PurePursuit:
    """Follows one waypoint list; create a new instance for a new plan."""

    def __init__(self, waypoints: Iterable[Sequence[float]],
                 config: PurePursuitConfig = PurePursuitConfig()) -> None:
        """Validate the waypoints (see :func:`validate_waypoints`) and start at the first."""
        self.waypoints = validate_waypoints(waypoints)
        self.config = config
        self._k = 0                           # active waypoint; == n once finished
        self._start: np.ndarray | None = None  # start of segment 0 (first vehicle position)

    @property
    def total(self) -> int:
        """Number of waypoints (after removing duplicates)."""
        return len(self.waypoints)

    @property
    def reached(self) -> int:
        """Number of waypoints reached so far."""
        return self._k

    @property
    def finished(self) -> bool:
        """True once the final waypoint was reached."""
        return self._k >= self.total

    def _segment(self, k: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Segment (a, b) ending at waypoint k, along-track fraction t of p, signed offset."""
        a = self.waypoints[k - 1] if k > 0 else self._start
        b = self.waypoints[k]
        ab = b - a
        length2 = float(ab @ ab)
        if length2 < DUPLICATE_TOLERANCE_M ** 2:  # vehicle started on the first waypoint
            return a, b, 1.0, 0.0
        ap = p - a
        t = float(ap @ ab) / length2
        cte = float(ab[0] * ap[1] - ab[1] * ap[0]) / math.sqrt(length2)
        return a, b, t, cte

    @staticmethod
    def _passed(a: np.ndarray, b: np.ndarray, c: np.ndarray, p: np.ndarray) -> bool:
        """True once p crossed the bisector at corner b of the path a -> b -> c."""
        u_in = (b - a) / max(float(np.hypot(*(b - a))), DUPLICATE_TOLERANCE_M)
        u_out = (c - b) / float(np.hypot(*(c - b)))
        normal = u_in + u_out
        size = float(np.hypot(*normal))
        if size < 1e-6:  # hairpin: the bisector is the segment itself; use the perpendicular
            normal, size = u_in, 1.0
        return float((p - b) @ normal) / size >= 0.0

    def _result(self, v: float, w: float, cte: float, dist: float,
                status: FollowStatus) -> PurePursuitResult:
        return PurePursuitResult(v, w, min(self._k, self.total - 1), min(self._k, self.total),
                                 cte, dist, status)

    def step(self, x_m: float, y_m: float, yaw_rad: float, speed_mps: float) -> PurePursuitResult:
        """One control step from the vehicle pose [m, rad] and measured speed [m/s]."""
        cfg = self.config
        if not all(math.isfinite(v) for v in (x_m, y_m, yaw_rad, speed_mps)):
            return self._result(0.0, 0.0, 0.0, math.nan, FollowStatus.ERROR_INVALID_INPUT)
        p = np.array([x_m, y_m])
        if self._start is None:
            self._start = p
        n = self.total
        if self.finished:
            _, _, _, cte = self._segment(n - 1, p)
            return self._result(0.0, 0.0, cte, 0.0, FollowStatus.FINISHED)

        while True:
            a, b, t, cte = self._segment(self._k, p)
            inside = float(np.hypot(*(p - b))) <= cfg.acceptance_radius_m
            if self._k == n - 1:
                if inside:
                    self._k = n
                    return self._result(0.0, 0.0, cte, 0.0, FollowStatus.FINISHED)
                break
            if not (inside or self._passed(a, b, self.waypoints[self._k + 1], p)):
                break
            self._k += 1

        k = self._k
        proj = a + min(max(t, 0.0), 1.0) * (b - a)
        remaining_m = float(np.hypot(*(b - proj))) + float(
            np.sum(np.hypot(*np.diff(self.waypoints[k:], axis=0).T)))
        dist_goal_m = max(remaining_m, float(np.hypot(*(p - self.waypoints[-1]))))

        lookahead_m = min(max(cfg.lookahead_time_s * abs(speed_mps), cfg.lookahead_min_m),
                          cfg.lookahead_max_m)
        goal = self.waypoints[-1]
        if float(np.hypot(*(proj - p))) >= lookahead_m:
            goal = proj
        else:
            q0 = proj
            for q1 in self.waypoints[k:]:
                if float(np.hypot(*(q1 - p))) >= lookahead_m:
                    goal = q0 + _circle_exit(q0, q1, p, lookahead_m) * (q1 - q0)
                    break
                q0 = q1

        dx, dy = (float(d) for d in goal - p)
        c, s = math.cos(yaw_rad), math.sin(yaw_rad)
        gx, gy = c * dx + s * dy, -s * dx + c * dy
        bearing = math.atan2(gy, gx)
        if abs(bearing) > cfg.rotate_in_place_angle_rad:
            w = math.copysign(cfg.yaw_rate_max_radps, bearing)
            return self._result(0.0, w, cte, dist_goal_m, FollowStatus.WORKING)

        dist2 = gx * gx + gy * gy
        kappa = 2.0 * gy / dist2 if dist2 > DUPLICATE_TOLERANCE_M ** 2 else 0.0  # [1/m]
        v = cfg.speed_mps
        if kappa != 0.0 and 1.0 / abs(kappa) < cfg.turn_slowdown_radius_m:
            v *= (1.0 / abs(kappa)) / cfg.turn_slowdown_radius_m
        v = max(v, cfg.speed_min_mps)
        brake_m = max(dist_goal_m - cfg.acceptance_radius_m, 0.0)
        v = min(v, math.sqrt(cfg.speed_min_mps ** 2 + 2.0 * cfg.goal_decel_mps2 * brake_m))
        if kappa != 0.0:
            v = min(v, cfg.yaw_rate_max_radps / abs(kappa))
        return self._result(v, v * kappa, cte, dist_goal_m, FollowStatus.WORKING)
