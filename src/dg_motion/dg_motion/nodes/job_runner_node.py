"""Node ``job_runner``: checks and plans a YAML arm job, then runs it on the arm controller.

The job (format: :mod:`dg_motion.offline.job`) is checked and planned at start
(:func:`dg_motion.offline.checks.check_job`: reachability, limits, singularities,
collisions); a job that fails a check is never sent to the arm (the node exits with code 2
and names the move). The runs (``runs`` parameter, e.g. ``[plain, shaped]``) then execute
one after the other, decided by :class:`dg_motion.execution.job_sequencer.JobSequencer` and
carried out by :class:`dg_motion.execution.job_driver.JobDriver`; this node is only the
driver's transport:

* a move: the trajectory sampled every ``goal_dt_s`` (positions, velocities,
  accelerations) as a ``FollowJointTrajectory`` goal to ``/<controller>``;
* an output: ``/<controller>/gpio/<name>`` (std_msgs/Float64); an input:
  ``/<controller>/gpio_in/<name>``;
* the payload: ``/<controller>/payload`` (geometry_msgs/Inertia, point mass at the part's
  centre of mass, flange frame);
* each run's law: the controller's ``control_law`` parameter (``plain_control_law`` in runs
  that do not compensate, ``compensated_control_law`` in those that do);
* the tool accelerometer (``/tool/accelerometer``) for the identification of the arm's
  vibration modes.

Progress: ``/job/progress`` (dg_interfaces/MissionProgress, transient local: the demo
monitor ends the launch on SUCCEEDED/FAILED) and every run and move start and end on
``/job/events`` (dg_interfaces/JobEvent: the analysis of a run reads them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from control_msgs.action import FollowJointTrajectory
from geometry_msgs.msg import Inertia
from rclpy.action import ActionClient
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, core_default, read_only_param
from dg_common.qos import COMMAND_SUB_QOS, STATE_QOS
from dg_common.sim_time import s_to_stamp, stamp_to_s
from dg_interfaces.msg import JobEvent as JobEventMsg
from dg_interfaces.msg import MissionProgress
from dg_motion.errors import MotionInputError
from dg_motion.execution.job_driver import JobDriver
from dg_motion.execution.job_sequencer import Action, JobSequencer, JobState, RunSpec
from dg_motion.offline.checks import check_job
from dg_motion.offline.job import PayloadSpec, load_job
from dg_motion.offline.planner import IoKind
from dg_motion.shaping.mode_identification import ModeEstimate
from dg_motion.trajectory.types import sample_uniform

#: What each run name means: (shaped, compensated).
RUN_KINDS = {"plain": (False, False), "shaped": (True, True), "compensated": (False, True),
             "shaped_only": (True, False)}
_LAWS = ("pd_gravity", "computed_torque", "position")

SCHEMA = (
    read_only_param("job_file", "str", "the YAML job to run", None),
    read_only_param("runs", "str[]", "runs in order: plain (unshaped, uncompensated), shaped "
                    "(shaped + compensated), compensated, shaped_only", ["plain", "shaped"],
                    choices=tuple(RUN_KINDS), min_len=1, max_len=8),
    read_only_param("controller", "str", "name of the arm controller", "arm_controller"),
    read_only_param("plain_control_law", "str", "the controller's law in uncompensated runs",
                    "pd_gravity", choices=_LAWS),
    read_only_param("compensated_control_law", "str",
                    "the controller's law in compensated runs", "computed_torque",
                    choices=_LAWS),
    read_only_param("shaper_kind", "str", "input shaper of shaped runs",
                    core_default(JobSequencer, "shaper_kind"),
                    choices=("zv", "mzv", "zvd", "zvdd", "ei", "ei2", "ei3")),
    read_only_param("mode_frequency_hz", "float",
                    "dominant mode [Hz] of shaped runs; 0 = identify it with a test move",
                    0.0, 0.0, 200.0),
    read_only_param("mode_damping_ratio", "float", "damping ratio of that mode", 0.0, 0.0, 0.5),
    read_only_param("goal_dt_s", "float", "sample period of the trajectories sent [s]",
                    0.01, 0.001, 0.1),
    read_only_param("start_tolerance_rad", "float",
                    "the arm must be this close to the job's start before it runs [rad]",
                    0.02, 1e-4, 1.0),
    read_only_param("reset_output", "str",
                    "output pulsed to reset a simulated cell before each run ('' = none)",
                    "sim_reset_cell"),
    read_only_param("reset_hold_s", "float", "duration of the reset pulse [s]", 0.3, 0.0, 10.0),
)

#: The controller publishes the accelerometer's loop samples in bursts (one per state
#: publication): best effort as sensor data, but deep enough for a burst.
ACCEL_SUB_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                           reliability=ReliabilityPolicy.BEST_EFFORT,
                           durability=DurabilityPolicy.VOLATILE)
#: Every JobEvent message must reach the recorder.
EVENTS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


class _RosDriver(JobDriver):
    """The job driver's transport over ROS (see the module docstring)."""

    def __init__(self, node: JobRunnerNode, seq: JobSequencer) -> None:
        p = node.params
        super().__init__(seq, plain_law=p.plain_control_law,
                         compensated_law=p.compensated_control_law,
                         reset_output=p.reset_output, reset_hold_s=p.reset_hold_s)
        self.node = node
        c = p.controller
        self._action = ActionClient(node, FollowJointTrajectory,
                                    f"/{c}/follow_joint_trajectory")
        self._params = AsyncParameterClient(node, f"/{c}")
        self._payload_pub = node.create_publisher(Inertia, f"/{c}/payload", COMMAND_SUB_QOS)
        self._out_pubs: dict[str, Any] = {}
        self._inputs: dict[str, float] = {}
        for name in sorted({ev.name for m in seq.job.moves for ev in m.io}):
            node.create_subscription(
                Float64, f"/{c}/gpio_in/{name}",
                node.guarded(lambda msg, n=name: self._inputs.__setitem__(n, msg.data)),
                COMMAND_SUB_QOS)
        self._progress_pub = node.create_publisher(MissionProgress, "/job/progress", STATE_QOS)
        self._events_pub = node.create_publisher(JobEventMsg, "/job/events", EVENTS_QOS)
        # every output up front: its first value must reach late-joining recorders too
        outputs = {ev.name for m in seq.job.moves for ev in m.io if ev.kind is IoKind.SET}
        for name in sorted(outputs | ({p.reset_output} if p.reset_output else set())):
            self._publisher(name)
        self.total = sum(m.kind.is_motion for m in seq.job.moves) * len(seq.runs)

    @property
    def server_ready(self) -> bool:
        """True when the controller's action server is up."""
        return self._action.server_is_ready()

    def send_goal(self, action: Action) -> None:
        """The move as a FollowJointTrajectory goal."""
        assert action.trajectory is not None
        s = sample_uniform(action.trajectory, self.node.params.goal_dt_s)
        msg = JointTrajectory(joint_names=list(s.names))
        for t, q, qd, qdd in zip(s.t_s, s.q, s.qd, s.qdd, strict=True):
            pt = JointTrajectoryPoint(positions=q.tolist(), velocities=qd.tolist(),
                                      accelerations=qdd.tolist())
            pt.time_from_start.sec, pt.time_from_start.nanosec = divmod(
                round(float(t) * 1e9), 1_000_000_000)
            msg.points.append(pt)
        future = self._action.send_goal_async(FollowJointTrajectory.Goal(trajectory=msg))
        future.add_done_callback(self.node.guarded(lambda f: self._accepted(f, action)))

    def _accepted(self, future: Any, action: Action) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.goal_done(action, False, "goal not accepted")
            return
        handle.get_result_async().add_done_callback(
            self.node.guarded(lambda f: self._result(f, action)))

    def _result(self, future: Any, action: Action) -> None:
        res = future.result()
        ok = (res is not None and res.status == 4   # GoalStatus.STATUS_SUCCEEDED
              and res.result.error_code == FollowJointTrajectory.Result.SUCCESSFUL)
        text = "no result" if res is None else res.result.error_string
        if not ok:
            self.node.get_logger().error(f"move '{action.name}' failed: {text}")
        self.goal_done(action, ok, text)

    def _publisher(self, name: str) -> Any:
        pub = self._out_pubs.get(name)
        if pub is None:
            pub = self._out_pubs[name] = self.node.create_publisher(
                Float64, f"/{self.node.params.controller}/gpio/{name}", COMMAND_SUB_QOS)
        return pub

    def set_output(self, name: str, value: float) -> None:
        """Publish the output."""
        self._publisher(name).publish(Float64(data=float(value)))

    def goal_done(self, action: Action, ok: bool, text: str) -> None:
        """A result arrived (in a callback): take the time now, then the driver's handling."""
        self.now_s = self.node.now_s()
        super().goal_done(action, ok, text)

    def set_payload(self, payload: PayloadSpec) -> None:
        """Publish the payload (point mass)."""
        msg = Inertia(m=float(payload.mass_kg))
        msg.com.x, msg.com.y, msg.com.z = (float(v) for v in payload.com_m)
        self._payload_pub.publish(msg)

    def set_law(self, law: str) -> None:
        """Set the controller's control_law parameter."""
        self._params.set_parameters([Parameter("control_law", value=law)])

    def input_value(self, name: str) -> float:
        """The input's last value."""
        return self._inputs.get(name, float("nan"))

    def report(self, kind: int, action: Action, planned_s: float = 0.0) -> None:
        """Publish a JobEvent."""
        msg = JobEventMsg(run=action.run, event=kind, index=max(action.index, 0),
                          name=action.name, planned_duration_s=float(planned_s))
        msg.header.stamp = s_to_stamp(max(self.node.now_s(), 0.0))   # not the last tick's
        self._events_pub.publish(msg)

    def progress(self, text: str) -> None:
        """Log and publish a progress line."""
        self.node.get_logger().info(text)
        self._publish_progress(MissionProgress.STATE_RUNNING, text)

    def on_finish(self, success: bool, text: str) -> None:
        """Publish the terminal state (the demo monitor ends the launch on it)."""
        (self.node.get_logger().info if success else self.node.get_logger().error)(
            f"job {'succeeded' if success else 'FAILED'}: {text}")
        self._publish_progress(MissionProgress.STATE_SUCCEEDED if success
                               else MissionProgress.STATE_FAILED, text)

    def _publish_progress(self, state: int, detail: str) -> None:
        msg = MissionProgress(mission=f"job {self.seq.job.name}", state=state, detail=detail,
                              completed=min(self.done_moves, self.total), total=self.total)
        msg.header.stamp = s_to_stamp(max(self.now_s, 0.0))
        self._progress_pub.publish(msg)


class JobRunnerNode(DgNode):
    """Runs a job on the arm controller (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        """Check and plan the job, connect to the controller, wait for it."""
        super().__init__("job_runner", SCHEMA, **kwargs)
        p = self.params
        try:
            job = load_job(p.job_file)
            report, planned = check_job(job)
        except MotionInputError as exc:
            raise ParameterError(f"job_file: {exc}") from None
        if planned is None:
            f = report.first_failure
            why = (f"move {f.move_index} '{f.move_name}' fails {f.check.value}: {f.reason}"
                   if f is not None else "not planned")
            raise ParameterError(f"job {p.job_file} fails its checks: {why}")
        self.get_logger().info(
            f"job '{planned.name}': {len(planned.moves)} moves, estimated cycle "
            f"{planned.cycle_time_s:.1f} s, checks passed")
        mode = (ModeEstimate(p.mode_frequency_hz, p.mode_damping_ratio, 0.0, 0.0)
                if p.mode_frequency_hz > 0.0 else None)
        seq = JobSequencer(planned, [RunSpec(n, *RUN_KINDS[n]) for n in p.runs],
                           job.arm.limits, shaper_kind=p.shaper_kind, mode=mode)
        self.driver = _RosDriver(self, seq)
        self._q: np.ndarray | None = None
        self.create_subscription(JointState, "/joint_states", self.guarded(self._on_joints), 10)
        self.create_subscription(Imu, "/tool/accelerometer", self.guarded(self._on_imu),
                                 ACCEL_SUB_QOS)
        self.driver.progress("waiting for the arm controller")
        self.create_timer(0.02, self.guarded(self._tick))

    def _on_joints(self, msg: JointState) -> None:
        idx = {n: i for i, n in enumerate(msg.name)}
        names = self.driver.seq.job.names
        if all(n in idx for n in names):
            self._q = np.array([msg.position[idx[n]] for n in names])

    def _on_imu(self, msg: Imu) -> None:
        a = msg.linear_acceleration
        self.driver.accelerometer(stamp_to_s(msg.header.stamp), a.x, a.y, a.z)

    def _tick(self) -> None:
        d, now = self.driver, self.now_s()
        if d.finished is not None:
            return
        if d.seq.state is JobState.WAITING:
            if self._q is None or not d.server_ready or now <= 0.0:
                return
            err = float(np.max(np.abs(self._q - d.seq.job.start_q)))
            if err > self.params.start_tolerance_rad:
                d.fail(f"the arm is {err:.3f} rad from the job's start (tolerance "
                       f"{self.params.start_tolerance_rad} rad)")
            else:
                d.ready(now)
            return
        d.tick(now)


def main(args: list[str] | None = None) -> None:
    """Run the ``job_runner`` node."""
    raise SystemExit(run_node(JobRunnerNode, args))
