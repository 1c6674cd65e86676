"""``dg motion`` / ``python -m dg_motion``: trajectory tools for scripting and offline use.

Subcommands (no ROS needed)::

    retime WAYPOINTS.csv --limits joint_limits.yaml --dt 0.001 --out TRAJ.csv
           [--stop-at-waypoints]
    check JOB.yaml --report REPORT.json [--view]

``retime`` reads a CSV with a header row of joint names and one waypoint per row [rad],
limits in MoveIt's ``joint_limits.yaml`` format (``has_jerk_limits``/``max_jerk`` honoured:
with jerk limits the motion is jerk-limited), and writes a CSV with the header
``time_from_start``, each joint's position, then ``<joint>_vel``, then ``<joint>_acc``,
sampled every ``dt`` from rest at the first waypoint through every waypoint (without
stopping unless ``--stop-at-waypoints``) to rest at the last. ``check`` validates an
offline job (dg_motion.offline.check). Exit code 0 on success, 2 with a one-line reason on
bad input.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from dg_motion.errors import MotionInputError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def read_waypoints_csv(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Joint names (header) and waypoints (N, dof) [rad] from a CSV file.

    Raises:
        MotionInputError: unreadable file, a header that is not joint names, rows of the
            wrong length, or values that are not finite numbers (naming row and column).

    """
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MotionInputError(f"{path}: cannot read waypoints: {exc}") from None
    if not rows:
        raise MotionInputError(f"{path}: empty file (expected a header of joint names)")
    names = tuple(cell.strip() for cell in rows[0])
    for name in names:
        if not name or _is_number(name):
            raise MotionInputError(f"{path}: the first row must be a header of joint names, "
                                   f"got {list(names)}")
    if len(set(names)) != len(names):
        raise MotionInputError(f"{path}: repeated joint names in the header {list(names)}")
    if len(rows) < 2:
        raise MotionInputError(f"{path}: no waypoints after the header")
    q = np.empty((len(rows) - 1, len(names)))
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) != len(names):
            raise MotionInputError(f"{path}: line {line} has {len(row)} values, "
                                   f"expected {len(names)}")
        for j, cell in enumerate(row):
            try:
                v = float(cell)
            except ValueError:
                raise MotionInputError(f"{path}: line {line} joint '{names[j]}': "
                                       f"{cell.strip()!r} is not a number") from None
            if not math.isfinite(v):
                raise MotionInputError(f"{path}: line {line} joint '{names[j]}' is not "
                                       f"finite ({cell.strip()})")
            q[i, j] = v
    return names, q


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_trajectory_csv(out: TextIO, names: Sequence[str], t_s: np.ndarray, q: np.ndarray,
                         qd: np.ndarray, qdd: np.ndarray) -> None:
    """Write the sampled trajectory in the ``retime`` output format to the text stream."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["time_from_start", *names, *(f"{n}_vel" for n in names),
                *(f"{n}_acc" for n in names)])
    table = np.column_stack([t_s, q, qd, qdd]) + 0.0  # + 0.0: no "-0" in the file
    for row in table:
        w.writerow([f"{v:.10g}" for v in row])


def _retime(args: argparse.Namespace) -> int:
    from dg_motion.robots.limits import load_joint_limits
    from dg_motion.trajectory.types import sample_uniform
    from dg_motion.trajectory.waypoints import retime_waypoints

    if not (math.isfinite(args.dt) and args.dt > 0.0):
        raise MotionInputError(f"--dt must be a positive number of seconds, got {args.dt}")
    names, q = read_waypoints_csv(args.waypoints)
    limits = load_joint_limits(args.limits, names=names)
    traj = retime_waypoints(q, limits, names=names, stop_at_waypoints=args.stop_at_waypoints)
    sampled = sample_uniform(traj, args.dt)
    summary = (f"retimed {len(q)} waypoints of {len(names)} joints: "
               f"{traj.duration_s:.4f} s, {len(sampled.t_s)} samples")
    if args.out is None:
        write_trajectory_csv(sys.stdout, names, sampled.t_s, sampled.q, sampled.qd,
                             sampled.qdd)
        print(summary, file=sys.stderr)
        return EXIT_OK
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            write_trajectory_csv(f, names, sampled.t_s, sampled.q, sampled.qd, sampled.qdd)
    except OSError as exc:
        raise MotionInputError(f"{args.out}: cannot write: {exc}") from None
    print(f"{summary} -> {args.out}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    try:
        from dg_motion.offline.check import check_job_cli
    except ImportError as exc:
        raise MotionInputError(f"the offline job checker is not available ({exc})") from None
    return int(check_job_cli(args.job, args.report, view=args.view))


def build_parser(prog: str = "dg motion") -> argparse.ArgumentParser:
    """The command line parser (subcommands ``retime`` and ``check``)."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.strip().splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    rt = sub.add_parser("retime", help="time a CSV of joint waypoints (v/a/jerk limits)")
    rt.add_argument("waypoints", type=Path, help="CSV: header of joint names, rows [rad]")
    rt.add_argument("--limits", type=Path, required=True,
                    help="MoveIt joint_limits.yaml (velocity, acceleration, jerk)")
    rt.add_argument("--dt", type=float, default=0.001, help="sample period [s]")
    rt.add_argument("--out", type=Path, default=None, help="output CSV (default: stdout)")
    rt.add_argument("--stop-at-waypoints", action="store_true",
                    help="stop at every waypoint (default: pass through without stopping)")
    rt.set_defaults(func=_retime)
    ck = sub.add_parser("check", help="check an offline job (reachability, limits, "
                                      "collisions, cycle time)")
    ck.add_argument("job", type=Path, help="job YAML")
    ck.add_argument("--report", type=Path, default=None, help="write the report JSON here")
    ck.add_argument("--view", action="store_true", help="open the browser view")
    ck.set_defaults(func=_check)
    return ap


def main(argv: Sequence[str] | None = None, prog: str = "dg motion") -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input)."""
    args = build_parser(prog).parse_args(argv)
    try:
        return args.func(args)
    except MotionInputError as exc:
        reason = " ".join(str(exc).split())
        print(f"{prog} {args.command}: error: {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
