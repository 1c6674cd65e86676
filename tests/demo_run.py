"""Running a `dg demo` from a system test and reading its recording back."""

import json
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from mcap_ros2.reader import read_ros2_messages


def run_demo(scenario: str, runs: Path, *args: str, timeout_s: float) -> tuple[Path, dict]:
    """Run ``dg demo <scenario>`` into ``runs``; its run folder and metrics.json.

    Fails the test (with the end of the output) when the demo does not exit 0 or does not
    print a run folder under ``runs`` last.
    """
    t0 = time.monotonic()
    proc = subprocess.run(["dg", "demo", scenario, "--runs-dir", str(runs), *args],
                          capture_output=True, text=True, timeout=timeout_s)
    print(f"dg demo {scenario}: {time.monotonic() - t0:.0f} s wall")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.parent == runs and run_dir.name.endswith(f"-{scenario}"), run_dir
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def recorded(run_dir: Path, topics: list[str]) -> dict[str, list[Any]]:
    """{topic: [mcap-ros2-support messages]} of ``topics`` in the run's recording.mcap."""
    msgs: dict[str, list[Any]] = defaultdict(list)
    for m in read_ros2_messages(str(run_dir / "recording.mcap"), topics=topics):
        msgs[m.channel.topic].append(m)
    return msgs
