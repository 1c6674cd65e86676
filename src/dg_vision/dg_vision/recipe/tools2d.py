"""The 2D tools of a recipe: calipers, circles, blobs, shape match, codes, anomaly.

Each tool is a ``_run_*`` function (context, step) -> measured quantities [px], optionally
with a ``_prepare_*`` run once at load and ``_*_defaults`` tolerances; the registry in
:mod:`dg_vision.recipe.tools` declares their fields and quantities.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.image import load_image
from dg_vision.recipe.context import _CYAN, _MAGENTA, _RED, _YELLOW, _CannotMeasure, _Context
from dg_vision.recipe.fields import _FieldError, _resolve, _str_list
from dg_vision.recipe.geometry import _angle_of, _corners, fixture_transform
from dg_vision.recipe.results import Detection
from dg_vision.recipe.schema import Step
from dg_vision.recipe.tolerance import Tolerance


def _caliper_line(ctx: _Context, step: Step) -> tuple[np.ndarray, np.ndarray]:
    p0, p1 = step.params["line"]
    a, b = ctx.to_image([p0, p1])
    return a, b


def _caliper_kwargs(step: Step, ctx: _Context) -> dict[str, Any]:
    p = step.params
    return {"width": p["thickness"] * ctx.frame_scale(), "sigma": p["sigma"],
            "threshold": p["threshold"], "polarity": p["polarity"]}


def _run_caliper_width(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import caliper

    gray = ctx.need_gray()
    a, b = _caliper_line(ctx, step)
    ctx.draw_poly(np.array([a, b]), _YELLOW, closed=False)
    kw = _caliper_kwargs(step, ctx)
    select = step.params["select"]
    if select == "outer":
        edges = caliper.measure_edges(gray, tuple(a), tuple(b), **kw)
        if len(edges) < 2:
            raise _CannotMeasure(f"found {len(edges)} edge(s) along the line, need 2")
        first, second = min(edges, key=lambda e: e.s), max(edges, key=lambda e: e.s)
        width, count = second.s - first.s, 1
    else:
        pairs = caliper.measure_pairs(gray, tuple(a), tuple(b), **kw)
        if not pairs:
            raise _CannotMeasure("found no edge pair along the line")
        pick = {"first": lambda ps: min(ps, key=lambda q: q.first.s),
                "last": lambda ps: max(ps, key=lambda q: q.second.s),
                "widest": lambda ps: max(ps, key=lambda q: q.width),
                "narrowest": lambda ps: min(ps, key=lambda q: q.width)}[select]
        pair = pick(pairs)
        first, second, width, count = pair.first, pair.second, pair.width, len(pairs)
    for e in (first, second):
        ctx.draw_cross((e.x, e.y), _CYAN)
    scale = ctx.frame_scale()
    mid = ((first.x + second.x) / 2, (first.y + second.y) / 2)
    ang = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))
    ctx.detections.append(Detection(step.name, 1.0, mid[0], mid[1], float(width),
                                    step.params["thickness"] * scale, ang, step.name))
    return {"width": float(width), "count": float(count),
            "center": float((first.s + second.s) / 2 / scale)}


def _run_edge_position(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import caliper

    gray = ctx.need_gray()
    a, b = _caliper_line(ctx, step)
    ctx.draw_poly(np.array([a, b]), _YELLOW, closed=False)
    edges = caliper.measure_edges(gray, tuple(a), tuple(b), **_caliper_kwargs(step, ctx))
    if not edges:
        raise _CannotMeasure("found no edge along the line")
    select = step.params["select"]
    if select == "first":
        e = min(edges, key=lambda q: q.s)
    elif select == "last":
        e = max(edges, key=lambda q: q.s)
    else:
        e = max(edges, key=lambda q: abs(q.amplitude))
    ctx.draw_cross((e.x, e.y), _CYAN, 6.0)
    ref = ctx.to_reference([e.x, e.y])[0]
    ctx.detections.append(Detection(step.name, 1.0, float(e.x), float(e.y), 4.0, 4.0, 0.0,
                                    step.name))
    return {"position": float(e.s / ctx.frame_scale()), "x": float(ref[0]),
            "y": float(ref[1]), "count": float(len(edges))}


def _run_circle(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import fitting

    gray = ctx.need_gray()
    p = step.params
    c = ctx.to_image(p["center"])[0]
    s = ctx.frame_scale()
    r = p["radius"] * s
    search = None if p["search"] is None else p["search"] * s   # None: find_circle's default
    for rr in ((r, ) if search is None else (r + search, max(r - search, 1.0))):
        ctx.draw_poly(_circle_pts(c, rr), _YELLOW)
    kw: dict[str, Any] = {"search": search, "polarity": p["polarity"]}
    if p["threshold"] is not None:         # find_circle's default is a number, not None
        kw["threshold"] = p["threshold"]
    fit = fitting.find_circle(gray, (float(c[0]), float(c[1])), float(r), **kw)
    if not all(math.isfinite(v) for v in (fit.cx, fit.cy, fit.r)):
        raise _CannotMeasure("no circle found")
    ctx.draw_poly(_circle_pts((fit.cx, fit.cy), fit.r), _CYAN)
    ref = ctx.to_reference([fit.cx, fit.cy])[0]
    ctx.detections.append(Detection(step.name, 1.0, float(fit.cx), float(fit.cy),
                                    2 * float(fit.r), 2 * float(fit.r), 0.0, step.name))
    return {"diameter": 2.0 * float(fit.r), "x": float(ref[0]), "y": float(ref[1]),
            "roundness": float(fit.rms)}


def _circle_pts(c: Any, r: float, n: int = 72) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], axis=1)


def _run_blob_count(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import blobs

    p = step.params
    crop, m = ctx.crop(p.get("roi"))
    h, w = crop.shape
    ctx.draw_roi(m, w, h)
    found = blobs.find_blobs(crop, threshold=p["threshold"], polarity=p["polarity"],
                             min_area=p["min_area"], max_area=p["max_area"],
                             exclude_border=p["exclude_border"])
    ang = _angle_of(m)
    for b in found:
        bx, by, bw, bh = b.bbox
        centre = (np.array([bx + bw / 2, by + bh / 2, 1.0]) @ m.T)[:2]
        ctx.draw_poly(_corners(bx, by, bw, bh, m), _CYAN)
        ctx.detections.append(Detection(step.name, 1.0, float(centre[0]), float(centre[1]),
                                        float(bw), float(bh), ang, step.name))
    areas = [float(b.area) for b in found]
    return {"count": float(len(found)), "total_area": float(sum(areas)),
            "max_area": float(max(areas)) if areas else 0.0}


def _prepare_shape_match(step: Step, base: Path, cache: dict[Any, Any]) -> None:
    from dg_vision.metrology.matching import ShapeModel

    p = step.params
    path = _resolve(base, p["model_image"])
    try:
        img = load_image(path)
    except VisionInputError as exc:
        raise _FieldError(str(exc), "model_image") from None
    h, w = img.shape[:2]
    roi = p.get("model_roi")
    if roi is not None and (roi[0] + roi[2] > w or roi[1] + roi[3] > h):
        raise _FieldError(f"model_roi {list(roi)} exceeds the {w}x{h} model image",
                          "model_roi")
    iroi = None if roi is None else tuple(int(round(v)) for v in roi)
    try:
        model = ShapeModel.teach(img, roi=iroi, angle_range=p["angle_range"],
                                 scale_range=p["scale_range"])
    except VisionInputError as exc:
        raise _FieldError(f"cannot teach a shape model from {path}: {exc}",
                          "model_image") from None
    step.state["model"] = model


def _run_shape_match(ctx: _Context, step: Step) -> dict[str, float]:
    gray = ctx.need_gray()
    p = step.params
    search_roi = None
    if p["search_roi"] is not None:
        search_roi = tuple(int(round(v)) for v in p["search_roi"])
        ctx.draw_poly(_corners(*p["search_roi"], np.eye(3)), _YELLOW)
    model = step.state["model"]
    matches = model.find(gray, min_score=p["min_score"], max_matches=1, search_roi=search_roi)
    ctx.fixtures[step.name] = None
    if not matches:
        raise _CannotMeasure(f"no match with score >= {p['min_score']}")
    best = max(matches, key=lambda q: q.score)
    # the matcher reports where the model ROI's centre (model.ref) lands
    frame = fixture_transform(model.ref, best.x, best.y, best.angle_deg, best.scale)
    ctx.fixtures[step.name] = frame
    rw, rh = model.size
    rx, ry = model.ref
    box = _corners(rx - rw / 2, ry - rh / 2, rw, rh, frame)
    ctx.draw_poly(box, _MAGENTA)
    axis = np.array([[best.x, best.y], (frame @ np.array([rx + rw / 4, ry, 1.0]))[:2]])
    ctx.draw_poly(axis, _MAGENTA, closed=False)
    ctx.draw_text(f"{step.name} {best.score:.2f} {best.angle_deg:.1f} deg",
                  (float(box[:, 0].min()), float(box[:, 1].max()) + 16), _MAGENTA)
    ctx.detections.append(Detection(step.name, float(best.score), float(best.x),
                                    float(best.y), rw * best.scale, rh * best.scale,
                                    float(best.angle_deg), step.name))
    return {"score": float(best.score), "x": float(best.x), "y": float(best.y),
            "angle": float(best.angle_deg), "scale": float(best.scale)}


def _shape_match_defaults(step: Step) -> dict[str, Tolerance]:
    return {"score": Tolerance(lower=step.params["min_score"])}


def _run_code_read(ctx: _Context, step: Step) -> dict[str, float]:
    from dg_vision.metrology import codes

    p = step.params
    crop, m = ctx.crop(p.get("roi"))
    h, w = crop.shape
    if p.get("roi") is not None:
        ctx.draw_roi(m, w, h)
    found = codes.read_codes(crop, formats=p["formats"])
    out = {"count": float(len(found))}
    texts = []
    for c in found:
        corners = np.asarray(c.corners, dtype=np.float64).reshape(-1, 2)
        img_c = np.c_[corners, np.ones(len(corners))] @ m.T
        ctx.draw_poly(img_c[:, :2], _CYAN)
        ctx.draw_text(str(c.text), (float(img_c[:, 0].min()), float(img_c[:, 1].max()) + 16),
                      _CYAN)
        cx, cy = img_c[:, 0].mean(), img_c[:, 1].mean()
        bw, bh = float(np.ptp(corners[:, 0])), float(np.ptp(corners[:, 1]))
        fmt = str(c.format)
        ctx.detections.append(Detection(f"code:{fmt}", 1.0, float(cx), float(cy), bw, bh,
                                        _angle_of(m), str(c.text)))
        ctx.codes.append((step.name, fmt, str(c.text)))
        texts.append(str(c.text))
    if p.get("part_id") and texts and not ctx.part_id:
        ctx.part_id = texts[0]
    if p.get("expected") is not None or p.get("pattern") is not None:
        def good(t: str) -> bool:
            if p.get("expected") is not None and t != p["expected"]:
                return False
            return p.get("pattern") is None or p["pattern"].fullmatch(t) is not None
        out["match"] = float(any(good(t) for t in texts))
    return out


def _code_formats(v: Any) -> tuple[Any, ...]:
    """zxing-cpp formats of a name or list of names, checked at load."""
    from dg_vision.metrology import codes

    try:
        return codes.parse_formats(_str_list(v))
    except VisionInputError as exc:
        raise _FieldError(str(exc)) from None


def _code_defaults(step: Step) -> dict[str, Tolerance]:
    tol = {"count": Tolerance(lower=1.0)}
    if step.params.get("expected") is not None or step.params.get("pattern") is not None:
        tol["match"] = Tolerance(nominal=1.0, lower=1.0, upper=1.0)
    return tol


def _prepare_anomaly(step: Step, base: Path, cache: dict[Any, Any]) -> None:
    from dg_vision.anomaly.patchcore import PatchCoreModel

    path = _resolve(base, step.params["model"])
    if not path.is_file():
        raise _FieldError(f"anomaly model file {path} does not exist", "model")
    key = ("anomaly", path.resolve())
    if key not in cache:           # several ROIs of one recipe often share one model
        try:
            cache[key] = PatchCoreModel.load(path)
        except VisionInputError as exc:
            raise _FieldError(f"cannot use anomaly model {path}: {exc}", "model") from None
    step.state["model"] = cache[key]


def _anomaly_threshold(step: Step) -> float:
    """The step's threshold, else its model's calibrated one."""
    if step.params["threshold"] is not None:
        return float(step.params["threshold"])
    return float(step.state["model"].threshold)


def _run_anomaly(ctx: _Context, step: Step) -> dict[str, float]:
    p = step.params
    crop, m = ctx.crop(p.get("roi"), color=True)
    h, w = crop.shape[:2]
    if p.get("roi") is not None:
        ctx.draw_roi(m, w, h)
    res = step.state["model"].score(crop)
    score = float(res.score)
    thr = _anomaly_threshold(step)
    amap = np.asarray(res.anomaly_map, dtype=np.float32)
    if amap.shape != (h, w):
        amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
    gray = ctx.need_gray()
    ctx.anomaly_maps.append((amap, m, thr))     # warped into the image only for the overlay
    if not math.isfinite(ctx.anomaly_score) or score > ctx.anomaly_score:
        ctx.anomaly_score = score
    pix_thr = p["pixel_threshold"] if p["pixel_threshold"] is not None else thr
    if score > thr and math.isfinite(pix_thr):
        mask = (amap > pix_thr).astype(np.uint8)
        n, _, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area < p["min_defect_area"]:
                continue
            c = (np.array([cents[i][0], cents[i][1], 1.0]) @ m.T)[:2]
            if not (0 <= c[0] < gray.shape[1] and 0 <= c[1] < gray.shape[0]):
                continue                     # resampled from outside the image
            peak = float(amap[y:y + bh, x:x + bw].max())
            ctx.detections.append(Detection("anomaly", peak, float(c[0]), float(c[1]),
                                            float(bw), float(bh), _angle_of(m), step.name))
            ctx.draw_poly(_corners(x, y, bw, bh, m), _RED)
    return {"score": score}


def _anomaly_defaults(step: Step) -> dict[str, Tolerance]:
    thr = _anomaly_threshold(step)
    return {"score": Tolerance(upper=thr)} if math.isfinite(thr) else {}
