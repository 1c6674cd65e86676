"""Data exchanged between the walking controller core and whatever runs it (pure).

A node, a benchmark or a test fills :class:`Sensors` from the robot (``/joint_states``,
``sensor_msgs/Imu``, foot ``geometry_msgs/WrenchStamped``) and sends the
:class:`WalkingCommand` it gets back to the joints (position targets for a ros2_control
``JointGroupPositionController`` or the simulator's joint servos). Vectors are numpy arrays in
SI units; world frame z up (REP-103), quaternions ``(w, x, y, z)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

#: The biped's leg joints, in the order of every joint vector here.
LEG_JOINTS = tuple(f"{side}_{j}" for side in ("l", "r") for j in (
    "hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll"))


class Side(StrEnum):
    """Which foot."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        """The other foot."""
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


@dataclass(frozen=True)
class Sensors:
    """One control period's measurements."""

    t: float                       #: time [s] (sim time in simulation)
    q: np.ndarray                  #: joint positions [rad], order LEG_JOINTS
    dq: np.ndarray                 #: joint velocities [rad/s]
    imu_quat: np.ndarray           #: pelvis orientation in the world (w, x, y, z)
    imu_gyro: np.ndarray           #: pelvis angular velocity, pelvis frame [rad/s]
    imu_acc: np.ndarray            #: pelvis specific force, pelvis frame [m/s^2]
    left_wrench: np.ndarray        #: (fx, fy, fz, tx, ty, tz) on the left sole, sole frame [N, N m]
    right_wrench: np.ndarray       #: same for the right sole
    imu_valid: bool = True         #: False when the IMU stream was lost (stale)


class Mode(StrEnum):
    """Controller modes (the transition table is in :mod:`dg_motion.humanoid.controller`)."""

    STANDING = "standing"
    WALKING = "walking"
    STOPPING = "stopping"
    FALLEN = "fallen"          #: fall detected: crouch with soft joints, wait for a reset
    SAFE_STOP = "safe_stop"    #: sensors lost or bad: stop stepping, stand, say why


@dataclass(frozen=True)
class Footstep:
    """A planned foot placement: sole centre (x, y) on the ground [m], yaw [rad]."""

    side: Side
    x: float
    y: float
    yaw: float


@dataclass
class WalkingCommand:
    """What the controller sends to the joints, and its state for logs and plots."""

    q_target: np.ndarray                     #: joint position targets [rad], LEG_JOINTS order
    mode: Mode
    reason: str = ""                         #: why the mode is what it is (diagnostics)
    support: str = "double"                  #: "left", "right" or "double"
    com: np.ndarray = field(default_factory=lambda: np.zeros(3))        #: estimated [m]
    com_ref: np.ndarray = field(default_factory=lambda: np.zeros(3))
    zmp: np.ndarray = field(default_factory=lambda: np.zeros(2))        #: measured (feet F/T)
    zmp_ref: np.ndarray = field(default_factory=lambda: np.zeros(2))
    dcm: np.ndarray = field(default_factory=lambda: np.zeros(2))
    dcm_ref: np.ndarray = field(default_factory=lambda: np.zeros(2))
    support_polygon: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  #: (N, 2)
    footsteps: list[Footstep] = field(default_factory=list)  #: planned, not yet taken
