"""The CNC cell file and the arm-versus-cell clearance query of the offline job checks.

Collision library: ``coal`` (the successor of hpp-fcl; Pan, Chitta & Manocha, "FCL: a general
purpose library for collision and proximity queries", ICRA 2012). Its GJK/EPA distance
query returns the signed distance between convex shapes (boxes, cylinders), so a check
reports a *clearance* [m], not only a yes/no. We pick coal rather than MuJoCo's collision
because the checker must not depend on the simulator: a job is checked offline, before it
runs, on a machine that need not have MuJoCo, and a check that shares the simulator's
contact code would hide the simulator's own geometry mistakes (STYLE.md: a simulator must
not share code with the system it tests). The shapes are Pinocchio ``GeometryObject``s
(whose geometries are coal shapes); ``pinocchio.computeDistances`` runs forward kinematics
and every active coal distance pair in one C++ call per sampled configuration.

What is checked (every pair robot shape x static cell box):

1. The URDF ``<collision>`` shapes of every link (a link named in a box's ``allow_contact``
   is exempt for that box: the base stands on the table);
2. the gripper's boxes (cell file ``gripper.boxes``, in the flange frame);
3. the held part (a box of the part's size centred on the TCP) while a part is held.

Parts resting in the tray, the vise or the outfeed are not obstacles here (known limit: the
fingers' clearance to a neighbouring part is the slot pitch minus the part and finger
sizes, fixed by the cell's design, not checked per move).

Cell file format (``config/arm_cell.yaml``; poses ``[x, y, z, roll, pitch, yaw]`` [m, rad] in
the robot base frame, ``R = Rz(yaw) Ry(pitch) Rx(roll)``; box sizes are full sizes)::

    cell:
      static: [{name, size: [sx, sy, sz], pose: [...], allow_contact: [link, ...]}, ...]
      parts: {raw: {size: [...], mass_kg: 1.2}, finished: {...}}
      tray:    {pose: [...], rows: 2, cols: 2, pitch_m: [0.08, 0.08], part: raw}
      vise:    {pose: [...], part: raw}
      outfeed: {pose: [...], rows: 1, cols: 4, pitch_m: [0.0, 0.08], part: finished}
      machine_cycle_s: 2.0
      gripper: {tcp: [...], boxes: [{name, size, pose}, ...], grip_time_s: 0.3}

A location's pose is the centre of the part resting there; slot ``i = r * cols + c`` of a
grid is that pose shifted by ``[r * pitch_m[0], c * pitch_m[1], 0]`` in the pose's frame.
"""

# Transforms keep the textbook capital T.
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coal
import numpy as np
import pinocchio as pin
import yaml

from dg_motion.errors import MotionInputError

#: Locations a cell may define (grids of slots; the vise is a 1 x 1 grid).
LOCATIONS = ("tray", "vise", "outfeed")


def pose_from_xyzrpy(v: Sequence[float]) -> np.ndarray:
    """4x4 transform of ``[x, y, z, roll, pitch, yaw]`` (``R = Rz(yaw) Ry(pitch) Rx(roll)``)."""
    x, y, z, r, p, w = (float(a) for a in v)
    T = np.eye(4)
    T[:3, :3] = pin.rpy.rpyToMatrix(r, p, w)
    T[:3, 3] = (x, y, z)
    return T


def xyzrpy_from_pose(T: np.ndarray) -> np.ndarray:
    """``[x, y, z, roll, pitch, yaw]`` of a 4x4 transform (inverse of pose_from_xyzrpy)."""
    return np.concatenate([T[:3, 3], pin.rpy.matrixToRpy(T[:3, :3])])


@dataclass(frozen=True)
class Box:
    """A box: full ``size`` [m], ``pose`` (4x4) of its centre, links allowed to touch it."""

    name: str
    size: np.ndarray
    pose: np.ndarray
    allow_contact: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PartType:
    """A movable part: box ``size`` [m] and ``mass_kg``."""

    name: str
    size: np.ndarray
    mass_kg: float


@dataclass(frozen=True)
class SlotGrid:
    """Part locations: ``rows`` x ``cols`` slots from ``pose`` (slot 0), ``pitch_m`` apart."""

    name: str
    pose: np.ndarray
    rows: int
    cols: int
    pitch_m: np.ndarray
    part: str

    @property
    def count(self) -> int:
        """Number of slots."""
        return self.rows * self.cols

    def slot_pose(self, index: int) -> np.ndarray:
        """Pose (4x4) of the centre of the part resting in slot ``index`` (row-major)."""
        if not 0 <= index < self.count:
            raise MotionInputError(f"{self.name}[{index}]: slot index out of range "
                                   f"(the {self.name} has {self.count} slots)")
        r, c = divmod(index, self.cols)
        shift = np.eye(4)
        shift[:3, 3] = (r * self.pitch_m[0], c * self.pitch_m[1], 0.0)
        return self.pose @ shift


@dataclass(frozen=True)
class Gripper:
    """The tool: ``tcp`` (4x4, flange -> TCP), collision ``boxes`` (flange frame)."""

    tcp: np.ndarray
    boxes: tuple[Box, ...]
    grip_time_s: float


@dataclass(frozen=True)
class Cell:
    """A validated cell file."""

    path: Path
    static: tuple[Box, ...]
    parts: dict[str, PartType]
    locations: dict[str, SlotGrid]
    machine_cycle_s: float
    gripper: Gripper
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


# ----------------------------------------------------------------------------- parsing
def _fail(where: str, why: str) -> MotionInputError:
    return MotionInputError(f"{where}: {why}")


def _numbers(where: str, value: Any, n: int, *, positive: bool = False) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise _fail(where, f"expected a list of {n} numbers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _fail(where, f"expected finite numbers, got {value!r}")
        if positive and v <= 0.0:
            raise _fail(where, f"sizes must be > 0, got {value!r}")
        out.append(float(v))
    return np.array(out)


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected a mapping, got {type(value).__name__}")
    return value


def _box(where: str, item: Any) -> Box:
    item = _mapping(where, item)
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}.name", "missing or not a string")
    allow = item.get("allow_contact", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise _fail(f"{where}.allow_contact", "expected a list of link names")
    return Box(name, _numbers(f"{where}.size", item.get("size"), 3, positive=True),
               pose_from_xyzrpy(_numbers(f"{where}.pose", item.get("pose"), 6)),
               frozenset(allow))


def _positive(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0.0):
        raise _fail(where, f"expected a finite number >= 0, got {value!r}")
    return float(value)


def load_cell(path: str | Path) -> Cell:
    """Read and validate a cell file; every error names the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise MotionInputError(f"{path}: cannot read the cell file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise MotionInputError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from exc
    f = path.name
    cell = _mapping(f"{f}: cell", (data or {}).get("cell") if isinstance(data, dict) else data)
    static_list = cell.get("static")
    if not isinstance(static_list, list) or not static_list:
        raise _fail(f"{f}: cell.static", "expected a non-empty list of boxes")
    static = tuple(_box(f"{f}: cell.static[{i}]", b) for i, b in enumerate(static_list))
    names = [b.name for b in static]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _fail(f"{f}: cell.static", f"duplicate box names {sorted(dup)}")
    parts = {}
    for name, p in _mapping(f"{f}: cell.parts", cell.get("parts")).items():
        p = _mapping(f"{f}: cell.parts.{name}", p)
        parts[str(name)] = PartType(str(name),
                                    _numbers(f"{f}: cell.parts.{name}.size", p.get("size"), 3,
                                             positive=True),
                                    _positive(f"{f}: cell.parts.{name}.mass_kg",
                                              p.get("mass_kg")))
    locations = {}
    for loc in LOCATIONS:
        if loc not in cell:
            continue
        where = f"{f}: cell.{loc}"
        g = _mapping(where, cell[loc])
        rows, cols = g.get("rows", 1), g.get("cols", 1)
        for k, v in (("rows", rows), ("cols", cols)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _fail(f"{where}.{k}", f"expected an integer >= 1, got {v!r}")
        part = g.get("part")
        if part not in parts:
            raise _fail(f"{where}.part", f"unknown part {part!r} (cell.parts has "
                                         f"{sorted(parts)})")
        pitch = _numbers(f"{where}.pitch_m", g.get("pitch_m", [0.0, 0.0]), 2)
        locations[loc] = SlotGrid(loc, pose_from_xyzrpy(_numbers(f"{where}.pose", g.get("pose"),
                                                                 6)),
                                  rows, cols, pitch, part)
    grip = _mapping(f"{f}: cell.gripper", cell.get("gripper"))
    gripper = Gripper(pose_from_xyzrpy(_numbers(f"{f}: cell.gripper.tcp", grip.get("tcp"), 6)),
                      tuple(_box(f"{f}: cell.gripper.boxes[{i}]", b)
                            for i, b in enumerate(grip.get("boxes") or [])),
                      _positive(f"{f}: cell.gripper.grip_time_s", grip.get("grip_time_s", 0.0)))
    return Cell(path, static, parts, locations,
                _positive(f"{f}: cell.machine_cycle_s", cell.get("machine_cycle_s", 0.0)),
                gripper, cell)


# ----------------------------------------------------------------------------- clearance
@dataclass(frozen=True)
class Clearance:
    """Smallest signed distance [m] over the checked pairs (< 0: penetration) and its pair."""

    distance_m: float
    robot_shape: str
    cell_object: str


@dataclass(frozen=True)
class Shape:
    """A drawable primitive: ``kind`` "box" (dims = full size) or "cylinder" (radius, length)."""

    name: str
    kind: str
    dims: tuple[float, ...]
    pose: np.ndarray


def _shape_of(geometry: coal.CollisionGeometry) -> tuple[str, tuple[float, ...]]:
    if isinstance(geometry, coal.Box):
        return "box", tuple(float(v) for v in 2.0 * np.asarray(geometry.halfSide))
    if isinstance(geometry, coal.Cylinder):
        return "cylinder", (float(geometry.radius), 2.0 * float(geometry.halfLength))
    if isinstance(geometry, coal.Sphere):
        return "sphere", (float(geometry.radius),)
    raise MotionInputError(f"unsupported collision shape {type(geometry).__name__} "
                           "(boxes, cylinders and spheres are supported)")


class CollisionWorld:
    """The arm (URDF collision shapes + gripper + held part) against the cell's static boxes.

    ``pin_model`` must be the model built from ``urdf_path`` (e.g. ``ArmModel.pin_model``);
    configurations are in its joint order.
    """

    def __init__(self, urdf_path: str | Path, cell: Cell, *,
                 pin_model: pin.Model | None = None, flange_frame: str = "flange") -> None:
        """Build the geometry model and the pairs to check."""
        self.cell = cell
        try:
            self.model = pin_model if pin_model is not None else pin.buildModelFromUrdf(
                str(urdf_path))
            self.geom = pin.buildGeomFromUrdf(self.model, str(urdf_path),
                                              pin.GeometryType.COLLISION)
        except (RuntimeError, ValueError) as exc:
            raise MotionInputError(f"{urdf_path}: cannot build the collision model: "
                                   f"{exc}") from exc
        if not self.model.existFrame(flange_frame):
            raise MotionInputError(f"{urdf_path}: no frame '{flange_frame}' for the gripper")
        fl = self.model.frames[self.model.getFrameId(flange_frame)]
        self._robot: list[int] = []
        self._link_of: dict[int, str] = {}
        for gid, obj in enumerate(self.geom.geometryObjects):
            self._robot.append(gid)
            self._link_of[gid] = self.model.frames[obj.parentFrame].name
            obj.name = self._link_of[gid]
        for b in cell.gripper.boxes:
            gid = self._add(b.name, coal.Box(*b.size), fl.parentJoint,
                            fl.placement * pin.SE3(b.pose))
            self._robot.append(gid)
            self._link_of[gid] = b.name
        self._part_geom: dict[str, int] = {}
        for name, part in cell.parts.items():
            gid = self._add(f"held_{name}", coal.Box(*part.size), fl.parentJoint,
                            fl.placement * pin.SE3(cell.gripper.tcp))
            self._part_geom[name] = gid
            self._link_of[gid] = f"held {name} part"
        self._static: dict[int, Box] = {}
        for b in cell.static:
            self._static[self._add(b.name, coal.Box(*b.size), 0, pin.SE3(b.pose))] = b
        self._pairs_base: list[int] = []
        self._pairs_part: dict[str, list[int]] = {name: [] for name in self._part_geom}
        for sid, box in self._static.items():
            for rid in self._robot:
                if self._link_of[rid] not in box.allow_contact:
                    self._pairs_base.append(self._add_pair(rid, sid))
            for name, pid in self._part_geom.items():
                self._pairs_part[name].append(self._add_pair(pid, sid))
        self.data = self.model.createData()
        self.gdata = pin.GeometryData(self.geom)
        self._held: str | None = "-"  # force the first activation
        self.set_held_part(None)

    def _add(self, name: str, shape: coal.CollisionGeometry, joint: int,
             placement: pin.SE3) -> int:
        frame = 0 if joint == 0 else self.model.frames[
            self.model.getFrameId(self.model.names[joint])].parentFrame
        return self.geom.addGeometryObject(pin.GeometryObject(name, joint, frame, placement,
                                                              shape))

    def _add_pair(self, a: int, b: int) -> int:
        self.geom.addCollisionPair(pin.CollisionPair(a, b))
        return len(self.geom.collisionPairs) - 1

    def set_held_part(self, part: str | None) -> None:
        """Check the held part ``part`` (a cell part name) or none from now on."""
        if part is not None and part not in self._part_geom:
            raise MotionInputError(f"unknown part {part!r} (the cell has "
                                   f"{sorted(self._part_geom)})")
        if part == self._held:
            return
        self.gdata.deactivateAllCollisionPairs()
        for k in self._pairs_base + (self._pairs_part[part] if part else []):
            self.gdata.activateCollisionPair(k)
        self._held = part

    def clearance(self, q: np.ndarray) -> Clearance:
        """Smallest distance between the arm and the cell at configuration ``q``."""
        k = pin.computeDistances(self.model, self.data, self.geom, self.gdata,
                                 np.asarray(q, dtype=float))
        pair = self.geom.collisionPairs[k]
        return Clearance(float(self.gdata.distanceResults[k].min_distance),
                         self._link_of[pair.first], self._static[pair.second].name)

    def clearances(self, q: np.ndarray) -> tuple[np.ndarray, Clearance]:
        """Clearance [m] at each row of ``q`` (N, dof) and the smallest one with its pair."""
        q = np.atleast_2d(np.asarray(q, dtype=float))
        out = np.empty(len(q))
        best: Clearance | None = None
        for i, qi in enumerate(q):
            c = self.clearance(qi)
            out[i] = c.distance_m
            if best is None or c.distance_m < best.distance_m:
                best = c
        if best is None:
            raise MotionInputError("clearances: no configuration given")
        return out, best

    def robot_shapes(self, q: np.ndarray) -> list[Shape]:
        """Robot, gripper and held-part shapes with their poses at ``q`` (for views)."""
        pin.forwardKinematics(self.model, self.data, np.asarray(q, dtype=float))
        pin.updateGeometryPlacements(self.model, self.data, self.geom, self.gdata)
        held = self._part_geom.get(self._held) if self._held else None
        out = []
        for gid in [*self._robot, *([held] if held is not None else [])]:
            kind, dims = _shape_of(self.geom.geometryObjects[gid].geometry)
            out.append(Shape(self._link_of[gid], kind, dims,
                             self.gdata.oMg[gid].homogeneous.copy()))
        return out

    def cell_shapes(self) -> list[Shape]:
        """The cell's static boxes as drawable shapes."""
        return [Shape(b.name, "box", tuple(float(v) for v in b.size), b.pose.copy())
                for b in self._static.values()]
