"""Run a planned job on an arm: the job runner's state machine (no rclpy).

A :class:`~dg_motion.offline.planner.PlannedJob` is executed once per *run* (e.g. ``plain``
then ``shaped``): every motion is sent to the arm controller as a trajectory goal, I/O
outputs are set, inputs waited for, dwell times held, and the controller's payload model
updated where the run compensates it. A run that shapes its trajectories needs the arm's
dominant vibration mode: when none is configured, an *identification* phase comes first (a
test move out and back, the tool accelerometer recorded while the arm settles, then
:func:`dg_motion.shaping.mode_identification.identify_mode`), and the shaper is designed
from it (Singhose's EI shaper by default: robust to the mode shifting with the payload).

The behaviour is one enum of states and one transition table (DESIGN.md §4.11): the node
feeds :class:`JobEvent` values to :meth:`JobSequencer.handle`, which looks up ``(state,
event)``, evaluates the guard, moves to the next state and returns the :class:`Action` list
the node must carry out (send a goal, set an output, start a timer, ...). An event with no
entry for the current state is ignored and counted (never a silent state change).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from dg_common import state_machine as machine
from dg_motion.errors import MotionInputError
from dg_motion.offline.job import NO_PAYLOAD, PayloadSpec, StepKind
from dg_motion.offline.planner import IoKind, PlannedJob, PlannedMove
from dg_motion.robots.limits import JointLimits
from dg_motion.shaping.input_shaping import Shaper, convolve, design_shaper
from dg_motion.shaping.mode_identification import ModeEstimate, identify_mode
from dg_motion.shaping.shaped_trajectory import ShapedTrajectory
from dg_motion.trajectory.state_to_state import JointState, plan_state_to_state
from dg_motion.trajectory.types import Trajectory

#: Joint offsets of the identification test move from the job's start [rad] (shoulder pan
#: and wrist 1: excites the arm's horizontal bending as a pick-and-place transfer does).
TEST_MOVE_OFFSET_RAD = (0.4, 0.2, 0.0, 0.3, 0.0, 0.0)
#: Time the arm settles after the test move while the accelerometer is recorded [s].
SETTLE_S = 1.5
#: Modes closer than this in relative frequency are one mode (seen on several axes).
SAME_MODE_REL = 0.15
#: A second mode gets its own shaper (convolved) when its amplitude is at least this
#: fraction of the strongest's and its frequency differs by more than the shaper's
#: insensitivity covers.
SECOND_MODE_AMPLITUDE = 0.25
SECOND_MODE_SEPARATION = 0.3
#: Damping ratio assumed at most when designing (EI is robust to the rest).
MAX_DESIGN_DAMPING = 0.2
#: A gripper step waits for the gripper's own state input (same name as its output) to
#: report the commanded state, at most this many grip times (and at least GRIP_TIMEOUT_MIN_S):
#: a fixed dwell would let the arm leave before a late command has closed the fingers.
GRIP_TIMEOUT_FACTOR = 5.0
GRIP_TIMEOUT_MIN_S = 1.0


def waits_input(move: PlannedMove) -> bool:
    """True when ``move`` ends on an input: a ``wait_io`` step or a gripper step."""
    return move.kind is StepKind.GRIPPER or any(ev.kind is IoKind.WAIT for ev in move.io)


@dataclass(frozen=True)
class RunSpec:
    """One execution of the job: ``shaped`` trajectories, ``compensated`` payload model."""

    name: str
    shaped: bool
    compensated: bool


class JobState(enum.Enum):
    """Where the job runner is."""

    WAITING = "waiting"              #: for the arm controller (state and action server)
    TEST_OUT = "test_out"            #: identification: test move out
    SETTLING = "settling"            #: identification: recording the residual vibration
    TEST_BACK = "test_back"          #: identification: test move back to the start
    STARTING_RUN = "starting_run"    #: resetting the cell before a run
    MOVING = "moving"                #: a trajectory goal runs
    HOLDING = "holding"              #: dwell / gripper / output set: a timed hold
    WAITING_IO = "waiting_io"        #: waiting for an input (with timeout)
    SUCCEEDED = "succeeded"          #: every run done
    FAILED = "failed"                #: a goal failed, an input timed out, identification failed


class JobEvent(enum.Enum):
    """What the node reports to the sequencer."""

    READY = "ready"                  #: the controller is up and the arm at the job's start
    GOAL_SUCCEEDED = "goal_succeeded"
    GOAL_FAILED = "goal_failed"
    TIMER = "timer"                  #: the timer the last action started has elapsed
    IO_MATCHED = "io_matched"        #: the awaited input has its value
    IO_TIMEOUT = "io_timeout"
    MODE_IDENTIFIED = "mode_identified"
    IDENTIFICATION_FAILED = "identification_failed"
    CELL_RESET = "cell_reset"


class ActionKind(enum.Enum):
    """What the node must do."""

    SEND_TRAJECTORY = "send_trajectory"  #: goal to the controller; reply GOAL_* events
    SET_OUTPUT = "set_output"            #: publish an output value
    SET_PAYLOAD = "set_payload"          #: the controller's payload model (None = nothing)
    START_TIMER = "start_timer"          #: reply TIMER after ``duration_s`` of sim time
    WAIT_INPUT = "wait_input"            #: reply IO_MATCHED or IO_TIMEOUT
    RECORD_VIBRATION = "record_vibration"  #: record the tool accelerometer from now on;
    #: the test move about to be sent ends ``duration_s`` later
    IDENTIFY = "identify"                #: identify the mode from the record, reply MODE_*
    RESET_CELL = "reset_cell"            #: reply CELL_RESET when done (simulated cells)
    PROGRESS = "progress"                #: a progress line (``text``)
    FINISH = "finish"                    #: the job ended (``success``, ``text``)


@dataclass(frozen=True)
class Action:
    """One thing for the node to do (fields used by its kind only)."""

    kind: ActionKind
    name: str = ""
    trajectory: Trajectory | None = None
    value: float = 0.0
    duration_s: float = 0.0
    payload: PayloadSpec | None = None
    run: str = ""
    index: int = -1
    success: bool = False
    text: str = ""


@dataclass
class _Cursor:
    run: int = 0
    move: int = 0
    shaper: Shaper | None = None
    mode: ModeEstimate | None = None
    ignored: int = 0
    reason: str = ""


Transition = machine.Transition[JobState, JobEvent, "JobSequencer"]


class JobSequencer:
    """Executes ``job`` once per run in ``runs`` (see the module docstring)."""

    def __init__(self, job: PlannedJob, runs: list[RunSpec], limits: JointLimits, *,
                 shaper_kind: str = "ei", mode: ModeEstimate | None = None) -> None:
        """Prepare the runs; ``mode`` skips identification (a known dominant mode)."""
        if not runs:
            raise MotionInputError("job runner: no runs configured")
        if len({r.name for r in runs}) != len(runs):
            raise MotionInputError(f"job runner: run names must be unique: {runs}")
        self.job, self.runs, self.limits = job, runs, limits
        self.shaper_kind = shaper_kind
        self.state = JobState.WAITING
        self.c = _Cursor(mode=mode)
        if mode is not None:
            self.c.shaper = self._design(mode)

    # --- the table's guards and effects ---------------------------------------------------
    def needs_identification(self) -> bool:
        """True when a shaped run is configured and no mode is known."""
        return self.c.shaper is None and any(r.shaped for r in self.runs)

    def more_moves(self) -> bool:
        """True while the current run has moves left."""
        return self.c.move < len(self.job.moves)

    def more_runs(self) -> bool:
        """True while runs are left after the current one."""
        return self.c.run + 1 < len(self.runs)

    @property
    def run(self) -> RunSpec:
        """The current run."""
        return self.runs[min(self.c.run, len(self.runs) - 1)]

    @property
    def move(self) -> PlannedMove:
        """The current move."""
        return self.job.moves[self.c.move]

    @property
    def ignored_events(self) -> int:
        """Events that had no transition in the state they came in."""
        return self.c.ignored

    @property
    def mode(self) -> ModeEstimate | None:
        """The identified (or configured) dominant mode."""
        return self.c.mode

    @property
    def shaper(self) -> Shaper | None:
        """The shaper of shaped runs."""
        return self.c.shaper

    def _design(self, mode: ModeEstimate) -> Shaper:
        """The shaper of ``mode`` (convolved with one for a strong, distinct second mode)."""
        def one(f: float, z: float) -> Shaper:
            return design_shaper(self.shaper_kind, f, min(max(z, 0.0), MAX_DESIGN_DAMPING))

        shaper = one(mode.frequency_hz, mode.damping_ratio)
        for f, z, a in mode.modes[1:]:
            if (a >= SECOND_MODE_AMPLITUDE * mode.amplitude
                    and abs(f / mode.frequency_hz - 1.0) > SECOND_MODE_SEPARATION):
                return convolve(shaper, one(f, z))
        return shaper

    def test_move(self, back: bool) -> Trajectory:
        """The identification move: from the start out by TEST_MOVE_OFFSET_RAD (or back)."""
        q0 = np.asarray(self.job.start_q, dtype=float)
        offset = np.zeros_like(q0)
        n = min(len(offset), len(TEST_MOVE_OFFSET_RAD))
        offset[:n] = TEST_MOVE_OFFSET_RAD[:n]
        a, b = (q0 + offset, q0) if back else (q0, q0 + offset)
        return plan_state_to_state(JointState.at_rest(a), JointState.at_rest(b),
                                   self.limits.scaled(0.8, 0.8, 0.8), self.job.names)

    def start_run(self) -> list[Action]:
        """Reset the cell for the next run (the first run starts from the cell as it is)."""
        return [Action(ActionKind.PROGRESS, text=f"run '{self.run.name}': "
                       f"{'shaped' if self.run.shaped else 'unshaped'}, "
                       f"{'compensated' if self.run.compensated else 'uncompensated'}"),
                Action(ActionKind.RESET_CELL, run=self.run.name),
                Action(ActionKind.SET_PAYLOAD, payload=NO_PAYLOAD, run=self.run.name)]

    def step_move(self) -> list[Action]:
        """The actions of the current move (its wait state is the table's)."""
        m, run = self.move, self.run
        acts: list[Action] = []
        if m.kind is StepKind.PAYLOAD and run.compensated:
            acts.append(Action(ActionKind.SET_PAYLOAD, name=m.name, payload=m.payload,
                               run=run.name, index=m.index))
        for ev in m.io:
            if ev.kind is IoKind.SET:
                acts.append(Action(ActionKind.SET_OUTPUT, name=ev.name, value=ev.value,
                                   run=run.name, index=m.index))
                if m.kind is StepKind.GRIPPER:
                    acts.append(Action(
                        ActionKind.WAIT_INPUT, name=ev.name, value=ev.value, run=run.name,
                        index=m.index, duration_s=max(GRIP_TIMEOUT_MIN_S,
                                                      GRIP_TIMEOUT_FACTOR * m.duration_s)))
            else:
                acts.append(Action(ActionKind.WAIT_INPUT, name=ev.name, value=ev.value,
                                   duration_s=ev.timeout_s, run=run.name, index=m.index))
        if m.kind.is_motion:
            traj = m.trajectory
            if run.shaped and self.c.shaper is not None:
                traj = ShapedTrajectory(traj, self.c.shaper)
            acts.append(Action(ActionKind.SEND_TRAJECTORY, name=m.name, trajectory=traj,
                               run=run.name, index=m.index))
        elif not any(a.kind is ActionKind.WAIT_INPUT for a in acts):
            acts.append(Action(ActionKind.START_TIMER, name=m.name, run=run.name,
                               index=m.index, duration_s=m.duration_s))
        return acts

    def advance(self) -> None:
        """The current move is done."""
        self.c.move += 1

    def next_run(self) -> None:
        """The current run is done."""
        self.c.run += 1
        self.c.move = 0

    def fail(self, why: str) -> list[Action]:
        """End the job as failed."""
        self.c.reason = why
        return [Action(ActionKind.FINISH, success=False, text=why, run=self.run.name,
                       index=self.c.move)]

    def set_mode(self, mode: ModeEstimate) -> None:
        """The identified mode; designs the shaper (called before the MODE_IDENTIFIED event)."""
        if not (math.isfinite(mode.frequency_hz) and mode.frequency_hz > 0.0):
            raise MotionInputError(f"identified mode is not usable: {mode}")
        self.c.mode = mode
        self.c.shaper = self._design(mode)

    # --- the machine ------------------------------------------------------------------------
    def handle(self, event: JobEvent) -> list[Action]:
        """Apply ``event``: the first transition whose guard holds; its actions."""
        t = TABLE.select(self, self.state, event)
        if t is None:
            self.c.ignored += 1
            return []
        self.state = t.next
        return t.effect(self)


class Upcoming(enum.Enum):
    """What comes after a finished step (the guards of the step-completing transitions)."""

    MOTION = "next move is a motion"
    HOLD = "next move is a timed hold"
    WAIT_IO = "next move waits for an input"
    NEXT_RUN = "run done, another run follows"
    DONE = "last run done"


def _upcoming(s: JobSequencer, advance: bool) -> Upcoming:
    i = s.c.move + (1 if advance else 0)
    if i < len(s.job.moves):
        m = s.job.moves[i]
        if m.kind.is_motion:
            return Upcoming.MOTION
        return Upcoming.WAIT_IO if waits_input(m) else Upcoming.HOLD
    return Upcoming.NEXT_RUN if s.more_runs() else Upcoming.DONE


def _proceed(s: JobSequencer, advance: bool) -> list[Action]:
    if advance:
        s.advance()
    if s.more_moves():
        return s.step_move()
    if s.more_runs():
        s.next_run()
        return s.start_run()
    return [Action(ActionKind.FINISH, success=True, run=s.run.name,
                   text=f"{len(s.runs)} run(s) of '{s.job.name}' done")]


_TARGET = {Upcoming.MOTION: JobState.MOVING, Upcoming.HOLD: JobState.HOLDING,
           Upcoming.WAIT_IO: JobState.WAITING_IO, Upcoming.NEXT_RUN: JobState.STARTING_RUN,
           Upcoming.DONE: JobState.SUCCEEDED}


def _step_transitions(state: JobState, event: JobEvent, advance: bool
                      ) -> tuple[Transition, ...]:
    """``state`` finishes a step on ``event``: one transition per :class:`Upcoming` case."""
    return tuple(
        Transition(state, event, _TARGET[u], lambda s, a=advance: _proceed(s, a),
                   lambda s, u=u, a=advance: _upcoming(s, a) is u, u.value)
        for u in Upcoming)


def _start_identification(s: JobSequencer) -> list[Action]:
    out = s.test_move(back=False)
    return [Action(ActionKind.PROGRESS, text="identifying the dominant mode: test move"),
            Action(ActionKind.RECORD_VIBRATION, duration_s=out.duration_s),
            Action(ActionKind.SEND_TRAJECTORY, name="identification_out", trajectory=out,
                   run="identification")]


TRANSITIONS: tuple[Transition, ...] = (
    Transition(JobState.WAITING, JobEvent.READY, JobState.TEST_OUT, _start_identification,
               JobSequencer.needs_identification, "no mode known and a run is shaped"),
    Transition(JobState.WAITING, JobEvent.READY, JobState.STARTING_RUN,
               JobSequencer.start_run),
    Transition(JobState.TEST_OUT, JobEvent.GOAL_SUCCEEDED, JobState.SETTLING,
               lambda s: [Action(ActionKind.START_TIMER, name="settle", duration_s=SETTLE_S)]),
    Transition(JobState.TEST_OUT, JobEvent.GOAL_FAILED, JobState.FAILED,
               lambda s: s.fail("identification test move failed")),
    Transition(JobState.SETTLING, JobEvent.TIMER, JobState.SETTLING,
               lambda s: [Action(ActionKind.IDENTIFY)]),
    Transition(JobState.SETTLING, JobEvent.MODE_IDENTIFIED, JobState.TEST_BACK,
               lambda s: [Action(ActionKind.PROGRESS,
                                 text="modes " + ", ".join(
                                     f"{f:.2f} Hz (damping {z:.3f})"
                                     for f, z, _ in s.mode.modes or
                                     ((s.mode.frequency_hz, s.mode.damping_ratio, 0),))
                                 + f": {s.shaper.name} shaper "
                                   f"{s.shaper.duration_s * 1e3:.0f} ms"),
                          Action(ActionKind.SEND_TRAJECTORY, name="identification_back",
                                 trajectory=s.test_move(back=True), run="identification")]),
    Transition(JobState.SETTLING, JobEvent.IDENTIFICATION_FAILED, JobState.FAILED,
               lambda s: s.fail("no vibration mode found in the test move's record")),
    Transition(JobState.TEST_BACK, JobEvent.GOAL_SUCCEEDED, JobState.STARTING_RUN,
               JobSequencer.start_run),
    Transition(JobState.TEST_BACK, JobEvent.GOAL_FAILED, JobState.FAILED,
               lambda s: s.fail("identification return move failed")),
    *_step_transitions(JobState.STARTING_RUN, JobEvent.CELL_RESET, advance=False),
    *_step_transitions(JobState.MOVING, JobEvent.GOAL_SUCCEEDED, advance=True),
    Transition(JobState.MOVING, JobEvent.GOAL_FAILED, JobState.FAILED,
               lambda s: s.fail(f"move {s.move.index} '{s.move.name}' failed")),
    *_step_transitions(JobState.HOLDING, JobEvent.TIMER, advance=True),
    *_step_transitions(JobState.WAITING_IO, JobEvent.IO_MATCHED, advance=True),
    Transition(JobState.WAITING_IO, JobEvent.IO_TIMEOUT, JobState.FAILED,
               lambda s: s.fail(f"move {s.move.index} '{s.move.name}': input timed out")),
)
TABLE = machine.TransitionTable(TRANSITIONS, JobState.WAITING)


def identify_from_record(record: np.ndarray, t_end_s: float) -> ModeEstimate:
    """The arm's vibration modes in an accelerometer record (k, 4: t [s], ax, ay, az).

    Only the samples after the test move's end ``t_end_s`` count (free vibration). Each axis
    is fitted (:func:`identify_mode`, up to two modes); modes found on several axes (within
    :data:`SAME_MODE_REL` in frequency) are one mode, kept with its largest amplitude. The
    result is the strongest mode; ``modes`` lists all, strongest first.

    Raises:
        MotionInputError: too few samples after the move, or no mode found on any axis.

    """
    rec = np.asarray(record, dtype=float).reshape(-1, 4)
    after = rec[rec[:, 0] >= t_end_s]
    if len(after) < 50:
        raise MotionInputError(f"identification: {len(after)} accelerometer samples after "
                               f"the test move (need >= 50)")
    _, order = np.unique(after[:, 0], return_index=True)
    after = after[order]
    found: list[tuple[float, float, float]] = []
    fit_rms = math.inf
    for axis in range(1, 4):
        try:
            est = identify_mode(after[:, 0], after[:, axis])
        except MotionInputError:
            continue
        fit_rms = min(fit_rms, est.fit_rms)
        found += [m for m in est.modes if m[0] > 0.0 and math.isfinite(m[0])]
    if not found:
        raise MotionInputError("identification: no vibration mode on any accelerometer axis")
    modes: list[tuple[float, float, float]] = []
    for f, z, a in sorted(found, key=lambda m: -abs(m[2])):
        if all(abs(f / g - 1.0) > SAME_MODE_REL for g, _, _ in modes):
            modes.append((f, z, abs(a)))
    f, z, a = modes[0]
    return ModeEstimate(f, z, a, fit_rms, tuple(modes))


def transition_table_markdown() -> str:
    """The transition table as a Mermaid state diagram (for the package README)."""
    return TABLE.mermaid(finals=(JobState.SUCCEEDED, JobState.FAILED))
