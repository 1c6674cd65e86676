"""Anomaly heat maps drawn over their image: one colour scale for the CLI and recipes.

The colour scale is fixed per threshold, so that images scored by one model compare: JET
from blue at half the threshold to red at 1.5 times it. The opacity grows with the colour
(0 at half the threshold, :data:`MAX_ALPHA` from 1.5 times it on): good surface (PatchCore
distances are never 0) stays visible, suspicious areas are tinted. The region above the
threshold is outlined in white.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from dg_vision.image import to_bgr

#: Opacity of the heat map at and above 1.5 times the threshold.
MAX_ALPHA = 0.6


def blend_heatmap(bgr: np.ndarray, anomaly_map: np.ndarray, threshold: float,
                  box: tuple[int, int, int, int] | None = None) -> None:
    """Tint ``bgr`` (uint8, H x W x 3, changed in place) with an anomaly map.

    ``anomaly_map`` covers ``box`` = (x, y, w, h) [px] of ``bgr`` (the whole image when
    None); only that box is blended, in float32. A threshold that is not a positive
    number scales to the map's maximum instead.
    """
    h_img, w_img = bgr.shape[:2]
    x, y, w, h = box if box is not None else (0, 0, w_img, h_img)
    amap = np.nan_to_num(np.asarray(anomaly_map, dtype=np.float32))
    if amap.shape != (h, w):
        raise ValueError(f"anomaly map {amap.shape} does not cover the box {w}x{h}")
    # clip the box to the image
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, w_img), min(y + h, h_img)
    if x1 <= x0 or y1 <= y0:
        return
    amap = amap[y0 - y:y1 - y, x0 - x:x1 - x]
    thr = float(threshold)
    if not (math.isfinite(thr) and thr > 0):
        thr = max(float(amap.max()), 1e-9) / 1.5
    v = np.clip((amap - 0.5 * thr) / thr, 0.0, 1.0)
    colour = cv2.applyColorMap(np.rint(v * 255.0).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (MAX_ALPHA * v)[:, :, None]
    region = bgr[y0:y1, x0:x1]
    blended = region.astype(np.float32) * (1.0 - alpha) + colour.astype(np.float32) * alpha
    region[:] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    above = (amap > thr).astype(np.uint8)
    contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thick = max(1, round(min(h_img, w_img) / 200))
    cv2.drawContours(bgr, contours, -1, (255, 255, 255), thick, offset=(x0, y0))


def heatmap_overlay(image: np.ndarray, anomaly_map: np.ndarray, threshold: float,
                    score: float) -> np.ndarray:
    """BGR overlay of a whole-image anomaly map with score and decision in the corner."""
    out = to_bgr(image).copy()
    blend_heatmap(out, anomaly_map, threshold)
    thick = max(1, round(min(out.shape[:2]) / 200))
    bad = score > threshold
    text = f"{'ANOMALY' if bad else 'OK'} {score:.3g} (thr {threshold:.3g})"
    scale = max(0.4, min(out.shape[:2]) / 500)
    org = (5, int(20 * scale) + 5)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3 * thick,
                cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 255) if bad else (0, 255, 0), thick, cv2.LINE_AA)
    return out
