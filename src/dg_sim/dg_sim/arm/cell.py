"""The CNC load/unload cell description (``config/arm_cell.yaml``), read and validated (pure).

One file describes the cell for both the simulator and the offline collision checks, so the
arm is checked against the same boxes it can hit in simulation. All poses are in the robot
base frame (``base_link``, z up, z = 0 the table top) as ``[x, y, z, roll, pitch, yaw]``
([m], [rad], URDF roll-pitch-yaw); boxes are given by their full edge lengths::

    cell:
      static:   [{name, size: [sx, sy, sz], pose: [...]}, ...]   # never to be touched
      parts:    {raw: {size, mass_kg}, finished: {size, mass_kg}}
      tray:     {pose, rows, cols, pitch_m: [dx, dy], part: raw}       # pose of slot (0, 0)
      vise:     {pose}                                                  # clamped part centre
      outfeed:  {pose, rows, cols, pitch_m: [dx, dy], part: finished}
      machine_cycle_s: 2.0
      gripper:  {tcp: [...], boxes: [{name, size, pose}, ...], grip_time_s: 0.3}  # optional

Optional fields: ``allow_contact: [link, ...]`` on a static box names robot links that touch
it by design (the base on the table), which the collision count leaves out; ``gripper`` gives
the gripper's collision boxes in the flange frame, its TCP (must equal the URDF tool frame)
and the time the fingers take to close or open.

Grid slots: slot ``(r, c)`` is the grid pose moved by ``(r * dx, c * dy, 0)`` along the grid
pose's own x and y axes (rows along x, columns along y); every slot has the grid pose's
orientation and holds one part centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dg_sim.arm.frames import pose6_transform


class CellError(ValueError):
    """The cell file is unreadable or a field is missing, malformed or out of range."""


@dataclass(frozen=True)
class CellBox:
    """A static box of the cell (table, machine wall, vise jaw, ...)."""

    name: str
    size_m: np.ndarray      #: full edge lengths (3,) [m]
    pose: np.ndarray        #: [x, y, z, roll, pitch, yaw] of the box centre ([m], [rad])
    allow_contact: tuple[str, ...] = ()   #: robot links that touch it by design


@dataclass(frozen=True)
class PartType:
    """A kind of movable part (a box)."""

    name: str
    size_m: np.ndarray      #: full edge lengths (3,) [m]
    mass_kg: float


@dataclass(frozen=True)
class SlotGrid:
    """A rows x cols grid of part slots (tray, outfeed)."""

    pose: np.ndarray        #: pose of slot (0, 0) ([m], [rad])
    rows: int
    cols: int
    pitch_m: np.ndarray     #: (dx along the grid's x per row, dy along its y per column) [m]
    part: str               #: the part type the grid holds

    def slot_poses(self) -> list[np.ndarray]:
        """Pose ``[x, y, z, roll, pitch, yaw]`` of each slot, row-major."""
        base = pose6_transform(self.pose)
        out = []
        for r in range(self.rows):
            for c in range(self.cols):
                offset = base[:3, :3] @ np.array([r * self.pitch_m[0], c * self.pitch_m[1], 0.0])
                out.append(np.concatenate([self.pose[:3] + offset, self.pose[3:]]))
        return out


@dataclass(frozen=True)
class GripperSpec:
    """The gripper: collision boxes and TCP in the flange frame, finger travel time."""

    tcp: np.ndarray                 #: [x, y, z, roll, pitch, yaw] in the flange frame
    boxes: tuple[CellBox, ...]      #: poses in the flange frame
    grip_time_s: float              #: closing or opening the fingers [s]


@dataclass(frozen=True)
class Cell:
    """The whole cell: static boxes, part types, tray, vise, outfeed and the machine cycle."""

    static: tuple[CellBox, ...]
    parts: dict[str, PartType]
    tray: SlotGrid
    vise_pose: np.ndarray   #: centre of the clamped part ([m], [rad])
    outfeed: SlotGrid
    machine_cycle_s: float  #: time a released raw part spends in the vise before it is done
    gripper: GripperSpec | None = None


def _vector(value: Any, n: int, where: str, *, positive: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CellError(f"{where}: expected {n} numbers, got {value!r}") from None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise CellError(f"{where}: expected {n} finite numbers, got {value!r}")
    if positive and np.any(arr <= 0.0):
        raise CellError(f"{where}: every entry must be > 0, got {value!r}")
    return arr


def _map(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CellError(f"{where}: expected a YAML map, got {value!r}")
    return value


def _get(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise CellError(f"{where}: missing '{key}'")
    return entry[key]


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CellError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


def _grid(value: Any, where: str, parts: dict[str, PartType]) -> SlotGrid:
    entry = _map(value, where)
    part = _get(entry, "part", where)
    if part not in parts:
        raise CellError(f"{where}.part: '{part}' is not one of the parts {sorted(parts)}")
    pitch = _vector(_get(entry, "pitch_m", where), 2, f"{where}.pitch_m")
    if np.any(pitch < 0.0):
        raise CellError(f"{where}.pitch_m: must be >= 0, got {pitch.tolist()}")
    return SlotGrid(pose=_vector(_get(entry, "pose", where), 6, f"{where}.pose"),
                    rows=_count(_get(entry, "rows", where), f"{where}.rows"),
                    cols=_count(_get(entry, "cols", where), f"{where}.cols"),
                    pitch_m=pitch, part=str(part))


def _boxes(value: Any, where: str) -> tuple[CellBox, ...]:
    if not isinstance(value, list):
        raise CellError(f"{where}: expected a list of boxes, got {value!r}")
    out = []
    names: set[str] = set()
    for i, raw in enumerate(value):
        w = f"{where}[{i}]"
        entry = _map(raw, w)
        name = str(_get(entry, "name", w))
        if name in names:
            raise CellError(f"{w}: duplicate box name '{name}'")
        names.add(name)
        allow = entry.get("allow_contact", [])
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise CellError(f"{w}.allow_contact: expected a list of link names, got {allow!r}")
        out.append(CellBox(name, _vector(_get(entry, "size", w), 3, f"{w}.size", positive=True),
                           _vector(_get(entry, "pose", w), 6, f"{w}.pose"), tuple(allow)))
    return tuple(out)


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0.0):
        raise CellError(f"{where}: expected a finite number >= 0, got {value!r}")
    return float(value)


def parse_cell(data: Any, source: str = "<cell>") -> Cell:
    """Validate the parsed YAML of a cell file; ``source`` names the file in errors.

    Raises:
        CellError: naming the file and the field that is missing or wrong.

    """
    root = _map(data, source)
    cell = _map(_get(root, "cell", source), f"{source}: cell")
    where = f"{source}: cell"
    static = _boxes(_get(cell, "static", where), f"{where}.static")
    parts = {}
    for key, raw in _map(_get(cell, "parts", where), f"{where}.parts").items():
        w = f"{where}.parts.{key}"
        entry = _map(raw, w)
        mass = _vector([_get(entry, "mass_kg", w)], 1, f"{w}.mass_kg", positive=True)[0]
        parts[str(key)] = PartType(str(key), _vector(_get(entry, "size", w), 3, f"{w}.size",
                                                     positive=True), float(mass))
    for needed in ("raw", "finished"):
        if needed not in parts:
            raise CellError(f"{where}.parts: missing the '{needed}' part")
    cycle = _seconds(_get(cell, "machine_cycle_s", where), f"{where}.machine_cycle_s")
    vise = _map(_get(cell, "vise", where), f"{where}.vise")
    gripper = None
    if "gripper" in cell:
        w = f"{where}.gripper"
        g = _map(cell["gripper"], w)
        gripper = GripperSpec(tcp=_vector(_get(g, "tcp", w), 6, f"{w}.tcp"),
                              boxes=_boxes(_get(g, "boxes", w), f"{w}.boxes"),
                              grip_time_s=_seconds(g.get("grip_time_s", 0.0),
                                                   f"{w}.grip_time_s"))
    return Cell(static=static, parts=parts, gripper=gripper,
                tray=_grid(_get(cell, "tray", where), f"{where}.tray", parts),
                vise_pose=_vector(_get(vise, "pose", f"{where}.vise"), 6, f"{where}.vise.pose"),
                outfeed=_grid(_get(cell, "outfeed", where), f"{where}.outfeed", parts),
                machine_cycle_s=cycle)


def load_cell(path: str | Path) -> Cell:
    """Read and validate a cell file.

    Raises:
        CellError: the file cannot be read, is not YAML, or a field is wrong.

    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CellError(f"cannot read cell file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CellError(f"{path}: invalid YAML: {exc}") from None
    return parse_cell(data, str(path))
