"""The pip-mode workspace: a console script runs after `source install/setup.bash`, and the
static Gazebo path (world, bridge config, launch files) is consistent."""

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

from dg_bringup.launch_runner import LaunchError
from dg_bringup.launch_runner.evaluator import load_launch


def test_console_script_runs_after_sourcing_install(repo):
    env = {"HOME": os.environ["HOME"], "PATH": "/usr/bin:/bin"}  # a fresh shell
    out = subprocess.run(["bash", "-c", "source install/setup.bash && dg --help"],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for sub in ("dg launch", "dg demo", "dg bench"):
        assert sub in out.stdout


def _bridge(repo):
    return {e["ros_topic_name"]: e for e in
            yaml.safe_load((repo / "config/ground_vehicle_bridge.yaml").read_text())}


def test_gazebo_world_matches_bridge_and_embedded_sim(repo):
    bridge = _bridge(repo)
    world = ET.parse(repo / "config/worlds/ugv_flat.sdf").getroot().find("world")
    model = next(m for m in world.findall("model") if m.get("name") == "ugv")
    plugins = {p.get("name").rsplit("::", 1)[-1]: p for p in model.findall("plugin")}
    dd, gt = plugins["DiffDrive"], plugins["OdometryPublisher"]
    assert dd.findtext("topic") == bridge["cmd_vel"]["gz_topic_name"]
    assert dd.findtext("odom_topic") == bridge["odom"]["gz_topic_name"]
    assert dd.findtext("tf_topic") == bridge["tf"]["gz_topic_name"]
    assert (dd.findtext("frame_id"), dd.findtext("child_frame_id")) == ("odom", "base_link")
    assert gt.findtext("odom_topic") == bridge["ground_truth/odom"]["gz_topic_name"]
    navsat = model.find("link/sensor[@type='navsat']")
    assert navsat.findtext("topic") == bridge["navsat"]["gz_topic_name"]
    sim = yaml.safe_load((repo / "config/ground_vehicle_sim.yaml").read_text())
    sim = sim["/**"]["ros__parameters"]
    sc = world.find("spherical_coordinates")
    assert float(sc.findtext("latitude_deg")) == sim["datum_latitude_deg"]
    assert float(sc.findtext("longitude_deg")) == sim["datum_longitude_deg"]
    assert float(sc.findtext("elevation")) == sim["datum_altitude_m"]
    assert float(dd.findtext("max_linear_velocity")) == sim["speed_max_mps"]
    assert float(dd.findtext("max_angular_velocity")) == sim["yaw_rate_max_radps"]


def _load(repo, tmp_path, sim):
    return load_launch(repo / "launch/ugv_waypoints.launch.xml", {"sim": sim},
                       environ=os.environ, params_dir=tmp_path, warn=lambda _: None)


@pytest.mark.parametrize("sim", ["embedded", "none"])
def test_system_launch_resolves(repo, tmp_path, sim):
    labels = sorted(n.label for n in _load(repo, tmp_path, sim))
    expected = ["waypoint_follower"] + (["clock", "ground_vehicle"] if sim == "embedded" else [])
    assert labels == sorted(expected)


def test_gazebo_launch_needs_ros_mode(repo, tmp_path):
    # Pip mode has no Gazebo: the gazebo world is a clear error, never half a launch.
    with pytest.raises(LaunchError, match=r"ros_gz_sim|gz_sim\.launch\.py"):
        _load(repo, tmp_path, "gazebo")


def test_angles_are_wrapped_by_one_function(repo):
    """dg_common.geometry.wrap_angle, (-pi, pi], is the only angle wrap, so that every module
    puts the seam at the same place."""
    import ast
    copies = []
    for path in sorted({*repo.glob("src/*/*/**/*.py"), *repo.glob("bench/*.py"),
                        *repo.glob("tests/*.py")}):
        if path.match("dg_common/dg_common/geometry.py") or "/build/" in str(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.FunctionDef)
                    and node.name.strip("_") in ("wrap", "wrap_pi", "wrap_angle",
                                                 "normalize_angle", "angle_wrap")):
                copies.append(f"{path.relative_to(repo)}:{node.lineno} {node.name}")
    assert not copies, f"use dg_common.geometry.wrap_angle instead of: {copies}"
