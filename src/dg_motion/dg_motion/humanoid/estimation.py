"""State estimation of the biped from what it measures: leg odometry, CoM, contacts, ZMP.

A walking robot knows its joint angles exactly, its orientation from the IMU (roll and pitch
well, yaw drifting without a magnetometer) and the forces under its feet. It does not know
where its pelvis is in the world: that comes from the legs. A foot in stance does not move, so
the pelvis is wherever the leg chain puts it relative to that foot (the "kinematic-inertial"
estimator of humanoid stabilizers, e.g. S. Caron et al., "Stair Climbing Stabilization of the
HRP-4 Humanoid Robot using Whole-body Admittance Control", ICRA 2019, section on state
estimation). Each update:

1. Contacts from each sole's normal force with hysteresis (:class:`ContactDetector`): on above
   ``contact_on_fraction`` of the weight, off below ``contact_off_fraction``; a foot landing
   with a little bounce does not flicker between stance and swing.
2. Pelvis orientation: roll and pitch from the IMU, yaw from the stance feet through the leg
   kinematics (the sole does not turn while it carries the robot; the IMU's yaw would drift on
   hardware). ``yaw_from_imu`` takes the IMU's yaw instead; an invalid IMU leaves the whole
   orientation to the kinematics (stance sole assumed flat).
3. Pelvis position: each foot in contact gives ``p = p_sole_world - R p_sole_in_pelvis``; two
   feet are blended by their normal forces, so the estimate passes smoothly from one stance
   foot to the other through double support. In flight the pelvis coasts at the last velocity.
4. Anchors: a sole's world pose (x, y, z, yaw; flat) is set when it touches down, from the
   estimate of that instant, and kept while it stays in contact.
5. CoM from the kinematics; its velocity by finite differences (both positions located from
   the same stance feet with the same weights: a touch-down or a shift of weight between the
   feet is not a jump of the CoM) through a first-order low-pass filter
   (``com_velocity_cutoff_hz``); in flight it coasts.
6. Measured ZMP from both sole wrenches (:func:`zmp_from_wrenches`), None in flight.
"""

# Rotations and transforms keep the textbook capitals (R, T).
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.types import Footstep, Sensors, Side


class Kinematics(Protocol):
    """What the estimator needs from the robot model (:class:`WholeBodyIK` provides it)."""

    mass_kg: float

    def forward(self, q: np.ndarray, base_pose: np.ndarray | None = None) -> tuple:
        """CoM (3) and left, right sole poses (4x4) in the frame of ``base_pose``."""


@dataclass(frozen=True)
class EstimatorConfig:
    """Thresholds and filters of :class:`LegOdometry`."""

    #: A sole is in contact above this fraction of the robot's weight [1] ...
    contact_on_fraction: float = 0.15
    #: ... and leaves contact below this one (hysteresis band in between).
    contact_off_fraction: float = 0.05
    #: Below this fraction of the weight on both feet together there is no ZMP (flight).
    zmp_min_fraction: float = 0.05
    #: Cut-off of the CoM velocity's first-order low-pass filter [Hz]. At 200 Hz finite
    #: differences of a kinematic CoM carry the joint encoders' quantisation; 20 Hz keeps the
    #: lag (8 ms) small against the LIPM's time constant 1/omega (~0.29 s at z_c 0.8 m).
    com_velocity_cutoff_hz: float = 20.0
    #: Take the pelvis yaw from the IMU rather than from the stance feet.
    yaw_from_imu: bool = False
    g: float = 9.81

    def __post_init__(self) -> None:
        """Reject inconsistent thresholds."""
        for name in ("contact_on_fraction", "contact_off_fraction", "zmp_min_fraction",
                     "com_velocity_cutoff_hz", "g"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0.0:
                raise MotionInputError(f"EstimatorConfig.{name} must be finite and > 0, "
                                       f"got {value}")
        if self.contact_off_fraction >= self.contact_on_fraction:
            raise MotionInputError("EstimatorConfig: contact_off_fraction must be below "
                                   "contact_on_fraction (hysteresis)")


class ContactDetector:
    """Per-foot contact from the normal force, with hysteresis (on > ``on_n``, off < ``off_n``)."""

    def __init__(self, on_n: float, off_n: float) -> None:
        """Thresholds [N]; ``off_n < on_n``."""
        if not (0.0 <= off_n < on_n) or not math.isfinite(on_n):
            raise MotionInputError(f"ContactDetector: need 0 <= off_n < on_n, got {off_n}, "
                                   f"{on_n}")
        self.on_n, self.off_n = float(on_n), float(off_n)
        self.state = {Side.LEFT: False, Side.RIGHT: False}

    def reset(self, left: bool, right: bool) -> None:
        """Set the contact states (e.g. both feet on the ground at start)."""
        self.state = {Side.LEFT: bool(left), Side.RIGHT: bool(right)}

    def update(self, fz_left: float, fz_right: float) -> tuple[bool, bool]:
        """New contact states (left, right) from the soles' normal forces [N]."""
        for side, fz in ((Side.LEFT, fz_left), (Side.RIGHT, fz_right)):
            if self.state[side]:
                self.state[side] = fz >= self.off_n
            else:
                self.state[side] = fz > self.on_n
        return self.state[Side.LEFT], self.state[Side.RIGHT]


def quat_to_matrix(quat: np.ndarray | tuple | list) -> np.ndarray:
    """Rotation matrix of a quaternion ``(w, x, y, z)`` (normalised here).

    Raises:
        MotionInputError: not 4 finite values, or zero norm.

    """
    qa = np.asarray(quat, dtype=float).reshape(-1)
    n = float(np.linalg.norm(qa)) if qa.shape == (4,) else 0.0
    if not math.isfinite(n) or n < 1e-9:
        raise MotionInputError(f"quaternion: expected 4 finite values (w, x, y, z) with a "
                               f"non-zero norm, got {np.asarray(quat)!r}")
    w, x, y, z = qa / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def yaw_of(R: np.ndarray) -> float:
    """Heading [rad] of a rotation (z-y-x Euler yaw: the direction of its x axis)."""
    return math.atan2(R[1, 0], R[0, 0])


def rot_z(yaw: float) -> np.ndarray:
    """Rotation about z by ``yaw`` [rad]."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def flat_pose(T: np.ndarray) -> np.ndarray:
    """``T`` with its roll and pitch removed (same position and yaw): a sole lying flat."""
    out = np.eye(4)
    out[:3, :3] = rot_z(yaw_of(T[:3, :3]))
    out[:3, 3] = T[:3, 3]
    return out


def zmp_from_wrenches(wrenches: list[np.ndarray], sole_poses: list[np.ndarray],
                      min_fz_n: float, plane_z: float | None = None) -> np.ndarray | None:
    """Zero-moment point (x, y) in the world from sole wrenches, or None when unloaded.

    Each wrench ``(fx, fy, fz, tx, ty, tz)`` is the ground's action on a sole, in the sole
    frame about the sole origin (on the contact surface). They are summed in the world about
    the origin, ``f = sum R_i f_i``, ``tau = sum (R_i tau_i + p_i x R_i f_i)``, and the ZMP
    is the point of the plane ``z = h`` about which the horizontal moment vanishes:
    ``px = (h fx - tau_y) / fz``, ``py = (h fy + tau_x) / fz`` (one flat foot at the origin:
    ``px = -tau_y / fz``, ``py = tau_x / fz``). ``h`` defaults to the force-weighted height
    of the loaded soles. Soles with ``fz <= 0`` take no part.
    """
    f_sum = np.zeros(3)
    tau_sum = np.zeros(3)
    h_num = fz_total = 0.0
    for w, T in zip(wrenches, sole_poses, strict=True):
        w = np.asarray(w, dtype=float)
        if w[2] <= 0.0:
            continue
        R, p = T[:3, :3], T[:3, 3]
        f = R @ w[:3]
        f_sum += f
        tau_sum += R @ w[3:6] + [p[1] * f[2] - p[2] * f[1], p[2] * f[0] - p[0] * f[2],
                                         p[0] * f[1] - p[1] * f[0]]   # p x f
        h_num += w[2] * p[2]
        fz_total += w[2]
    if fz_total <= 0.0 or f_sum[2] < min_fz_n:
        return None
    h = h_num / fz_total if plane_z is None else plane_z
    return np.array([(h * f_sum[0] - tau_sum[1]) / f_sum[2],
                     (h * f_sum[1] + tau_sum[0]) / f_sum[2]])


@dataclass(frozen=True)
class EstimatedState:
    """One period's estimate, all in the world frame."""

    t: float
    base_pose: np.ndarray          #: pelvis pose (4x4)
    com: np.ndarray                #: CoM position [m] (3)
    com_vel: np.ndarray            #: CoM velocity [m/s] (3), low-pass filtered
    zmp: np.ndarray | None         #: measured ZMP (x, y) [m], None in flight
    left_contact: bool
    right_contact: bool
    left_sole: np.ndarray          #: sole poses (4x4) from the kinematics
    right_sole: np.ndarray
    touchdown: Side | None = None  #: the foot that landed in this period, if any

    def dcm(self, omega: float) -> np.ndarray:
        """Divergent component of motion (x, y) ``com + com_vel / omega`` [m]."""
        return self.com[:2] + self.com_vel[:2] / omega

    def footstep(self, side: Side) -> Footstep:
        """That sole as a :class:`Footstep` (centre x, y and yaw; its height dropped)."""
        T = self.left_sole if side is Side.LEFT else self.right_sole
        return Footstep(side, float(T[0, 3]), float(T[1, 3]), yaw_of(T[:3, :3]))

    @property
    def support(self) -> str:
        """``"double"``, ``"left"``, ``"right"`` or ``"none"`` (flight)."""
        if self.left_contact and self.right_contact:
            return "double"
        if self.left_contact:
            return "left"
        return "right" if self.right_contact else "none"


def _check_sensors(s: Sensors) -> None:
    for name in ("q", "imu_quat", "left_wrench", "right_wrench"):
        value = np.asarray(getattr(s, name), dtype=float)
        if not np.isfinite(value).all():
            raise MotionInputError(f"sensors.{name}: non-finite values")
    if not math.isfinite(s.t):
        raise MotionInputError("sensors.t: non-finite time")


class LegOdometry:
    """Floating-base pose, CoM, contacts and ZMP from joints, IMU and foot wrenches."""

    def __init__(self, kinematics: Kinematics, config: EstimatorConfig | None = None) -> None:
        """``kinematics``: the robot model (``forward(q, base_pose)``, ``mass_kg``)."""
        self.kin = kinematics
        self.config = config or EstimatorConfig()
        weight = kinematics.mass_kg * self.config.g
        self.contacts = ContactDetector(self.config.contact_on_fraction * weight,
                                        self.config.contact_off_fraction * weight)
        self._zmp_min_n = self.config.zmp_min_fraction * weight
        self._anchor: dict[Side, np.ndarray] = {}
        self._anchor_used: dict[Side, np.ndarray] = {}
        #: previous period's CoM and soles in the pelvis frame, and pelvis rotation
        self._prev: tuple[np.ndarray, dict[Side, np.ndarray], np.ndarray] | None = None
        self.state: EstimatedState | None = None

    def reset(self, q: np.ndarray, imu_quat: np.ndarray,
              base_xy_yaw: tuple[float, float, float] = (0.0, 0.0, 0.0),
              ground_z: float = 0.0, t: float = 0.0) -> EstimatedState:
        """Start standing on both feet on the ground ``z = ground_z``.

        ``base_xy_yaw`` is the pelvis (x, y, heading), as the simulator's ``reset`` takes it;
        the pelvis tilt is the IMU's, its height what puts the soles on the ground.
        """
        q = np.asarray(q, dtype=float)
        R_imu = quat_to_matrix(imu_quat)
        x, y, yaw = (float(v) for v in base_xy_yaw)
        if not all(math.isfinite(v) for v in (x, y, yaw, ground_z, t)) \
                or not np.isfinite(q).all():
            raise MotionInputError("LegOdometry.reset: non-finite input")
        R = rot_z(yaw) @ rot_z(-yaw_of(R_imu)) @ R_imu
        base = np.eye(4)
        base[:3, :3] = R
        _, left, right = self.kin.forward(q, base)
        base[:3, 3] = [x, y, ground_z - 0.5 * (left[2, 3] + right[2, 3])]
        com, left, right = self.kin.forward(q, base)
        self._anchor = {Side.LEFT: flat_pose(left), Side.RIGHT: flat_pose(right)}
        self.contacts.reset(True, True)
        com_b, left_b, right_b = self.kin.forward(q)
        self._prev = (com_b, {Side.LEFT: left_b, Side.RIGHT: right_b}, R)
        self.state = EstimatedState(float(t), base, com, np.zeros(3), None, True, True,
                                    left, right)
        return self.state

    def update(self, sensors: Sensors) -> EstimatedState:
        """One period's estimate (``reset`` first).

        Raises:
            MotionInputError: non-finite sensors; called before ``reset``.

        """
        if self.state is None:
            raise MotionInputError("LegOdometry.update called before reset()")
        _check_sensors(sensors)
        prev = self.state
        q = np.asarray(sensors.q, dtype=float)
        wl = np.asarray(sensors.left_wrench, dtype=float)
        wr = np.asarray(sensors.right_wrench, dtype=float)
        # 1. contacts
        was = {Side.LEFT: prev.left_contact, Side.RIGHT: prev.right_contact}
        left_c, right_c = self.contacts.update(wl[2], wr[2])
        now = {Side.LEFT: left_c, Side.RIGHT: right_c}
        fz = {Side.LEFT: max(wl[2], 0.0), Side.RIGHT: max(wr[2], 0.0)}
        # Feet that carried the robot already (anchored) locate the pelvis; a foot landing
        # now is anchored from that estimate afterwards.
        stance = [s for s in Side if now[s] and was[s] and s in self._anchor]
        touchdown = next((s for s in Side if now[s] and not was[s]), None)
        com_b, left_b, right_b = self.kin.forward(q)      # in the pelvis frame
        in_base = {Side.LEFT: left_b, Side.RIGHT: right_b}
        dt = sensors.t - prev.t
        # 2. orientation
        R_imu = quat_to_matrix(sensors.imu_quat) if sensors.imu_valid else None
        if stance:
            weights = np.array([fz[s] for s in stance]) + 1e-9
            yaws = [yaw_of(self._anchor[s][:3, :3] @ in_base[s][:3, :3].T) for s in stance]
            yaw_kin = math.atan2(float(weights @ np.sin(yaws)), float(weights @ np.cos(yaws)))
        else:
            yaw_kin = yaw_of(prev.base_pose[:3, :3])
        if R_imu is None:
            s0 = stance[0] if stance else None
            R = (self._anchor[s0][:3, :3] @ in_base[s0][:3, :3].T if s0 is not None
                 else prev.base_pose[:3, :3])
        elif self.config.yaw_from_imu:
            R = R_imu
        else:
            R = rot_z(yaw_kin) @ rot_z(-yaw_of(R_imu)) @ R_imu
        # 3. position
        base = np.eye(4)
        base[:3, :3] = R
        if stance:
            weights = np.array([fz[s] for s in stance]) + 1e-9
            points = [self._anchor[s][:3, 3] - R @ in_base[s][:3, 3] for s in stance]
            base[:3, 3] = (weights @ np.array(points)) / weights.sum()
        else:
            base[:3, 3] = prev.base_pose[:3, 3] + prev.com_vel * max(dt, 0.0)
        com = R @ com_b + base[:3, 3]
        left, right = base @ left_b, base @ right_b
        soles = {Side.LEFT: left, Side.RIGHT: right}
        self._anchor_used = dict(self._anchor)
        # 4. anchors: set at touch-down, dropped at lift-off
        for s in Side:
            if now[s] and (not was[s] or s not in self._anchor):
                self._anchor[s] = flat_pose(soles[s])
            elif not now[s]:
                self._anchor.pop(s, None)
        # 5. CoM velocity: both CoM positions through the same anchors and weights, so that
        #    a change of stance feet or of their weights is no jump of the CoM
        raw_vel = None
        if dt > 0.0 and stance and self._prev is not None:
            q_com_b, q_in_base, R_prev = self._prev
            weights = np.array([fz[s] for s in stance]) + 1e-9
            p_prev = sum(w * (self._anchor_used[s][:3, 3] - R_prev @ q_in_base[s][:3, 3])
                         for w, s in zip(weights, stance, strict=True)) / weights.sum()
            raw_vel = (com - (R_prev @ q_com_b + p_prev)) / dt
        if raw_vel is not None:
            tau = 1.0 / (2.0 * math.pi * self.config.com_velocity_cutoff_hz)
            alpha = dt / (dt + tau)
            com_vel = prev.com_vel + alpha * (raw_vel - prev.com_vel)
        else:
            com_vel = prev.com_vel          # flight, or the first period: coast
        self._prev = (com_b, in_base, R)
        # 6. ZMP
        zmp = zmp_from_wrenches([wl, wr], [left, right], self._zmp_min_n)
        self.state = EstimatedState(float(sensors.t), base, com, com_vel, zmp, left_c, right_c,
                                    left, right, touchdown)
        return self.state
