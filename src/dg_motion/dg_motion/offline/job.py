"""Robot job file (YAML): PTP/LIN/CIRC moves, gripper and I/O steps, payloads; load, validate.

The move semantics are the industrial ones integrators program in (KUKA KRL ``PTP``/``LIN``/
``CIRC``, ABB RAPID ``MoveJ``/``MoveL``/``MoveC``, RoboDK): ``ptp`` moves every joint at once
to the target (time-optimal, jerk-limited, rest to rest; the TCP path is not a line), ``lin``
moves the TCP on a straight line at a TCP speed, ``circ`` on the circular arc through an
auxiliary pose; consecutive ``lin``/``circ`` moves with a blend radius are joined into one
path that rounds the corner within that radius without stopping.

Format (lengths [m], angles [rad], poses ``[x, y, z, roll, pitch, yaw]`` of the TCP in the
robot base frame, ``R = Rz(yaw) Ry(pitch) Rx(roll)``)::

    job:
      name: cnc_load_unload             # [A-Za-z0-9_-]+
      robot:
        model: ur5                      # dg_motion's robots/<model>/<model>.urdf + joint_limits
        urdf: ../my_arm.urdf            # ... or explicit files (relative to this file)
        limits: ../joint_limits.yaml    #     (MoveIt joint_limits.yaml; optional)
        tool_frame: tool0               # the TCP frame of the URDF (default tool0)
      cell: arm_cell.yaml               # the cell (collision boxes, part locations, gripper)
      start: home                       # a joint frame: where the robot is when the job starts
      defaults:                         # optional: step defaults
        speed: 0.5                      # ptp: fraction of the joint velocity limits, (0, 1]
        accel: 0.5                      # ptp: fraction of the acceleration and jerk limits
        speed_mps: 0.25                 # lin/circ: TCP speed [m/s]
        blend_m: 0.0                    # lin/circ: blend radius into the next lin/circ [m]
      checks:                           # optional: check thresholds
        min_clearance_m: 0.0005         # arm, gripper and held part to the cell [m]
        min_manipulability: 0.01        # Yoshikawa measure along lin/circ moves
      frames:                           # named targets
        home:   {joints: [q1, ..., q6]}             # joint target [rad]
        safe:   {pose: [x, y, z, roll, pitch, yaw]} # TCP pose
        above_vise: {at: vise, offset: [0, 0, 0.15]}  # a cell location (below), shifted [m]
        vise_finished: {at: vise, part: finished}   # the finished part resting in the vise
      steps:
        - ptp: home                                   # a frame name or an inline target
        - {name: to_tray, ptp: {at: "tray[0]", offset: [0, 0, 0.1]}, speed: 0.8}
        - {lin: "tray[0]", speed_mps: 0.1}
        - {circ: above_vise, via: safe, speed_mps: 0.3, blend_m: 0.02}
        - gripper: close                  # output "gripper" = 1 (open: 0), then the
                                          # cell's gripper.grip_time_s
        - payload: raw                    # a cell part (mass; held part for collisions)
        - payload: {mass_kg: 1.2, com_m: [0, 0, 0.15]}   # or explicit (flange frame)
        - payload: none                   # nothing held
        - set_io: {name: machine_start, value: 1}
        - wait_io: {name: machine_done, value: 1, timeout_s: 10.0, expected_s: 2.0}
        - wait_s: 0.5
        - repeat:                         # loop: the steps once per value of the variable;
            var: i                        # "{i}" in names and target strings is replaced
            values: [0, 1, 2, 3]          # or count: 4 (0 .. count-1)
            steps: [...]

Targets: a name from ``frames``; a cell location ``tray[i]``, ``outfeed[i]``, ``vise`` (the
TCP at the resting part's centre, tool z pointing down, i.e. the part pose turned by
``roll = pi``); or an inline mapping ``{joints: [...]}``, ``{pose: [...]}``, ``{at: <frame or
location>, offset: [dx, dy, dz], part: <part>}`` (``offset`` in base-frame axes; ``part``
moves the TCP to the centre of that part resting at the location, whose height may differ
from the location's own part). Every step has an optional ``name`` (default
``<kind>_<index>``, unique after loop expansion).

Every error raises :class:`~dg_motion.errors.MotionInputError` naming the file, the field
and what is wrong, e.g. ``job.yaml: steps[4] (approach_0).ptp: unknown frame 'tray_9'``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dg_motion.errors import MotionInputError
from dg_motion.offline.collision import Cell, load_cell, pose_from_xyzrpy
from dg_motion.robots.model import ArmModel
from dg_motion.robots.paths import robot_file

_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_LOCATION = re.compile(r"^(?P<loc>[a-z_]+)(\[(?P<idx>-?\d+)\])?$")
#: Fastest TCP speed accepted [m/s] (guards typos such as 25 instead of 0.25).
MAX_TCP_SPEED_MPS = 3.0
#: Longest wait or timeout accepted [s].
MAX_WAIT_S = 3600.0
#: Most steps after loop expansion (a loop count typo is an error, not a hang).
MAX_STEPS = 10000
#: The tool points down: the TCP frame of a part's grasp is the part frame turned about x.
T_TOOL_DOWN = pose_from_xyzrpy([0.0, 0.0, 0.0, math.pi, 0.0, 0.0])
#: Gripper output name (1 = closed, 0 = open).
GRIPPER_OUTPUT = "gripper"


class StepKind(enum.Enum):
    """What a step does."""

    PTP = "ptp"          # joint-interpolated move, rest to rest
    LIN = "lin"          # straight TCP line
    CIRC = "circ"        # circular TCP arc through an auxiliary pose
    GRIPPER = "gripper"  # set the gripper output, wait the grip time
    SET_IO = "set_io"    # set a digital/analog output
    WAIT_IO = "wait_io"  # wait for an input (with timeout)
    WAIT = "wait_s"      # dwell
    PAYLOAD = "payload"  # the held payload changes

    @property
    def is_motion(self) -> bool:
        """True for PTP, LIN and CIRC."""
        return self in (StepKind.PTP, StepKind.LIN, StepKind.CIRC)

    @property
    def is_cartesian(self) -> bool:
        """True for LIN and CIRC."""
        return self in (StepKind.LIN, StepKind.CIRC)


@dataclass(frozen=True)
class Target:
    """A joint target ``q`` [rad] or a TCP ``pose`` (4x4, base frame); ``label`` for messages."""

    label: str
    q: np.ndarray | None = None
    pose: np.ndarray | None = None


@dataclass(frozen=True)
class PayloadSpec:
    """Held payload: ``mass_kg``, ``com_m`` (flange frame), ``part`` (cell part or None)."""

    mass_kg: float
    com_m: np.ndarray
    part: str | None


NO_PAYLOAD = PayloadSpec(0.0, np.zeros(3), None)


@dataclass(frozen=True)
class Step:
    """One validated step; ``where`` is its field path in the file (for messages)."""

    index: int
    name: str
    kind: StepKind
    where: str
    target: Target | None = None
    via: Target | None = None                 # circ: auxiliary pose on the arc
    speed: float = 1.0                        # ptp: fraction of the velocity limits
    accel: float = 1.0                        # ptp: fraction of the acceleration/jerk limits
    speed_mps: float = 0.25                   # lin/circ: TCP speed [m/s]
    blend_m: float = 0.0                      # lin/circ: blend radius into the next [m]
    io_name: str = ""                         # gripper/set_io/wait_io
    io_value: float = 0.0
    timeout_s: float = 0.0                    # wait_io
    duration_s: float = 0.0                   # wait_s, gripper time, wait_io expected time
    payload: PayloadSpec | None = None


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the job checks."""

    min_clearance_m: float = 0.0005
    min_manipulability: float = 0.01


@dataclass(frozen=True)
class Job:
    """A validated job: the arm, the cell, the start configuration and the flat step list."""

    name: str
    path: Path
    arm: ArmModel
    cell: Cell
    start_q: np.ndarray
    frames: dict[str, Target]
    steps: tuple[Step, ...]
    checks: CheckSettings


# ----------------------------------------------------------------------------- helpers
class _Ctx:
    """Error context: the file name; produces MotionInputErrors naming file and field."""

    def __init__(self, path: Path) -> None:
        self.file = path.name

    def fail(self, where: str, why: str) -> MotionInputError:
        return MotionInputError(f"{self.file}: {where}: {why}")


def _finite(ctx: _Ctx, where: str, value: Any, lo: float = -math.inf, hi: float = math.inf,
            *, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(where, f"expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ctx.fail(where, f"not a finite number ({value!r})")
    if v < lo or v > hi or (lo_open and v == lo):
        raise ctx.fail(where, f"{v:g} is out of range {'(' if lo_open else '['}{lo:g}, {hi:g}]")
    return v


def _vector(ctx: _Ctx, where: str, value: Any, n: int) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ctx.fail(where, f"expected a list of {n} numbers, got {value!r}")
    return np.array([_finite(ctx, f"{where}[{k}]", v) for k, v in enumerate(value)])


def _mapping(ctx: _Ctx, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.fail(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _only(ctx: _Ctx, where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ctx.fail(where, f"unknown field(s) {unknown} (allowed: {sorted(allowed)})")


def _substitute(value: Any, var: str, sub: str) -> Any:
    if isinstance(value, str):
        return value.replace("{" + var + "}", sub)
    if isinstance(value, list):
        return [_substitute(v, var, sub) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, var, sub) for k, v in value.items()}
    return value


# ----------------------------------------------------------------------------- targets
class _Targets:
    """Resolves target specifications against the frames and the cell."""

    def __init__(self, ctx: _Ctx, arm: ArmModel, cell: Cell) -> None:
        self.ctx, self.arm, self.cell = ctx, arm, cell
        self.frames: dict[str, Target] = {}

    def location(self, where: str, text: str, part: str | None) -> np.ndarray | None:
        m = _LOCATION.match(text)
        if m is None or m["loc"] not in self.cell.locations:
            return None
        grid = self.cell.locations[m["loc"]]
        if m["idx"] is None and grid.count > 1:
            raise self.ctx.fail(where, f"'{text}' needs a slot index: {m['loc']}[0] .. "
                                       f"{m['loc']}[{grid.count - 1}]")
        idx = int(m["idx"] or 0)
        if not 0 <= idx < grid.count:
            raise self.ctx.fail(where, f"'{text}': slot index out of range (the {m['loc']} "
                                       f"has {grid.count} slots: 0 .. {grid.count - 1})")
        P = grid.slot_pose(idx)  # noqa: N806 - a transform
        if part is not None:
            if part not in self.cell.parts:
                raise self.ctx.fail(where, f"unknown part '{part}' (the cell has "
                                           f"{sorted(self.cell.parts)})")
            seat_part = self.cell.parts[grid.part]
            dz = 0.5 * (self.cell.parts[part].size[2] - seat_part.size[2])
            P = P.copy()  # noqa: N806
            P[:3, 3] += P[:3, 2] * dz
        return P @ T_TOOL_DOWN

    def named(self, where: str, text: str, part: str | None = None) -> Target:
        pose = self.location(where, text, part)
        if pose is not None:
            return Target(text, pose=pose)
        if part is not None:
            raise self.ctx.fail(where, f"'part' applies to cell locations only, not '{text}'")
        if text in self.frames:
            return self.frames[text]
        known = sorted(self.frames) + [f"{k}[i]" if g.count > 1 else k
                                       for k, g in self.cell.locations.items()]
        raise self.ctx.fail(where, f"unknown frame '{text}' (known: {', '.join(known)})")

    def resolve(self, where: str, spec: Any, label: str) -> Target:
        if isinstance(spec, str):
            return self.named(where, spec)
        spec = _mapping(self.ctx, where, spec)
        keys = {"joints", "pose", "at"} & set(spec)
        if len(keys) != 1:
            raise self.ctx.fail(where, "a target needs exactly one of 'joints', 'pose', 'at'")
        if "joints" in spec:
            _only(self.ctx, where, spec, {"joints"})
            q = _vector(self.ctx, f"{where}.joints", spec["joints"], self.arm.dof)
            lim = self.arm.limits
            bad = np.flatnonzero((q < lim.position_min) | (q > lim.position_max))
            if bad.size:
                j = int(bad[0])
                raise self.ctx.fail(f"{where}.joints", f"{self.arm.names[j]} = {q[j]:.4f} rad "
                                    f"is outside its limits [{lim.position_min[j]:.4f}, "
                                    f"{lim.position_max[j]:.4f}]")
            return Target(label, q=q)
        if "pose" in spec:
            _only(self.ctx, where, spec, {"pose"})
            return Target(label, pose=pose_from_xyzrpy(_vector(self.ctx, f"{where}.pose",
                                                               spec["pose"], 6)))
        _only(self.ctx, where, spec, {"at", "offset", "part"})
        if not isinstance(spec["at"], str):
            raise self.ctx.fail(f"{where}.at", f"expected a frame or location name, got "
                                               f"{spec['at']!r}")
        part = spec.get("part")
        if part is not None and not isinstance(part, str):
            raise self.ctx.fail(f"{where}.part", f"expected a part name, got {part!r}")
        base = self.named(f"{where}.at", spec["at"], part)
        if base.pose is None:
            raise self.ctx.fail(f"{where}.at", f"'{spec['at']}' is a joint target; an offset "
                                               "needs a pose")
        pose = base.pose.copy()
        text = spec["at"] + (f" ({part} part)" if part else "")
        if "offset" in spec:
            offset = _vector(self.ctx, f"{where}.offset", spec["offset"], 3)
            pose[:3, 3] += offset
            text += " + [" + ", ".join(f"{v:g}" for v in offset) + "]"
        return Target(text, pose=pose)


# ----------------------------------------------------------------------------- steps
_ACTIONS = {k.value for k in StepKind} | {"repeat"}
_MOTION_FIELDS = {"name", "speed", "accel", "speed_mps", "blend_m", "via"}


class _StepParser:
    def __init__(self, ctx: _Ctx, targets: _Targets, defaults: dict[str, float]) -> None:
        self.ctx, self.targets, self.defaults = ctx, targets, defaults
        self.steps: list[Step] = []

    def parse_list(self, where: str, items: Any) -> None:
        if not isinstance(items, list) or not items:
            raise self.ctx.fail(where, "expected a non-empty list of steps")
        for k, item in enumerate(items):
            self.parse(f"{where}[{k}]", item)

    def parse(self, where: str, item: Any) -> None:
        item = _mapping(self.ctx, where, item)
        actions = sorted(_ACTIONS & set(item))
        if len(actions) != 1:
            raise self.ctx.fail(where, f"a step needs exactly one of {sorted(_ACTIONS)}, "
                                       f"got {actions or sorted(item)}")
        action = actions[0]
        if action == "repeat":
            _only(self.ctx, where, item, {"repeat"})
            return self.parse_repeat(f"{where}.repeat", item["repeat"])
        if len(self.steps) >= MAX_STEPS:
            raise self.ctx.fail(where, f"more than {MAX_STEPS} steps after loop expansion")
        kind = StepKind(action)
        index = len(self.steps)
        name = item.get("name", f"{kind.value}_{index}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise self.ctx.fail(f"{where}.name", f"expected [A-Za-z0-9_.+-]+, got {name!r}")
        if any(s.name == name for s in self.steps):
            raise self.ctx.fail(f"{where}.name", f"duplicate step name '{name}'")
        where = f"{where} ({name})"
        allowed = {action, "name"} | (_MOTION_FIELDS if kind.is_motion else set())
        _only(self.ctx, where, item, allowed)
        d = self.defaults
        fields: dict[str, Any] = {}
        val = item[action]
        if kind.is_motion:
            fields["target"] = self.targets.resolve(f"{where}.{action}", val,
                                                    val if isinstance(val, str) else name)
            if kind is StepKind.PTP:
                for k in ("speed_mps", "blend_m", "via"):
                    if k in item:
                        raise self.ctx.fail(f"{where}.{k}", "applies to lin/circ only")
                fields["speed"] = _finite(self.ctx, f"{where}.speed",
                                          item.get("speed", d["speed"]), 0.0, 1.0, lo_open=True)
                fields["accel"] = _finite(self.ctx, f"{where}.accel",
                                          item.get("accel", d["accel"]), 0.0, 1.0, lo_open=True)
            else:
                for k in ("speed", "accel"):
                    if k in item:
                        raise self.ctx.fail(f"{where}.{k}", "applies to ptp only (lin/circ: "
                                                            "speed_mps)")
                fields["speed_mps"] = _finite(self.ctx, f"{where}.speed_mps",
                                              item.get("speed_mps", d["speed_mps"]), 0.0,
                                              MAX_TCP_SPEED_MPS, lo_open=True)
                fields["blend_m"] = _finite(self.ctx, f"{where}.blend_m",
                                            item.get("blend_m", d["blend_m"]), 0.0, 1.0)
                if fields["target"].pose is None:
                    raise self.ctx.fail(f"{where}.{action}", f"{action} needs a Cartesian "
                                                             "target, got a joint target")
            if kind is StepKind.CIRC:
                if "via" not in item:
                    raise self.ctx.fail(where, "circ needs 'via' (a pose on the arc)")
                via = self.targets.resolve(f"{where}.via", item["via"], f"{name}.via")
                if via.pose is None:
                    raise self.ctx.fail(f"{where}.via", "needs a Cartesian target")
                fields["via"] = via
            elif "via" in item:
                raise self.ctx.fail(f"{where}.via", "applies to circ only")
        elif kind is StepKind.GRIPPER:
            if val not in ("close", "open"):
                raise self.ctx.fail(f"{where}.gripper", f"expected close or open, got {val!r}")
            fields.update(io_name=GRIPPER_OUTPUT, io_value=1.0 if val == "close" else 0.0,
                          duration_s=self.targets.cell.gripper.grip_time_s)
        elif kind is StepKind.SET_IO:
            io = _mapping(self.ctx, f"{where}.set_io", val)
            _only(self.ctx, f"{where}.set_io", io, {"name", "value"})
            fields.update(io_name=self._io_name(f"{where}.set_io.name", io.get("name")),
                          io_value=_finite(self.ctx, f"{where}.set_io.value", io.get("value")))
        elif kind is StepKind.WAIT_IO:
            io = _mapping(self.ctx, f"{where}.wait_io", val)
            _only(self.ctx, f"{where}.wait_io", io, {"name", "value", "timeout_s", "expected_s"})
            timeout = _finite(self.ctx, f"{where}.wait_io.timeout_s", io.get("timeout_s"),
                              0.0, MAX_WAIT_S, lo_open=True)
            fields.update(io_name=self._io_name(f"{where}.wait_io.name", io.get("name")),
                          io_value=_finite(self.ctx, f"{where}.wait_io.value", io.get("value")),
                          timeout_s=timeout,
                          duration_s=_finite(self.ctx, f"{where}.wait_io.expected_s",
                                             io.get("expected_s", 0.0), 0.0, timeout))
        elif kind is StepKind.WAIT:
            fields["duration_s"] = _finite(self.ctx, f"{where}.wait_s", val, 0.0, MAX_WAIT_S)
        elif kind is StepKind.PAYLOAD:
            fields["payload"] = self._payload(f"{where}.payload", val)
        self.steps.append(Step(index=index, name=name, kind=kind, where=where, **fields))
        return None

    def _io_name(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.ctx.fail(where, f"expected an I/O name [A-Za-z0-9_.+-]+, got {value!r}")
        return value

    def _payload(self, where: str, val: Any) -> PayloadSpec:
        cell = self.targets.cell
        tcp = cell.gripper.tcp[:3, 3].copy()
        if val is None or val == "none":
            return NO_PAYLOAD
        if isinstance(val, str):
            if val not in cell.parts:
                raise self.ctx.fail(where, f"unknown part '{val}' (the cell has "
                                           f"{sorted(cell.parts)}, or none)")
            return PayloadSpec(cell.parts[val].mass_kg, tcp, val)
        val = _mapping(self.ctx, where, val)
        _only(self.ctx, where, val, {"mass_kg", "com_m", "part"})
        part = val.get("part")
        if part is not None and part not in cell.parts:
            raise self.ctx.fail(f"{where}.part", f"unknown part {part!r}")
        mass = _finite(self.ctx, f"{where}.mass_kg",
                       val.get("mass_kg", cell.parts[part].mass_kg if part else None), 0.0, 1e3)
        com = _vector(self.ctx, f"{where}.com_m", val.get("com_m", list(tcp)), 3)
        return PayloadSpec(mass, com, part)

    def parse_repeat(self, where: str, spec: Any) -> None:
        spec = _mapping(self.ctx, where, spec)
        _only(self.ctx, where, spec, {"var", "values", "count", "steps"})
        var = spec.get("var", "i")
        if not isinstance(var, str) or not re.match(r"^[A-Za-z_]\w*$", var):
            raise self.ctx.fail(f"{where}.var", f"expected an identifier, got {var!r}")
        if ("values" in spec) == ("count" in spec):
            raise self.ctx.fail(where, "needs exactly one of 'values' and 'count'")
        if "count" in spec:
            count = spec["count"]
            if isinstance(count, bool) or not isinstance(count, int) or not (
                    1 <= count <= MAX_STEPS):
                raise self.ctx.fail(f"{where}.count", f"expected an integer in [1, "
                                                      f"{MAX_STEPS}], got {count!r}")
            values = list(range(count))
        else:
            values = spec["values"]
            if not isinstance(values, list) or not values or not all(
                    isinstance(v, (int, str)) and not isinstance(v, bool) for v in values):
                raise self.ctx.fail(f"{where}.values", "expected a non-empty list of integers "
                                                       "or names")
        body = spec.get("steps")
        if not isinstance(body, list) or not body:
            raise self.ctx.fail(f"{where}.steps", "expected a non-empty list of steps")
        for v in values:
            self.parse_list(f"{where}.steps[{var}={v}]", _substitute(body, var, str(v)))


# ----------------------------------------------------------------------------- loading
def _robot(ctx: _Ctx, base: Path, spec: Any) -> ArmModel:
    spec = _mapping(ctx, "robot", spec)
    _only(ctx, "robot", spec, {"model", "urdf", "limits", "tool_frame"})
    tool = spec.get("tool_frame", "tool0")
    if not isinstance(tool, str):
        raise ctx.fail("robot.tool_frame", f"expected a frame name, got {tool!r}")
    if ("model" in spec) == ("urdf" in spec):
        raise ctx.fail("robot", "needs exactly one of 'model' (a dg_motion robot) and 'urdf'")
    try:
        if "model" in spec:
            if not isinstance(spec["model"], str):
                raise ctx.fail("robot.model", f"expected a robot name, got {spec['model']!r}")
            name = spec["model"]
            urdf, limits = robot_file(name, f"{name}.urdf"), robot_file(name, "joint_limits.yaml")
        else:
            for k in ("urdf", "limits"):
                if k in spec and not isinstance(spec[k], str):
                    raise ctx.fail(f"robot.{k}", f"expected a path, got {spec[k]!r}")
            urdf = base / spec["urdf"]
            limits = base / spec["limits"] if "limits" in spec else None
        return ArmModel.from_urdf(urdf, tool_frame=tool, limits_file=limits)
    except MotionInputError as exc:
        if str(exc).startswith(ctx.file):
            raise
        raise ctx.fail("robot", str(exc)) from None


def load_job(path: str | Path) -> Job:
    """Read and validate a job file (format in the module docstring).

    Raises:
        MotionInputError: unreadable file, malformed YAML, missing or invalid fields, unknown
            frames or parts, out-of-limit joint targets, non-finite numbers; the message
            names the file, the field (and the step) and what is wrong.

    """
    path = Path(path)
    ctx = _Ctx(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise MotionInputError(f"{path}: cannot read the job file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MotionInputError(f"{ctx.file}: not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict) or "job" not in data:
        raise ctx.fail("job", "missing (the file must hold a mapping 'job:')")
    job = _mapping(ctx, "job", data["job"])
    _only(ctx, "job", job, {"name", "robot", "cell", "start", "defaults", "checks", "frames",
                            "steps"})
    name = job.get("name")
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_-]+$", name):
        raise ctx.fail("name", f"expected [A-Za-z0-9_-]+, got {name!r}")
    base = path.parent
    arm = _robot(ctx, base, job.get("robot"))
    cell_name = job.get("cell")
    if not isinstance(cell_name, str):
        raise ctx.fail("cell", f"expected the cell file's path, got {cell_name!r}")
    try:
        cell = load_cell(base / cell_name)
    except MotionInputError as exc:
        raise ctx.fail("cell", str(exc)) from None
    flange_tcp = np.linalg.solve(arm.fk(np.zeros(arm.dof), "flange"), arm.fk(np.zeros(arm.dof)))
    if not np.allclose(flange_tcp, cell.gripper.tcp, atol=1e-6):
        raise ctx.fail("robot.tool_frame", f"the tool frame '{arm.tool_frame}' is not the cell "
                                           "gripper's tcp (flange -> TCP) ")
    defaults = {"speed": 0.5, "accel": 0.5, "speed_mps": 0.25, "blend_m": 0.0}
    given = _mapping(ctx, "defaults", job.get("defaults", {}))
    _only(ctx, "defaults", given, set(defaults))
    defaults.update(given)
    chk = _mapping(ctx, "checks", job.get("checks", {}))
    _only(ctx, "checks", chk, {"min_clearance_m", "min_manipulability"})
    checks = CheckSettings(
        _finite(ctx, "checks.min_clearance_m", chk.get("min_clearance_m", 0.0005), 0.0, 1.0),
        _finite(ctx, "checks.min_manipulability", chk.get("min_manipulability", 0.01), 0.0, 1.0))
    targets = _Targets(ctx, arm, cell)
    for fname, spec in _mapping(ctx, "frames", job.get("frames", {})).items():
        if not isinstance(fname, str) or not _NAME.match(fname) or fname in cell.locations:
            raise ctx.fail(f"frames.{fname}", "frame names are [A-Za-z0-9_.+-]+ and must not "
                                              "be a cell location")
        targets.frames[fname] = targets.resolve(f"frames.{fname}", spec, fname)
    start_name = job.get("start")
    if not isinstance(start_name, str):
        raise ctx.fail("start", f"expected a joint frame name, got {start_name!r}")
    start = targets.named("start", start_name)
    if start.q is None:
        raise ctx.fail("start", f"'{start_name}' must be a joint target (joints: [...])")
    parser = _StepParser(ctx, targets, defaults)
    parser.parse_list("steps", job.get("steps"))
    return Job(name, path, arm, cell, start.q, dict(targets.frames), tuple(parser.steps), checks)
