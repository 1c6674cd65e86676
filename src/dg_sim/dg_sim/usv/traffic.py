"""Other vessels for the boat simulator (pure): scripted and random courses, AIS, a noisy tracker.

Each vessel follows a polyline of waypoints in the local ENU frame at given speeds, from a
start time on; its state at any time is computed in closed form (no integration), so traffic
is exactly reproducible and independent of the simulator's step. Random traffic is the same
thing with waypoints drawn from a seeded generator inside a box.

AIS: :func:`encode_ais_position` encodes a Class A position report (message type 1) and
:func:`encode_ais_static` the static and voyage data (type 5, two sentences) as NMEA 0183
``!AIVDM`` sentences with ``pyais`` (which does the AIS scaling: speed in 0.1 kn, lat/lon in
1/10000 min, course in 0.1 deg; gpsd's "AIVDM/AIVDO protocol decoding" documents the fields).
:class:`AisTransmitter` schedules a vessel's reports at its reporting interval (by default
from its speed as ITU-R M.1371-5 Annex 1 Table 1 gives for Class A: 10 s below 14 kn, 6 s
below 23 kn, 2 s above) and adds the static data every ``static_every`` reports.

Tracker: :class:`NoisyTracker` reports the vessels within range with white position and
velocity noise and stable track ids, as a radar/camera tracker would.

Traffic files: :func:`load_traffic` reads the YAML format documented in
``config/usv_traffic.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyais
import yaml

from dg_common.geodesy import Datum, enu_to_geodetic
from dg_common.geometry import wrap_angle
from dg_sim.usv.sensors import make_rng

#: Metres per second in one knot (exactly 1852 m / 3600 s).
MPS_PER_KNOT = 1852.0 / 3600.0
#: Largest speed an AIS position report carries [kn] (102.3 means "not available").
AIS_MAX_SPEED_KN = 102.2
AFTER_END = ("remove", "stop", "loop")
#: Characters of the AIS 6-bit text alphabet (ITU-R M.1371 Table 47), besides A-Z and 0-9.
_AIS_TEXT = re.compile(r"[^A-Z0-9 !\"#$%&'()*+,\-./:;<=>?@\[\\\]^_]")


class TrafficConfigError(ValueError):
    """A traffic description (file or arguments) is invalid; the message says where and why."""


@dataclass(frozen=True)
class Vessel:
    """A vessel's state at one time, in the local ENU frame."""

    mmsi: int
    x_m: float
    y_m: float
    course_rad: float           #: course over ground, ENU yaw (0 = east, CCW) [rad]
    speed_mps: float            #: speed over ground [m/s]
    length_m: float = 0.0
    beam_m: float = 0.0
    name: str = ""
    ship_type: int = 0          #: AIS ship and cargo type (0 = not available)
    callsign: str = ""

    def velocity_enu_mps(self) -> tuple[float, float]:
        """Velocity (east, north) [m/s]."""
        return (self.speed_mps * math.cos(self.course_rad),
                self.speed_mps * math.sin(self.course_rad))


def _finite(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise TrafficConfigError(f"{where}: '{name}' must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TrafficVessel:
    """A vessel moving along waypoints; :meth:`state` gives where it is at a time.

    ``speed_mps`` is one speed for every leg or one per leg (with ``after_end="loop"`` the
    closing leg from the last waypoint back to the first counts too). A single waypoint is
    a vessel lying still (at anchor) with heading ``course_rad``. Before ``start_time_s``
    the vessel is absent; after its last waypoint it is removed, stops there, or loops.
    """

    mmsi: int
    waypoints_m: tuple[tuple[float, float], ...]
    speed_mps: float | tuple[float, ...] = 2.0
    start_time_s: float = 0.0
    after_end: str = "remove"
    length_m: float = 10.0
    beam_m: float = 3.0
    name: str = ""
    ship_type: int = 0
    callsign: str = ""
    ais: bool = True
    ais_period_s: float | None = None   #: None: from the speed (ITU-R M.1371, Class A)
    tracked: bool = True
    course_rad: float = 0.0             #: heading of a single-waypoint (anchored) vessel
    _legs: tuple[tuple[float, float, float, float, float], ...] = field(
        default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate and precompute the legs (start time, start point, velocity).

        Raises:
            TrafficConfigError: on invalid values.

        """
        where = f"vessel {self.mmsi}"
        if isinstance(self.mmsi, bool) or not isinstance(self.mmsi, (int, np.integer)) \
                or not 1 <= self.mmsi <= 999_999_999:
            raise TrafficConfigError(f"{where}: mmsi must be an integer of at most 9 digits")
        pts = tuple((_finite(where, "waypoints_m", p[0]), _finite(where, "waypoints_m", p[1]))
                    for p in self.waypoints_m)
        if not pts:
            raise TrafficConfigError(f"{where}: needs at least one waypoint")
        object.__setattr__(self, "waypoints_m", pts)
        if self.after_end not in AFTER_END:
            raise TrafficConfigError(
                f"{where}: after_end '{self.after_end}' is not one of {list(AFTER_END)}")
        _finite(where, "start_time_s", self.start_time_s)
        _finite(where, "course_rad", self.course_rad)
        for name in ("length_m", "beam_m"):
            if not 0.0 <= _finite(where, name, getattr(self, name)) <= 1000.0:
                raise TrafficConfigError(f"{where}: '{name}' must be in [0, 1000] m")
        if self.ais_period_s is not None and not 0.5 <= _finite(
                where, "ais_period_s", self.ais_period_s) <= 360.0:
            raise TrafficConfigError(f"{where}: 'ais_period_s' must be in [0.5, 360] s")
        if not isinstance(self.ship_type, int) or not 0 <= self.ship_type <= 99:
            raise TrafficConfigError(f"{where}: 'ship_type' must be an AIS code 0..99")
        segs = list(zip(pts[:-1], pts[1:], strict=True))
        if self.after_end == "loop" and len(pts) > 1:
            segs.append((pts[-1], pts[0]))
        speeds = self.speed_mps
        if isinstance(speeds, (int, float)) and not isinstance(speeds, bool):
            speeds = (speeds,) * len(segs)
        speeds = tuple(_finite(where, "speed_mps", s) for s in speeds)
        if len(speeds) != len(segs):
            raise TrafficConfigError(
                f"{where}: {len(speeds)} speeds for {len(segs)} legs; give one speed or one "
                "per leg")
        legs = []
        t = float(self.start_time_s)
        for i, ((x0, y0), (x1, y1)) in enumerate(segs):
            if not 0.05 <= speeds[i] <= AIS_MAX_SPEED_KN * MPS_PER_KNOT:
                raise TrafficConfigError(
                    f"{where}: leg {i} speed {speeds[i]} m/s outside [0.05, "
                    f"{AIS_MAX_SPEED_KN * MPS_PER_KNOT:.1f}] m/s")
            dist = math.hypot(x1 - x0, y1 - y0)
            if dist < 1e-6:
                raise TrafficConfigError(f"{where}: leg {i} has zero length (repeated waypoint)")
            vx, vy = (x1 - x0) / dist * speeds[i], (y1 - y0) / dist * speeds[i]
            legs.append((t, x0, y0, vx, vy))
            t += dist / speeds[i]
        object.__setattr__(self, "speed_mps", speeds if len(speeds) != 1 else speeds[0])
        object.__setattr__(self, "_legs", tuple(legs))
        object.__setattr__(self, "_end_time_s", t)

    @property
    def end_time_s(self) -> float:
        """Time of arrival at the last waypoint (of the first lap when looping) [s]."""
        return self._end_time_s  # type: ignore[attr-defined]

    def _vessel(self, x: float, y: float, course: float, speed: float) -> Vessel:
        return Vessel(int(self.mmsi), x, y, wrap_angle(course), speed, self.length_m,
                      self.beam_m, self.name, self.ship_type, self.callsign)

    def state(self, t_s: float) -> Vessel | None:
        """The vessel at time ``t_s`` [s], or None when it is not (yet, or any more) present."""
        if t_s < self.start_time_s:
            return None
        if not self._legs:
            return self._vessel(*self.waypoints_m[0], self.course_rad, 0.0)
        if t_s >= self.end_time_s:
            if self.after_end == "remove":
                return None
            if self.after_end == "stop":
                t0, x0, y0, vx, vy = self._legs[-1]
                return self._vessel(*self.waypoints_m[-1], math.atan2(vy, vx), 0.0)
            lap = self.end_time_s - self.start_time_s
            t_s = self.start_time_s + math.fmod(t_s - self.start_time_s, lap)
        leg = self._legs[0]
        for candidate in self._legs:
            if candidate[0] > t_s:
                break
            leg = candidate
        t0, x0, y0, vx, vy = leg
        dt = t_s - t0
        return self._vessel(x0 + vx * dt, y0 + vy * dt, math.atan2(vy, vx), math.hypot(vx, vy))


def random_traffic(count: int, bounds_m: Sequence[float], seed: int | np.random.Generator,
                   speed_range_mps: Sequence[float] = (1.0, 4.0), n_waypoints: int = 8,
                   mmsi_start: int = 999_000_001) -> list[TrafficVessel]:
    """``count`` looping vessels on random courses inside ``bounds_m`` = (xmin, ymin, xmax, ymax).

    Each vessel visits ``n_waypoints`` points drawn uniformly in the box, at one speed drawn
    uniformly from ``speed_range_mps``, so it stays inside the box forever. Same seed, same
    traffic. MMSIs count up from ``mmsi_start``.

    Raises:
        TrafficConfigError: on an empty box, bad speed range or count.

    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise TrafficConfigError(f"random traffic: count must be an integer >= 0, got {count!r}")
    if len(bounds_m) != 4:
        raise TrafficConfigError("random traffic: bounds_m must be [xmin, ymin, xmax, ymax]")
    xmin, ymin, xmax, ymax = (_finite("random traffic", "bounds_m", b) for b in bounds_m)
    if not (xmin < xmax and ymin < ymax):
        raise TrafficConfigError(f"random traffic: empty box {list(bounds_m)}")
    if len(speed_range_mps) != 2:
        raise TrafficConfigError("random traffic: speed_mps must be [min, max]")
    lo, hi = (_finite("random traffic", "speed_mps", s) for s in speed_range_mps)
    if not 0.05 <= lo <= hi:
        raise TrafficConfigError(f"random traffic: need 0.05 <= min <= max speed, got "
                                 f"[{lo}, {hi}]")
    if n_waypoints < 2:
        raise TrafficConfigError("random traffic: n_waypoints must be >= 2")
    rng = make_rng(seed)
    vessels = []
    for i in range(count):
        pts = tuple(zip(rng.uniform(xmin, xmax, n_waypoints).tolist(),
                        rng.uniform(ymin, ymax, n_waypoints).tolist(), strict=True))
        length = float(rng.uniform(5.0, 30.0))
        vessels.append(TrafficVessel(
            mmsi=mmsi_start + i, waypoints_m=pts, speed_mps=float(rng.uniform(lo, hi)),
            after_end="loop", length_m=round(length, 1), beam_m=round(length / 3.5, 1),
            name=f"RANDOM {i + 1}", ship_type=37))
    return vessels


# --- AIS ----------------------------------------------------------------------------------
def ais_report_interval_s(speed_mps: float) -> float:
    """Class A reporting interval [s] at ``speed_mps`` (ITU-R M.1371-5, Annex 1, Table 1)."""
    kn = speed_mps / MPS_PER_KNOT
    return 10.0 if kn <= 14.0 else 6.0 if kn <= 23.0 else 2.0


def course_to_cog_deg(course_rad: float) -> float:
    """ENU course (0 = east, CCW) [rad] -> course over ground (0 = north, clockwise) [deg]."""
    return (90.0 - math.degrees(course_rad)) % 360.0


def ais_text(text: str, max_len: int) -> str:
    """Text in the AIS 6-bit alphabet: upper case, unsupported characters -> '?', truncated."""
    return _AIS_TEXT.sub("?", text.upper())[:max_len]


def encode_ais_position(vessel: Vessel, datum: Datum, t_s: float, channel: str = "A",
                        talker_id: str = "AI") -> list[str]:
    """``!AIVDM`` sentence(s) of a Class A position report (type 1) of ``vessel`` at ``t_s``.

    The ENU position is converted to WGS-84 around ``datum``; the time stamp field is the
    UTC second ``floor(t_s) mod 60``. Speed is clamped to the largest valid 102.2 kn.

    Raises:
        ValueError: if the vessel's state is not finite.

    """
    values = (vessel.x_m, vessel.y_m, vessel.course_rad, vessel.speed_mps, t_s)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"AIS: vessel {vessel.mmsi} has a non-finite state {values}")
    g = enu_to_geodetic(datum, vessel.x_m, vessel.y_m, 0.0)
    cog = round(course_to_cog_deg(vessel.course_rad), 1) % 360.0
    moving = vessel.speed_mps > 0.0
    data = {
        "type": 1, "mmsi": int(vessel.mmsi),
        "status": 0 if moving else 1,            # under way using engine / at anchor
        "turn": 0.0,                             # straight legs: not turning
        "speed": min(round(vessel.speed_mps / MPS_PER_KNOT, 1), AIS_MAX_SPEED_KN),
        "accuracy": 0, "lon": g.lon_deg, "lat": g.lat_deg, "course": cog,
        "heading": int(round(cog)) % 360, "second": int(math.floor(t_s)) % 60,
        "maneuver": 0, "raim": 0,
    }
    return pyais.encode_dict(data, talker_id=talker_id, sentence_type="VDM",
                             radio_channel=channel)


def encode_ais_static(vessel: Vessel, seq_id: int = 0, channel: str = "A",
                      talker_id: str = "AI") -> list[str]:
    """The two ``!AIVDM`` sentences of type 5 (static and voyage data) of ``vessel``.

    Dimensions put the reference point amidships (``to_bow = to_stern = length / 2``).
    """
    half_l = min(int(round(vessel.length_m / 2.0)), 511)
    half_b = min(int(round(vessel.beam_m / 2.0)), 63)
    data = {
        "type": 5, "mmsi": int(vessel.mmsi), "ais_version": 0, "imo": 0,
        "callsign": ais_text(vessel.callsign, 7), "shipname": ais_text(vessel.name, 20),
        "ship_type": int(vessel.ship_type), "to_bow": half_l, "to_stern": half_l,
        "to_port": half_b, "to_starboard": half_b, "epfd": 1, "draught": 0.0,
        "destination": "", "dte": 0,
    }
    return pyais.encode_dict(data, talker_id=talker_id, sentence_type="VDM",
                             radio_channel=channel, seq_id=seq_id % 10)


class AisTransmitter:
    """Schedules one vessel's AIS reports: position every period, static data every n-th."""

    def __init__(self, period_s: float | None = None, static_every: int = 6,
                 phase_s: float = 0.0) -> None:
        """Report every ``period_s`` (None: by speed), starting ``phase_s`` after appearing.

        Raises:
            TrafficConfigError: on a bad period or ``static_every``.

        """
        if period_s is not None and not (math.isfinite(period_s) and period_s > 0.0):
            raise TrafficConfigError(f"AIS period must be > 0, got {period_s!r}")
        if static_every < 1:
            raise TrafficConfigError(f"static_every must be >= 1, got {static_every}")
        self.period_s = period_s
        self.static_every = static_every
        self.phase_s = phase_s
        self.reports = 0
        self._next_s: float | None = None

    def poll(self, vessel: Vessel | None, datum: Datum, t_s: float) -> list[str]:
        """Sentences due at ``t_s`` (empty when none is due or the vessel is absent).

        The first report (and every ``static_every``-th after it) is followed by the
        type 5 static data, so a receiver learns names and sizes early. Channels A/B alternate.
        """
        if vessel is None:
            self._next_s = None
            return []
        if self._next_s is None:
            self._next_s = t_s + self.phase_s
        if t_s < self._next_s:
            return []
        channel = "AB"[self.reports % 2]
        out = encode_ais_position(vessel, datum, t_s, channel)
        if self.reports % self.static_every == 0:
            out += encode_ais_static(vessel, self.reports // self.static_every, channel)
        self.reports += 1
        period = self.period_s or ais_report_interval_s(vessel.speed_mps)
        self._next_s = max(self._next_s + period, t_s + 0.5 * period)
        return out


# --- tracker ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackedTarget:
    """A tracker's estimate of a vessel (ENU)."""

    track_id: str
    x_m: float
    y_m: float
    course_rad: float
    speed_mps: float
    length_m: float
    position_sigma_m: float


class NoisyTracker:
    """Vessels within ``max_range_m`` of the own boat, with noise and stable track ids."""

    def __init__(self, position_sigma_m: float = 2.0, velocity_sigma_mps: float = 0.2,
                 max_range_m: float = 1500.0, detection_probability: float = 1.0,
                 rng: int | np.random.Generator = 0) -> None:
        """Create the tracker.

        Raises:
            TrafficConfigError: on negative sigmas, non-positive range or a probability
                outside [0, 1].

        """
        for name, v in (("position_sigma_m", position_sigma_m),
                        ("velocity_sigma_mps", velocity_sigma_mps)):
            if not (math.isfinite(v) and v >= 0.0):
                raise TrafficConfigError(f"tracker: {name} must be finite and >= 0, got {v!r}")
        if not (math.isfinite(max_range_m) and max_range_m > 0.0):
            raise TrafficConfigError(f"tracker: max_range_m must be > 0, got {max_range_m!r}")
        if not 0.0 <= detection_probability <= 1.0:
            raise TrafficConfigError("tracker: detection_probability must be in [0, 1]")
        self.position_sigma_m = float(position_sigma_m)
        self.velocity_sigma_mps = float(velocity_sigma_mps)
        self.max_range_m = float(max_range_m)
        self.detection_probability = float(detection_probability)
        self.rng = make_rng(rng)
        self._ids: dict[int, str] = {}

    def observe(self, vessels: Iterable[Vessel], own_x_m: float,
                own_y_m: float) -> list[TrackedTarget]:
        """Targets seen now from the own boat at (``own_x_m``, ``own_y_m``)."""
        out = []
        for v in vessels:
            if math.hypot(v.x_m - own_x_m, v.y_m - own_y_m) > self.max_range_m:
                continue
            n = self.rng.normal(0.0, 1.0, 4)
            if self.rng.uniform() >= self.detection_probability:
                continue
            track_id = self._ids.setdefault(v.mmsi, f"T{len(self._ids) + 1}")
            vx, vy = v.velocity_enu_mps()
            vx += self.velocity_sigma_mps * n[2]
            vy += self.velocity_sigma_mps * n[3]
            out.append(TrackedTarget(
                track_id, v.x_m + self.position_sigma_m * n[0],
                v.y_m + self.position_sigma_m * n[1], math.atan2(vy, vx), math.hypot(vx, vy),
                v.length_m, self.position_sigma_m))
        return out


# --- traffic file -------------------------------------------------------------------------
_VESSEL_KEYS = {"mmsi", "name", "callsign", "ship_type", "length_m", "beam_m", "waypoints_m",
                "speed_mps", "start_time_s", "after_end", "ais", "ais_period_s", "tracked",
                "course_rad"}
_RANDOM_KEYS = {"count", "seed", "bounds_m", "speed_mps", "mmsi_start", "n_waypoints"}


def parse_traffic(data: Any, source: str = "<traffic>") -> list[TrafficVessel]:
    """Vessels of a parsed traffic document (see ``config/usv_traffic.yaml``).

    Raises:
        TrafficConfigError: naming ``source``, the entry and the problem.

    """
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"vessels", "random"}:
        raise TrafficConfigError(
            f"{source}: top level must be a map with 'vessels' and/or 'random'")
    out: list[TrafficVessel] = []
    for i, entry in enumerate(data.get("vessels") or []):
        where = f"{source}, vessels[{i}]"
        if not isinstance(entry, dict):
            raise TrafficConfigError(f"{where}: must be a map")
        unknown = set(entry) - _VESSEL_KEYS
        if unknown:
            raise TrafficConfigError(f"{where}: unknown keys {sorted(unknown)}; "
                                     f"allowed: {sorted(_VESSEL_KEYS)}")
        kwargs = dict(entry)
        wps = kwargs.get("waypoints_m")
        if not isinstance(wps, list) or not all(isinstance(p, list) and len(p) == 2
                                                for p in wps):
            raise TrafficConfigError(f"{where}: waypoints_m must be a list of [x_m, y_m]")
        kwargs["waypoints_m"] = tuple(tuple(p) for p in wps)
        if isinstance(kwargs.get("speed_mps"), list):
            kwargs["speed_mps"] = tuple(kwargs["speed_mps"])
        try:
            out.append(TrafficVessel(**kwargs))
        except (TrafficConfigError, TypeError) as exc:
            raise TrafficConfigError(f"{where}: {exc}") from None
    rnd = data.get("random")
    if rnd:
        if not isinstance(rnd, dict) or set(rnd) - _RANDOM_KEYS:
            raise TrafficConfigError(
                f"{source}, random: must be a map with keys from {sorted(_RANDOM_KEYS)}")
        try:
            out += random_traffic(
                rnd.get("count", 0), rnd.get("bounds_m", ()), rnd.get("seed", 0),
                rnd.get("speed_mps", (1.0, 4.0)), rnd.get("n_waypoints", 8),
                rnd.get("mmsi_start", 999_000_001))
        except TrafficConfigError as exc:
            raise TrafficConfigError(f"{source}, random: {exc}") from None
    mmsis = [v.mmsi for v in out]
    dup = sorted({m for m in mmsis if mmsis.count(m) > 1})
    if dup:
        raise TrafficConfigError(f"{source}: duplicate MMSI {dup}")
    return out


def load_traffic(path: str | Path) -> list[TrafficVessel]:
    """Read a traffic YAML file.

    Raises:
        TrafficConfigError: if the file cannot be read or is invalid.

    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TrafficConfigError(f"cannot read traffic file '{path}': {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TrafficConfigError(f"traffic file {path}: invalid YAML: {exc}") from None
    return parse_traffic(data, str(path))
