"""The hardware lifecycle table, plug-in loading and the mock arm."""

import numpy as np
import pinocchio as pin
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.execution.hardware_interface import (
    TRANSITIONS,
    HardwareCommand,
    HardwareComponent,
    HardwareEvent,
    HardwareLifecycle,
    MockSystem,
    TransitionResult,
    load_system,
)
from dg_motion.robots.paths import robot_file
from dg_motion.robots.urdf import load_urdf_model

S, E = HardwareLifecycle, HardwareEvent


class Recorder(MockSystem):
    """MockSystem that records hook calls and can fail one."""

    fail = ""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_configure(self, params):
        self.calls.append("configure")
        if self.fail == "configure":
            raise RuntimeError("bus not found")
        super().on_configure(params)

    def on_activate(self):
        self.calls.append("activate")
        super().on_activate()

    def on_deactivate(self):
        self.calls.append("deactivate")
        super().on_deactivate()


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("event", list(E))
def test_every_state_event_pair_follows_the_table(state, event):
    system = Recorder()
    comp = HardwareComponent(system)
    # Drive to ``state`` along the table's own paths.
    path = {S.UNCONFIGURED: [], S.INACTIVE: [E.CONFIGURE], S.ACTIVE: [E.CONFIGURE, E.ACTIVATE],
            S.FINALIZED: [E.SHUTDOWN]}[state]
    for ev in path:
        assert comp.trigger(ev) is TransitionResult.SUCCESS
    system.calls.clear()
    result = comp.trigger(event)
    if (state, event) in TRANSITIONS:
        nxt, hooks = TRANSITIONS[(state, event)]
        assert result is TransitionResult.SUCCESS and comp.state is nxt
        assert system.calls == list(hooks)
    else:
        assert result is TransitionResult.INVALID and comp.state is state
        assert system.calls == []


def test_failed_configure_stays_unconfigured_with_the_reason():
    system = Recorder()
    system.fail = "configure"
    comp = HardwareComponent(system)
    assert comp.trigger(E.CONFIGURE) is TransitionResult.FAILED
    assert comp.state is S.UNCONFIGURED and "bus not found" in comp.error
    assert comp.read(0.0, 0.001) is None


def test_inactive_ignores_commands_and_active_writes_them():
    comp = HardwareComponent(MockSystem())
    comp.trigger(E.CONFIGURE)
    cmd = HardwareCommand(np.full(6, 0.3), np.full(6, np.nan), np.full(6, np.nan))
    assert comp.write(0.0, 0.001, cmd) is False
    assert np.all(comp.read(0.0, 0.001).q == 0.0)       # brakes: unchanged
    comp.trigger(E.ACTIVATE)
    assert comp.write(0.0, 0.001, cmd) is True
    assert np.allclose(comp.read(0.001, 0.001).q, 0.3)   # mirrored, as mock_components


@pytest.mark.parametrize("spec, words", [
    ("no_colon", "expected 'package.module:Class'"),
    ("not_a_module_xyz:Foo", "cannot import module"),
    ("dg_motion.execution.hardware_interface:Nope", "has no 'Nope'"),
    ("dg_motion.errors:MotionInputError", "not a SystemInterface"),
])
def test_plugin_errors_name_the_problem(spec, words):
    with pytest.raises(MotionInputError, match=words):
        load_system(spec)


def test_plugin_loads_mock():
    assert isinstance(load_system("dg_motion.execution.hardware_interface:MockSystem"),
                      MockSystem)


def test_mock_effort_mode_follows_rigid_body_dynamics():
    # Gravity torque holds the arm still; zero torque lets it fall as ABA predicts.
    system = MockSystem()
    q0 = np.array([0.0, -1.0, 1.0, -0.5, 0.3, 0.0])
    system.on_configure({"initial_positions": q0.tolist()})
    model = load_urdf_model(robot_file("ur5", "ur5.urdf"))   # with the drives' armature
    data = model.createData()
    g = pin.computeGeneralizedGravity(model, data, q0)
    dt = 0.001
    for k in range(100):
        system.write(k * dt, dt, HardwareCommand(np.full(6, np.nan), np.full(6, np.nan), g))
    assert np.abs(system.read(0.1, dt).q - q0).max() < 1e-9
    system.on_configure({"initial_positions": q0.tolist()})
    system.write(0.0, dt, HardwareCommand(np.full(6, np.nan), np.full(6, np.nan), np.zeros(6)))
    qdd = pin.aba(model, data, q0, np.zeros(6), np.zeros(6))
    assert np.allclose(system.read(dt, dt).qd, qdd * dt)
