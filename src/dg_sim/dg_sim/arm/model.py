"""MJCF of a URDF arm with a flexible forearm, gripper, tool accelerometer and the cell (pure).

The URDF is parsed here and re-emitted as MJCF body by body, so the simulated arm has the
URDF's kinematics (each joint origin becomes the child body's pose, ``rpy`` as
``Rz Ry Rx``) and its inertias exactly (each ``<inertial>`` is rotated into the link frame
and written as ``fullinertia``; ``inertiafromgeom="false"``: collision shapes carry no mass).
Massless links on fixed joints (``flange``, ``tool0``) become sites of their parent body.

Flexible element (link compliance, the "flexible-joint/flexible-link" idealisation of
Spong, "Modeling and control of elastic joint robots", J. Dyn. Sys. Meas. Control 109, 1987,
applied to a link): the link named by :class:`FlexSpec` (default the UR5 forearm) is cut at
``point_m`` into two rigid bodies joined by passive hinges about the bending axes (default
the link's y and z, perpendicular to the tube along x) with torsional stiffness ``k`` and
damping ``c`` (MuJoCo joint ``stiffness``/``damping``, spring reference 0). The link's mass
is shared equally: half at ``com - delta``, half at ``com + delta`` (``delta`` along the cut
direction), each with inertia ``I/2 - (m/2)(|delta|^2 E - delta delta^T)`` about its own
centre, so by the parallel-axis theorem the two halves have exactly the URDF link's mass,
centre of mass and inertia when the hinges are straight: at zero bending the actuated
joints' mass matrix and gravity torques equal the URDF's (checked against Pinocchio in
``test_arm_sim.py``). Bending modes, clamped actuated joints, from
``det(K - w^2 M_ff) = 0``: see :meth:`dg_sim.arm.mujoco_system.MujocoSystem.flex_modes`.
Static deflection under gravity is ``~ g / w^2`` at the flexible part's centre of mass, as
with any linear spring of that frequency: about 10 mrad of bending, 3-4 mm at the TCP (the
ground-truth ``tool_pose`` includes it; the joint encoders do not see it).

Collision filtering (MuJoCo ``contype``/``conaffinity`` bits; a pair collides when
``ct1 & ca2 or ct2 & ca1``): arm A=1, static cell S=2, parts P=4; arm (A, S|P), static
(S, A|P), parts (P, A|S|P): the arm touches the cell and the parts, never itself (the UR's
own joint limits keep its links apart), static boxes never each other.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from dg_sim.arm.cell import Cell
from dg_sim.arm.frames import fmt, matrix_to_quat_wxyz, pose6_transform, transform

ARM_BIT, STATIC_BIT, PART_BIT = 1, 2, 4
#: Gravity [m/s^2]; Pinocchio's default model gravity, so the controller's model and the
#: simulated arm agree on the load.
GRAVITY_MPS2 = 9.81
#: Grasp weld: time constant [s] of MuJoCo's constraint (solref); 2 x the 1 ms step is the
#: stiffest MuJoCo integrates stably (``refsafe``), well above the 6-12 Hz arm mode.
WELD_TIMECONST_S = 0.002
#: Where parked (not yet existing) finished parts wait, far outside the cell [m].
PARKING_XYZ_M = (10.0, 10.0, 1.0)


class ArmModelError(ValueError):
    """The URDF is unreadable/malformed, or a model option is invalid."""


@dataclass(frozen=True)
class FlexSpec:
    """Passive compliant hinges cutting one link (default: the UR5 forearm at mid-length).

    One stiffness and damping per axis. The forearm link's z is the elbow's axis, so bending
    about z moves the tool in the arm's vertical plane (gravity loads it: it sets the static
    sag); bending about y moves it sideways (no gravity load), the mode a shoulder-pan transfer
    excites. The sideways hinge is the softer one: it lumps the forearm's lateral bending with
    the torsional compliance of the base joint's strain-wave gear, which is what gives
    industrial arms their low first mode (a few Hz with a payload) while the sag stays that
    of the stiff axis. Modes with the actuated joints clamped: see
    :meth:`dg_sim.arm.mujoco_system.MujocoSystem.flex_modes` and the impulse test in
    ``test_arm_sim.py``.
    """

    link: str = "forearm_link"
    point_m: tuple[float, float, float] = (-0.196125, 0.0, 0.0)  #: cut point, link frame
    axes: tuple[tuple[float, float, float], ...] = ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    #: per axis [N m/rad]: sideways (y), in-plane (z)
    stiffness_nm_per_rad: tuple[float, ...] = (200.0, 800.0)
    #: per axis [N m s/rad]
    damping_nms_per_rad: tuple[float, ...] = (0.4, 1.0)
    split_offset_m: float = 0.1   #: |delta|, each half's CoM offset from the link CoM


@dataclass(frozen=True)
class ModelOptions:
    """Physics and model options of the simulated arm."""

    timestep_s: float = 0.001                 #: physics step
    joint_damping_nms_per_rad: float = 0.1    #: viscous friction of each actuated joint
    joint_friction_nm: float = 0.1            #: dry friction (MuJoCo frictionloss)
    flex: FlexSpec | None = field(default_factory=FlexSpec)
    tool_frame: str = "tool0"
    gripper_clearance_m: float = 0.05         #: palm ends this far above the TCP


@dataclass(frozen=True)
class UrdfLink:
    """A URDF link: inertia in its own frame and its collision shapes."""

    name: str
    mass_kg: float
    com_m: np.ndarray           #: (3,) link frame
    inertia_kgm2: np.ndarray    #: 3x3 about the CoM, link-frame axes
    geoms: tuple[tuple[str, tuple[float, ...], np.ndarray], ...]  #: (type, mjcf size, T)


@dataclass(frozen=True)
class UrdfJoint:
    """A URDF joint."""

    name: str
    kind: str                   #: revolute, continuous, prismatic or fixed
    parent: str
    child: str
    origin: np.ndarray          #: 4x4 parent link -> child link at zero position
    axis: np.ndarray            #: (3,) child frame
    lower: float
    upper: float
    effort_max: float


@dataclass(frozen=True)
class ArmMjcf:
    """The generated MJCF and the names the system needs to find things in it."""

    xml: str
    joint_names: tuple[str, ...]       #: actuated joints, URDF tree order
    effort_max: np.ndarray             #: [N m] per actuated joint
    flex_joint_names: tuple[str, ...]
    tool_body: str                     #: body carrying the TCP site (grasp welds attach here)
    tool_site: str
    part_names: tuple[str, ...]        #: raw_0.., finished_0..
    part_kinds: tuple[str, ...]        #: "raw"/"finished" per part
    parked: tuple[bool, ...]           #: part starts parked (not in the cell)
    static_names: tuple[str, ...]
    allowed_contacts: tuple[tuple[str, str], ...] = ()  #: (static geom, robot link) pairs


def _floats(text: str | None, n: int, where: str, default: str | None = None) -> np.ndarray:
    text = default if text is None else text
    if text is None:
        raise ArmModelError(f"{where}: missing value")
    try:
        vals = np.array([float(v) for v in text.split()])
    except ValueError:
        raise ArmModelError(f"{where}: expected {n} numbers, got {text!r}") from None
    if vals.shape != (n,) or not np.all(np.isfinite(vals)):
        raise ArmModelError(f"{where}: expected {n} finite numbers, got {text!r}")
    return vals


def _origin(elem: ET.Element | None, where: str) -> np.ndarray:
    if elem is None:
        return np.eye(4)
    return transform(_floats(elem.get("xyz"), 3, f"{where} origin xyz", "0 0 0"),
                     _floats(elem.get("rpy"), 3, f"{where} origin rpy", "0 0 0"))


def _geom(col: ET.Element, where: str) -> tuple[str, tuple[float, ...], np.ndarray] | None:
    t = _origin(col.find("origin"), where)
    g = col.find("geometry")
    if g is None or len(g) == 0:
        raise ArmModelError(f"{where}: collision without geometry")
    shape = g[0]
    if shape.tag == "cylinder":
        r = _floats(shape.get("radius"), 1, f"{where} radius")[0]
        half = _floats(shape.get("length"), 1, f"{where} length")[0] / 2.0
        return "cylinder", (r, half), t
    if shape.tag == "box":
        return "box", tuple(_floats(shape.get("size"), 3, f"{where} size") / 2.0), t
    if shape.tag == "sphere":
        return "sphere", (_floats(shape.get("radius"), 1, f"{where} radius")[0],), t
    return None  # meshes: not simulated for collision (no mesh assets in this model)


def parse_urdf(path: str | Path) -> tuple[str, dict[str, UrdfLink], list[UrdfJoint]]:
    """Links and joints of a URDF; returns (root link name, links, joints).

    Raises:
        ArmModelError: unreadable file, malformed XML, a missing attribute, or not a tree.

    """
    try:
        root = ET.parse(str(path)).getroot()
    except OSError as exc:
        raise ArmModelError(f"cannot read URDF {path}: {exc.strerror or exc}") from None
    except ET.ParseError as exc:
        raise ArmModelError(f"URDF {path}: malformed XML: {exc}") from None
    if root.tag != "robot":
        raise ArmModelError(f"URDF {path}: root element is <{root.tag}>, expected <robot>")
    links: dict[str, UrdfLink] = {}
    for el in root.findall("link"):
        name = el.get("name")
        if not name:
            raise ArmModelError(f"URDF {path}: a <link> has no name")
        where = f"URDF {path} link '{name}'"
        mass, com, inertia = 0.0, np.zeros(3), np.zeros((3, 3))
        inertial = el.find("inertial")
        if inertial is not None:
            t = _origin(inertial.find("origin"), where)
            m_el, i_el = inertial.find("mass"), inertial.find("inertia")
            if m_el is None or i_el is None:
                raise ArmModelError(f"{where}: <inertial> needs <mass> and <inertia>")
            mass = _floats(m_el.get("value"), 1, f"{where} mass")[0]
            k = {a: _floats(i_el.get(a), 1, f"{where} inertia {a}", "0")[0]
                 for a in ("ixx", "iyy", "izz", "ixy", "ixz", "iyz")}
            i0 = np.array([[k["ixx"], k["ixy"], k["ixz"]], [k["ixy"], k["iyy"], k["iyz"]],
                           [k["ixz"], k["iyz"], k["izz"]]])
            com, inertia = t[:3, 3], t[:3, :3] @ i0 @ t[:3, :3].T
        geoms = [g for i, c in enumerate(el.findall("collision"))
                 if (g := _geom(c, f"{where} collision {i}")) is not None]
        links[name] = UrdfLink(name, float(mass), com, inertia, tuple(geoms))
    joints = []
    for el in root.findall("joint"):
        name, kind = el.get("name"), el.get("type")
        where = f"URDF {path} joint '{name}'"
        parent, child = el.find("parent"), el.find("child")
        if not name or kind not in ("revolute", "continuous", "prismatic", "fixed"):
            raise ArmModelError(f"{where}: unsupported or missing type {kind!r}")
        if parent is None or child is None or parent.get("link") not in links \
                or child.get("link") not in links:
            raise ArmModelError(f"{where}: parent/child must name existing links")
        axis = _floats((el.find("axis").get("xyz") if el.find("axis") is not None else None),
                       3, f"{where} axis", "1 0 0")
        if np.linalg.norm(axis) < 1e-9:
            raise ArmModelError(f"{where}: zero axis")
        lim = el.find("limit")
        lower, upper, effort = -math.inf, math.inf, math.inf
        if lim is not None:
            if kind != "continuous":
                lower = _floats(lim.get("lower"), 1, f"{where} lower", "0")[0]
                upper = _floats(lim.get("upper"), 1, f"{where} upper", "0")[0]
            effort = _floats(lim.get("effort"), 1, f"{where} effort", "inf")[0]
        elif kind in ("revolute", "prismatic"):
            raise ArmModelError(f"{where}: a {kind} joint needs <limit>")
        joints.append(UrdfJoint(name, kind, parent.get("link"), child.get("link"),
                                _origin(el.find("origin"), where), axis / np.linalg.norm(axis),
                                float(lower), float(upper), float(effort)))
    children = [j.child for j in joints]
    roots = [n for n in links if n not in children]
    if len(roots) != 1 or len(set(children)) != len(children):
        raise ArmModelError(f"URDF {path}: links do not form one tree (roots {roots})")
    return roots[0], links, joints


def _pose_attrs(elem: ET.Element, t: np.ndarray) -> None:
    elem.set("pos", fmt(t[:3, 3]))
    elem.set("quat", fmt(matrix_to_quat_wxyz(t[:3, :3])))


def _inertial(body: ET.Element, mass: float, com: np.ndarray, inertia: np.ndarray) -> None:
    i = inertia
    ET.SubElement(body, "inertial", pos=fmt(com), mass=repr(float(mass)),
                  fullinertia=fmt([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]]))


def _split_inertia(link: UrdfLink, direction: np.ndarray, offset_m: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two equal halves with the link's mass, CoM and inertia; (com_a, com_b, inertia_half)."""
    m2 = link.mass_kg / 2.0
    s = offset_m
    for _ in range(30):
        d = s * direction
        half = link.inertia_kgm2 / 2.0 - m2 * (d @ d * np.eye(3) - np.outer(d, d))
        ev = np.linalg.eigvalsh(half)
        if ev[0] > 0.0 and ev[0] + ev[1] >= ev[2] * (1 - 1e-12):
            return link.com_m - d, link.com_m + d, half
        s /= 2.0
    raise ArmModelError(f"cannot split the inertia of link '{link.name}' for the flexible "
                        "element")


def read_armature(urdf_path: str | Path) -> dict[str, float]:
    """Rotor inertia per joint [kg m^2] from the ``drives.yaml`` beside the URDF ({} if none).

    The file (``drives: {joint: {armature_kgm2: value}}``) carries what the URDF format
    cannot; it becomes each MuJoCo joint's ``armature``.

    Raises:
        ArmModelError: unreadable file or a value that is not a finite number >= 0.

    """
    path = Path(urdf_path).parent / "drives.yaml"
    if not path.is_file():
        return {}
    try:
        table = (yaml.safe_load(path.read_text()) or {}).get("drives") or {}
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ArmModelError(f"{path}: cannot read drive data: {exc}") from None
    out = {}
    for joint, entry in table.items():
        v = entry.get("armature_kgm2", 0.0) if isinstance(entry, dict) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v < 0.0:
            raise ArmModelError(f"{path}: {joint}.armature_kgm2 must be a number >= 0, "
                                f"got {v!r}")
        out[str(joint)] = float(v)
    return out


class _Builder:
    def __init__(self, links: dict[str, UrdfLink], joints: list[UrdfJoint],
                 options: ModelOptions, armature: dict[str, float]) -> None:
        self.links, self.joints, self.opt = links, joints, options
        self.armature = armature
        self.by_parent: dict[str, list[UrdfJoint]] = {}
        for j in joints:
            self.by_parent.setdefault(j.parent, []).append(j)
        self.actuated: list[UrdfJoint] = []
        self.flex_joints: list[str] = []
        self.site_body: dict[str, str] = {}
        self.site_pose: dict[str, np.ndarray] = {}

    def add_geoms(self, body: ET.Element, link: UrdfLink, t_body_link: np.ndarray) -> None:
        for i, (kind, size, t) in enumerate(link.geoms):
            g = ET.SubElement(body, "geom", name=f"{link.name}_collision_{i}", type=kind,
                              size=fmt(size), contype=str(ARM_BIT),
                              conaffinity=str(STATIC_BIT | PART_BIT), rgba="0.6 0.65 0.7 1")
            _pose_attrs(g, t_body_link @ t)

    def add_site(self, body: ET.Element, body_name: str, name: str, t: np.ndarray) -> None:
        s = ET.SubElement(body, "site", name=name, size="0.01")
        _pose_attrs(s, t)
        self.site_body[name], self.site_pose[name] = body_name, t

    def emit(self, parent: ET.Element, link_name: str, t_parent_link: np.ndarray,
             joint: UrdfJoint | None, parent_body: str | None = None) -> None:
        link = self.links[link_name]
        if joint is not None and joint.kind == "fixed" and link.mass_kg <= 0.0 \
                and parent_body is not None:
            # massless fixed link: a site (and geoms) of the parent body
            self.add_site(parent, parent_body, link.name, t_parent_link)
            self.add_geoms(parent, link, t_parent_link)
            for j in self.by_parent.get(link_name, []):
                self.emit(parent, j.child, t_parent_link @ j.origin, j, parent_body)
            return
        body = ET.SubElement(parent, "body", name=link.name)
        _pose_attrs(body, t_parent_link)
        if joint is not None and joint.kind != "fixed":
            attrs = {"name": joint.name, "axis": fmt(joint.axis),
                     "type": "slide" if joint.kind == "prismatic" else "hinge",
                     "damping": repr(self.opt.joint_damping_nms_per_rad),
                     "frictionloss": repr(self.opt.joint_friction_nm),
                     "armature": repr(self.armature.get(joint.name, 0.0))}
            if math.isfinite(joint.lower) and math.isfinite(joint.upper):
                attrs["range"] = fmt([joint.lower, joint.upper])
            ET.SubElement(body, "joint", attrs)
            self.actuated.append(joint)
        self.add_site(body, link.name, link.name, np.eye(4))
        self.add_geoms(body, link, np.eye(4))
        flex = self.opt.flex
        inner, inner_name, t_inner = body, link.name, np.eye(4)
        if flex is not None and flex.link == link.name:
            point = np.asarray(flex.point_m, dtype=float)
            direction = point / max(np.linalg.norm(point), 1e-12)
            com_a, com_b, half = _split_inertia(link, direction, flex.split_offset_m)
            _inertial(body, link.mass_kg / 2.0, com_a, half)
            inner_name = f"{link.name}_flex"
            inner = ET.SubElement(body, "body", name=inner_name, pos=fmt(point))
            for i, axis in enumerate(flex.axes):
                name = f"{link.name}_flex_{i}"
                ET.SubElement(inner, "joint", name=name, type="hinge", axis=fmt(axis),
                              stiffness=repr(flex.stiffness_nm_per_rad[i]), springref="0",
                              damping=repr(flex.damping_nms_per_rad[i]))
                self.flex_joints.append(name)
            _inertial(inner, link.mass_kg / 2.0, com_b - point, half)
            t_inner = transform(-point, (0.0, 0.0, 0.0))
        elif link.mass_kg > 0.0:
            _inertial(body, link.mass_kg, link.com_m, link.inertia_kgm2)
        elif joint is not None and joint.kind != "fixed":
            raise ArmModelError(f"link '{link.name}' moves (joint '{joint.name}') but has no "
                                "mass: MuJoCo needs mass and inertia on moving bodies")
        for j in self.by_parent.get(link_name, []):
            self.emit(inner, j.child, t_inner @ j.origin, j, inner_name)


def _look_at_xyaxes(pos: np.ndarray, target: np.ndarray) -> str:
    f = (target - pos) / np.linalg.norm(target - pos)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return fmt(np.concatenate([x, np.cross(x, f)]))


def _box_inertia(mass: float, size: np.ndarray) -> np.ndarray:
    sx, sy, sz = size
    return mass / 12.0 * np.diag([sy * sy + sz * sz, sx * sx + sz * sz, sx * sx + sy * sy])


def build_mjcf(urdf_path: str | Path, cell: Cell | None = None,
               options: ModelOptions | None = None) -> ArmMjcf:
    """MJCF (XML text) of the URDF arm, its flexible element, gripper, sensors and the cell.

    Raises:
        ArmModelError: malformed URDF, unknown tool frame or flexible link, bad options.

    """
    opt = options or ModelOptions()
    if not (math.isfinite(opt.timestep_s) and 0.0 < opt.timestep_s <= 0.01):
        raise ArmModelError(f"timestep_s must be in (0, 0.01] s, got {opt.timestep_s!r}")
    for name in ("joint_damping_nms_per_rad", "joint_friction_nm"):
        v = getattr(opt, name)
        if not (math.isfinite(v) and v >= 0.0):
            raise ArmModelError(f"{name} must be finite and >= 0, got {v!r}")
    root, links, joints = parse_urdf(urdf_path)
    if opt.tool_frame not in links:
        raise ArmModelError(f"tool frame '{opt.tool_frame}' is not a link of {urdf_path}")
    if opt.flex is not None:
        f = opt.flex
        if f.link not in links:
            raise ArmModelError(f"flexible link '{f.link}' is not a link of {urdf_path}")
        k, c = np.asarray(f.stiffness_nm_per_rad, float), np.asarray(f.damping_nms_per_rad, float)
        if not (k.shape == c.shape == (len(f.axes),) and np.all(k > 0.0) and np.all(c >= 0.0)
                and np.isfinite(k.sum() + c.sum())):
            raise ArmModelError("flex stiffness must be > 0 and damping >= 0 (finite), one per "
                                f"axis ({len(f.axes)}), got "
                                f"{f.stiffness_nm_per_rad!r}, {f.damping_nms_per_rad!r}")

    mj = ET.Element("mujoco", model=f"dg_arm_{Path(urdf_path).stem}")
    ET.SubElement(mj, "compiler", angle="radian", inertiafromgeom="false", autolimits="true")
    ET.SubElement(mj, "option", timestep=repr(opt.timestep_s), integrator="implicitfast",
                  gravity=fmt([0.0, 0.0, -GRAVITY_MPS2]))
    vis = ET.SubElement(mj, "visual")
    ET.SubElement(vis, "global", offwidth="1280", offheight="960")
    ET.SubElement(vis, "headlight", ambient="0.35 0.35 0.35", diffuse="0.5 0.5 0.5")
    world = ET.SubElement(mj, "worldbody")
    ET.SubElement(world, "light", pos="0.5 -0.5 2.5", dir="-0.2 0.2 -1", diffuse="0.8 0.8 0.8")
    for name, cam_pos in (("overview", np.array([-0.7, -1.7, 1.4])),
                          ("side", np.array([0.3, -2.0, 0.6]))):
        ET.SubElement(world, "camera", name=name, pos=fmt(cam_pos),
                      xyaxes=_look_at_xyaxes(cam_pos, np.array([0.35, 0.0, 0.15])))
    # a floor far below the table catches anything dropped off it
    ET.SubElement(world, "geom", name="floor", type="plane", size="3 3 0.1", pos="0 0 -0.75",
                  contype=str(STATIC_BIT), conaffinity=str(ARM_BIT | PART_BIT),
                  rgba="0.3 0.3 0.32 1")

    b = _Builder(links, joints, opt, read_armature(urdf_path))
    b.emit(world, root, np.eye(4), None)
    tool_body, t_tool = b.site_body[opt.tool_frame], b.site_pose[opt.tool_frame]
    tool_parent = next(j.parent for j in joints if j.child == opt.tool_frame)
    t_parent = b.site_pose.get(tool_parent, np.eye(4))
    body_el = next(e for e in world.iter("body") if e.get("name") == tool_body)
    if cell is not None and cell.gripper is not None:
        # the cell's gripper boxes (flange frame = the tool frame's parent), massless
        t_tcp = np.linalg.inv(t_parent) @ t_tool
        if not np.allclose(pose6_transform(cell.gripper.tcp), t_tcp, atol=1e-6):
            raise ArmModelError(f"cell gripper tcp {cell.gripper.tcp.tolist()} differs from the "
                                f"URDF's {opt.tool_frame} in {tool_parent} "
                                f"(xyz {t_tcp[:3, 3].round(6).tolist()})")
        grip_boxes = [(g.name, g.size_m / 2.0, t_parent @ pose6_transform(g.pose))
                      for g in cell.gripper.boxes]
    else:
        # default: a palm from the flange towards the TCP, ending gripper_clearance_m above it
        # (fingers not modelled; the part hangs at the TCP)
        reach = np.linalg.norm(t_tool[:3, 3] - t_parent[:3, 3])
        palm_len = max(reach - opt.gripper_clearance_m, 0.02)
        grip_boxes = [("gripper_palm", np.array([0.03, 0.045, palm_len / 2.0]),
                       t_tool @ transform([0.0, 0.0, -reach + palm_len / 2.0], [0.0, 0.0, 0.0]))]
    for name, half, t in grip_boxes:
        g = ET.SubElement(body_el, "geom", name=name, type="box", size=fmt(half),
                          contype=str(ARM_BIT), conaffinity=str(STATIC_BIT | PART_BIT),
                          rgba="0.2 0.2 0.25 1")
        _pose_attrs(g, t)

    part_names: list[str] = []
    part_kinds: list[str] = []
    parked: list[bool] = []
    static_names: list[str] = ["floor"]
    allowed: list[tuple[str, str]] = []
    if cell is not None:
        for box in cell.static:
            g = ET.SubElement(world, "geom", name=box.name, type="box", size=fmt(box.size_m / 2),
                              contype=str(STATIC_BIT), conaffinity=str(ARM_BIT | PART_BIT),
                              rgba="0.75 0.7 0.6 1")
            _pose_attrs(g, pose6_transform(box.pose))
            static_names.append(box.name)
            for link in box.allow_contact:
                if link not in links:
                    raise ArmModelError(f"cell box '{box.name}': allow_contact names "
                                        f"'{link}', not a link of {urdf_path}")
                allowed.append((box.name, link))
        slots = cell.tray.slot_poses()
        for kind, poses in (("raw", slots), ("finished", [None] * len(slots))):
            ptype = cell.parts[kind]
            for i, pose in enumerate(poses):
                name = f"{kind}_{i}"
                if pose is None:
                    t = transform(np.add(PARKING_XYZ_M, [0.2 * i, 0.0, 0.0]), [0.0, 0.0, 0.0])
                else:
                    t = pose6_transform(pose)
                body = ET.SubElement(world, "body", name=name,
                                     gravcomp="1" if pose is None else "0")
                _pose_attrs(body, t)
                ET.SubElement(body, "freejoint", name=f"{name}_free")
                _inertial(body, ptype.mass_kg, np.zeros(3),
                          _box_inertia(ptype.mass_kg, ptype.size_m))
                ET.SubElement(body, "geom", name=f"{name}_geom", type="box",
                              size=fmt(ptype.size_m / 2),
                              contype=str(0 if pose is None else PART_BIT),
                              conaffinity=str(0 if pose is None else ARM_BIT | STATIC_BIT
                                              | PART_BIT),
                              rgba="0.8 0.5 0.2 1" if kind == "raw" else "0.3 0.7 0.3 1")
                part_names.append(name)
                part_kinds.append(kind)
                parked.append(pose is None)
        eq = ET.SubElement(mj, "equality")
        for name in part_names:
            ET.SubElement(eq, "weld", name=f"grasp_{name}", body1=tool_body, body2=name,
                          active="false", solref=fmt([WELD_TIMECONST_S, 1.0]))

    act = ET.SubElement(mj, "actuator")
    for j in b.actuated:
        # force = gain * ctrl + b1 * q + b2 * qd: a torque motor (gain 1, b = 0) or the drive's
        # position servo (gain kp, b1 = -kp, b2 = -kd), switched by MujocoSystem at run time;
        # the b2 term is integrated implicitly (implicitfast), so the servo is stable at any kd
        attrs = {"name": j.name, "joint": j.name, "gaintype": "fixed", "gainprm": "1",
                 "biastype": "affine", "biasprm": "0 0 0"}
        if math.isfinite(j.effort_max):
            attrs["forcerange"] = fmt([-j.effort_max, j.effort_max])
        ET.SubElement(act, "general", attrs)
    sens = ET.SubElement(mj, "sensor")
    ET.SubElement(sens, "accelerometer", name="tool_accelerometer", site=opt.tool_frame)
    ET.indent(mj)
    return ArmMjcf(xml=ET.tostring(mj, encoding="unicode"),
                   joint_names=tuple(j.name for j in b.actuated),
                   effort_max=np.array([j.effort_max for j in b.actuated]),
                   flex_joint_names=tuple(b.flex_joints), tool_body=tool_body,
                   tool_site=opt.tool_frame, part_names=tuple(part_names),
                   part_kinds=tuple(part_kinds), parked=tuple(parked),
                   static_names=tuple(static_names), allowed_contacts=tuple(allowed))
