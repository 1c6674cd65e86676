"""``python -m dg_motion retime / check``: formats and exit codes."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from dg_motion.cli import main
from dg_motion.robots.paths import robot_file

NAMES = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
         "wrist_2_joint", "wrist_3_joint"]
WP = [[0, -1.5, 1.5, 0, 0, 0], [0.5, -1.2, 1.2, 0.3, 0.2, 0.1], [1.0, -1.0, 0.8, 0.5, 0.6, -0.4]]


@pytest.fixture()
def files(tmp_path):
    wp = tmp_path / "wp.csv"
    wp.write_text(",".join(NAMES) + "\n" + "\n".join(",".join(map(str, r)) for r in WP) + "\n")
    return wp, robot_file("ur5", "joint_limits.yaml"), tmp_path


def read(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.mark.parametrize("stop", [False, True])
def test_retime_writes_the_documented_format(files, stop, capsys):
    wp, limits, tmp = files
    out = tmp / "traj.csv"
    argv = ["retime", str(wp), "--limits", str(limits), "--dt", "0.002", "--out", str(out)]
    assert main(argv + (["--stop-at-waypoints"] if stop else [])) == 0
    header, data = read(out)
    assert header == (["time_from_start"] + NAMES + [f"{n}_vel" for n in NAMES]
                      + [f"{n}_acc" for n in NAMES])
    t, q, v = data[:, 0], data[:, 1:7], data[:, 7:13]
    np.testing.assert_allclose(np.diff(t)[:-1], 0.002, atol=1e-9)
    np.testing.assert_allclose(q[0], WP[0], atol=1e-9)
    np.testing.assert_allclose(q[-1], WP[-1], atol=1e-9)
    np.testing.assert_allclose(v[[0, -1]], 0.0, atol=1e-9)
    # passes the middle waypoint; stops there only with --stop-at-waypoints
    k = np.argmin(np.linalg.norm(q - WP[1], axis=1))
    assert np.linalg.norm(q[k] - WP[1]) < 0.01
    assert (np.abs(v[k]).max() < 0.05) == stop
    assert "retimed 3 waypoints" in capsys.readouterr().out


@pytest.mark.parametrize("content,match", [
    ("1,2,3,4,5,6\n0,0,0,0,0,0\n", "header of joint names"),
    (",".join(NAMES) + "\n0,nan,0,0,0,0\n1,0,0,0,0,0\n", "not finite"),
    (",".join(NAMES) + "\n0,0,0,0,0\n", "has 5 values"),
    (",".join(NAMES[:5] + ["gripper_joint"]) + "\n0,0,0,0,0,0\n1,0,0,0,0,0\n",
     "no limits for joints"),
    (",".join(NAMES) + "\n0,0,0,0,0,0\n0,0,4,0,0,0\n", "above max_position"),
])
def test_bad_input_exit_2_one_line(files, content, match, capsys):
    wp, limits, tmp = files
    wp.write_text(content)
    code = main(["retime", str(wp), "--limits", str(limits), "--out", str(tmp / "o.csv")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and match in err


def test_unreadable_files_exit_2(files, capsys):
    wp, limits, tmp = files
    assert main(["retime", str(tmp / "missing.csv"), "--limits", str(limits)]) == 2
    assert main(["retime", str(wp), "--limits", str(tmp / "missing.yaml")]) == 2
    assert main(["retime", str(wp), "--limits", str(limits), "--dt", "0"]) == 2


def test_module_entry_point_and_check_subcommand(files, tmp_path):
    wp, limits, tmp = files
    r = subprocess.run([sys.executable, "-m", "dg_motion", "retime", str(wp), "--limits",
                        str(limits), "--dt", "0.01"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("time_from_start,")
    r = subprocess.run([sys.executable, "-m", "dg_motion", "check", str(tmp_path / "no.yaml"),
                        "--report", str(tmp_path / "r.json")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
