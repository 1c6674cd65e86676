"""Carry out a :class:`~dg_motion.execution.job_sequencer.JobSequencer`'s actions (no rclpy).

The sequencer decides *what* happens; a :class:`JobDriver` does it and reports back: it
keeps the timers, input waits, the cell-reset pulse and the vibration record, and turns
goal results into events. Only the transport is left to a subclass: how a trajectory goal,
an output, a payload and a control law reach the controller, and how an input is read.
The ``job_runner`` node implements it with ROS (action client, topics, a parameter); the
in-process runner (:mod:`dg_motion.execution.in_process_runner`) with direct calls into a
:class:`~dg_motion.execution.control_loop.ControlLoop` (benchmarks, offline simulation).
Time is whatever clock the caller passes to :meth:`JobDriver.tick` (simulated or wall).
"""

from __future__ import annotations

import abc

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.execution.job_sequencer import (
    Action,
    ActionKind,
    JobEvent,
    JobSequencer,
    JobState,
    identify_from_record,
)
from dg_motion.offline.job import PayloadSpec

#: Kinds of :meth:`JobDriver.report` (dg_interfaces/JobEvent constants).
MOVE_START, MOVE_END, IO, RUN_START, RUN_END = 0, 1, 2, 3, 4


class JobDriver(abc.ABC):
    """The sequencer's actions, carried out; subclasses provide the transport."""

    def __init__(self, seq: JobSequencer, *, plain_law: str, compensated_law: str,
                 reset_output: str, reset_hold_s: float) -> None:
        """Drive ``seq``; each run's law, the reset output ('' = none) and its pulse [s]."""
        self.seq = seq
        self.plain_law, self.compensated_law = plain_law, compensated_law
        self.reset_output, self.reset_hold_s = reset_output, reset_hold_s
        self.now_s = 0.0
        self.run_name = ""
        self.done_moves = 0
        self.finished: tuple[bool, str] | None = None
        self._timer_s: float | None = None
        self._wait: tuple[str, float, float] | None = None   # input, value, deadline
        self._reset_end_s: float | None = None
        self._record: list[tuple[float, float, float, float]] | None = None
        self._test_end_s = 0.0

    # --- transport (subclasses) ----------------------------------------------------------
    @abc.abstractmethod
    def send_goal(self, action: Action) -> None:
        """Send ``action.trajectory`` to the controller; later call :meth:`goal_done`."""

    @abc.abstractmethod
    def set_output(self, name: str, value: float) -> None:
        """Set output ``name``."""

    @abc.abstractmethod
    def set_payload(self, payload: PayloadSpec) -> None:
        """The controller's payload model."""

    @abc.abstractmethod
    def set_law(self, law: str) -> None:
        """The controller's control law."""

    @abc.abstractmethod
    def input_value(self, name: str) -> float:
        """The last value of input ``name`` (NaN when none came yet)."""

    @abc.abstractmethod
    def report(self, kind: int, action: Action, planned_s: float = 0.0) -> None:
        """A run or move event (one of the module constants)."""

    @abc.abstractmethod
    def progress(self, text: str) -> None:
        """A progress line."""

    @abc.abstractmethod
    def on_finish(self, success: bool, text: str) -> None:
        """The job ended."""

    # --- the caller's events -------------------------------------------------------------
    def ready(self, now_s: float) -> None:
        """The controller is up and the arm at the job's start."""
        self.now_s = now_s
        self._feed(JobEvent.READY)

    def fail(self, text: str) -> None:
        """End the job as failed for a reason outside the table (the arm was not ready)."""
        if self.seq.state not in (JobState.SUCCEEDED, JobState.FAILED):
            self.seq.state = JobState.FAILED
        self._finish(False, text)

    def tick(self, now_s: float) -> None:
        """Advance timers, input waits and the reset pulse to ``now_s``."""
        self.now_s = now_s
        if self._reset_end_s is not None and now_s >= self._reset_end_s:
            self._reset_end_s = None
            if self.reset_output:
                self.set_output(self.reset_output, 0.0)
            self._feed(JobEvent.CELL_RESET)
        if self._timer_s is not None and now_s >= self._timer_s:
            self._timer_s = None
            self._feed(JobEvent.TIMER)
        if self._wait is not None:
            name, value, deadline = self._wait
            if abs(self.input_value(name) - value) < 1e-9:
                self._wait = None
                self._feed(JobEvent.IO_MATCHED)
            elif now_s >= deadline:
                self._wait = None
                self._feed(JobEvent.IO_TIMEOUT)

    def accelerometer(self, t_s: float, ax: float, ay: float, az: float) -> None:
        """One tool accelerometer sample (kept while identifying)."""
        if self._record is not None:
            self._record.append((t_s, ax, ay, az))

    def goal_done(self, action: Action, ok: bool, text: str) -> None:
        """The controller finished ``action``'s goal (``ok``) with ``text``."""
        self.report(MOVE_END, action)
        if self._record is not None:
            # the free vibration starts when the arm has arrived: not before the controller
            # reported it (a goal may start later than it was sent)
            self._test_end_s = max(self._test_end_s, self.now_s)
        if ok and action.run not in ("identification", ""):
            self.done_moves += 1
        self.progress(f"{action.run}: {action.name}" + ("" if ok else f" FAILED: {text}"))
        self._feed(JobEvent.GOAL_SUCCEEDED if ok else JobEvent.GOAL_FAILED)

    # --- internals -----------------------------------------------------------------------
    def _feed(self, event: JobEvent) -> None:
        for action in self.seq.handle(event):
            self._do(action)

    def _do(self, a: Action) -> None:
        k = a.kind
        if k is ActionKind.SEND_TRAJECTORY:
            traj = a.trajectory
            self.report(MOVE_START, a, 0.0 if traj is None else traj.duration_s)
            if traj is None or traj.duration_s < 1e-6:   # already there
                self.goal_done(a, True, "")
            else:
                self.send_goal(a)
        elif k is ActionKind.SET_OUTPUT:
            self.set_output(a.name, a.value)
            self.report(IO, a)
        elif k is ActionKind.SET_PAYLOAD:
            assert a.payload is not None
            self.set_payload(a.payload)
        elif k is ActionKind.START_TIMER:
            self._timer_s = self.now_s + a.duration_s
        elif k is ActionKind.WAIT_INPUT:
            self._wait = (a.name, a.value, self.now_s + a.duration_s)
            self.report(IO, a)
        elif k is ActionKind.RECORD_VIBRATION:
            self._record = []
            self._test_end_s = self.now_s + a.duration_s
        elif k is ActionKind.IDENTIFY:
            self._identify()
        elif k is ActionKind.RESET_CELL:
            self._start_run(a)
        elif k is ActionKind.PROGRESS:
            self.progress(a.text)
        elif k is ActionKind.FINISH:
            self._finish(a.success, a.text)

    def _start_run(self, a: Action) -> None:
        """A run starts: end the last, set its law, pulse the reset output, then CELL_RESET."""
        if self.run_name:
            self.report(RUN_END, Action(ActionKind.FINISH, run=self.run_name))
        self.run_name = a.run
        law = self.compensated_law if self.seq.run.compensated else self.plain_law
        self.set_law(law)
        self.report(RUN_START, Action(ActionKind.FINISH, run=a.run, name=law))
        if self.reset_output:
            self.set_output(self.reset_output, 1.0)
        self._reset_end_s = self.now_s + self.reset_hold_s

    def _identify(self) -> None:
        rec, self._record = self._record or [], None
        try:
            self.seq.set_mode(identify_from_record(np.asarray(rec), self._test_end_s))
        except MotionInputError as exc:
            self.progress(f"identification failed: {exc}")
            self._feed(JobEvent.IDENTIFICATION_FAILED)
            return
        self._feed(JobEvent.MODE_IDENTIFIED)

    def _finish(self, success: bool, text: str) -> None:
        if self.finished is not None:
            return
        if self.run_name:
            self.report(RUN_END, Action(ActionKind.FINISH, run=self.run_name))
        self.finished = (success, text)
        self._timer_s = self._reset_end_s = None
        self._wait = None
        self.on_finish(success, text)
