"""Caliper: sub-pixel edges on analytically rendered (area-integrated) edges, pairs, arcs,
and the input errors."""

import math

import numpy as np
import pytest
from scipy.special import ndtr

from dg_vision.errors import VisionInputError
from dg_vision.metrology.caliper import measure_edges, measure_edges_arc, measure_pairs

LO, HI = 60.0, 180.0


def render(fn, size=(64, 64), noise=2.0, seed=0, sub=8):
    """Pixel-area average of fn(x, y) -> [0, 1] (pixel centres at integers), scaled."""
    h, w = size
    off = (np.arange(sub) + 0.5) / sub - 0.5
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    acc = np.zeros((h, w))
    for oy in off:
        for ox in off:
            acc += fn(xx + ox, yy + oy)
    img = LO + (HI - LO) * acc / sub ** 2
    img += np.random.default_rng(seed).normal(0.0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def step(n, c, psf=0.7):
    return lambda x, y: ndtr((x * n[0] + y * n[1] - c) / psf)


@pytest.mark.parametrize("seed", range(6))
def test_edge_position_subpixel(seed):
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0, 2 * math.pi)
    n = np.array([math.cos(phi), math.sin(phi)])
    centre = np.array([32.0, 32.0]) + rng.uniform(-2, 2, 2)
    c = float(n @ centre)
    img = render(step(n, c), seed=seed)
    alpha = math.radians(rng.uniform(-15, 15))
    u = np.array([math.cos(alpha) * n[0] - math.sin(alpha) * n[1],
                  math.sin(alpha) * n[0] + math.cos(alpha) * n[1]])
    p0, p1 = centre - 14 * u, centre + 14 * u
    edges = measure_edges(img, tuple(p0), tuple(p1))
    assert len(edges) == 1
    e = edges[0]
    truth = (c - n @ p0) / (n @ u)
    assert abs(e.s - truth) < 0.1
    assert e.polarity == "rising" and e.amplitude > 0
    assert 0.5 * (HI - LO) < e.amplitude < 1.05 * (HI - LO)
    # (x, y) lies on the edge line.
    assert abs(n @ np.array([e.x, e.y]) - c) < 0.1 / abs(n @ u)
    # Reversed caliper: falling edge at L - s.
    back = measure_edges(img, tuple(p1), tuple(p0))
    assert back[0].polarity == "falling" and abs(back[0].s - (28 - truth)) < 0.1
    assert measure_edges(img, tuple(p0), tuple(p1), polarity="falling") == []


def test_pairs_bar_width_and_selection():
    # Dark bar x in [25.3, 37.8] on bright: falling then rising edge along +x.
    img = render(lambda x, y: 1.0 - (ndtr((x - 25.3) / 0.6) - ndtr((x - 37.8) / 0.6)))
    pairs = measure_pairs(img, (10.0, 30.0), (55.0, 30.0), width=7)
    assert len(pairs) == 1
    p = pairs[0]
    assert p.first.polarity == "falling" and p.second.polarity == "rising"
    assert abs(p.width - 12.5) < 0.08
    assert abs(p.first.x - 25.3) < 0.08 and abs(p.second.x - 37.8) < 0.08
    assert measure_pairs(img, (10.0, 30.0), (55.0, 30.0), polarity="rising") == []
    assert len(measure_pairs(img, (10.0, 30.0), (55.0, 30.0), polarity="falling")) == 1


def test_threshold_and_bgr_input():
    img = render(step((1.0, 0.0), 30.2), noise=1.0)
    bgr = np.dstack([img] * 3)
    e = measure_edges(bgr, (20, 20), (40, 20))
    assert len(e) == 1 and abs(e[0].x - 30.2) < 0.08
    assert measure_edges(img, (20, 20), (40, 20), threshold=500.0) == []


def test_arc_caliper_crosses_vertical_bar():
    # Bright vertical band |x - 32| < 6 on dark; arc radius 15 about (32, 40), 0..180 deg
    # (upwards on screen) crosses x = 38 then x = 26.
    img = render(lambda x, y: ndtr((x - 26) / 0.6) - ndtr((x - 38) / 0.6), size=(64, 64))
    edges = measure_edges_arc(img, (32.0, 40.0), 15.0, 0.0, 180.0, width=3)
    assert len(edges) == 2
    a1 = math.acos(6 / 15)
    assert abs(edges[0].s - 15 * a1) < 0.15
    assert abs(edges[1].s - 15 * (math.pi - a1)) < 0.15
    assert edges[0].polarity == "rising" and edges[1].polarity == "falling"
    assert abs(edges[0].x - 38) < 0.1 and edges[0].y < 40
    assert abs(edges[1].x - 26) < 0.1


@pytest.mark.parametrize("args,kw,match", [
    (((-5, 10), (30, 10)), {}, "leaves"),
    (((10, 10), (10.5, 10)), {}, "shorter"),
    (((10, 10), (30, 10)), {"polarity": "up"}, "polarity"),
    (((10, 10), (30, 10)), {"width": 0.0}, "width"),
    (((10, 10), (30, 10)), {"sigma": -1.0}, "sigma"),
    (((10, math.nan), (30, 10)), {}, "finite"),
    (((10, 62), (30, 62)), {"width": 9.0}, "leaves"),
])
def test_caliper_errors(args, kw, match):
    img = np.full((64, 64), 100, np.uint8)
    with pytest.raises(VisionInputError, match=match):
        measure_edges(img, *args, **kw)


def test_caliper_bad_images_and_arc_errors():
    with pytest.raises(VisionInputError):
        measure_edges(np.zeros((0, 0), np.uint8), (0, 0), (5, 5))
    with pytest.raises(VisionInputError):
        measure_edges(np.full((20, 20), np.nan), (1, 1), (10, 1))
    img = np.full((64, 64), 100, np.uint8)
    with pytest.raises(VisionInputError, match="leaves"):
        measure_edges_arc(img, (32, 32), 40.0, 0, 90)
    with pytest.raises(VisionInputError, match="radius"):
        measure_edges_arc(img, (32, 32), 1.0, 0, 90)
    with pytest.raises(VisionInputError, match="shorter"):
        measure_edges_arc(img, (32, 32), 10.0, 0, 5)


@pytest.mark.parametrize("kw,match", [
    ({"width": math.nan}, "width"),
    ({"width": None}, "width"),
    ({"width": "wide"}, "width"),
    ({"width": 2000.0}, "width"),
    ({"sigma": math.nan}, "sigma"),
    ({"sigma": None}, "sigma"),
    ({"sigma": 0.0}, "sigma"),
    ({"threshold": math.inf}, "threshold"),
    ({"threshold": None}, "threshold"),
    ({"threshold": -1.0}, "threshold"),
])
def test_caliper_parameter_errors(kw, match):
    img = np.full((64, 64), 100, np.uint8)
    with pytest.raises(VisionInputError, match=match):
        measure_edges(img, (10, 10), (30, 10), **kw)
    with pytest.raises(VisionInputError, match=match):
        measure_edges_arc(img, (32, 32), 10.0, 0.0, 90.0, **kw)


@pytest.mark.parametrize("args,match", [
    ((10.0, 0.0, 361.0), "360"),
    ((10.0, 90.0, -300.0), "360"),
    ((10.0, 0.0, 1e300), "360"),
    ((10.0, None, 90.0), "a0_deg"),
    ((10.0, 0.0, "east"), "a1_deg"),
    ((10.0, 0.0, math.inf), "finite"),
    ((None, 0.0, 90.0), "radius"),
    ((math.nan, 0.0, 90.0), "radius"),
])
def test_arc_argument_errors(args, match):
    img = np.full((64, 64), 100, np.uint8)
    with pytest.raises(VisionInputError, match=match):
        measure_edges_arc(img, (32, 32), *args)


def test_full_circle_arc_and_edge_at_caliper_end():
    # A 360 deg sweep is allowed: the bar is crossed four times.
    img = render(lambda x, y: ndtr((x - 26) / 0.6) - ndtr((x - 38) / 0.6), size=(64, 64))
    assert len(measure_edges_arc(img, (32.0, 32.0), 15.0, 0.0, 360.0, width=3)) == 4
    # An edge 0.2 px before the caliper end is still found where it is.
    edges = measure_edges(render(step((1.0, 0.0), 30.0), noise=0.0), (10.0, 20.0),
                          (30.2, 20.0))
    assert len(edges) == 1 and abs(edges[0].x - 30.0) < 0.05
