"""The walking controller: commands and sensors in, joint position targets out (pure).

Every control period (``dt_s``, 5 ms) :meth:`WalkingController.update` runs, in this order:

1. check the measurements (finite joint states and IMU, IMU not lost): a bad period is an
   event of the state machine, and the last good targets are held;
2. estimate the floating base, the centre of mass (CoM), its velocity, the measured
   zero-moment point (ZMP) and the feet in contact (:class:`~.estimation.LegOdometry`);
3. detect a fall (pelvis tilt or CoM height beyond the limits);
4. advance the walking pattern (:class:`~.pattern.WalkingPattern`: footsteps → ZMP
   reference → CoM by ZMP preview control, swing-foot trajectories);
5. balance: divergent component of motion (DCM) feedback on the pattern, CoM admittance on
   the ZMP error, ankle and hip strategies, and, when the wanted ZMP leaves the support
   polygon in single support, step adjustment of the swing foot's landing
   (:mod:`~.balance`);
6. the feet's ground heights: where each foot landed, and a landed foot that has not yet
   felt the ground searching lower (late contact);
7. whole-body inverse kinematics from the corrected CoM, the pelvis orientation and the feet
   to the 12 joint targets (:class:`~.whole_body_ik.WholeBodyIK`), clamped into the joint
   limits; a non-finite or failed solution is never sent: the last targets are held.

Modes are an explicit state machine (:data:`TRANSITIONS`, drawn in the package README):
velocity commands and goals start walking, a stop (or a zero velocity) closes the feet,
a lost IMU or bad joint states stop stepping safely, a fall crouches and waits for a reset.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from dg_common import state_machine as machine
from dg_common.geometry import wrap_angle
from dg_motion.errors import MotionInputError
from dg_motion.humanoid.balance import Stabilizer, StabilizerConfig, StepAdjuster, omega
from dg_motion.humanoid.estimation import EstimatedState, EstimatorConfig, LegOdometry
from dg_motion.humanoid.footsteps import (
    FootstepError,
    FootstepLimits,
    clamp_velocity,
    compose,
    mid_pose,
    plan_to_goal,
    plan_velocity,
    relative_pose,
)
from dg_motion.humanoid.pattern import PatternSample, WalkingPattern, WalkTiming
from dg_motion.humanoid.types import (
    LEG_JOINTS,
    Footstep,
    Mode,
    Sensors,
    Side,
    WalkingCommand,
)
from dg_motion.humanoid.whole_body_ik import WholeBodyIK
from dg_motion.robots.paths import robot_file


@dataclass(frozen=True)
class ControllerConfig:
    """Parameters of the walking controller (node parameters of the same names)."""

    urdf_path: str = ""                    #: '' = the biped of dg_motion
    dt_s: float = 0.005                    #: control period [s]
    com_height_m: float = 0.80             #: CoM height while walking [m]
    foot_width_m: float = 0.192            #: distance between the sole centres at rest [m]
    #: Step timing and length: 0.27 m per 0.65 s (0.42 m/s). On the simulated biped
    #: (bench/humanoid_walk.py, 10 m and a quarter turn, 5 seeds) 0.27 m and 0.285 m steps
    #: stood at the goal every time, 0.30 m fell once; single support 0.45 s walked faster
    #: but fell turning in place.
    single_support_s: float = 0.5
    double_support_s: float = 0.15
    swing_height_m: float = 0.05
    preview_s: float = 1.6
    #: Turn per step [rad]: on the simulated biped a 0.6 rad turn in place fell at 0.2 rad per
    #: step (the swing foot meets the stance foot) and succeeded at 0.15.
    max_step_yaw_rad: float = 0.15
    max_step_length_m: float = 0.27        #: forward step length [m]
    steps_ahead: int = 4                   #: footsteps kept planned in velocity mode
    #: DCM error decay rate (Englsberger 2015) [1/s]; on the simulated biped at 0.3 m/s,
    #: 3.0 fell within 7 s, 2.0 within 10 s, 1.5 walked 20 s (dg_sim humanoid, flat ground).
    k_dcm: float = 1.5
    #: CoM admittance on the ZMP error [1/s], below omega (~3.5/s) as the stabilizer wants:
    #: on the simulated biped at 0.3 m/s the measured ZMP followed the desired one to 6.4 cm
    #: RMS at 1/s, 2.7 cm at 3/s (the swing leg's inertia, which the cart-table model lacks).
    k_zmp: float = 3.0
    max_com_offset_m: float = 0.04         #: bound of the admittance's CoM offset [m]
    #: Step adjustment of the swing foot's landing. Off by default: on the simulated biped at
    #: 0.3 m/s it turned a 20 s walk into a fall after 7 s (the steps after an adjusted
    #: landing are shifted, not re-planned).
    step_adjustment: bool = False
    #: Foot damping control of the ankles: on +-2 cm steps (dg_sim terrain 'steps', 5 seeds,
    #: 0.3 m/s for 11 s) 0 of 5 walks stayed up without it, 3 of 5 with it.
    ankle_strategy: bool = True
    hip_strategy: bool = True              #: pelvis pitch/roll when the ankles saturate
    balance: bool = True                   #: the stabilizer (False: the pattern open loop)
    tilt_limit_rad: float = 0.6            #: pelvis tilt beyond this is a fall
    com_height_min_m: float = 0.45         #: CoM below this is a fall [m]
    max_goal_distance_m: float = 50.0
    crouch_knee_rad: float = 1.2           #: knee angle of the crouch after a fall
    #: Velocity mode without a turn command keeps the heading it started with: feet slip a
    #: little in yaw at every step (0.4 rad in 15 s on the simulated biped at 0.3 m/s),
    #: corrected by this turn rate per radian of heading error [1/s], at most 0.2 rad/s.
    heading_gain: float = 0.5

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> ControllerConfig:
        """From node parameters (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def urdf(self) -> Path:
        """The robot description used by the IK and the estimator."""
        return Path(self.urdf_path) if self.urdf_path else robot_file("biped", "biped.urdf")


@dataclass(frozen=True)
class PlanFrame:
    """Pose of the walking pattern's frame in the walking (world) frame.

    The pattern plans where the feet should land; a foot lands a little elsewhere (it slips,
    the ground is uneven, step adjustment). At each touch-down the controller moves this frame
    so that the pattern's foot lies where the estimator measured it, so the balance feedback
    compares the CoM with the feet the robot really stands on, and goals (given in the world)
    are planned from where the robot really is.
    """

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def rotation(self) -> np.ndarray:
        """2x2 rotation plan -> world."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s], [s, c]])

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """A plan-frame point (x, y[, z]) in the world (z unchanged)."""
        p = np.asarray(p, dtype=float)
        out = p.copy()
        out[..., :2] = p[..., :2] @ self.rotation().T + [self.x, self.y]
        return out

    def to_plan(self, p: np.ndarray) -> np.ndarray:
        """A world point (x, y[, z]) in the plan frame (z unchanged)."""
        p = np.asarray(p, dtype=float)
        out = p.copy()
        out[..., :2] = (p[..., :2] - [self.x, self.y]) @ self.rotation()
        return out

    def step_to_world(self, f: Footstep) -> Footstep:
        """A footstep of the plan in the world."""
        return compose((self.x, self.y, self.yaw), f.x, f.y, f.yaw, f.side)

    def step_to_plan(self, f: Footstep) -> Footstep:
        """A world footstep in the plan frame."""
        dx, dy, dyaw = relative_pose(Footstep(f.side, self.x, self.y, self.yaw), f)
        return Footstep(f.side, dx, dy, dyaw)

    def offset_from(self, other: PlanFrame) -> tuple[float, float]:
        """Distance [m] and absolute yaw difference [rad] to ``other``."""
        return (math.hypot(self.x - other.x, self.y - other.y),
                abs(wrap_angle(self.yaw - other.yaw)))

    @staticmethod
    def matching(planned: Footstep, measured: Footstep) -> PlanFrame:
        """The frame in which ``planned`` (plan frame) is ``measured`` (world)."""
        yaw = wrap_angle(measured.yaw - planned.yaw)
        c, s = math.cos(yaw), math.sin(yaw)
        return PlanFrame(measured.x - (c * planned.x - s * planned.y),
                         measured.y - (s * planned.x + c * planned.y), yaw)


#: A goal is re-planned after a touch-down that moved the plan frame this far since the last
#: plan [m, rad]: landing errors of a few millimetres are left to the balance feedback.
REPLAN_OFFSET_M = 0.05
REPLAN_YAW_RAD = 0.1
#: ... but not once fewer steps than this are left: the stop is then within the preview, and
#: a re-plan that adds steps to it leaves the CoM no time to swing over (on the simulated
#: biped two steps added 0.6 s before the stop toppled it over the other foot). A goal missed
#: by more than ``REPLAN_OFFSET_M`` / ``REPLAN_YAW_RAD`` is walked to again once the feet are
#: together, at most ``MAX_GOAL_CORRECTIONS`` times.
REPLAN_MIN_STEPS_LEFT = 2
MAX_GOAL_CORRECTIONS = 2
#: A touch-down counts as the landing of the step within this time of the planned one [s].
LANDING_WINDOW_S = 0.1
#: Largest believed landing error (a bigger one is a misdetected contact) [m, rad].
MAX_REANCHOR_M = 0.1
MAX_REANCHOR_RAD = 0.2
#: Late contact (the ground lower than the plan's): in the double support after a swing, a
#: foot that has not felt the ground after ``LATE_CONTACT_DELAY_S`` goes on down at
#: ``LATE_CONTACT_SPEED_MPS``, at most ``MAX_LATE_CONTACT_M`` below where it should have
#: landed, until its sole feels the ground (the touch-down then measures the new height).
LATE_CONTACT_DELAY_S = 0.02
LATE_CONTACT_SPEED_MPS = 0.35
MAX_LATE_CONTACT_M = 0.04
#: A landing height measured high (on flat ground 4 mm, from the estimated pelvis tilt) left
#: the landed foot unloaded through the double support: the ZMP could not move onto it and
#: the robot fell over the other foot. So a foot that has felt the ground and lifted off
#: again for ``RELANDING_DELAY_S`` (longer than a touch-down's bounce, 20-60 ms on the
#: simulated biped) searches too, at most ``MAX_RELANDING_M`` lower (a search after every
#: bounce walked the ground estimate 10 cm down on +-2 cm steps, and fell).
RELANDING_DELAY_S = 0.08
MAX_RELANDING_M = 0.006


@dataclass
class _Landing:
    """The foot of the last swing, searched for the ground in the double support after it."""

    side: Side
    z_planned: float                 #: ground height it should land at (the stance foot's)
    floor: float                     #: lowest ground height it may search down to
    started: bool = False            #: its double support has begun
    felt: bool = False               #: its sole has felt the ground (a light touch)
    engaged: bool = False            #: the contact detector has found it in contact
    unloaded_since: float = math.nan  #: since when it has been searching [s]


class Event(enum.Enum):
    """What drives the mode changes."""

    WALK = "walk"                  #: a goal or a non-zero velocity
    STOP = "stop"                  #: stop request or zero velocity
    PATTERN_DONE = "pattern_done"  #: every planned step taken, feet together
    SENSORS_LOST = "sensors_lost"  #: IMU lost or joint states unusable
    FALL = "fall"
    RESET = "reset"


Transition = machine.Transition[Mode, Event, "WalkingController"]


class WalkingController:
    """Walks a biped on velocity commands or goals; see the module docstring."""

    joint_names = LEG_JOINTS

    def __init__(self, config: ControllerConfig | None = None) -> None:
        """Load the robot model and plan nothing yet (standing once sensors arrive)."""
        self.config = c = config or ControllerConfig()
        self.ik = WholeBodyIK(str(c.urdf()))
        self.lower, self.upper = self.ik.joint_limits()
        self.limits = FootstepLimits(nominal_width=c.foot_width_m, max_yaw=c.max_step_yaw_rad,
                                     max_forward=c.max_step_length_m)
        self.timing = WalkTiming(single_support_s=c.single_support_s,
                                 double_support_s=c.double_support_s,
                                 swing_height_m=c.swing_height_m)
        self.omega = omega(c.com_height_m)
        self.mode = Mode.STANDING
        self.reason = "waiting for sensors"
        self.pattern: WalkingPattern | None = None
        self.odometry: LegOdometry | None = None
        self.stabilizer = Stabilizer(
            StabilizerConfig(k_dcm=c.k_dcm, k_zmp=c.k_zmp, max_com_offset_m=c.max_com_offset_m,
                             ankle=c.ankle_strategy, hip=c.hip_strategy),
            self.omega, self.ik.mass_kg)
        self.adjuster = StepAdjuster(self.limits, self.omega)
        self._adjusting_side = None
        self.standing_q = self._standing_posture()
        self.q_target = self.standing_q.copy()
        self._velocity = (0.0, 0.0, 0.0)
        self._goal: tuple[float, float, float] | None = None
        self._corrections = 0            #: walks again to the present goal after missing it
        self._last: WalkingCommand | None = None
        self.frame = PlanFrame()
        self._planned_in = self.frame         #: the plan frame when the footsteps were planned
        self._anchored: tuple[int, Side] | None = None   #: last (step index, foot) re-anchored
        #: Ground height under each foot relative to the plan's z = 0, measured at its landing
        #: (the height difference of the two soles then): the robot walks onto steps that the
        #: plan, made for flat ground, does not know.
        self._ground_z = {Side.LEFT: 0.0, Side.RIGHT: 0.0}
        self._heading_ref: float | None = None
        #: The foot of the last swing during the double support after it (late contact).
        self._landing: _Landing | None = None

    # --- commands --------------------------------------------------------------------------
    def set_velocity(self, vx: float, vy: float, wz: float) -> str:
        """Walk at (vx [m/s], vy [m/s], wz [rad/s]); zero stops. Returns what was clamped.

        Raises:
            MotionInputError: for non-finite values (nothing changes).

        """
        try:
            vx, vy, wz, clamped = clamp_velocity(vx, vy, wz, self.limits, self.step_period_s)
        except FootstepError as exc:
            raise MotionInputError(f"velocity command rejected: {exc}") from None
        self._goal = None
        if abs(wz) > 1e-6:
            self._heading_ref = None
        elif self._heading_ref is None:
            self._heading_ref = self.heading()
        self._velocity = (vx, vy, wz)
        moving = any(abs(v) > 1e-6 for v in self._velocity)
        self.handle(Event.WALK if moving else Event.STOP)
        return clamped

    def set_goal(self, x: float, y: float, yaw: float) -> None:
        """Walk to (x, y) [m] in the walking frame and stop there heading ``yaw`` [rad].

        Raises:
            MotionInputError: for a non-finite or too distant goal (nothing changes).

        """
        if not all(math.isfinite(v) for v in (x, y, yaw)):
            raise MotionInputError(f"goal ({x}, {y}, {yaw}) is not finite")
        here = self._feet_centre()
        dist = math.hypot(x - here[0], y - here[1])
        if dist > self.config.max_goal_distance_m:
            raise MotionInputError(f"goal {dist:.1f} m away, beyond max_goal_distance_m "
                                   f"{self.config.max_goal_distance_m:.1f} m")
        self._velocity = (0.0, 0.0, 0.0)
        self._heading_ref = None
        self._goal = (float(x), float(y), float(yaw))
        self._corrections = 0
        self.handle(Event.WALK)

    def stop(self) -> None:
        """Stop walking: the feet close and the robot stands."""
        self._velocity = (0.0, 0.0, 0.0)
        self._heading_ref = None
        self._goal = None
        self.handle(Event.STOP)

    def reset(self) -> None:
        """Leave fallen or safe_stop once the robot stands upright with good sensors."""
        self.handle(Event.RESET)

    def heading(self) -> float:
        """The robot's heading in the world [rad] (the pattern's pelvis yaw, re-anchored)."""
        if self.pattern is None:
            return 0.0
        return wrap_angle(self.frame.yaw + self.pattern.pelvis_yaw())

    @property
    def step_period_s(self) -> float:
        """One step: single plus double support [s]."""
        return self.timing.single_support_s + self.timing.double_support_s

    # --- the state machine -----------------------------------------------------------------
    def handle(self, event: Event) -> bool:
        """Run the first transition of ``(mode, event)`` whose guard holds; False if none."""
        t = TABLE.select(self, self.mode, event)
        if t is None:
            return False
        self.mode = t.next
        t.effect(self)
        return True

    def _plan(self) -> None:
        """Footsteps for the current goal or velocity, from the feet as now planned."""
        if self.pattern is None:
            return
        left, right, first = self.pattern.planning_feet()
        try:
            if self._goal is not None:
                gx, gy, gyaw = self._goal
                goal = self.frame.step_to_plan(Footstep(Side.LEFT, gx, gy, gyaw))
                steps = plan_to_goal(left, right, goal.x, goal.y, goal.yaw, self.limits,
                                     first_side=first)
            else:
                vx, vy, wz = self._velocity
                if self._heading_ref is not None:
                    err = wrap_angle(self._heading_ref - self.heading())
                    wz = float(np.clip(self.config.heading_gain * err, -0.2, 0.2))
                steps = plan_velocity(left, right, vx, vy, wz, self.step_period_s,
                                      self.config.steps_ahead, self.limits, first_side=first)
            self.pattern.set_footsteps(steps)
            self._planned_in = self.frame
        except FootstepError as exc:
            self.reason = f"no footsteps: {exc}"
            return
        self.reason = ("walking to the goal" if self._goal is not None
                       else f"walking at {self._velocity[0]:.2f} m/s, "
                            f"{self._velocity[1]:.2f} m/s, {self._velocity[2]:.2f} rad/s")

    def _close_feet(self) -> None:
        """Plan the step(s) that bring the feet side by side where the robot is."""
        if self.pattern is not None:
            self.pattern.set_footsteps(self.pattern.closing_steps())

    def _start_walking(self) -> None:
        self._plan()

    def _to_stopping(self) -> None:
        self._close_feet()
        self.reason = "stopping"

    def _to_standing(self) -> None:
        err = self.goal_error()
        self.reason = ("standing" if err is None else
                       f"goal reached: feet {err[0]:.3f} m, {err[1]:.2f} rad from it")
        self._goal = None

    def _to_safe_stop(self) -> None:
        self._close_feet()

    def _to_fallen(self) -> None:
        self.q_target = self.crouch_posture()

    def _restart(self) -> None:
        self.pattern = None          # rebuilt from the measured feet at the next update
        self.odometry = None
        self.frame = PlanFrame()
        self._ground_z = {Side.LEFT: 0.0, Side.RIGHT: 0.0}
        self._landing = None
        self.stabilizer.reset()
        self.reason = "standing after a reset"

    def upright(self) -> bool:
        """True while the last estimate is upright (used to allow a reset)."""
        return self._last is not None and self._last.com[2] > self.config.com_height_min_m

    # --- the control period ----------------------------------------------------------------
    def update(self, sensors: Sensors) -> WalkingCommand:
        """One control period (see the module docstring)."""
        c = self.config
        fault = self._sensor_fault(sensors)
        if fault:
            if self.handle(Event.SENSORS_LOST) or self.mode is Mode.SAFE_STOP:
                self.reason = fault
            return self._hold(fault)
        if self.odometry is None or self.pattern is None:
            self._start(sensors)
        assert self.odometry is not None and self.pattern is not None
        est = self.odometry.update(sensors)
        tilt = _tilt(sensors.imu_quat)
        if self.mode is not Mode.FALLEN and (tilt > c.tilt_limit_rad
                                             or est.com[2] < c.com_height_min_m):
            self.handle(Event.FALL)
            self.reason = (f"fall: pelvis tilt {math.degrees(tilt):.0f} deg"
                           if tilt > c.tilt_limit_rad else f"fall: CoM at {est.com[2]:.2f} m")
        if self.mode is Mode.FALLEN:
            here = self.frame.to_plan(est.com[:2])
            return self._command(self.pattern.hold(), est, here, here)
        sample = self.pattern.advance()
        if est.touchdown is not None and self.mode is not Mode.STANDING:
            self._reanchor(est, sample.step_index)
        if sample.done and self.mode in (Mode.WALKING, Mode.STOPPING, Mode.SAFE_STOP):
            if self.mode is Mode.WALKING and self._goal is None and any(
                    abs(v) > 1e-6 for v in self._velocity):
                self._plan()                       # velocity mode: keep stepping
            else:
                self.handle(Event.PATTERN_DONE)
        elif (self.mode is Mode.WALKING and self._goal is None
              and self.pattern.steps_left() < c.steps_ahead):
            self._plan()
        polygon = self.pattern.support_polygon()
        heading = self.pattern.pelvis_yaw()
        left, right = self.pattern.feet
        zmp_des = np.asarray(sample.zmp_ref, float)
        dcm_ref = sample.com[:2] + sample.com_vel[:2] / self.omega
        com_offset = np.zeros(2)
        pelvis_rot = _yaw_rotation(heading)
        out = None
        if c.balance:
            f = self.frame
            com_vel = np.append(est.com_vel[:2] @ f.rotation(), est.com_vel[2])
            zmp = None if est.zmp is None else f.to_plan(est.zmp)
            out = self.stabilizer.update(
                f.to_plan(est.com), com_vel, sample.com, sample.com_vel, sample.zmp_ref, zmp,
                polygon, sample.support, left, right, sensors.left_wrench,
                sensors.right_wrench, heading, c.dt_s)
            zmp_des, dcm_ref, com_offset = out.zmp_desired, out.dcm_ref, out.com_offset
            pelvis_rot = out.pelvis_rotation(heading)
            self._adjust_step(out, sample)
        self._search_ground(sample, est, sensors)
        left_z, right_z = self._foot_heights(sample)
        lf, rf = np.array(sample.left_foot, float), np.array(sample.right_foot, float)
        lf[2] += left_z
        rf[2] += right_z
        target_com = np.array([sample.com[0] + com_offset[0], sample.com[1] + com_offset[1],
                               sample.com[2] + 0.5 * (left_z + right_z)])
        result = self.ik.solve(target_com, pelvis_rot, lf, rf, self.q_target)
        q = result.q if out is None else Stabilizer.apply_ankles(result.q, out)
        q = np.clip(q, self.lower, self.upper)
        if np.all(np.isfinite(q)):
            self.q_target = q
        else:
            self.reason = "whole-body IK gave a non-finite solution: holding the targets"
        cmd = self._command(sample, est, zmp_des, dcm_ref)
        cmd.support_polygon = self.frame.to_world(polygon)
        return cmd

    def _reanchor(self, est: EstimatedState, sample_step: int) -> None:
        """A swing foot landed: move the plan frame onto it; re-plan a goal from there.

        Only a landing the pattern expects counts (the foot of the swing in progress within
        ``LANDING_WINDOW_S`` of its touch-down, or, in the double support after it, the first
        contact of that foot): a swing foot that scuffs the ground mid-swing or a stance foot
        whose contact flickers says nothing about where the step landed. A correction larger
        than ``MAX_REANCHOR_M`` / ``MAX_REANCHOR_RAD`` is not believed either.
        """
        assert self.pattern is not None and est.touchdown is not None
        side = est.touchdown
        swing = self.pattern.swing_landing()
        if swing is not None:
            if swing.side is not side or self.pattern.time_to_touchdown() > LANDING_WINDOW_S:
                return
            planned = swing
        else:
            planned = self.pattern.feet[0 if side is Side.LEFT else 1]
        key = (sample_step, side)
        if key == self._anchored:
            return
        frame = PlanFrame.matching(planned, est.footstep(side))
        jump = frame.offset_from(self.frame)
        if jump[0] > MAX_REANCHOR_M or jump[1] > MAX_REANCHOR_RAD:
            return
        self._anchored = key
        self.frame = frame
        other = side.other
        soles = {Side.LEFT: est.left_sole, Side.RIGHT: est.right_sole}
        self._ground_z[side] = (self._ground_z[other]
                                + float(soles[side][2, 3] - soles[other][2, 3]))
        moved = self.frame.offset_from(self._planned_in)
        if (self.mode is Mode.WALKING and self._goal is not None
                and self.pattern.steps_left() >= REPLAN_MIN_STEPS_LEFT
                and (moved[0] > REPLAN_OFFSET_M or moved[1] > REPLAN_YAW_RAD)):
            self._plan()

    def goal_error(self) -> tuple[float, float] | None:
        """Distance [m] and heading error [rad] of the planned feet to the goal (None: none)."""
        if self._goal is None or self.pattern is None:
            return None
        left, right = (self.frame.step_to_world(f) for f in self.pattern.planned_feet())
        x, y, yaw = mid_pose(left, right)
        gx, gy, gyaw = self._goal
        return math.hypot(gx - x, gy - y), abs(wrap_angle(gyaw - yaw))

    def goal_missed(self) -> bool:
        """The feet stand together farther from the goal than a re-plan would correct."""
        err = self.goal_error()
        return (err is not None and self._corrections < MAX_GOAL_CORRECTIONS
                and (err[0] > REPLAN_OFFSET_M or err[1] > REPLAN_YAW_RAD))

    def _walk_again(self) -> None:
        self._corrections += 1
        self._plan()

    def _search_ground(self, sample: PatternSample, est: EstimatedState,
                       sensors: Sensors) -> None:
        """Late contact: lower the landed foot's ground height while its sole feels nothing.

        Through the whole double support after a swing: the foot stays at the swing's end
        height until it feels the ground; not yet landed for ``LATE_CONTACT_DELAY_S``, it goes
        on down (at most ``MAX_LATE_CONTACT_M``); landed and lifted off again for
        ``RELANDING_DELAY_S`` (a landing height measured a few millimetres high), it goes on
        down at most ``MAX_RELANDING_M`` more. Feeling is a light touch (the contact
        detector's release force), not a contact (its engage force): a foot just set down on
        flat ground carries little weight until the ZMP moves onto it and must not be pushed
        into the floor meanwhile.
        """
        if sample.support in ("left", "right"):
            swing = Side(sample.support).other
            z = self._ground_z[Side(sample.support)]
            self._landing = _Landing(swing, z, z - MAX_LATE_CONTACT_M)
            return
        if self._landing is None or sample.support != "double":
            self._landing = None
            return
        landing = self._landing
        assert self.odometry is not None
        wrench = sensors.left_wrench if landing.side is Side.LEFT else sensors.right_wrench
        touch = float(wrench[2]) >= self.odometry.contacts.off_n
        contact = self.odometry.contacts.state[landing.side]
        if not landing.started:
            landing.started = True
            if not touch:
                # the swing ended at the stance foot's height: the foot stays there (not back
                # at its lift-off height) until it feels the ground
                self._ground_z[landing.side] = landing.z_planned
        if touch and not landing.felt:
            landing.felt = True
            # from now on it may only have landed a little high, not on lower ground
            landing.floor = max(landing.floor, self._ground_z[landing.side] - MAX_RELANDING_M)
        landing.engaged |= contact
        # before the first touch: while it feels nothing; after it: lifted off again (the
        # contact detector's hysteresis: a light touch flickering in the noise is no lift-off)
        searching = (landing.engaged and not contact) if landing.felt else not touch
        if not searching:
            landing.unloaded_since = math.nan
        elif math.isnan(landing.unloaded_since):
            landing.unloaded_since = est.t
        elif est.t - landing.unloaded_since >= (RELANDING_DELAY_S if landing.felt
                                                 else LATE_CONTACT_DELAY_S):
            self._ground_z[landing.side] = max(
                landing.floor,
                self._ground_z[landing.side] - LATE_CONTACT_SPEED_MPS * self.config.dt_s)

    def _foot_heights(self, sample: PatternSample) -> tuple[float, float]:
        """Ground height offsets of the feet's targets (left, right) [m].

        A foot in stance keeps the height it landed at; a swing foot goes from its lift-off
        height to the stance foot's (the plan knows no ground ahead but the one it stands on).
        """
        z = dict(self._ground_z)
        if sample.support in ("left", "right"):
            stance = Side(sample.support)
            swing = stance.other
            z[swing] += (z[stance] - z[swing]) * float(sample.swing_phase)
        return z[Side.LEFT], z[Side.RIGHT]

    def _adjust_step(self, out: Any, sample: PatternSample) -> None:
        """Step adjustment in single support once the wanted ZMP left the polygon."""
        assert self.pattern is not None
        landing, stance = self.pattern.swing_landing(), self.pattern.stance_foot()
        if (not self.config.step_adjustment or self.mode is not Mode.WALKING
                or landing is None or stance is None or sample.support == "double"):
            if self._adjusting_side is not None:
                self.adjuster.reset()
                self._adjusting_side = None
            return
        if self._adjusting_side is not landing.side:
            self.adjuster.reset()
            self._adjusting_side = landing.side
        adj = self.adjuster.update(out.dcm, out.dcm_ref, out.zmp_desired, sample.zmp_ref,
                                   self.pattern.time_to_touchdown(), landing, stance,
                                   out.saturated)
        if adj.adjusted:
            self.pattern.adjust_current_landing(adj.landing.x, adj.landing.y)

    # --- helpers ---------------------------------------------------------------------------
    def _start(self, sensors: Sensors) -> None:
        """Anchor the estimator and the pattern at the measured feet."""
        c = self.config
        self.odometry = LegOdometry(self.ik, EstimatorConfig(yaw_from_imu=True))
        self.frame = PlanFrame()
        est = self.odometry.reset(sensors.q, sensors.imu_quat, t=sensors.t)
        self.pattern = WalkingPattern(self.timing, z_c=c.com_height_m, dt=c.dt_s,
                                      limits=self.limits, preview_s=c.preview_s)
        self.pattern.start(sensors.t, est.footstep(Side.LEFT), est.footstep(Side.RIGHT),
                           est.com[:2])
        self.stabilizer.reset()
        self.reason = "standing"

    def _sensor_fault(self, s: Sensors) -> str:
        if not s.imu_valid:
            return "IMU lost"
        for name, v in (("joint positions", s.q), ("joint velocities", s.dq),
                        ("IMU orientation", s.imu_quat), ("left foot wrench", s.left_wrench),
                        ("right foot wrench", s.right_wrench)):
            if not np.all(np.isfinite(v)):
                return f"{name} not finite"
        if len(s.q) != len(LEG_JOINTS):
            return f"{len(s.q)} joint positions, expected {len(LEG_JOINTS)}"
        return ""

    def _hold(self, why: str) -> WalkingCommand:
        if self._last is None:
            return WalkingCommand(q_target=self.q_target.copy(), mode=self.mode, reason=why)
        return replace(self._last, q_target=self.q_target.copy(), mode=self.mode, reason=why)

    def _command(self, sample: PatternSample, est: EstimatedState, zmp_des: np.ndarray,
                 dcm_ref: np.ndarray) -> WalkingCommand:
        assert self.pattern is not None
        f = self.frame
        cmd = WalkingCommand(
            q_target=self.q_target.copy(), mode=self.mode, reason=self.reason,
            support=sample.support, com=np.asarray(est.com, float),
            com_ref=f.to_world(sample.com),
            zmp=np.asarray(est.zmp if est.zmp is not None else [np.nan, np.nan], float),
            zmp_ref=f.to_world(zmp_des), dcm=np.asarray(est.dcm(self.omega), float),
            dcm_ref=f.to_world(dcm_ref),
            footsteps=[f.step_to_world(s) for s in self.pattern.upcoming_footsteps()])
        self._last = cmd
        return cmd

    def _feet_centre(self) -> np.ndarray:
        if self.pattern is None:
            return np.zeros(2)
        left, right = self.pattern.planned_feet()
        return self.frame.to_world(np.array([(left.x + right.x) / 2.0,
                                             (left.y + right.y) / 2.0]))

    def _standing_posture(self) -> np.ndarray:
        c = self.config
        half = c.foot_width_m / 2.0
        result = self.ik.solve(np.array([0.0, 0.0, c.com_height_m]), np.eye(3),
                               (0.0, half, 0.0, 0.0), (0.0, -half, 0.0, 0.0),
                               np.zeros(len(LEG_JOINTS)))
        if not result.ok:
            raise MotionInputError(
                f"no standing posture with the CoM at {c.com_height_m:.3f} m: "
                f"CoM error {result.com_error_m * 1e3:.1f} mm, "
                f"feet {result.foot_error_m * 1e3:.1f} mm")
        return np.clip(result.q, self.lower, self.upper)

    def crouch_posture(self) -> np.ndarray:
        """Knees bent, hips and ankles following: where a fallen robot waits."""
        q = self.standing_q.copy()
        for side in ("l", "r"):
            i = LEG_JOINTS.index
            q[i(f"{side}_knee")] = self.config.crouch_knee_rad
            q[i(f"{side}_hip_pitch")] = -self.config.crouch_knee_rad / 2.0
            q[i(f"{side}_ankle_pitch")] = -self.config.crouch_knee_rad / 2.0
        return np.clip(q, self.lower, self.upper)


def _tilt(quat: np.ndarray) -> float:
    """Angle between the pelvis z axis and the world's vertical [rad]."""
    w, x, y, z = (float(v) for v in quat)
    n = w * w + x * x + y * y + z * z
    cz = 1.0 - 2.0 * (x * x + y * y) / n      # R[2, 2]
    return math.acos(max(-1.0, min(1.0, cz)))


def _yaw_rotation(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


_ACTIVE = (Mode.STANDING, Mode.WALKING, Mode.STOPPING)
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Mode.STANDING, Event.WALK, Mode.WALKING, WalkingController._start_walking),
    Transition(Mode.WALKING, Event.WALK, Mode.WALKING, WalkingController._plan),
    Transition(Mode.STOPPING, Event.WALK, Mode.WALKING, WalkingController._plan),
    Transition(Mode.WALKING, Event.STOP, Mode.STOPPING, WalkingController._to_stopping),
    Transition(Mode.WALKING, Event.PATTERN_DONE, Mode.WALKING, WalkingController._walk_again,
               WalkingController.goal_missed, "goal missed"),
    Transition(Mode.WALKING, Event.PATTERN_DONE, Mode.STANDING, WalkingController._to_standing),
    Transition(Mode.STOPPING, Event.PATTERN_DONE, Mode.STANDING,
               WalkingController._to_standing),
    *(Transition(m, Event.SENSORS_LOST, Mode.SAFE_STOP, WalkingController._to_safe_stop)
      for m in _ACTIVE),
    *(Transition(m, Event.FALL, Mode.FALLEN, WalkingController._to_fallen)
      for m in (*_ACTIVE, Mode.SAFE_STOP)),
    Transition(Mode.SAFE_STOP, Event.RESET, Mode.STANDING, WalkingController._restart,
               WalkingController.upright, "upright"),
    Transition(Mode.FALLEN, Event.RESET, Mode.STANDING, WalkingController._restart,
               WalkingController.upright, "upright"),
)
TABLE = machine.TransitionTable(TRANSITIONS, Mode.STANDING)


def transition_table_markdown() -> str:
    """The transition table as a Mermaid state diagram (for the package README)."""
    return TABLE.mermaid()
