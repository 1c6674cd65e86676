"""Load a URDF into Pinocchio, with the drive data the URDF format cannot carry.

A URDF describes links and joints but not the drives: the rotor inertia reflected through the
gearbox (``armature``, gear ratio squared times rotor inertia) dominates the inertia an
industrial arm's wrist joints feel (a UR5 wrist link alone: 1e-4 kg m^2) and decides how a
joint controller with mass-scaled gains behaves. It lives in ``drives.yaml`` next to the
URDF (read here and, independently, by the simulator)::

    drives:
      shoulder_pan_joint: {armature_kgm2: 0.1}
      ...

A joint the file does not list (or a URDF without the file) has no armature.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pinocchio as pin
import yaml

from dg_motion.errors import MotionInputError

#: The drive data file, next to the URDF.
DRIVES_FILE = "drives.yaml"


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Capture what C++ code (urdfdom) writes to file descriptor 2."""
    lines: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(x.strip() for x in tmp.read().decode(errors="replace").splitlines()
                         if x.strip().startswith("Error:"))


def check_urdf_xml(path: Path) -> None:
    """Name the first structural problem of a URDF file (before Pinocchio's terse error)."""
    if not path.is_file():
        raise MotionInputError(f"{path}: URDF file not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise MotionInputError(f"{path}: malformed URDF (XML: {exc})") from None
    if root.tag != "robot":
        raise MotionInputError(f"{path}: malformed URDF (root element <{root.tag}>, "
                               "expected <robot>)")
    links = {link.get("name") for link in root.findall("link")}
    for joint in root.findall("joint"):
        name = joint.get("name")
        for tag in ("parent", "child"):
            el = joint.find(tag)
            if el is None or el.get("link") not in links:
                raise MotionInputError(f"{path}: malformed URDF (joint '{name}': {tag} link "
                                       f"{None if el is None else el.get('link')!r} "
                                       "is not a <link>)")
        if joint.get("type") in ("revolute", "prismatic") and joint.find("limit") is None:
            raise MotionInputError(f"{path}: malformed URDF (joint '{name}' is "
                                   f"{joint.get('type')} but has no <limit>)")


def load_armature(urdf_path: str | Path, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Armature [kg m^2] of ``names`` from the ``drives.yaml`` beside the URDF (zeros if none).

    Raises:
        MotionInputError: unreadable file, unknown joint, negative or non-finite value.

    """
    path = Path(urdf_path).parent / DRIVES_FILE
    out = np.zeros(len(names))
    if not path.is_file():
        return out
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MotionInputError(f"{path}: cannot read drive data: {exc}") from None
    table = data.get("drives") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise MotionInputError(f"{path}: expected a mapping 'drives: {{joint: ...}}'")
    for joint, entry in table.items():
        if joint not in names:
            raise MotionInputError(f"{path}: joint '{joint}' is not in the URDF {list(names)}")
        value = entry.get("armature_kgm2", 0.0) if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0.0:
            raise MotionInputError(f"{path}: {joint}.armature_kgm2 must be a number >= 0, "
                                   f"got {value!r}")
        out[list(names).index(joint)] = float(value)
    return out


def load_urdf_model(urdf_path: str | Path) -> pin.Model:
    """The URDF as a Pinocchio model with the drives' armature (``model.armature``).

    Raises:
        MotionInputError: missing file, malformed URDF (the first structural problem or the
            parser's own error), no movable joints, bad drive data.

    """
    path = Path(urdf_path)
    check_urdf_xml(path)
    reason = ""
    with _captured_stderr() as errors:
        try:
            model = pin.buildModelFromUrdf(str(path))
        except (ValueError, RuntimeError) as exc:
            model, reason = None, str(exc)
    if model is None:
        raise MotionInputError(f"{path}: malformed URDF ({'; '.join(errors) or reason})")
    if model.nq == 0:
        raise MotionInputError(f"{path}: URDF has no movable joints")
    names = tuple(model.names[1:])
    if model.nv == len(names):
        model.armature[:] = load_armature(path, names)
    return model
