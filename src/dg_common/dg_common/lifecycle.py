"""Lifecycle base for nodes that can move hardware (DESIGN.md §4.5).

The node comes up unconfigured (``autostart:=true`` configures and activates it at start,
as Nav2's lifecycle manager does). While active, a control timer on the ROS clock runs
:meth:`ActuatorNode.control_step` as long as the command watchdog is fed, and publishes
the safe output (zero / hold) otherwise, every period. Safe output is also published on
deactivate, on error, after a failed callback and at process exit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from dg_common.diagnostics import ERROR, OK
from dg_common.node import DgNodeMixin
from dg_common.param_schema import ParamSpec
from dg_common.watchdog import Watchdog

ACTUATOR_SCHEMA = (
    ParamSpec("autostart", "bool", "configure and activate at start-up", default=False,
              read_only=True),
    ParamSpec("control_rate_hz", "float", "control loop rate [Hz]", default=20.0,
              min=1.0, max=1000.0, read_only=True),
    ParamSpec("command_timeout_s", "float",
              "inputs older than this [s] make the node publish its safe output",
              default=0.5, min=0.01, max=60.0, read_only=True),
)


class ControlStatus(enum.Enum):
    """Result of one control step (a status, not a bool: Ruckig's ``Result`` idiom)."""

    WORKING = "working"      #: command published
    FINISHED = "finished"    #: goal reached; safe output published
    HOLD = "hold"            #: inputs stale or invalid; safe output published
    IDLE = "idle"            #: nothing to do; safe output published


class ActuatorNode(DgNodeMixin, LifecycleNode):
    """Base class: subclasses implement configure, control_step and publish_safe_output."""

    def __init__(self, name: str, schema: Iterable[ParamSpec], **kwargs: Any) -> None:
        """Create the node, declare ``ACTUATOR_SCHEMA`` + ``schema``, autostart if asked."""
        LifecycleNode.__init__(self, name, **kwargs)
        self.init_dg([*ACTUATOR_SCHEMA, *schema])
        self.watchdog = Watchdog(self.params.command_timeout_s)
        self.status = ControlStatus.IDLE
        self._configured = False
        self._timer = None
        self.diagnostics.set_status(OK, "unconfigured")
        self._autostart_timer = None
        if self.params.autostart:
            # After the subclass constructor has finished: a one-shot on the steady clock
            # (the ROS clock may be a sim clock that has not started yet).
            self._autostart_timer = self.create_timer(
                0.0, self._autostart, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _autostart(self) -> None:
        self.destroy_timer(self._autostart_timer)
        self._autostart_timer = None
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    # --- subclass hooks -------------------------------------------------------------
    def configure(self) -> None:
        """Create publishers and subscriptions (called on the configure transition)."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Destroy what :meth:`configure` created (called on the cleanup transition)."""

    def control_step(self, now_s: float) -> ControlStatus:
        """Compute and publish one command; return what happened."""
        raise NotImplementedError

    def publish_safe_output(self, reason: str) -> None:
        """Publish the zero / hold command; ``reason`` is for logs."""
        raise NotImplementedError

    # --- lifecycle transitions ------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Run :meth:`configure`; a failure is logged and the node stays unconfigured."""
        try:
            self.configure()
        except Exception as exc:  # noqa: BLE001 - report, don't crash the process
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._configured = True
        self.diagnostics.set_status(OK, "inactive")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start the control timer with a reset watchdog."""
        self.watchdog.reset()
        self._timer = self.create_timer(1.0 / self.params.control_rate_hz,
                                        self.guarded(self._tick))
        self.diagnostics.set_status(OK, "active")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the control timer and publish the safe output."""
        self._stop_timer()
        self.publish_safe_output("deactivated")
        self.diagnostics.set_status(OK, "inactive")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Run :meth:`cleanup`."""
        self.cleanup()
        self._configured = False
        self.diagnostics.set_status(OK, "unconfigured")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish the safe output if configured, then stop."""
        self._stop_timer()
        if self._configured:
            self.publish_safe_output("shutdown")
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish the safe output and go back to unconfigured."""
        self._stop_timer()
        if self._configured:
            self.publish_safe_output("error")
        self.diagnostics.set_status(ERROR, "error")
        return TransitionCallbackReturn.SUCCESS

    # --- internals ------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True while the control timer runs."""
        return self._timer is not None

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None

    def _tick(self) -> None:
        now = self.now_s()
        if self.watchdog.expired(now):
            self.status = ControlStatus.HOLD
            age = self.watchdog.age_s(now)
            self.publish_safe_output("waiting for valid input" if age == float("inf") else
                                     f"command timeout: no valid input for {age:.2f} s")
        else:
            self.status = self.control_step(now)
        self.diagnostics.set_value("control_status", self.status.value)

    def on_callback_error(self, exc: Exception) -> None:
        """A failed callback leaves the output unknown: publish the safe output."""
        if self._configured:
            self.publish_safe_output(f"callback error: {exc!r}")

    def on_exit(self) -> None:
        """At process exit: stop and publish the safe output one last time."""
        self._stop_timer()
        if self._configured and self.context.ok():
            self.publish_safe_output("process exit")
