"""Launch runner end to end: launch files -> command lines, processes, shutdown, exit codes.

Nodes are ``launch_fixtures/fake_node.py`` installed into a fake ament prefix (package
``fake_pkg``) that is put on ``AMENT_PREFIX_PATH``, so package lookups go through the real
ament index. Each fake node records its argv/env in ``<out>/<tag>.json``.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from dg_bringup.launch_runner import LaunchError, parse_launch_args, run_launch
from dg_bringup.launch_runner.evaluator import load_launch
from dg_bringup.launch_runner.spec import ProcessSpec

FIXTURES = Path(__file__).parent / "launch_fixtures"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 20.0


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("prefix")
    marker = root / "share/ament_index/resource_index/packages/fake_pkg"
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    (root / "share/fake_pkg/config").mkdir(parents=True)
    shutil.copy(FIXTURES / "params.yaml", root / "share/fake_pkg/config/params.yaml")
    executable = root / "lib/fake_pkg/fake_node"
    executable.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "fake_node.py", executable)
    executable.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AMENT_PREFIX_PATH", str(root))
        yield root


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def launch(path: Path, out_dir: Path, args: dict[str, str] | None = None) -> tuple[int, str]:
    stream = io.StringIO()
    code = run_launch(path, args or {}, env={"FAKE_NODE_OUT": str(out_dir)}, stdout=stream)
    return code, stream.getvalue()


def records(out_dir: Path) -> dict[str, dict]:
    return {path.name.removesuffix(".json"): json.loads(path.read_text())
            for path in out_dir.glob("*.json")}


def specs(path: Path, tmp_path: Path, args: dict[str, str] | None = None,
          environ: dict[str, str] | None = None) -> list[ProcessSpec]:
    return load_launch(path, args or {}, environ=environ or dict(os.environ),
                       params_dir=tmp_path, warn=lambda message: None)


def tags(found: list[ProcessSpec]) -> list[str]:
    return [spec.cmd[spec.cmd.index("--tag") + 1] for spec in found]


def write_launch(tmp_path: Path, body: str, name: str = "case.launch.xml") -> Path:
    path = tmp_path / name
    path.write_text(f"<launch>\n{body}\n</launch>\n")
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead, only not yet reaped by its parent
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- command line, parameters, environment --------------------------------------------------

def test_command_line_params_remaps_and_env_reach_the_node(prefix: Path, out_dir: Path) -> None:
    code, output = launch(FIXTURES / "commandline.launch.xml", out_dir)
    assert code == 0, output
    assert output.count("process has finished cleanly") == 4
    assert "[fake_node-1] hello from planner" in output
    assert "[fake_node-1] error line from planner" in output  # stderr is relayed too

    found = records(out_dir)
    planner = found["planner"]
    exe = str(prefix / "lib/fake_pkg/fake_node")
    share_params = str(prefix / "share/fake_pkg/config/params.yaml")
    argv = planner["argv"]
    generated = argv[argv.index(share_params) + 2]
    assert argv == [
        exe, "--tag", "planner", "--extra", "two words",
        "--ros-args", "-r", "__node:=planner", "-r", "__ns:=/fleet/boat/nav",
        "--params-file", share_params, "--params-file", generated,
        "-r", "cmd_vel:=/boat/cmd_vel", "-r", "odom:=odometry",
    ]
    assert yaml.safe_load(planner["params_files"][generated]) == {
        "/fleet/boat/nav/planner": {"ros__parameters": {
            "speed_mps": 1.5, "enabled": True, "count": 3, "gains": [1.0, 2.0],
            "label": "abc", "frame": "map_boat", "limits.max_mps": 2.5}}}
    env = planner["env"]
    assert env["FASTDDS_BUILTIN_TRANSPORTS"] == "LARGE_DATA"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert (env["DG_TEST_MODE"], env["IN_GROUP"], env["NODE_ONLY"]) == ("boat-mode", "1", "x")

    assert found["abs"]["argv"][4:] == ["-r", "__node:=pinned", "-r", "__ns:=/abs"]
    assert found["pushed_only"]["argv"][3:] == ["--ros-args", "-r", "__ns:=/fleet/boat"]
    plain = found["plain"]
    assert plain["argv"][3:] == ["--ros-args"]  # no namespace leaks out of the group
    assert "IN_GROUP" not in plain["env"] and plain["env"]["DG_TEST_MODE"] == "boat-mode"
    assert "NODE_ONLY" not in plain["env"]


def test_launch_arguments_and_user_environment_override_defaults(
        prefix: Path, tmp_path: Path) -> None:
    environ = {**os.environ, "FASTDDS_BUILTIN_TRANSPORTS": "UDPv4"}
    found = specs(FIXTURES / "commandline.launch.xml", tmp_path, {"robot": "rover"}, environ)
    assert "__ns:=/fleet/rover/nav" in found[0].cmd
    assert "cmd_vel:=/rover/cmd_vel" in found[0].cmd
    assert all(spec.env["FASTDDS_BUILTIN_TRANSPORTS"] == "UDPv4" for spec in found)
    assert [spec.label for spec in found] == ["fake_node"] * 4


def test_inline_params_without_full_name_use_wildcard_and_keep_order(
        prefix: Path, tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters: {a: 1}\n")
    path = write_launch(tmp_path, f"""
  <node pkg="fake_pkg" exec="fake_node" name="n">
    <param name="first" value="1"/>
    <param from="{params}"/>
    <param name="last" value="x"/>
  </node>""")
    cmd = list(specs(path, tmp_path)[0].cmd)
    files = [cmd[i + 1] for i, item in enumerate(cmd) if item == "--params-file"]
    assert files[1] == str(params)
    assert yaml.safe_load(Path(files[0]).read_text()) == {"/**": {"ros__parameters": {"first": 1}}}
    assert yaml.safe_load(Path(files[2]).read_text()) == {"/**": {"ros__parameters": {"last": "x"}}}


def test_unscoped_group_leaks_and_set_env_feeds_env_substitution(
        prefix: Path, tmp_path: Path) -> None:
    path = write_launch(tmp_path, """
  <group scoped="false">
    <push-ros-namespace namespace="outer"/>
    <let name="x" value="leaked"/>
    <set_env name="DG_T_MODE" value="fast"/>
  </group>
  <node pkg="fake_pkg" exec="fake_node" exec_name="custom" ros_args="--log-level debug"
        args="--tag $(var x)_$(env DG_T_MODE)"/>""")
    found = specs(path, tmp_path)[0]
    assert found.cmd[1:] == ("--tag", "leaked_fast", "--ros-args", "--log-level", "debug",
                             "--ros-args", "-r", "__ns:=/outer")
    assert found.label == "custom" and found.env["DG_T_MODE"] == "fast"


# --- include, conditions, substitutions ------------------------------------------------------

def test_include_passes_args_and_inherits_pushed_namespace(prefix: Path, tmp_path: Path) -> None:
    found = specs(FIXTURES / "include_parent.launch.xml", tmp_path, {"world": "gazebo"})
    assert tags(found) == ["child_gazebo", "after_group_unset", "top", "after_include_top"]
    assert found[0].cmd[-4:] == ("-r", "__node:=child", "-r", "__ns:=/robot1/sub")
    assert found[2].cmd[-4:] == ("-r", "__node:=child", "-r", "__ns:=/sub")


def test_conditions_select_nodes(prefix: Path, tmp_path: Path) -> None:
    path = FIXTURES / "conditions.launch.xml"
    assert tags(specs(path, tmp_path)) == ["a", "sim_only", "let_unset"]
    assert tags(specs(path, tmp_path, {"use_a": "False", "mode": "hw"})) == [
        "b", "hw_only", "let_unset"]
    with pytest.raises(LaunchError, match=r"'maybe' is not a condition"):
        specs(path, tmp_path, {"use_a": "maybe"})
    with pytest.raises(LaunchError, match=r"argument 'mode' is 'gazebo', which is not one of"):
        specs(path, tmp_path, {"mode": "gazebo"})


def test_substitutions_in_attributes(prefix: Path, tmp_path: Path) -> None:
    path = write_launch(tmp_path, """
  <let name="x" value="1"/>
  <node pkg="fake_pkg" exec="fake_node"
        args="--a $(var x)_$(env DG_T_SET) --b $(env DG_T_UNSET 'fall back') --c $(dirname)
              --d $(find-pkg-share fake_pkg)/cfg --e $(find-pkg-prefix fake_pkg)
              --f $(equals $(var x) 1.0) --g $(not-equals abc abc) --h \\$HOME
              --i $(anon n) --j $(anon n)"/>""")
    environ = {**os.environ, "DG_T_SET": "set"}
    args = specs(path, tmp_path, environ=environ)[0].cmd[1:]
    values = dict(zip(args[0:20:2], args[1:20:2], strict=True))
    assert values == {
        "--a": "1_set", "--b": "fall back", "--c": str(tmp_path), "--d":
        f"{prefix}/share/fake_pkg/cfg", "--e": str(prefix), "--f": "true", "--g": "false",
        "--h": "$HOME", "--i": values["--i"], "--j": values["--i"]}
    assert re.fullmatch(r"n_\d+_\d+", values["--i"])


# --- errors: named file, line, tag and attribute ---------------------------------------------

@pytest.mark.parametrize(("body", "pattern"), [
    ('<executable cmd="ls"/>', r":2: <executable>: unsupported tag"),
    ('<node pkg="fake_pkg" exec="fake_node" respawn="true"/>',
     r":2: <node> attribute 'respawn': unsupported attribute"),
    ('<node pkg="fake_pkg" exec="fake_node"><foo/></node>',
     r"<foo>: unsupported tag inside <node>"),
    ('<node pkg="fake_pkg" exec="fake_node" args="$(eval 1)"/>',
     r"<node> attribute 'args': unsupported substitution '\$\(eval\)'"),
    ('<node pkg="fake_pkg" exec="fake_node" args="cost$"/>',
     r"attribute 'args': a '\$' that does not start"),
    ('<node pkg="fake_pkg" exec="nope"/>',
     r"attribute 'exec': executable 'nope' not found in package 'fake_pkg'"),
    ('<node pkg="fake_pkg" exec="fake_node" args="$(var missing)"/>',
     r"launch configuration 'missing' does not exist"),
    ('<let name="d" value="$(find-pkg-share nope_pkg)"/>',
     r"<let> attribute 'value': package 'nope_pkg' not found"),
    ('<node pkg="nope_pkg" exec="fake_node"/>', r"<node> attribute 'pkg': package 'nope_pkg'"),
    ('<node pkg="fake_pkg" exec="fake_node"><param name="p" value=""/></node>',
     r"<param> attribute 'value': parameter 'p': empty or null value"),
    ('<node pkg="fake_pkg" exec="fake_node"><param name="p" value="[1, 2.5]"/></node>',
     r"parameter 'p': '\[1, 2.5\]' is not a parameter value"),
    ('<node pkg="fake_pkg" exec="fake_node" name="bad-name"/>', r"invalid node name"),
    ('<node pkg="fake_pkg" exec="fake_node" on_exit="restart"/>', r"only 'shutdown'"),
    ('<group forwarding="false"/>', r"attribute 'forwarding': unsupported attribute"),
    ('<include file="nested.launch.py"/>', r"only XML launch files are supported"),
    ('<node pkg="fake_pkg" exec="fake_node" if="true" unless="true"/>', r"cannot be used"),
])
def test_unsupported_or_wrong_input_names_file_and_tag(
        prefix: Path, tmp_path: Path, body: str, pattern: str) -> None:
    path = write_launch(tmp_path, f"  {body}")
    with pytest.raises(LaunchError, match=pattern) as error:
        specs(path, tmp_path)
    assert str(error.value).startswith(str(path))


def test_unsupported_tag_in_a_skipped_group_is_still_an_error(tmp_path: Path) -> None:
    path = write_launch(tmp_path, '  <group if="false"><timer period="1"/></group>')
    with pytest.raises(LaunchError, match=r":2: <timer>: unsupported tag"):
        specs(path, tmp_path)


def test_missing_required_args_are_listed_before_anything_runs(
        prefix: Path, tmp_path: Path, out_dir: Path) -> None:
    path = write_launch(tmp_path, """
  <arg name="robot" description="which robot"/>
  <arg name="world"/>
  <arg name="optional" default="x"/>
  <node pkg="fake_pkg" exec="fake_node" args="--tag never"/>""")
    with pytest.raises(LaunchError, match=r"'robot' \(which robot\), 'world' \(no description"):
        launch(path, out_dir, {"optional": "y"})
    assert records(out_dir) == {}
    child = FIXTURES / "include_child.launch.xml"
    including = write_launch(tmp_path, f'  <include file="{child}"/>', "including.launch.xml")
    with pytest.raises(LaunchError, match=r"include_child.launch.xml: required launch argument"):
        specs(including, tmp_path)


def test_malformed_xml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.launch.xml"
    path.write_text("<launch>\n  <node pkg='a'\n</launch>\n")
    with pytest.raises(LaunchError, match=r"broken.launch.xml:3: malformed XML"):
        specs(path, tmp_path)
    with pytest.raises(LaunchError, match=r"launch file not found"):
        specs(tmp_path / "absent.launch.xml", tmp_path)


def test_parse_launch_args() -> None:
    assert parse_launch_args(["sim:=gazebo", "x:=", "y:=a:=b"]) == {
        "sim": "gazebo", "x": "", "y": "a:=b"}
    for bad in (["sim=gazebo"], [":=x"], ["a b:=1"]):
        with pytest.raises(LaunchError, match=r"expected format '<name>:=<value>'"):
            parse_launch_args(bad)


# --- running: exit codes and shutdown ---------------------------------------------------------

def test_failing_node_makes_the_launch_fail(prefix: Path, out_dir: Path) -> None:
    code, output = launch(FIXTURES / "failing.launch.xml", out_dir)
    assert code == 1
    pid = records(out_dir)["bad"]["pid"]
    exe = prefix / "lib/fake_pkg/fake_node"
    assert (f"[ERROR] [fake_node-2]: process has died [pid {pid}, exit code 3, "
            f"cmd '{exe} --tag bad --exit-code 3 --ros-args'].") in output
    assert "[INFO] [fake_node-1]: process has finished cleanly" in output


def test_required_node_exit_stops_the_others(prefix: Path, tmp_path: Path, out_dir: Path) -> None:
    fifo = tmp_path / "ready.fifo"
    os.mkfifo(fifo)
    code, output = launch(FIXTURES / "required.launch.xml", out_dir, {"fifo": str(fifo)})
    assert code == 4, output
    assert "is required (on_exit=\"shutdown\") and has exited" in output
    assert "[INFO] [fake_node-1]: sending signal 'SIGINT' to process[fake_node-1]" in output
    assert "[fake_node-1] got SIGINT" in output
    assert "[INFO] [fake_node-1]: process has finished cleanly" in output
    assert not any(alive(record["pid"]) for record in records(out_dir).values())


def test_what_a_node_started_does_not_outlive_it(
        prefix: Path, tmp_path: Path, out_dir: Path) -> None:
    path = write_launch(
        tmp_path, '  <node pkg="fake_pkg" exec="fake_node" args="--tag parent --grandchild"/>')
    code, output = launch(path, out_dir)
    assert code == 0, output
    assert not alive(records(out_dir)["parent"]["grandchild_pid"])


def _read_lines(stream: io.TextIOBase) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_all_processes_and_escalates(
        prefix: Path, out_dir: Path, sent: signal.Signals) -> None:
    script = (
        "import sys\nfrom dg_bringup.launch_runner import run_launch\n"
        f"sys.exit(run_launch({str(FIXTURES / 'interrupt.launch.xml')!r}, {{}},"
        " sigterm_timeout=0.3, sigkill_timeout=0.3))\n")
    python_path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path, "FAKE_NODE_OUT": str(out_dir)}
    runner = subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = _read_lines(runner.stdout)
    output: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while sum(line.endswith("] READY\n") for line in output) < 3:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, "".join(output)
            output.append(line)
        runner.send_signal(sent)
        while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            output.append(line)
        assert runner.wait(timeout=DEADLINE_S) == 0, "".join(output)
        _check_interrupted_output("".join(output), sent)
        found = records(out_dir)
        pids = [record["pid"] for record in found.values()] + [found["polite"]["grandchild_pid"]]
        assert len(pids) == 4 and not any(alive(pid) for pid in pids)
    finally:
        runner.kill()
        for record in records(out_dir).values():  # only after a failure: leave nothing behind
            for pid in (record["pid"], record["grandchild_pid"]):
                if pid and alive(pid):
                    os.kill(pid, signal.SIGKILL)


def _check_interrupted_output(text: str, sent: signal.Signals) -> None:
    assert "[fake_node-1] got SIGINT" in text and "[fake_node-2] got SIGINT" in text
    assert "[fake_node-3] got SIGINT" not in text
    assert ("process[fake_node-3] failed to terminate '0.3' seconds after receiving 'SIGINT', "
            "escalating to 'SIGTERM'") in text
    assert "after receiving 'SIGTERM', escalating to 'SIGKILL'" in text
    assert "[INFO] [fake_node-3]: process has finished [pid" in text
    expected = "user interrupted with ctrl-c (SIGINT)" if sent == signal.SIGINT else "SIGTERM"
    assert expected in text
