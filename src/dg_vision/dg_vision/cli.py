"""``dg vision``: anomaly models (fit, score) and inspection recipes (run) on image files.

    dg vision fit --good DIR --out MODEL [--image-size 256] [--coreset 0.1] [--seed 0]
                  [--holdout 0.2]
    dg vision score MODEL DIR --json OUT [--heatmaps DIR] [--threshold T]
    dg vision run RECIPE IMAGE|DIR... --json OUT [--overlays DIR] [--spc CSV]
                  [--anomaly-model MODEL]

``fit`` reads every image directly in DIR (any size, grey or colour), keeps a seeded share
(``--holdout``) out of the memory bank to calibrate the threshold and writes one model file.
``score`` writes per-image score, decision and threshold to the JSON file and, with
``--heatmaps``, one PNG per image: the anomaly map over the image (colour scale fixed per
model: blue at half the threshold, red at 1.5 times it; white contour where the map exceeds
the threshold).
``run`` inspects every image (files, or folders of images) with a recipe
(:mod:`dg_vision.recipe`): one PASS/FAIL line per part, the SPC table (Markdown) at the end;
``--json`` every measurement of every part, ``--overlays`` the annotated images, ``--spc``
the SPC table as CSV.

Exit codes: 0 done (``run``: every part passed); 1 ``score``/``run`` finished but some
images could not be read (each is an ``error`` entry in the JSON, the rest are processed),
or (``run``) a part failed; 2 bad input (missing or foreign model, bad recipe, no readable
images, bad arguments, an output that cannot be written) with a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.image import image_files, load_image
from dg_vision.overlay import heatmap_overlay

__all__ = ["heatmap_overlay", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dg vision", description="Anomaly detection learnt from good parts only "
        "(PatchCore on EfficientNet-Lite0, ONNX Runtime).")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fit,score,run}")
    f = sub.add_parser("fit", help="fit a model on a folder of good images")
    f.add_argument("--good", type=Path, required=True, help="folder of good images")
    f.add_argument("--out", type=Path, required=True, help="model file to write")
    f.add_argument("--image-size", type=int, default=256,
                   help="side the images are resized to (multiple of 32; default 256)")
    f.add_argument("--coreset", type=float, default=0.1,
                   help="share of patch features kept in the memory bank (default 0.1)")
    f.add_argument("--seed", type=int, default=0, help="seed of hold-out split and coreset")
    f.add_argument("--holdout", type=float, default=0.2,
                   help="share of good images kept out to calibrate the threshold (0.2)")
    f.add_argument("--quiet", action="store_true", help="no progress lines")
    s = sub.add_parser("score", help="score a folder of images with a fitted model")
    s.add_argument("model", type=Path, help="model file from `dg vision fit`")
    s.add_argument("images", type=Path, help="folder of images to score")
    s.add_argument("--json", type=Path, required=True, help="result file to write")
    s.add_argument("--heatmaps", type=Path, default=None,
                   help="folder for heat-map overlay PNGs (one per image)")
    s.add_argument("--threshold", type=float, default=None,
                   help="decision threshold instead of the model's calibrated one")
    r = sub.add_parser("run", help="run an inspection recipe on image files")
    r.add_argument("recipe", type=Path, help="recipe YAML")
    r.add_argument("images", type=Path, nargs="+", help="image files or folders of images")
    r.add_argument("--json", type=Path, required=True, help="result file to write")
    r.add_argument("--overlays", type=Path, default=None,
                   help="folder for the annotated images (one PNG per image)")
    r.add_argument("--spc", type=Path, default=None, help="write the SPC table (CSV) here")
    r.add_argument("--anomaly-model", type=Path, default=None,
                   help="replace the model of the recipe's anomaly steps")
    return p


def _fit(args: argparse.Namespace) -> int:
    from dg_vision.anomaly.patchcore import check_image_size, fit_patchcore, resize_square

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    t0 = time.perf_counter()
    check_image_size(args.image_size)
    files = image_files(args.good)
    images, names = [], []
    for k, path in enumerate(files):
        try:
            img = load_image(path)
        except VisionInputError as exc:
            print(f"skipped {path.name}: {exc}", file=sys.stderr, flush=True)
            continue
        # the model sees images at image_size squared: resize now to bound memory
        images.append(resize_square(img, args.image_size))
        names.append(path.name)
        say(f"read {k + 1}/{len(files)}: {path.name} ({img.shape[1]}x{img.shape[0]})")
    model = fit_patchcore(images, image_size=args.image_size, coreset_ratio=args.coreset,
                          seed=args.seed, holdout=args.holdout, progress=say, names=names)
    out = model.save(args.out)
    cal = model.calibration
    print(f"model {out}: {cal['n_train']} images in the memory bank "
          f"({model.memory_bank.shape[0]} of {cal['patches_total']} patch features), "
          f"threshold {model.threshold:.4g} from {cal['n_holdout']} held-out good images, "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return 0


def _score(args: argparse.Namespace) -> int:
    from dg_vision.anomaly.patchcore import PatchCoreModel

    model = PatchCoreModel.load(args.model)
    if args.threshold is not None:
        if not np.isfinite(args.threshold) or args.threshold <= 0:
            raise VisionInputError(f"--threshold must be a positive number, got "
                                   f"{args.threshold}")
        model.threshold = float(args.threshold)
    files = image_files(args.images)
    if args.heatmaps is not None:
        args.heatmaps.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    used: set[str] = set()
    t0 = time.perf_counter()
    for path in files:
        entry: dict = {"file": path.name, "path": str(path)}
        try:
            img = load_image(path)
            t = time.perf_counter()
            r = model.score(img)
            entry.update(score=r.score, is_anomalous=r.is_anomalous, threshold=r.threshold,
                         width=int(img.shape[1]), height=int(img.shape[0]),
                         seconds=time.perf_counter() - t)
            if args.heatmaps is not None:
                stem = path.stem if path.stem not in used else path.name.replace(".", "_")
                used.add(stem)
                out = args.heatmaps / f"{stem}_heatmap.png"
                if not cv2.imwrite(str(out), heatmap_overlay(img, r.anomaly_map, r.threshold,
                                                             r.score)):
                    raise VisionInputError(f"{out}: cannot write the heat map")
                entry["heatmap"] = str(out)
            print(f"{path.name}: {'ANOMALY' if r.is_anomalous else 'ok'} score "
                  f"{r.score:.4g} (threshold {r.threshold:.4g})", flush=True)
        except VisionInputError as exc:
            entry["error"] = str(exc)
            print(f"{path.name}: ERROR {exc}", file=sys.stderr, flush=True)
        entries.append(entry)
    errors = sum("error" in e for e in entries)
    anomalous = sum(bool(e.get("is_anomalous")) for e in entries)
    result = {"model": str(args.model), "threshold": float(model.threshold),
              "image_size": int(model.image_size), "backbone": model.backbone,
              "n_images": len(entries), "n_anomalous": anomalous, "n_errors": errors,
              "seconds": time.perf_counter() - t0, "images": entries}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(entries) - errors} scored, {anomalous} anomalous, {errors} errors -> "
          f"{args.json}", flush=True)
    if errors == len(entries):
        print("dg vision score: no image could be read", file=sys.stderr)
        return 2
    return 1 if errors else 0


def _json_num(v: float) -> float | str:
    """A float for JSON: "nan", "inf", "-inf" as strings (JSON has no such numbers)."""
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _run(args: argparse.Namespace) -> int:
    from dg_vision.recipe import load_recipe
    from dg_vision.spc import SpcTable

    recipe = load_recipe(args.recipe, anomaly_model=args.anomaly_model)
    files: list[Path] = []
    for item in args.images:
        if item.is_dir():
            files += image_files(item)
        elif item.is_file():
            files.append(item)
        else:
            raise VisionInputError(f"{item}: no such image file or folder")
    if args.overlays is not None:
        args.overlays.mkdir(parents=True, exist_ok=True)
    spc = SpcTable()
    entries: list[dict[str, Any]] = []
    used: set[str] = set()
    for path in files:
        entry: dict[str, Any] = {"image": str(path)}
        try:
            out = recipe.run(load_image(path), overlay=args.overlays is not None)
        except VisionInputError as exc:
            entry["error"] = str(exc)
            print(f"{path.name}: ERROR {exc}", file=sys.stderr, flush=True)
            entries.append(entry)
            continue
        spc.add_measurements(out.measurements)
        print(f"{path.name}: {'PASS' if out.ok else 'FAIL ' + ', '.join(out.failures)}"
              f"{'  part ' + out.part_id if out.part_id else ''}"
              f"  ({out.processing_time_s * 1e3:.0f} ms)", flush=True)
        entry.update(ok=out.ok, part_id=out.part_id,
                     anomaly_score=None if math.isnan(out.anomaly_score)
                     else out.anomaly_score,
                     measurements=[{"name": m.name, "unit": m.unit, "value": _json_num(m.value),
                                    "lower": _json_num(m.lower), "upper": _json_num(m.upper),
                                    "ok": m.ok, "message": m.message}
                                   for m in out.measurements])
        if args.overlays is not None and out.overlay is not None:
            stem = path.stem if path.stem not in used else path.name.replace(".", "_")
            used.add(stem)
            target = args.overlays / f"{stem}_overlay.png"
            if not cv2.imwrite(str(target), out.overlay):
                raise OSError(f"{target}: cannot write the overlay")
            entry["overlay"] = str(target)
        entries.append(entry)
    errors = sum("error" in e for e in entries)
    failed = sum(e.get("ok") is False for e in entries)
    print(spc.to_markdown())
    if args.spc is not None:
        spc.to_csv(args.spc)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"recipe": recipe.name, "n_images": len(entries),
                                     "n_failed": failed, "n_errors": errors,
                                     "parts": entries}, indent=1) + "\n", encoding="utf-8")
    if errors == len(entries):
        print("dg vision run: no image could be read", file=sys.stderr)
        return 2
    return 1 if errors or failed else 0


def main(argv: list[str]) -> int:
    """Entry point of ``dg vision``; returns the exit code (see module docstring)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    command = {"fit": _fit, "score": _score, "run": _run}[args.command]
    try:
        return command(args)
    except (VisionInputError, OSError) as exc:  # bad input, or an output we cannot write
        print(f"dg vision {args.command}: {exc}", file=sys.stderr)
        return 2
