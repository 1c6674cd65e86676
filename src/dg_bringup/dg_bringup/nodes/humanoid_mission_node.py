"""Node ``humanoid_mission``: walks the biped through a list of goal poses (``dg demo humanoid``).

Wiring only; the rules are :class:`dg_bringup.scenarios.humanoid_mission.GoalSequencer`'s.

Topics:

* ``/humanoid/walking_state`` (dg_interfaces/WalkingState, sub, SENSOR_QOS): mode and
  estimated CoM of the walking controller, one per control period. Best effort matches any
  publisher's reliability. A state in another frame than ``frame_id`` or with a non-finite
  CoM is rejected (counted on diagnostics).
* ``/goal_pose`` (geometry_msgs/PoseStamped, pub, reliable, volatile, depth 1: what RViz's
  goal tool offers, so the controller's subscription takes both): the current goal.
* ``/mission_progress`` (dg_interfaces/MissionProgress, pub, STATE_QOS): RUNNING with the
  goal in progress, HOLDING while no walking state arrives for ``state_timeout_s``,
  SUCCEEDED / FAILED at the end (the demo monitor ends the launch on these).
"""

from __future__ import annotations

import math
from functools import partial

from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from dg_bringup.scenarios.humanoid_mission import (
    Goal,
    GoalSequencer,
    MissionState,
    Observation,
    SequencerConfig,
    goals_from_flat,
)
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.qos import SENSOR_QOS, STATE_QOS
from dg_common.sim_time import stamp_to_s
from dg_interfaces.msg import MissionProgress, WalkingState

_seq = partial(core_default, SequencerConfig)
SCHEMA = (
    ParamSpec("goals", "float[]", "goal poses [x0, y0, yaw0, x1, ...] in frame_id [m, m, rad]",
              min_len=3, read_only=True),
    ParamSpec("frame_id", "str", "walking frame of the goals and walking states",
              default="world", read_only=True),
    # the sequencer's settings, with SequencerConfig's defaults
    ParamSpec("goal_tolerance_m", "float", "reached: standing with the CoM this close [m]",
              default=_seq("goal_tolerance_m"), min=0.01, max=10.0, read_only=True),
    ParamSpec("start_delay_s", "float", "stand this long before the first goal [s]",
              default=_seq("start_delay_s"), min=0.0, max=600.0, read_only=True),
    ParamSpec("accept_timeout_s", "float",
              "send a goal again if the controller does not start within this [s]",
              default=_seq("accept_timeout_s"), min=0.1, max=600.0, read_only=True),
    ParamSpec("goal_timeout_s", "float", "fail when a goal takes longer than this [s]",
              default=_seq("goal_timeout_s"), min=1.0, max=86400.0, read_only=True),
    ParamSpec("max_resends", "int", "resends of one goal before the mission fails",
              default=_seq("max_resends"), min=0, max=100, read_only=True),
    ParamSpec("state_timeout_s", "float", "HOLDING when no walking state for this long [s]",
              default=1.0, min=0.01, max=600.0, read_only=True),
    ParamSpec("mission_name", "str", "name in mission_progress", default="humanoid_path",
              read_only=True),
)

#: /goal_pose: reliable, volatile, depth 1 (module docstring).
GOAL_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)

_PROGRESS = {
    MissionState.WAITING: MissionProgress.STATE_IDLE,
    MissionState.SENT: MissionProgress.STATE_RUNNING,
    MissionState.WALKING: MissionProgress.STATE_RUNNING,
    MissionState.SUCCEEDED: MissionProgress.STATE_SUCCEEDED,
    MissionState.FAILED: MissionProgress.STATE_FAILED,
}


class HumanoidMissionNode(DgNode):
    """Feeds walking states to the sequencer; publishes its goals and the progress."""

    def __init__(self, **kwargs: object) -> None:
        """Read the goals (ParameterError if malformed), create the topics."""
        super().__init__("humanoid_mission", SCHEMA, **kwargs)
        p = self.params
        try:
            self.sequencer = GoalSequencer(goals_from_flat(list(p.goals)), SequencerConfig(
                goal_tolerance_m=p.goal_tolerance_m, start_delay_s=p.start_delay_s,
                accept_timeout_s=p.accept_timeout_s, goal_timeout_s=p.goal_timeout_s,
                max_resends=p.max_resends))
        except ValueError as exc:
            raise ParameterError(f"humanoid_mission: {exc}") from None
        self._goal_pub = self.create_publisher(PoseStamped, "/goal_pose", GOAL_QOS)
        self._progress_pub = self.create_publisher(MissionProgress, "/mission_progress",
                                                   STATE_QOS)
        self.state_monitor = self.diagnostics.monitor("/humanoid/walking_state",
                                                       self.params.state_timeout_s)
        self.create_subscription(WalkingState, "/humanoid/walking_state",
                                 self.guarded(self.on_walking_state), SENSOR_QOS)
        self._last_state_s: float | None = None
        self._holding = False
        self.create_timer(0.25, self.guarded(self.on_timer))
        self._publish_progress(MissionProgress.STATE_IDLE)

    def on_walking_state(self, msg: WalkingState) -> None:
        """Advance the sequencer; publish a goal and progress when it says so."""
        if msg.header.frame_id not in ("", self.params.frame_id):
            self.reject(self.state_monitor, "frame",
                        f"frame '{msg.header.frame_id}', expected '{self.params.frame_id}'")
            return
        if not (math.isfinite(msg.com.x) and math.isfinite(msg.com.y)):
            self.reject(self.state_monitor, "non_finite", "non-finite CoM")
            return
        now = self.now_s()
        self.state_monitor.tick(now)
        self._last_state_s = now
        step = self.sequencer.update(Observation(
            t=stamp_to_s(msg.header.stamp), mode=msg.mode, com_x=msg.com.x,
            com_y=msg.com.y, reason=msg.reason))
        if step.send is not None:
            self._publish_goal(step.send, msg)
        if step.changed or self._holding:
            self._holding = False
            self._publish_progress(_PROGRESS[step.state])

    def on_timer(self) -> None:
        """HOLDING while the walking states stop (the mission resumes when they return)."""
        if self.sequencer.done or self._last_state_s is None or self._holding:
            return
        if self.now_s() - self._last_state_s > self.params.state_timeout_s:
            self._holding = True
            self._publish_progress(MissionProgress.STATE_HOLDING, "no walking state")

    def _publish_goal(self, goal: Goal, state: WalkingState) -> None:
        msg = PoseStamped()
        msg.header.stamp = state.header.stamp
        msg.header.frame_id = self.params.frame_id
        msg.pose.position.x, msg.pose.position.y = goal.x, goal.y
        msg.pose.orientation.z = math.sin(goal.yaw / 2.0)
        msg.pose.orientation.w = math.cos(goal.yaw / 2.0)
        self._goal_pub.publish(msg)
        self.get_logger().info(f"goal {self.sequencer.index + 1}/{len(self.sequencer.goals)}: "
                               f"x {goal.x:.2f} m, y {goal.y:.2f} m, yaw {goal.yaw:.2f} rad")

    def _publish_progress(self, state: int, detail: str | None = None) -> None:
        seq = self.sequencer
        msg = MissionProgress(mission=self.params.mission_name, state=state,
                              detail=detail or seq.detail, completed=seq.index
                              if seq.state is not MissionState.WAITING else 0,
                              total=len(seq.goals))
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params.frame_id
        self._progress_pub.publish(msg)
        self.diagnostics.set_value("mission_state", seq.state.value)
        self.diagnostics.set_value("goals_reached", f"{msg.completed}/{msg.total}")
        if state in (MissionProgress.STATE_SUCCEEDED, MissionProgress.STATE_FAILED):
            log = self.get_logger().info if state == MissionProgress.STATE_SUCCEEDED \
                else self.get_logger().error
            log(f"mission {self.params.mission_name}: {msg.detail}")


def main(args: list[str] | None = None) -> None:
    """Run the ``humanoid_mission`` node."""
    raise SystemExit(run_node(HumanoidMissionNode, args))
