"""The simulated arm as a ros2_control-style hardware system (MuJoCo, pure, no rclpy).

:class:`MujocoSystem` has the shape of ros2_control's ``hardware_interface::SystemInterface``
as dg_motion's execution layer expects it (``joint_names``, ``command_interfaces``,
``simulated``, ``on_configure/on_activate/on_deactivate``, ``read``, ``write``), by duck typing:
dg_sim never imports dg_motion, so a bug cannot hide in code the simulator and the controller
share (STYLE.md). ``write`` advances the physics by ``period_s`` (the simulated hardware
defines time); ``read`` returns the state after it.

Command semantics per joint, each ``write`` (NaN = not commanded, as in ros2_control):

1. ``position`` finite: the drive's internal servo at the physics rate, per joint
   ``tau = kp (q_ref - q) + kd (qd_ref - qd) + b + tau_ff`` (``b``: the simulated arm's own
   gravity and Coriolis torque), with ``kp = w^2 m_jj``, ``kd = 2 w m_jj`` for the joint's
   own inertia ``m_jj`` at the initial pose (critically damped at ``servo_bandwidth_hz``;
   decentralised and collocated, so it stays stable with the flexible link, and the ``kd``
   term is integrated implicitly by MuJoCo); ``velocity`` (finite, else 0) is ``qd_ref``,
   ``effort`` (finite, else 0) ``tau_ff``.
2. else ``effort`` finite: that torque.
3. else (nothing finite, or ``write`` while inactive): hold the position where the joint
   stopped being commanded, with the same servo (a drive's hold/brake mode). Infinite
   values count as rejected (``rejected_commands``); nothing non-finite reaches MuJoCo.

Every torque is clipped to the URDF effort limit (MuJoCo ``ctrlrange``).

Gripper (``command.gpio["gripper"]``, 1 = close, 0 = open; NaN ignored; the fingers take the
cell's ``gripper.grip_time_s`` to close or open, 0 without one): closing welds the
nearest free part whose centre lies within ``grasp_tolerance_m`` of the TCP to the tool body
(MuJoCo weld equality, activated with the current relative pose: no jump), so the arm
carries its mass; opening deletes the weld and the part falls/settles where it is. The
machine turns a raw part released in the vise (centre within 1 cm, speed < 2 cm/s) into a
finished one after ``machine_cycle_s`` with its input ``command.gpio["machine_start"]`` set
(the finished body, parked outside the cell until then, takes the raw one's place).

Sensors (``read().sensors``): ``tool_accelerometer`` (3,) [m/s^2], the tool0-frame specific force
of a MuJoCo ``accelerometer`` at the TCP, as an IMU measures it (gravity not removed: at rest
with z up it reads +9.81 on z), plus white noise of ``accelerometer_noise_mps2`` from a
generator seeded with ``seed``; it is the acceleration over the last physics step.
``gripper`` (1,): 1 closed, 0 open; ``machine_done`` (1,): the machine's cycle-done input, 1
while a finished part rests in the vise (not held).

Simulation reset: a rising edge of ``command.gpio["sim_reset_cell"]`` puts every part back
where it was at configure (:meth:`MujocoSystem.reset_cell`), so a scenario can run its job
again.

Ground truth (``read().ground_truth``, simulation only): ``tool_pose`` (7,) xyz [m] + quaternion
xyzw of tool0 in base_link; ``contacts`` (1,): contacts now between the arm (links, gripper)
and static cell boxes or parts not held (pairs a box's ``allow_contact`` names excepted);
``contact_steps`` (1,): physics steps with at least
one such contact since configure (the collision metric: a brief touch between two reads still
counts); a held part touching the cell is not counted (placing a part touches by design);
``object_poses`` (n, 7) of the parts in :attr:`MujocoSystem.object_names` order;
``object_visible`` (n,); ``held_part`` (1,) index or -1; ``parts_machined``,
``parts_in_outfeed``, ``parts_done`` (1,) (``parts_done`` = finished parts resting in an
outfeed slot); ``flex_angles_rad`` (bending of the flexible link); ``time_s`` (1,). Part
poses, the machine and the outfeed count update every :data:`SLOW_PERIOD_S` of simulated time
(and at once on a grasp, release or ``place_object``); everything else every step.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mujoco  # MUJOCO_GL is set by the dg_sim package
import numpy as np

from dg_sim.arm.cell import Cell, load_cell
from dg_sim.arm.model import (
    PARKING_XYZ_M,
    ArmMjcf,
    FlexSpec,
    ModelOptions,
    build_mjcf,
)
from dg_sim.robot_files import dg_motion_robot_file

#: Parameters of :meth:`MujocoSystem.on_configure`: name -> (default, description). Unknown
#: names are rejected, as ros2_controllers' generated parameter schemas do.
PARAMETERS: dict[str, tuple[Any, str]] = {
    "urdf": ("", "robot URDF path ('' = dg_motion's UR5)"),
    "cell": ("", "cell file path (config/arm_cell.yaml format); '' = the arm on a table only"),
    "timestep_s": (ModelOptions.timestep_s, "physics step [s], independent of the rtf"),
    "flex_enabled": (True, "simulate the flexible forearm"),
    "flex_stiffness_nm_per_rad": (FlexSpec.stiffness_nm_per_rad,
                                  "bending stiffness of the flexible link, per axis (sideways, "
                                  "in-plane) [N m/rad]"),
    "flex_damping_nms_per_rad": (FlexSpec.damping_nms_per_rad,
                                 "bending damping of the flexible link, per axis [N m s/rad]"),
    "joint_damping_nms_per_rad": (ModelOptions.joint_damping_nms_per_rad,
                                  "viscous friction of each actuated joint [N m s/rad]"),
    "joint_friction_nm": (ModelOptions.joint_friction_nm,
                          "dry friction of each actuated joint [N m]"),
    "accelerometer_noise_mps2": (0.02, "white noise sigma of the tool accelerometer"),
    "seed": (0, "seed of the sensor noise"),
    "grasp_tolerance_m": (0.01, "a part is grasped if its centre is this close to the TCP"),
    "servo_bandwidth_hz": (20.0, "bandwidth of the drives' position/hold servo [Hz]"),
    "initial_positions": ([0.0, -1.5707963, 1.5707963, -1.5707963, -1.5707963, 0.0],
                          "joint positions at configure [rad]"),
}

#: The machine, the outfeed count and the part poses update at this period of simulated
#: time (they change at human pace; per-step updates cost more than the physics step).
SLOW_PERIOD_S = 0.01
_VISE_TOLERANCE_M = 0.01
_AT_REST_MPS = 0.02
_OUTFEED_TOLERANCE_M = 0.015


class ArmSimError(ValueError):
    """Invalid parameter, command shape or call order of the simulated arm."""


class JointSource(enum.Enum):
    """What drove a joint in the last ``write``."""

    EFFORT = "effort"       #: the commanded torque
    POSITION = "position"   #: the internal servo to the commanded position
    HOLD = "hold"           #: not commanded (NaN) or inactive: holding where it stopped


@dataclass
class SimState:
    """What ``read`` returns: the fields of dg_motion's HardwareState (duck-typed)."""

    q: np.ndarray                  #: [rad]
    qd: np.ndarray                 #: [rad/s]
    effort: np.ndarray             #: applied joint torque [N m]
    sensors: dict[str, np.ndarray] = field(default_factory=dict)
    ground_truth: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class SimCommand:
    """A command with the fields of dg_motion's HardwareCommand (NaN = not commanded)."""

    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray
    gpio: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, dof: int) -> SimCommand:
        """Nothing commanded."""
        nan = np.full(dof, np.nan)
        return cls(nan.copy(), nan.copy(), nan.copy(), {})


@dataclass(frozen=True)
class FlexMode:
    """A bending mode of the flexible link with the actuated joints clamped."""

    frequency_hz: float
    damping_ratio: float
    shape: np.ndarray              #: flex-joint mode shape (unit norm)


def default_urdf_path() -> Path:
    """dg_motion's UR5 URDF: its installed share dir, else the source tree."""
    return dg_motion_robot_file("ur5", "ur5.urdf")


def _number(params: Mapping[str, Any], key: str, low: float, high: float = math.inf) -> float:
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or not low <= v <= high:
        raise ArmSimError(f"parameter '{key}' must be a number in [{low}, {high}], got {v!r}")
    return float(v)


def _numbers(params: Mapping[str, Any], key: str, low: float) -> tuple[float, ...]:
    v = params[key]
    items = v if isinstance(v, (list, tuple)) else [v]
    out = tuple(_number({key: x}, key, low) for x in items)
    if not out:
        raise ArmSimError(f"parameter '{key}' must hold one number per flex axis, got {v!r}")
    return out


def _quat_xyzw(rot: np.ndarray) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(rot).ravel())
    return np.array([q[1], q[2], q[3], q[0]])


class MujocoSystem:
    """A MuJoCo UR5-class arm in its CNC cell, with ros2_control's hardware-system shape."""

    command_interfaces: tuple[str, ...] = ("effort", "position")
    simulated: bool = True

    def __init__(self) -> None:
        """Unconfigured: call :meth:`on_configure` first."""
        self.joint_names: tuple[str, ...] = ()
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self.mjcf: ArmMjcf | None = None
        self.cell: Cell | None = None
        self.active = False
        self.rejected_commands = 0
        self._use_pos = self._use_eff = np.zeros(0, dtype=bool)

    # --- lifecycle -------------------------------------------------------------------------
    def on_configure(self, params: Mapping[str, Any] | None = None) -> None:
        """Build the model from ``params`` (see :data:`PARAMETERS`); joints at rest.

        Raises:
            ArmSimError: unknown or invalid parameter (the message names it).
            CellError, ArmModelError: the cell file or URDF is unreadable or malformed.

        """
        params = dict(params or {})
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise ArmSimError(f"unknown parameter(s) {unknown}; known: {sorted(PARAMETERS)}")
        p = {k: params.get(k, d) for k, (d, _) in PARAMETERS.items()}
        for key in ("urdf", "cell"):
            if not isinstance(p[key], (str, Path)):
                raise ArmSimError(f"parameter '{key}' must be a path string, got {p[key]!r}")
        if not isinstance(p["flex_enabled"], bool):
            raise ArmSimError(f"parameter 'flex_enabled' must be a bool, got "
                              f"{p['flex_enabled']!r}")
        dt = _number(p, "timestep_s", 1e-5, 0.01)
        flex = None
        if p["flex_enabled"]:
            flex = FlexSpec(stiffness_nm_per_rad=_numbers(p, "flex_stiffness_nm_per_rad", 1e-6),
                            damping_nms_per_rad=_numbers(p, "flex_damping_nms_per_rad", 0.0))
        opt = ModelOptions(timestep_s=dt, flex=flex,
                           joint_damping_nms_per_rad=_number(p, "joint_damping_nms_per_rad", 0),
                           joint_friction_nm=_number(p, "joint_friction_nm", 0.0))
        self._noise = _number(p, "accelerometer_noise_mps2", 0.0)
        seed = p["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArmSimError(f"parameter 'seed' must be an integer >= 0, got {seed!r}")
        self._grasp_tol = _number(p, "grasp_tolerance_m", 0.0, 0.1)
        w = 2.0 * math.pi * _number(p, "servo_bandwidth_hz", 0.1, 0.1 / dt)
        urdf = Path(p["urdf"]) if p["urdf"] else default_urdf_path()
        self.cell = load_cell(p["cell"]) if p["cell"] else None
        self.mjcf = build_mjcf(urdf, self.cell, opt)
        m = self.model = mujoco.MjModel.from_xml_string(self.mjcf.xml)
        d = self.data = mujoco.MjData(m)
        self.joint_names = self.mjcf.joint_names
        dof = len(self.joint_names)
        q0 = np.asarray(p["initial_positions"], dtype=float)
        if q0.shape != (dof,) or not np.all(np.isfinite(q0)):
            raise ArmSimError(f"parameter 'initial_positions' must be {dof} finite numbers, "
                              f"got {p['initial_positions']!r}")
        jid = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in self.joint_names]
        self._qadr = np.array([m.jnt_qposadr[j] for j in jid])
        self._vadr = np.array([m.jnt_dofadr[j] for j in jid])
        fid = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n)
               for n in self.mjcf.flex_joint_names]
        self._flex_q = np.array([m.jnt_qposadr[j] for j in fid], dtype=int)
        self._flex_v = np.array([m.jnt_dofadr[j] for j in fid], dtype=int)
        self._effort_max = self.mjcf.effort_max
        self._site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, self.mjcf.tool_site)
        self._tool_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, self.mjcf.tool_body)
        self._acc_adr = m.sensor_adr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR,
                                                        "tool_accelerometer")]
        self.object_names = self.mjcf.part_names
        self._part_body = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n)
                                    for n in self.object_names], dtype=int)
        self._part_geom = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"{n}_geom")
                                    for n in self.object_names], dtype=int)
        self._part_qadr = np.array([m.jnt_qposadr[m.body_jntadr[b]] for b in self._part_body],
                                   dtype=int)
        self._part_vadr = np.array([m.jnt_dofadr[m.body_jntadr[b]] for b in self._part_body],
                                   dtype=int)
        self._weld = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_EQUALITY, f"grasp_{n}")
                               for n in self.object_names], dtype=int)
        self._visible = np.array([not x for x in self.mjcf.parked], dtype=bool)
        self._part_conaffinity = {i: (int(m.geom_contype[g]), int(m.geom_conaffinity[g]))
                                  for i, g in enumerate(self._part_geom) if self._visible[i]}
        # contact classes per geom: arm (its own bodies) vs static world / part geoms
        arm_bodies = self._subtree(mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY,
                                                     self._root_arm_body()))
        self._is_arm = np.isin(m.geom_bodyid, list(arm_bodies))
        self._is_static = m.geom_bodyid == 0
        # (static geom, robot body) pairs that touch by design (cell allow_contact)
        self._allowed = np.zeros((m.ngeom, m.nbody), dtype=bool)
        for box, link in self.mjcf.allowed_contacts:
            body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, link)
            if body < 0:   # a massless link merged into its parent body as a site
                body = m.site_bodyid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, link)]
            self._allowed[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, box), body] = True
        self._has_allowed = bool(self._allowed.any())
        self._geom_body = m.geom_bodyid.copy()
        self._other = self._is_static.copy()   # what the arm must not touch (not held)
        self._other[self._part_geom] = True
        self._outfeed_xyz = (np.array([s[:3] for s in self.cell.outfeed.slot_poses()])
                             if self.cell is not None else np.zeros((0, 3)))

        self._rng = np.random.default_rng(seed)
        # the parts' poses and visibility at configure: what a cell reset restores
        self._part_start = [(d.qpos[a:a + 3].copy(), d.qpos[a + 3:a + 7].copy(), bool(v))
                            for a, v in zip(self._part_qadr, self._visible, strict=True)]
        self._reset_level = False
        self._machine_on = False
        d.qpos[self._qadr] = q0
        self._settle_flex()
        # drive servo gains: critically damped at the bandwidth for each joint's own inertia
        # at the initial pose (fixed gains, as a drive's are)
        full = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, full)
        inertia = full[self._vadr, self._vadr]
        self._kp, self._kd = w * w * inertia, 2.0 * w * inertia
        self._hold = q0.copy()
        self._holding = np.ones(dof, dtype=bool)
        self._use_pos = np.zeros(dof, dtype=bool)
        self._use_eff = np.zeros(dof, dtype=bool)
        self._servo = np.zeros(dof, dtype=bool)   # actuators start as torque motors
        self._no_joint, self._all_joints = np.zeros(dof, dtype=bool), np.ones(dof, dtype=bool)
        self._dt = float(m.opt.timestep)
        # cached views into MjData (valid for the data's lifetime)
        self._qpos, self._bias, self._ctrl = d.qpos, d.qfrc_bias, d.ctrl
        self._gripper_closed = self._grip_target = False
        self._grip_timer_s = 0.0
        self._grip_time_s = (self.cell.gripper.grip_time_s
                             if self.cell is not None and self.cell.gripper is not None else 0.0)
        self._held = -1
        self._vise_timer_s = np.zeros(len(self.object_names))
        self._machined = 0
        self._contact_steps = 0
        self.rejected_commands = 0
        self.active = False
        self._slow_elapsed_s = 0.0
        self._slow_update()

    def on_activate(self) -> None:
        """Commands are applied from now on; uncommanded joints hold where they are."""
        self._require_configured()
        self._hold = self.data.qpos[self._qadr].copy()
        self._holding[:] = True
        self.active = True

    def on_deactivate(self) -> None:
        """Commands are ignored from now on; every joint holds where it is."""
        self._require_configured()
        self._hold = self.data.qpos[self._qadr].copy()
        self._holding[:] = True
        self.active = False

    # --- read / write ----------------------------------------------------------------------
    def read(self, t_s: float = 0.0, period_s: float = 0.0) -> SimState:
        """State after the last step (``t_s``/``period_s`` unused: the physics keeps time)."""
        self._require_configured()
        d = self.data
        acc = d.sensordata[self._acc_adr:self._acc_adr + 3].copy()
        if self._noise > 0.0:
            acc += self._rng.normal(0.0, self._noise, 3)
        tool = np.concatenate([d.site_xpos[self._site], _quat_xyzw(d.site_xmat[self._site])])
        done = self._done
        return SimState(
            q=d.qpos[self._qadr].copy(), qd=d.qvel[self._vadr].copy(),
            effort=d.qfrc_actuator[self._vadr].copy(),
            sensors={"tool_accelerometer": acc,
                     "gripper": np.array([1.0 if self._gripper_closed else 0.0]),
                     "machine_done": np.array([1.0 if self._finished_in_vise() else 0.0])},
            ground_truth={
                "tool_pose": tool,
                "contacts": np.array([self._count_contacts()]),
                "contact_steps": np.array([self._contact_steps]),
                "object_poses": self._poses.copy(),
                "object_visible": self._visible.astype(float),
                "held_part": np.array([self._held]),
                "parts_machined": np.array([self._machined]),
                "parts_in_outfeed": np.array([done]),
                "parts_done": np.array([done]),
                "flex_angles_rad": d.qpos[self._flex_q].copy(),
                "time_s": np.array([d.time]),
            })

    def write(self, t_s: float, period_s: float, command: Any) -> None:
        """Apply ``command`` (see the module docstring) and advance the physics by period_s.

        Raises:
            ArmSimError: non-positive/non-finite period, or command arrays of the wrong shape.

        """
        self._require_configured()
        if not (isinstance(period_s, (int, float)) and math.isfinite(period_s)
                and period_s > 0.0):
            raise ArmSimError(f"period_s must be a finite number > 0, got {period_s!r}")
        steps = max(1, round(period_s / self._dt))
        dof = len(self.joint_names)
        pos = self._field(command, "position", dof)
        vel = self._field(command, "velocity", dof)
        eff = self._field(command, "effort", dof)
        finite_eff = np.isfinite(eff)
        if not self.active:
            pos[:] = np.nan
            finite_eff[:] = False
            gpio: Any = {}
        else:
            gpio = getattr(command, "gpio", None) or {}
        ms = gpio.get("machine_start") if isinstance(gpio, Mapping) else None
        if isinstance(ms, (int, float)) and math.isfinite(ms):
            self._machine_on = ms >= 0.5
        r = gpio.get("sim_reset_cell") if isinstance(gpio, Mapping) else None
        if isinstance(r, (int, float)) and math.isfinite(r) and (r >= 0.5) != self._reset_level:
            self._reset_level = r >= 0.5
            if self._reset_level:
                self.reset_cell()
        g = gpio.get("gripper") if isinstance(gpio, Mapping) else None
        if isinstance(g, (int, float)) and math.isfinite(g) and (g >= 0.5) != self._grip_target:
            self._grip_target, self._grip_timer_s = g >= 0.5, 0.0
        if self._grip_target != self._gripper_closed:
            self._update_gripper(0.0)
        ctrl = self._ctrl
        if finite_eff.all() and self.active and np.isnan(pos).all():
            # fast path, an effort-controlled arm: every joint a torque motor
            if self._servo.any():
                self._set_servo(np.zeros(dof, dtype=bool))
            self._use_pos, self._use_eff = self._no_joint, self._all_joints
            self._holding = self._no_joint
            ctrl[:] = eff   # clipped to the effort limits by the actuators' forcerange
            self._step(steps, None, None, None)
            return
        stacked = np.concatenate([pos, vel, eff])
        if not np.isfinite(stacked).all():
            self.rejected_commands += int(np.count_nonzero(np.isinf(stacked)))
        use_pos = np.isfinite(pos)
        use_eff = finite_eff & ~use_pos
        servo = ~use_eff
        hold = servo & ~use_pos
        newly = hold & ~self._holding
        if newly.any():
            self._hold[newly] = self._qpos[self._qadr][newly]
        self._holding = hold
        self._use_pos, self._use_eff = use_pos, use_eff
        if not np.array_equal(servo, self._servo):
            self._set_servo(servo)
        q_ref = np.where(use_pos, pos, self._hold)
        # servo: ctrl = q_ref + (kd qd_ref + b + ff) / kp makes the actuator force
        # kp (q_ref - q) + kd (qd_ref - qd) + b + ff (b: gravity and Coriolis of the last step)
        servo_ff = np.where(use_pos & np.isfinite(vel), vel, 0.0) * self._kd
        servo_ff += np.where(use_pos & np.isfinite(eff), eff, 0.0)
        ctrl[:] = np.where(use_eff, eff, 0.0)
        self._step(steps, servo, q_ref, servo_ff)

    def _set_servo(self, servo: np.ndarray) -> None:
        """Switch each joint's actuator between torque motor and position servo."""
        m = self.model
        self._servo = servo
        m.actuator_gainprm[:, 0] = np.where(servo, self._kp, 1.0)
        m.actuator_biasprm[:, 1] = np.where(servo, -self._kp, 0.0)
        m.actuator_biasprm[:, 2] = np.where(servo, -self._kd, 0.0)

    def _step(self, steps: int, servo: np.ndarray | None, q_ref: np.ndarray | None,
              servo_ff: np.ndarray | None) -> None:
        m, d, ctrl, bias, vadr = self.model, self.data, self._ctrl, self._bias, self._vadr
        for _ in range(steps):
            if servo is not None:
                ctrl[servo] = (q_ref + (servo_ff + bias[vadr]) / self._kp)[servo]
            mujoco.mj_step(m, d)
            if d.ncon and self._count_contacts() > 0:
                self._contact_steps += 1
        if self._grip_target != self._gripper_closed:
            self._update_gripper(steps * self._dt)
        self._slow_elapsed_s += steps * self._dt
        if self._slow_elapsed_s >= SLOW_PERIOD_S - 1e-9:
            self._slow_update()

    def _slow_update(self) -> None:
        """Machine, outfeed count and part poses (every SLOW_PERIOD_S and on changes)."""
        d = self.data
        if self.cell is not None:
            self._run_machine(self._slow_elapsed_s)
        self._slow_elapsed_s = 0.0
        self._done = self._parts_in_outfeed()
        self._poses = np.hstack([d.xpos[self._part_body],
                                 d.xquat[self._part_body][:, [1, 2, 3, 0]]]).reshape(-1, 7)

    @property
    def sources(self) -> list[JointSource]:
        """What drove each joint in the last ``write``."""
        return [JointSource.POSITION if a else JointSource.EFFORT if b else JointSource.HOLD
                for a, b in zip(self._use_pos, self._use_eff, strict=True)]

    # --- extras for tests, demos and benches ------------------------------------------------
    @property
    def time_s(self) -> float:
        """Simulated time [s]."""
        self._require_configured()
        return float(self.data.time)

    def flex_modes(self) -> list[FlexMode]:
        """Bending modes at the current pose and payload, actuated joints clamped.

        ``det(K - w^2 M_ff) = 0`` with ``M_ff`` the flex block of MuJoCo's mass matrix plus a
        held part's mass and inertia seen through the tool body's flex Jacobian (the weld is
        a constraint, not part of ``M``); ``K = k E``, ``C = c E`` give ``zeta = c w / (2 k)``.
        """
        self._require_configured()
        m, d = self.model, self.data
        if self._flex_v.size == 0:
            return []
        mujoco.mj_forward(m, d)
        full = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, full)
        mff = full[np.ix_(self._flex_v, self._flex_v)]
        if self._held >= 0:
            b = self._part_body[self._held]
            jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
            mujoco.mj_jac(m, d, jp, jr, d.xipos[b], self._tool_body)
            jp, jr = jp[:, self._flex_v], jr[:, self._flex_v]
            rot = d.ximat[b].reshape(3, 3)
            inertia_w = rot @ np.diag(m.body_inertia[b]) @ rot.T
            mff = mff + m.body_mass[b] * jp.T @ jp + jr.T @ inertia_w @ jr
        k = np.diag(m.jnt_stiffness[m.dof_jntid[self._flex_v]])
        c = np.diag(m.dof_damping[self._flex_v])
        chol = np.linalg.cholesky(mff)                      # M = L L^T
        linv = np.linalg.inv(chol)
        evals, evecs = np.linalg.eigh(linv @ k @ linv.T)     # L^-1 K L^-T v = w^2 v
        modes = []
        for i in np.argsort(evals):
            w = math.sqrt(evals[i])
            shape = linv.T @ evecs[:, i]
            # modal damping ratio (light, nearly proportional damping): phi'C phi w / 2 phi'K phi
            zeta = float(shape @ c @ shape) * w / (2.0 * float(shape @ k @ shape))
            modes.append(FlexMode(w / (2 * math.pi), zeta, shape / np.linalg.norm(shape)))
        return modes

    def place_object(self, name: str, xyz: Sequence[float],
                     quat_xyzw: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> None:
        """Put part ``name`` (one of :attr:`object_names`) at rest at a pose (scenario resets).

        Raises:
            ArmSimError: unknown part, non-finite pose, or the part is held.

        """
        self._require_configured()
        if name not in self.object_names:
            raise ArmSimError(f"unknown part '{name}'; parts: {list(self.object_names)}")
        i = self.object_names.index(name)
        xyz_a, quat = np.asarray(xyz, dtype=float), np.asarray(quat_xyzw, dtype=float)
        if xyz_a.shape != (3,) or quat.shape != (4,) or not np.all(np.isfinite(xyz_a)) \
                or not np.all(np.isfinite(quat)) or np.linalg.norm(quat) < 1e-9:
            raise ArmSimError(f"place_object('{name}'): need finite xyz (3) and a non-zero "
                              f"quaternion xyzw (4), got {xyz!r}, {quat_xyzw!r}")
        if i == self._held:
            raise ArmSimError(f"place_object('{name}'): the part is held by the gripper")
        quat = quat / np.linalg.norm(quat)
        self._place_part(i, xyz_a, quat[[3, 0, 1, 2]], visible=True)
        mujoco.mj_forward(self.model, self.data)
        self._slow_update()

    def reset_cell(self) -> None:
        """Put every part back where it was at configure (the gripper lets go first).

        Simulation only, like Gazebo's world reset; commanded through the output
        ``sim_reset_cell`` (rising edge) so that a scenario can run a job again. The arm and
        the counters of contacts keep their state; the machine's count restarts.
        """
        self._require_configured()
        self._set_gripper(False)
        self._grip_target = False
        for i, (xyz, quat, visible) in enumerate(self._part_start):
            self._place_part(i, xyz, quat, visible)
        self._vise_timer_s[:] = 0.0
        self._machined = 0
        self._machine_on = False
        mujoco.mj_forward(self.model, self.data)
        self._slow_update()

    def _finished_in_vise(self) -> bool:
        """The machine's 'cycle done' signal: a finished part rests in the vise, not held."""
        if self.cell is None or not self.object_names:
            return False
        n = len(self.object_names) // 2
        free = self._visible[n:].copy()
        if self._held >= n:
            free[self._held - n] = False
        near = np.linalg.norm(self._poses[n:, :3] - self.cell.vise_pose[:3], axis=1)
        return bool(np.any(free & (near < 2 * _VISE_TOLERANCE_M)))

    def render_png(self, path: str | Path, camera: str = "overview", width: int = 640,
                   height: int = 480) -> Path:
        """Render the scene from ``camera`` to a PNG (offscreen, ``MUJOCO_GL=osmesa``)."""
        self._require_configured()
        import matplotlib.image

        with mujoco.Renderer(self.model, height=height, width=width) as renderer:
            renderer.update_scene(self.data, camera=camera)
            pixels = renderer.render()
        path = Path(path)
        matplotlib.image.imsave(path, pixels)
        return path

    # --- internals ------------------------------------------------------------------------
    def _require_configured(self) -> None:
        if self.model is None:
            raise ArmSimError("the simulated arm is not configured (call on_configure first)")

    @staticmethod
    def _field(command: Any, name: str, dof: int) -> np.ndarray:
        value = getattr(command, name, None)
        if value is None:
            return np.full(dof, np.nan)
        arr = np.array(value, dtype=float)
        if arr.shape != (dof,):
            raise ArmSimError(f"command.{name} must have {dof} entries, got shape {arr.shape}")
        return arr

    def _root_arm_body(self) -> str:
        # first body below the world that is not a part: the robot's root link
        m = self.model
        for b in range(1, m.nbody):
            if m.body_parentid[b] == 0 and b not in set(self._part_body):
                return mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b)
        raise ArmSimError("no robot body in the model")

    def _subtree(self, root: int) -> set[int]:
        m = self.model
        out = {root}
        for b in range(root + 1, m.nbody):
            if m.body_parentid[b] in out:
                out.add(b)
        return out

    def _settle_flex(self) -> None:
        """Start the flexible link at its static deflection under gravity (no start-up jolt)."""
        m, d = self.model, self.data
        if self._flex_q.size:
            k = m.jnt_stiffness[m.dof_jntid[self._flex_v]]
            for _ in range(30):
                mujoco.mj_forward(m, d)
                d.qpos[self._flex_q] = -d.qfrc_bias[self._flex_v] / k
        mujoco.mj_forward(m, d)

    def _count_contacts(self) -> int:
        d = self.data
        if d.ncon == 0:
            return 0
        geom = d.contact.geom
        arm = self._is_arm[geom]
        if not arm.any():
            return 0
        other = self._other[geom]
        hit = (arm[:, 0] & other[:, 1]) | (arm[:, 1] & other[:, 0])
        if not self._has_allowed:
            return int(np.count_nonzero(hit))
        pairs = geom[hit]
        arm_first = arm[hit, 0]
        g_arm = np.where(arm_first, pairs[:, 0], pairs[:, 1])
        g_other = np.where(arm_first, pairs[:, 1], pairs[:, 0])
        return int(np.count_nonzero(~self._allowed[g_other, self._geom_body[g_arm]]))

    def _update_gripper(self, elapsed_s: float) -> None:
        """The fingers reach the commanded state grip_time_s after the command."""
        self._grip_timer_s += elapsed_s
        if self._grip_timer_s >= self._grip_time_s - 1e-9:
            self._set_gripper(self._grip_target)

    def _set_gripper(self, close: bool) -> None:
        m, d = self.model, self.data
        if close == self._gripper_closed:
            return
        self._gripper_closed = close
        if not close:
            if self._held >= 0:
                d.eq_active[self._weld[self._held]] = 0
                self._other[self._part_geom[self._held]] = True
            self._held = -1
            return
        if len(self._part_body) == 0:
            return
        tcp = d.site_xpos[self._site]
        dist = np.linalg.norm(d.xpos[self._part_body] - tcp, axis=1)
        dist[~self._visible] = np.inf
        i = int(np.argmin(dist))
        if dist[i] > self._grasp_tol:
            return  # closed on nothing
        b1, b2 = self._tool_body, self._part_body[i]
        r1 = d.xmat[b1].reshape(3, 3)
        eq = self._weld[i]
        m.eq_data[eq, 0:3] = 0.0                               # anchor: body2's origin
        m.eq_data[eq, 3:6] = r1.T @ (d.xpos[b2] - d.xpos[b1])  # body2 in body1's frame
        q1inv = np.empty(4)
        mujoco.mju_negQuat(q1inv, d.xquat[b1])
        rel = np.empty(4)
        mujoco.mju_mulQuat(rel, q1inv, d.xquat[b2])
        m.eq_data[eq, 6:10] = rel
        m.eq_data[eq, 10] = 1.0                                # torquescale
        d.eq_active[eq] = 1
        self._held = i
        self._other[self._part_geom[i]] = False

    def _place_part(self, i: int, xyz: Sequence[float], quat_wxyz: Sequence[float],
                    visible: bool) -> None:
        m, d = self.model, self.data
        a, v = self._part_qadr[i], self._part_vadr[i]
        d.qpos[a:a + 3], d.qpos[a + 3:a + 7] = xyz, quat_wxyz
        d.qvel[v:v + 6] = 0.0
        g, b = self._part_geom[i], self._part_body[i]
        ct, ca = self._part_conaffinity.get(i, (4, 7)) if visible else (0, 0)
        m.geom_contype[g], m.geom_conaffinity[g] = ct, ca
        m.body_contype[b], m.body_conaffinity[b] = ct, ca   # the broad phase filters bodies
        m.body_gravcomp[b] = 0.0 if visible else 1.0
        self._visible[i] = visible

    def _run_machine(self, elapsed_s: float) -> None:
        if self.cell is None:
            return
        d = self.data
        n = len(self.object_names) // 2
        raw = self._part_body[:n]
        speed = np.linalg.norm(d.qvel[self._part_vadr[:n, None] + np.arange(3)], axis=1)
        inside = ((np.linalg.norm(d.xpos[raw] - self.cell.vise_pose[:3], axis=1)
                   < _VISE_TOLERANCE_M) & (speed < _AT_REST_MPS) & self._visible[:n])
        if 0 <= self._held < n:
            inside[self._held] = False
        running = inside & self._machine_on   # the cycle runs while machine_start is set
        self._vise_timer_s[:n] = np.where(running, self._vise_timer_s[:n] + elapsed_s,
                                          np.where(inside, self._vise_timer_s[:n], 0.0))
        for i in np.flatnonzero(inside & (self._vise_timer_s[:n] >= self.cell.machine_cycle_s)):
            raw_h = self.cell.parts["raw"].size_m[2]
            fin_h = self.cell.parts["finished"].size_m[2]
            quat = d.xquat[raw[i]].copy()
            xyz = d.xpos[raw[i]] - np.array([0.0, 0.0, (raw_h - fin_h) / 2.0])
            self._place_part(i, np.add(PARKING_XYZ_M, [0.2 * i, 0.5, 0.0]),
                             [1.0, 0.0, 0.0, 0.0], visible=False)
            self._place_part(n + i, xyz, quat, visible=True)
            self._vise_timer_s[i] = 0.0
            self._machined += 1
            mujoco.mj_forward(self.model, d)

    def _parts_in_outfeed(self) -> int:
        if self.cell is None or not self.object_names:
            return 0
        n = len(self.object_names) // 2
        p = self.data.xpos[self._part_body[n:]]                       # finished parts
        near = np.linalg.norm(p[:, None, :] - self._outfeed_xyz[None], axis=2).min(axis=1)
        free = self._visible[n:].copy()
        if self._held >= n:
            free[self._held - n] = False
        return int(np.count_nonzero(free & (near < _OUTFEED_TOLERANCE_M)))
