"""A synthetic test board with known geometry, rendered at any pose (helper of the recipe
and inspection-node tests, and the generator of ``config/example_board_golden.png``).

Reference frame (the golden image, 400 x 300 px, pixel centres at integer coordinates):

* plate (grey 190 on a 30 background): x 70..330, y 50..250, top-right corner chamfered
  (so the pose is unique under rotation);
* hole (dark, 40): centre (130, 110), radius ``hole_r`` = 18 px;
* bar (dark): x 220..220 + ``bar_w`` (16 px), y 80..200;
  a horizontal caliper at y = 180 over x 205..251 measures its width;
* the plate's left edge at x = 70 (caliper from (50, 150) to (100, 150): edge at s = 20);
* dots (dark, r = 5): centres (110 + 25 i, 215), ``dots`` of them (3);
* a DataMatrix with ``code`` ("SN-0042"), 3 px modules, top-left at (266, 150).

The scene is drawn 8x supersampled (pixel-centre coverage) and area-averaged, moved by the part pose
(``angle_deg`` counter-clockwise on screen about the model centre (200, 150), then
``dx``, ``dy``), with Gaussian noise of ``noise`` grey levels (seeded).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import zxingcpp

W, H = 400, 300
CENTER = (200.0, 150.0)
PLATE = [(70, 50), (300, 50), (330, 80), (330, 250), (70, 250)]
HOLE_C, HOLE_R = (130.0, 110.0), 18.0
BAR_X, BAR_Y0, BAR_Y1, BAR_W = 220.0, 80.0, 200.0, 16.0
DOT_R = 5.0
CODE_XY, CODE_MODULE = (266.0, 150.0), 3.0
SS = 8


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def pose_matrix(dx=0.0, dy=0.0, angle_deg=0.0):
    """Reference -> image transform (3x3) of a part pose."""
    a = math.radians(angle_deg)
    r = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = np.array(CENTER) + np.array([dx, dy]) - r @ np.array(CENTER)
    return m


def render_board(dx=0.0, dy=0.0, angle_deg=0.0, *, hole_r=HOLE_R, bar_w=BAR_W, dots=3,
                 code="SN-0042", noise=2.0, seed=0, present=True, scratch=False):
    """The board image (uint8 grey, H x W) at the given pose; see the module docstring."""
    m = pose_matrix(dx, dy, angle_deg)
    canvas = np.full((H * SS, W * SS), 30, np.uint8)

    def canvas_xy(pts):
        p = np.c_[np.asarray(pts, float), np.ones(len(pts))] @ m.T
        return p[:, :2] * SS + (SS - 1) / 2          # image px -> canvas px (centres)

    def fill(poly, value):
        # canvas pixels whose centres lie inside the convex polygon (unbiased, unlike
        # cv2.fillPoly, which includes the boundary pixels on both sides)
        q = canvas_xy(poly)
        d1, d2 = q[1] - q[0], q[2] - q[1]
        if d1[0] * d2[1] - d1[1] * d2[0] < 0:
            q = q[::-1]
        x0, y0 = np.maximum(np.floor(q.min(axis=0)).astype(int), 0)
        x1, y1 = np.ceil(q.max(axis=0)).astype(int) + 1
        y1, x1 = min(y1, canvas.shape[0]), min(x1, canvas.shape[1])
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        inside = np.ones((y1 - y0, x1 - x0), bool)
        for a, b in zip(q, np.roll(q, -1, axis=0), strict=True):
            inside &= (np.float32(b[0] - a[0]) * (yy - np.float32(a[1]))
                       > np.float32(b[1] - a[1]) * (xx - np.float32(a[0])))
        canvas[y0:y1, x0:x1][inside] = value

    def fill_circle(c, r, value):
        (cx, cy), rs = canvas_xy([c])[0], r * SS
        x0, x1 = int(max(cx - rs - 1, 0)), int(min(cx + rs + 2, canvas.shape[1]))
        y0, y1 = int(max(cy - rs - 1, 0)), int(min(cy + rs + 2, canvas.shape[0]))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < rs * rs
        canvas[y0:y1, x0:x1][inside] = value

    if present:
        fill(PLATE, 190)
        fill_circle(HOLE_C, hole_r, 40)
        fill(_rect(BAR_X, BAR_Y0, BAR_X + bar_w, BAR_Y1), 40)
        for i in range(dots):
            fill_circle((110 + 25 * i, 215), DOT_R, 40)
        if code:
            bits = np.asarray(zxingcpp.create_barcode(
                code, zxingcpp.BarcodeFormat.DataMatrix).to_image(
                scale=1, add_quiet_zones=False)) < 128
            x0, y0 = CODE_XY
            for r, c in zip(*np.nonzero(bits), strict=True):
                fill(_rect(x0 + c * CODE_MODULE, y0 + r * CODE_MODULE,
                           x0 + (c + 1) * CODE_MODULE, y0 + (r + 1) * CODE_MODULE), 40)
        if scratch:
            fill(np.array([[150, 160], [200, 190], [199, 192], [149, 162]], float), 90)
    img = cv2.resize(canvas, (W, H), interpolation=cv2.INTER_AREA).astype(np.float64)
    if noise > 0:
        img += np.random.default_rng(seed).normal(0.0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def to_image(m, pts):
    """Apply a 3x3 transform to (N, 2) points."""
    p = np.atleast_2d(np.asarray(pts, float))
    return p @ m[:2, :2].T + m[:2, 2]


def recipe_dict(model_image, *, fixture=True, units=None, extra_steps=()):
    """The test recipe: locate the board, then measure hole, bar, edge, dots and code."""
    fx = {"fixture": "locate"} if fixture else {}
    steps = [
        {"name": "locate", "type": "shape_match", "model_image": str(model_image),
         "model_roi": [60, 40, 280, 220], "min_score": 0.7},
        {"name": "hole", "type": "circle", "center": [130, 110], "radius": 18, "search": 6,
         "nominal": 36.0, "tol": 1.0, **fx,
         "tolerances": {"x": {"nominal": 130, "tol": 1.0}, "y": {"nominal": 110, "tol": 1.0}}},
        {"name": "bar", "type": "caliper_width", "line": [[205, 180], [251, 180]],
         "thickness": 8, "nominal": 16.0, "tol": [0.5, 0.5], **fx},
        {"name": "left_edge", "type": "edge_position", "line": [[50, 150], [100, 150]],
         "lower": 19.0, "upper": 21.0, **fx},
        {"name": "dots", "type": "blob_count", "roi": [95, 200, 80, 30], "polarity": "dark",
         "min_area": 20, "nominal": 3, "tol": 0, **fx},
        {"name": "label", "type": "code_read", "roi": [256, 140, 60, 60],
         "expected": "SN-0042", "part_id": True, **fx},
        *extra_steps,
    ]
    out = {"name": "test_board", "steps": steps}
    if units is not None:
        out["units"] = units
    return out
