"""The ``inspection`` demo: teach the line, run parts past the station, score the verdicts.

Teach (:func:`teach`, before the launch, the line's set-up): from the cell's own renderer and
parameters (:func:`cell_parameters`: resolved from the launch file with the run's launch
arguments, exactly as the cell node gets them) it writes into ``<run>/teach/`` the reference image
the recipe is drawn on (a good board at the nominal pose), the housing's CAD mesh, and an
anomaly model fitted on good boards only (PatchCore, :func:`dg_vision.anomaly.patchcore.
fit_patchcore`) from crops taken exactly as the recipe's anomaly step takes them (upright in
the reference frame, following the board's pose); then the recipe (config/inspection_recipe.yaml)
next to it as ``<run>/recipe.yaml``, every anomaly step naming the taught model. :func:`prepare`
is that step for ``dg demo``: it returns the launch arguments (``recipe_file``,
``anomaly_model_file``).

Analysis (:func:`analyze`), from the recording only: every ``/inspection/result`` is joined to
the cell's ``/inspection/ground_truth`` by header stamp; the truth (not the node's claims)
decides what is defective. Writes ``confusion_matrix.png`` / ``.json``, ``parts.csv`` (one row
per part: truth, verdict, failures, latency), ``spc.csv`` / ``spc.md``
(:class:`dg_vision.spc.SpcTable` over every measurement), example overlays
(``examples/*.png``: the node's annotated image with the true defects boxed in white) and the
metrics: accuracy, recall on defective parts, false-reject rate, recall per defect type,
metrology error against the true board dimensions, how many true scratches and stains an
anomaly detection box covers, processing time (the node's own) and
latency (wall time from the cell sending a part to the node sending its verdict, from the
recording's publish times).

The line passes (``succeeded``) when every part got a verdict, recall on defective parts is
>= :data:`MIN_RECALL` and the false-reject rate <= :data:`MAX_FALSE_REJECT`.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import yaml

from dg_bringup.scenarios.recording import Recorded, read_recording, topic_counts
from dg_common.sensor_conv import image_from_msg
from dg_common.sim_time import stamp_to_ns
from dg_interfaces.msg import MissionProgress

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - backend first

#: Acceptance of the line: share of defective parts rejected, of good parts rejected.
MIN_RECALL = 0.9
MAX_FALSE_REJECT = 0.1
#: Good boards rendered for the anomaly model (20 % of them calibrate its threshold).
N_TEACH = 30
#: Share of the good patches kept in the memory bank. The greedy coreset's time grows with
#: kept x all patches: 0.1 (PatchCore's usual) takes ~25 s here for 20 boards, 0.02 ~5 s with
#: the same recall on the demo's defects (measured on 2 loaded cores).
CORESET_RATIO = 0.02
#: Anomaly steps reject above the model's calibrated good-part threshold times this margin:
#: the calibration (max over held-out good crops) has few samples, and a board is scored on
#: three crops, so without margin about one good board in ten exceeds it (measured: good
#: boards up to 1.0x, scratches and stains 1.4-2.4x); missing parts have presence steps.
ANOMALY_MARGIN = 1.2
#: Example overlays kept per outcome (false reject/pass, true pass; true rejects: one per
#: defect type).
N_EXAMPLES = 3
NS = "/inspection"


def _share(*parts: str) -> Path:
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("dg_bringup")).joinpath(*parts)


def cell_parameters(launch_file: Path, launch_args: dict[str, str]) -> dict[str, Any]:
    """The parameters ``launch_file`` gives the ``inspection_cell`` node with ``launch_args``.

    The launch file is evaluated as ``dg launch`` does (nothing starts) and the node's params
    files are read in their order (later wins): the cell's params file, then what the launch
    sets from its arguments (``n_parts``, ``seed``, ``wait_for``). Parameters in neither
    take the node's defaults (those of :class:`dg_sim.inspection.cell.CellConfig`).

    Raises:
        ValueError: the launch file starts no ``inspection_cell`` node.

    """
    import os
    import tempfile

    from dg_bringup.launch_runner.evaluator import load_launch

    params: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        specs = load_launch(launch_file, launch_args, environ=os.environ,
                            params_dir=Path(tmp), warn=lambda _: None)
        cells = [s for s in specs if s.label == "inspection_cell"]
        if not cells:
            raise ValueError(f"{launch_file} starts no inspection_cell node with {launch_args}")
        cmd = cells[0].cmd
        for flag, value in zip(cmd, cmd[1:], strict=False):
            if flag == "--params-file":
                for entry in (yaml.safe_load(Path(value).read_text()) or {}).values():
                    params.update((entry or {}).get("ros__parameters", {}))
    return params


def _reference_frame(pose: Any, camera: Any) -> np.ndarray:
    """3x3 transform reference (golden) image px -> this image's px, from a board pose."""
    th = math.radians(pose.angle_deg)
    c0 = np.array([(camera.width_px - 1) / 2.0, (camera.height_px - 1) / 2.0])
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.array([pose.x_px, pose.y_px]) - rot @ c0
    return m


def reference_crop(image: np.ndarray, pose: Any, camera: Any,
                   roi: tuple[float, float, float, float]) -> np.ndarray:
    """Resample the ROI (reference px) of ``image`` upright, as a fixtured recipe step does.

    Bilinear, border replicated, the board's pose giving the reference -> image transform.
    """
    import cv2

    x, y, w, h = roi
    m = _reference_frame(pose, camera) @ np.array([[1.0, 0, x], [0, 1.0, y], [0, 0, 1.0]])
    return cv2.warpAffine(image, m[:2], (int(round(w)), int(round(h))),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def teach(out_dir: Path, cell_params: dict[str, Any], recipe_template: Path, *,
          n_good: int = N_TEACH, say: Any = print) -> dict[str, Any]:
    """Teach the line into ``out_dir``: ``teach/`` and ``recipe.yaml``.

    ``teach/`` gets the golden image, the CAD mesh and the anomaly model. Returns their paths
    and the timings [s].
    """
    import cv2
    import open3d as o3d

    from dg_sim.inspection.cell import CellConfig, InspectionCell
    from dg_vision.anomaly.patchcore import fit_patchcore

    t0 = time.perf_counter()
    tdir = out_dir / "teach"
    tdir.mkdir(parents=True, exist_ok=True)
    cell = InspectionCell(CellConfig.from_params(cell_params))
    recipe = yaml.safe_load(recipe_template.read_text())
    golden = cell.golden_board()
    cv2.imwrite(str(tdir / "golden.png"), golden.image)
    o3d.io.write_triangle_mesh(str(tdir / "housing_cad.ply"), cell.cad_mesh)
    anomaly = [s for s in recipe["steps"] if s["type"] == "anomaly"]
    out: dict[str, Any] = {"recipe_file": str(out_dir / "recipe.yaml"),
                           "golden_image": str(tdir / "golden.png"),
                           "cad_mesh": str(tdir / "housing_cad.ply")}
    if anomaly:
        # One model for every anomaly step: crops of each step's ROI from every good board.
        full = (0, 0, cell.camera.width_px, cell.camera.height_px)
        rois = [tuple(s.get("roi") or full) for s in anomaly]
        boards = cell.good_boards(n_good)
        crops = [reference_crop(b.image, b.pose, cell.camera, roi)
                 for b in boards for roi in rois]
        t_render = time.perf_counter() - t0
        say(f"teach: {n_good} good boards rendered in {t_render:.1f} s; fitting the anomaly "
            f"model on {len(crops)} crops ...")
        t1 = time.perf_counter()
        model = fit_patchcore(crops, seed=0, coreset_ratio=CORESET_RATIO)
        path = model.save(tdir / Path(anomaly[0].get("model") or "anomaly.dgpc").name)
        for step in anomaly:           # relative to the recipe's folder
            step["model"] = path.relative_to(out_dir).as_posix()
        out.update(anomaly_model_file=str(path), anomaly_threshold=float(model.threshold),
                   teach_render_s=round(t_render, 2),
                   teach_fit_s=round(time.perf_counter() - t1, 2), teach_boards=n_good)
        thr = round(float(model.threshold) * ANOMALY_MARGIN, 6)
        for step in anomaly:
            step.setdefault("threshold", thr)
        out["anomaly_step_threshold"] = thr
        say(f"teach: anomaly model {path.name} (calibrated threshold {model.threshold:.4g}, "
            f"steps use {thr:.4g}) fitted in {out['teach_fit_s']:.1f} s")
    (out_dir / "recipe.yaml").write_text(
        f"# Written by the teach phase from {recipe_template}: the anomaly steps' threshold\n"
        f"# is the model's calibrated threshold x {ANOMALY_MARGIN}.\n"
        + yaml.safe_dump(recipe, sort_keys=False))
    out["teach_s"] = round(time.perf_counter() - t0, 2)
    (out_dir / "teach.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def prepare(run_dir: Path, launch_args: dict[str, str]) -> dict[str, str]:
    """Set up ``dg demo inspection``: teach the line into the run folder.

    The cell's parameters are those demo_inspection.launch.xml gives the cell node with
    ``launch_args``. Returns the launch arguments to add (the user's own ``recipe_file`` or
    ``anomaly_model_file`` win; with ``recipe_file`` nothing is taught).
    """
    if "recipe_file" in launch_args:
        return {}
    params = cell_parameters(_share("launch", "demo_inspection.launch.xml"),
                             {"run_dir": str(run_dir), **launch_args})
    info = teach(run_dir, params, _share("config", "inspection_recipe.yaml"))
    args = {"recipe_file": info["recipe_file"]}
    if "anomaly_model_file" in info and "anomaly_model_file" not in launch_args:
        args["anomaly_model_file"] = info["anomaly_model_file"]
    return args


# --- analysis -------------------------------------------------------------------------------

def _stamp_ns(msg: Any) -> int:
    return stamp_to_ns(msg.header.stamp)


def analyze(run_dir: Path) -> dict[str, Any]:
    """Score the run from ``recording.mcap`` (see the module docstring)."""
    mcap = run_dir / "recording.mcap"
    # One pass over the recording; annotated images stay serialised until an example needs one.
    msgs = read_recording(mcap, [f"{NS}/{t}" for t in ("ground_truth", "result", "progress",
                                                       "detections", "annotated")],
                          lazy=[f"{NS}/annotated"])
    # Part stamp [ns] -> (message, wall time [s] of sending). Latency: from the cell sending
    # the part (ground truth first, just before its sensor data) to the node's verdict.
    truth: dict[int, tuple[dict[str, Any], float]] = {}
    for rec in msgs.get(f"{NS}/ground_truth", []):
        gt = json.loads(rec.msg.data)
        truth.setdefault(int(gt["stamp_ns"]), (gt, rec.publish_time_ns * 1e-9))
    results: dict[int, tuple[Any, float]] = {}
    for rec in msgs.get(f"{NS}/result", []):
        results.setdefault(_stamp_ns(rec.msg), (rec.msg, rec.publish_time_ns * 1e-9))
    rows = []
    for stamp, (gt, t_gt) in sorted(truth.items()):
        res, t_res = results.get(stamp, (None, None))
        rows.append({"stamp_ns": stamp, "gt": gt, "result": res,
                     "latency_s": (t_res - t_gt) if res is not None and t_gt and t_res
                     else None})
    inspected = [r for r in rows if r["result"] is not None]
    tp = sum(1 for r in inspected if r["gt"]["defective"] and not r["result"].ok)
    fn = sum(1 for r in inspected if r["gt"]["defective"] and r["result"].ok)
    fp = sum(1 for r in inspected if not r["gt"]["defective"] and not r["result"].ok)
    tn = sum(1 for r in inspected if not r["gt"]["defective"] and r["result"].ok)
    n_def, n_good = tp + fn, fp + tn
    recall = tp / n_def if n_def else math.nan
    frr = fp / n_good if n_good else math.nan
    per_type: dict[str, list[int]] = {}
    for r in inspected:
        for kind in {d["type"] for d in r["gt"]["defects"]}:
            per_type.setdefault(kind, [0, 0])
            per_type[kind][0] += int(not r["result"].ok)
            per_type[kind][1] += 1
    confusion = {"labels": ["good", "defective"], "rows": "truth", "columns": "verdict",
                 "matrix": [[tn, fp], [fn, tp]],
                 "per_defect_type": {k: {"rejected": v[0], "parts": v[1]}
                                     for k, v in sorted(per_type.items())}}
    (run_dir / "confusion_matrix.json").write_text(json.dumps(confusion, indent=2) + "\n")
    _plot_confusion(run_dir / "confusion_matrix.png", confusion)
    _write_parts(run_dir / "parts.csv", rows)
    spc_metrics = _spc(run_dir, inspected)
    proc = np.array([r["result"].processing_time_s for r in inspected], float)
    lat = np.array([r["latency_s"] for r in inspected], float)
    done = any(rec.msg.state == MissionProgress.STATE_SUCCEEDED
               for rec in msgs.get(f"{NS}/progress", []))
    examples = _examples(run_dir, msgs.get(f"{NS}/annotated", []), rows)
    located, surface = _localisation(msgs.get(f"{NS}/detections", []), rows)
    accuracy = (tp + tn) / len(inspected) if inspected else math.nan
    metrics: dict[str, Any] = {
        "succeeded": bool(done and rows and len(inspected) == len(rows)
                          and (n_def == 0 or recall >= MIN_RECALL)
                          and (n_good == 0 or frr <= MAX_FALSE_REJECT)),
        "parts_total": len(rows),
        "parts_inspected": len(inspected),
        "parts_without_result": len(rows) - len(inspected),
        "parts_defective": n_def,
        "parts_good": n_good,
        "true_rejects": tp, "false_passes": fn, "false_rejects": fp, "true_passes": tn,
        "accuracy": _r(accuracy),
        "recall_defective": _r(recall),
        "false_reject_rate": _r(frr),
        "precision_reject": _r(tp / (tp + fp) if tp + fp else math.nan),
        "processing_time_p50_s": _r(np.median(proc)) if len(proc) else None,
        "processing_time_max_s": _r(proc.max()) if len(proc) else None,
        "latency_p50_s": _r(np.median(lat)) if len(lat) else None,
        "latency_max_s": _r(lat.max()) if len(lat) else None,
        "example_images": examples,
        # Scratches and stains whose true box overlaps an 'anomaly' detection of the node.
        "anomaly_defects_located": located,
        "anomaly_defects_total": surface,
        "recorded_topics": len(topic_counts(mcap)),
        **{f"recall_{k}": _r(v[0] / v[1]) for k, v in sorted(per_type.items())},
        **spc_metrics,
    }
    teach_info = run_dir / "teach.json"
    if teach_info.exists():
        info = json.loads(teach_info.read_text())
        metrics.update({k: info[k] for k in ("teach_s", "teach_fit_s", "teach_render_s",
                                             "teach_boards", "anomaly_threshold",
                                             "anomaly_step_threshold")
                        if k in info})
    return metrics


def _r(v: float) -> float | None:
    return round(float(v), 6) if v is not None and math.isfinite(float(v)) else None


def _write_parts(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stamp_ns", "part_id", "serial", "truth", "defects", "verdict",
                     "result_part_id", "anomaly_score", "failures", "processing_time_s",
                     "latency_s"])
        for r in rows:
            gt, res = r["gt"], r["result"]
            w.writerow([r["stamp_ns"], gt["part_id"], gt.get("serial", ""),
                        "defective" if gt["defective"] else "good",
                        ";".join(d["type"] for d in gt["defects"]),
                        "" if res is None else ("pass" if res.ok else "reject"),
                        "" if res is None else res.part_id,
                        "" if res is None else f"{res.anomaly_score:.5g}",
                        "" if res is None else ";".join(res.failures),
                        "" if res is None else f"{res.processing_time_s:.4f}",
                        "" if r["latency_s"] is None else f"{r['latency_s']:.4f}"])


def _spc(run_dir: Path, inspected: list[dict[str, Any]]) -> dict[str, Any]:
    """SPC table of every measurement; metrology error against the true board."""
    from dg_vision.spc import SpcTable

    table = SpcTable()
    for r in inspected:
        table.add_measurements(r["result"].measurements)
    table.to_csv(run_dir / "spc.csv")
    (run_dir / "spc.md").write_text(table.to_markdown() + "\n")
    # Measured vs true (as-made) dimensions on every inspected board that has the
    # measurement; the truth carries a wrong drill's diameter, so wrong_hole_size counts too.
    errors: dict[str, list[float]] = {"board_width": [], "board_height": [], "hole": []}
    for r in inspected:
        board = r["gt"]["board"]
        meas = {m.name: m.value for m in r["result"].measurements}
        for key in ("board_width", "board_height"):
            v = meas.get(f"{key}.width", math.nan)
            if math.isfinite(v):
                errors[key].append(v - board[f"{key}_mm"])
        for i in range(1, 5):
            v = meas.get(f"hole_{i}.diameter", math.nan)
            if math.isfinite(v):
                errors["hole"].append(v - board["holes"][f"H{i}"]["diameter_mm"])
    out: dict[str, Any] = {}
    for key, e in errors.items():
        if e:
            out[f"{key}_error_rms_mm"] = _r(math.sqrt(float(np.mean(np.square(e)))))
            out[f"{key}_error_max_mm"] = _r(float(np.max(np.abs(e))))
    return out


def _localisation(detections: list[Recorded], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Count true scratches/stains and those an 'anomaly' detection box overlaps."""
    boxes: dict[int, list[tuple[float, float, float, float]]] = {}
    for rec in detections:
        arr = rec.msg
        for d in arr.detections:
            if d.results and d.results[0].hypothesis.class_id == "anomaly":
                c, w, h = d.bbox.center.position, d.bbox.size_x, d.bbox.size_y
                boxes.setdefault(_stamp_ns(arr), []).append(
                    (c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2))
    located = total = 0
    for r in rows:
        for d in r["gt"]["defects"]:
            if d["type"] not in ("scratch", "stain") or "bbox_px" not in d:
                continue
            total += 1
            x, y, w, h = d["bbox_px"]
            if any(bx0 < x + w and x < bx1 and by0 < y + h and y < by1
                   for bx0, by0, bx1, by1 in boxes.get(r["stamp_ns"], [])):
                located += 1
    return located, total


def _plot_confusion(path: Path, confusion: dict[str, Any]) -> None:
    m = np.array(confusion["matrix"])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5),
                                  gridspec_kw={"width_ratios": [1, 1.4]})
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=18,
                color="white" if v > m.max() / 2 else "black")
    ax.set_xticks([0, 1], ["pass", "reject"])
    ax.set_yticks([0, 1], ["good", "defective"])
    ax.set(xlabel="verdict of the inspection node", ylabel="ground truth",
           title="Confusion matrix")
    per = confusion["per_defect_type"]
    if per:
        kinds = list(per)
        rate = [per[k]["rejected"] / per[k]["parts"] for k in kinds]
        ax2.barh(kinds, rate, color="tab:green")
        for i, k in enumerate(kinds):
            ax2.text(min(rate[i], 0.98), i, f" {per[k]['rejected']}/{per[k]['parts']}",
                     va="center", ha="right" if rate[i] > 0.5 else "left")
    ax2.set(xlim=(0, 1), xlabel="share of parts rejected", title="Recall per defect type")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _examples(run_dir: Path, annotated: list[Recorded], rows: list[dict[str, Any]]) -> int:
    """Save a few annotated images per outcome with the true defects boxed in white.

    Only the wanted images are decoded (their stamps are read from the serialised header).
    """
    import cv2

    want: dict[int, str] = {}
    counts: Counter[str] = Counter()
    shown: set[str] = set()
    for r in rows:
        if r["result"] is None:
            continue
        bad, rejected = r["gt"]["defective"], not r["result"].ok
        kind = {(True, True): "true_reject", (True, False): "false_pass",
                (False, True): "false_reject", (False, False): "true_pass"}[(bad, rejected)]
        types = {d["type"] for d in r["gt"]["defects"]}
        if kind == "true_reject":      # one example of every defect type caught
            if types - shown:
                shown |= types
                want[r["stamp_ns"]] = kind
        elif counts[kind] < N_EXAMPLES:
            counts[kind] += 1
            want[r["stamp_ns"]] = kind
    if not want:
        return 0
    out_dir = run_dir / "examples"
    out_dir.mkdir(exist_ok=True)
    by_stamp = {r["stamp_ns"]: r for r in rows}
    saved = 0
    for rec in annotated:
        stamp = rec.stamp_ns
        if stamp not in want:
            continue
        img = rec.msg
        arr = image_from_msg(img)           # BGR (or grey), writable
        gt = by_stamp[stamp]["gt"]
        for d in gt["defects"]:
            if "bbox_px" in d:
                x, y, w, h = d["bbox_px"]
                cv2.rectangle(arr, (x - 3, y - 3), (x + w + 2, y + h + 2), (255, 255, 255), 1)
        label = f"truth: {', '.join(d['type'] for d in gt['defects']) or 'good'}"
        cv2.putText(arr, label, (6, img.height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imwrite(str(out_dir / f"{want.pop(stamp)}_{gt['part_id']}.png"), arr)
        saved += 1
    return saved


def main(argv: list[str] | None = None) -> int:
    """Teach a line from the command line.

    ``python -m dg_bringup.scenarios.inspection teach OUT_DIR [name:=value ...]`` writes the
    golden image, CAD mesh, anomaly model and recipe into OUT_DIR, for
    ``launch/inspection.launch.xml recipe_file:=OUT_DIR/recipe.yaml [name:=value ...]``
    (the cell's parameters are resolved from that launch file with the same arguments).
    """
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] != "teach":
        print(main.__doc__)
        return 2
    overrides = dict(a.split(":=", 1) for a in argv[2:] if ":=" in a)
    out = Path(argv[1]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    params = cell_parameters(_share("launch", "inspection.launch.xml"),
                             {**overrides, "sim": "embedded",
                              "recipe_file": str(out / "recipe.yaml")})
    info = teach(out, params, _share("config", "inspection_recipe.yaml"))
    print(json.dumps({"recipe_file": info["recipe_file"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
