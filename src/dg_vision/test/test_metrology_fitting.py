"""Robust line / circle / ellipse fitting against known geometry with outliers, circle finding
on a rendered hole, and the input errors."""

import math

import numpy as np
import pytest
from scipy.special import ndtr

from dg_vision.errors import VisionInputError
from dg_vision.metrology.fitting import (
    find_circle,
    find_line,
    fit_circle,
    fit_ellipse,
    fit_line,
)


def _with_outliers(p, frac, rng, spread=40.0):
    p = p.copy()
    k = int(frac * len(p))
    idx = rng.choice(len(p), k, replace=False)
    p[idx] += rng.uniform(-spread, spread, (k, 2))
    return p, idx


def test_fit_line_rejects_outliers():
    rng = np.random.default_rng(1)
    t = np.linspace(-50, 50, 200)
    d = np.array([math.cos(0.3), math.sin(0.3)])
    p = np.array([100.0, 80.0]) + t[:, None] * d + rng.normal(0, 0.1, (200, 1)) * [-d[1], d[0]]
    q, idx = _with_outliers(p, 0.35, rng)
    f = fit_line(q)
    assert abs(abs(np.dot(f.direction, d)) - 1) < 1e-4
    assert abs(f.distance(np.array([[100.0, 80.0]]))[0]) < 0.05
    assert 0.07 < f.rms < 0.14
    assert not f.inliers[idx].any() or f.inliers[idx].mean() < 0.1
    assert f.inliers.sum() >= 0.95 * (200 - len(idx))
    # Angle counter-clockwise on screen: direction (cos .3, sin .3) goes down-right.
    assert abs(f.angle_deg + math.degrees(0.3)) < 0.01


def test_fit_circle_partial_arc_geometric():
    rng = np.random.default_rng(2)
    t = rng.uniform(0.2, 1.6, 120)              # a quarter arc
    p = np.c_[50 + 30 * np.cos(t), 40 + 30 * np.sin(t)] + rng.normal(0, 0.05, (120, 2))
    q, idx = _with_outliers(p, 0.3, rng, 10.0)
    c = fit_circle(q)
    assert abs(c.cx - 50) < 0.1 and abs(c.cy - 40) < 0.1 and abs(c.r - 30) < 0.1
    assert c.rms < 0.1
    assert c.inliers.sum() >= 0.9 * (120 - len(idx))
    # Exactly three points: the circumcircle.
    e = fit_circle(np.array([[0.0, 10.0], [10.0, 0.0], [-10.0, 0.0]]))
    assert abs(e.cx) < 1e-9 and abs(e.cy) < 1e-9 and abs(e.r - 10) < 1e-9


def test_fit_ellipse_geometric_with_outliers():
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 2 * math.pi, 300)
    th = math.radians(-25.0)        # image frame; 25 deg counter-clockwise on screen
    x, y = 40 * np.cos(t), 15 * np.sin(t)
    p = np.c_[80 + x * math.cos(th) - y * math.sin(th), 60 + x * math.sin(th) + y * math.cos(th)]
    p += rng.normal(0, 0.1, p.shape)
    q, idx = _with_outliers(p, 0.25, rng, 30.0)
    e = fit_ellipse(q)
    assert abs(e.cx - 80) < 0.05 and abs(e.cy - 60) < 0.05
    assert abs(e.a - 40) < 0.05 and abs(e.b - 15) < 0.05
    assert abs(e.angle_deg - 25.0) < 0.2
    assert e.rms < 0.15


def render_hole(cx, cy, r, size=(120, 160), noise=2.0, seed=0):
    yy, xx = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    acc = np.zeros(size)
    off = (np.arange(4) + 0.5) / 4 - 0.5
    for oy in off:
        for ox in off:
            d = np.hypot(xx + ox - cx, yy + oy - cy) - r
            acc += ndtr(d / 0.7)
    img = 40 + 150 * acc / 16 + np.random.default_rng(seed).normal(0, noise, size)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_find_circle_hole():
    img = render_hole(70.3, 55.6, 21.4)
    # Clutter: a bright scratch across part of the annulus.
    img[30:33, 60:100] = 250
    fit = find_circle(img, (68.0, 57.0), 20.0, search=5.0, polarity="rising")
    assert abs(fit.cx - 70.3) < 0.05 and abs(fit.cy - 55.6) < 0.05
    assert abs(fit.r - 21.4) < 0.05
    assert fit.inliers.sum() >= 50


@pytest.mark.parametrize("fn,pts,match", [
    (fit_line, [[1, 2]], "at least 2"),
    (fit_line, [[1, 2], [1, 2], [1, 2]], "coincide"),
    (fit_circle, [[0, 0], [1, 1]], "at least 3"),
    (fit_circle, [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]], "collinear"),
    (fit_ellipse, [[0, 0], [1, 0], [0, 1], [1, 1]], "at least 5"),
    (fit_ellipse, [[i, 2 * i] for i in range(10)], "collinear"),
    (fit_line, [[0, 0], [1, math.nan]], "NaN"),
    (fit_circle, [[0, 0, 0], [1, 1, 1], [2, 0, 1]], r"\(N, 2\)"),
    (fit_line, "abc", "numbers"),
])
def test_fit_errors(fn, pts, match):
    with pytest.raises(VisionInputError, match=match):
        fn(pts)


def test_find_line_rake():
    # Bright half-plane below the line through (20, 40.3) at -8 deg (down to the right).
    phi = math.radians(8.0)
    d = np.array([math.cos(phi), math.sin(phi)])
    nrm = np.array([-d[1], d[0]])
    c = float(nrm @ np.array([20.0, 40.3]))
    yy, xx = np.mgrid[0:100, 0:140].astype(np.float64)
    acc = np.zeros((100, 140))
    for oy in (-0.375, -0.125, 0.125, 0.375):
        for ox in (-0.375, -0.125, 0.125, 0.375):
            acc += ndtr(((xx + ox) * nrm[0] + (yy + oy) * nrm[1] - c) / 0.7)
    img = np.clip(np.rint(40 + 150 * acc / 16 + np.random.default_rng(4).normal(0, 2, acc.shape)),
                  0, 255).astype(np.uint8)
    img[30:60, 60:64] = 255                        # a bright blob disturbing two calipers
    f = find_line(img, (10.0, 42.0), (130.0, 56.0), search=12.0, calipers=20,
                  polarity="falling")
    assert abs(abs(float(np.dot(f.direction, d))) - 1.0) < 1e-5
    assert abs(f.distance(np.array([[20.0, 40.3]]))[0]) < 0.03
    assert abs(f.angle_deg + 8.0) < 0.02
    with pytest.raises(VisionInputError, match="only"):
        find_line(img, (10.0, 42.0), (130.0, 56.0), polarity="rising", threshold=100)
    with pytest.raises(VisionInputError, match="select"):
        find_line(img, (10.0, 42.0), (130.0, 56.0), select="middle")
    with pytest.raises(VisionInputError, match="shorter"):
        find_line(img, (10.0, 42.0), (10.5, 42.0))


def test_find_circle_errors():
    img = render_hole(70, 55, 20)
    with pytest.raises(VisionInputError, match="outside"):
        find_circle(img, (500.0, 500.0), 10.0)
    with pytest.raises(VisionInputError, match="only"):
        find_circle(np.full((100, 100), 90, np.uint8), (50.0, 50.0), 20.0)
    with pytest.raises(VisionInputError, match="radius"):
        find_circle(img, (70.0, 55.0), math.nan)
    with pytest.raises(VisionInputError, match="polarity"):
        find_circle(img, (70.0, 55.0), 20.0, polarity="inward")


@pytest.mark.parametrize("kw,match", [
    ({"width": math.nan}, "width"),
    ({"width": None}, "width"),
    ({"width": 0.0}, "width"),
    ({"sigma": math.nan}, "sigma"),
    ({"sigma": 0}, "sigma"),
    ({"threshold": None}, "threshold"),
    ({"search": math.nan}, "search"),
    ({"search": 0.0}, "search"),
    ({"search": "far"}, "search"),
    ({"polarity": None}, "polarity"),
    ({"min_edges": 0}, "min_edges"),
])
def test_find_line_and_circle_parameter_errors(kw, match):
    img = render_hole(70, 55, 20)
    with pytest.raises(VisionInputError, match=match):
        find_circle(img, (70.0, 55.0), 20.0, **kw)
    with pytest.raises(VisionInputError, match=match):
        find_line(img, (20.0, 30.0), (100.0, 30.0), **kw)


def test_find_line_and_circle_bound_the_search():
    img = render_hole(70, 55, 20)
    # A search far beyond the image is refused instead of allocating huge calipers.
    with pytest.raises(VisionInputError, match="diagonal"):
        find_line(img, (20.0, 30.0), (100.0, 30.0), search=1e9)
    with pytest.raises(VisionInputError, match="diagonal"):
        find_line(img, (20.0, 30.0), (100.0, 30.0), search=math.inf)
    with pytest.raises(VisionInputError, match="center_guess"):
        find_circle(img, (70.0, None), 20.0)
    # Annulus starting beyond the farthest image corner: nothing to search.
    with pytest.raises(VisionInputError, match="outside"):
        find_circle(img, (70.0, 55.0), 5000.0, search=100.0)
    # A huge search is capped at the farthest image corner (rays then leave the image):
    # a clear error, not a MemoryError.
    with pytest.raises(VisionInputError, match="only 0 of 64"):
        find_circle(img, (70.0, 55.0), 20.0, search=1e12)


@pytest.mark.parametrize("copies", [5, 50])
def test_fits_with_mostly_duplicate_points(copies):
    t = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    circle = np.stack([10 + 5 * np.cos(t), 20 + 5 * np.sin(t)], axis=1)
    # Most points repeat one of them: no crash, and the distinct points decide the fit.
    pts = np.vstack([circle, np.repeat(circle[:1], copies, axis=0)])
    fit = fit_circle(pts)
    assert abs(fit.cx - 10) < 1e-6 and abs(fit.cy - 20) < 1e-6 and abs(fit.r - 5) < 1e-6
    line = np.array([[0.0, 1.0], [1.0, 1.5], [2.0, 2.0], [3.0, 2.5], [4.0, 3.0]])
    fl = fit_line(np.vstack([line, np.repeat(line[2:3], copies, axis=0)]))
    assert abs(fl.direction[1] / fl.direction[0] - 0.5) < 1e-9
    assert np.all(np.abs(fl.distance(line)) < 1e-9)
    # Only 2 (line) / 3 (circle) distinct points among many: least squares start.
    two = np.vstack([np.repeat([[0.0, 0.0]], copies, axis=0), [[2.0, 1.0]]])
    assert abs(fit_line(two).angle_deg + math.degrees(math.atan2(1, 2))) < 1e-6
    three = np.vstack([np.repeat([[0.0, 0.0]], copies, axis=0), [[2.0, 0.0], [0.0, 2.0]]])
    fc = fit_circle(three)
    assert abs(fc.cx - 1) < 1e-6 and abs(fc.cy - 1) < 1e-6 and abs(fc.r - math.sqrt(2)) < 1e-6
    ell = np.stack([30 + 8 * np.cos(t), 40 + 4 * np.sin(t)], axis=1)
    fe = fit_ellipse(np.vstack([ell, np.repeat(ell[:1], copies, axis=0)]))
    assert abs(fe.a - 8) < 1e-4 and abs(fe.b - 4) < 1e-4
