"""Code reading: codes generated with zxing-cpp, placed rotated in a noisy scene, read back."""

import cv2
import numpy as np
import pytest

from dg_vision.errors import VisionInputError
from dg_vision.metrology.codes import parse_formats, read_codes, render_code


def place(code_img, angle_deg, size=(360, 480), at=(240, 180), noise=2.0, seed=0):
    """The code pasted on a grey-220 page, rotated counter-clockwise on screen about its
    centre, with Gaussian noise; returns the image and the code's true centre."""
    h, w = size
    page = np.full((h, w), 220, np.uint8)
    ch, cw = code_img.shape
    x0, y0 = at[0] - cw // 2, at[1] - ch // 2
    page[y0:y0 + ch, x0:x0 + cw] = np.where(code_img < 128, 30, 220)
    m = cv2.getRotationMatrix2D((float(at[0]), float(at[1])), angle_deg, 1.0)
    rot = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=220)
    out = rot + np.random.default_rng(seed).normal(0, noise, rot.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), at


@pytest.mark.parametrize("fmt,text,angle", [
    ("QRCode", "DG-STACK/4711", 0.0),
    ("QRCode", "DG-STACK/4711", 37.0),
    ("DataMatrix", "SN-0042", 0.0),
    ("DataMatrix", "SN-0042", -63.0),
    ("Code128", "LOT-2026-11", 0.0),
    ("Code128", "LOT-2026-11", 90.0),
    ("EAN13", "4006381333931", 180.0),
])
def test_read_generated_codes(fmt, text, angle):
    module = 2 if fmt in ("Code128", "EAN13") else 4
    img, centre = place(render_code(text, fmt, module_px=module), angle)
    codes = read_codes(img)
    assert len(codes) == 1
    c = codes[0]
    assert c.format == fmt and c.text == text
    assert c.corners.shape == (4, 2)
    assert np.hypot(*(np.array(c.center) - centre)) < 25


def test_two_codes_bgr_and_format_filter():
    a, _ = place(render_code("LEFT", "QRCode"), 0, at=(120, 180))
    b, _ = place(render_code("RIGHT", "DataMatrix"), 20, at=(360, 180))
    img = np.minimum(a, b)
    bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    codes = read_codes(bgr)
    assert [c.text for c in codes] == ["LEFT", "RIGHT"]
    only = read_codes(img, formats=["DataMatrix"])
    assert [c.text for c in only] == ["RIGHT"]


def test_no_code_and_errors():
    assert read_codes(np.full((100, 100), 128, np.uint8)) == []
    with pytest.raises(VisionInputError, match="unknown code format"):
        read_codes(np.full((100, 100), 128, np.uint8), formats=["NoSuchCode"])
    with pytest.raises(VisionInputError):
        read_codes(np.zeros((0, 10), np.uint8))
    with pytest.raises(VisionInputError, match="cannot encode"):
        render_code("not digits", "EAN13")


def test_formats_given_as_one_name():
    img, _ = place(render_code("DG-42", "QRCode"), 0.0)
    # A str is one format name (not a sequence of one-letter names), in any spelling.
    for fmt in ("QRCode", "qr_code", "QR-Code"):
        found = read_codes(img, formats=fmt)
        assert [c.text for c in found] == ["DG-42"]
    assert read_codes(img, formats="DataMatrix") == []
    assert parse_formats("QRCode") == parse_formats(["qrcode"])
    assert len(parse_formats(["QRCode", "EAN13"])) == 2


@pytest.mark.parametrize("formats", ["", "Q", [], ["QRCode", "nope"], [1], 5])
def test_parse_formats_errors(formats):
    with pytest.raises(VisionInputError, match="format"):
        parse_formats(formats)
