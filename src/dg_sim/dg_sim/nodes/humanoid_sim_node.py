"""Node ``humanoid_sim``: the embedded simulator of the 12-DoF biped (MuJoCo).

It is the robot a walking controller drives, with the topics a Gazebo + ros2_control
(``JointGroupPositionController`` named ``leg_position_controller``) set-up or the real
robot's drivers give:

* subscribes ``/leg_position_controller/commands`` (``std_msgs/Float64MultiArray``, 12
  position targets [rad] in the order of the servo file ``leg_servos.yaml``). A command
  with the wrong length, a non-finite value or a value outside the joint limits is rejected
  (diagnostics + throttled warning) and the previous targets stay: nothing non-finite ever
  reaches a joint.
* publishes every step (``step_s``, 5 ms): ``/joint_states`` (position, velocity, servo
  torque), ``/imu/data`` (pelvis IMU, frame ``imu``), ``/left_foot/wrench`` and
  ``/right_foot/wrench`` (force/moment of the ground on the sole, frames ``l_sole`` /
  ``r_sole``); and, for scoring only, ``~/ground_truth`` (``nav_msgs/Odometry``, pelvis in
  the world frame, twist in the pelvis frame as REP-105 odometry), ``~/com`` (true centre of
  mass, world), ``~/zmp`` (ZMP from the contact forces, world; not sent in flight) and
  ``~/fallen`` (``std_msgs/Bool``).
* pushes: ``push_forces_n`` (x, y, z per push, world frame [N]) applied to the torso at
  ``push_times_s`` (sim time) for ``push_duration_s`` each; ``~/push``
  (``geometry_msgs/WrenchStamped``, frame world) carries the force when a push starts and a
  zero wrench when it ends.

Time: the node is the ``/clock`` source (:class:`dg_sim.nodes.time_source.TimeSource`): a
wall-time thread paces fixed steps at ``rtf`` and publishes ``/clock`` after each step's
sensor data, as ``usv_sim`` does. Lockstep with the controller (``lockstep:=true``): once a
first command has arrived, a step does not start until a command has answered the state
published by the previous step, or ``command_timeout_s`` of wall time has passed; then the
last targets stay and the miss is counted (diagnostics ``missed_commands``). So an
overloaded machine slows the run down instead of letting the robot walk blind, and a
controller that died does not freeze the simulation (it runs at one step per timeout).
Before the first command the robot stands on its initial targets at ``rtf``.
"""

from __future__ import annotations

import math
import threading
from functools import partial
from typing import Any

from geometry_msgs.msg import PointStamped, WrenchStamped
from nav_msgs.msg import Odometry
from rclpy.time import Time
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray

from dg_common.diagnostics import OK, WARN
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.qos import BRIDGE_PUB_QOS, COMMAND_SUB_QOS
from dg_sim.clock import MAX_RTF
from dg_sim.humanoid.sim import MAX_PUSH_N, BipedSim, BipedSimConfig, BipedSimError
from dg_sim.nodes.time_source import TimeSource

_F = "float"
COMMAND_TOPIC = "/leg_position_controller/commands"
#: Variance reported for what the simulated IMU measures without noise [rad^2, ...].
VARIANCE_FLOOR = 1e-9
#: What the robot and its world are built from: BipedSimConfig's defaults.
_bsim = partial(core_default, BipedSimConfig)

SCHEMA = (
    _p("urdf_path", "str", "biped URDF; empty: dg_motion's config/robots/biped/biped.urdf",
       _bsim("urdf_path")),
    _p("servo_file", "str", "joint servo gains (leg_servos.yaml format); empty: beside the "
       "URDF", _bsim("servo_file")),
    _p("step_s", _F, "clock step = sensor period [s] (the controller's period)", 0.005,
       0.001, 0.05),
    _p("physics_dt_s", _F, "physics and servo step [s] (step_s must be a multiple)",
       _bsim("physics_dt_s"), 0.0001, 0.005),
    ParamSpec("rtf", _F, "real-time factor of the steps (may change at run time)", 1.0,
              min=0.001, max=MAX_RTF),
    _p("lockstep", "bool", "wait for the controller's answer to each state before the next "
       "step", True),
    _p("command_timeout_s", _F, "lockstep: longest wall-time wait for a command [s]", 0.5,
       0.001, 60.0),
    _p("duration_s", _F, "stop (exit 0) after this much sim time [s]; 0: run until stopped",
       0.0, 0.0, 1e7),
    _p("terrain", "str", "ground: flat or steps (random height tiles)", _bsim("terrain"),
       choices=("flat", "steps")),
    _p("terrain_seed", "int", "seed of the tile heights", _bsim("terrain_seed"), 0, 2**31 - 1),
    _p("step_height_m", _F, "steps: tile heights uniform in [-h, +h] [m]", _bsim("step_height_m"),
       0.0, 0.2),
    _p("friction", _F, "sole/ground Coulomb friction coefficient", _bsim("friction"), 0.05, 5.0),
    _p("seed", "int", "seed of the sensor noise", _bsim("seed"), 0, 2**31 - 1),
    _p("gyro_noise_rad_s", _F, "gyro white noise std [rad/s]", _bsim("gyro_noise_rad_s"), 0.0,
       10.0),
    _p("acc_noise_mps2", _F, "accelerometer white noise std [m/s^2]", _bsim("acc_noise_mps2"), 0.0,
       100.0),
    _p("wrench_noise_n", _F, "foot force white noise std [N] (moments: / 10 m)",
       _bsim("wrench_noise_n"), 0.0, 1000.0),
    _p("push_times_s", "float[]", "sim times at which pushes start [s]", [], 0.0, 1e7),
    _p("push_forces_n", "float[]", "push forces, flat [fx, fy, fz, ...] per push, world [N]",
       [], -MAX_PUSH_N, MAX_PUSH_N),
    _p("push_duration_s", _F, "duration of each push [s]", 0.1, 0.001, 10.0),
    _p("initial_joint_positions", "float[]", "initial posture and targets, servo-file joint order "
       "[rad]; empty: the standing posture", []),
    _p("initial_x_m", _F, "start position of the pelvis, world x [m]", 0.0, -100.0, 100.0),
    _p("initial_y_m", _F, "start position of the pelvis, world y [m]", 0.0, -100.0, 100.0),
    _p("initial_yaw_rad", _F, "start heading [rad]", 0.0, -3.15, 3.15),
    _p("world_frame_id", "str", "world frame (ground truth, pushes)", "world"),
    _p("base_frame_id", "str", "pelvis frame", "pelvis"),
    _p("imu_frame_id", "str", "IMU frame", "imu"),
    _p("left_sole_frame_id", "str", "left sole frame (left foot wrench)", "l_sole"),
    _p("right_sole_frame_id", "str", "right sole frame (right foot wrench)", "r_sole"),
)


def _diag3(v: float) -> list[float]:
    return [v, 0.0, 0.0, 0.0, v, 0.0, 0.0, 0.0, v]


class HumanoidSimNode(DgNode):
    """Steps the MuJoCo biped in lockstep with its controller and publishes its sensors."""

    def __init__(self, **kwargs: Any) -> None:
        """Read parameters, build the robot, create topics and start the time source.

        Raises:
            ParameterError: on an invalid parameter (pushes, posture, model files).

        """
        super().__init__("humanoid_sim", SCHEMA, **kwargs)
        p = self.params
        n_steps = p.step_s / p.physics_dt_s
        if abs(n_steps - round(n_steps)) > 1e-6:
            raise ParameterError(f"parameter 'step_s' ({p.step_s}) must be a multiple of "
                                 f"'physics_dt_s' ({p.physics_dt_s})")
        forces = list(p.push_forces_n)
        if len(forces) != 3 * len(p.push_times_s):
            raise ParameterError(f"parameter 'push_forces_n' needs 3 values per push time "
                                 f"({len(p.push_times_s)} times), got {len(forces)}")
        self.pushes = sorted((t, tuple(forces[3 * i:3 * i + 3]))
                             for i, t in enumerate(p.push_times_s))
        try:
            self.sim = BipedSim(BipedSimConfig(
                urdf_path=p.urdf_path, servo_file=p.servo_file, physics_dt_s=p.physics_dt_s,
                terrain=p.terrain, terrain_seed=p.terrain_seed, step_height_m=p.step_height_m,
                friction=p.friction, seed=p.seed, gyro_noise_rad_s=p.gyro_noise_rad_s,
                acc_noise_mps2=p.acc_noise_mps2, wrench_noise_n=p.wrench_noise_n))
            q0 = list(p.initial_joint_positions) or self.sim.standing_posture()
            self.sim.reset(q0, (p.initial_x_m, p.initial_y_m, p.initial_yaw_rad))
        except BipedSimError as exc:
            raise ParameterError(str(exc)) from None

        self.commands_received = 0
        self.missed_commands = 0
        self._push_index = 0
        self._was_pushing = False
        self.cmd_monitor = self.diagnostics.monitor(COMMAND_TOPIC, p.command_timeout_s)
        self.create_subscription(Float64MultiArray, COMMAND_TOPIC,
                                 self.guarded(self._on_command), COMMAND_SUB_QOS)
        q = BRIDGE_PUB_QOS
        self._joint_pub = self.create_publisher(JointState, "/joint_states", q)
        self._imu_pub = self.create_publisher(Imu, "/imu/data", q)
        self._wrench_pubs = (self.create_publisher(WrenchStamped, "/left_foot/wrench", q),
                             self.create_publisher(WrenchStamped, "/right_foot/wrench", q))
        self._truth_pub = self.create_publisher(Odometry, "~/ground_truth", q)
        self._com_pub = self.create_publisher(PointStamped, "~/com", q)
        self._zmp_pub = self.create_publisher(PointStamped, "~/zmp", q)
        self._fallen_pub = self.create_publisher(Bool, "~/fallen", q)
        self._push_pub = self.create_publisher(WrenchStamped, "~/push", q)
        self.diagnostics.set_value("commands_received", 0)
        self.diagnostics.set_value("missed_commands", 0)
        self.diagnostics.set_value("fallen", False)
        self.diagnostics.set_status(OK, "running, waiting for the first command")
        # Commands arrive on the executor thread, steps run on the time source's thread:
        # _lock guards the simulator, _answer (a condition) the lockstep hand-shake.
        self._lock = threading.Lock()
        self._answer = threading.Condition()
        self._answered = False
        self._armed = False           # a first command came: lockstep from now on
        self._stopping = False
        self._time_source = TimeSource(self, p.step_s, start_s=p.step_s,
                                       duration_s=p.duration_s, on_step=self._on_step)

    def now_s(self) -> float:
        """Sim time [s] of the current step."""
        return self._time_source.now_s

    def on_exit(self) -> None:
        """Release a waiting step and stop the time source's thread."""
        with self._answer:
            self._stopping = True
            self._answer.notify_all()
        self._time_source.stop()

    # --- input ----------------------------------------------------------------------------
    def _on_command(self, msg: Float64MultiArray) -> None:
        with self._lock:
            try:
                self.sim.set_targets(list(msg.data))
            except BipedSimError as exc:
                reason = "non_finite" if "non-finite" in str(exc) else "invalid"
                self.reject(self.cmd_monitor, reason, str(exc))
            else:
                self.cmd_monitor.tick(self.now_s())
            self.commands_received += 1
        with self._answer:
            # a rejected command is an answer too: the controller is alive
            self._answered = True
            self._armed = True
            self._answer.notify_all()

    def _wait_for_answer(self) -> None:
        with self._answer:
            if not self._armed or self._stopping:
                return
            answered = self._answer.wait_for(lambda: self._answered or self._stopping,
                                             timeout=self.params.command_timeout_s)
            if not answered:
                self.missed_commands += 1
                self.get_logger().warning(
                    f"no command within {self.params.command_timeout_s} s: keeping the "
                    "last targets", throttle_duration_sec=1.0)

    # --- lockstep step --------------------------------------------------------------------
    def _on_step(self, sim_time_s: float) -> None:
        """One step to ``sim_time_s``: wait for the controller, integrate, publish."""
        if self.params.lockstep:
            self._wait_for_answer()
        with self._lock:
            sim = self.sim
            stamp = Time(nanoseconds=round(sim_time_s * 1e9)).to_msg()
            self._start_pushes(sim_time_s)
            dt = sim_time_s - sim.t
            if dt > 0.5 * sim.model.opt.timestep:
                n = max(1, round(dt / sim.model.opt.timestep))
                sim.step(n * sim.model.opt.timestep)
            if self._was_pushing and not sim.pushing:
                self._publish_push(stamp, (0.0, 0.0, 0.0))
            self._was_pushing = sim.pushing
            with self._answer:
                self._answered = False      # cleared before the state goes out
            fallen = self._publish(stamp)
        self.diagnostics.set_value("commands_received", self.commands_received)
        self.diagnostics.set_value("missed_commands", self.missed_commands)
        self.diagnostics.set_value("fallen", fallen)
        if fallen:
            self.diagnostics.set_status(WARN, "the robot has fallen")
        elif self._armed:
            self.diagnostics.set_status(OK, "running")

    def _start_pushes(self, sim_time_s: float) -> None:
        # a push starts with the first step that begins at or after its time
        while self._push_index < len(self.pushes) \
                and self.pushes[self._push_index][0] <= self.sim.t + 1e-9:
            t, force = self.pushes[self._push_index]
            self._push_index += 1
            self.sim.push(force, self.params.push_duration_s)
            self._was_pushing = True
            self._publish_push(Time(nanoseconds=round(self.sim.t * 1e9)).to_msg(), force)
            self.get_logger().info(f"push {force} N at {self.sim.t:.3f} s (asked {t:.3f} s)")

    # --- outputs --------------------------------------------------------------------------
    def _publish_push(self, stamp: Any, force: tuple[float, float, float]) -> None:
        msg = WrenchStamped()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params.world_frame_id
        msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z = (float(f) for f in force)
        self._push_pub.publish(msg)

    def _publish(self, stamp: Any) -> bool:
        """Publish the state; returns the fall flag."""
        p, sim = self.params, self.sim
        s = sim.sensors()
        tr = sim.truth()
        js = JointState()
        js.header.stamp = stamp
        js.name = list(sim.joint_names)
        js.position = s.q.tolist()
        js.velocity = s.dq.tolist()
        js.effort = sim.joint_torques().tolist()
        self._joint_pub.publish(js)

        imu = Imu()
        imu.header.stamp = stamp
        imu.header.frame_id = p.imu_frame_id
        o = imu.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in s.imu_quat)
        av, la = imu.angular_velocity, imu.linear_acceleration
        av.x, av.y, av.z = (float(v) for v in s.imu_gyro)
        la.x, la.y, la.z = (float(v) for v in s.imu_acc)
        imu.orientation_covariance = _diag3(VARIANCE_FLOOR)
        imu.angular_velocity_covariance = _diag3(max(p.gyro_noise_rad_s ** 2, VARIANCE_FLOOR))
        imu.linear_acceleration_covariance = _diag3(max(p.acc_noise_mps2 ** 2,
                                                        VARIANCE_FLOOR))
        self._imu_pub.publish(imu)

        for pub, frame, w in zip(self._wrench_pubs, (p.left_sole_frame_id,
                                                     p.right_sole_frame_id),
                                 (s.left_wrench, s.right_wrench), strict=True):
            msg = WrenchStamped()
            msg.header.stamp = stamp
            msg.header.frame_id = frame
            f, t = msg.wrench.force, msg.wrench.torque
            f.x, f.y, f.z, t.x, t.y, t.z = (float(v) for v in w)
            pub.publish(msg)

        odom = Odometry()
        odom.header.stamp = stamp
        odom.header.frame_id = p.world_frame_id
        odom.child_frame_id = p.base_frame_id
        pos, q = odom.pose.pose.position, odom.pose.pose.orientation
        pos.x, pos.y, pos.z = (float(v) for v in tr.pelvis_pos)
        q.w, q.x, q.y, q.z = (float(v) for v in tr.pelvis_quat)
        rot_t = sim.pelvis_rotation().T
        lin, ang = odom.twist.twist.linear, odom.twist.twist.angular
        lin.x, lin.y, lin.z = (float(v) for v in rot_t @ tr.pelvis_lin_vel)
        ang.x, ang.y, ang.z = (float(v) for v in rot_t @ tr.pelvis_ang_vel)
        self._truth_pub.publish(odom)

        com = PointStamped()
        com.header.stamp = stamp
        com.header.frame_id = p.world_frame_id
        com.point.x, com.point.y, com.point.z = (float(v) for v in tr.com)
        self._com_pub.publish(com)
        if tr.zmp is not None and all(math.isfinite(v) for v in tr.zmp):
            zmp = PointStamped()
            zmp.header = com.header
            zmp.point.x, zmp.point.y = float(tr.zmp[0]), float(tr.zmp[1])
            self._zmp_pub.publish(zmp)
        self._fallen_pub.publish(Bool(data=tr.fallen))
        return tr.fallen


def main(args: list[str] | None = None) -> None:
    """Run the ``humanoid_sim`` node."""
    raise SystemExit(run_node(HumanoidSimNode, args))
