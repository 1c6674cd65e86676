"""``dg demo``: run a scenario end to end and write its run folder (DESIGN.md §5).

:func:`run_demo` runs one scenario; :func:`run_tour` runs the legs of a tour
(:mod:`dg_bringup.scenarios.tour`) one after the other, each as :func:`run_scenario` into its
own folder inside the tour's, and writes ``tour.json`` and one summary table.
"""

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

from dg_bringup.launch_runner import LaunchError, run_launch
from dg_bringup.scenarios import SCENARIOS, Scenario
from dg_bringup.scenarios.tour import Tour
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
    """Run ``scenario`` into a new run folder in ``runs_dir``; 0 when it succeeded."""
    code, _ = run_scenario(scenario, new_run_dir(runs_dir, scenario).resolve(), rtf=rtf,
                           launch_args=launch_args, console=console)
    return code


def _scenario(name: str) -> Scenario:
    """The single scenario ``name`` (ValueError for a tour)."""
    sc = SCENARIOS[name]
    if not isinstance(sc, Scenario):
        raise ValueError(f"'{name}' is a tour, not a scenario: run_tour runs it")
    return sc


def run_scenario(scenario: str, run_dir: Path, *, rtf: float, launch_args: dict[str, str],
                 console: Console | None = None) -> tuple[int, dict[str, Any]]:
    """Run ``scenario`` into the existing ``run_dir``: its exit code and metrics.

    The exit code is 0 when the launch and the scenario succeeded. Writes ``metrics.json``,
    prints the summary table and, last, the run folder's path.
    """
    console = console or Console(highlight=False)
    sc = _scenario(scenario)
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
    return (0 if ok else (code or 1)), metrics


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


def _text(value: Any) -> str:
    """A metric's value as the summary tables show it."""
    return f"{value:.3f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def _summary(console: Console, metrics: dict[str, Any]) -> None:
    table = Table(title="Run summary", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in sorted(metrics):
        table.add_row(key, _text(metrics[key]))
    console.print(table)


def run_tour(name: str, *, runs_dir: Path, rtf: float | None = None,
             console: Console | None = None) -> int:
    """Run the tour ``name``: every leg, even after a failed one; 0 when all succeeded.

    Each leg runs at ``rtf`` if given, else at its scenario's own real-time factor, with its
    files from ``share/dg_bringup/config/tour/``, into ``runs_dir/<stamp>-<name>/<stamp>-<leg>/``.
    The tour's folder gets ``tour.json`` (per leg: succeeded, exit code, wall time including
    the set-up and the analysis, run folder, the leg's key metrics); its path is printed last.
    """
    console = console or Console(highlight=False)
    tour = SCENARIOS[name]
    if not isinstance(tour, Tour):
        raise ValueError(f"'{name}' is a scenario, not a tour: run_demo runs it")
    scenarios = [_scenario(leg.scenario) for leg in tour.legs]  # before any leg runs
    config_dir = Path(get_package_share_directory("dg_bringup")) / "config" / "tour"
    missing = sorted({f for leg in tour.legs for f in leg.files.values()
                      if not (config_dir / f).is_file()})
    if missing:
        console.print(f"[red]dg demo {name}: {', '.join(missing)} missing in {config_dir}; "
                      "rebuild the workspace (make setup)[/]")
        return 2
    tour_dir = new_run_dir(runs_dir, name).resolve()
    console.print(f"[bold]dg demo {name}[/]: {tour.description} "
                  f"({', '.join(leg.scenario for leg in tour.legs)})")
    t_tour = time.monotonic()
    legs: list[dict[str, Any]] = []
    for k, (leg, sc) in enumerate(zip(tour.legs, scenarios, strict=True), 1):
        console.rule(f"{name} {k}/{len(tour.legs)}: {leg.scenario}")
        leg_dir = new_run_dir(tour_dir, leg.scenario).resolve()
        entry: dict[str, Any] = {"scenario": leg.scenario}
        t0 = time.monotonic()
        try:
            code, metrics = run_scenario(leg.scenario, leg_dir,
                                         rtf=sc.rtf if rtf is None else rtf,
                                         launch_args=leg.launch_args(config_dir),
                                         console=console)
        except LaunchError as exc:  # this leg could not start: the others still run
            console.print(f"[red]dg: {exc}[/]")
            code, metrics = 2, {}
            entry["error"] = str(exc)
        entry.update(succeeded=code == 0, exit_code=code,
                     wall_time_s=round(time.monotonic() - t0, 1), run_dir=str(leg_dir),
                     metrics={key: metrics.get(key) for key in leg.metrics})
        legs.append(entry)
    report = {"scenario": name, "succeeded": all(leg["succeeded"] for leg in legs),
              "wall_time_s": round(time.monotonic() - t_tour, 1), "legs": legs}
    (tour_dir / "tour.json").write_text(json.dumps(report, indent=2) + "\n")
    _tour_summary(console, report, tour_dir)
    print(tour_dir, flush=True)  # last line: the tour's run folder (DESIGN.md §5)
    return 0 if report["succeeded"] else 1


def _tour_summary(console: Console, report: dict[str, Any], tour_dir: Path) -> None:
    table = Table(title=f"{report['scenario']} summary", show_header=True, show_lines=True)
    table.add_column("scenario")
    table.add_column("result")
    table.add_column("key metrics", overflow="fold")  # narrow terminals: fold, never cut
    table.add_column("wall [s]", justify="right")
    table.add_column("run folder", overflow="fold")
    for leg in report["legs"]:
        table.add_row(
            leg["scenario"],
            "[green]succeeded[/]" if leg["succeeded"] else f"[red]FAILED ({leg['exit_code']})[/]",
            "\n".join(f"{k} {_text(v)}" for k, v in leg["metrics"].items()),
            f"{leg['wall_time_s']:.0f}", Path(leg["run_dir"]).name)
    console.print(table)
    legs = report["legs"]
    failed = [leg["scenario"] for leg in legs if not leg["succeeded"]]
    verdict = (f"[red]{report['scenario']} FAILED[/] (failed: {', '.join(failed)})" if failed
               else f"[green]{report['scenario']} succeeded[/]")
    console.print(f"{verdict}: {len(legs) - len(failed)}/{len(legs)} legs succeeded in "
                  f"{report['wall_time_s']:.0f} s; run folders in {tour_dir}/")


def list_scenarios(out: Any = sys.stdout) -> None:
    """Print the known scenarios."""
    for name, sc in SCENARIOS.items():
        legs = f" ({', '.join(leg.scenario for leg in sc.legs)})" if isinstance(sc, Tour) else ""
        print(f"  {name:16s} {sc.description}{legs}", file=out)
