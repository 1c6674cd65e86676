"""The job's browser view, rendered by a real headless browser (Debian's chromium).

The test serves a failing job, lets ``chromium --headless=new`` load the page and take a
screenshot (software WebGL: ``--disable-gpu`` falls back to SwiftShader), and checks that
the server saw the browser connect and that the screenshot shows the scene: not blank, and
with the failing move's red arm in it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
from matplotlib import image
from offline_jobs import write_job

from dg_motion.offline.checks import check_job
from dg_motion.offline.job import load_job
from dg_motion.offline.planner import plan_moves
from dg_motion.offline.view import JobView

CHROMIUM = shutil.which("chromium")


def _scene_checks(img: np.ndarray) -> tuple[bool, bool, bool]:
    """(not blank, the failing move's red arm shown, the grey cell shown)."""
    red = (img[:, :, 0] > 0.75) & (img[:, :, 1] < 0.5) & (img[:, :, 2] < 0.5)
    grey = (np.abs(img[:, :, 0] - img[:, :, 2]) < 0.05) & (img[:, :, 0] < 0.85) & (
        img[:, :, 0] > 0.4)
    return float(img.std()) > 0.05, int(red.sum()) > 500, int(grey.sum()) > 5000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_view_renders_cell_and_failing_move_in_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is missing: tools/setup.sh installs Debian's chromium"
    path = write_job(tmp_path, [
        {"ptp": {"at": "tray[0]", "offset": [0, 0, 0.1]}},
        {"name": "shortcut", "ptp": {"at": "vise", "offset": [0, 0, 0.15]}},
    ])
    job = load_job(path)
    report, _ = check_job(job)
    assert report.first_failure is not None
    moves, _ = plan_moves(job)
    port = _free_port()
    view = JobView(job, moves, report, port=port)
    log = (tmp_path / "chromium.log").open("w")
    try:
        # A cold browser (first start, software WebGL, a busy machine) may take its shot before
        # the scene is drawn: up to three tries with a longer virtual-time budget each.
        for attempt, budget_ms in enumerate((8000, 20000, 45000)):
            shot = tmp_path / f"view{attempt}.png"
            # the browser's helper processes may outlive it: no pipes, output to a file
            subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                            f"--screenshot={shot}", "--window-size=1200,800",
                            f"--virtual-time-budget={budget_ms}",
                            f"--user-data-dir={tmp_path / 'prof'}",
                            f"http://127.0.0.1:{port}"],
                           stdout=log, stderr=log, timeout=180, check=False)
            if shot.exists() and all(_scene_checks(image.imread(str(shot))[:, :, :3])):
                break
        assert view.client_connected.wait(timeout=5.0), "no browser connected to the view"
        assert "shortcut" in view.move_text.value and "FAILED" in view.move_text.value
    finally:
        view.close()
        log.close()
    img = image.imread(str(shot))[:, :, :3]
    assert img.shape[:2] == (800, 1200)
    blank, red, grey = _scene_checks(img)
    assert blank, "a blank page"
    assert red, "the failing move's red arm is not visible"
    assert grey, "the cell (grey boxes) is not visible"
