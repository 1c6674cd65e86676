"""The biped in MuJoCo: joint position servos at 1 kHz, IMU, foot F/T sensors, pushes (pure).

:class:`BipedSim` is the robot a walking controller drives: it takes 12 joint position
targets (``set_targets``, as a ros2_control ``JointGroupPositionController`` passes them to
the drives), integrates the physics with each joint's PD servo evaluated at every physics
step (``step``), and reads back what the robot's sensors measure (``sensors``: joint
encoders, pelvis IMU, the two sole force/torque sensors) and, for scoring only, the
ground truth (``truth``: pelvis pose and twist, centre of mass, ZMP from the contact
forces, fall flag). The model is built from the URDF (:mod:`dg_sim.humanoid.model`), so the
controller's Pinocchio model and the simulated robot have the same masses and kinematics;
the simulator shares no code with the controller.

Conventions: world frame = walking frame, x forward at the start, z up, ground at z = 0
(``terrain='steps'``: random height tiles, see :class:`dg_sim.humanoid.model.TerrainSpec`).
Quaternions ``(w, x, y, z)``. Foot wrenches are the force and moment the ground exerts on
the sole, in the sole frame, moment about the sole centre: ``fz > 0`` in stance. The IMU is
at the pelvis origin: orientation in the world, angular velocity and specific force
(``a - g``: +9.81 along the pelvis z when standing still) in the pelvis frame.

Fall: the pelvis (height above the ground under it) below half its standing height, or its
z axis tilted more than 45 deg from vertical. Latched until ``reset``: a fallen robot that
happens to bounce back is still a fall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from dg_sim.humanoid.model import (
    BipedMjcf,
    BipedModelError,
    TerrainSpec,
    build_biped_mjcf,
    read_servos,
)
from dg_sim.robot_files import dg_motion_robot_file

#: A pelvis this much lower than standing (fraction of the standing height) is a fall.
FALL_HEIGHT_FRACTION = 0.5
#: Pelvis tilt beyond which the robot has fallen [rad] (45 deg).
FALL_TILT_RAD = math.radians(45.0)
#: Total vertical contact force below which the robot is in flight (no ZMP) [N].
FLIGHT_FORCE_N = 5.0
#: Largest push the simulator accepts [N] (a 60 kg robot hit this hard is thrown, not pushed).
MAX_PUSH_N = 5000.0
#: Joint targets may exceed the URDF range by this much (rounding in a controller) [rad].
LIMIT_TOLERANCE_RAD = 1e-6


class BipedSimError(ValueError):
    """Invalid configuration or input to the simulator."""


@dataclass(frozen=True)
class BipedSensors:
    """The robot's sensors at one instant, SI units, quaternions ``(w, x, y, z)``.

    The fields of a walking controller's sensor record (``dg_motion.humanoid.types.Sensors``),
    which the simulator, never importing the system under test, does not use: an in-process
    loop builds that record from these fields.
    """

    t: float                       #: sim time [s]
    q: np.ndarray                  #: joint positions [rad], joint_names order
    dq: np.ndarray                 #: joint velocities [rad/s]
    imu_quat: np.ndarray           #: pelvis orientation in the world (w, x, y, z)
    imu_gyro: np.ndarray           #: pelvis angular velocity, pelvis frame [rad/s]
    imu_acc: np.ndarray            #: pelvis specific force, pelvis frame [m/s^2]
    left_wrench: np.ndarray        #: (fx, fy, fz, tx, ty, tz) on the left sole, sole frame
    right_wrench: np.ndarray       #: same for the right sole


def default_biped_dir() -> Path:
    """dg_motion's biped description folder: its installed share dir, else the source tree."""
    return dg_motion_robot_file("biped", "leg_servos.yaml").parent


@dataclass(frozen=True)
class BipedSimConfig:
    """What the simulator is built from; empty paths mean dg_motion's biped files."""

    urdf_path: str = ""
    servo_file: str = ""               #: default: leg_servos.yaml beside the URDF
    physics_dt_s: float = 0.001
    terrain: str = "flat"              #: "flat" or "steps"
    terrain_seed: int = 0
    step_height_m: float = 0.02        #: steps: tile heights uniform in [-h, +h]
    tile_m: float = 0.3                #: steps: tile side
    friction: float = 1.0              #: Coulomb coefficient, sole/ground
    seed: int = 0                      #: sensor noise stream
    gyro_noise_rad_s: float = 0.0      #: white noise std on each gyro axis
    acc_noise_mps2: float = 0.0        #: white noise std on each accelerometer axis
    wrench_noise_n: float = 0.0        #: white noise std on each F/T force axis (moments / 10)


@dataclass(frozen=True)
class Truth:
    """Ground truth (scoring and plots only: a real robot cannot measure it)."""

    t: float
    pelvis_pos: np.ndarray        #: world [m]
    pelvis_quat: np.ndarray       #: (w, x, y, z)
    pelvis_lin_vel: np.ndarray    #: world [m/s]
    pelvis_ang_vel: np.ndarray    #: world [rad/s]
    com: np.ndarray               #: world [m]
    com_vel: np.ndarray           #: world [m/s]
    zmp: np.ndarray | None        #: (x, y) on the ground from the contact forces; None in flight
    contact_force_n: float        #: total vertical ground force [N]
    fallen: bool


def _quat_yaw(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0)])


def _finite_vector(values: object, n: int, what: str) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise BipedSimError(f"{what}: expected {n} numbers, got {values!r}") from None
    if v.shape != (n,):
        raise BipedSimError(f"{what}: expected {n} values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise BipedSimError(f"{what}: non-finite values {v.tolist()}")
    return v


class BipedSim:
    """The simulated biped; see the module docstring."""

    def __init__(self, config: BipedSimConfig | None = None) -> None:
        cfg = config or BipedSimConfig()
        self.config = cfg
        urdf = Path(cfg.urdf_path) if cfg.urdf_path else default_biped_dir() / "biped.urdf"
        servo_file = Path(cfg.servo_file) if cfg.servo_file else urdf.parent / "leg_servos.yaml"
        if not (math.isfinite(cfg.physics_dt_s) and 0.0 < cfg.physics_dt_s <= 0.005):
            raise BipedSimError(f"physics_dt_s must be in (0, 0.005] s, got "
                                f"{cfg.physics_dt_s!r}")
        for name in ("gyro_noise_rad_s", "acc_noise_mps2", "wrench_noise_n"):
            v = getattr(cfg, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise BipedSimError(f"{name} must be finite and >= 0, got {v!r}")
        try:
            servos = read_servos(servo_file)
            self._joints = tuple(servos)
            terrain = TerrainSpec(kind=cfg.terrain, seed=cfg.terrain_seed,
                                  step_height_m=cfg.step_height_m, tile_m=cfg.tile_m)
            self.mjcf: BipedMjcf = build_biped_mjcf(
                urdf, servos, self._joints, timestep_s=cfg.physics_dt_s,
                friction=cfg.friction, terrain=terrain)
        except BipedModelError as exc:
            raise BipedSimError(str(exc)) from None
        self.model = mujoco.MjModel.from_xml_string(self.mjcf.xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in self._joints]
        self._qadr = np.array([m.jnt_qposadr[j] for j in jids])
        self._vadr = np.array([m.jnt_dofadr[j] for j in jids])
        self._root = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, self.mjcf.root_body)
        self._torso = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, self.mjcf.torso_body)
        self._sole_sites = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s)
                            for s in self.mjcf.sole_names]
        self._robot_geom = m.geom_bodyid > 0
        self._sens = {}
        for name in ("imu_quat", "imu_gyro", "imu_acc",
                     *(f"{s}_{k}" for s in self.mjcf.sole_names for k in ("force", "torque"))):
            sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, name)
            adr, dim = m.sensor_adr[sid], m.sensor_dim[sid]
            self._sens[name] = slice(adr, adr + dim)
        self._lower, self._upper = self.mjcf.lower.copy(), self.mjcf.upper.copy()
        self._tiles = self.mjcf.tiles
        self._noise = np.random.default_rng(cfg.seed)
        self._push_force = np.zeros(3)
        self._push_end_s = -math.inf
        self._fallen = False
        self._standing = self._solve_standing(0.4)
        self.reset(self._standing)
        self.standing_pelvis_height_m = float(self.data.qpos[2])

    # ------------------------------------------------------------------ model queries
    @property
    def joint_names(self) -> tuple[str, ...]:
        """Joint order of every vector here: the servo file's (``leg_servos.yaml``)."""
        return self._joints

    @property
    def total_mass_kg(self) -> float:
        """Mass of the robot [kg]."""
        return float(self.model.body_subtreemass[self._root])

    @property
    def t(self) -> float:
        """Simulation time [s] since the last reset."""
        return float(self.data.time)

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) joint positions [rad], joint_names order (the URDF's ranges)."""
        return self._lower.copy(), self._upper.copy()

    def standing_posture(self) -> np.ndarray:
        """A crouched standing posture: knees 0.4 rad, feet under the hips, pelvis level.

        The hip/ankle pitch split is solved so that the centre of mass is above the sole
        centres (a posture a controller can hold with the ZMP in the middle of the feet).
        """
        return self._standing.copy()

    def _solve_standing(self, knee: float) -> np.ndarray:
        """Hip pitch -knee/2 + d, ankle pitch -knee/2 - d (pelvis level), CoM x over soles."""
        def posture(d: float) -> np.ndarray:
            q = np.zeros(len(self._joints))
            for side in ("l", "r"):
                q[self._joints.index(f"{side}_hip_pitch")] = -knee / 2.0 + d
                q[self._joints.index(f"{side}_knee")] = knee
                q[self._joints.index(f"{side}_ankle_pitch")] = -knee / 2.0 - d
            return q

        def com_ahead(d: float) -> float:
            self._set_configuration(posture(d), np.zeros(3), np.array([1.0, 0, 0, 0]))
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_comPos(self.model, self.data)
            soles = np.mean([self.data.site_xpos[s] for s in self._sole_sites], axis=0)
            return float(self.data.subtree_com[self._root][0] - soles[0])

        lo, hi = -0.2, 0.2   # bisection: the CoM moves back as d grows (hips forward-bent)
        f_lo = com_ahead(lo)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            f_mid = com_ahead(mid)
            if (f_mid > 0.0) == (f_lo > 0.0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        return posture(0.5 * (lo + hi))

    # ------------------------------------------------------------------ terrain
    def ground_height(self, x: float, y: float) -> float:
        """Ground height [m] at (x, y): the tile there, else 0."""
        for tile in self._tiles:
            h = tile.size_m / 2.0
            if abs(x - tile.x_m) <= h and abs(y - tile.y_m) <= h:
                return tile.height_m
        return 0.0

    # ------------------------------------------------------------------ state
    def _set_configuration(self, q: np.ndarray, pos: np.ndarray, quat: np.ndarray) -> None:
        self.data.qpos[:] = 0.0
        self.data.qpos[0:3] = pos
        self.data.qpos[3:7] = quat
        self.data.qpos[self._qadr] = q
        self.data.qvel[:] = 0.0

    def reset(self, q_legs: Sequence[float] | np.ndarray,
              base_xy_yaw: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        """Place the robot at rest, pelvis level, both soles flat on the ground.

        The pelvis height is computed so that the higher of the two sole centres' ground
        points is touched (on flat ground: both). Servo targets are set to ``q_legs``.

        Raises:
            BipedSimError: non-finite or out-of-range joints, or a configuration whose soles
                are not parallel to the ground with a level pelvis (tilt > 0.02 rad).

        """
        q = self._check_joints(q_legs, "reset q_legs")
        x, y, yaw = _finite_vector(base_xy_yaw, 3, "reset base_xy_yaw")
        quat = _quat_yaw(float(yaw))
        self._set_configuration(q, np.array([x, y, 0.0]), quat)
        mujoco.mj_kinematics(self.model, self.data)
        ground = []
        for s in self._sole_sites:
            z_axis = self.data.site_xmat[s].reshape(3, 3)[:, 2]
            if math.acos(min(1.0, z_axis[2])) > 0.02:
                raise BipedSimError("reset: with a level pelvis the soles are not flat "
                                    f"(sole z axis {z_axis.round(3).tolist()})")
            p = self.data.site_xpos[s]
            ground.append(self.ground_height(p[0], p[1]) - p[2])
        self._set_configuration(q, np.array([x, y, max(ground)]), quat)
        self.data.time = 0.0
        self.data.ctrl[:] = q
        self.data.qacc_warmstart[:] = 0.0
        self._push_force = np.zeros(3)
        self._push_end_s = -math.inf
        self.data.xfrc_applied[:] = 0.0
        self._fallen = False
        mujoco.mj_forward(self.model, self.data)

    def _check_joints(self, values: object, what: str) -> np.ndarray:
        q = _finite_vector(values, len(self._joints), what)
        bad = (q < self._lower - LIMIT_TOLERANCE_RAD) | (q > self._upper + LIMIT_TOLERANCE_RAD)
        if np.any(bad):
            names = [f"{self._joints[i]}={q[i]:.4f} not in [{self._lower[i]:.4f}, "
                     f"{self._upper[i]:.4f}]" for i in np.flatnonzero(bad)]
            raise BipedSimError(f"{what}: outside the joint limits: {', '.join(names)}")
        return np.clip(q, self._lower, self._upper)

    def set_targets(self, q: Sequence[float] | np.ndarray) -> None:
        """Joint position targets [rad], joint_names order, held until the next call.

        Raises:
            BipedSimError: not 12 values, a non-finite value, or one outside the joint
                limits; the previous targets stay (nothing non-finite reaches a joint).

        """
        self.data.ctrl[:] = self._check_joints(q, "set_targets")

    def targets(self) -> np.ndarray:
        """The current joint position targets [rad]."""
        return self.data.ctrl.copy()

    def push(self, force_world: Sequence[float], duration_s: float) -> None:
        """Push the torso (at its centre of mass) with ``force_world`` [N] from now on.

        Raises:
            BipedSimError: non-finite force or duration, duration <= 0, force > MAX_PUSH_N.

        """
        f = _finite_vector(force_world, 3, "push force_world")
        if not (math.isfinite(duration_s) and duration_s > 0.0):
            raise BipedSimError(f"push duration_s must be finite and > 0, got {duration_s!r}")
        if np.linalg.norm(f) > MAX_PUSH_N:
            raise BipedSimError(f"push force {np.linalg.norm(f):.0f} N exceeds {MAX_PUSH_N} N")
        self._push_force = f
        self._push_end_s = self.data.time + duration_s

    @property
    def pushing(self) -> bool:
        """Whether a push is being applied now."""
        return self.data.time < self._push_end_s - 1e-9

    def step(self, duration_s: float) -> None:
        """Integrate ``duration_s`` [s] (a whole number of physics steps, at least one).

        The servos act at every physics step: ``tau = clip(kp (target - q) - kd dq,
        +-effort)``.

        Raises:
            BipedSimError: a duration that is not a positive multiple of the physics step.

        """
        dt = self.model.opt.timestep
        if not math.isfinite(duration_s) or duration_s <= 0.0:
            raise BipedSimError(f"step duration_s must be finite and > 0, got {duration_s!r}")
        n = int(round(duration_s / dt))
        if n < 1 or abs(n * dt - duration_s) > 1e-6 * max(1.0, duration_s):
            raise BipedSimError(f"step duration_s {duration_s!r} is not a multiple of the "
                                f"physics step {dt} s")
        while n > 0:
            if self.pushing:
                k = max(1, min(n, int(math.ceil((self._push_end_s - self.data.time) / dt
                                                - 1e-9))))
                self.data.xfrc_applied[self._torso, :3] = self._push_force
            else:
                k = n
                self.data.xfrc_applied[self._torso, :3] = 0.0
            mujoco.mj_step(self.model, self.data, nstep=k)
            n -= k
        self.data.xfrc_applied[self._torso, :3] = self._push_force if self.pushing else 0.0
        # derived quantities (sensors, contacts, CoM) for the state just reached
        mujoco.mj_forward(self.model, self.data)
        self._update_fallen()

    # ------------------------------------------------------------------ measurements
    def _sensor(self, name: str) -> np.ndarray:
        return self.data.sensordata[self._sens[name]].copy()

    def _wrench(self, sole: str) -> np.ndarray:
        # MuJoCo's force/torque sensor gives what the sole body exerts on its parent (the
        # foot), i.e. the ground's action on the massless sole body carried up to the foot;
        # the ground's force on the sole is its opposite (checked against the contact
        # forces in the tests: sum fz = m g standing).
        w = -np.concatenate([self._sensor(f"{sole}_force"), self._sensor(f"{sole}_torque")])
        if self.config.wrench_noise_n > 0.0:
            s = self.config.wrench_noise_n
            w += self._noise.normal(0.0, [s, s, s, s / 10, s / 10, s / 10])
        return w

    def sensors(self) -> BipedSensors:
        """Joint encoders, pelvis IMU and sole F/T sensors now."""
        cfg = self.config
        gyro, acc = self._sensor("imu_gyro"), self._sensor("imu_acc")
        if cfg.gyro_noise_rad_s > 0.0:
            gyro += self._noise.normal(0.0, cfg.gyro_noise_rad_s, 3)
        if cfg.acc_noise_mps2 > 0.0:
            acc += self._noise.normal(0.0, cfg.acc_noise_mps2, 3)
        quat = self._sensor("imu_quat")
        quat /= np.linalg.norm(quat)
        left, right = (self._wrench(s) for s in self.mjcf.sole_names)
        return BipedSensors(t=self.t, q=self.data.qpos[self._qadr].copy(),
                       dq=self.data.qvel[self._vadr].copy(), imu_quat=quat, imu_gyro=gyro,
                       imu_acc=acc, left_wrench=left, right_wrench=right)

    def pelvis_rotation(self) -> np.ndarray:
        """True 3x3 rotation of the pelvis in the world."""
        return self.data.xmat[self._root].reshape(3, 3).copy()

    def joint_torques(self) -> np.ndarray:
        """Servo torques [N m] applied at the last physics step (after the effort clip)."""
        return self.data.actuator_force.copy()

    def sole_poses(self) -> list[np.ndarray]:
        """True 4x4 world poses of the soles (left, right)."""
        out = []
        for s in self._sole_sites:
            t = np.eye(4)
            t[:3, :3] = self.data.site_xmat[s].reshape(3, 3)
            t[:3, 3] = self.data.site_xpos[s]
            out.append(t)
        return out

    def contact_wrench_world(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Ground force on the robot, its moment about the world origin, contact height.

        Returns (force (3) [N], moment (3) [N m], force-weighted contact height z [m]).
        """
        force, moment, fz_z = np.zeros(3), np.zeros(3), 0.0
        f6 = np.zeros(6)
        for i in range(self.data.ncon):
            con = self.data.contact[i]
            r1, r2 = self._robot_geom[con.geom1], self._robot_geom[con.geom2]
            if r1 == r2:
                continue
            mujoco.mj_contactForce(self.model, self.data, i, f6)
            # f6 in the contact frame (rows of con.frame: normal, tangents), the force of
            # geom1 on geom2; the robot's share has the sign that makes it the ground's push
            f = con.frame.reshape(3, 3).T @ f6[:3]
            if r1:
                f = -f
            force += f
            moment += np.cross(con.pos, f)
            fz_z += f[2] * con.pos[2]
        z = fz_z / force[2] if force[2] > FLIGHT_FORCE_N else 0.0
        return force, moment, z

    def truth(self) -> Truth:
        """Ground truth now (see :class:`Truth`)."""
        d = self.data
        mujoco.mj_subtreeVel(self.model, d)
        rot = d.xmat[self._root].reshape(3, 3)
        force, moment, z0 = self.contact_wrench_world()
        zmp = None
        if force[2] > FLIGHT_FORCE_N:
            # point of the plane z = z0 about which the contact moment has no x/y part
            zmp = np.array([(z0 * force[0] - moment[1]) / force[2],
                            (moment[0] + z0 * force[1]) / force[2]])
        return Truth(t=self.t, pelvis_pos=d.qpos[0:3].copy(), pelvis_quat=d.qpos[3:7].copy(),
                     pelvis_lin_vel=d.qvel[0:3].copy(), pelvis_ang_vel=rot @ d.qvel[3:6],
                     com=d.subtree_com[self._root].copy(),
                     com_vel=d.subtree_linvel[self._root].copy(), zmp=zmp,
                     contact_force_n=float(force[2]), fallen=self._fallen)

    def _update_fallen(self) -> None:
        if self._fallen:
            return
        p = self.data.qpos[0:3]
        z_axis = self.data.xmat[self._root].reshape(3, 3)[:, 2]
        height = p[2] - self.ground_height(p[0], p[1])
        if height < FALL_HEIGHT_FRACTION * self.standing_pelvis_height_m \
                or math.acos(max(-1.0, min(1.0, z_axis[2]))) > FALL_TILT_RAD:
            self._fallen = True
