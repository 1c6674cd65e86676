"""``run_launch``: what ``dg launch <file> name:=value ...`` does in pip mode."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from dg_bringup.launch_runner.evaluator import load_launch
from dg_bringup.launch_runner.output import Printer
from dg_bringup.launch_runner.supervisor import Supervisor


def run_launch(path: str | Path, launch_args: Mapping[str, str], *,
               env: Mapping[str, str] | None = None, stdout: IO[str] | None = None,
               sigterm_timeout: float = 5.0, sigkill_timeout: float = 5.0) -> int:
    """Run an XML launch file like ``ros2 launch`` and return the exit status to use.

    ``launch_args`` are the ``name:=value`` arguments. Nodes inherit ``os.environ`` updated by
    ``env`` (which ``$(env)`` reads too); packages are looked up on this process's
    ``AMENT_PREFIX_PATH``. Output lines are printed to ``stdout`` (default: ``sys.stdout`` at
    call time) as ``[label-N] line``.
    On shutdown each process gets SIGINT, then SIGTERM after ``sigterm_timeout`` seconds, then
    SIGKILL after ``sigkill_timeout`` more. Raises ``LaunchError`` (nothing started) for a
    mistake in the launch files or arguments.
    """
    printer = Printer(stdout or sys.stdout)
    environ = {**os.environ, **(env or {})}
    with tempfile.TemporaryDirectory(prefix="dg_launch_") as params_dir:
        specs = load_launch(Path(path), launch_args, environ=environ,
                            params_dir=Path(params_dir),
                            warn=lambda message: printer.warning("launch", message))
        if not specs:
            printer.info("launch", f"{path} starts no processes")
            return 0
        return Supervisor(specs, printer, sigterm_timeout=sigterm_timeout,
                          sigkill_timeout=sigkill_timeout).run()
