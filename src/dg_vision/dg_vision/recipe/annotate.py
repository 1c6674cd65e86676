"""The annotated overlay of a run and its full-frame anomaly map."""

from __future__ import annotations

import math

import cv2
import numpy as np

from dg_vision.image import to_bgr
from dg_vision.overlay import blend_heatmap
from dg_vision.recipe.context import _GREEN, _RED, _Context, _font_scale, _thick
from dg_vision.recipe.geometry import _corners
from dg_vision.recipe.results import Measured, _fmt


def _overlay(recipe_name: str, ctx: _Context, ok: bool, measurements: list[Measured]
             ) -> np.ndarray:
    """The annotated BGR image: anomaly heat maps, what the steps drew, the verdict banner."""
    base = to_bgr(ctx.image).copy()
    h_img, w_img = base.shape[:2]
    for amap, m, thr in ctx.anomaly_maps:     # each in the image box of its ROI only
        box = _image_box(m, amap.shape, (w_img, h_img))
        if box is None:
            continue
        x, y, bw, bh = box
        shift = np.array([[1.0, 0, -x], [0, 1.0, -y], [0, 0, 1.0]]) @ m
        heat = cv2.warpAffine(amap, shift[:2], (bw, bh), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        blend_heatmap(base, heat, thr, box)
    for d in ctx.draw:
        d(base)
    h, w = base.shape[:2]
    s = _font_scale(base)
    band = int(22 * s)
    color = _GREEN if ok else _RED
    cv2.rectangle(base, (0, 0), (w - 1, band), color, -1)
    n_fail = sum(not m.ok for m in measurements)
    text = f"{recipe_name}: " + ("PASS" if ok else f"FAIL ({n_fail})")
    if math.isfinite(ctx.anomaly_score):
        text += f"  anomaly {ctx.anomaly_score:.3g}"
    cv2.putText(base, text, (4, int(band * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * s,
                (255, 255, 255), _thick(base), cv2.LINE_AA)
    lines = [f"{m.name}: {_fmt(m.value)} {m.unit}" for m in measurements if not m.ok]
    step_px = int(14 * s)
    lines = lines[:max(0, (h - band - 8) // step_px)]
    if lines:
        # the failed measurements on a darkened panel under the banner
        width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s,
                                    _thick(base))[0][0] for t in lines) + 8
        y1 = min(h, band + 6 + step_px * len(lines))
        panel = base[band + 1:y1, :min(w, width)]
        panel[:] = (panel * 0.35).astype(np.uint8)
        y = band + int(14 * s)
        for t in lines:
            cv2.putText(base, t, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * s, (90, 90, 255),
                        _thick(base), cv2.LINE_AA)
            y += step_px
    return base


def _image_box(m: np.ndarray, shape: tuple[int, ...], size: tuple[int, int]
               ) -> tuple[int, int, int, int] | None:
    """The integer box (x, y, w, h) covering a crop of ``shape`` mapped by ``m``.

    Clipped to an image of ``size`` (w, h); None when it lies outside.
    """
    c = _corners(0, 0, shape[1], shape[0], m)
    x0, y0 = max(int(np.floor(c[:, 0].min())), 0), max(int(np.floor(c[:, 1].min())), 0)
    x1 = min(int(np.ceil(c[:, 0].max())) + 1, size[0])
    y1 = min(int(np.ceil(c[:, 1].max())) + 1, size[1])
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1 - x0, y1 - y0)


def _full_anomaly_map(ctx: _Context) -> np.ndarray | None:
    """The anomaly maps of the run in image pixels (max where ROIs overlap), or None."""
    if not ctx.anomaly_maps or ctx.gray is None:
        return None
    h, w = ctx.gray.shape
    full = np.zeros((h, w), np.float32)
    for amap, m, _ in ctx.anomaly_maps:
        warped = cv2.warpAffine(amap, m[:2], (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        np.maximum(full, warped, out=full)
    return full
