"""Clock core: drift-free schedule on a fake wall clock (no sleeping); clock node end to end."""

import math
import subprocess
import sys
import time

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from dg_sim.clock import ClockSchedule, ClockStatus, RtfMeter, run_clock
from dg_sim.nodes.clock_node import ClockNode
from dg_sim.nodes.time_source import CLOCK_QOS


class FakeWall:
    """A wall clock [s] that only moves when waited on (plus an optional oversleep)."""

    def __init__(self, t_s: float = 100.0, oversleep_s: float = 0.0) -> None:
        self.t_s = t_s
        self.oversleep_s = oversleep_s
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t_s

    def wait(self, dt_s: float) -> bool:
        self.waits.append(dt_s)
        self.t_s += dt_s + (self.oversleep_s if dt_s > 0.0 else 0.0)
        return False


def record(schedule, wall, end_s, work=None):
    """Run the clock; return [(sim_s, wall_s)] at each step, the status."""
    steps = []

    def on_step(sim_s):
        steps.append((sim_s, wall.now()))
        if work is not None:
            wall.t_s += work(len(steps) - 1)

    status = run_clock(schedule, on_step, wall.now, wall.wait, end_s)
    return steps, status


def test_steps_follow_the_grid_at_real_time():
    wall = FakeWall()
    steps, status = record(ClockSchedule(0.005, 1.0, wall.now()), wall, end_s=0.05)
    assert status is ClockStatus.FINISHED
    assert len(steps) == 11
    for k, (sim_s, wall_s) in enumerate(steps):
        assert sim_s == pytest.approx(k * 0.005, abs=1e-12)
        assert wall_s == pytest.approx(100.0 + k * 0.005, abs=1e-9)


def test_rtf_divides_the_wall_period_and_start_offsets_sim_time():
    wall = FakeWall()
    steps, _ = record(ClockSchedule(0.01, 4.0, wall.now(), start_s=7.0), wall, end_s=7.1)
    assert [s for s, _ in steps] == pytest.approx([7.0 + 0.01 * k for k in range(11)])
    assert [w - 100.0 for _, w in steps] == pytest.approx([0.0025 * k for k in range(11)])


def test_oversleeping_does_not_accumulate_drift():
    wall = FakeWall(oversleep_s=0.0008)  # every wait wakes 0.8 ms late
    steps, _ = record(ClockSchedule(0.005, 1.0, wall.now()), wall, end_s=10.0)
    assert len(steps) == 2001
    lateness = [w - (100.0 + k * 0.005) for k, (_, w) in enumerate(steps)]
    assert max(lateness) <= 0.0008 + 1e-9  # one oversleep, never the sum of them
    assert lateness[-1] == pytest.approx(0.0008, abs=1e-9)


def test_a_slow_step_does_not_delay_the_following_ones():
    wall = FakeWall()
    steps, _ = record(ClockSchedule(0.005, 1.0, wall.now()), wall, end_s=0.05,
                      work=lambda k: 0.004 if k == 3 else 0.0)
    assert steps[4][1] == pytest.approx(100.0 + 4 * 0.005)  # 1 ms left to wait, not 5 ms
    assert wall.waits[4] == pytest.approx(0.001)
    assert steps[-1][1] == pytest.approx(100.0 + 10 * 0.005)


def test_falling_far_behind_reanchors_instead_of_bursting():
    wall = FakeWall()
    schedule = ClockSchedule(0.005, 1.0, wall.now(), max_lag_s=0.5)
    steps, _ = record(schedule, wall, end_s=0.05, work=lambda k: 2.0 if k == 2 else 0.0)
    assert schedule.overruns == 1
    # step 3 is published right after the stall, then the 5 ms period resumes from there
    assert steps[3][1] == pytest.approx(steps[2][1] + 2.0)
    periods = [b[1] - a[1] for a, b in zip(steps[3:], steps[4:], strict=False)]
    assert periods == pytest.approx([0.005] * len(periods))
    assert [s for s, _ in steps] == pytest.approx([0.005 * k for k in range(11)])


def test_small_lag_is_caught_up_without_reanchoring():
    wall = FakeWall()
    schedule = ClockSchedule(0.005, 1.0, wall.now(), max_lag_s=0.5)
    steps, _ = record(schedule, wall, end_s=0.05, work=lambda k: 0.012 if k == 2 else 0.0)
    assert schedule.overruns == 0
    assert steps[-1][1] == pytest.approx(100.0 + 0.05)


def test_set_rtf_keeps_the_current_due_time_and_changes_the_period():
    schedule = ClockSchedule(0.01, 1.0, wall_start_s=0.0)
    for _ in range(5):
        schedule.advance(wall_now_s=0.0)
    due = schedule.due_wall_s()
    assert due == pytest.approx(0.05)
    schedule.set_rtf(10.0)
    assert schedule.due_wall_s() == pytest.approx(due)
    schedule.advance(wall_now_s=0.0)
    assert schedule.due_wall_s() == pytest.approx(due + 0.001)
    assert schedule.rtf == 10.0


def test_stop_request_ends_the_loop():
    calls = []

    def wait(dt_s):
        calls.append(dt_s)
        return len(calls) == 3

    published = []
    status = run_clock(ClockSchedule(0.005, 1.0, 0.0), published.append, lambda: 0.0, wait)
    assert status is ClockStatus.STOPPED
    assert published == pytest.approx([0.0, 0.005])


def test_end_time_between_steps_publishes_the_first_step_past_it():
    wall = FakeWall()
    steps, status = record(ClockSchedule(0.005, 1.0, wall.now()), wall, end_s=0.012)
    assert status is ClockStatus.FINISHED
    assert steps[-1][0] == pytest.approx(0.015)


def test_sim_time_does_not_accumulate_rounding():
    schedule = ClockSchedule(0.005, 100.0, wall_start_s=0.0)
    for _ in range(200_000):
        schedule.advance(wall_now_s=0.0)
    assert schedule.step_index == 200_000
    assert abs(schedule.sim_time_s - 1000.0) < 1e-9


@pytest.mark.parametrize("rtf", [0.0, -1.0, math.inf, math.nan, 100.5])
def test_rtf_outside_range_is_rejected(rtf):
    with pytest.raises(ValueError, match="real-time factor"):
        ClockSchedule(0.005, rtf, 0.0)
    with pytest.raises(ValueError, match="real-time factor"):
        ClockSchedule(0.005, 1.0, 0.0).set_rtf(rtf)


@pytest.mark.parametrize("kwargs", [
    {"step_s": 0.0}, {"step_s": -0.1}, {"step_s": math.nan}, {"start_s": -1.0},
    {"max_lag_s": 0.0}])
def test_bad_schedule_arguments_are_rejected(kwargs):
    args = {"step_s": 0.005, "rtf": 1.0, "wall_start_s": 0.0, **kwargs}
    with pytest.raises(ValueError):
        ClockSchedule(**args)


def test_rtf_meter_measures_per_window():
    meter = RtfMeter(window_s=1.0)
    assert meter.update(10.0, 0.0) is None
    assert meter.update(10.5, 1.0) is None
    assert meter.update(11.0, 2.0) == pytest.approx(2.0)
    assert meter.update(12.0, 2.5) == pytest.approx(0.5)
    assert meter.value == pytest.approx(0.5)


def test_clock_node_publishes_every_step_and_exits_after_duration(context, executor,
                                                                  spin_until, node_env):
    """The node as a process: /clock on a 10 ms grid up to 1 s of sim time, then exit code 0.

    Discovery between two processes can take one announcement period (3 s in Fast DDS), so
    the node starts slow (rtf 0.05) and the test speeds it up over the parameter service
    once the first /clock arrived: every later step must arrive, the last one included.
    ``use_sim_time:=true`` is passed on purpose: the source of time must ignore it.
    """
    listener = Node("clock_listener", context=context)
    received = []
    assert CLOCK_QOS.reliability == ReliabilityPolicy.RELIABLE
    listener.create_subscription(
        Clock, "/clock", lambda m: received.append(m.clock.sec + m.clock.nanosec * 1e-9),
        QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    executor.add_node(listener)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dg_sim.nodes.clock_node import main; main()",
         "--ros-args", "-p", "rtf:=0.05", "-p", "step_s:=0.01", "-p", "start_s:=3.0",
         "-p", "duration_s:=1.0", "-p", "use_sim_time:=true"],
        env=node_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        spin_until(lambda: bool(received) or proc.poll() is not None, 15.0)
        assert received, "no /clock before the node ended"
        client = AsyncParameterClient(listener, "clock")
        assert client.wait_for_services(timeout_sec=10.0)
        future = client.set_parameters([Parameter("rtf", value=2.0)])
        spin_until(future.done, 10.0)
        assert future.result().results[0].successful
        spin_until(lambda: proc.poll() is not None, 15.0)
    finally:
        proc.kill()
        output = proc.communicate()[0]
    assert proc.returncode == 0, output
    spin_until(lambda: received[-1] >= 4.0 - 1e-9, 10.0)
    assert received[0] < 3.5 and received[-1] == pytest.approx(4.0)
    gaps = [b - a for a, b in zip(received, received[1:], strict=False)]
    assert gaps == pytest.approx([0.01] * len(gaps))  # reliable: no step missing once matched
    assert "use_sim_time:=true ignored" in output
    assert "real-time factor set to 2.0" in output
    assert "not acknowledged" not in output, output
    listener.destroy_node()


def test_clock_node_takes_a_new_rtf_at_run_time_and_rejects_bad_ones(context):
    node = ClockNode(context=context, parameter_overrides=[Parameter("rtf", value=50.0)])
    try:
        assert not node.set_parameters([Parameter("rtf", value=0.0)])[0].successful
        assert not node.set_parameters([Parameter("rtf", value=101.0)])[0].successful
        assert not node.set_parameters([Parameter("step_s", value=0.01)])[0].successful
        assert node.set_parameters([Parameter("rtf", value=80.0)])[0].successful

        def values():
            return {kv.key: kv.value for kv in node.diagnostics.status().values}

        deadline = time.monotonic() + 5.0
        while values()["rtf_target"] != "80":  # the clock thread reports once per second
            assert time.monotonic() < deadline, values()
            time.sleep(0.01)
        assert float(values()["sim_time_s"]) > 0.0
        assert node.get_parameter("use_sim_time").value is False
    finally:
        node.on_exit()
        node.destroy_node()
