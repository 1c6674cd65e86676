"""The benchmark report shared by every bench/ script (no ROS, no dg_sim imports).

:class:`Report` collects ``{"metric", "ours", "reference", "reference_source", "goal",
"pass"}`` rows, prints a table and writes the DESIGN.md §5 JSON::

    report = Report("vision_icp")          # starts the clock
    try:
        report.add("cpu_ms_median", 41.0, "<= 100", 41.0 <= 100, 65.0, "Open3D, this run")
        report.extra["trials"] = rows      # more top-level JSON keys
    except Exception as exc:  # noqa: BLE001 - a benchmark that cannot run reports why
        return report.finish(args.json, error=repr(exc))
    return report.finish(args.json)

``finish`` always writes the JSON and returns 0: a failed goal is a result, recorded in the
JSON (``dg bench`` reads it only on exit 0 and treats any other exit as a crash). A value
that is not a finite number (NaN, inf, None) is written as null and its row fails.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _finite_or_none(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _plain(obj: Any) -> Any:
    """Plain JSON values of numpy scalars/arrays; non-finite floats become null."""
    if isinstance(obj, np.generic):
        obj = obj.item()
        return None if isinstance(obj, float) and not math.isfinite(obj) else obj
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


class Report:
    """Rows of a benchmark result; prints a table and writes the DESIGN.md §5 JSON."""

    def __init__(self, name: str) -> None:
        """Start the clock of benchmark ``name``."""
        self.name = name
        self.rows: list[dict[str, Any]] = []
        #: Extra top-level keys of the JSON (per-trial rows, settings ...).
        self.extra: dict[str, Any] = {}
        self._t0 = time.monotonic()

    def add(self, metric: str, ours: Any, goal: str, passed: bool,
            reference: Any = None, reference_source: str = "", *,
            reference_same_run: bool | None = None,
            no_reference_reason: str | None = None) -> None:
        """Add one metric row (``ours`` must be a finite number or the row fails).

        ``reference_same_run=True`` says the reference was computed in this run;
        ``no_reference_reason`` says why there is none (``reference`` is then context, e.g. a
        published figure). DESIGN.md §5: a row states one of the two.

        Raises:
            ValueError: a row that states neither.

        """
        if not reference_same_run and not no_reference_reason:
            raise ValueError(f"{self.name}/{metric}: say reference_same_run=True (a reference "
                             "measured in this run) or give no_reference_reason")
        ours_f = _finite_or_none(ours)
        row = {"metric": metric, "ours": ours_f, "reference": _finite_or_none(reference),
               "reference_source": reference_source, "goal": goal,
               "pass": bool(passed) and ours_f is not None}
        if reference_same_run is not None:
            row["reference_same_run"] = bool(reference_same_run)
        if no_reference_reason is not None:
            row["no_reference_reason"] = no_reference_reason
        self.rows.append(row)

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Add rows given as dicts with the JSON keys.

        ``metric``, ``ours``, ``goal``, ``pass``, and ``reference_same_run`` or
        ``no_reference_reason``; optional ``reference`` and ``reference_source``.
        """
        for r in rows:
            self.add(r["metric"], r["ours"], r["goal"], r["pass"], r.get("reference"),
                     r.get("reference_source", ""),
                     reference_same_run=r.get("reference_same_run"),
                     no_reference_reason=r.get("no_reference_reason"))

    @property
    def passed(self) -> bool:
        """True when there are rows and all passed."""
        return bool(self.rows) and all(r["pass"] for r in self.rows)

    def finish(self, json_path: str | Path | None, error: str | None = None) -> int:
        """Print the table, write the JSON (if a path is given); return the exit code 0."""
        result: dict[str, Any] = {"name": self.name, "pass": self.passed and error is None,
                                  "seconds": round(time.monotonic() - self._t0, 3),
                                  "results": self.rows}
        if error is not None:
            result["error"] = error
        for k, v in self.extra.items():
            result.setdefault(k, v)
        print(f"{self.name}: {'PASS' if result['pass'] else 'FAIL'} "
              f"({result['seconds']:.1f} s)")
        print(f"  {'metric':38s} {'ours':>12s} {'reference':>12s}  goal / source")
        for r in self.rows:
            ours = "nan" if r["ours"] is None else f"{r['ours']:.4g}"
            ref = "-" if r["reference"] is None else f"{r['reference']:.4g}"
            why = r.get("no_reference_reason")
            print(f"  {r['metric']:38s} {ours:>12s} {ref:>12s}  {r['goal']}"
                  f"{' / ' + r['reference_source'] if r['reference_source'] else ''}"
                  f"{f' [no same-run reference: {why}]' if why else ''}"
                  f"{'' if r['pass'] else '  <- FAIL'}")
        if error:
            print(f"  error: {error}")
        if json_path is not None:
            path = Path(json_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(_clean(result), indent=2, default=_plain, allow_nan=False)
            path.write_text(text + "\n")
            print(f"  -> {path}")
        return 0


def parse_args(description: str) -> argparse.Namespace:
    """The common command line: ``--json OUT``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--json", default=None, help="write the result JSON here")
    return ap.parse_args()


def bench_parser(doc: str, name: str) -> argparse.ArgumentParser:
    """A benchmark's command line: ``--json OUT`` (default bench/results/<name>.json)."""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--json", type=Path, default=Path("bench/results") / f"{name}.json",
                    help="write the result JSON here")
    return ap


def run_bench(name: str, body: Callable[[Report, argparse.Namespace], None],
              args: argparse.Namespace) -> int:
    """Run ``body(report, args)`` and write the JSON; 0 even when a goal fails.

    A benchmark that cannot run reports why in the JSON (``error``).
    """
    report = Report(name)
    try:
        body(report, args)
    except Exception as exc:  # noqa: BLE001 - a benchmark that cannot run reports why
        return report.finish(args.json, error=f"{type(exc).__name__}: {exc}")
    return report.finish(args.json)
