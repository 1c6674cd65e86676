"""``dg vision``: fit a PatchCore anomaly model on good images and score folders of images.

    dg vision fit --good DIR --out MODEL [--image-size 256] [--coreset 0.1] [--seed 0]
                  [--holdout 0.2]
    dg vision score MODEL DIR --json OUT [--heatmaps DIR] [--threshold T]

``fit`` reads every image directly in DIR (any size, grey or colour), keeps a seeded share
(``--holdout``) out of the memory bank to calibrate the threshold and writes one model file.
``score`` writes per-image score, decision and threshold to the JSON file and, with
``--heatmaps``, one PNG per image: the anomaly map over the image (colour scale fixed per
model: blue at half the threshold, red at 1.5 times it; white contour where the map exceeds
the threshold).

Exit codes: 0 done; 1 ``score`` finished but some images could not be read (each is an
``error`` entry in the JSON, the rest are scored); 2 bad input (missing or foreign model,
no images, bad arguments) with a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.image import image_files, load_image, to_bgr


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dg vision", description="Anomaly detection learnt from good parts only "
        "(PatchCore on EfficientNet-Lite0, ONNX Runtime).")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fit,score}")
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


def heatmap_overlay(image: np.ndarray, anomaly_map: np.ndarray, threshold: float,
                    score: float) -> np.ndarray:
    """BGR overlay of an anomaly map on its image.

    JET colours from 0.5 to 1.5 times the threshold, the map's above-threshold region
    outlined in white, score and decision written in the corner.
    """
    bgr = to_bgr(image)
    lo, hi = 0.5 * threshold, 1.5 * threshold
    v = np.clip((anomaly_map - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    colour = cv2.applyColorMap(np.rint(v * 255).astype(np.uint8), cv2.COLORMAP_JET)
    out = cv2.addWeighted(bgr, 0.55, colour, 0.45, 0.0)
    above = (anomaly_map > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thick = max(1, round(min(bgr.shape[:2]) / 200))
    cv2.drawContours(out, contours, -1, (255, 255, 255), thick)
    bad = score > threshold
    text = f"{'ANOMALY' if bad else 'OK'} {score:.3g} (thr {threshold:.3g})"
    scale = max(0.4, min(bgr.shape[:2]) / 500)
    org = (5, int(20 * scale) + 5)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3 * thick,
                cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 255) if bad else (0, 255, 0), thick, cv2.LINE_AA)
    return out


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


def main(argv: list[str]) -> int:
    """Entry point of ``dg vision``; returns the exit code (see module docstring)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        return _fit(args) if args.command == "fit" else _score(args)
    except VisionInputError as exc:
        print(f"dg vision {args.command}: {exc}", file=sys.stderr)
        return 2
