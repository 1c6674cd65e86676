"""`dg demo inspection` end to end, short version (10 parts): teach, the embedded cell, the
inspection node, the recording, the analysis. Verdicts are checked against the cell's ground
truth read back from the MCAP with an independent reader (mcap-ros2-support), not against
anything the nodes claim."""

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from mcap_ros2.reader import read_ros2_messages

from dg_bringup.launch_runner import LaunchError
from dg_bringup.launch_runner.evaluator import load_launch
from dg_common.sim_time import stamp_to_ns

N_PARTS = 10


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    proc = subprocess.run(
        ["dg", "demo", "inspection", "--runs-dir", str(runs), f"n_parts:={N_PARTS}"],
        capture_output=True, text=True, timeout=400)
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    run_dir = Path(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else runs
    return proc, runs, run_dir


def stamp_ns(msg):
    return stamp_to_ns(msg.header.stamp)


def test_demo_succeeds_and_writes_its_run_folder(demo):
    proc, runs, run_dir = demo
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert run_dir.parent == runs and run_dir.name.endswith("-inspection")
    for name in ("metrics.json", "confusion_matrix.png", "confusion_matrix.json", "parts.csv",
                 "spc.csv", "spc.md", "recording.mcap", "parameters.yaml", "recipe.yaml",
                 "teach/golden.png", "teach/housing_cad.ply", "teach/anomaly.dgpc"):
        assert (run_dir / name).is_file(), name
    assert len(list((run_dir / "examples").glob("*.png"))) >= 2
    assert f"inspection {N_PARTS}/{N_PARTS}" in proc.stdout   # progress shown while it ran


def test_defective_parts_are_rejected_and_good_ones_pass(demo):
    _, _, run_dir = demo
    mcap = str(run_dir / "recording.mcap")
    truth = {}
    for m in read_ros2_messages(mcap, topics=["/inspection/ground_truth"]):
        gt = json.loads(m.ros_msg.data)
        truth[gt["stamp_ns"]] = gt
    verdicts = {stamp_ns(m.ros_msg): m.ros_msg
                for m in read_ros2_messages(mcap, topics=["/inspection/result"])}
    assert len(truth) == N_PARTS
    assert set(verdicts) == set(truth)               # every part got exactly its verdict
    defective = [s for s, gt in truth.items() if gt["defective"]]
    good = [s for s, gt in truth.items() if not gt["defective"]]
    assert len(defective) >= 3 and len(good) >= 3    # the seed gives both kinds
    wrong = [(truth[s]["part_id"], [d["type"] for d in truth[s]["defects"]],
              list(verdicts[s].failures)) for s in truth
             if verdicts[s].ok == truth[s]["defective"]]
    assert wrong == []
    # The label's DataMatrix code is read: the verdict carries the board's serial.
    assert all(verdicts[s].part_id == truth[s]["serial"] for s in truth)


def test_metrics_and_metrology_against_the_true_boards(demo):
    _, _, run_dir = demo
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["succeeded"] is True and m["launch_exit_code"] == 0
    assert m["parts_inspected"] == m["parts_total"] == N_PARTS
    assert m["accuracy"] == 1.0 and m["recall_defective"] == 1.0
    assert m["false_reject_rate"] == 0.0
    # Sub-pixel metrology (0.1 mm/px) against the as-made dimensions in the ground truth.
    for key in ("board_width", "board_height", "hole"):
        assert m[f"{key}_error_rms_mm"] < 0.02, key
    assert m["latency_p50_s"] > 0.0 and m["processing_time_p50_s"] > 0.0
    # The anomaly detections point at the true scratches and stains.
    assert m["anomaly_defects_located"] == m["anomaly_defects_total"]
    assert m["teach_s"] < 120.0
    confusion = json.loads((run_dir / "confusion_matrix.json").read_text())
    assert sum(map(sum, confusion["matrix"])) == N_PARTS


def test_recording_has_the_cell_topics_with_one_stamp_per_part(demo):
    _, _, run_dir = demo
    counts, types, stamps = Counter(), {}, {}
    for m in read_ros2_messages(str(run_dir / "recording.mcap"), topics=[
            "/inspection/image_raw", "/inspection/camera_info", "/inspection/points",
            "/inspection/result", "/inspection/annotated", "/inspection/detections",
            "/clock"]):
        t = m.channel.topic
        counts[t] += 1
        types[t] = m.schema.name
        if t != "/clock":
            stamps.setdefault(t, set()).add(stamp_ns(m.ros_msg))
    assert types["/inspection/image_raw"] == "sensor_msgs/msg/Image"
    assert types["/inspection/camera_info"] == "sensor_msgs/msg/CameraInfo"
    assert types["/inspection/points"] == "sensor_msgs/msg/PointCloud2"
    assert types["/inspection/result"] == "dg_interfaces/msg/InspectionResult"
    assert types["/inspection/detections"] == "vision_msgs/msg/Detection2DArray"
    assert types["/clock"] == "rosgraph_msgs/msg/Clock"
    for t in ("/inspection/image_raw", "/inspection/camera_info", "/inspection/points",
              "/inspection/result", "/inspection/annotated"):
        assert counts[t] == N_PARTS, t
    # Image, camera_info and cloud of a part share its stamp; the verdict carries it too.
    assert (stamps["/inspection/image_raw"] == stamps["/inspection/camera_info"]
            == stamps["/inspection/points"] == stamps["/inspection/result"])


@pytest.mark.parametrize("sim, nodes", [
    ("embedded", ["clock", "inspection", "inspection_cell"]), ("none", ["inspection"])])
def test_station_launch_resolves_per_world(repo, tmp_path, sim, nodes):
    args = {"sim": sim, "recipe_file": str(repo / "config/inspection_recipe.yaml")}
    found = load_launch(repo / "launch/inspection.launch.xml", args, environ=os.environ,
                        params_dir=tmp_path, warn=lambda _: None)
    assert sorted(n.label for n in found) == nodes
    # Pip mode has no Gazebo: the bridge of sim:=gazebo is a clear error, never half a launch.
    with pytest.raises(LaunchError, match="ros_gz_bridge"):
        load_launch(repo / "launch/inspection.launch.xml", {**args, "sim": "gazebo"},
                    environ=os.environ, params_dir=tmp_path, warn=lambda _: None)


def test_teaching_resolves_the_cells_parameters_from_the_launch(repo):
    from dg_bringup.scenarios.inspection import cell_parameters

    demo = cell_parameters(repo / "launch/demo_inspection.launch.xml",
                           {"run_dir": "/nonexistent", "seed": "3"})
    assert (demo["seed"], demo["n_parts"]) == (3, 40)
    assert demo["wait_for"] == ["image_raw", "camera_info", "points", "ground_truth"]
    assert demo["defect_probability"] == 0.4               # from the cell's params file
    station = cell_parameters(repo / "launch/inspection.launch.xml",
                              {"recipe_file": "/nonexistent/recipe.yaml"})
    assert (station["seed"], station["wait_for"]) == (7, ["image_raw", "camera_info", "points"])
    with pytest.raises(ValueError, match="no inspection_cell"):
        cell_parameters(repo / "launch/inspection.launch.xml",
                        {"recipe_file": "/nonexistent/recipe.yaml", "sim": "none"})
