"""Run a job on a :class:`ControlLoop` in this process, in lockstep simulated time (no ROS).

The same sequencer and driver as the ``job_runner`` node, with the controller called
directly: each loop period the loop cycles once (hardware read, trajectory reference, law,
hardware write, which steps a simulated arm) and the driver's timers advance. What a run
leaves (:class:`RunRecord`) is what the ROS demo records: the events, the accelerometer, the
tracking error, the contact count and the parts made. Used by the end-to-end benchmark and
for checking a job against the simulated cell without starting ROS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dg_motion.dynamics.rigid_body import Payload
from dg_motion.execution.control_loop import ACCELEROMETER, ControlLoop
from dg_motion.execution.goal_validation import (
    GoalRejected,
    GoalSource,
    Point,
    Tolerances,
    validate_goal,
)
from dg_motion.execution.hardware_interface import HardwareEvent
from dg_motion.execution.job_driver import JobDriver
from dg_motion.execution.job_sequencer import Action, JobSequencer
from dg_motion.execution.trajectory_follower import GoalOutcome
from dg_motion.offline.job import PayloadSpec
from dg_motion.trajectory.types import sample_uniform


@dataclass
class RunRecord:
    """What a run left: events ``(t, kind, run, name)``, samples every loop period."""

    events: list[tuple[float, int, str, str]] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    accel: list[np.ndarray] = field(default_factory=list)
    error_max_rad: list[float] = field(default_factory=list)
    contact_steps: list[float] = field(default_factory=list)
    parts_done: list[float] = field(default_factory=list)
    progress: list[tuple[float, str]] = field(default_factory=list)
    success: bool = False
    text: str = ""

    def arrays(self) -> dict[str, np.ndarray]:
        """The samples as arrays (t, accel (k, 3), error, contact steps, parts done)."""
        return {"t_s": np.asarray(self.t_s), "accel": np.asarray(self.accel).reshape(-1, 3),
                "error_max_rad": np.asarray(self.error_max_rad),
                "contact_steps": np.asarray(self.contact_steps),
                "parts_done": np.asarray(self.parts_done)}


class InProcessDriver(JobDriver):
    """A :class:`JobDriver` whose transport is direct calls into a :class:`ControlLoop`."""

    def __init__(self, loop: ControlLoop, seq: JobSequencer, *, plain_law: str,
                 compensated_law: str, reset_output: str = "sim_reset_cell",
                 reset_hold_s: float = 0.3, goal_dt_s: float = 0.01,
                 path_tolerance_rad: float = 0.1, goal_tolerance_rad: float = 0.01,
                 goal_time_tolerance_s: float = 1.0) -> None:
        """Drive ``seq`` on ``loop`` (configured; activated by :meth:`run`)."""
        super().__init__(seq, plain_law=plain_law, compensated_law=compensated_law,
                         reset_output=reset_output, reset_hold_s=reset_hold_s)
        self.loop = loop
        self.goal_dt_s = goal_dt_s
        n = len(loop.names)
        self._tol = (Tolerances.uniform(n, path_tolerance_rad),
                     Tolerances.uniform(n, goal_tolerance_rad), goal_time_tolerance_s)
        self._goal_id = 0
        self._goal: tuple[int, Action] | None = None
        self._inputs: dict[str, float] = {}
        self.record = RunRecord()

    # --- transport -----------------------------------------------------------------------
    def send_goal(self, action: Action) -> None:
        """Validate the sampled trajectory as the controller's action server would."""
        assert action.trajectory is not None
        s = sample_uniform(action.trajectory, self.goal_dt_s)
        points = [Point(float(t), q, qd, qdd)
                  for t, q, qd, qdd in zip(s.t_s, s.q, s.qd, s.qdd, strict=True)]
        path, goal, gtt = self._tol
        try:
            spec = validate_goal(s.names, points, self.loop.config.limits, path_tolerance=path,
                                 goal_tolerance=goal, goal_time_tolerance_s=gtt,
                                 source=GoalSource.ACTION)
        except GoalRejected as exc:
            self.goal_done(action, False, str(exc))
            return
        self._goal_id += 1
        reply = self.loop.handle(("goal", self._goal_id, spec), self.now_s)
        if reply is not None and reply[0] == "rejected":
            self.goal_done(action, False, str(reply[3]))
            return
        self._goal = (self._goal_id, action)

    def set_output(self, name: str, value: float) -> None:
        """An output of the hardware (GPIO)."""
        self.loop.handle(("gpio", name, value), self.now_s)

    def set_payload(self, payload: PayloadSpec) -> None:
        """The payload of the effort laws (point mass at its centre, flange frame)."""
        self.loop.handle(("payload", Payload.point_mass(payload.mass_kg, payload.com_m)),
                         self.now_s)

    def set_law(self, law: str) -> None:
        """The loop's law."""
        self.loop.handle(("law", law), self.now_s)

    def input_value(self, name: str) -> float:
        """The hardware input as last read."""
        return self._inputs.get(name, math.nan)

    def report(self, kind: int, action: Action, planned_s: float = 0.0) -> None:
        """Keep the event."""
        self.record.events.append((self.now_s, kind, action.run, action.name))

    def progress(self, text: str) -> None:
        """Keep the line."""
        self.record.progress.append((self.now_s, text))

    def on_finish(self, success: bool, text: str) -> None:
        """Keep the outcome."""
        self.record.success, self.record.text = success, text

    # --- the lockstep loop ---------------------------------------------------------------
    def run(self, max_time_s: float, *, start_s: float = 0.0) -> RunRecord:
        """Activate the hardware and cycle until the job ends or ``max_time_s`` of sim time."""
        loop, dt = self.loop, self.loop.config.period_s
        loop.hardware.trigger(HardwareEvent.ACTIVATE)
        k0 = int(round(start_s / dt))
        for k in range(k0, k0 + int(max_time_s / dt)):
            t = k * dt
            res = loop.cycle(t)
            if res is None:
                continue
            self._sample(t, res)
            for ended in res.ended:
                if self._goal is not None and ended.goal_id == self._goal[0]:
                    _, action = self._goal
                    self._goal = None
                    self.goal_done(action, ended.outcome is GoalOutcome.SUCCEEDED,
                                   ended.message)
            if k == k0:
                self.ready(t)
            self.tick(t)
            if self.finished is not None:
                break
        else:
            self.fail(f"the job did not end within {max_time_s:.0f} s of simulated time")
        return self.record

    def _sample(self, t: float, res: Any) -> None:
        for key, arr in res.sensors.items():
            if np.size(arr) == 1:
                self._inputs[key] = float(np.ravel(arr)[0])
        acc = res.sensors.get(ACCELEROMETER)
        r = self.record
        r.t_s.append(t)
        r.accel.append(np.zeros(3) if acc is None else np.asarray(acc, float).copy())
        if acc is not None:
            self.accelerometer(t, *(float(a) for a in acc))
        r.error_max_rad.append(float(np.abs(res.q_ref - res.q).max()))
        gt = res.ground_truth
        r.contact_steps.append(float(np.ravel(gt.get("contact_steps", [0.0]))[0]))
        r.parts_done.append(float(np.ravel(gt.get("parts_done", [0.0]))[0]))
