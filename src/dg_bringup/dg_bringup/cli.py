"""The ``dg`` command: ``dg launch``, ``dg demo``, ``dg bench``, ``dg vision``, ``dg motion``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dg_bringup.launch_runner import LaunchError, parse_launch_args, run_launch

DESCRIPTION = """\
DG Stack command line.

  dg launch FILE [name:=value ...]
      Start a ROS 2 XML launch file without a ROS installation (pip mode): every node
      runs as its own process with --ros-args, output is prefixed with the node name,
      Ctrl-C stops everything. The same files work with `ros2 launch`.
  dg demo [SCENARIO] [--rtf R] [name:=value ...]
      Run a scenario end to end in the embedded simulator and write
      runs/<stamp>-<scenario>/ (metrics.json, plots, MCAP recording, parameters).
      Without SCENARIO: the tour, one short run per pillar (survey boat, inspection line,
      CNC arm cell, humanoid) into runs/<stamp>-tour/, one summary table and tour.json.
      `dg demo --list` shows the scenarios.
  dg bench [NAME ...]
      Run the benchmarks in bench/ and write bench/results/<name>.json.
  dg vision {fit,score,run} ...
      Anomaly detection from good parts only: `dg vision fit --good DIR --out MODEL`,
      `dg vision score MODEL DIR --json OUT`; an inspection recipe on images:
      `dg vision run RECIPE IMAGES... --json OUT` (see `dg vision --help`).
  dg motion {retime,check} ...
      Arm motion without ROS: `dg motion retime WAYPOINTS.csv --limits joint_limits.yaml
      --dt 0.001 --out TRAJ.csv` (jerk-limited, through every waypoint);
      `dg motion check JOB.yaml --report REPORT.json` (offline job validation and cycle
      time; see `dg motion --help`).
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dg", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{launch,demo,bench,vision,motion}")
    lp = sub.add_parser("launch", help="run a ROS 2 XML launch file",
                        description="Run a ROS 2 XML launch file (subset of ros2 launch).")
    lp.add_argument("file", type=Path, help="the .launch.xml file")
    lp.add_argument("launch_args", nargs="*", metavar="name:=value", help="launch arguments")
    dp = sub.add_parser("demo", help="run a scenario end to end and write a run folder",
                        description="Run a scenario and write runs/<stamp>-<scenario>/.")
    dp.add_argument("scenario", nargs="?", help="scenario name (default: tour)")
    dp.add_argument("launch_args", nargs="*", metavar="name:=value",
                    help="extra launch arguments")
    dp.add_argument("--rtf", type=float, default=None,
                    help="real-time factor of the simulated clock (default: the scenario's)")
    dp.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of run folders")
    dp.add_argument("--list", action="store_true", help="list the scenarios and exit")
    bp = sub.add_parser("bench", help="run benchmarks", description="Run bench/*.py.")
    bp.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    bp.add_argument("--bench-dir", type=Path, default=Path("bench"))
    sub.add_parser("vision", help="inspection without ROS: fit/score anomaly models, run recipes",
                   add_help=False)  # its own parser: dg_vision.cli
    sub.add_parser("motion", help="arm motion without ROS: retime waypoints, check jobs",
                   add_help=False)  # its own parser: dg_motion.cli
    return p


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dg`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["vision"]:
        from dg_vision.cli import main as vision_main

        sys.exit(vision_main(argv[1:]))
    if argv[:1] == ["motion"]:
        from dg_motion.cli import main as motion_main

        sys.exit(motion_main(argv[1:]))
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # name:=value after an option (`dg demo x --rtf 5 a:=b`) is a launch argument too.
    stray = [t for t in extra if ":=" not in t]
    if stray or (extra and args.command not in ("launch", "demo")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.launch_args += extra
    try:
        if args.command == "launch":
            sys.exit(run_launch(args.file, parse_launch_args(args.launch_args)))
        if args.command == "demo":
            from dg_bringup.demo import list_scenarios, run_demo, run_tour
            from dg_bringup.scenarios import DEFAULT_SCENARIO, SCENARIOS, Scenario

            if args.list:
                list_scenarios()
                sys.exit(0)
            name = args.scenario or DEFAULT_SCENARIO
            if ":=" in name:  # `dg demo rtf:=2` style: no scenario given
                args.launch_args.insert(0, name)
                name = DEFAULT_SCENARIO
            if name not in SCENARIOS:  # a short name: `dg demo survey` is usv_survey
                short = [k for k in SCENARIOS if name in k.split("_")]
                if len(short) != 1:
                    parser.error(f"unknown scenario '{name}'; known: {', '.join(SCENARIOS)}")
                name = short[0]
            if args.rtf is not None and not 0.0 < args.rtf <= 100.0:
                parser.error("--rtf must be in (0, 100]")
            sc = SCENARIOS[name]
            if not isinstance(sc, Scenario):  # a tour: its legs bring their own arguments
                if args.launch_args:
                    parser.error(f"'{name}' takes no launch arguments; give them to one of "
                                 f"its scenarios: dg demo SCENARIO name:=value")
                sys.exit(run_tour(name, rtf=args.rtf, runs_dir=args.runs_dir))
            sys.exit(run_demo(name, rtf=sc.rtf if args.rtf is None else args.rtf,
                              runs_dir=args.runs_dir,
                              launch_args=parse_launch_args(args.launch_args)))
        if args.command == "bench":
            from dg_bringup.bench_runner import run_benchmarks

            sys.exit(run_benchmarks(args.names, args.bench_dir))
        parser.print_help()
        sys.exit(0)
    except LaunchError as exc:
        print(f"dg: {exc}", file=sys.stderr)
        sys.exit(2)
