"""The 1 kHz joint control loop, in its own process: read -> reference -> law -> write.

One cycle (ros2_control's controller_manager ``read()`` / ``update()`` / ``write()``):

1. ``state = hardware.read(t, period)`` through the :class:`HardwareComponent` lifecycle;
2. ``ref = follower.step(t, q, qd)`` (trajectory sample, tolerances, hold);
3. the law: position pass-through for position hardware (``q_ref``, ``qd_ref`` where a
   velocity interface exists), or an effort law of
   :class:`dg_motion.dynamics.control_law.JointController` (PD + gravity or computed torque);
4. ``hardware.write(t, period, command)``.

Time: the loop time is ``k * period_s`` (the nominal schedule). Cycle ``k`` is due at wall
time ``anchor + k * period_s / rtf`` (absolute deadlines, so a late wake-up does not shift
later ones). Real hardware runs at rtf 1; simulated hardware (``system.simulated``) may
run faster or slower, and its time is the loop's time. Falling more than
``MAX_LAG_PERIODS`` behind re-anchors the schedule (counted as an overrun).

Real-time hygiene (the measures the PREEMPT_RT / ros2_control guides list, as far as an
unprivileged Python process can take them): SCHED_FIFO priority, pinning to one CPU,
``gc.freeze()`` + ``gc.disable()``, sleeping to ``BUSY_WAIT_S`` before the deadline and
busy-waiting the rest. Each measure that the OS refuses is reported, never fatal.

Process boundary: :class:`ControlLoopProcess` starts the loop with the ``spawn`` context
(never fork: the parent has rclpy/DDS threads). The latest state, reference, command and
timing counters live in shared memory behind a seqlock (the writer never waits for a
reader); per-cycle compute times and wake-up lateness go to a ring buffer there too.
Whole trajectories and lifecycle requests go through a Pipe; goal outcomes come back on it.
"""

from __future__ import annotations

import enum
import gc
import math
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.execution.goal_validation import GoalRejected
from dg_motion.execution.hardware_interface import (
    HardwareCommand,
    HardwareComponent,
    HardwareEvent,
    HardwareLifecycle,
    TransitionResult,
    load_system,
)
from dg_motion.execution.trajectory_follower import FollowerMode, TrajectoryFollower
from dg_motion.robots.limits import JointLimits
from dg_motion.robots.urdf import load_urdf_model

#: Sleep until this long [s] before a deadline, then busy-wait (time.sleep overshoots by
#: ~50-100 us on a stock Linux kernel; `python bench/motion_control_loop.py` shows it).
BUSY_WAIT_S = 200e-6
#: Falling this many periods behind re-anchors the schedule instead of bursting.
MAX_LAG_PERIODS = 10
#: Per-cycle timing samples kept (ring buffer): 65 s at 1 kHz.
RING = 1 << 16
#: SCHED_FIFO priority requested (ros2_control's controller_manager uses 50).
RT_PRIORITY = 50
#: Shared-memory floats reserved for sensors + ground truth.
EXTRA_FLOATS = 4096
#: Tool accelerometer samples kept (t, ax, ay, az) for the node to publish every one: 4 s at
#: 1 kHz (the node drains it at its state rate). Vibration needs the loop's rate, not the
#: state publication's.
ACC_RING = 4096
#: Longest wall time [s] the simulated loop waits for the node to publish (then it goes on:
#: a node that stopped publishing must not freeze the physics forever) and its poll period.
LEAD_WAIT_LIMIT_S = 2.0
LEAD_POLL_S = 0.0002
#: The sensor key of the tool accelerometer (hardware plug-ins' ``read().sensors``).
ACCELEROMETER = "tool_accelerometer"


class LawKind(enum.Enum):
    """Control law of the loop."""

    POSITION = "position"                 #: pass-through to position (+velocity) interfaces
    PD_GRAVITY = "pd_gravity"             #: effort: PD + gravity compensation
    COMPUTED_TORQUE = "computed_torque"   #: effort: inverse dynamics + PD


@dataclass
class LoopConfig:
    """Everything the loop process needs (picklable)."""

    hardware_plugin: str
    hardware_params: dict
    limits: JointLimits
    law: str = "position"
    kp: list[float] = field(default_factory=list)      # [1/s^2]
    kd: list[float] = field(default_factory=list)      # [1/s]
    ki: list[float] = field(default_factory=list)      # [1/s^3] ([] = no integral action)
    robot_description: str = ""
    period_s: float = 0.001
    rtf: float = 1.0
    command_timeout_s: float = 0.5
    start_tolerance_rad: float = 0.01
    realtime: bool = True
    cpu: int | None = None          # pin to this CPU (None: the last one)
    #: Simulated hardware only: the loop waits while it is more than this far [s] of loop
    #: time ahead of what the node has published (lockstep: a busy machine slows the run
    #: instead of leaving gaps in /clock and the state streams); 0 = never waits.
    max_lead_s: float = 0.0


class PositionLaw:
    """Position pass-through (+ velocity feed-forward where the hardware takes it)."""

    def __init__(self, dof: int, interfaces: tuple[str, ...]) -> None:
        """For hardware with ``interfaces``."""
        if "position" not in interfaces:
            raise MotionInputError(f"control_law 'position' needs a position command "
                                   f"interface; the hardware offers {list(interfaces)}")
        self._vel = "velocity" in interfaces
        self._nan = np.full(dof, np.nan)

    def command(self, q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray, qd_ref: np.ndarray,
                qdd_ref: np.ndarray) -> HardwareCommand:
        """The reference itself."""
        return HardwareCommand(q_ref.copy(), qd_ref.copy() if self._vel else self._nan.copy(),
                               self._nan.copy())


class EffortLaw:
    """Torque command of D's :class:`JointController` (PD + gravity or computed torque)."""

    def __init__(self, kind: LawKind, config: LoopConfig, names: tuple[str, ...],
                 interfaces: tuple[str, ...]) -> None:
        """Build the rigid-body model of ``names`` from the URDF."""
        if "effort" not in interfaces:
            raise MotionInputError(f"control_law '{kind.value}' needs an effort command "
                                   f"interface; the hardware offers {list(interfaces)}")
        try:
            from dg_motion.dynamics.control_law import ControlMode, JointController
            from dg_motion.dynamics.rigid_body import RigidBodyModel
        except ImportError as exc:
            raise MotionInputError(f"control_law '{kind.value}' needs "
                                   f"dg_motion.dynamics: {exc}") from None
        import pinocchio as pin

        model = load_urdf_model(config.robot_description)
        urdf_joints = list(model.names)[1:]
        unknown = [n for n in names if n not in urdf_joints]
        if unknown:
            raise MotionInputError(f"joints {unknown} are not in {config.robot_description}")
        locked = [model.getJointId(n) for n in urdf_joints if n not in names]
        if locked:
            model = pin.buildReducedModel(model, locked, pin.neutral(model))
        dof = len(names)
        kp, kd = np.asarray(config.kp, float), np.asarray(config.kd, float)
        if kp.shape != (dof,) or kd.shape != (dof,):
            raise MotionInputError(f"gains: kp and kd need {dof} values each, got "
                                   f"{kp.size} and {kd.size}")
        mode = (ControlMode.PD_GRAVITY if kind is LawKind.PD_GRAVITY
                else ControlMode.COMPUTED_TORQUE)
        ki = np.asarray(config.ki, float) if len(config.ki) else None
        if ki is not None and ki.shape != (dof,):
            raise MotionInputError(f"gains: ki needs {dof} values, got {ki.size}")
        self.controller = JointController(RigidBodyModel(model), mode, kp, kd,
                                          config.limits.effort_max, ki=ki,
                                          dt_s=config.period_s)
        self._nan = np.full(dof, np.nan)

    def command(self, q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray, qd_ref: np.ndarray,
                qdd_ref: np.ndarray) -> HardwareCommand:
        """Saturated torques (raises MotionInputError on non-finite input)."""
        tau = self.controller.effort(q, qd, q_ref, qd_ref, qdd_ref)
        return HardwareCommand(self._nan.copy(), self._nan.copy(), np.asarray(tau, float))

    def set_payload(self, payload: Any) -> None:
        """Re-tune the feed-forward for ``payload``."""
        self.controller.set_payload(payload)


@dataclass
class CycleResult:
    """What one cycle did (the loop process copies it to shared memory)."""

    t_s: float
    q: np.ndarray
    qd: np.ndarray
    effort: np.ndarray
    q_ref: np.ndarray
    qd_ref: np.ndarray
    qdd_ref: np.ndarray
    command: HardwareCommand
    sensors: dict[str, np.ndarray]
    ground_truth: dict[str, np.ndarray]
    ended: list


class ControlLoop:
    """The cycle of the module docstring, in-process (the process wrapper calls it)."""

    def __init__(self, config: LoopConfig) -> None:
        """Load and configure the hardware, build follower and law.

        Raises:
            MotionInputError: bad plug-in, failed configure, joint mismatch, bad law.

        """
        self.config = config
        system = load_system(config.hardware_plugin)
        self.hardware = HardwareComponent(system, config.hardware_params)
        if self.hardware.trigger(HardwareEvent.CONFIGURE) is not TransitionResult.SUCCESS:
            raise MotionInputError(f"hardware {config.hardware_plugin}: "
                                   f"{self.hardware.error}")
        names = tuple(system.joint_names)
        if names != tuple(config.limits.names):
            raise MotionInputError(f"hardware joints {list(names)} differ from the "
                                   f"controller joints {list(config.limits.names)}")
        self.names = names
        try:
            kind = LawKind(config.law)
        except ValueError:
            raise MotionInputError(f"control_law '{config.law}' is not one of "
                                   f"{[k.value for k in LawKind]}") from None
        self.law = self._make_law(kind)
        self.follower = TrajectoryFollower(config.limits,
                                           command_timeout_s=config.command_timeout_s,
                                           start_tolerance_rad=config.start_tolerance_rad)
        self.gpio: dict[str, float] = {}
        #: Output changes not applied yet: one per output per cycle, so a pulse that arrives
        #: with its end in the same batch still shows both edges to the hardware.
        self._gpio_pending: dict[str, list[float]] = {}
        self.fault = ""

    def _make_law(self, kind: LawKind) -> PositionLaw | EffortLaw:
        interfaces = tuple(self.hardware.system.command_interfaces)
        return (PositionLaw(len(self.names), interfaces) if kind is LawKind.POSITION
                else EffortLaw(kind, self.config, self.names, interfaces))

    def cycle(self, t_s: float) -> CycleResult | None:
        """Run one cycle at loop time ``t_s`` (None while the hardware is unconfigured)."""
        period = self.config.period_s
        state = self.hardware.read(t_s, period)
        if state is None:
            return None
        step = self.follower.step(t_s, state.q, state.qd)
        try:
            # One sum per array: NaN or inf anywhere makes it non-finite (cheap at 1 kHz).
            if not math.isfinite(float(state.q.sum() + state.qd.sum())):
                raise MotionInputError("hardware reported a non-finite joint state")
            cmd = self.law.command(state.q, state.qd, step.q_ref, step.qd_ref, step.qdd_ref)
            if not all(math.isfinite(float(a.sum())) or np.isnan(a).all()
                       for a in (cmd.position, cmd.velocity, cmd.effort)):
                raise MotionInputError("control law produced a non-finite command")
        except MotionInputError as exc:
            # Never send NaN: brakes, stop the goal, report.
            self.fault = str(exc)
            cmd = HardwareCommand.none(len(self.names))
            if self.follower.mode is not FollowerMode.HOLDING:
                self.follower.stop(t_s, f"error: {exc}")
        for name in [n for n, q in self._gpio_pending.items() if q]:
            self.gpio[name] = self._gpio_pending[name].pop(0)
        cmd.gpio = self.gpio
        self.hardware.write(t_s, period, cmd)
        return CycleResult(t_s, state.q, state.qd, state.effort, step.q_ref, step.qd_ref,
                           step.qdd_ref, cmd, state.sensors, state.ground_truth, step.ended)

    def handle(self, msg: tuple, t_s: float) -> tuple | None:
        """Apply one request from the node; returns a reply for it (or None)."""
        kind = msg[0]
        if kind == "goal":
            _, goal_id, goal = msg
            try:
                self.follower.set_goal(goal, goal_id, t_s)
            except GoalRejected as exc:
                return ("rejected", goal_id, int(exc.code), str(exc))
            return ("started", goal_id)
        if kind == "stop":
            self.follower.stop(t_s, msg[1])
        elif kind == "activate":
            self.hardware.trigger(HardwareEvent.ACTIVATE)
            return ("lifecycle", self.hardware.state.value, self.hardware.error)
        elif kind == "deactivate":
            self.follower.stop(t_s, "deactivated")
            self.hardware.trigger(HardwareEvent.DEACTIVATE)
            return ("lifecycle", self.hardware.state.value, self.hardware.error)
        elif kind == "gpio":
            self._gpio_pending.setdefault(msg[1], []).append(float(msg[2]))
        elif kind == "law":
            payload = getattr(getattr(self.law, "controller", None), "payload", None)
            try:
                self.law = self._make_law(LawKind(msg[1]))
            except (ValueError, MotionInputError) as exc:
                return ("warning", f"control law {msg[1]!r} refused: {exc}")
            if payload is not None and hasattr(self.law, "set_payload"):
                self.law.set_payload(payload)
        elif kind == "payload":
            setter = getattr(self.law, "set_payload", None)
            if setter is None:
                return ("warning", "payload ignored: the position law has no feed-forward")
            setter(msg[1])
        return None


# --- shared memory ------------------------------------------------------------------------

HEADER = ("seq", "t_s", "cycles", "mode", "goal_id", "hw_state", "missed", "overruns",
          "rt_flags", "compute_max_us", "lateness_max_us", "ring_count", "alive_wall_s",
          "acc_count", "published_t")
_H = {k: i for i, k in enumerate(HEADER)}
_MODES = list(FollowerMode)
_HW = list(HardwareLifecycle)
#: Bits of ``rt_flags``: which real-time measures took effect.
RT_FIFO, RT_AFFINITY, RT_GC = 1, 2, 4


def _layout(dof: int) -> dict[str, tuple[int, int]]:
    """Offsets (start, length) in the float64 block."""
    out, pos = {}, 0
    for name, n in [("header", len(HEADER))] + [(k, dof) for k in (
            "q", "qd", "effort", "q_ref", "qd_ref", "qdd_ref", "cmd_position",
            "cmd_velocity", "cmd_effort")] + [("extra", EXTRA_FLOATS), ("compute_us", RING),
                                              ("lateness_us", RING), ("acc", 4 * ACC_RING)]:
        out[name] = (pos, n)
        pos += n
    out["total"] = (0, pos)
    return out


@dataclass
class LoopSnapshot:
    """A consistent copy of the loop's latest cycle."""

    t_s: float
    cycles: int
    mode: FollowerMode
    goal_id: int
    hardware: HardwareLifecycle
    q: np.ndarray
    qd: np.ndarray
    effort: np.ndarray
    q_ref: np.ndarray
    qd_ref: np.ndarray
    qdd_ref: np.ndarray
    cmd_position: np.ndarray
    cmd_velocity: np.ndarray
    cmd_effort: np.ndarray
    sensors: dict[str, np.ndarray]
    ground_truth: dict[str, np.ndarray]
    missed: int
    overruns: int
    rt_flags: int


@dataclass
class LoopStats:
    """Timing over the samples in the ring buffer [us]."""

    cycles: int
    compute_mean_us: float
    compute_p99_us: float
    compute_max_us: float
    lateness_p99_us: float
    lateness_max_us: float
    missed: int
    overruns: int
    rt_flags: int


class SharedState:
    """The float64 block of the loop's state; seqlock writer/reader (see module docstring)."""

    def __init__(self, dof: int, name: str | None = None) -> None:
        """Create (``name`` None) or attach to the block for ``dof`` joints."""
        self.layout = _layout(dof)
        n = self.layout["total"][1]
        if name is None:
            self.shm = shared_memory.SharedMemory(create=True, size=8 * n)
            self.owner = True
        else:
            self.shm = shared_memory.SharedMemory(name=name)
            self.owner = False
        self.buf = np.ndarray((n,), dtype=np.float64, buffer=self.shm.buf)
        if self.owner:
            self.buf[:] = 0.0
        self.extra_keys: list[tuple[str, str, int]] = []  # (group, key, size)
        self.v = {k: self.buf[a:a + b] for k, (a, b) in self.layout.items()}

    @property
    def name(self) -> str:
        """The shared-memory block's name."""
        return self.shm.name

    def close(self) -> None:
        """Detach (and unlink when this side created it)."""
        self.v, self.buf = {}, None
        self.shm.close()
        if self.owner:
            self.shm.unlink()

    def write(self, res: CycleResult, mode: FollowerMode, goal_id: int,
              hw: HardwareLifecycle) -> None:
        """Publish one cycle (seqlock: odd while writing)."""
        v, h = self.v, self.v["header"]
        h[_H["seq"]] += 1
        h[_H["t_s"]], h[_H["mode"]], h[_H["goal_id"]] = res.t_s, _MODES.index(mode), goal_id
        h[_H["hw_state"]] = _HW.index(hw)
        h[_H["cycles"]] += 1
        v["q"][:], v["qd"][:], v["effort"][:] = res.q, res.qd, res.effort
        v["q_ref"][:], v["qd_ref"][:], v["qdd_ref"][:] = res.q_ref, res.qd_ref, res.qdd_ref
        c = res.command
        v["cmd_position"][:], v["cmd_velocity"][:], v["cmd_effort"][:] = (
            c.position, c.velocity, c.effort)
        acc = res.sensors.get(ACCELEROMETER)
        if acc is not None and np.size(acc) == 3:
            i = int(h[_H["acc_count"]])
            v["acc"][4 * (i % ACC_RING):4 * (i % ACC_RING) + 4] = (res.t_s, *np.ravel(acc))
            h[_H["acc_count"]] = i + 1
        if self.extra_keys:
            pos, extra = 0, v["extra"]
            for group, key, n in self.extra_keys:
                src = (res.sensors if group == "s" else res.ground_truth).get(key)
                extra[pos:pos + n] = np.nan if src is None else np.ravel(src)[:n]
                pos += n
        h[_H["seq"]] += 1

    def set_extra_keys(self, state: CycleResult) -> list[tuple[str, str, int]]:
        """Fix the sensor / ground-truth layout from a first cycle."""
        keys, total = [], 0
        for group, d in (("s", state.sensors), ("g", state.ground_truth)):
            for k, arr in sorted(d.items()):
                n = int(np.size(arr))
                if total + n > EXTRA_FLOATS:
                    break
                keys.append((group, k, n))
                total += n
        self.extra_keys = keys
        return keys

    def read(self, max_tries: int = 1000) -> LoopSnapshot | None:
        """A consistent snapshot (None before the first cycle)."""
        h = self.v["header"]
        for _ in range(max_tries):
            s0 = h[_H["seq"]]
            if s0 % 2:
                continue
            copy = {k: self.v[k].copy() for k in ("header", "q", "qd", "effort", "q_ref",
                                                   "qd_ref", "qdd_ref", "cmd_position",
                                                   "cmd_velocity", "cmd_effort", "extra")}
            if h[_H["seq"]] == s0:
                break
        else:
            return None
        hh = copy["header"]
        if hh[_H["cycles"]] == 0:
            return None
        sensors, gt, pos = {}, {}, 0
        for group, key, n in self.extra_keys:
            (sensors if group == "s" else gt)[key] = copy["extra"][pos:pos + n]
            pos += n
        return LoopSnapshot(
            float(hh[_H["t_s"]]), int(hh[_H["cycles"]]), _MODES[int(hh[_H["mode"]])],
            int(hh[_H["goal_id"]]), _HW[int(hh[_H["hw_state"]])], copy["q"], copy["qd"],
            copy["effort"], copy["q_ref"], copy["qd_ref"], copy["qdd_ref"],
            copy["cmd_position"], copy["cmd_velocity"], copy["cmd_effort"], sensors, gt,
            int(hh[_H["missed"]]), int(hh[_H["overruns"]]), int(hh[_H["rt_flags"]]))

    def accelerometer(self, since: int) -> tuple[int, np.ndarray]:
        """Accelerometer samples (k, 4: t_s, ax, ay, az) after sample count ``since``.

        Returns the new count and the samples (at most :data:`ACC_RING`, oldest first;
        the loop writes ahead while this reads, so the newest few may be left for later).
        """
        count = int(self.v["header"][_H["acc_count"]])
        first = max(since, count - ACC_RING + 16)   # leave slots the writer may be in
        if first >= count:
            return count, np.zeros((0, 4))
        idx = np.arange(first, count) % ACC_RING
        ring = self.v["acc"].reshape(ACC_RING, 4)
        return count, ring[idx].copy()

    def stats(self, last: int | None = None) -> LoopStats:
        """Timing statistics over the ring buffer (or its ``last`` samples)."""
        h = self.v["header"]
        count = int(h[_H["ring_count"]])
        n = min(count, RING) if last is None else min(count, RING, last)
        idx = (np.arange(count - n, count)) % RING
        comp = self.v["compute_us"][idx]
        late = self.v["lateness_us"][idx]

        def pct(a: np.ndarray, p: float) -> float:
            return float(np.percentile(a, p)) if len(a) else math.nan
        return LoopStats(int(h[_H["cycles"]]), float(comp.mean()) if n else math.nan,
                         pct(comp, 99), float(comp.max()) if n else math.nan, pct(late, 99),
                         float(late.max()) if n else math.nan, int(h[_H["missed"]]),
                         int(h[_H["overruns"]]), int(h[_H["rt_flags"]]))

    def record_timing(self, compute_us: float, lateness_us: float, missed: bool) -> None:
        """Append one cycle's timing to the ring."""
        h = self.v["header"]
        i = int(h[_H["ring_count"]])
        self.v["compute_us"][i % RING] = compute_us
        self.v["lateness_us"][i % RING] = lateness_us
        h[_H["ring_count"]] = i + 1
        if missed:
            h[_H["missed"]] += 1
        if compute_us > h[_H["compute_max_us"]]:
            h[_H["compute_max_us"]] = compute_us


# --- the loop process -------------------------------------------------------------------

def apply_realtime(cpu: int | None) -> tuple[int, list[str]]:
    """Take the real-time measures the OS allows: (flags, what was refused)."""
    flags, refused = 0, []
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        flags |= RT_FIFO
    except (AttributeError, PermissionError, OSError) as exc:
        refused.append(f"SCHED_FIFO: {exc}")
    try:
        cpus = sorted(os.sched_getaffinity(0))
        target = cpus[-1] if cpu is None else cpu
        os.sched_setaffinity(0, {target})
        flags |= RT_AFFINITY
    except (AttributeError, PermissionError, OSError, ValueError) as exc:
        refused.append(f"CPU affinity: {exc}")
    gc.collect()
    gc.freeze()
    gc.disable()
    flags |= RT_GC
    return flags, refused


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > BUSY_WAIT_S:
        time.sleep(remaining - BUSY_WAIT_S)
    while time.perf_counter() < deadline:
        pass


def loop_main(config: LoopConfig, conn: Any, shm_name: str) -> None:
    """Body of the loop process: configure, then cycle until told to quit."""
    parent = os.getppid()
    try:
        loop = ControlLoop(config)
    except Exception as exc:  # noqa: BLE001 - reported to the node, which fails configure
        conn.send(("failed", str(exc) if isinstance(exc, MotionInputError)
                   else f"{exc!r}\n{traceback.format_exc()}"))
        return
    shared = SharedState(len(loop.names), shm_name)
    first = loop.cycle(0.0)
    keys = shared.set_extra_keys(first)
    shared.write(first, loop.follower.mode, loop.follower.goal_id, loop.hardware.state)
    flags, refused = (apply_realtime(config.cpu) if config.realtime else (0, []))
    shared.v["header"][_H["rt_flags"]] = flags
    conn.send(("ready", keys, refused, loop.hardware.system.simulated))
    simulated = loop.hardware.system.simulated
    rtf = config.rtf if simulated else 1.0
    wall_period = config.period_s / rtf
    max_lead = config.max_lead_s if simulated else 0.0
    header = shared.v["header"]
    k, anchor_k = 1, 0
    anchor = time.perf_counter()
    try:
        while True:
            t_s = k * config.period_s
            if max_lead > 0.0 and t_s - header[_H["published_t"]] > max_lead:
                # lockstep with the publisher: wait (bounded) for the node to catch up
                give_up = time.perf_counter() + LEAD_WAIT_LIMIT_S
                while (t_s - header[_H["published_t"]] > max_lead
                       and time.perf_counter() < give_up and not conn.poll()):
                    time.sleep(LEAD_POLL_S)
                anchor, anchor_k = time.perf_counter(), k
            deadline = anchor + (k - anchor_k) * wall_period
            _sleep_until(deadline)
            wake = time.perf_counter()
            if conn.poll():
                while conn.poll():
                    msg = conn.recv()
                    if msg[0] == "quit":
                        return
                    reply = loop.handle(msg, t_s)
                    if reply is not None:
                        conn.send(reply)
                    if msg[0] == "goal":
                        gc.collect(0)
            res = loop.cycle(t_s)
            if res is not None:
                shared.write(res, loop.follower.mode, loop.follower.goal_id,
                             loop.hardware.state)
                for e in res.ended:
                    conn.send(("ended", e.goal_id, e.outcome.value, e.message))
            end = time.perf_counter()
            compute_us = (end - wake) * 1e6
            missed = end > deadline + wall_period
            shared.record_timing(compute_us, (wake - deadline) * 1e6, missed)
            if end - deadline > MAX_LAG_PERIODS * wall_period:
                anchor, anchor_k = end, k + 1
                shared.v["header"][_H["overruns"]] += 1
            if k % 500 == 0:
                shared.v["header"][_H["alive_wall_s"]] = time.time()
                if os.getppid() != parent:
                    return
            k += 1
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        if loop.hardware.state is HardwareLifecycle.ACTIVE:
            loop.hardware.trigger(HardwareEvent.DEACTIVATE)
        loop.hardware.trigger(HardwareEvent.SHUTDOWN)
        shared.shm.close()


class LoopStartError(MotionInputError):
    """The loop process could not configure the hardware or the law."""


class ControlLoopProcess:
    """Starts :func:`loop_main` in a spawned process and talks to it (node side)."""

    def __init__(self, config: LoopConfig, start_timeout_s: float = 60.0) -> None:
        """Start the process and wait until it has configured the hardware.

        Raises:
            LoopStartError: with the loop's reason (bad plug-in, URDF, law ...).

        """
        ctx = mp.get_context("spawn")
        self.shared = SharedState(config.limits.dof)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=loop_main, args=(config, child, self.shared.name),
                                   name="joint_control_loop", daemon=True)
        self.process.start()
        child.close()
        self._pending: list[tuple] = []
        if not self.conn.poll(start_timeout_s):
            self.close()
            raise LoopStartError(f"control loop did not start within {start_timeout_s} s")
        msg = self.conn.recv()
        if msg[0] == "failed":
            self.close()
            raise LoopStartError(msg[1])
        _, keys, self.refused, self.simulated = msg
        self.shared.extra_keys = [tuple(k) for k in keys]

    def send(self, *msg: Any) -> None:
        """Send a request (see :meth:`ControlLoop.handle`)."""
        self.conn.send(msg)

    def events(self) -> list[tuple]:
        """Replies and goal outcomes since the last call."""
        out = []
        try:
            while self.conn.poll():
                out.append(self.conn.recv())
        except (EOFError, OSError):
            pass
        return out

    def snapshot(self) -> LoopSnapshot | None:
        """The latest cycle."""
        return self.shared.read()

    def stats(self, last: int | None = None) -> LoopStats:
        """Timing statistics."""
        return self.shared.stats(last)

    def accelerometer(self, since: int) -> tuple[int, np.ndarray]:
        """The tool accelerometer samples after ``since`` (:meth:`SharedState.accelerometer`)."""
        return self.shared.accelerometer(since)

    def mark_published(self, t_s: float) -> None:
        """The node has published the state of loop time ``t_s`` (lockstep, ``max_lead_s``)."""
        self.shared.v["header"][_H["published_t"]] = t_s

    @property
    def alive(self) -> bool:
        """True while the loop process runs."""
        return self.process.is_alive()

    def close(self, timeout_s: float = 2.0) -> None:
        """Ask the loop to quit (it deactivates the hardware), then release everything."""
        try:
            self.conn.send(("quit",))
        except (OSError, ValueError):
            pass
        self.process.join(timeout_s)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout_s)
        self.conn.close()
        self.shared.close()


def controller_limits(robot_description: str, joint_limits_file: str,
                      joints: list[str] | tuple[str, ...]) -> JointLimits:
    """Limits of ``joints``: the URDF's ``<limit>`` tags merged under a joint_limits.yaml.

    Raises:
        MotionInputError: unreadable URDF or limits file, joints missing from the URDF.

    """
    from dg_motion.robots.limits import load_joint_limits

    model = load_urdf_model(robot_description)
    urdf_joints = list(model.names)[1:]
    unknown = [n for n in joints if n not in urdf_joints]
    if unknown:
        raise MotionInputError(f"joints {unknown} are not in {robot_description}")
    idx = [model.joints[model.getJointId(n)].idx_q for n in joints]
    base = JointLimits(tuple(joints), model.lowerPositionLimit[idx],
                       model.upperPositionLimit[idx], model.velocityLimit[idx],
                       np.full(len(idx), np.inf), np.full(len(idx), np.inf),
                       model.effortLimit[idx])
    if not joint_limits_file:
        return base
    return load_joint_limits(joint_limits_file, names=tuple(joints), base=base)
