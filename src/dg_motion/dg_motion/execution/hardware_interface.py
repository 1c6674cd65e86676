"""The hardware layer: ros2_control's SystemInterface and its lifecycle, in Python.

A robot driver (or a simulator) plugs in by implementing :class:`SystemInterface`: it names
its joints and command interfaces, is configured from a parameter dict, and is read and
written once per control cycle. The control loop never calls the system directly: it goes
through :class:`HardwareComponent`, which enforces ros2_control's hardware lifecycle
(ros2_control ``hardware_interface`` design, "Hardware Components lifecycle"):

* UNCONFIGURED: nothing may be read or written;
* INACTIVE: states are read, commands are ignored (a simulated system still advances, with
  no command: brakes hold);
* ACTIVE: states are read and commands written;
* FINALIZED: shut down for good.

The transitions are one table, ``TRANSITIONS[(state, event)] -> (next_state, hook)``; a
hook that raises leaves the component UNCONFIGURED with the reason in
:attr:`HardwareComponent.error` (ros2_control's on_error path), never a crashed loop.

Command convention: a :class:`HardwareCommand` entry that is NaN is "not commanded"; a
command that is NaN everywhere means "no command" and the system holds still (brakes).

The plug-in is chosen by a string ``"module:Class"`` (ros2_control's ``<plugin>`` tag),
loaded by :func:`load_system`. :class:`MockSystem` is the analogue of ros2_control's
``mock_components/GenericSystem``: position commands are mirrored to the state (an ideal
servo); effort commands drive a rigid-body model integrated with Pinocchio's ABA
(Featherstone, "Rigid Body Dynamics Algorithms", 2008, ch. 7), so torque laws can be
tested without MuJoCo. It deliberately does not share code with the controller's dynamics.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dg_motion.errors import MotionInputError

#: Command interfaces a system may offer (ros2_control's standard interface names).
INTERFACES = ("position", "velocity", "effort")


@dataclass
class HardwareState:
    """What a system reports each cycle (arrays in the system's joint order).

    ``sensors``: named extra measurements, e.g. ``tool_accelerometer`` (3,) [m/s^2] in the
    tool frame. ``ground_truth``: only from simulators (``contacts`` (1,), ``tool_pose``
    (7,) x y z qx qy qz qw, object poses (7 k,)); never used for control.
    """

    q: np.ndarray          # [rad]
    qd: np.ndarray         # [rad/s]
    effort: np.ndarray     # [N m]
    sensors: dict[str, np.ndarray] = field(default_factory=dict)
    ground_truth: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class HardwareCommand:
    """One cycle's command; NaN entries are not commanded (see the module docstring)."""

    position: np.ndarray   # [rad]
    velocity: np.ndarray   # [rad/s]
    effort: np.ndarray     # [N m]
    gpio: dict[str, float] = field(default_factory=dict)

    @classmethod
    def none(cls, dof: int) -> HardwareCommand:
        """The "no command" (brakes hold) of ``dof`` joints."""
        nan = np.full(dof, np.nan)
        return cls(nan.copy(), nan.copy(), nan.copy())

    def is_none(self) -> bool:
        """True when nothing is commanded."""
        return bool(np.isnan(self.position).all() and np.isnan(self.velocity).all()
                    and np.isnan(self.effort).all())


@runtime_checkable
class SystemInterface(Protocol):
    """ros2_control's ``hardware_interface::SystemInterface``, duck-typed."""

    joint_names: tuple[str, ...]
    command_interfaces: tuple[str, ...]
    #: True: the loop paces time by its rtf and the system's write() advances physics.
    simulated: bool

    def on_configure(self, params: dict) -> None:
        """Connect / build the model; raise on failure (message says why)."""
        ...

    def on_activate(self) -> None:
        """Enable the drives (commands will follow)."""
        ...

    def on_deactivate(self) -> None:
        """Disable the drives (brakes on)."""
        ...

    def read(self, t_s: float, period_s: float) -> HardwareState:
        """The latest joint states and sensors."""
        ...

    def write(self, t_s: float, period_s: float, command: HardwareCommand) -> None:
        """Send a command (a simulated system advances by ``period_s`` here)."""
        ...


class HardwareLifecycle(enum.Enum):
    """Lifecycle state of a hardware component (ros2_control's primary states)."""

    UNCONFIGURED = "unconfigured"  #: created, or after cleanup / a failed transition
    INACTIVE = "inactive"          #: configured: states readable, commands ignored
    ACTIVE = "active"              #: commands written
    FINALIZED = "finalized"        #: shut down; no way back


class HardwareEvent(enum.Enum):
    """A requested lifecycle transition."""

    CONFIGURE = "configure"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    CLEANUP = "cleanup"
    SHUTDOWN = "shutdown"


class TransitionResult(enum.Enum):
    """Outcome of :meth:`HardwareComponent.trigger`."""

    SUCCESS = "success"    #: the component is in the next state
    INVALID = "invalid"    #: no such transition from the current state; nothing done
    FAILED = "failed"      #: the hook raised; the component is UNCONFIGURED (see .error)


_S, _E = HardwareLifecycle, HardwareEvent

#: (state, event) -> (next state, name of the hook(s) run on the way, in order).
TRANSITIONS: dict[tuple[HardwareLifecycle, HardwareEvent],
                  tuple[HardwareLifecycle, tuple[str, ...]]] = {
    (_S.UNCONFIGURED, _E.CONFIGURE): (_S.INACTIVE, ("configure",)),
    (_S.INACTIVE, _E.ACTIVATE): (_S.ACTIVE, ("activate",)),
    (_S.ACTIVE, _E.DEACTIVATE): (_S.INACTIVE, ("deactivate",)),
    (_S.INACTIVE, _E.CLEANUP): (_S.UNCONFIGURED, ()),
    (_S.UNCONFIGURED, _E.SHUTDOWN): (_S.FINALIZED, ()),
    (_S.INACTIVE, _E.SHUTDOWN): (_S.FINALIZED, ()),
    (_S.ACTIVE, _E.SHUTDOWN): (_S.FINALIZED, ("deactivate",)),
}


class HardwareComponent:
    """A :class:`SystemInterface` behind ros2_control's lifecycle (see module docstring)."""

    def __init__(self, system: SystemInterface, params: dict | None = None) -> None:
        """Wrap ``system`` (UNCONFIGURED); ``params`` go to its ``on_configure``."""
        missing = [a for a in ("joint_names", "command_interfaces", "simulated", "on_configure",
                               "on_activate", "on_deactivate", "read", "write")
                   if not hasattr(system, a)]
        if missing:
            raise MotionInputError(
                f"hardware {type(system).__name__} does not implement SystemInterface: "
                f"missing {missing}")
        self.system = system
        self.params = dict(params or {})
        self.state = HardwareLifecycle.UNCONFIGURED
        #: Why the last transition failed ('' when none did).
        self.error = ""
        self._hooks: dict[str, Callable[[], None]] = {
            "configure": lambda: system.on_configure(self.params),
            "activate": system.on_activate,
            "deactivate": system.on_deactivate,
        }

    @property
    def dof(self) -> int:
        """Number of joints."""
        return len(self.system.joint_names)

    def trigger(self, event: HardwareEvent) -> TransitionResult:
        """Run the transition ``event`` from the current state (see :data:`TRANSITIONS`)."""
        entry = TRANSITIONS.get((self.state, event))
        if entry is None:
            return TransitionResult.INVALID
        next_state, hooks = entry
        try:
            for hook in hooks:
                self._hooks[hook]()
            if event is HardwareEvent.CONFIGURE:
                self._check_interfaces()
        except Exception as exc:  # noqa: BLE001 - a driver's failure becomes a state
            self.error = f"{event.value} failed: {exc}"
            self.state = HardwareLifecycle.UNCONFIGURED
            return TransitionResult.FAILED
        self.error = ""
        self.state = next_state
        return TransitionResult.SUCCESS

    def _check_interfaces(self) -> None:
        bad = [i for i in self.system.command_interfaces if i not in INTERFACES]
        if bad:
            raise MotionInputError(f"hardware offers unknown command interfaces {bad}; "
                                   f"known: {list(INTERFACES)}")

    def read(self, t_s: float, period_s: float) -> HardwareState | None:
        """The system's state, or None while UNCONFIGURED/FINALIZED."""
        if self.state not in (HardwareLifecycle.INACTIVE, HardwareLifecycle.ACTIVE):
            return None
        return self.system.read(t_s, period_s)

    def write(self, t_s: float, period_s: float, command: HardwareCommand) -> bool:
        """Write ``command`` if ACTIVE (True); INACTIVE: a simulated system gets "none"."""
        if self.state is HardwareLifecycle.ACTIVE:
            self.system.write(t_s, period_s, command)
            return True
        if self.state is HardwareLifecycle.INACTIVE and self.system.simulated:
            self.system.write(t_s, period_s, HardwareCommand.none(self.dof))
        return False


def load_system(spec: str) -> SystemInterface:
    """Instantiate the hardware plug-in ``"package.module:Class"`` (no constructor arguments).

    Raises:
        MotionInputError: for a malformed spec, a module that does not import, a missing
            class or one that does not implement :class:`SystemInterface`.

    """
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name or not class_name.isidentifier():
        raise MotionInputError(
            f"hardware plugin '{spec}': expected 'package.module:Class', e.g. "
            "'dg_motion.execution.hardware_interface:MockSystem'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MotionInputError(f"hardware plugin '{spec}': cannot import module "
                               f"'{module_name}': {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise MotionInputError(f"hardware plugin '{spec}': module '{module_name}' has no "
                               f"'{class_name}'")
    try:
        system = cls()
    except Exception as exc:  # noqa: BLE001 - report the plug-in's own failure
        raise MotionInputError(f"hardware plugin '{spec}': constructor failed: {exc}") from None
    missing = [a for a in ("on_configure", "on_activate", "on_deactivate", "read", "write")
               if not callable(getattr(system, a, None))]
    if missing:
        raise MotionInputError(f"hardware plugin '{spec}' is not a SystemInterface: "
                               f"missing methods {missing}")
    return system


def _default_urdf() -> Path:
    from dg_motion.robots.paths import robot_file
    return robot_file("ur5", "ur5.urdf")


class MockSystem:
    """Simulated arm: ideal position servo, or rigid-body dynamics under effort commands.

    Parameters (``on_configure``): ``urdf`` (URDF path; default the UR5),
    ``joints`` (names, default all the URDF's actuated joints), ``initial_positions``
    (rad, default zeros), ``command_interfaces`` (default ``["position", "velocity",
    "effort"]``), ``damping`` [N m s/rad] viscous friction of every joint (default 0.0).

    Position commands (effort NaN): the state becomes the command (velocity: the commanded
    one, else the finite difference), as mock_components mirrors commands. Effort
    commands: ``qdd = ABA(q, qd, tau - damping qd)``, semi-implicit Euler over the period.
    No command: the joints stand still (brakes).
    """

    simulated = True

    def __init__(self) -> None:
        """Create an unconfigured mock (UR5 joints until configured)."""
        self.joint_names: tuple[str, ...] = ()
        self.command_interfaces: tuple[str, ...] = INTERFACES
        self.active = False
        self.t_s = 0.0
        self.writes = 0

    def on_configure(self, params: dict) -> None:
        """Build the Pinocchio model from the URDF (see class docstring for ``params``)."""
        import pinocchio as pin

        from dg_motion.robots.urdf import load_urdf_model

        urdf = Path(params.get("urdf") or _default_urdf())
        try:
            model = load_urdf_model(urdf)
        except MotionInputError as exc:
            raise MotionInputError(f"mock hardware: {exc}") from None
        urdf_joints = list(model.names)[1:]
        names = tuple(params.get("joints") or urdf_joints)
        unknown = [n for n in names if n not in urdf_joints]
        if unknown:
            raise MotionInputError(f"mock hardware: joints {unknown} not in {urdf}")
        if tuple(names) != tuple(urdf_joints):
            # Lock the joints we do not drive at zero.
            locked = [model.getJointId(n) for n in urdf_joints if n not in names]
            model = pin.buildReducedModel(model, locked, pin.neutral(model))
        self._pin, self._model, self._data = pin, model, model.createData()
        self.joint_names = names
        dof = len(names)
        q0 = np.asarray(params.get("initial_positions") or np.zeros(dof), dtype=float)
        if q0.shape != (dof,) or not np.isfinite(q0).all():
            raise MotionInputError(f"mock hardware: initial_positions must be {dof} finite "
                                   f"values, got {q0.tolist()}")
        self.command_interfaces = tuple(params.get("command_interfaces") or INTERFACES)
        self.damping = float(params.get("damping", 0.0))
        self.q, self.qd, self.tau = q0.copy(), np.zeros(dof), np.zeros(dof)
        self.gpio: dict[str, float] = {}
        self.t_s = 0.0

    def on_activate(self) -> None:
        """Drives enabled."""
        self.active = True

    def on_deactivate(self) -> None:
        """Drives disabled (brakes)."""
        self.active = False

    def read(self, t_s: float, period_s: float) -> HardwareState:
        """The simulated joint state (copies)."""
        return HardwareState(self.q.copy(), self.qd.copy(), self.tau.copy())

    def write(self, t_s: float, period_s: float, command: HardwareCommand) -> None:
        """Apply ``command`` and advance the simulation by ``period_s``."""
        self.writes += 1
        self.t_s = t_s + period_s
        self.gpio.update(command.gpio)
        eff = command.effort
        if np.isfinite(eff).all():
            tau = eff - self.damping * self.qd
            qdd = self._pin.aba(self._model, self._data, self.q, self.qd, tau)
            self.qd = self.qd + qdd * period_s
            self.q = self.q + self.qd * period_s
            self.tau = np.asarray(eff, dtype=float).copy()
            return
        pos = command.position
        if np.isfinite(pos).all():
            vel = command.velocity
            self.qd = (vel.copy() if np.isfinite(vel).all()
                       else (pos - self.q) / period_s)
            self.q = pos.copy()
            self.tau = self._pin.rnea(self._model, self._data, self.q, np.zeros(len(self.q)),
                                      np.zeros(len(self.q)))
            return
        vel = command.velocity
        if np.isfinite(vel).all():
            self.qd = vel.copy()
            self.q = self.q + vel * period_s
            return
        self.qd = np.zeros_like(self.qd)   # no command: brakes hold

    @property
    def model(self) -> Any:
        """The Pinocchio model (after configure)."""
        return self._model
