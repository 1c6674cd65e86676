"""The navigator's pure core: guidance command + state -> two thrusts (no rclpy).

One object chains the USV cores the way ``usv_navigator`` runs them, so the node and the
lockstep benchmarks execute exactly the same code:

* ``FOLLOW_PATH``: :class:`~dg_autonomy.guidance.line_of_sight.IntegralLos` heading at the
  commanded speed, slowed before sharp corners (:func:`corner_speed_limit`) and to a crawl
  while the bow is far off the desired heading (turn first: see station_keeping); at the
  end of the path the boat keeps station on the last point with the last segment's heading
  (``hold_at_path_end``) or stops (zero thrust);
* ``STATION_KEEP``: :class:`~dg_autonomy.control.station_keeping.StationKeeper` (heading
  given or into the weather);
* ``LOITER``: ILOS around the station at the loiter radius, counter-clockwise;
* ``IDLE``: zero thrust.

An optional avoidance callback (COLREGs, see ``usv_navigator``) may replace the desired
course and speed of the path modes. Then :class:`HeadingSpeedController` and
:func:`allocate` give the two thrusts, which are finite and within the thruster limits by
construction; a non-finite state gives zero thrust and ``ERROR_INVALID_INPUT``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from dg_autonomy.control.heading_speed import (
    ControllerStatus,
    HeadingSpeedConfig,
    HeadingSpeedController,
    VesselModel,
)
from dg_autonomy.control.station_keeping import (
    StationKeeper,
    StationKeepingConfig,
    StationStatus,
)
from dg_autonomy.control.thrust_allocation import ThrusterConfig, allocate
from dg_autonomy.guidance.line_of_sight import (
    IntegralLos,
    InvalidPath,
    LosConfig,
    LosStatus,
    corner_speed_limit,
    validate_path,
)
from dg_common.geometry import wrap_angle

#: (desired course [rad], desired speed [m/s]) -> (course, speed, avoiding).
Avoidance = Callable[[float, float], tuple[float, float, bool]]


class PilotMode(enum.IntEnum):
    """What to do; values equal ``dg_interfaces/GuidanceCommand.MODE_*``."""

    IDLE = 0
    FOLLOW_PATH = 1
    STATION_KEEP = 2
    LOITER = 3


class PilotStatus(enum.Enum):
    """Result of one pilot step (Ruckig's ``Result`` idiom)."""

    WORKING = "working"                          #: thrusts computed, not finished
    FINISHED = "finished"                        #: path end reached / station acquired
    IDLE = "idle"                                #: no task: zero thrust
    ERROR_INVALID_INPUT = "error_invalid_input"  #: non-finite state: zero thrust


@dataclass(frozen=True)
class PilotCommand:
    """A validated guidance command (map frame, SI units)."""

    mode: PilotMode = PilotMode.IDLE
    path_xy: np.ndarray | None = None
    speed_mps: float = 0.0
    station_xy: tuple[float, float] = (0.0, 0.0)
    heading_rad: float = 0.0
    into_weather: bool = False
    loiter_radius_m: float = 0.0

    @classmethod
    def create(cls, mode: int, path_xy: Sequence[Sequence[float]] | None = None,
               speed_mps: float = 0.0, station_xy: Sequence[float] = (0.0, 0.0),
               heading_rad: float = 0.0, into_weather: bool = False,
               loiter_radius_m: float = 0.0, max_speed_mps: float = math.inf,
               max_path_points: int = 100_000) -> PilotCommand:
        """Validate and build a command.

        Raises:
            ValueError: unknown mode, negative/non-finite/too high speed, non-finite station
                or heading, a bad loiter radius; :class:`InvalidPath` for a bad path.

        """
        try:
            m = PilotMode(int(mode))
        except ValueError:
            raise ValueError(f"unknown mode {mode}") from None
        for name, value in (("speed_mps", speed_mps), ("heading_rad", heading_rad),
                            ("loiter_radius_m", loiter_radius_m)):
            if not math.isfinite(value):
                raise ValueError(f"{name} is not finite: {value}")
        if speed_mps < 0.0 or speed_mps > max_speed_mps:
            raise ValueError(f"speed_mps {speed_mps} outside [0, {max_speed_mps}]")
        sx, sy = (float(v) for v in station_xy)
        if not (math.isfinite(sx) and math.isfinite(sy)):
            raise ValueError(f"station is not finite: ({sx}, {sy})")
        path = None
        if m is PilotMode.FOLLOW_PATH:
            if path_xy is None or len(path_xy) == 0:
                raise InvalidPath("FOLLOW_PATH needs a path")
            if len(path_xy) > max_path_points:
                raise InvalidPath(f"path has {len(path_xy)} points, limit {max_path_points}")
            path = validate_path(path_xy)
            if speed_mps <= 0.0:
                raise ValueError("FOLLOW_PATH needs speed_mps > 0")
        if m is PilotMode.LOITER:
            if loiter_radius_m <= 0.0:
                raise ValueError(f"LOITER needs loiter_radius_m > 0, got {loiter_radius_m}")
            if speed_mps <= 0.0:
                raise ValueError("LOITER needs speed_mps > 0")
        return cls(m, path, float(speed_mps), (sx, sy), float(heading_rad), bool(into_weather),
                   float(loiter_radius_m))


@dataclass(frozen=True)
class PilotConfig:
    """Pilot settings (SI units)."""

    turn_speed_mps: float = 0.6              #: speed at sharp corners
    corner_decel_mps2: float = 0.15          #: braking toward a corner
    corner_threshold_rad: float = 0.35       #: corners sharper than this are slowed for
    turn_first_rad: float = 1.0              #: no speed beyond this heading error
    hold_at_path_end: bool = True            #: keep station at the last point when done
    loiter_counter_clockwise: bool = True
    los: LosConfig = field(default_factory=LosConfig)
    heading: HeadingSpeedConfig = field(default_factory=HeadingSpeedConfig)
    station: StationKeepingConfig = field(default_factory=StationKeepingConfig)


@dataclass(frozen=True)
class PilotOutput:
    """One pilot step."""

    left_n: float
    right_n: float
    saturated: bool
    status: PilotStatus
    mode: PilotMode
    finished: bool = False
    segment_index: int = 0
    cross_track_m: float = 0.0
    distance_to_go_m: float = 0.0
    desired_heading_rad: float = 0.0
    desired_speed_mps: float = 0.0
    avoiding: bool = False
    detail: str = ""


class UsvPilot:
    """Runs one :class:`PilotCommand` at a time (see the module docstring)."""

    def __init__(self, model: VesselModel | None = None,
                 thrusters: ThrusterConfig | None = None,
                 config: PilotConfig | None = None) -> None:
        """Create the pilot (defaults: WAM-V)."""
        self.model = model or VesselModel()
        self.thrusters = thrusters or ThrusterConfig()
        self.config = config or PilotConfig()
        self.los = IntegralLos(self.config.los)
        self.control = HeadingSpeedController(self.model, self.config.heading)
        self.station = StationKeeper(self.model, self.config.station, self.config.heading)
        self.command = PilotCommand()
        self._last_tau_x = 0.0
        self._saturated = False
        self._path_done = False
        self._segment = 0

    def set_command(self, command: PilotCommand) -> None:
        """Start executing ``command`` (controllers restart; the weather estimate is kept)."""
        self.command = command
        self.los.reset()
        self.control.reset()
        self.station.reset(keep_weather=True)
        self._path_done = False
        self._segment = 0

    def stop(self) -> None:
        """Forget the command (IDLE) and the controller states."""
        self.set_command(PilotCommand())
        self._last_tau_x, self._saturated = 0.0, False

    def _zero(self, status: PilotStatus, detail: str) -> PilotOutput:
        self._last_tau_x, self._saturated = 0.0, False
        self.control.reset()
        return PilotOutput(0.0, 0.0, False, status, self.command.mode, detail=detail)

    def step(self, x: float, y: float, psi: float, u: float, v: float, r: float, dt_s: float,
             avoidance: Avoidance | None = None) -> PilotOutput:
        """One control step from the state (map pose, body velocities over ground)."""
        if not all(math.isfinite(a) for a in (x, y, psi, u, v, r, dt_s)) or dt_s < 0.0:
            return self._zero(PilotStatus.ERROR_INVALID_INPUT, "non-finite state")
        cmd = self.command
        if cmd.mode is PilotMode.IDLE:
            self.station.observer.step(psi, u, v, 0.0, dt_s)
            return self._zero(PilotStatus.IDLE, "idle")
        if cmd.mode is PilotMode.STATION_KEEP or (cmd.mode is PilotMode.FOLLOW_PATH
                                                  and self._path_done):
            return self._station_step(x, y, psi, u, v, r, dt_s)
        if cmd.mode is PilotMode.FOLLOW_PATH:
            res = self.los.step(x, y, cmd.path_xy, dt_s, u, v, r)
            if res.status is LosStatus.ERROR_INVALID_INPUT:
                return self._zero(PilotStatus.ERROR_INVALID_INPUT, "guidance rejected state")
            self._segment = res.segment_index
            if res.finished:
                self._path_done = True
                if self.config.hold_at_path_end:
                    p = cmd.path_xy
                    heading = res.path_angle_rad
                    self.command = PilotCommand(
                        PilotMode.FOLLOW_PATH, p, cmd.speed_mps, (float(p[-1][0]),
                                                                 float(p[-1][1])), heading)
                    self.station.reset(keep_weather=True)
                    return self._station_step(x, y, psi, u, v, r, dt_s)
                out = self._zero(PilotStatus.FINISHED, "path end reached")
                return PilotOutput(0.0, 0.0, False, PilotStatus.FINISHED, cmd.mode, True,
                                   res.segment_index, res.cross_track_m, 0.0, res.heading_rad,
                                   0.0, detail=out.detail)
            speed = corner_speed_limit(res, cmd.speed_mps, self.config.turn_speed_mps,
                                       self.config.corner_decel_mps2,
                                       self.config.corner_threshold_rad)
            psi_d, finished = res.heading_rad, False
            seg, xte, to_go = res.segment_index, res.cross_track_m, res.distance_to_go_m
        else:  # LOITER
            res = self.los.step_circle(x, y, cmd.station_xy, cmd.loiter_radius_m, dt_s, u, v,
                                       r, self.config.loiter_counter_clockwise)
            speed, psi_d, finished = cmd.speed_mps, res.heading_rad, False
            seg, xte, to_go = 0, res.cross_track_m, math.inf
        avoiding = False
        if avoidance is not None:
            # Avoidance works on the course over ground; the heading differs by the crab.
            course, speed, avoiding = avoidance(wrap_angle(psi_d + res.crab_rad), speed)
            if not (math.isfinite(course) and math.isfinite(speed)) or speed < 0.0:
                return self._zero(PilotStatus.ERROR_INVALID_INPUT, "avoidance gave non-finite")
            psi_d = wrap_angle(course - res.crab_rad)
        off = abs(wrap_angle(psi_d - psi))
        speed *= max(0.0, 1.0 - off / self.config.turn_first_rad)
        out = self.control.step(psi, r, u, psi_d, speed, dt_s, self._saturated)
        if out.status is ControllerStatus.ERROR_INVALID_INPUT:
            return self._zero(PilotStatus.ERROR_INVALID_INPUT, "controller rejected input")
        left, right, sat = self._allocate(out.tau_x_n, out.tau_n_nm)
        self.station.observer.step(psi, u, v, self._last_tau_x, dt_s)
        self._last_tau_x = left + right
        return PilotOutput(left, right, sat, PilotStatus.WORKING, cmd.mode, finished, seg, xte,
                           to_go, psi_d, speed, avoiding,
                           "avoiding" if avoiding else ("loiter" if cmd.mode is
                                                        PilotMode.LOITER else "following"))

    def _station_step(self, x: float, y: float, psi: float, u: float, v: float, r: float,
                      dt_s: float) -> PilotOutput:
        cmd = self.command
        res = self.station.step(x, y, psi, u, v, r, cmd.station_xy[0], cmd.station_xy[1],
                                cmd.heading_rad, dt_s, cmd.into_weather, self._last_tau_x,
                                self._saturated)
        if res.status is StationStatus.ERROR_INVALID_INPUT:
            return self._zero(PilotStatus.ERROR_INVALID_INPUT, "station keeper rejected input")
        left, right, sat = self._allocate(res.tau_x_n, res.tau_n_nm)
        self._last_tau_x = left + right
        done = self._path_done or res.status is StationStatus.ACQUIRED
        return PilotOutput(left, right, sat,
                           PilotStatus.FINISHED if done else PilotStatus.WORKING, cmd.mode,
                           done, self._segment, res.lateral_m, res.distance_m,
                           res.hold_heading_rad, 0.0,
                           False, f"station {res.mode.value}")

    def _allocate(self, tau_x: float, tau_n: float) -> tuple[float, float, bool]:
        left, right, sat = allocate(tau_x, tau_n, self.thrusters)
        self._saturated = sat
        return left, right, sat
