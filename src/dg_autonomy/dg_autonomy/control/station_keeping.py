"""Station keeping (position + heading hold) of an underactuated twin-thruster boat.

Two parallel aft thrusters give surge force and yaw moment only, so the boat cannot push
sideways: in a steady environmental force (wind, current, wave drift) the only equilibrium
with zero velocity has the thrust line along that force, i.e. the bow into the weather
(Fossen, *Handbook of Marine Craft Hydrodynamics and Motion Control*, 2nd ed., Wiley 2021,
weather-optimal positioning; Fossen & Strand, "Nonlinear passive weather optimal
positioning control (WOPC) system for ships and rigs", Automatica 37(5), 2001).
With a commanded heading across the weather the boat drifts; the navigator therefore
offers ``into_weather`` (GuidanceCommand.heading_into_weather).

Environmental force estimate (for the feed-forward and the weather heading): a generalized-
momentum observer in the map frame (De Luca & Mattone, ICRA 2003, "Actuator failure
detection and isolation using generalized momenta", applied here to the planar hull):

    p = R(psi) M nu,  I += (R(psi) (tau - D(nu) nu) + F_hat) dt,  F_hat = K (p - p(0) - I)

is a first-order low-pass (bandwidth ``K``) of the unmodelled force, without differentiating
the velocity. Everything the model does not explain (wind, waves' slow drift, the drag of a
current, model error) is in ``F_hat``. A slower low-pass of it (``weather_filter_time_s``)
gives the mean force; the weather heading is ``atan2(-F_y, -F_x)`` (bow toward where the
force comes from). Until the mean force exceeds ``weather_min_force_n`` the commanded
heading is used. Chosen over a wind-direction parameter because it needs no wind sensor
and also accounts for current and waves; over the position integrator because that only
sees the force along the hull.

Modes (with hysteresis):

* ``APPROACH`` (farther than ``hold_exit_radius_m``, or far abeam): ILOS along a path to an
  entry point ``entry_distance_m`` behind the goal on the hold axis, then along the axis to
  the goal (straight in when already behind the goal near the axis, or in calm water: then
  the boat turns on the spot at the goal, which costs no position when it is stopped;
  against the weather it always comes in along the axis, like a boat picking up a
  mooring), so that the boat
  arrives on the axis with the hold heading (what the VRX pose error ``d + 0.75^d |dpsi|``
  rewards: a boat with no side thrust cannot fix a lateral error once stopped). Speed
  ``min(v_max, sqrt(v_end^2 + 2 a s), k s + v_end)`` of the along-track distance ``s`` to
  the segment's end (``v_end``: crawl at the entry corner, ~0 at the goal), scaled down to
  zero while the heading is more than ``turn_first_rad`` off (turn first, then go: the
  WAM-V's sway damping is weak, so turning at speed makes it skid).
* ``HOLD`` (inside ``hold_enter_radius_m`` until it leaves ``hold_exit_radius_m``): heading
  control to the hold heading plus a small offset that corrects the lateral error with the
  thrust (``delta = -sat(k_y (e_y + T_y e_y_dot)) tanh(tau_X / F_0)``: steering only helps
  while thrusting); surge: position P -> velocity PI -> force, plus the observer's force
  along the hull as feed-forward.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from dg_autonomy.control.heading_speed import (
    ControllerStatus,
    HeadingController,
    HeadingSpeedConfig,
    SpeedController,
    VesselModel,
)
from dg_autonomy.guidance.line_of_sight import IntegralLos, LosConfig, along_cross
from dg_common.geometry import wrap_angle


class StationMode(enum.Enum):
    """What the station keeper is doing."""

    APPROACH = "approach"
    HOLD = "hold"


class StationStatus(enum.Enum):
    """Result of one station-keeping step (Ruckig's ``Result`` idiom)."""

    WORKING = "working"                          #: forces computed, not (yet) on station
    ACQUIRED = "acquired"                        #: on station (position and heading)
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite state or goal; zero forces


@dataclass(frozen=True)
class StationKeepingConfig:
    """Tuning (SI units); defaults for the WAM-V."""

    approach_speed_mps: float = 2.0
    approach_decel_mps2: float = 0.3
    arrival_speed_mps: float = 0.05
    turn_first_rad: float = 0.5              #: no approach speed beyond this heading error
    corner_speed_mps: float = 0.1            #: speed at the entry point's corner [m/s]
    entry_distance_m: float = 6.0            #: entry point this far behind the goal [m]
    direct_cone: float = 0.15                #: go straight in when |e_y| <= this * |e_x|
    hold_enter_radius_m: float = 0.1         #: HOLD from here in calm water [m]
    hold_exit_radius_m: float = 2.5
    hold_enter_weather_radius_m: float = 1.5  #: HOLD from here when not calm [m]
    lateral_exit_m: float = 1.5              #: HOLD -> APPROACH when this far abeam [m]
    position_gain_per_s: float = 0.35        #: along-axis position -> velocity [1/s]
    hold_max_speed_mps: float = 0.8
    velocity_gain_per_s: float = 1.2         #: along-axis velocity error -> accel [1/s]
    velocity_integral_n_per_m: float = 25.0  #: velocity error integral gain [N/m]
    velocity_integral_limit_n: float = 150.0
    lateral_lookahead_m: float = 2.0         #: LOS lookahead of the lateral correction [m]
    lateral_damping_s: float = 1.0
    lateral_max_rad: float = 0.35
    steer_force_scale_n: float = 15.0        #: F_0 of the lateral steering fade-in [N]
    steer_speed_scale_mps: float = 0.1       #: v_0 of the lateral steering fade-in [m/s]
    relocate_lateral_m: float = 0.15         #: calm: approach again beyond this abeam [m]
    calm_force_n: float = 15.0               #: below this mean force: approach straight [N]
    acquired_radius_m: float = 0.5
    acquired_heading_rad: float = 0.15
    observer_gain_per_s: float = 0.5
    feedforward_filter_time_s: float = 3.0   #: low-pass of the observed force for the FF [s]
    weather_filter_time_s: float = 15.0
    weather_min_force_n: float = 6.0
    feedforward: bool = True
    approach_los: LosConfig = field(default_factory=lambda: LosConfig(
        lookahead_m=3.0, integral_gain=0.2, acceptance_radius_m=0.0, crab_feedforward=False))

    def __post_init__(self) -> None:
        """Reject non-finite or negative settings and inconsistent radii."""
        for name, value in vars(self).items():
            if isinstance(value, (bool, LosConfig)):
                continue
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not self.hold_enter_radius_m < self.hold_exit_radius_m:
            raise ValueError("hold_enter_radius_m must be < hold_exit_radius_m")
        for name in ("turn_first_rad", "observer_gain_per_s", "feedforward_filter_time_s",
                     "lateral_lookahead_m", "steer_speed_scale_mps", "weather_filter_time_s",
                     "steer_force_scale_n",
                     "approach_speed_mps", "approach_decel_mps2"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be > 0")


@dataclass(frozen=True)
class StationKeepingResult:
    """One station-keeping step."""

    tau_x_n: float
    tau_n_nm: float
    mode: StationMode
    status: StationStatus
    distance_m: float              #: to the goal position [m]
    heading_error_rad: float       #: psi - hold heading, wrapped [rad]
    hold_heading_rad: float        #: the heading being held [rad]
    along_m: float = 0.0           #: position error along the hold axis [m]
    lateral_m: float = 0.0         #: position error across it (positive left) [m]
    env_force_n: tuple[float, float] = (0.0, 0.0)  #: mean environmental force, map [N]


class EnvForceObserver:
    """Generalized-momentum observer of the planar environmental force (module docstring)."""

    def __init__(self, model: VesselModel, gain_per_s: float, filter_time_s: float,
                 smooth_time_s: float = 3.0) -> None:
        """Create the observer (bandwidth ``gain_per_s``, feed-forward and mean filters)."""
        self.model, self.gain, self.filter_time_s = model, gain_per_s, filter_time_s
        self.smooth_time_s = smooth_time_s
        self.reset()

    def reset(self) -> None:
        """Restart: no estimate."""
        self._p0: np.ndarray | None = None
        self._integral = np.zeros(2)
        self.force_n = np.zeros(2)       #: fast estimate, map frame [N]
        self.smooth_force_n = np.zeros(2)  #: low-passed for the feed-forward, map frame [N]
        self.mean_force_n = np.zeros(2)  #: slow mean, map frame [N]

    def step(self, psi_rad: float, u_mps: float, v_mps: float, tau_x_n: float,
             dt_s: float) -> np.ndarray:
        """Update with the state and the surge force applied over the last step."""
        m = self.model
        c, s = math.cos(psi_rad), math.sin(psi_rad)
        rot = np.array([[c, -s], [s, c]])
        p = rot @ np.array([m.surge_inertia_kg * u_mps, m.sway_inertia_kg * v_mps])
        if self._p0 is None:
            self._p0 = p
            return self.force_n
        f_model = rot @ np.array([tau_x_n - m.surge_drag_n(u_mps), -m.sway_drag_n(v_mps)])
        self._integral += (f_model + self.force_n) * dt_s
        self.force_n = self.gain * (p - self._p0 - self._integral)
        a = min(1.0, dt_s / self.smooth_time_s)
        self.smooth_force_n = self.smooth_force_n + a * (self.force_n - self.smooth_force_n)
        a = min(1.0, dt_s / self.filter_time_s)
        self.mean_force_n = self.mean_force_n + a * (self.force_n - self.mean_force_n)
        return self.force_n


class StationKeeper:
    """Approach and hold a pose; see the module docstring."""

    def __init__(self, model: VesselModel | None = None,
                 config: StationKeepingConfig | None = None,
                 heading_config: HeadingSpeedConfig | None = None) -> None:
        """Create the station keeper (defaults: WAM-V)."""
        self.model = model or VesselModel()
        self.config = config or StationKeepingConfig()
        hc = heading_config or HeadingSpeedConfig()
        self.heading = HeadingController(self.model, hc)
        self.speed = SpeedController(self.model, hc)
        self.los = IntegralLos(self.config.approach_los)
        self.observer = EnvForceObserver(self.model, self.config.observer_gain_per_s,
                                         self.config.weather_filter_time_s,
                                         self.config.feedforward_filter_time_s)
        self.reset()

    def reset(self, keep_weather: bool = True) -> None:
        """Restart in APPROACH (the weather estimate is kept unless asked otherwise)."""
        self.mode: StationMode | None = None
        self._path: np.ndarray | None = None
        self._v_integral_n = 0.0
        self._goal: tuple[float, float, float] | None = None
        self.heading.reset()
        self.speed.reset()
        self.los.reset()
        if not keep_weather:
            self.observer.reset()

    @property
    def calm(self) -> bool:
        """True while the mean environmental force is too weak to steer against."""
        return float(np.hypot(*self.observer.mean_force_n)) < self.config.steer_force_scale_n

    @property
    def weather_heading_rad(self) -> float | None:
        """Heading with the bow into the mean environmental force (None: not known yet)."""
        f = self.observer.mean_force_n
        if float(np.hypot(*f)) < self.config.weather_min_force_n:
            return None
        return math.atan2(-f[1], -f[0])

    def hold_heading(self, goal_heading_rad: float, into_weather: bool) -> float:
        """The heading to hold: into the weather when asked and known, else the goal's."""
        w = self.weather_heading_rad if into_weather else None
        return goal_heading_rad if w is None else w

    def _approach_path(self, x: float, y: float, gx: float, gy: float,
                       hold: float) -> np.ndarray:
        """Straight to the goal in calm water or from behind it on the axis, else via the entry."""
        c = self.config
        goal = np.array([gx, gy])
        entry = goal - c.entry_distance_m * np.array([math.cos(hold), math.sin(hold)])
        e_x, e_y = along_cross(x, y, goal, hold)
        if e_x < 0.0 and abs(e_y) <= c.direct_cone * abs(e_x):
            return np.array([[x, y], goal])
        if float(np.hypot(*self.observer.mean_force_n)) < c.calm_force_n:
            return np.array([[x, y], goal])         # calm: point, go, then turn on the spot
        return np.array([[x, y], entry, goal])

    def step(self, x: float, y: float, psi_rad: float, u_mps: float, v_mps: float,
             r_radps: float, goal_x: float, goal_y: float, goal_heading_rad: float,
             dt_s: float, into_weather: bool = False, tau_applied_x_n: float = 0.0,
             saturated: bool = False) -> StationKeepingResult:
        """One step toward/at the goal pose.

        ``tau_applied_x_n``: the surge force the thrusters gave over the last step (for the
        observer); ``saturated``: whether the last allocation clipped (anti-windup).
        """
        vals = (x, y, psi_rad, u_mps, v_mps, r_radps, goal_x, goal_y, goal_heading_rad, dt_s,
                tau_applied_x_n)
        if not all(math.isfinite(v) for v in vals) or dt_s < 0.0:
            return StationKeepingResult(0.0, 0.0, self.mode or StationMode.APPROACH,
                                        StationStatus.ERROR_INVALID_INPUT, math.nan, math.nan,
                                        goal_heading_rad)
        c = self.config
        self.observer.step(psi_rad, u_mps, v_mps, tau_applied_x_n, dt_s)
        hold = self.hold_heading(goal_heading_rad, into_weather)
        goal = (goal_x, goal_y, goal_heading_rad)
        if goal != self._goal:
            self._goal, self.mode, self._path = goal, None, None
        d = math.hypot(x - goal_x, y - goal_y)
        e_x, e_y = along_cross(x, y, np.array([goal_x, goal_y]), hold)
        # Mode switching with hysteresis.
        if self.mode is None:
            self.mode = StationMode.HOLD if d <= c.hold_enter_radius_m else StationMode.APPROACH
        elif self.mode is StationMode.HOLD and (
                d > c.hold_exit_radius_m or abs(e_y) > c.lateral_exit_m
                or (self.calm and abs(e_y) > c.relocate_lateral_m
                    and abs(wrap_angle(psi_rad - hold)) < 0.1 and math.hypot(u_mps, v_mps) < 0.05)):
            # Far off, or (calm water) a lateral error the thrust cannot steer away: a boat
            # without side thrust turns toward the goal, goes there and turns back.
            self.mode, self._path = StationMode.APPROACH, None
        elif self.mode is StationMode.APPROACH and (
                d <= (c.hold_enter_radius_m if self.calm else c.hold_enter_weather_radius_m)):
            self.mode = StationMode.HOLD
            self._v_integral_n = 0.0
        if self.mode is StationMode.APPROACH:
            if self._path is None:
                self._path = self._approach_path(x, y, goal_x, goal_y, hold)
                self.los.reset()
            res = self.los.step(x, y, self._path, dt_s, u_mps, v_mps, r_radps)
            if res.finished and d > c.hold_exit_radius_m:  # far past the goal: plan again
                self._path = self._approach_path(x, y, goal_x, goal_y, hold)
                self.los.reset()
                res = self.los.step(x, y, self._path, dt_s, u_mps, v_mps, r_radps)
            elif res.finished:  # at (or just past) the goal along the axis
                self.mode = StationMode.HOLD
                self._v_integral_n = 0.0
        if self.mode is StationMode.APPROACH:
            to_go = max(0.0, res.segment_left_m)
            last = res.segment_index == len(self._path) - 2
            stop = c.arrival_speed_mps if last else c.corner_speed_mps
            u_d = min(c.approach_speed_mps,
                      math.sqrt(stop ** 2 + 2.0 * c.approach_decel_mps2 * to_go),
                      c.position_gain_per_s * to_go + stop)
            # Turn first, then go: no speed while the bow is far off the track.
            off = abs(wrap_angle(res.heading_rad - psi_rad))
            u_d *= max(0.0, 1.0 - off / c.turn_first_rad)
            psi_d = res.heading_rad
            tau_x, _, st_s = self.speed.step(u_mps, u_d, dt_s, saturated)
        else:
            tau_x, psi_d, st_s = self._hold(psi_rad, u_mps, v_mps, e_x, e_y, hold, dt_s,
                                            saturated)
        tau_n, _, _, st_h = self.heading.step(psi_rad, r_radps, psi_d, dt_s, saturated)
        f_mean = (float(self.observer.mean_force_n[0]), float(self.observer.mean_force_n[1]))
        if ControllerStatus.ERROR_INVALID_INPUT in (st_s, st_h):
            return StationKeepingResult(0.0, 0.0, self.mode, StationStatus.ERROR_INVALID_INPUT,
                                        d, math.nan, hold)
        dpsi = wrap_angle(psi_rad - hold)
        acquired = d <= c.acquired_radius_m and abs(dpsi) <= c.acquired_heading_rad
        return StationKeepingResult(
            tau_x, tau_n, self.mode,
            StationStatus.ACQUIRED if acquired else StationStatus.WORKING,
            d, dpsi, hold, e_x, e_y, f_mean)

    def _hold(self, psi: float, u: float, v: float, e_x: float, e_y: float, hold: float,
              dt_s: float, saturated: bool) -> tuple[float, float, ControllerStatus]:
        c, m = self.config, self.model
        # Velocity of the boat along / across the hold axis (map-frame ground velocity).
        vel_e = u * math.cos(psi) - v * math.sin(psi)
        vel_n = u * math.sin(psi) + v * math.cos(psi)
        ch, sh = math.cos(hold), math.sin(hold)
        v_along = vel_e * ch + vel_n * sh
        v_across = -vel_e * sh + vel_n * ch
        v_ref = max(-c.hold_max_speed_mps, min(c.hold_max_speed_mps,
                                               -c.position_gain_per_s * e_x))
        err = v_ref - v_along
        if not saturated:
            lim = c.velocity_integral_limit_n
            self._v_integral_n = max(-lim, min(lim, self._v_integral_n
                                               + c.velocity_integral_n_per_m * err * dt_s))
        tau_x = (m.surge_inertia_kg * c.velocity_gain_per_s * err + m.surge_drag_n(v_ref)
                 + self._v_integral_n)
        if abs(wrap_angle(psi - hold)) > c.turn_first_rad:
            # Still turning onto the hold heading: the hull is not along the axis, so only
            # brake (a thrust now would push the boat somewhere off the axis).
            tau_x = -m.surge_inertia_kg * c.velocity_gain_per_s * u
            self._v_integral_n = 0.0
        if c.feedforward:
            f = self.observer.smooth_force_n
            tau_x -= float(f[0] * math.cos(psi) + f[1] * math.sin(psi))
        # Steering helps in the direction the thrust pushes on average (holding against the
        # weather: the mean force, not the wave-by-wave one) or the boat moves (in calm
        # water); LOS-like law on the hold axis.
        fm = self.observer.mean_force_n
        w = -float(fm[0] * math.cos(psi) + fm[1] * math.sin(psi)) / c.steer_force_scale_n
        if self.calm:
            w += v_along / c.steer_speed_scale_mps
        steer = -max(-c.lateral_max_rad, min(c.lateral_max_rad, math.atan(
            (e_y + c.lateral_damping_s * v_across) / c.lateral_lookahead_m)))
        delta = steer * math.tanh(w)
        # Keep the speed loop consistent for a later APPROACH.
        self.speed.reset(u)
        return tau_x, wrap_angle(hold + delta), ControllerStatus.OK
