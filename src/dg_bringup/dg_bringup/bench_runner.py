"""``dg bench``: run benchmarks under bench/ and tabulate their JSON results (DESIGN.md §5).

A benchmark is ``bench/<name>.py``, run as ``python bench/<name>.py --json <out>``, writing
``{"name", "pass", "seconds", "results": [...]}``. One that crashes or writes no JSON is
reported as failed with the reason, never skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def discover(bench_dir: Path, names: list[str]) -> list[Path]:
    """Benchmark scripts to run: all ``*.py`` in ``bench_dir`` or the named ones."""
    scripts = {p.stem: p for p in sorted(bench_dir.glob("*.py")) if not p.stem.startswith("_")}
    unknown = [n for n in names if n not in scripts]
    if unknown:
        raise SystemExit(f"dg bench: unknown benchmark(s) {unknown}; known: {sorted(scripts)}")
    return [scripts[n] for n in names] if names else list(scripts.values())


def run_one(script: Path, results_dir: Path) -> dict[str, Any]:
    """Run one benchmark script; return its result (or a failure record)."""
    out = results_dir / f"{script.stem}.json"
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), "--json", str(out)], check=False)
    if out.exists():
        result = json.loads(out.read_text())
        if proc.returncode == 0:
            return result
        # A crash after the JSON was written: keep what it measured, mark it failed.
        result.update({"pass": False, "error": result.get("error")
                       or f"exit code {proc.returncode}"})
    else:
        result = {"name": script.stem, "pass": False, "seconds": time.monotonic() - t0,
                  "results": [], "error": f"exit code {proc.returncode}, no JSON result"}
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def run_benchmarks(names: list[str], bench_dir: Path = Path("bench")) -> int:
    """Run benchmarks, print a table, return 0 when all passed."""
    console = Console(highlight=False)
    scripts = discover(bench_dir, names)
    if not scripts:
        console.print(f"no benchmarks in {bench_dir}/")
        return 0
    results_dir = bench_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i, script in enumerate(scripts, 1):
        console.print(f"[bold][{i}/{len(scripts)}] {script.stem}[/]")
        results.append(run_one(script, results_dir))
    table = Table(title="Benchmarks")
    for col in ("benchmark", "metric", "ours", "reference", "goal", "pass"):
        table.add_column(col)
    for r in results:
        rows = r.get("results") or [{"metric": r.get("error", ""), "pass": r["pass"]}]
        for row in rows:
            table.add_row(r["name"], str(row.get("metric", "")), str(row.get("ours", "")),
                          str(row.get("reference", "")), str(row.get("goal", "")),
                          "yes" if row.get("pass") else "NO")
    console.print(table)
    return 0 if all(r["pass"] for r in results) else 1
