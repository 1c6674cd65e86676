"""Integral line-of-sight (ILOS) path following over a polyline, and around a circle.

References:
* E. Børhaug, A. Pavlov, K. Y. Pettersen, "Integral LOS control for path following of
  underactuated marine surface vessels in the presence of constant ocean currents",
  47th IEEE Conference on Decision and Control (CDC), 2008, pp. 4984-4991.
* T. I. Fossen, *Handbook of Marine Craft Hydrodynamics and Motion Control*, 2nd ed.,
  Wiley 2021, chapter "Guidance systems" (LOS for straight-line paths; ILOS; along-track
  switching criterion; crab-angle compensation with a measured course).

For the active segment from ``p_k`` to ``p_k+1`` with path angle ``pi_p`` the along-track
and cross-track errors are (ENU, cross-track positive to the LEFT of the path)

    s   =  (x - x_k) cos pi_p + (y - y_k) sin pi_p
    y_e = -(x - x_k) sin pi_p + (y - y_k) cos pi_p

and the ILOS heading law of Børhaug et al. (in our sign convention) is

    psi_d = pi_p - atan((y_e + sigma y_int) / Delta)
    y_int_dot = Delta y_e / ((y_e + sigma y_int)^2 + Delta^2)

with lookahead ``Delta`` [m] and integral gain ``sigma``. At equilibrium the integral
supplies the crab angle that cancels a constant drift (current, wind) and ``y_e -> 0``; the
``Delta / (...)`` factor slows integration down far from the path (anti-windup built into
the law). Optionally (``crab_feedforward``) a measured sideslip ``beta = atan2(v, u)``
(body-frame ground velocity) is subtracted as in Fossen 2021 (course vs heading,
``psi_d = chi_d - beta``), low-pass filtered and sampled only on straight running (``|r|``
small: in a turn
the sideslip is the hull's own skid, and feeding it back would turn harder still); the
integral then only handles what is left, so it converges faster after every turn of a
survey pattern where the drift changes side.

Tuning for a hull with weak sway damping (the VRX WAM-V: Y_v = 40 N s/m for 180 kg): the
course follows the heading only with the sway time constant m / Y_v = 4.5 s, so the LOS
loop gain U / Delta must stay well below 1 / 4.5 s: Delta = 20 m at 2 m/s (about four hull
lengths; Fossen recommends 1.5-2.5 lengths for ordinary hulls). With that lookahead the
ILOS integral alone is slow (its rate scales with 1 / Delta); the measured crab angle takes
over most of the drift compensation.

Segment switching (Fossen 2021, along-track circle-of-acceptance criterion): move to the
next segment once the along-track distance left on the current one is at most
``acceptance_radius_m``; this also switches a vessel that passed abeam of the waypoint
outside the circle. The final waypoint counts as reached once passed along track or within
the radius. The integral state is reset to zero on switching (the drift seen by a new
segment is different; the feed-forward carries the measured part across).

"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from dg_common.geometry import wrap_angle

#: Consecutive path points closer than this [m] are merged.
DUPLICATE_TOLERANCE_M = 1e-6


class InvalidPath(ValueError):
    """A path that cannot be followed (non-finite, empty, malformed); the message says why."""


class LosStatus(enum.Enum):
    """Result of one guidance step (Ruckig's ``Result`` idiom)."""

    WORKING = "working"                          #: heading computed, path end not reached
    FINISHED = "finished"                        #: final waypoint reached (heading = last one)
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite position; no heading


@dataclass(frozen=True)
class LosConfig:
    """ILOS tuning (SI units)."""

    lookahead_m: float = 20.0                #: Delta [m] (see the module docstring)
    integral_gain: float = 0.05              #: sigma (0: proportional LOS, no integral)
    integral_limit_m: float = 20.0           #: |y_int| clamp, on top of the law's own [m]
    acceptance_radius_m: float = 2.0         #: along-track switching distance [m]
    crab_feedforward: bool = True            #: subtract the measured sideslip
    crab_min_speed_mps: float = 0.3          #: below this ground speed no sideslip is used
    crab_max_rad: float = 0.6                #: |sideslip| feed-forward clamp [rad]
    crab_filter_time_s: float = 5.0          #: sideslip low-pass time constant [s]
    crab_max_yaw_rate_radps: float = 0.1     #: sideslip only sampled while turning slower

    def __post_init__(self) -> None:
        """Reject non-finite or out-of-range settings with the field's name."""
        for name, value in vars(self).items():
            if isinstance(value, bool):
                continue
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if self.lookahead_m <= 0.0:
            raise ValueError(f"lookahead_m must be > 0, got {self.lookahead_m}")
        if self.crab_filter_time_s <= 0.0:
            raise ValueError("crab_filter_time_s must be > 0")


@dataclass(frozen=True)
class LosResult:
    """One ILOS step. Contract fields first; extra detail after."""

    heading_rad: float          #: desired heading (ENU yaw) [rad]
    segment_index: int          #: active segment (from point i to i+1)
    cross_track_m: float        #: y_e, positive left of the path [m]
    distance_to_go_m: float     #: along the path to its end [m]
    finished: bool
    status: LosStatus
    along_track_m: float = 0.0  #: s on the active segment [m]
    segment_left_m: float = 0.0  #: along-track distance left on the active segment [m]
    path_angle_rad: float = 0.0  #: pi_p of the active segment [rad]
    next_turn_rad: float = 0.0  #: heading change at the end of the active segment [rad]
    integral_m: float = 0.0     #: y_int [m]
    crab_rad: float = 0.0       #: sideslip feed-forward applied [rad]


def validate_path(path_xy: object) -> np.ndarray:
    """Return ``path_xy`` as an N x 2 float array with duplicates merged.

    Raises:
        InvalidPath: if it is not N x 2, empty, or has a non-finite coordinate.

    """
    try:
        arr = np.asarray(path_xy, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidPath(f"path is not numeric: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidPath(f"path must be N x 2 [m], got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidPath("path is empty")
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise InvalidPath(f"path point {bad} is not finite: {arr[bad].tolist()}")
    keep = [0]
    for i in range(1, arr.shape[0]):
        if np.hypot(*(arr[i] - arr[keep[-1]])) > DUPLICATE_TOLERANCE_M:
            keep.append(i)
    return arr[keep].copy()


def along_cross(x: float, y: float, p0: np.ndarray, angle: float) -> tuple[float, float]:
    """Along-track and cross-track (positive left) position relative to a line [m]."""
    dx, dy = x - p0[0], y - p0[1]
    c, s = math.cos(angle), math.sin(angle)
    return dx * c + dy * s, -dx * s + dy * c


class IntegralLos:
    """ILOS guidance with internal segment index and integral state."""

    def __init__(self, config: LosConfig | None = None) -> None:
        """Create the guidance; a path is given with every :meth:`step`."""
        self.config = config or LosConfig()
        self._path: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self.reset()

    def reset(self) -> None:
        """Restart from the first segment with zero integral and no filtered sideslip."""
        self._segment = 0
        self._y_int = 0.0
        self._crab = 0.0
        self._finished = False
        self._circle_angle: float | None = None

    @property
    def segment_index(self) -> int:
        """Active segment."""
        return self._segment

    @property
    def integral_m(self) -> float:
        """ILOS integral state y_int [m]."""
        return self._y_int

    def _set_path(self, x: float, y: float, path_xy: object) -> np.ndarray:
        if isinstance(path_xy, np.ndarray):
            raw = path_xy
        else:
            try:
                raw = np.asarray(path_xy, dtype=float)
            except (TypeError, ValueError) as exc:
                raise InvalidPath(f"path is not numeric: {exc}") from None
        if self._raw is not None and raw.shape == self._raw.shape \
                and np.array_equal(raw, self._raw):
            return self._path
        path = validate_path(path_xy)
        if path.shape[0] == 1:  # a single point: go there from where we are
            path = np.vstack([[x, y], path])
        self._raw = np.array(raw, dtype=float, copy=True)
        self._path = path
        self.reset()
        return path

    def _crab_ff(self, u_mps: float | None, v_mps: float | None, r_radps: float | None,
                 dt_s: float) -> float:
        c = self.config
        if not c.crab_feedforward or u_mps is None or v_mps is None:
            self._crab = 0.0
            return 0.0
        steady = r_radps is None or abs(r_radps) <= c.crab_max_yaw_rate_radps
        if steady and math.hypot(u_mps, v_mps) >= c.crab_min_speed_mps and u_mps > 0.0:
            beta = max(-c.crab_max_rad, min(c.crab_max_rad, math.atan2(v_mps, u_mps)))
            a = min(1.0, dt_s / c.crab_filter_time_s)
            self._crab += a * (beta - self._crab)
        return self._crab

    def _law(self, y_e: float, dt_s: float) -> float:
        c = self.config
        delta, sigma = c.lookahead_m, c.integral_gain
        if sigma > 0.0 and dt_s > 0.0:
            denom = (y_e + sigma * self._y_int) ** 2 + delta * delta
            self._y_int += dt_s * delta * y_e / denom
            self._y_int = max(-c.integral_limit_m, min(c.integral_limit_m, self._y_int))
        return -math.atan((y_e + sigma * self._y_int) / delta)

    def step(self, x: float, y: float, path_xy: object, dt_s: float = 0.0,
             u_mps: float | None = None, v_mps: float | None = None,
             r_radps: float | None = None) -> LosResult:
        """Desired heading at ``(x, y)`` [m] for ``path_xy`` (N x 2, map frame).

        ``dt_s`` integrates the ILOS state (0: no integration). ``u_mps``, ``v_mps``: the
        body-frame ground velocity for the crab-angle feed-forward (None: none), sampled only
        while ``|r_radps|`` is small (in a turn the sideslip is the hull's own skid, and
        feeding it back would turn harder still). A new path
        (different values than the previous call) restarts from its first segment.

        Raises:
            InvalidPath: if ``path_xy`` is malformed or not finite.

        """
        if not all(math.isfinite(v) for v in (x, y, dt_s)) or dt_s < 0.0:
            return LosResult(0.0, self._segment, 0.0, 0.0, False, LosStatus.ERROR_INVALID_INPUT)
        for v in (u_mps, v_mps, r_radps):
            if v is not None and not math.isfinite(v):
                return LosResult(0.0, self._segment, 0.0, 0.0, False,
                                 LosStatus.ERROR_INVALID_INPUT)
        path = self._set_path(x, y, path_xy)
        c = self.config
        n_seg = path.shape[0] - 1
        # Switch segments (possibly several on one step after a jump).
        while True:
            p0, p1 = path[self._segment], path[self._segment + 1]
            seg_len = float(np.hypot(*(p1 - p0)))
            angle = math.atan2(p1[1] - p0[1], p1[0] - p0[0])
            s, y_e = along_cross(x, y, p0, angle)
            left = seg_len - s
            if left > c.acceptance_radius_m or self._segment == n_seg - 1:
                break
            self._segment += 1
            self._y_int = 0.0
        if self._segment == n_seg - 1 and (
                left <= 0.0 or math.hypot(x - p1[0], y - p1[1]) <= c.acceptance_radius_m):
            self._finished = True
        crab = self._crab_ff(u_mps, v_mps, r_radps, dt_s)
        heading = wrap_angle(angle + self._law(y_e, dt_s) - crab)
        rest = float(sum(np.hypot(*(path[i + 1] - path[i]))
                         for i in range(self._segment + 1, n_seg)))
        to_go = max(0.0, left) + rest
        if self._segment + 2 <= n_seg:
            q = path[self._segment + 2]
            turn = wrap_angle(math.atan2(q[1] - p1[1], q[0] - p1[0]) - angle)
        else:
            turn = 0.0
        status = LosStatus.FINISHED if self._finished else LosStatus.WORKING
        return LosResult(heading, self._segment, y_e, to_go, self._finished, status,
                         along_track_m=s, segment_left_m=left, path_angle_rad=angle,
                         next_turn_rad=turn, integral_m=self._y_int, crab_rad=crab)

    def step_circle(self, x: float, y: float, center_xy: tuple[float, float], radius_m: float,
                    dt_s: float = 0.0, u_mps: float | None = None, v_mps: float | None = None,
                    r_radps: float | None = None, counter_clockwise: bool = True) -> LosResult:
        """ILOS around a circle (loiter): the path is the circle's tangent at the nearest point.

        Cross-track is ``|p - c| - R`` (positive outside), signed so that positive is left of
        the direction of travel like on a straight path. Never finishes.

        Raises:
            InvalidPath: if the centre or radius is not finite or the radius is not > 0.

        """
        cx, cy = center_xy
        if not all(math.isfinite(v) for v in (cx, cy, radius_m)) or radius_m <= 0.0:
            raise InvalidPath(f"loiter circle needs a finite centre and radius > 0, got "
                              f"({cx}, {cy}), {radius_m}")
        if not all(math.isfinite(v) for v in (x, y, dt_s)) or dt_s < 0.0:
            return LosResult(0.0, 0, 0.0, 0.0, False, LosStatus.ERROR_INVALID_INPUT)
        bearing = math.atan2(y - cy, x - cx)
        sign = 1.0 if counter_clockwise else -1.0
        tangent = wrap_angle(bearing + sign * math.pi / 2)
        dist = math.hypot(x - cx, y - cy)
        # Left of a CCW circle is the inside: outside = right = negative cross-track.
        y_e = -sign * (dist - radius_m)
        crab = self._crab_ff(u_mps, v_mps, None, dt_s)
        heading = wrap_angle(tangent + self._law(y_e, dt_s) - crab)
        return LosResult(heading, 0, y_e, math.inf, False, LosStatus.WORKING,
                         path_angle_rad=tangent, integral_m=self._y_int, crab_rad=crab)


def corner_speed_limit(result: LosResult, cruise_mps: float, turn_speed_mps: float,
                       decel_mps2: float, turn_threshold_rad: float = 0.35) -> float:
    """Speed [m/s] that lets the vessel brake to ``turn_speed_mps`` before a sharp corner.

    Corners sharper than ``turn_threshold_rad`` get ``v <= sqrt(v_turn^2 + 2 a d)`` with
    ``d`` the along-track distance to the corner; the final waypoint is not a corner (the
    caller decides how to arrive).
    """
    if abs(result.next_turn_rad) < turn_threshold_rad or result.finished:
        return cruise_mps
    d = max(0.0, result.segment_left_m)
    return min(cruise_mps, math.sqrt(turn_speed_mps ** 2 + 2.0 * decel_mps2 * d))
