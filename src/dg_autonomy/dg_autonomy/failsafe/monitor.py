"""Fail-safe monitor (pure): operator link, GNSS, battery and geofence, each with an action.

Modelled on ArduPilot Rover's fail-safes (facts and numbers carry over, never code):

* ``FS_TIMEOUT`` (default 1.5 s): how long a fail-safe condition must persist before the
  action; ``FS_ACTION`` (default 2 = Hold; 1 = RTL). We use 1.5 s for GNSS loss (ArduPilot
  handles a lost position with the EKF fail-safe, ``FS_EKF_ACTION`` default 1 = Hold).
* GCS (operator link) fail-safe: no heartbeat for the timeout; ArduPilot's ``FS_GCS_TIMEOUT``
  defaults to 5 s (Copter/Sub; older Rover reuses ``FS_TIMEOUT``). As in ArduPilot, the link
  fail-safe is armed only once a first heartbeat came ("if no GCS is ever connected, the GCS
  failsafe will remain inactive").
* Battery fail-safe: remaining capacity below a threshold continuously for ``BATT_LOW_TIMER``
  (default 10 s); ArduPilot suggests ``BATT_LOW_MAH`` = 20 % of capacity; ``BATT_FS_LOW_ACT``
  1 = RTL, 2 = Hold. Once triggered it stays triggered (the battery does not recover).
* Geofence: ArduPilot checks the fence at 10 Hz and acts at once (``FENCE_ACTION``: RTL, Hold,
  ...) with a ``FENCE_MARGIN``. A boat cannot stop at the fence line, so we trigger
  *predictively*: the fault is raised when the stopping segment (current position plus the
  distance needed to stop, ``v * reaction_time_s + v^2 / (2 * brake_decel_mps2)``, along the
  velocity) would leave the fence shrunk by ``fence_margin_m``, or when the boat is already
  outside the fence. ``brake_decel_mps2`` must be a lower bound of the real deceleration
  (see ``bench/usv_failsafe.py`` for the WAM-V numbers).

When several faults are active the action of the most important one wins, in this order:
GNSS (no position: nothing else can be executed safely), geofence, battery, operator link.
A fault whose action is ``none`` is reported only.

Time is any monotonic clock in seconds (ROS time in the node, simulated time in the bench);
``check(t)`` is called periodically, so a fault is detected within timeout + one period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from shapely.geometry import LineString, Point, Polygon


class FailsafeError(ValueError):
    """A fail-safe configuration is invalid."""


class Fault(StrEnum):
    """The monitored fault kinds, in priority order (first = most important)."""

    GNSS = "gnss"
    GEOFENCE = "geofence"
    BATTERY = "battery"
    OPERATOR_LINK = "operator_link"


#: Priority order used to pick the action when several faults are active.
FAULT_PRIORITY: tuple[Fault, ...] = (Fault.GNSS, Fault.GEOFENCE, Fault.BATTERY,
                                     Fault.OPERATOR_LINK)


class FailsafeAction(StrEnum):
    """What the vehicle does on a fault (ArduPilot: Nothing/Report, Hold, Loiter, RTL)."""

    NONE = "none"
    HOLD = "hold"
    LOITER = "loiter"
    RETURN_HOME = "return_home"


@dataclass(frozen=True)
class FaultConfig:
    """Timeout [s] a fault condition must persist, and the action once it has."""

    timeout_s: float
    action: FailsafeAction
    enabled: bool = True

    def __post_init__(self) -> None:
        """Validate (timeout finite and >= 0, action one of :class:`FailsafeAction`)."""
        if not (math.isfinite(self.timeout_s) and self.timeout_s >= 0.0):
            raise FailsafeError(f"fail-safe timeout must be finite and >= 0 s, "
                                f"got {self.timeout_s}")
        try:
            object.__setattr__(self, "action", FailsafeAction(self.action))
        except ValueError:
            raise FailsafeError(f"fail-safe action {self.action!r} is not one of "
                                f"{[a.value for a in FailsafeAction]}") from None


@dataclass(frozen=True)
class FailsafeConfig:
    """Per-fault timeouts/actions and the thresholds (defaults: ArduPilot-like, see module)."""

    operator_link: FaultConfig = FaultConfig(5.0, FailsafeAction.HOLD)
    gnss: FaultConfig = FaultConfig(1.5, FailsafeAction.HOLD)
    battery: FaultConfig = FaultConfig(10.0, FailsafeAction.RETURN_HOME)
    geofence: FaultConfig = FaultConfig(0.0, FailsafeAction.RETURN_HOME)
    battery_low_soc: float = 0.2           # state of charge [0..1] below which battery is low
    fence: Polygon | None = None           # inclusion fence (map frame); None: no geofence
    fence_margin_m: float = 2.0            # keep the predicted stop this far inside [m]
    brake_decel_mps2: float = 1.0          # lower bound of the braking deceleration [m/s^2]
    reaction_time_s: float = 0.5           # detection + command + thruster lag [s]

    def __post_init__(self) -> None:
        """Validate thresholds and the fence polygon."""
        if not 0.0 <= self.battery_low_soc <= 1.0:
            raise FailsafeError(f"battery_low_soc must be in [0, 1], got {self.battery_low_soc}")
        for name in ("fence_margin_m", "reaction_time_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise FailsafeError(f"{name} must be finite and >= 0, got {v}")
        if not (math.isfinite(self.brake_decel_mps2) and self.brake_decel_mps2 > 0.0):
            raise FailsafeError(f"brake_decel_mps2 must be > 0, got {self.brake_decel_mps2}")
        if self.fence is not None and (self.fence.is_empty or not self.fence.is_valid):
            raise FailsafeError("geofence polygon is empty or invalid")

    def fault(self, fault: Fault) -> FaultConfig:
        """The configuration of ``fault``."""
        return getattr(self, fault.value)


@dataclass(frozen=True)
class FailsafeState:
    """Result of :meth:`FailsafeMonitor.check`.

    ``active``: the active faults in priority order; ``action``: the action to execute (that
    of the most important active fault with an action, NONE when none); ``cause``: that fault;
    ``detected_at``: when each active fault was detected [s]; ``new``/``cleared``: faults that
    became active / went away in this check.
    """

    active: tuple[Fault, ...] = ()
    action: FailsafeAction = FailsafeAction.NONE
    cause: Fault | None = None
    detected_at: dict[Fault, float] = field(default_factory=dict)
    new: tuple[Fault, ...] = ()
    cleared: tuple[Fault, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no fault is active."""
        return not self.active

    def reasons(self) -> str:
        """The active faults in words, e.g. ``"gnss lost; operator link lost"``."""
        return "; ".join(_LABEL[f] for f in self.active) if self.active else "ok"

    def describe(self) -> str:
        """Action and reasons, e.g. ``"hold (gnss lost; operator link lost)"``."""
        if not self.active:
            return "ok"
        return f"{self.action.value} ({self.reasons()})"


_LABEL = {Fault.GNSS: "gnss lost", Fault.GEOFENCE: "geofence breach predicted",
          Fault.BATTERY: "battery low", Fault.OPERATOR_LINK: "operator link lost"}


def stopping_distance_m(speed_mps: float, brake_decel_mps2: float,
                        reaction_time_s: float) -> float:
    """Distance [m] to stop from ``speed_mps``: reaction at constant speed, then braking."""
    v = abs(speed_mps)
    return v * reaction_time_s + v * v / (2.0 * brake_decel_mps2)


class FailsafeMonitor:
    """Tracks the inputs of every fault and reports the active faults and the action.

    Feed it with :meth:`feed_operator`, :meth:`feed_gnss`, :meth:`battery` and
    :meth:`position`, and call :meth:`check` periodically. GNSS counts from the first call
    of any method (a receiver that never delivers a fix is a fault after its timeout).
    """

    def __init__(self, config: FailsafeConfig | None = None) -> None:
        """Create the monitor; nothing has been received yet."""
        self.config = config or FailsafeConfig()
        self._inner: Polygon | None = None
        if self.config.fence is not None:
            self._inner = self.config.fence.buffer(-self.config.fence_margin_m)
        self._t0: float | None = None
        self._last_operator: float | None = None
        self._last_gnss: float | None = None
        self._low_since: float | None = None
        self._battery_latched = False
        self._pose: tuple[float, float, float, float] | None = None  # x, y, vx, vy
        self._fence_since: float | None = None
        self._detected: dict[Fault, float] = {}

    def _start(self, t: float) -> None:
        if self._t0 is None:
            self._t0 = t

    # --- inputs -----------------------------------------------------------------------
    def feed_operator(self, t: float) -> None:
        """An operator heartbeat arrived at ``t`` [s]."""
        self._start(t)
        self._last_operator = t

    def feed_gnss(self, t: float, valid: bool = True) -> None:
        """A GNSS fix arrived at ``t`` [s]; ``valid`` False (no fix, NaN) does not count."""
        self._start(t)
        if valid:
            self._last_gnss = t

    def battery(self, t: float, soc: float) -> None:
        """Battery state of charge ``soc`` [0..1] at ``t``; NaN (unknown) is ignored."""
        self._start(t)
        if not math.isfinite(soc):
            return
        if soc < self.config.battery_low_soc:
            if self._low_since is None:
                self._low_since = t
        elif not self._battery_latched:
            self._low_since = None

    def position(self, t: float, x_m: float, y_m: float, vx_mps: float = 0.0,
                 vy_mps: float = 0.0) -> None:
        """Position [m] and velocity [m/s] in the fence frame at ``t``; non-finite ignored."""
        self._start(t)
        if all(math.isfinite(v) for v in (x_m, y_m, vx_mps, vy_mps)):
            self._pose = (x_m, y_m, vx_mps, vy_mps)

    # --- evaluation -------------------------------------------------------------------
    def fence_breach_predicted(self) -> bool:
        """True when the boat is outside the fence or could not stop inside its margin."""
        if self.config.fence is None or self._pose is None:
            return False
        x, y, vx, vy = self._pose
        p = Point(x, y)
        if not self.config.fence.covers(p):
            return True
        if self._inner is None or self._inner.is_empty:
            return True
        speed = math.hypot(vx, vy)
        if speed < 1e-6:
            return not self._inner.covers(p)
        d = stopping_distance_m(speed, self.config.brake_decel_mps2, self.config.reaction_time_s)
        end = (x + vx / speed * d, y + vy / speed * d)
        return not self._inner.covers(LineString([(x, y), end]))

    def is_outside_fence(self) -> bool:
        """True when the last position lies outside the fence polygon (an actual breach)."""
        if self.config.fence is None or self._pose is None:
            return False
        return not self.config.fence.covers(Point(self._pose[0], self._pose[1]))

    def _condition(self, fault: Fault, t: float) -> bool:
        cfg = self.config.fault(fault)
        if fault is Fault.OPERATOR_LINK:
            # Armed by the first heartbeat, as ArduPilot's GCS fail-safe.
            return self._last_operator is not None and t - self._last_operator > cfg.timeout_s
        if fault is Fault.GNSS:
            ref = self._last_gnss if self._last_gnss is not None else self._t0
            return ref is not None and t - ref > cfg.timeout_s
        if fault is Fault.BATTERY:
            if self._battery_latched:
                return True
            if self._low_since is not None and t - self._low_since >= cfg.timeout_s:
                self._battery_latched = True
            return self._battery_latched
        # Geofence: the predicted breach must persist for the timeout (0: act at once).
        if self.fence_breach_predicted():
            if self._fence_since is None:
                self._fence_since = t
            return t - self._fence_since >= cfg.timeout_s
        self._fence_since = None
        return False

    def check(self, t: float) -> FailsafeState:
        """Evaluate every enabled fault at time ``t`` [s] and return the state."""
        self._start(t)
        new, cleared = [], []
        for fault in FAULT_PRIORITY:
            active = self.config.fault(fault).enabled and self._condition(fault, t)
            if active and fault not in self._detected:
                self._detected[fault] = t
                new.append(fault)
            elif not active and fault in self._detected:
                del self._detected[fault]
                cleared.append(fault)
        active_faults = tuple(f for f in FAULT_PRIORITY if f in self._detected)
        action, cause = FailsafeAction.NONE, None
        for f in active_faults:
            a = self.config.fault(f).action
            if a is not FailsafeAction.NONE:
                action, cause = a, f
                break
        return FailsafeState(active=active_faults, action=action, cause=cause,
                             detected_at={f: self._detected[f] for f in active_faults},
                             new=tuple(new), cleared=tuple(cleared))
