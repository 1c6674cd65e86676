"""Goal sequencing of the ``humanoid`` demo: the next goal pose once the previous is reached.

The walking controller takes one goal pose at a time (``/goal_pose``) and reports its mode in
``/humanoid/walking_state``. :class:`GoalSequencer` turns that stream into the mission: it
sends goal 0 once the robot has stood for ``start_delay_s``, and each next goal once the
controller is back in ``standing`` with its estimated CoM within ``goal_tolerance_m`` of
the goal. "Reached" is judged from what the robot itself reports (its estimated CoM), never
from the simulator's ground truth: the analysis judges the truth afterwards.

The machine is one enum (:class:`MissionState`) and one transition table
(:data:`TRANSITIONS`: (state, event) -> (next state, action)); :func:`classify` turns an
observation into one :class:`Event` (guards included), :meth:`GoalSequencer.update` looks the
pair up and executes the action. A pair absent from the table is ignored (no event for that
state). Pure: no rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

#: Controller modes (dg_motion.humanoid.types.Mode values, as WalkingState.mode carries them).
STANDING, WALKING, STOPPING, FALLEN, SAFE_STOP = (
    "standing", "walking", "stopping", "fallen", "safe_stop")


class MissionState(StrEnum):
    """Where the mission is."""

    WAITING = "waiting"        #: for the robot to stand still for start_delay_s
    SENT = "sent"              #: goal sent, the controller has not started walking to it yet
    WALKING = "walking"        #: the controller walks to the current goal
    SUCCEEDED = "succeeded"    #: every goal reached (terminal)
    FAILED = "failed"          #: fall, safe stop, timeout or too many resends (terminal)


class Event(StrEnum):
    """What one observation means for the current state (see :func:`classify`)."""

    READY = "ready"                    #: standing for start_delay_s (WAITING only)
    MOVING = "moving"                  #: walking or stopping
    ARRIVED = "arrived"                #: standing within the tolerance of the goal
    STOPPED_SHORT = "stopped_short"    #: standing away from the goal, may resend
    GIVE_UP = "give_up"                #: standing away from the goal, resends used up
    DOWN = "down"                      #: the controller reports fallen or safe_stop
    TIMEOUT = "timeout"                #: the goal took longer than goal_timeout_s


class Action(StrEnum):
    """What the sequencer does on a transition."""

    NONE = "none"
    SEND_FIRST = "send_first"    #: send goal 0
    SEND_NEXT = "send_next"      #: the current goal is reached: send the next or succeed
    RESEND = "resend"            #: send the current goal again
    FAIL = "fail"


#: (state, event) -> (next state, action). SEND_NEXT goes to SENT, or to SUCCEEDED after
#: the last goal (decided when executed).
TRANSITIONS: dict[tuple[MissionState, Event], tuple[MissionState, Action]] = {
    (MissionState.WAITING, Event.READY): (MissionState.SENT, Action.SEND_FIRST),
    (MissionState.WAITING, Event.DOWN): (MissionState.FAILED, Action.FAIL),
    (MissionState.SENT, Event.MOVING): (MissionState.WALKING, Action.NONE),
    (MissionState.SENT, Event.ARRIVED): (MissionState.SENT, Action.SEND_NEXT),
    (MissionState.SENT, Event.STOPPED_SHORT): (MissionState.SENT, Action.RESEND),
    (MissionState.SENT, Event.GIVE_UP): (MissionState.FAILED, Action.FAIL),
    (MissionState.SENT, Event.DOWN): (MissionState.FAILED, Action.FAIL),
    (MissionState.SENT, Event.TIMEOUT): (MissionState.FAILED, Action.FAIL),
    (MissionState.WALKING, Event.ARRIVED): (MissionState.SENT, Action.SEND_NEXT),
    (MissionState.WALKING, Event.STOPPED_SHORT): (MissionState.SENT, Action.RESEND),
    (MissionState.WALKING, Event.GIVE_UP): (MissionState.FAILED, Action.FAIL),
    (MissionState.WALKING, Event.DOWN): (MissionState.FAILED, Action.FAIL),
    (MissionState.WALKING, Event.TIMEOUT): (MissionState.FAILED, Action.FAIL),
}


@dataclass(frozen=True)
class Goal:
    """A goal pose in the walking frame: feet midpoint (x, y) [m] and heading yaw [rad]."""

    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class SequencerConfig:
    """Tolerances and timeouts (the node's parameters of the same names)."""

    goal_tolerance_m: float = 0.2
    start_delay_s: float = 1.0
    accept_timeout_s: float = 2.0
    goal_timeout_s: float = 120.0
    max_resends: int = 2

    def __post_init__(self) -> None:
        """Reject non-finite or non-positive settings."""
        for name in ("goal_tolerance_m", "start_delay_s", "accept_timeout_s", "goal_timeout_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        if self.goal_tolerance_m <= 0.0:
            raise ValueError("goal_tolerance_m must be > 0")
        if self.max_resends < 0:
            raise ValueError(f"max_resends must be >= 0, got {self.max_resends}")


def goals_from_flat(values: list[float]) -> list[Goal]:
    """Goals from ``[x0, y0, yaw0, x1, ...]``; ValueError if empty, ragged or non-finite."""
    if len(values) == 0 or len(values) % 3:
        raise ValueError(f"goals must be a non-empty list of x, y, yaw triples, got "
                         f"{len(values)} values")
    if not all(math.isfinite(float(v)) for v in values):
        raise ValueError("goals must be finite")
    return [Goal(float(values[i]), float(values[i + 1]), float(values[i + 2]))
            for i in range(0, len(values), 3)]


@dataclass(frozen=True)
class Observation:
    """One walking state: its stamp [s], the controller's mode and estimated CoM (x, y) [m]."""

    t: float
    mode: str
    com_x: float
    com_y: float
    reason: str = ""


@dataclass(frozen=True)
class Step:
    """What :meth:`GoalSequencer.update` did: the goal to publish (or None) and the state."""

    send: Goal | None
    state: MissionState
    changed: bool      #: state, goal index or resend count changed (progress to publish)


class GoalSequencer:
    """Sends goal after goal; see the module docstring for the rules."""

    def __init__(self, goals: list[Goal], config: SequencerConfig | None = None) -> None:
        """Start WAITING with goal 0 ahead; ValueError on no goals."""
        if not goals:
            raise ValueError("at least one goal is needed")
        self.goals = list(goals)
        self.config = config or SequencerConfig()
        self.state = MissionState.WAITING
        self.index = 0              #: current goal (== len(goals) once all are reached)
        self.resends = 0            #: resends of the current goal
        self.detail = "waiting for the robot to stand"
        self._standing_since: float | None = None
        self._sent_at = 0.0         #: sim time of the last send of the current goal [s]
        self._first_sent_at = 0.0   #: sim time of the first send of the current goal [s]

    @property
    def goal(self) -> Goal | None:
        """The goal being walked to (None before the first send or after the last)."""
        if self.state in (MissionState.SENT, MissionState.WALKING):
            return self.goals[self.index]
        return None

    @property
    def done(self) -> bool:
        """In a terminal state."""
        return self.state in (MissionState.SUCCEEDED, MissionState.FAILED)

    def classify(self, obs: Observation) -> Event | None:
        """The event ``obs`` is for the current state (guards applied), or None."""
        c = self.config
        if obs.mode in (FALLEN, SAFE_STOP):
            return Event.DOWN
        if self.state is MissionState.WAITING:
            if obs.mode != STANDING:
                self._standing_since = None
                return None
            if self._standing_since is None:
                self._standing_since = obs.t
            return Event.READY if obs.t - self._standing_since >= c.start_delay_s else None
        if obs.t - self._first_sent_at > c.goal_timeout_s:
            return Event.TIMEOUT
        if obs.mode in (WALKING, STOPPING):
            return Event.MOVING
        if obs.mode != STANDING:
            return None
        goal = self.goals[self.index]
        near = math.hypot(obs.com_x - goal.x, obs.com_y - goal.y) <= c.goal_tolerance_m
        if self.state is MissionState.SENT and obs.t - self._sent_at < c.accept_timeout_s:
            return None        # the controller may not have taken the goal up yet
        if near:
            return Event.ARRIVED
        return Event.STOPPED_SHORT if self.resends < c.max_resends else Event.GIVE_UP

    def update(self, obs: Observation) -> Step:
        """Feed one walking state; returns the goal to send now (if any) and the state."""
        if self.done or not all(math.isfinite(v) for v in (obs.t, obs.com_x, obs.com_y)):
            return Step(None, self.state, False)
        event = self.classify(obs)
        entry = TRANSITIONS.get((self.state, event)) if event is not None else None
        if entry is None:
            return Step(None, self.state, False)
        nxt, action = entry
        send: Goal | None = None
        n = len(self.goals)
        if action is Action.SEND_FIRST:
            send = self._send(obs.t, 0, first=True)
        elif action is Action.SEND_NEXT:
            if self.index + 1 >= n:
                self.index, nxt = n, MissionState.SUCCEEDED
                self.detail = f"reached all {n} goals"
            else:
                send = self._send(obs.t, self.index + 1, first=True)
        elif action is Action.RESEND:
            self.resends += 1
            send = self._send(obs.t, self.index, first=False)
            self.detail += f" (sent again: {self.resends}/{self.config.max_resends})"
        elif action is Action.FAIL:
            self.detail = self._failure(event, obs)
        elif nxt is MissionState.WALKING:
            self.detail = f"walking to goal {self.index + 1}/{n}"
        self.state = nxt
        return Step(send, nxt, True)

    def _send(self, t: float, index: int, *, first: bool) -> Goal:
        self.index = index
        self._sent_at = t
        if first:
            self._first_sent_at, self.resends = t, 0
        g = self.goals[index]
        self.detail = f"goal {index + 1}/{len(self.goals)} ({g.x:.2f}, {g.y:.2f}) sent"
        return g

    def _failure(self, event: Event | None, obs: Observation) -> str:
        n = len(self.goals)
        if event is Event.DOWN:
            why = f": {obs.reason}" if obs.reason else ""
            return f"controller {obs.mode} at goal {self.index + 1}/{n}{why}"
        if event is Event.TIMEOUT:
            return (f"goal {self.index + 1}/{n} not reached within "
                    f"{self.config.goal_timeout_s:g} s")
        g = self.goals[self.index]
        return (f"stopped {math.hypot(obs.com_x - g.x, obs.com_y - g.y):.2f} m from goal "
                f"{self.index + 1}/{n} after {self.resends} resends")
