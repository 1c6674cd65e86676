"""Lifecycle node ``arm_controller``: ros2_control's joint_trajectory_controller interface.

The 1 kHz loop (hardware read -> trajectory reference -> control law -> write) runs in a
child process started on configure (:class:`dg_motion.execution.control_loop.ControlLoopProcess`,
``spawn`` context); this node converts messages, validates goals and publishes state.
There is no separate ``joint_control_loop`` executable: the loop is this node's child.

Interfaces (ros2_control names; the node name is the controller name):

* ``/<name>/follow_joint_trajectory`` (control_msgs/action/FollowJointTrajectory): every
  goal is accepted, then validated (joint names, finite values, limits, increasing times);
  an invalid one ends at once ABORTED with ``error_code`` INVALID_JOINTS / INVALID_GOAL and
  the reason in ``error_string`` (rclpy cannot attach a result to a rejection, and the
  reason matters more). A new goal (action or topic) preempts the running one, blending
  from the current reference (no velocity step); the preempted goal is ABORTED with
  SUCCESSFUL and "preempted". Path / goal tolerance violations abort with their codes.
  Cancel brakes jerk-limited to a stop, then the goal is CANCELED.
* ``/<name>/joint_trajectory`` (trajectory_msgs/JointTrajectory, reliable depth 1): the
  same without feedback; invalid messages are rejected with a logged reason and a
  diagnostic; an empty trajectory stops. A topic trajectory not refreshed within
  ``command_timeout_s`` brakes to a hold (JTC's ``cmd_timeout``).
* ``/joint_states`` (sensor_msgs/JointState) and ``/<name>/controller_state``
  (control_msgs/JointTrajectoryControllerState) at ``state_publish_rate_hz``.
* ``/<name>/gpio/<name>`` (std_msgs/Float64) for each of ``gpio_names``;
  ``/<name>/payload`` (geometry_msgs/Inertia in the flange frame) re-tunes the
  feed-forward of the effort laws.
* Hardware sensors: ``tool_accelerometer`` -> ``/tool/accelerometer`` (sensor_msgs/Imu,
  frame tool0) at ``accelerometer_rate_hz``; simulator ground truth at
  ``ground_truth_rate_hz`` -> ``/ground_truth/contacts`` (std_msgs/Int32),
  ``/ground_truth/tool_pose`` (PoseStamped), other keys as PoseArray.
* ``/clock`` when ``publish_clock`` (simulated hardware): after each state publication,
  stamped with the loop's time (lockstep: data first, then the clock). The node itself then
  runs on wall time.

Safe output (deactivate, error, loop stall past ``command_timeout_s``, exit): the running
motion brakes to a hold; deactivate also puts the hardware back to INACTIVE.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from control_msgs.action import FollowJointTrajectory
from control_msgs.msg import JointTrajectoryControllerState
from geometry_msgs.msg import Inertia, Pose, PoseArray, PoseStamped
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.clock import Clock, ClockType
from rclpy.parameter import Parameter
from rclpy.task import Future
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64, Int32
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dg_common.diagnostics import ERROR, WARN
from dg_common.lifecycle import ActuatorNode, ControlStatus
from dg_common.main import run_node
from dg_common.param_schema import ParameterError, ParamSpec, core_default, read_only_param
from dg_common.qos import COMMAND_SUB_QOS, SENSOR_QOS
from dg_common.sim_time import s_to_stamp
from dg_motion.errors import MotionInputError
from dg_motion.execution.control_loop import (
    ControlLoopProcess,
    LawKind,
    LoopConfig,
    controller_limits,
)
from dg_motion.execution.goal_validation import (
    GoalError,
    GoalRejected,
    GoalSource,
    Point,
    Tolerances,
    tolerances_from,
    validate_goal,
)
from dg_motion.execution.trajectory_follower import FollowerMode, GoalOutcome

UR5_JOINTS = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
              "wrist_2_joint", "wrist_3_joint"]

SCHEMA = (
    read_only_param("joints", "str[]", "controlled joints, in this order", UR5_JOINTS,
                    min_len=1),
    read_only_param("robot_description", "str", "URDF file ('' = the packaged UR5)", ""),
    read_only_param("joint_limits", "str",
                    "MoveIt joint_limits.yaml ('' = the packaged UR5's; 'none' = URDF only)", ""),
    read_only_param("hardware_plugin", "str", "hardware plug-in 'package.module:Class'",
                    "dg_motion.execution.hardware_interface:MockSystem"),
    read_only_param("hardware_params_file", "str",
                    "YAML mapping given to the plug-in's on_configure ('' = its defaults)", ""),
    ParamSpec("control_law", "str", "loop law (may be switched at run time: the loop "
              "rebuilds the law and keeps following the current reference)",
              core_default(LoopConfig, "law"), choices=tuple(k.value for k in LawKind)),
    read_only_param("kp", "float[]", "position error gains of the effort laws [1/s^2]",
                    [400.0] * 6, 0.0, 1e6),
    read_only_param("kd", "float[]", "velocity error gains of the effort laws [1/s]",
                    [40.0] * 6, 0.0, 1e5),
    read_only_param("ki", "float[]", "integral gains of the effort laws [1/s^3] "
                    "(each below kp * kd; all 0 = no integral action)", [0.0] * 6, 0.0, 1e7),
    read_only_param("loop_rate_hz", "float", "control loop rate [Hz]", 1000.0, 10.0, 10000.0),
    read_only_param("realtime", "bool", "SCHED_FIFO, CPU pinning, gc off in the loop",
                    core_default(LoopConfig, "realtime")),
    read_only_param("path_tolerance_rad", "float",
                    "default path position tolerance [rad] (<= 0: unchecked)", 0.1, -1.0, 10.0),
    read_only_param("goal_tolerance_rad", "float",
                    "default goal position tolerance [rad] (<= 0: unchecked)", 0.01, -1.0,
                    10.0),
    read_only_param("goal_velocity_tolerance_radps", "float",
                    "default goal velocity tolerance [rad/s] (<= 0: unchecked)", 0.0, -1.0,
                    100.0),
    read_only_param("goal_time_tolerance_s", "float",
                    "default time after the end to reach the goal tolerance [s]", 1.0, 0.0,
                    600.0),
    read_only_param("start_tolerance_rad", "float",
                    "a point at time 0 must be this close to the current position [rad]",
                    core_default(LoopConfig, "start_tolerance_rad"), 0.0, 10.0),
    read_only_param("publish_clock", "bool", "publish /clock from simulated hardware", False),
    read_only_param("rtf", "float", "real-time factor of simulated hardware",
                    core_default(LoopConfig, "rtf"), 0.01, 100.0),
    read_only_param("state_publish_rate_hz", "float", "/joint_states and controller_state [Hz]",
                    100.0, 1.0, 1000.0),
    read_only_param("gpio_names", "str[]", "hardware GPIO commands (std_msgs/Float64 topics)",
                    []),
    read_only_param("gpio_input_names", "str[]",
                    "hardware inputs published as std_msgs/Float64 on <name>/gpio_in/<input>",
                    []),
    read_only_param("tool_frame", "str", "frame of the tool accelerometer", "tool0"),
    read_only_param("accelerometer_rate_hz", "float",
                    "rate of /tool/accelerometer [Hz] (loop samples, decimated)", 500.0,
                    1.0, 10000.0),
    read_only_param("base_frame", "str", "frame of ground-truth poses", "base_link"),
    read_only_param("ground_truth_rate_hz", "float",
                    "rate of the simulator's /ground_truth/* topics [Hz] (at most the state "
                    "rate; counters such as parts_done and contact_steps are cumulative)",
                    10.0, 0.1, 1000.0),
)

_RESULT = FollowJointTrajectory.Result
_OUTCOME_CODE = {
    GoalOutcome.SUCCEEDED.value: _RESULT.SUCCESSFUL,
    GoalOutcome.PATH_TOLERANCE_VIOLATED.value: _RESULT.PATH_TOLERANCE_VIOLATED,
    GoalOutcome.GOAL_TOLERANCE_VIOLATED.value: _RESULT.GOAL_TOLERANCE_VIOLATED,
    GoalOutcome.PREEMPTED.value: _RESULT.SUCCESSFUL,
    GoalOutcome.STOPPED.value: _RESULT.INVALID_GOAL,
}


#: Keys of the hardware parameters that name files: a relative path there is relative to the
#: parameters file (so a params file can point at its neighbours wherever it is installed).
PATH_KEYS = ("urdf", "cell")


def _hardware_params(path: str) -> dict:
    """The plug-in's parameters from a YAML mapping file ('' = none).

    Relative paths under :data:`PATH_KEYS` are resolved against the file's folder.

    Raises:
        MotionInputError: unreadable file or not a mapping.

    """
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(open(path, encoding="utf-8").read())
    except (OSError, yaml.YAMLError) as exc:
        raise MotionInputError(f"hardware_params_file {path!r}: {exc}") from None
    if not isinstance(data, dict):
        raise MotionInputError(f"hardware_params_file {path!r} must hold a mapping")
    folder = Path(path).resolve().parent
    for key in PATH_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            data[key] = str(folder / value)
    return data


def _duration_s(d: Duration) -> float:
    return d.sec + d.nanosec * 1e-9


def _point(q: Any, qd: Any = (), qdd: Any = (), effort: Any = ()) -> JointTrajectoryPoint:
    return JointTrajectoryPoint(positions=[float(x) for x in q],
                                velocities=[float(x) for x in qd],
                                accelerations=[float(x) for x in qdd],
                                effort=[float(x) for x in effort])


class ArmControllerNode(ActuatorNode):
    """The arm's trajectory controller (see module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node (unconfigured unless ``autostart``)."""
        self.loop: ControlLoopProcess | None = None
        self._ids = itertools.count(1)
        self._goals: dict[int, tuple[Any, Future]] = {}
        self._cancel_sent: set[int] = set()
        self._ros: list[Any] = []
        self._last_t = -1.0
        super().__init__("arm_controller", SCHEMA, **kwargs)
        if self.params.publish_clock and self.get_parameter("use_sim_time").value:
            self.get_logger().warning("use_sim_time:=true ignored: this node publishes /clock")
            self.set_parameters([Parameter("use_sim_time", value=False)])
        self.topic_monitor = self.diagnostics.monitor("joint_trajectory", math.inf)
        self.add_post_set_parameters_callback(self._on_parameters_set)

    def _on_parameters_set(self, changes: list[Parameter]) -> None:
        """Forward a validated ``control_law`` change to the loop."""
        for p in changes:
            if p.name == "control_law":
                self.get_logger().info(f"control law -> {p.value}")
                self._send("law", p.value)

    # --- lifecycle hooks ------------------------------------------------------------
    def configure(self) -> None:
        """Load limits, start the loop process, create the ROS interfaces.

        Raises:
            ParameterError: bad files, plug-in or law (the reason is logged).

        """
        from dg_motion.robots.paths import robot_file

        p = self.params
        urdf = p.robot_description or str(robot_file("ur5", "ur5.urdf"))
        limits_file = ("" if p.joint_limits == "none" else
                       p.joint_limits or str(robot_file("ur5", "joint_limits.yaml")))
        dof = len(p.joints)
        try:
            self.limits = controller_limits(urdf, limits_file, p.joints)
            hw_params = _hardware_params(p.hardware_params_file)
            config = LoopConfig(
                p.hardware_plugin, hw_params, self.limits, law=p.control_law,
                kp=list(p.kp), kd=list(p.kd),
                ki=list(p.ki) if any(p.ki) else [], robot_description=urdf,
                period_s=1.0 / p.loop_rate_hz, rtf=p.rtf, command_timeout_s=p.command_timeout_s,
                start_tolerance_rad=p.start_tolerance_rad, realtime=p.realtime,
                # lockstep: at most three state publications ahead of what was published
                max_lead_s=(3.0 * p.rtf / p.state_publish_rate_hz) if p.publish_clock else 0.0)
            self.loop = ControlLoopProcess(config)
        except MotionInputError as exc:
            raise ParameterError(str(exc)) from None
        if self.loop.refused:
            self.get_logger().info("control loop real-time measures refused by the OS: "
                                   + "; ".join(self.loop.refused))
        self.path_tol = Tolerances.uniform(dof, p.path_tolerance_rad)
        self.goal_tol = Tolerances.uniform(dof, p.goal_tolerance_rad,
                                           p.goal_velocity_tolerance_radps)
        name = self.get_name()
        self._js_pub = self.create_publisher(JointState, "/joint_states", 10)
        self._state_pub = self.create_publisher(JointTrajectoryControllerState,
                                                f"{name}/controller_state", 10)
        self._imu_pub = self.create_publisher(Imu, "/tool/accelerometer", SENSOR_QOS)
        self._acc_seen = 0
        self._acc_step = max(1, round(p.loop_rate_hz / p.accelerometer_rate_hz))
        self._clock_pub = (self.create_publisher(ClockMsg, "/clock", 10)
                           if p.publish_clock else None)
        self._gt_pubs: dict[str, Any] = {}
        self._next_gt_s = -math.inf   # loop time of the next ground-truth publication
        self._input_pubs = {k: self.create_publisher(Float64, f"{name}/gpio_in/{k}", 10)
                            for k in p.gpio_input_names}
        self._ros = [
            self.create_subscription(JointTrajectory, f"{name}/joint_trajectory",
                                     self.guarded(self._on_trajectory), COMMAND_SUB_QOS),
            self.create_subscription(Inertia, f"{name}/payload", self.guarded(self._on_payload),
                                     COMMAND_SUB_QOS),
        ]
        for g in p.gpio_names:
            self._ros.append(self.create_subscription(
                Float64, f"{name}/gpio/{g}",
                self.guarded(lambda msg, g=g: self._send("gpio", g, msg.data)), COMMAND_SUB_QOS))
        self._action = ActionServer(
            self, FollowJointTrajectory, f"{name}/follow_joint_trajectory",
            execute_callback=self._execute, goal_callback=lambda _: GoalResponse.ACCEPT,
            cancel_callback=lambda _: CancelResponse.ACCEPT)
        self._state_timer = self.create_timer(
            1.0 / p.state_publish_rate_hz, self.guarded(self._publish_state),
            clock=Clock(clock_type=ClockType.STEADY_TIME))

    def cleanup(self) -> None:
        """Stop the loop process and destroy the interfaces."""
        self._abort_all("controller cleaned up")
        if getattr(self, "_state_timer", None) is not None:
            self.destroy_timer(self._state_timer)
            self._state_timer = None
        for sub in self._ros:
            self.destroy_subscription(sub)
        self._ros = []
        if getattr(self, "_action", None) is not None:
            self._action.destroy()
            self._action = None
        if self.loop is not None:
            self.loop.close()
            self.loop = None

    def on_activate(self, state: Any) -> Any:
        """Activate the hardware (commands flow), then the base's control timer."""
        self._send("activate")
        return super().on_activate(state)

    def on_deactivate(self, state: Any) -> Any:
        """Brake, then put the hardware back to INACTIVE."""
        result = super().on_deactivate(state)
        self._send("deactivate")
        return result

    def control_step(self, now_s: float) -> ControlStatus:
        """Goal bookkeeping: outcomes, cancel requests, feedback, diagnostics."""
        if self.loop is None:
            return ControlStatus.IDLE
        if not self.loop.alive:
            self.diagnostics.set_status(ERROR, "control loop process died")
            self._abort_all("control loop process died")
            return ControlStatus.HOLD
        self._handle_events()
        snap = self.loop.snapshot()
        for gid, (handle, _) in list(self._goals.items()):
            if handle is None:
                continue
            if handle.is_cancel_requested and gid not in self._cancel_sent:
                self._cancel_sent.add(gid)
                self._send("stop", "canceled by the client")
            elif snap is not None and snap.goal_id == gid:
                fb = FollowJointTrajectory.Feedback()
                fb.header.stamp = self._stamp(snap.t_s)
                fb.joint_names = list(self.limits.names)
                fb.desired = _point(snap.q_ref, snap.qd_ref, snap.qdd_ref)
                fb.actual = _point(snap.q, snap.qd)
                fb.error = _point(snap.q_ref - snap.q, snap.qd_ref - snap.qd)
                handle.publish_feedback(fb)
        if snap is not None:
            st = self.loop.stats(last=1000)
            d = self.diagnostics
            d.set_value("loop_time_s", f"{snap.t_s:.3f}")
            d.set_value("follower_mode", snap.mode.value)
            d.set_value("hardware_state", snap.hardware.value)
            d.set_value("loop_compute_mean_us", f"{st.compute_mean_us:.1f}")
            d.set_value("loop_compute_p99_us", f"{st.compute_p99_us:.1f}")
            d.set_value("loop_lateness_p99_us", f"{st.lateness_p99_us:.1f}")
            d.set_value("loop_missed_deadlines", st.missed)
            # ros2_control's controller_manager warns at 1000 us mean execution time.
            if st.compute_mean_us > 1000.0:
                d.set_status(WARN, f"control loop mean compute {st.compute_mean_us:.0f} us")
            if snap.mode is FollowerMode.HOLDING:
                return ControlStatus.IDLE
        return ControlStatus.WORKING

    def publish_safe_output(self, reason: str) -> None:
        """Brake the running motion to a hold."""
        if self.loop is None or not self.loop.alive:
            return
        snap = self.loop.snapshot()
        if snap is not None and snap.mode in (FollowerMode.EXECUTING, FollowerMode.SETTLING):
            self._send("stop", reason)

    def on_exit(self) -> None:
        """Brake, stop the loop process (it deactivates the hardware)."""
        super().on_exit()
        if self.loop is not None:
            self.loop.close()
            self.loop = None

    # --- inputs ---------------------------------------------------------------------
    def _goal_spec(self, traj: JointTrajectory, source: GoalSource,
                   request: Any = None) -> Any:
        points = [Point(_duration_s(pt.time_from_start), list(pt.positions),
                        list(pt.velocities), list(pt.accelerations)) for pt in traj.points]
        path_tol, goal_tol, gtt = self.path_tol, self.goal_tol, self.params.goal_time_tolerance_s
        if request is not None:
            names = self.limits.names
            path_tol = tolerances_from([(t.name, t.position, t.velocity)
                                        for t in request.path_tolerance], names, path_tol,
                                       "path_tolerance")
            goal_tol = tolerances_from([(t.name, t.position, t.velocity)
                                        for t in request.goal_tolerance], names, goal_tol,
                                       "goal_tolerance")
            g = _duration_s(request.goal_time_tolerance)
            gtt = g if g > 0.0 else gtt
        return validate_goal(list(traj.joint_names), points, self.limits,
                             path_tolerance=path_tol, goal_tolerance=goal_tol,
                             goal_time_tolerance_s=gtt, source=source)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        if self.loop is None or not self.active:
            self.reject(self.topic_monitor, "inactive", "controller is not active")
            return
        if not msg.points:
            self._send("stop", "empty trajectory on the topic")
            self.topic_monitor.tick(self.now_s())
            return
        try:
            spec = self._goal_spec(msg, GoalSource.TOPIC)
        except GoalRejected as exc:
            self.reject(self.topic_monitor, GoalError(exc.code).name.lower(), str(exc))
            return
        self.topic_monitor.tick(self.now_s())
        gid = next(self._ids)
        self._goals[gid] = (None, Future())
        self._send("goal", gid, spec)

    def _on_payload(self, msg: Inertia) -> None:
        values = [msg.m, msg.com.x, msg.com.y, msg.com.z, msg.ixx, msg.ixy, msg.ixz, msg.iyy,
                  msg.iyz, msg.izz]
        if not all(math.isfinite(v) for v in values) or msg.m < 0.0:
            self.get_logger().warning(f"rejected payload {values}: non-finite or negative mass")
            return
        try:
            from dg_motion.dynamics.rigid_body import Payload
        except ImportError:
            self.get_logger().warning("payload ignored: dg_motion.dynamics is not available")
            return
        inertia = np.array([[msg.ixx, msg.ixy, msg.ixz], [msg.ixy, msg.iyy, msg.iyz],
                            [msg.ixz, msg.iyz, msg.izz]])
        self._send("payload", Payload(msg.m, np.array([msg.com.x, msg.com.y, msg.com.z]),
                                      inertia))
        self.get_logger().info(f"payload set: {msg.m:.3f} kg")

    async def _execute(self, goal_handle: Any) -> Any:
        result = FollowJointTrajectory.Result()
        if self.loop is None or not self.active:
            goal_handle.abort()
            result.error_code, result.error_string = _RESULT.INVALID_GOAL, \
                "controller is not active"
            return result
        try:
            spec = self._goal_spec(goal_handle.request.trajectory, GoalSource.ACTION,
                                   goal_handle.request)
        except GoalRejected as exc:
            self.get_logger().warning(f"goal rejected: {exc}")
            goal_handle.abort()
            result.error_code, result.error_string = int(exc.code), str(exc)
            return result
        gid = next(self._ids)
        future = Future()
        self._goals[gid] = (goal_handle, future)
        self._send("goal", gid, spec)
        return await future

    # --- loop events ------------------------------------------------------------------
    def _handle_events(self) -> None:
        for ev in self.loop.events():
            kind = ev[0]
            if kind == "rejected":
                _, gid, code, message = ev
                self.get_logger().warning(f"goal {gid} rejected: {message}")
                self._finish(gid, "rejected", message, code)
            elif kind == "ended":
                _, gid, outcome, message = ev
                self._finish(gid, outcome, message)
            elif kind == "lifecycle" and ev[2]:
                self.get_logger().error(f"hardware: {ev[2]}")
                self.diagnostics.set_status(ERROR, f"hardware: {ev[2]}")
            elif kind == "warning":
                self.get_logger().warning(ev[1])

    def _finish(self, gid: int, outcome: str, message: str, code: int | None = None) -> None:
        entry = self._goals.pop(gid, None)
        self._cancel_sent.discard(gid)
        if entry is None:
            return
        handle, future = entry
        if outcome != GoalOutcome.SUCCEEDED.value and message:
            self.get_logger().info(f"goal {gid} {outcome}: {message}")
        if handle is None:
            return
        result = FollowJointTrajectory.Result()
        result.error_code = _OUTCOME_CODE.get(outcome, _RESULT.INVALID_GOAL) if code is None \
            else code
        result.error_string = message
        if outcome == GoalOutcome.SUCCEEDED.value:
            handle.succeed()
        elif handle.is_cancel_requested:
            result.error_code = _RESULT.SUCCESSFUL
            handle.canceled()
        else:
            handle.abort()
        future.set_result(result)

    def _abort_all(self, reason: str) -> None:
        for gid in list(self._goals):
            self._finish(gid, GoalOutcome.STOPPED.value, reason)

    def _send(self, *msg: Any) -> None:
        if self.loop is not None and self.loop.alive:
            self.loop.send(*msg)

    # --- state publication ------------------------------------------------------------
    def _stamp(self, loop_t_s: float) -> Any:
        if self.loop is not None and self.loop.simulated:
            return s_to_stamp(loop_t_s)
        return self.get_clock().now().to_msg()

    def _publish_state(self) -> None:
        if self.loop is None:
            return
        snap = self.loop.snapshot()
        if snap is None or snap.t_s == self._last_t:
            return
        self._last_t = snap.t_s
        self.watchdog.feed(self.now_s())
        stamp = self._stamp(snap.t_s)
        names = list(self.limits.names)
        js = JointState(name=names, position=snap.q.tolist(), velocity=snap.qd.tolist(),
                        effort=snap.effort.tolist())
        js.header.stamp = stamp
        self._js_pub.publish(js)
        cs = JointTrajectoryControllerState(joint_names=names, speed_scaling_factor=1.0)
        cs.header.stamp = stamp
        cs.reference = _point(snap.q_ref, snap.qd_ref, snap.qdd_ref)
        cs.feedback = _point(snap.q, snap.qd, effort=snap.effort)
        cs.error = _point(snap.q_ref - snap.q, snap.qd_ref - snap.qd)
        cmd = [a for a in (snap.cmd_position, snap.cmd_velocity, snap.cmd_effort)]
        cs.output = _point(*(a if np.isfinite(a).all() else () for a in
                             (cmd[0], cmd[1])), effort=cmd[2] if np.isfinite(cmd[2]).all()
                           else ())
        self._state_pub.publish(cs)
        self._publish_sensors(snap, stamp)
        if self._clock_pub is not None:
            self._clock_pub.publish(ClockMsg(clock=s_to_stamp(snap.t_s)))
        self.loop.mark_published(snap.t_s)

    def _publish_sensors(self, snap: Any, stamp: Any) -> None:
        # every accelerometer sample of the loop (decimated to accelerometer_rate_hz), each
        # with its own loop-time stamp: vibration needs the loop's rate
        self._acc_seen, samples = self.loop.accelerometer(self._acc_seen)
        # every acc_step-th loop sample, counted over the whole stream (not per batch: a
        # batch of odd length would shift the phase and make the rate uneven)
        first = (-(self._acc_seen - len(samples))) % self._acc_step
        for t, ax, ay, az in samples[first::self._acc_step]:
            if not math.isfinite(ax + ay + az):
                continue
            imu = Imu()
            imu.header.stamp = self._stamp(float(t))
            imu.header.frame_id = self.params.tool_frame
            imu.orientation_covariance[0] = -1.0   # no orientation
            imu.angular_velocity_covariance[0] = -1.0
            imu.linear_acceleration.x, imu.linear_acceleration.y, imu.linear_acceleration.z = (
                float(ax), float(ay), float(az))
            self._imu_pub.publish(imu)
        for key, pub in self._input_pubs.items():
            arr = snap.sensors.get(key)
            if arr is not None and len(arr) == 1 and np.isfinite(arr[0]):
                pub.publish(Float64(data=float(arr[0])))
        if snap.ground_truth and snap.t_s >= self._next_gt_s:
            self._publish_ground_truth(snap.ground_truth, stamp)
            self._next_gt_s = snap.t_s + 1.0 / self.params.ground_truth_rate_hz - 1e-9

    def _publish_ground_truth(self, truth: dict[str, np.ndarray], stamp: Any) -> None:
        for key, arr in truth.items():
            msg = self._gt_message(key, arr, stamp)
            if msg is None:
                continue
            pub = self._gt_pubs.get(key)
            if pub is None:
                pub = self._gt_pubs[key] = self.create_publisher(type(msg),
                                                                 f"/ground_truth/{key}", 10)
            pub.publish(msg)

    def _gt_message(self, key: str, arr: np.ndarray, stamp: Any) -> Any:
        if key == "contacts":
            return Int32(data=int(arr[0])) if np.isfinite(arr[0]) else None
        if len(arr) == 1:  # counts and scalars (parts_done, contact_steps, ...)
            return Float64(data=float(arr[0])) if np.isfinite(arr[0]) else None
        if len(arr) % 7 or not np.isfinite(arr).all():
            return None
        poses = []
        for x, y, z, qx, qy, qz, qw in np.asarray(arr).reshape(-1, 7):
            pose = Pose()
            pose.position.x, pose.position.y, pose.position.z = float(x), float(y), float(z)
            o = pose.orientation
            o.x, o.y, o.z, o.w = float(qx), float(qy), float(qz), float(qw)
            poses.append(pose)
        if key == "tool_pose":
            msg = PoseStamped(pose=poses[0])
        else:
            msg = PoseArray(poses=poses)
        msg.header.stamp, msg.header.frame_id = stamp, self.params.base_frame
        return msg


def main(args: list[str] | None = None) -> None:
    """Run the ``arm_controller`` node."""
    raise SystemExit(run_node(ArmControllerNode, args))

