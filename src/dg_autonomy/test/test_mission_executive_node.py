"""Node tests of ``mission_executive`` with real rclpy and DDS (wall clock, no sim time)."""

import json
import pathlib
import time

import pytest
import rclpy
import yaml
from nav_msgs.msg import Odometry, Path
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import NavSatFix, NavSatStatus
from std_msgs.msg import Header

from dg_autonomy.nodes.mission_executive_node import MissionExecutiveNode
from dg_common.main import run_node
from dg_common.qos import STATE_QOS
from dg_common.testing import spin_until
from dg_interfaces.msg import (
    GuidanceCommand,
    MissionProgress,
    NavigatorStatus,
    WaterSample,
)

REPO = pathlib.Path(__file__).resolve().parents[3]

#: A small bay: 3 lanes, one sample, so a full mission takes a few seconds with the fake.
SMALL = {"mission": {
    "name": "node_test_bay",
    "area": {"polygon": [[0, 0], [120, 0], [120, 60], [0, 60]]},
    "home": [10, 10],
    "survey": {"swath_m": 20.0, "speed_mps": 2.0, "shore_margin_m": 5.0},
    "samples": {"points": [[60, 30]], "dwell_s": 0.3},
    "planner": {"resolution_m": 2.0, "inflation_m": 3.0},
}}


def write_mission(tmp_path, doc=SMALL, name="mission.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc))
    return str(p)


class FakeNavigator:
    """Publishes odometry, GNSS fixes, heartbeats; 'executes' each command by jumping to its
    end and reporting ``finished`` for its plan_id (unless paused)."""

    def __init__(self, context, heartbeat=True):
        self.node = Node("fake_navigator", context=context)
        n = self.node
        self.odom_pub = n.create_publisher(Odometry, "odometry/filtered", 10)
        self.status_pub = n.create_publisher(NavigatorStatus, "navigator/status", 10)
        self.fix_pub = n.create_publisher(NavSatFix, "wamv/sensors/gps/gps/fix", 10)
        self.hb_pub = n.create_publisher(Header, "operator/heartbeat", 10)
        self.wq_pub = n.create_publisher(WaterSample, "water_quality", 10)
        self.commands, self.progress, self.samples, self.plans = [], [], [], []
        n.create_subscription(GuidanceCommand, "navigator/command", self._on_cmd, STATE_QOS)
        n.create_subscription(MissionProgress, "mission_progress", self.progress.append,
                              STATE_QOS)
        n.create_subscription(Path, "mission/plan", self.plans.append, STATE_QOS)
        n.create_subscription(WaterSample, "mission/samples", self.samples.append,
                              QoSProfile(depth=100))
        self.pose = (10.0, 10.0)
        self.paused = False
        self.pause_after = None   # stop executing commands after this many
        self.executed = 0
        self.heartbeat = heartbeat
        self.finished_id = None
        self._timer = n.create_timer(0.05, self._publish)

    def _on_cmd(self, msg):
        self.commands.append(msg)
        if self.pause_after is not None and self.executed >= self.pause_after:
            self.paused = True
        if self.paused:
            return
        self.executed += 1
        if msg.mode == GuidanceCommand.MODE_FOLLOW_PATH:
            self.pose = (msg.path[-1].x, msg.path[-1].y)
        elif msg.mode == GuidanceCommand.MODE_STATION_KEEP:
            self.pose = (msg.station.x, msg.station.y)
        self.finished_id = msg.plan_id

    def _publish(self):
        stamp = self.node.get_clock().now().to_msg()
        od = Odometry()
        od.header.stamp, od.header.frame_id, od.child_frame_id = stamp, "map", "base_link"
        od.pose.pose.position.x, od.pose.pose.position.y = self.pose
        od.pose.pose.orientation.w = 1.0
        self.odom_pub.publish(od)
        fix = NavSatFix()
        fix.header.stamp = stamp
        fix.status.status = NavSatStatus.STATUS_FIX
        fix.latitude, fix.longitude = 47.0, 8.0
        self.fix_pub.publish(fix)
        if self.heartbeat:
            self.hb_pub.publish(Header(stamp=stamp))
        if self.finished_id is not None and not self.paused:
            self.status_pub.publish(NavigatorStatus(plan_id=self.finished_id, finished=True))
        wq = WaterSample()
        wq.header.stamp, wq.header.frame_id = stamp, "map"
        wq.x_m, wq.y_m = self.pose
        wq.temperature_c, wq.dissolved_oxygen_mgl, wq.turbidity_ntu = 18.5, 8.2, 3.1
        self.wq_pub.publish(wq)

    def detail(self):
        return self.progress[-1].detail if self.progress else ""


class Harness:
    def __init__(self, context, mission_file, progress_file, **params):
        self.context = context
        self.overrides = [Parameter("mission_file", value=mission_file),
                          Parameter("progress_file", value=progress_file),
                          *[Parameter(k, value=v) for k, v in params.items()]]
        self.executor = SingleThreadedExecutor(context=context)
        self.nav = FakeNavigator(context)
        self.executor.add_node(self.nav.node)
        self.exe = None
        self.start()

    def start(self):
        self.exe = MissionExecutiveNode(context=self.context, parameter_overrides=self.overrides)
        self.executor.add_node(self.exe)

    def kill(self):
        self.executor.remove_node(self.exe)
        self.exe.destroy_node()
        self.exe = None

    def spin_until(self, cond, timeout_s):
        return spin_until(self.executor, cond, timeout_s)

    def close(self):
        if self.exe is not None:
            self.kill()
        self.executor.shutdown()
        self.nav.node.destroy_node()


@pytest.fixture
def harness_factory(ros_context):
    made = []

    def make(*args, **kwargs):
        h = Harness(ros_context, *args, **kwargs)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


def test_invalid_mission_file_exits_with_code_2_and_a_clear_message(tmp_path, capfd):
    bad = dict(SMALL["mission"], area={"polygon": [[0, 0], [120, 60], [120, 0], [0, 60]]})
    path = write_mission(tmp_path, {"mission": bad}, "bad.yaml")
    code = run_node(MissionExecutiveNode, ["--ros-args", "-p", f"mission_file:={path}"])
    assert code == 2
    err = capfd.readouterr().err
    assert "configuration error: parameter 'mission_file': mission file" in err
    assert "area.polygon is not a simple polygon: Self-intersection" in err
    neg = dict(SMALL["mission"], survey=dict(SMALL["mission"]["survey"], speed_mps=-2.0))
    path = write_mission(tmp_path, {"mission": neg}, "neg.yaml")
    assert run_node(MissionExecutiveNode, ["--ros-args", "-p", f"mission_file:={path}"]) == 2
    assert "survey.speed_mps must be > 0, got -2" in capfd.readouterr().err
    # No mission_file at all.
    assert run_node(MissionExecutiveNode, []) == 2
    assert "parameter 'mission_file' is required" in capfd.readouterr().err


def test_full_mission_publishes_progress_plan_and_samples(harness_factory, tmp_path):
    h = harness_factory(write_mission(tmp_path), str(tmp_path / "progress.json"))
    n = h.exe.executive.total
    assert h.spin_until(lambda: h.nav.progress and h.nav.progress[-1].state
                        == MissionProgress.STATE_SUCCEEDED, 20.0), h.nav.detail()
    details = [m.detail for m in h.nav.progress]
    assert details[0] == "IDLE waiting for a position"
    assert any(d.startswith("SURVEY lane 1/") for d in details)
    assert "SAMPLE S01 (1/1)" in details and "RETURN_HOME" in details
    assert h.nav.progress[-1].completed == h.nav.progress[-1].total == n
    assert all(m.mission == "survey" for m in h.nav.progress)
    ids = [c.plan_id for c in h.nav.commands]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert h.nav.plans and len(h.nav.plans[-1].poses) > 4
    assert h.spin_until(lambda: h.nav.samples, 2.0)
    s = h.nav.samples[0]
    assert s.sample_id == "S01" and s.temperature_c == pytest.approx(18.5)
    saved = json.loads((tmp_path / "progress.json").read_text())
    assert saved["status"] == "done" and saved["samples"][0]["sample_id"] == "S01"


def test_killed_mid_survey_resumes_from_next_lane(harness_factory, tmp_path):
    progress = tmp_path / "progress.json"
    h = harness_factory(write_mission(tmp_path), str(progress))
    n_lanes = h.exe.executive.n_lanes
    assert n_lanes >= 3
    h.nav.pause_after = 1        # lane 1 is done; lane 2 is being surveyed when it dies

    def lane2():
        return h.nav.detail() == f"SURVEY lane 2/{n_lanes}"

    assert h.spin_until(lambda: lane2() and len(h.nav.commands) == 2, 10.0), h.nav.detail()
    last_id = h.nav.commands[-1].plan_id
    h.kill()
    saved = json.loads(progress.read_text())
    assert saved["completed"] == 1 and saved["last_plan_id"] == last_id
    n_before = len(h.nav.commands)
    h.start()
    assert h.spin_until(lambda: len(h.nav.commands) > n_before, 5.0)
    first = h.nav.commands[n_before]
    assert first.plan_id == last_id + 1
    assert h.spin_until(lane2, 2.0), h.nav.detail()
    assert h.nav.progress[-1].completed == 1
    assert not any(m.detail == f"SURVEY lane 1/{n_lanes}"
                   for m in h.nav.progress[-3:])        # not restarted at lane 0
    assert first.path[0].x == h.nav.commands[n_before - 1].path[0].x  # the same lane piece
    h.nav.paused, h.nav.pause_after = False, None
    h.nav._on_cmd(first)
    assert h.spin_until(lambda: h.nav.detail() == f"SURVEY lane 3/{n_lanes}", 5.0)


def test_operator_link_loss_holds_then_resumes(harness_factory, tmp_path):
    h = harness_factory(write_mission(tmp_path), str(tmp_path / "p.json"),
                        operator_link_timeout_s=0.3)
    assert h.spin_until(lambda: h.nav.detail().startswith("SURVEY lane 1/"), 10.0)
    h.nav.paused = True
    h.nav.heartbeat = False
    t0 = time.monotonic()
    assert h.spin_until(lambda: h.nav.detail().startswith("FAILSAFE_HOLD"), 3.0)
    assert time.monotonic() - t0 < 0.3 + 0.5
    assert "operator link lost" in h.nav.detail()
    assert h.nav.progress[-1].state == MissionProgress.STATE_HOLDING
    assert h.spin_until(lambda: h.nav.commands[-1].mode
                        == GuidanceCommand.MODE_STATION_KEEP, 1.0)
    h.nav.heartbeat = True
    assert h.spin_until(lambda: h.nav.detail().startswith("SURVEY lane 1/"), 3.0)
    assert h.nav.commands[-1].mode == GuidanceCommand.MODE_FOLLOW_PATH


def test_default_params_file_is_complete_and_valid(tmp_path):
    from rclpy.context import Context

    params_file = REPO / "config" / "usv_mission_executive.yaml"
    ctx = Context()
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(params_file), "-p",
                                  f"mission_file:={REPO / 'config' / 'usv_mission.yaml'}",
                                  "-p", f"progress_file:={tmp_path / 'p.json'}"])
    try:
        node = MissionExecutiveNode(context=ctx)
        keys = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
        assert [k for k in keys if not node.has_parameter(k)] == []
        assert node.executive.n_samples == 6 and node.executive.n_lanes >= 3
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
