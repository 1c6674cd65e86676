"""``dg demo``: run a scenario end to end and write its run folder (DESIGN.md §5)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from ament_index_python.packages import get_package_share_directory
from rich.console import Console
from rich.table import Table

from dg_bringup.launch_runner import run_launch
from dg_bringup.scenarios import SCENARIOS, Scenario
from dg_common.isolation import isolate_ros


def new_run_dir(runs_dir: Path, scenario: str) -> Path:
    """Create ``runs_dir/<YYYYmmdd-HHMMSS>-<scenario>/`` (suffixed if it exists)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = runs_dir / f"{stamp}-{scenario}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = runs_dir / f"{stamp}-{scenario}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def run_demo(scenario: str, *, rtf: float, runs_dir: Path, launch_args: dict[str, str],
             console: Console | None = None) -> int:
    """Run ``scenario``; return 0 when the launch and the scenario succeeded."""
    console = console or Console(highlight=False)
    sc = SCENARIOS[scenario]
    run_dir = new_run_dir(runs_dir, scenario).resolve()
    env = isolate_ros(dict(os.environ), home=str(run_dir / "ros"))
    args = {"run_dir": str(run_dir), "rtf": repr(rtf), "timeout_s": repr(sc.timeout_s),
            **launch_args}
    console.print(f"[bold]dg demo {scenario}[/]: {sc.description} (rtf {rtf:g}, "
                  f"ROS_DOMAIN_ID {env['ROS_DOMAIN_ID']})")
    metrics: dict[str, Any] = {"scenario": scenario, "real_time_factor": rtf}
    code = 1
    try:
        prepared = sc.prepare(run_dir, dict(args)) if sc.prepare is not None else {}
    except Exception as exc:  # noqa: BLE001 - a failed set-up must still leave its report
        metrics["prepare_error"] = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]set-up failed: {metrics['prepare_error']}[/]")
    else:
        for key, value in prepared.items():
            args.setdefault(key, value)  # the user's own launch arguments win
        code = _launch_and_analyze(console, sc, run_dir, args, env, metrics)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    _summary(console, metrics)
    ok = code == 0 and metrics.get("succeeded", False)
    console.print(f"[{'green' if ok else 'red'}]{'succeeded' if ok else 'FAILED'}[/]: "
                  f"{len(list(run_dir.iterdir()))} files in the run folder")
    print(run_dir, flush=True)  # last line: the run folder (DESIGN.md §5)
    return 0 if ok else (code or 1)


def _launch_and_analyze(console: Console, sc: Scenario, run_dir: Path, args: dict[str, str],
                        env: dict[str, str], metrics: dict[str, Any]) -> int:
    """Run the scenario's launch file, then its analysis into ``metrics``; the exit code."""
    launch_file = Path(get_package_share_directory("dg_bringup")) / "launch" / sc.launch_file
    (run_dir / "launch_args.yaml").write_text(
        yaml.safe_dump({"launch_file": str(launch_file), "args": args}))
    t0 = time.monotonic()
    code = run_launch(launch_file, args, env=env)
    metrics.update(launch_exit_code=code, wall_time_s=round(time.monotonic() - t0, 3))
    if (run_dir / "recording.mcap").exists() and (run_dir / "parameters.yaml").exists():
        try:
            metrics.update(sc.analyze(run_dir))
        except Exception as exc:  # noqa: BLE001 - a broken run must still leave its report
            metrics["analysis_error"] = f"{type(exc).__name__}: {exc}"
            console.print(f"[red]analysis failed: {metrics['analysis_error']}[/]")
    else:
        console.print("[red]no recording or parameters were written: nothing to analyse[/]")
    return code


def _summary(console: Console, metrics: dict[str, Any]) -> None:
    table = Table(title="Run summary", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics):
        v = metrics[key]
        text = f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else str(v)
        table.add_row(key, text)
    console.print(table)


def list_scenarios(out: Any = sys.stdout) -> None:
    """Print the known scenarios."""
    for name, sc in SCENARIOS.items():
        print(f"  {name:16s} {sc.description}", file=out)
