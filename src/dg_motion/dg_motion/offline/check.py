"""``dg motion check JOB.yaml --report REPORT.json``: check a job offline, print and save.

Exit codes (what scripts and CI rely on):

- 0: the job passed every check (:mod:`.checks`); the summary shows the cycle time.
- 1: the job is valid input but unsafe or infeasible: a check failed (unreachable target,
  joint limit, singularity margin, velocity/acceleration/jerk limit, collision). The summary
  and the report name the first failing move, the check and why.
- 2: unreadable or malformed input (missing file, bad YAML, unknown field or frame, NaN,
  out-of-limit joint target in the file, bad robot or cell file): one line
  ``error: <file>: <field>: <why>`` on stderr, no report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dg_motion.errors import MotionInputError
from dg_motion.offline.checks import JobReport, MoveStatus, check_job
from dg_motion.offline.job import load_job
from dg_motion.offline.planner import plan_moves

#: Port of the browser view (``--view``), bound to 127.0.0.1.
VIEW_PORT = 8080


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_report(report: JobReport, console: Console) -> None:
    """The move table and the verdict, readable in a terminal."""
    table = Table(title=f"job {report.job}", show_lines=False)
    for col, just in (("#", "right"), ("move", "left"), ("kind", "left"),
                      ("duration [s]", "right"), ("min clearance [mm]", "right"),
                      ("closest", "left"), ("status", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for m in report.moves:
        style = {MoveStatus.OK: "green", MoveStatus.FAILED: "bold red",
                 MoveStatus.NOT_PLANNED: "red"}[m.status]
        clearance = None if m.min_clearance_m is None else 1000.0 * m.min_clearance_m
        table.add_row(str(m.index), escape(m.name), m.kind, _fmt(m.duration_s, ".2f"),
                      _fmt(clearance, ".1f"), escape(m.closest or "-"),
                      f"[{style}]{m.status.value}[/{style}]")
    console.print(table)
    if report.passed:
        console.print(f"[green]PASSED[/green]: {len(report.moves)} moves, estimated cycle "
                      f"time {report.cycle_time_s:.2f} s, minimum clearance "
                      f"{1000.0 * (report.min_clearance_m or 0.0):.1f} mm")
        return
    f = report.first_failure
    assert f is not None
    console.print(f"[bold red]FAILED[/bold red]: move {f.move_index} '{escape(f.move_name)}' "
                  f"fails {f.check.value}: {escape(f.reason)}", highlight=False)
    if f.tcp_pose is not None:
        console.print("  TCP pose (x y z roll pitch yaw): "
                      + " ".join(f"{v:.3f}" for v in f.tcp_pose), highlight=False)


def check_job_cli(job_path: Path, report_path: Path | None, *, view: bool = False) -> int:
    """Check ``job_path``, print the summary, write ``report_path`` (JSON); the exit code.

    0: passed; 1: a check failed (valid input, unsafe job); 2: unreadable or malformed
    input (one line on stderr). ``view=True`` then serves the browser view on
    ``127.0.0.1:8080`` until interrupted.
    """
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    try:
        job = load_job(job_path)
        report, _ = check_job(job)
    except MotionInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(report, console)
    if report_path is not None:
        try:
            report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"error: {report_path}: cannot write the report: {exc.strerror}",
                  file=sys.stderr)
            return 2
        console.print(f"report: {report_path}")
    if view:
        from dg_motion.offline.view import JobView
        moves, _ = plan_moves(job)
        viewer = JobView(job, moves, report, port=VIEW_PORT)
        console.print(f"view: http://127.0.0.1:{VIEW_PORT} (Ctrl-C to stop)")
        try:
            viewer.server.sleep_forever()
        except KeyboardInterrupt:
            pass
        finally:
            viewer.close()
    return 0 if report.passed else 1
