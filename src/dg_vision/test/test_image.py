"""Image input checks: as_image on odd inputs and the shared ROI checker."""

import math

import numpy as np
import pytest

from dg_vision.errors import VisionInputError
from dg_vision.image import as_image, check_roi


@pytest.mark.parametrize("bad", [
    [[1, 2, 3], [4, 5]],                       # ragged rows
    [np.zeros((10, 10)), np.zeros((12, 10))],  # ragged stack
    None,
    "image.png",
    np.zeros((10, 10), dtype=object),
])
def test_as_image_rejects_non_arrays(bad):
    with pytest.raises(VisionInputError):
        as_image(bad)


def test_as_image_accepts_nested_lists():
    img = as_image([[0.0] * 10] * 10)
    assert img.dtype == np.uint8 and img.shape == (10, 10)


@pytest.mark.parametrize("roi,match", [
    ((math.nan, 0, 10, 10), "finite"),
    ((0, math.inf, 10, 10), "finite"),
    ((0, 0, 10, -math.inf), "finite"),
    ((0, 0, 1e400, 10), "finite"),
    ((0, 0, 10), r"\(x, y, w, h\)"),
    ((0, 0, 10, 10, 1), r"\(x, y, w, h\)"),
    ("abcd", r"\(x, y, w, h\)"),
    (None, r"\(x, y, w, h\)"),
    ((0, 0, 0, 10), "empty"),
    ((0, 0, 4, 10), "smaller than 5x5"),
    ((-1, 0, 10, 10), "outside"),
    ((95, 0, 10, 10), "outside"),
    ((0, 45, 10, 10), "outside"),
])
def test_check_roi_errors(roi, match):
    with pytest.raises(VisionInputError, match=match):
        check_roi(roi, (50, 100), name="roi", min_side=5)


def test_check_roi_rounds_and_names():
    assert check_roi((1.4, 2.6, 10.2, 5.5), (50, 100, 3)) == (1, 3, 10, 6)
    assert check_roi(np.array([0, 0, 100, 50]), (50, 100)) == (0, 0, 100, 50)
    with pytest.raises(VisionInputError, match="search_roi"):
        check_roi((0, 0, 200, 10), (50, 100), name="search_roi")
