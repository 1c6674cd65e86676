"""Node tests with real rclpy: parameter schema, actuator lifecycle base, main idiom."""

import subprocess
import sys

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_msgs.msg import Float64

from dg_common.lifecycle import ActuatorNode, ControlStatus
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec
from dg_common.testing import spin_until

SCHEMA = [
    ParamSpec("gain", "float", "controller gain", default=1.0, min=0.0, max=10.0),
    ParamSpec("frame", "str", "output frame", default="odom", choices=("odom", "map")),
]


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def test_parameters_validated_at_start(ros):
    node = DgNode("p_ok", SCHEMA, parameter_overrides=[Parameter("gain", value=2.5)])
    assert node.params.gain == 2.5 and node.params.frame == "odom"
    node.destroy_node()
    with pytest.raises(ParameterError, match="gain"):
        DgNode("p_range", SCHEMA, parameter_overrides=[Parameter("gain", value=11.0)])
    with pytest.raises(ParameterError, match="write 1.0, not 1"):
        DgNode("p_type", SCHEMA, parameter_overrides=[Parameter("gain", value=3)])
    with pytest.raises(ParameterError, match="not one of"):
        DgNode("p_choice", SCHEMA, parameter_overrides=[Parameter("frame", value="world")])
    with pytest.raises(ParameterError, match="'target' is required"):
        DgNode("p_req", [ParamSpec("target", "float[]", "goal xy")])


def test_parameter_changes_validated(ros):
    node = DgNode("p_set", SCHEMA)
    bad = node.set_parameters([Parameter("frame", value="world")])[0]
    assert not bad.successful and "not one of" in bad.reason
    assert node.params.frame == "odom"
    good = node.set_parameters([Parameter("gain", value=4.0)])[0]
    assert good.successful and node.params.gain == 4.0
    node.destroy_node()


def test_empty_array_default_is_a_typed_array(ros):
    schema = [ParamSpec("points", "float[]", "xy pairs", default=[])]
    node = DgNode("p_empty", schema)
    assert node.params.points == []
    assert node.get_parameter("points").type_ == Parameter.Type.DOUBLE_ARRAY
    assert node.set_parameters([Parameter("points", value=[1.0, 2.0])])[0].successful
    assert node.params.points == [1.0, 2.0]
    node.destroy_node()
    fixed = [ParamSpec("names", "str[]", "topics", default=[], read_only=True)]
    node = DgNode("p_empty_ro", fixed, parameter_overrides=[Parameter("names", value=["/a"])])
    assert node.params.names == ["/a"]
    result = node.set_parameters([Parameter("names", value=["/b"])])[0]
    assert not result.successful and "read-only" in result.reason
    node.destroy_node()
    assert DgNode("p_empty_ro2", fixed).params.names == []


class Motor(ActuatorNode):
    """A toy actuator: publishes `gain` while fed, 0.0 as safe output."""

    def __init__(self, **kwargs):
        super().__init__("motor", SCHEMA, **kwargs)

    def configure(self):
        self.pub = self.create_publisher(Float64, "motor_cmd", 10)
        self.sub = self.create_subscription(
            Float64, "motor_in", self.guarded(self.on_input), 10)
        self.safe_reasons = []

    def on_input(self, msg):
        if msg.data < 0:
            raise RuntimeError("negative input")
        self.watchdog.feed(self.now_s())

    def control_step(self, now_s):
        self.pub.publish(Float64(data=self.params.gain))
        return ControlStatus.WORKING

    def publish_safe_output(self, reason):
        self.safe_reasons.append(reason)
        self.pub.publish(Float64(data=0.0))


def test_actuator_lifecycle_and_safe_output(ros):
    motor = Motor(parameter_overrides=[Parameter("autostart", value=True),
                                       Parameter("control_rate_hz", value=50.0),
                                       Parameter("command_timeout_s", value=0.2)])
    probe = rclpy.create_node("probe")
    got = []
    probe.create_subscription(Float64, "motor_cmd", lambda m: got.append(m.data), 10)
    feeder = probe.create_publisher(Float64, "motor_in", 10)
    executor = SingleThreadedExecutor()
    executor.add_node(motor)
    executor.add_node(probe)

    def spin(pred, timeout_s=5.0):
        return pred() or spin_until(executor, pred, timeout_s)

    assert not motor.active  # autostart runs after construction, from the executor
    assert spin(lambda: motor.active)
    # Not fed yet: safe output every period.
    assert spin(lambda: len(got) >= 3)
    assert set(got) == {0.0} and motor.status is ControlStatus.HOLD
    # Fed: commands flow.
    got.clear()
    assert spin(lambda: (feeder.publish(Float64(data=1.0)) or 1.0 in got))
    assert motor.status is ControlStatus.WORKING
    # Input stops: safe output within timeout + one period.
    t_stop = motor.now_s()
    got.clear()
    assert spin(lambda: got[-1:] == [0.0])
    assert motor.now_s() - t_stop <= 0.2 + 1 / 50.0 + 0.05
    # A failing callback is contained, counted, and triggers the safe output.
    feeder.publish(Float64(data=-1.0))
    assert spin(lambda: motor.diagnostics.callback_errors == 1)
    assert any(r.startswith("callback error") for r in motor.safe_reasons)
    # Deactivate: safe output, timer stopped.
    motor.trigger_deactivate()
    assert motor.safe_reasons[-1] == "deactivated" and not motor.active
    motor.destroy_node()
    probe.destroy_node()


def test_run_node_reports_configuration_errors():
    code = (
        "from dg_common.main import run_node\n"
        "from dg_common.node import DgNode\n"
        "from dg_common.param_schema import ParamSpec\n"
        "raise SystemExit(run_node(lambda: DgNode('n', [ParamSpec('x', 'float', 'x')])))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert "configuration error: parameter 'x' is required" in proc.stderr


def test_diagnostics_report_stale_inputs_and_rejections(ros):
    from diagnostic_msgs.msg import DiagnosticArray

    node = DgNode("diag", SCHEMA)
    odom = node.diagnostics.monitor("odom", timeout_s=0.5)
    node.reject(odom, "non_finite", "x is nan")
    probe = rclpy.create_node("diag_probe")
    got = []
    probe.create_subscription(DiagnosticArray, "/diagnostics", got.append, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    assert spin_until(executor, lambda: bool(got), 5.0)
    status = got[0].status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "/diag" and status.level == bytes([1])  # WARN: odom stale
    assert "odom stale" in status.message
    assert values["odom rejected"] == "1" and values["odom rejected non_finite"] == "1"
    node.destroy_node()
    probe.destroy_node()
