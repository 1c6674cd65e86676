"""Lifecycle node ``humanoid_controller``: the biped's walking controller on ROS topics.

It converts and wires; :class:`dg_motion.humanoid.controller.WalkingController` decides.
The same topics exist in every world (DESIGN.md §3): the embedded simulator
(``dg_sim humanoid_sim``), Gazebo with gz_ros2_control, or the robot's ros2_control stack.

Inputs (sensor QoS, best effort: it matches every publisher, reliable or not):

* ``/joint_states`` (sensor_msgs/JointState): every valid message runs one control period
  (:meth:`WalkingController.update`); the simulator's lockstep sends one per 5 ms and waits
  for the answer. Names may come in any order and include other joints (what
  joint_state_broadcaster publishes); each of the 12 leg joints must be there with a finite
  position, else the message is rejected and nothing is sent for it. Without velocities, they
  are differenced from the previous message. With ``sync_stamps`` a period waits for the
  IMU and foot wrenches stamped at or after its joint states (the simulator stamps a step's
  data alike, and their order of arrival is not guaranteed), at most until the next joint
  states (then it runs with the latest; counted as ``late_periods``).
* ``/imu/data`` (sensor_msgs/Imu, the pelvis IMU, frame ``imu_frame``): the latest valid
  one is used. Older than ``imu_timeout_s`` (header stamps, against the joint states') the
  controller gets ``imu_valid=False`` and stops stepping (safe_stop).
* ``/left_foot/wrench``, ``/right_foot/wrench`` (geometry_msgs/WrenchStamped, sole frames):
  older than ``state_timeout_s`` they reach the controller as NaN, which it treats as a bad
  measurement period (safe_stop, last targets held).
* ``/cmd_vel`` (geometry_msgs/Twist): walking velocity (x, y, yaw rate; other fields are
  ignored). Non-finite or beyond ``max_linear_speed_mps`` / ``max_angular_speed_radps``:
  rejected; within those but beyond the footstep limits: clamped by the controller, and a
  warning says what was clamped. A velocity stream that stops for ``command_timeout_s``
  (ros2_control's diff_drive_controller ``cmd_vel_timeout`` idiom) stops the walk.
* ``/goal_pose`` (geometry_msgs/PoseStamped, frame ``walking_frame``): walk there and stop
  with the pose's heading. Wrong frame, non-finite, not a unit quaternion or refused by the
  controller (too far): rejected with the reason.

Nothing is processed until one IMU message and one wrench of each foot have arrived.

Outputs:

* ``/leg_position_controller/commands`` (std_msgs/Float64MultiArray): the 12 position
  targets in LEG_JOINTS order, as ros2_control's ``JointGroupPositionController`` named
  ``leg_position_controller`` takes them. Only finite targets are ever sent: a non-finite
  command from the controller is dropped and logged.
* ``/humanoid/walking_state`` (dg_interfaces/WalkingState): mode, reason, CoM, ZMP, DCM,
  support polygon and planned footsteps, one per control period, frame ``walking_frame``.
* ``/diagnostics``: mode and reason (fallen = ERROR, safe_stop = WARN), per-input rates,
  ages and rejections by reason, the last clamp.

Service ``~/reset`` (std_srvs/Trigger): leave fallen / safe_stop once upright; ``success``
says whether the controller accepted it.

Safe output (deactivate, error, no valid joint states for ``state_timeout_s``): nothing is
sent. A position-controlled leg keeps its last targets (what JointGroupPositionController
and the simulator's servos do without a new command), which is safer than any target computed
without a current state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, PoseStamped, Twist, WrenchStamped
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.geometry import yaw_from_quaternion
from dg_common.lifecycle import ActuatorNode, ControlStatus
from dg_common.main import run_node
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.qos import COMMAND_SUB_QOS, SENSOR_QOS, command_pub_qos
from dg_common.sim_time import s_to_stamp, stamp_to_s
from dg_common.validation import InvalidInput, require_finite, require_unit_quaternion
from dg_common.watchdog import Watchdog
from dg_interfaces.msg import Footstep as FootstepMsg
from dg_interfaces.msg import WalkingState
from dg_motion.errors import MotionInputError
from dg_motion.humanoid.controller import ControllerConfig, WalkingController
from dg_motion.humanoid.types import LEG_JOINTS, Mode, Sensors, Side, WalkingCommand

COMMAND_TOPIC = "/leg_position_controller/commands"
STATE_TOPIC = "/humanoid/walking_state"

#: Ranges and descriptions of the controller's parameters, handed to
#: ``ControllerConfig.from_params`` under the names of its fields; the defaults are the
#: dataclass's own (one source), the params file only overrides.
CONTROLLER_PARAMS: dict[str, tuple[str, float | None, float | None]] = {
    "urdf_path": ("robot description of the biped ('' = dg_motion's biped)", None, None),
    "dt_s": ("control period [s] (the joint states' period)", 0.001, 0.05),
    "com_height_m": ("CoM height while walking [m]", 0.3, 1.5),
    "foot_width_m": ("distance between the sole centres at rest [m]", 0.1, 0.5),
    "single_support_s": ("single-support time of a step [s]", 0.2, 2.0),
    "double_support_s": ("double-support time of a step [s]", 0.02, 1.0),
    "swing_height_m": ("swing-foot clearance [m]", 0.0, 0.2),
    "preview_s": ("ZMP preview horizon [s] (Kajita et al. 2003: 1.6 s)", 0.2, 5.0),
    "steps_ahead": ("footsteps kept planned in velocity mode", 2, 20),
    "k_dcm": ("DCM error decay rate (Englsberger et al. 2015) [1/s]", 0.0, 20.0),
    "k_zmp": ("CoM admittance on the ZMP error [1/s]", 0.0, 20.0),
    "max_com_offset_m": ("bound of the admittance's CoM offset [m]", 0.0, 0.2),
    "step_adjustment": ("move the swing foot's landing when the ZMP saturates", None, None),
    "ankle_strategy": ("foot damping control of the ankles", None, None),
    "hip_strategy": ("pelvis pitch/roll when the ankles saturate", None, None),
    "balance": ("the stabilizer (false: the walking pattern open loop)", None, None),
    "tilt_limit_rad": ("pelvis tilt beyond this is a fall [rad]", 0.1, 1.5),
    "com_height_min_m": ("CoM below this is a fall [m]", 0.1, 1.5),
    "max_goal_distance_m": ("goals farther than this are refused [m]", 0.1, 1000.0),
    "crouch_knee_rad": ("knee angle of the crouch after a fall [rad]", 0.0, 2.5),
    "heading_gain": ("velocity mode without a turn keeps its heading: turn rate per rad of "
                     "heading error [1/s]", 0.0, 5.0),
    "max_step_yaw_rad": ("turn per step [rad]", 0.0, 0.6),
    "max_step_length_m": ("forward step length [m]", 0.05, 0.6),
}


def _controller_schema() -> tuple[ParamSpec, ...]:
    """One node parameter per ``ControllerConfig`` field, with the field's default.

    A field missing from :data:`CONTROLLER_PARAMS` still becomes a parameter (without a
    range); test_humanoid_controller_node fails until it is described there.
    """
    specs = []
    for f in fields(ControllerConfig):
        description, lo, hi = CONTROLLER_PARAMS.get(f.name, (f"ControllerConfig.{f.name}",
                                                              None, None))
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        specs.append(_p(f.name, kind, description, core_default(ControllerConfig, f.name), lo,
                        hi))
    return tuple(specs)


CONTROLLER_SCHEMA = _controller_schema()

SCHEMA = (
    *CONTROLLER_SCHEMA,
    _p("walking_frame", "str", "frame of goals and of the walking state (the odometry's "
       "world, z up)", "world"),
    _p("imu_frame", "str", "frame_id the IMU messages must carry ('' = not checked)", "imu"),
    _p("left_sole_frame", "str", "frame_id of the left foot wrench ('' = not checked)",
       "l_sole"),
    _p("right_sole_frame", "str", "frame_id of the right foot wrench ('' = not checked)",
       "r_sole"),
    _p("imu_timeout_s", "float", "IMU older than this [s] is lost (controller safe_stop)",
       0.05, 0.005, 5.0),
    _p("state_timeout_s", "float", "no valid joint states for this long [s]: nothing is "
       "sent; foot wrenches older than this are invalid", 0.1, 0.01, 5.0),
    _p("sync_stamps", "bool", "run a period once the IMU and both wrenches stamped at or "
       "after its joint states are there (a lockstep world stamps a step's data alike); "
       "at the latest when the next joint states come. false: at once, with the latest",
       True),
    _p("max_linear_speed_mps", "float", "a /cmd_vel faster than this is rejected, not "
       "clamped [m/s]", 5.0, 0.1, 100.0),
    _p("max_angular_speed_radps", "float", "a /cmd_vel turning faster than this is "
       "rejected, not clamped [rad/s]", 5.0, 0.1, 100.0),
)

#: Diagnostic level of each mode.
MODE_LEVEL = {Mode.FALLEN: ERROR, Mode.SAFE_STOP: WARN}

ControllerFactory = Callable[[dict[str, Any]], Any]


def make_walking_controller(values: dict[str, Any]) -> Any:
    """The real controller from the node's parameter values.

    Raises:
        ParameterError: the controller refuses its configuration (model, posture, ...).

    """
    try:
        return WalkingController(ControllerConfig.from_params(values))
    except MotionInputError as exc:
        raise ParameterError(f"walking controller: {exc}") from None


def _vec3(v: Any) -> list[float]:
    return [float(v.x), float(v.y), float(v.z)]


def _point(v: Any, ground: bool = False) -> Point:
    """A point from a 2- or 3-vector; on the ground (z = 0) when ``ground`` or 2-D."""
    a = np.asarray(v, float).ravel()
    z = 0.0 if ground or a.size < 3 else float(a[2])
    return Point(x=float(a[0]), y=float(a[1]), z=z)


class HumanoidControllerNode(ActuatorNode):
    """The biped's walking controller node (see the module docstring)."""

    def __init__(self, controller_factory: ControllerFactory | None = None,
                 **kwargs: Any) -> None:
        """Create the node (unconfigured unless ``autostart``).

        ``controller_factory`` builds the controller from the parameter values (tests
        inject a stand-in); default :func:`make_walking_controller`.
        """
        self._factory = controller_factory or make_walking_controller
        self.controller: Any = None
        self._ros: list[Any] = []
        super().__init__("humanoid_controller", SCHEMA, **kwargs)
        p = self.params
        # The base's watchdog guards the joint states (state_timeout_s); command_timeout_s
        # is the /cmd_vel stream timeout.
        self.watchdog = Watchdog(p.state_timeout_s)
        self._cmd_vel_watchdog = Watchdog(p.command_timeout_s)
        d = self.diagnostics
        self.mon_joints = d.monitor("/joint_states", p.state_timeout_s)
        self.mon_imu = d.monitor("/imu/data", p.imu_timeout_s)
        self.mon_feet = {Side.LEFT: d.monitor("/left_foot/wrench", p.state_timeout_s),
                         Side.RIGHT: d.monitor("/right_foot/wrench", p.state_timeout_s)}
        self.mon_cmd_vel = d.monitor("/cmd_vel", math.inf)
        self.mon_goal = d.monitor("/goal_pose", math.inf)
        self._reset_inputs()

    def _reset_inputs(self) -> None:
        self._index: dict[tuple[str, ...], np.ndarray] = {}
        self._imu: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._wrench: dict[Side, tuple[float, np.ndarray]] = {}
        self._last_q: tuple[float, np.ndarray] | None = None
        self._pending: tuple[float, np.ndarray, np.ndarray] | None = None
        self.late_periods = 0         #: periods run without their step's IMU / wrenches
        self._walking_on_cmd_vel = False
        self._mode: Mode | None = None
        self.joint_messages = 0       #: joint-state messages handled, whatever the outcome
        self.updates = 0              #: control periods run
        self.sent = 0                 #: commands published

    # --- lifecycle hooks ------------------------------------------------------------
    def configure(self) -> None:
        """Build the controller, then the ROS interfaces.

        Raises:
            ParameterError: the controller refuses its parameters (the reason is logged).

        """
        values = {spec.name: getattr(self.params, spec.name) for spec in CONTROLLER_SCHEMA}
        self.controller = self._factory(values)
        names = tuple(self.controller.joint_names)
        if names != LEG_JOINTS:
            raise ParameterError(f"controller joints {names} are not {LEG_JOINTS}")
        self._reset_inputs()
        p = self.params
        self._cmd_pub = self.create_publisher(Float64MultiArray, COMMAND_TOPIC,
                                              command_pub_qos(p.state_timeout_s))
        self._state_pub = self.create_publisher(WalkingState, STATE_TOPIC, 10)
        g = self.guarded
        # The IMU and wrench subscriptions come first: rclpy's executor takes the ready
        # subscriptions of one wait in creation order, so a step's IMU and wrenches that
        # arrived with its joint states are used by that step's control period.
        self._ros = [
            self.create_subscription(Imu, "/imu/data", g(self._on_imu), SENSOR_QOS),
            self.create_subscription(
                WrenchStamped, "/left_foot/wrench",
                g(lambda m: self._on_wrench(Side.LEFT, m)), SENSOR_QOS),
            self.create_subscription(
                WrenchStamped, "/right_foot/wrench",
                g(lambda m: self._on_wrench(Side.RIGHT, m)), SENSOR_QOS),
            self.create_subscription(JointState, "/joint_states", g(self._on_joint_states),
                                     SENSOR_QOS),
            self.create_subscription(Twist, "/cmd_vel", g(self._on_cmd_vel), COMMAND_SUB_QOS),
            self.create_subscription(PoseStamped, "/goal_pose", g(self._on_goal),
                                     COMMAND_SUB_QOS),
        ]
        self._reset_srv = self.create_service(Trigger, "~/reset", g(self._on_reset))

    def cleanup(self) -> None:
        """Destroy the interfaces and the controller."""
        for sub in self._ros:
            self.destroy_subscription(sub)
        self._ros = []
        if getattr(self, "_reset_srv", None) is not None:
            self.destroy_service(self._reset_srv)
            self._reset_srv = None
        for name in ("_cmd_pub", "_state_pub"):
            pub = getattr(self, name, None)
            if pub is not None:
                self.destroy_publisher(pub)
                setattr(self, name, None)
        self.controller = None

    def control_step(self, now_s: float) -> ControlStatus:
        """Bookkeeping between control periods: the /cmd_vel stream timeout, the status."""
        c = self.controller
        if c is None:
            return ControlStatus.IDLE
        if self._walking_on_cmd_vel and self._cmd_vel_watchdog.expired(now_s):
            self._walking_on_cmd_vel = False
            c.stop()
            self.get_logger().warning(
                f"/cmd_vel stopped for more than {self.params.command_timeout_s:.2f} s: "
                "stopping the walk")
        mode = c.mode
        if mode in (Mode.WALKING, Mode.STOPPING):
            return ControlStatus.WORKING
        return ControlStatus.HOLD if mode in (Mode.FALLEN, Mode.SAFE_STOP) \
            else ControlStatus.IDLE

    def publish_safe_output(self, reason: str) -> None:
        """Send nothing: the joints keep their last targets. Say why on diagnostics."""
        self.diagnostics.set_status(WARN, f"no command sent: {reason}")

    # --- sensors ----------------------------------------------------------------------
    def _msg_time(self, stamp: Any) -> float:
        """Header stamp [s]; the receive time for an unstamped message."""
        t = stamp_to_s(stamp)
        return t if t > 0.0 else self.now_s()

    def _joint_order(self, names: list[str]) -> np.ndarray:
        """Indices of LEG_JOINTS in ``names`` (cached per name list).

        Raises:
            InvalidInput: a leg joint is missing or named twice.

        """
        key = tuple(names)
        idx = self._index.get(key)
        if idx is None:
            missing = [j for j in LEG_JOINTS if j not in key]
            if missing:
                raise InvalidInput(f"joint_states lacks {missing}")
            dup = [j for j in LEG_JOINTS if key.count(j) > 1]
            if dup:
                raise InvalidInput(f"joint_states names {dup} more than once")
            idx = np.array([key.index(j) for j in LEG_JOINTS])
            if len(self._index) < 16:
                self._index[key] = idx
        return idx

    def _on_imu(self, msg: Imu) -> None:
        o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        frame = self.params.imu_frame
        if frame and msg.header.frame_id != frame:
            self.reject(self.mon_imu, "frame", f"frame '{msg.header.frame_id}' is not '{frame}'")
            return
        for reason, check in (
                ("non_finite", lambda: require_finite(
                    "imu", (o.x, o.y, o.z, o.w, *_vec3(w), *_vec3(a)))),
                ("quaternion", lambda: require_unit_quaternion("imu", o.x, o.y, o.z, o.w))):
            try:
                check()
            except InvalidInput as exc:
                self.reject(self.mon_imu, reason, str(exc))
                return
        self.mon_imu.tick(self.now_s())
        self._imu = (self._msg_time(msg.header.stamp), np.array([o.w, o.x, o.y, o.z]),
                     np.array(_vec3(w)), np.array(_vec3(a)))
        self._run_if_synced()

    def _on_wrench(self, side: Side, msg: WrenchStamped) -> None:
        f, tq = msg.wrench.force, msg.wrench.torque
        frame = (self.params.left_sole_frame if side is Side.LEFT
                 else self.params.right_sole_frame)
        mon = self.mon_feet[side]
        if frame and msg.header.frame_id != frame:
            self.reject(mon, "frame", f"frame '{msg.header.frame_id}' is not '{frame}'")
            return
        values = [*_vec3(f), *_vec3(tq)]
        if not all(math.isfinite(v) for v in values):
            self.reject(mon, "non_finite", f"{side.value} foot wrench {values}")
            return
        mon.tick(self.now_s())
        self._wrench[side] = (self._msg_time(msg.header.stamp), np.array(values))
        self._run_if_synced()

    def _on_joint_states(self, msg: JointState) -> None:
        self.joint_messages += 1
        if self.controller is None or not self.active:
            return
        try:
            sample = self._joint_sample(msg)
        except InvalidInput as exc:
            text = str(exc)
            reason = ("non_finite" if "non-finite" in text else
                      "stale" if "not newer" in text else "names")
            self.reject(self.mon_joints, reason, text)
            return
        self.mon_joints.tick(self.now_s())
        self.watchdog.feed(self.now_s())
        if self._imu is None or len(self._wrench) < 2:
            waiting = [topic for topic, ok in (
                ("/imu/data", self._imu is not None),
                ("/left_foot/wrench", Side.LEFT in self._wrench),
                ("/right_foot/wrench", Side.RIGHT in self._wrench)) if not ok]
            self.diagnostics.set_status(OK, f"waiting for {', '.join(waiting)}")
            return
        if self._pending is not None:
            # the previous state's IMU / wrenches never caught up: run it with the latest
            self.late_periods += 1
            self._run_pending()
        self._pending = sample
        self._run_if_synced()

    def _joint_sample(self, msg: JointState) -> tuple[float, np.ndarray, np.ndarray]:
        """(t, q, dq) of a joint-state message, leg joints in LEG_JOINTS order.

        Raises:
            InvalidInput: unusable joint states.

        """
        idx = self._joint_order(list(msg.name))
        n = len(msg.name)
        if len(msg.position) != n:
            raise InvalidInput(f"joint_states has {len(msg.position)} positions for "
                               f"{n} names")
        q = np.asarray(msg.position, float)[idx]
        require_finite("joint_states positions", q)
        t = self._msg_time(msg.header.stamp)
        if self._last_q is not None and t <= self._last_q[0]:
            raise InvalidInput(f"joint_states stamp {t:.3f} s not newer than the last "
                               f"({self._last_q[0]:.3f} s)")
        if len(msg.velocity) == n:
            dq = np.asarray(msg.velocity, float)[idx]
            require_finite("joint_states velocities", dq)
        elif len(msg.velocity) == 0:
            dq = (np.zeros(len(LEG_JOINTS)) if self._last_q is None
                  else (q - self._last_q[1]) / (t - self._last_q[0]))
        else:
            raise InvalidInput(f"joint_states has {len(msg.velocity)} velocities for "
                               f"{n} names")
        self._last_q = (t, q)
        return t, q, dq

    def _run_if_synced(self) -> None:
        """Run the pending period once its IMU and wrenches are there (``sync_stamps``)."""
        if self._pending is None:
            return
        t = self._pending[0]
        if (not self.params.sync_stamps
                or (self._imu is not None and self._imu[0] >= t
                    and all(self._wrench[s][0] >= t for s in self._wrench)
                    and len(self._wrench) == 2)):
            self._run_pending()

    def _run_pending(self) -> None:
        assert self._pending is not None and self._imu is not None
        (t, q, dq), self._pending = self._pending, None
        p = self.params
        t_imu, quat, gyro, acc = self._imu
        wrenches = []
        for side in (Side.LEFT, Side.RIGHT):
            t_w, w = self._wrench[side]
            wrenches.append(w if t - t_w <= p.state_timeout_s else np.full(6, np.nan))
        self._control(Sensors(t=t, q=q, dq=dq, imu_quat=quat, imu_gyro=gyro, imu_acc=acc,
                              left_wrench=wrenches[0], right_wrench=wrenches[1],
                              imu_valid=t - t_imu <= p.imu_timeout_s))

    # --- control ----------------------------------------------------------------------
    def _control(self, sensors: Sensors) -> None:
        cmd: WalkingCommand = self.controller.update(sensors)
        self.updates += 1
        q = np.asarray(cmd.q_target, float).ravel()
        if q.shape == (len(LEG_JOINTS),) and np.all(np.isfinite(q)):
            self._cmd_pub.publish(Float64MultiArray(data=q.tolist()))
            self.sent += 1
        else:
            self.diagnostics.set_value("dropped_commands",
                                       self.updates - self.sent)
            self.get_logger().error(f"controller gave non-finite or malformed targets "
                                    f"{q.tolist()}: not sent",
                                    throttle_duration_sec=1.0)
        self._state_pub.publish(self._walking_state(cmd, sensors.t))
        self._report_mode(cmd)

    def _report_mode(self, cmd: WalkingCommand) -> None:
        mode = Mode(cmd.mode)
        d = self.diagnostics
        d.set_value("mode", mode.value)
        d.set_value("reason", cmd.reason)
        d.set_value("support", cmd.support)
        d.set_value("commands_sent", self.sent)
        d.set_value("late_periods", self.late_periods)
        d.set_status(MODE_LEVEL.get(mode, OK), f"{mode.value}: {cmd.reason}")
        if mode is not self._mode:
            text = f"mode {self._mode.value if self._mode else '-'} -> {mode.value}" \
                   f" ({cmd.reason})"
            if mode in MODE_LEVEL:
                self.get_logger().warning(text)
            else:
                self.get_logger().info(text)
            self._mode = mode

    def _walking_state(self, cmd: WalkingCommand, t: float) -> WalkingState:
        msg = WalkingState(mode=Mode(cmd.mode).value, reason=cmd.reason, support=cmd.support)
        msg.header.stamp = s_to_stamp(t)
        msg.header.frame_id = self.params.walking_frame
        msg.com, msg.com_ref = _point(cmd.com), _point(cmd.com_ref)
        msg.zmp, msg.zmp_ref = _point(cmd.zmp, True), _point(cmd.zmp_ref, True)
        msg.dcm, msg.dcm_ref = _point(cmd.dcm, True), _point(cmd.dcm_ref, True)
        msg.support_polygon = [_point(v, True) for v in np.asarray(cmd.support_polygon)
                               .reshape(-1, 2)]
        msg.footsteps = [FootstepMsg(side=FootstepMsg.LEFT if Side(f.side) is Side.LEFT
                                     else FootstepMsg.RIGHT,
                                     x=float(f.x), y=float(f.y), yaw=float(f.yaw))
                         for f in cmd.footsteps]
        return msg

    # --- commands ---------------------------------------------------------------------
    def _on_cmd_vel(self, msg: Twist) -> None:
        if self.controller is None or not self.active:
            self.reject(self.mon_cmd_vel, "inactive", "controller is not active")
            return
        vx, vy, wz = msg.linear.x, msg.linear.y, msg.angular.z
        p = self.params
        if not all(math.isfinite(v) for v in (vx, vy, wz)):
            self.reject(self.mon_cmd_vel, "non_finite", f"velocity ({vx}, {vy}, {wz})")
            return
        if math.hypot(vx, vy) > p.max_linear_speed_mps or abs(wz) > p.max_angular_speed_radps:
            self.reject(self.mon_cmd_vel, "absurd",
                        f"velocity ({vx:.3g} m/s, {vy:.3g} m/s, {wz:.3g} rad/s) beyond "
                        f"{p.max_linear_speed_mps} m/s / {p.max_angular_speed_radps} rad/s")
            return
        try:
            clamped = self.controller.set_velocity(vx, vy, wz)
        except ValueError as exc:
            self.reject(self.mon_cmd_vel, "refused", str(exc))
            return
        now = self.now_s()
        self.mon_cmd_vel.tick(now)
        self._cmd_vel_watchdog.feed(now)
        self._walking_on_cmd_vel = any(v != 0.0 for v in (vx, vy, wz))
        if clamped:
            self.diagnostics.set_value("last_clamp", clamped)
            self.get_logger().warning(f"/cmd_vel clamped: {clamped}",
                                      throttle_duration_sec=1.0)

    def _on_goal(self, msg: PoseStamped) -> None:
        mon = self.mon_goal
        if self.controller is None or not self.active:
            self.reject(mon, "inactive", "controller is not active")
            return
        frame = self.params.walking_frame
        if msg.header.frame_id != frame:
            self.reject(mon, "frame", f"goal in frame '{msg.header.frame_id}', not '{frame}'")
            return
        pos, o = msg.pose.position, msg.pose.orientation
        try:
            require_finite("goal", (pos.x, pos.y, o.x, o.y, o.z, o.w))
            require_unit_quaternion("goal", o.x, o.y, o.z, o.w)
        except InvalidInput as exc:
            self.reject(mon, "non_finite" if "non-finite" in str(exc) else "quaternion",
                        str(exc))
            return
        yaw = yaw_from_quaternion(o.x, o.y, o.z, o.w)
        try:
            self.controller.set_goal(pos.x, pos.y, yaw)
        except ValueError as exc:
            self.reject(mon, "refused", str(exc))
            return
        mon.tick(self.now_s())
        self._walking_on_cmd_vel = False
        self.get_logger().info(f"goal ({pos.x:.2f}, {pos.y:.2f}) m, {yaw:.2f} rad")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response
                  ) -> Trigger.Response:
        c = self.controller
        if c is None or not self.active:
            response.success, response.message = False, "controller is not active"
            return response
        before = Mode(c.mode)
        try:
            c.reset()
        except ValueError as exc:
            response.success, response.message = False, f"reset refused: {exc}"
            return response
        after = Mode(c.mode)
        response.success = after not in (Mode.FALLEN, Mode.SAFE_STOP)
        response.message = (f"{before.value} -> {after.value}" if response.success else
                            f"still {after.value}: {getattr(c, 'reason', '')}")
        self.get_logger().info(f"reset: {response.message}")
        return response


def main(args: list[str] | None = None) -> None:
    """Run the ``humanoid_controller`` node."""
    raise SystemExit(run_node(HumanoidControllerNode, args))
