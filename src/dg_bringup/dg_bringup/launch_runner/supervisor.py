"""Run the resolved processes: relay their output, watch them, shut them down like ros2 launch.

Each process gets its own session (process group), so a Ctrl-C typed in the terminal reaches
only this runner, which forwards it: SIGINT to every running process group, SIGTERM after
``sigterm_timeout`` seconds, SIGKILL ``sigkill_timeout`` seconds later. Signalling whole groups
also stops what a node started itself, and when a node exits whatever is left in its group is
killed at once (while the group is still ours: its number cannot be reused before it is empty),
so nothing outlives the launch.

One queue carries every event to the main thread: process exits (from one waiter thread per
process, after its output is drained) and SIGINT/SIGTERM (``SimpleQueue.put`` is safe in a
signal handler). The main thread blocks on that queue, with the next escalation as timeout.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from dg_bringup.launch_runner.output import Printer
from dg_bringup.launch_runner.spec import ProcessSpec

OUTPUT_DRAIN_S = 2.0  # bound on waiting for output a process's own children keep open
_LAUNCH = "launch"


@dataclass
class _Child:
    spec: ProcessSpec
    name: str  # label-N, as in the output
    proc: subprocess.Popen[bytes]
    signals_sent: list[signal.Signals] = field(default_factory=list)
    exited: bool = False
    waiter: threading.Thread | None = None


class Supervisor:
    """Starts ``specs`` in order and runs them until the launch ends; ``run`` gives the status."""

    def __init__(self, specs: Sequence[ProcessSpec], printer: Printer, *,
                 sigterm_timeout: float, sigkill_timeout: float) -> None:
        """Prepare to run ``specs``; messages and process output go to ``printer``."""
        self._specs = specs
        self._printer = printer
        self._sigterm_timeout = sigterm_timeout
        self._sigkill_timeout = sigkill_timeout
        self._events: queue.SimpleQueue[tuple[_Child | None, int]] = queue.SimpleQueue()
        self._children: list[_Child] = []
        self._interrupted = False
        self._shutdown_at: float | None = None
        self._escalations = 0  # 1 after SIGTERM was sent, 2 after SIGKILL
        self._failed = False
        self._required_code: int | None = None

    def run(self) -> int:
        """Run until every process has exited; return the launch's exit status.

        0 when all ended cleanly (exit code 0, or ended by the signal we sent while shutting
        down); the exit code of a required node that ended the launch with a failure; else 1
        when any process failed.
        """
        restore_signals = self._install_signal_handlers()
        try:
            self._start_all()
            while not all(child.exited for child in self._children):
                self._handle_next_event()
                self._escalate_when_due()
        finally:
            self._reap_all()
            restore_signals()
        if self._required_code:
            return _exit_status(self._required_code)
        return 1 if self._failed else 0

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # only the main thread may set handlers; the caller handles ^C
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_os_signal)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        return restore

    def _on_os_signal(self, signum: int, _frame: object) -> None:
        self._interrupted = True
        self._events.put((None, signum))

    def _start_all(self) -> None:
        for index, spec in enumerate(self._specs, start=1):
            if self._interrupted or self._shutdown_at is not None:
                return
            name = f"{spec.label}-{index}"
            try:
                proc = subprocess.Popen(
                    spec.cmd, env=dict(spec.env), stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            except OSError as err:
                self._printer.error(name, f"exception occurred while executing process: {err}")
                self._failed = True
                if spec.required:
                    self._begin_shutdown(f"required process[{name}] could not start")
                continue
            child = _Child(spec, name, proc)
            self._children.append(child)
            self._printer.info(name, f"process started with pid [{proc.pid}]")
            readers = [self._relay(child, proc.stdout), self._relay(child, proc.stderr)]
            child.waiter = threading.Thread(
                target=self._wait, args=(child, readers), name=f"{name}-wait", daemon=True)
            child.waiter.start()

    def _relay(self, child: _Child, stream: IO[bytes] | None) -> threading.Thread:
        def pump() -> None:
            if stream is None:
                return
            with stream:
                for raw in iter(stream.readline, b""):
                    self._printer.line(child.name, raw.decode(errors="replace").rstrip("\r\n"))

        thread = threading.Thread(target=pump, name=f"{child.name}-output", daemon=True)
        thread.start()
        return thread

    def _wait(self, child: _Child, readers: list[threading.Thread]) -> None:
        code = child.proc.wait()
        _kill_group(child.proc.pid, signal.SIGKILL)  # what it started must not outlive it
        for reader in readers:
            reader.join(timeout=OUTPUT_DRAIN_S)
        self._events.put((child, code))

    def _handle_next_event(self) -> None:
        try:
            child, number = self._events.get(timeout=self._seconds_to_escalation())
        except queue.Empty:
            return
        if child is None:
            self._on_launch_signal(signal.Signals(number))
        else:
            self._on_exit(child, number)

    def _on_launch_signal(self, sig: signal.Signals) -> None:
        if self._shutdown_at is not None:
            self._printer.warning(_LAUNCH, f"{sig.name} received while shutting down, ignoring")
            return
        if sig == signal.SIGINT:
            self._printer.warning(_LAUNCH, "user interrupted with ctrl-c (SIGINT)")
        else:
            self._printer.warning(_LAUNCH, f"received {sig.name}, shutting down")
        self._begin_shutdown(None)

    def _on_exit(self, child: _Child, code: int) -> None:
        child.exited = True
        pid = child.proc.pid
        stopper = _stopping_signal(code, child.signals_sent)
        if code == 0:
            self._printer.info(child.name, f"process has finished cleanly [pid {pid}]")
        elif stopper is not None:
            self._printer.info(
                child.name, f"process has finished [pid {pid}, exit code {code}] on {stopper.name}")
        else:
            self._printer.error(child.name, f"process has died [pid {pid}, exit code {code}, "
                                            f"cmd '{' '.join(child.spec.cmd)}'].")
            self._failed = True
        if child.spec.required and self._shutdown_at is None:
            self._required_code = code
            self._begin_shutdown(
                f"process[{child.name}] is required (on_exit=\"shutdown\") and has exited, "
                "shutting down")

    def _begin_shutdown(self, reason: str | None) -> None:
        if self._shutdown_at is not None:
            return
        if reason is not None:
            self._printer.info(_LAUNCH, reason)
        self._shutdown_at = time.monotonic()
        for child in self._running():
            self._signal(child, signal.SIGINT)

    def _seconds_to_escalation(self) -> float | None:
        if self._shutdown_at is None or self._escalations >= 2:
            return None
        delay = self._sigterm_timeout + (self._sigkill_timeout if self._escalations else 0.0)
        return max(0.0, self._shutdown_at + delay - time.monotonic())

    def _escalate_when_due(self) -> None:
        while self._seconds_to_escalation() == 0.0:
            previous, sig, waited = (
                (signal.SIGINT, signal.SIGTERM, self._sigterm_timeout) if self._escalations == 0
                else (signal.SIGTERM, signal.SIGKILL, self._sigkill_timeout))
            self._escalations += 1
            for child in self._running():
                self._printer.error(
                    child.name, f"process[{child.name}] failed to terminate '{waited:g}' seconds "
                                f"after receiving '{previous.name}', escalating to '{sig.name}'")
                self._signal(child, sig)

    def _running(self) -> list[_Child]:
        return [child for child in self._children if not child.exited]

    def _signal(self, child: _Child, sig: signal.Signals) -> None:
        self._printer.info(child.name, f"sending signal '{sig.name}' to process[{child.name}]")
        child.signals_sent.append(sig)
        _kill_group(child.proc.pid, sig)

    def _reap_all(self) -> None:
        """Kill what still runs (only after an internal error) and wait for the waiters."""
        for child in self._children:
            if not child.exited:
                _kill_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
            if child.waiter is not None:
                child.waiter.join(timeout=OUTPUT_DRAIN_S)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is empty: everything in it has exited


def _stopping_signal(code: int, sent: list[signal.Signals]) -> signal.Signals | None:
    """Return the signal we sent that explains ``code`` (-N from Popen, 128+N from shells)."""
    for sig in sent:
        if code in (-sig, 128 + sig):
            return sig
    return None


def _exit_status(code: int) -> int:
    """Map a child's return code to a process exit status (killed by N -> 128+N)."""
    if 0 <= code <= 255:
        return code
    return 128 - code if code < 0 else 1
