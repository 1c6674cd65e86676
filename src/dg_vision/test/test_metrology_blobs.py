"""Blob analysis on drawn shapes with known features, and the input errors."""

import math

import cv2
import numpy as np
import pytest

from dg_vision.errors import VisionInputError
from dg_vision.metrology.blobs import find_blobs


def scene():
    img = np.full((200, 300), 200, np.uint8)
    cv2.circle(img, (60, 60), 20, 30, -1)                                # disc r 20
    cv2.ellipse(img, (200, 60), (40, 12), -30, 0, 360, 30, -1)           # 30 deg ccw
    cv2.rectangle(img, (100, 120), (160, 170), 30, -1)                   # 61 x 51
    cv2.circle(img, (130, 145), 8, 200, -1)                              # hole
    cv2.circle(img, (250, 160), 2, 30, -1)                               # tiny
    return img


def test_features_of_known_shapes():
    blobs = find_blobs(scene(), min_area=20)
    assert len(blobs) == 3
    by_x = sorted(blobs, key=lambda b: b.centroid[0])
    disc, rect, ell = by_x
    assert abs(disc.area - math.pi * 20 ** 2) < 0.02 * math.pi * 20 ** 2
    assert abs(disc.centroid[0] - 60) < 0.05 and abs(disc.centroid[1] - 60) < 0.05
    assert disc.circularity > 0.95 and disc.holes == 0
    assert abs(disc.major_axis - 40) < 1.0 and abs(disc.minor_axis - 40) < 1.0
    assert rect.holes == 1 and rect.bbox == (100, 120, 61, 51)
    assert rect.area == pytest.approx(61 * 51 - np.count_nonzero(
        cv2.circle(np.zeros((40, 40), np.uint8), (20, 20), 8, 1, -1)), abs=1)
    assert rect.convexity > 0.99 and rect.circularity < 0.9
    assert abs(ell.orientation_deg - 30) < 1.0
    assert abs(ell.major_axis - 80) < 2 and abs(ell.minor_axis - 24) < 2
    assert ell.circularity < 0.8


def test_polarity_threshold_roi_and_border():
    img = 255 - scene()
    assert len(find_blobs(img, polarity="bright", min_area=20)) == 3
    assert len(find_blobs(img, polarity="bright", min_area=5)) == 4
    # ROI: only the disc; centroid in full-image coordinates.
    b = find_blobs(scene(), roi=(20, 20, 80, 80))
    assert len(b) == 1 and abs(b[0].centroid[0] - 60) < 0.05
    # ROI that cuts the disc: exclude_border drops it.
    assert find_blobs(scene(), roi=(50, 20, 60, 80), exclude_border=True) == []
    # Fixed threshold below the blobs' grey: nothing is dark enough.
    assert find_blobs(scene(), threshold=20) == []
    # Flat image: no blobs (no Otsu on noise-free flat input).
    assert find_blobs(np.full((50, 50), 7, np.uint8)) == []
    # max_area keeps only the small ones.
    assert [round(x.area) for x in find_blobs(scene(), min_area=5, max_area=100)] == [13]


@pytest.mark.parametrize("kw,match", [
    ({"polarity": "grey"}, "polarity"),
    ({"threshold": 300}, "threshold"),
    ({"roi": (290, 190, 50, 50)}, "outside"),
    ({"roi": (10, 10, 0, 5)}, "empty"),
    ({"min_area": -1}, "min_area"),
    ({"min_area": math.nan}, "min_area"),
    ({"min_area": None}, "min_area"),
    ({"max_area": math.nan}, "max_area"),
    ({"max_area": "big"}, "max_area"),
    ({"max_area": -5}, "max_area"),
    ({"min_area": 50, "max_area": 20}, "max_area"),
    ({"roi": (math.nan, 10, 20, 20)}, "finite"),
    ({"roi": (10, 10, math.inf, 20)}, "finite"),
    ({"roi": (10, 10, 20)}, "roi"),
    ({"roi": "all"}, "roi"),
])
def test_blob_errors(kw, match):
    with pytest.raises(VisionInputError, match=match):
        find_blobs(scene(), **kw)


def test_blob_bad_image():
    with pytest.raises(VisionInputError):
        find_blobs(np.zeros((4, 4), np.uint8))
