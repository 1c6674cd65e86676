"""MJCF of the URDF biped: floating base, PD-servoed leg joints, foot F/T sensors, terrain (pure).

The URDF is read with :func:`dg_sim.arm.model.parse_urdf` and re-emitted body by body, as
for the arm: each joint origin becomes the child body's pose and each ``<inertial>`` is
written as ``fullinertia`` in the link frame (``inertiafromgeom="false"``: collision shapes
carry no mass), so the simulated robot has the URDF's mass distribution exactly (checked
against Pinocchio in ``test_humanoid_sim.py``). The root link gets a free joint.

Fixed joints: a child link with mass (the lumped ``torso``) becomes a welded body; a
massless child with collision shapes (``l_sole``/``r_sole``) becomes a massless welded body
holding the sole box, so that MuJoCo's ``force``/``torque`` sensors on its site measure
exactly what the ground does to the sole (the interaction force with the foot above it,
with no foot mass in between, as an F/T sensor just above the sole plate would); a
massless child without shapes (``imu``) becomes a site of its parent.

Joint servos: one ``general`` actuator per leg joint with an affine bias,
``force = kp ctrl - kp q - kd qd``, clipped to ``+-effort`` (``forcerange``): the PD
position loop of a ros2_control position interface, run by MuJoCo at every physics step.
The ``-kd qd`` term is integrated implicitly (``implicitfast``), so a stiff servo stays
stable at the 1 ms step; the rotor inertia is the joint ``armature``.

Collision filtering (``contype``/``conaffinity``): robot geoms (1, 2), ground (2, 1): the
robot touches the ground, never itself (the leg joint ranges keep the legs apart only
approximately; a walking controller keeps the feet apart, see the footstep limits).

Terrain ``steps``: square tiles (``tile_m``) over a square area around the start, each
tile's top at a height drawn uniformly in ``[-step_height_m, +step_height_m]`` from
``numpy.random.default_rng(seed)``; tiles within ``flat_radius_m`` of the start are at
height 0 so the robot starts on flat ground. Outside the area, a ground plane at 0.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from dg_sim.arm.frames import fmt, matrix_to_quat_wxyz
from dg_sim.arm.model import ArmModelError, UrdfJoint, UrdfLink, parse_urdf

ROBOT_BIT, GROUND_BIT = 1, 2
#: Gravity [m/s^2], Pinocchio's default model gravity (the controller's model agrees).
GRAVITY_MPS2 = 9.81
#: Contact softness of the sole/ground pair (MuJoCo solref: time constant [s], damping
#: ratio). 5 ms is 5 physics steps (MuJoCo needs >= 2 for stability) and gives about 1 mm
#: of penetration under the robot's weight: stiff ground, as a walking controller expects.
CONTACT_SOLREF = (0.005, 1.0)


class BipedModelError(ValueError):
    """The URDF, the servo file or a model option is unusable."""


@dataclass(frozen=True)
class Servo:
    """One joint's position servo (see ``leg_servos.yaml``)."""

    kp_nm_per_rad: float
    kd_nms_per_rad: float
    armature_kgm2: float
    effort_nm: float


@dataclass(frozen=True)
class Tile:
    """A terrain tile: square top at ``height_m``, centre (x, y), side ``size_m``."""

    x_m: float
    y_m: float
    size_m: float
    height_m: float


@dataclass(frozen=True)
class TerrainSpec:
    """Ground shape: ``flat`` or ``steps`` (random height tiles)."""

    kind: str = "flat"
    seed: int = 0
    step_height_m: float = 0.02
    tile_m: float = 0.3
    half_extent_m: float = 4.05      #: tiles cover [-e, e]^2 around the start
    flat_radius_m: float = 0.45      #: tiles whose centre is this close to (0, 0) stay at 0

    def tiles(self) -> list[Tile]:
        """The tiles (empty for flat ground); reproducible from ``seed``."""
        if self.kind == "flat":
            return []
        if self.kind != "steps":
            raise BipedModelError(f"terrain must be 'flat' or 'steps', got {self.kind!r}")
        for name in ("step_height_m", "tile_m", "half_extent_m", "flat_radius_m"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0.0:
                raise BipedModelError(f"terrain {name} must be a finite number >= 0, got {v!r}")
        if not 0.05 <= self.tile_m <= self.half_extent_m:
            raise BipedModelError(f"terrain tile_m must be in [0.05, half_extent_m], got "
                                  f"{self.tile_m!r}")
        if self.step_height_m > 0.2:
            raise BipedModelError(f"terrain step_height_m must be <= 0.2 m, got "
                                  f"{self.step_height_m!r}")
        rng = np.random.default_rng(self.seed)
        n = int(round(2.0 * self.half_extent_m / self.tile_m))
        centres = (np.arange(n) - (n - 1) / 2.0) * self.tile_m
        heights = rng.uniform(-self.step_height_m, self.step_height_m, size=(n, n))
        out = []
        for i, x in enumerate(centres):
            for j, y in enumerate(centres):
                h = 0.0 if math.hypot(x, y) <= self.flat_radius_m else float(heights[i, j])
                out.append(Tile(float(x), float(y), self.tile_m, h))
        return out


@dataclass(frozen=True)
class BipedMjcf:
    """The generated MJCF and the names the simulator needs to find things in it."""

    xml: str
    root_body: str
    joint_names: tuple[str, ...]        #: actuated joints, in the order asked for
    servos: tuple[Servo, ...]           #: per joint, same order
    lower: np.ndarray                   #: joint ranges [rad]
    upper: np.ndarray
    sole_names: tuple[str, ...]         #: sole bodies/sites (with F/T sensors), e.g. l_sole
    imu_site: str
    torso_body: str
    tiles: tuple[Tile, ...]


def read_servos(path: str | Path, joint_names: tuple[str, ...] | None = None
                ) -> dict[str, Servo]:
    """Servo data per joint from a ``servos: {joint: {kp_nm_per_rad, ...}}`` YAML file.

    ``joint_names`` None: every joint of the file, in the file's order (the robot's drives,
    as a ros2_control hardware description lists them).

    Raises:
        BipedModelError: unreadable file, a joint missing, or a value that is not a finite
            number (> 0 for kp and effort, >= 0 for kd and armature).

    """
    try:
        table = (yaml.safe_load(Path(path).read_text()) or {}).get("servos")
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise BipedModelError(f"{path}: cannot read servo data: {exc}") from None
    if not isinstance(table, dict):
        raise BipedModelError(f"{path}: expected a 'servos' mapping")
    out = {}
    for joint in (tuple(table) if joint_names is None else joint_names):
        entry = table.get(joint)
        if not isinstance(entry, dict):
            raise BipedModelError(f"{path}: no servo entry for joint '{joint}'")
        vals = {}
        for key, positive in (("kp_nm_per_rad", True), ("kd_nms_per_rad", False),
                              ("armature_kgm2", False), ("effort_nm", True)):
            v = entry.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0.0 or (positive and v == 0.0):
                raise BipedModelError(f"{path}: {joint}.{key} must be a finite number "
                                      f"{'> 0' if positive else '>= 0'}, got {v!r}")
            vals[key] = float(v)
        out[joint] = Servo(**vals)
    return out


def _pose(elem: ET.Element, t: np.ndarray) -> None:
    elem.set("pos", fmt(t[:3, 3]))
    elem.set("quat", fmt(matrix_to_quat_wxyz(t[:3, :3])))


class _Emitter:
    def __init__(self, links: dict[str, UrdfLink], joints: list[UrdfJoint],
                 servos: dict[str, Servo]) -> None:
        self.links, self.servos = links, servos
        self.by_parent: dict[str, list[UrdfJoint]] = {}
        for j in joints:
            self.by_parent.setdefault(j.parent, []).append(j)
        self.moving: list[UrdfJoint] = []
        self.sole_bodies: list[str] = []

    def geoms(self, body: ET.Element, link: UrdfLink, is_sole: bool) -> None:
        for i, (kind, size, t) in enumerate(link.geoms):
            attrs = {"name": f"{link.name}_collision_{i}", "type": kind, "size": fmt(size),
                     "contype": str(ROBOT_BIT), "conaffinity": str(GROUND_BIT),
                     "rgba": "0.35 0.35 0.4 1" if is_sole else "0.7 0.72 0.78 1"}
            if is_sole:
                attrs["solref"] = fmt(CONTACT_SOLREF)
            g = ET.SubElement(body, "geom", attrs)
            _pose(g, t)

    def emit(self, parent: ET.Element, link_name: str, t_parent_link: np.ndarray,
             joint: UrdfJoint | None) -> None:
        link = self.links[link_name]
        fixed = joint is not None and joint.kind == "fixed"
        if fixed and link.mass_kg <= 0.0 and not link.geoms:
            s = ET.SubElement(parent, "site", name=link.name, size="0.01")
            _pose(s, t_parent_link)
            for j in self.by_parent.get(link_name, []):
                self.emit(parent, j.child, t_parent_link @ j.origin, j)
            return
        body = ET.SubElement(parent, "body", name=link.name)
        _pose(body, t_parent_link)
        if joint is None:
            ET.SubElement(body, "freejoint", name=f"{link.name}_free")
        elif not fixed:
            if joint.kind not in ("revolute", "continuous"):
                raise BipedModelError(f"joint '{joint.name}': only revolute joints are "
                                      f"supported, got {joint.kind}")
            servo = self.servos.get(joint.name)
            if servo is None:
                raise BipedModelError(f"joint '{joint.name}' moves but has no servo entry")
            attrs = {"name": joint.name, "axis": fmt(joint.axis), "type": "hinge",
                     "armature": repr(servo.armature_kgm2)}
            if math.isfinite(joint.lower) and math.isfinite(joint.upper):
                attrs["range"] = fmt([joint.lower, joint.upper])
            ET.SubElement(body, "joint", attrs)
            self.moving.append(joint)
        if link.mass_kg > 0.0:
            i = link.inertia_kgm2
            ET.SubElement(body, "inertial", pos=fmt(link.com_m), mass=repr(link.mass_kg),
                          fullinertia=fmt([i[0, 0], i[1, 1], i[2, 2],
                                           i[0, 1], i[0, 2], i[1, 2]]))
        elif not fixed:
            raise BipedModelError(f"link '{link.name}' moves but has no mass")
        is_sole = fixed and link.mass_kg <= 0.0
        if is_sole:
            self.sole_bodies.append(link.name)
        ET.SubElement(body, "site", name=link.name, size="0.01")
        self.geoms(body, link, is_sole)
        for j in self.by_parent.get(link_name, []):
            self.emit(body, j.child, j.origin, j)


def build_biped_mjcf(urdf_path: str | Path, servos: dict[str, Servo],
                     joint_names: tuple[str, ...], *, timestep_s: float = 0.001,
                     friction: float = 1.0, terrain: TerrainSpec | None = None,
                     imu_site: str = "imu", torso_body: str = "torso") -> BipedMjcf:
    """MJCF (XML text) of the URDF biped on flat ground or random height tiles.

    Raises:
        BipedModelError: malformed URDF (also :class:`ArmModelError` from the parser,
            re-raised as this), a joint without servo data, bad options.

    """
    if not (math.isfinite(timestep_s) and 0.0 < timestep_s <= 0.005):
        raise BipedModelError(f"timestep_s must be in (0, 0.005] s, got {timestep_s!r}")
    if isinstance(friction, bool) or not isinstance(friction, (int, float)) \
            or not math.isfinite(friction) or not 0.05 <= friction <= 5.0:
        raise BipedModelError(f"friction must be in [0.05, 5], got {friction!r}")
    tiles = (terrain or TerrainSpec()).tiles()
    try:
        root, links, joints = parse_urdf(urdf_path)
    except ArmModelError as exc:
        raise BipedModelError(str(exc)) from None
    by_name = {j.name: j for j in joints}
    missing = [n for n in joint_names if n not in by_name or by_name[n].kind == "fixed"]
    if missing:
        raise BipedModelError(f"URDF {urdf_path}: no moving joints named {missing}")

    mj = ET.Element("mujoco", model=f"dg_biped_{Path(urdf_path).stem}")
    ET.SubElement(mj, "compiler", angle="radian", inertiafromgeom="false", autolimits="true")
    ET.SubElement(mj, "option", timestep=repr(float(timestep_s)), integrator="implicitfast",
                  gravity=fmt([0.0, 0.0, -GRAVITY_MPS2]))
    ET.SubElement(mj, "size", memory="20M")
    default = ET.SubElement(mj, "default")
    ET.SubElement(default, "geom", friction=fmt([friction, 0.005, 0.0001]))
    vis = ET.SubElement(mj, "visual")
    ET.SubElement(vis, "global", offwidth="1280", offheight="960")
    world = ET.SubElement(mj, "worldbody")
    ET.SubElement(world, "light", pos="0 -2 4", dir="0 0.4 -1", diffuse="0.8 0.8 0.8")
    ET.SubElement(world, "geom", name="floor", type="plane", size="50 50 0.1",
                  contype=str(GROUND_BIT), conaffinity=str(ROBOT_BIT), rgba="0.5 0.52 0.5 1",
                  solref=fmt(CONTACT_SOLREF))
    depth = 0.25   # tiles are boxes from height_m down to height_m - 2 * depth
    for k, tile in enumerate(tiles):
        ET.SubElement(world, "geom", name=f"tile_{k}", type="box",
                      size=fmt([tile.size_m / 2.0, tile.size_m / 2.0, depth]),
                      pos=fmt([tile.x_m, tile.y_m, tile.height_m - depth]),
                      contype=str(GROUND_BIT), conaffinity=str(ROBOT_BIT),
                      rgba="0.55 0.5 0.45 1" if k % 2 else "0.5 0.47 0.42 1",
                      solref=fmt(CONTACT_SOLREF))
    em = _Emitter(links, joints, servos)
    em.emit(world, root, np.eye(4), None)
    if imu_site not in links or torso_body not in links:
        raise BipedModelError(f"URDF {urdf_path}: needs links '{imu_site}' and '{torso_body}'")
    if len(em.sole_bodies) != 2:
        raise BipedModelError(f"URDF {urdf_path}: expected two massless sole links with "
                              f"collision shapes on fixed joints, found {em.sole_bodies}")

    act = ET.SubElement(mj, "actuator")
    for name in joint_names:
        s = servos[name]
        # force = kp * ctrl - kp * q - kd * qd (the servo), clipped to the drive's effort
        ET.SubElement(act, "general", name=name, joint=name, gaintype="fixed",
                      gainprm=repr(s.kp_nm_per_rad), biastype="affine",
                      biasprm=fmt([0.0, -s.kp_nm_per_rad, -s.kd_nms_per_rad]),
                      forcerange=fmt([-s.effort_nm, s.effort_nm]), forcelimited="true")
    sens = ET.SubElement(mj, "sensor")
    ET.SubElement(sens, "framequat", name="imu_quat", objtype="site", objname=imu_site)
    ET.SubElement(sens, "gyro", name="imu_gyro", site=imu_site)
    ET.SubElement(sens, "accelerometer", name="imu_acc", site=imu_site)
    for sole in em.sole_bodies:
        ET.SubElement(sens, "force", name=f"{sole}_force", site=sole)
        ET.SubElement(sens, "torque", name=f"{sole}_torque", site=sole)
    ET.indent(mj)
    return BipedMjcf(
        xml=ET.tostring(mj, encoding="unicode"), root_body=root,
        joint_names=tuple(joint_names), servos=tuple(servos[n] for n in joint_names),
        lower=np.array([by_name[n].lower for n in joint_names]),
        upper=np.array([by_name[n].upper for n in joint_names]),
        sole_names=tuple(em.sole_bodies), imu_site=imu_site, torso_body=torso_body,
        tiles=tuple(tiles))
