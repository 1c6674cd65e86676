"""Shape matching: a part taught at angle 0 is found at known sub-pixel poses (any angle,
scale 0.9..1.1) in anti-aliased noisy renders; several instances; ROIs; input errors."""

import math

import numpy as np
import pytest
from skimage.draw import polygon as draw_polygon

from dg_vision.errors import VisionInputError
from dg_vision.metrology.matching import ShapeModel

SS = 8


def _circle(cx, cy, r, n=64):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


# The part in model coordinates (teach image 240 x 180, ROI centre (120, 90)).
PART = [(np.array([[60, 50], [165, 50], [180, 65], [180, 130], [60, 130]], float), 170),
        (_circle(80, 70, 8), 40), (_circle(160, 112, 6), 40),
        (_rect(100, 62, 112, 118), 60), (_rect(125, 95, 150, 105), 220)]
ROI = (50, 40, 140, 100)
REF = np.array([ROI[0] + ROI[2] / 2, ROI[1] + ROI[3] / 2])


def render(poses, size=(180, 240), noise=2.0, seed=0):
    """Parts at poses [(x, y, angle_deg, scale)] (ROI centre at (x, y)), 8x supersampled by
    exact point-in-polygon tests, area-averaged, with Gaussian noise."""
    h, w = size
    canvas = np.full((h * SS, w * SS), 50, np.uint8)
    for x, y, ang, sc in poses:
        a = math.radians(ang)
        rot = sc * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        for poly, g in PART:
            q = ((poly - REF) @ rot.T + [x, y]) * SS + (SS - 1) / 2
            rr, cc = draw_polygon(q[:, 1], q[:, 0], canvas.shape)
            canvas[rr, cc] = g
    img = canvas.reshape(h, SS, w, SS).mean(axis=(1, 3))
    img = img + np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model():
    return ShapeModel.teach(render([(120.0, 90.0, 0.0, 1.0)], noise=0.0), ROI,
                            scale_range=(0.9, 1.1))


@pytest.mark.parametrize("pose", [(130.3, 85.7, 0.0, 1.0), (110.45, 95.2, 37.3, 1.0),
                                  (125.8, 88.1, -151.2, 0.93), (118.2, 92.9, 179.6, 1.07),
                                  (121.0, 87.4, 95.25, 1.02)])
def test_find_subpixel_pose(model, pose):
    img = render([pose], size=(200, 260), seed=3)
    found = model.find(img)
    assert len(found) == 1
    m = found[0]
    assert math.hypot(m.x - pose[0], m.y - pose[1]) < 0.1
    assert abs((m.angle_deg - pose[2] + 180) % 360 - 180) < 0.05
    assert abs(m.scale - pose[3]) < 0.003
    assert 0.9 < m.score <= 1.0


def test_pose_convention_maps_model_points(model):
    # A model feature (hole centre (80, 70)) lands at x + s R(angle) (p - ref).
    x, y, ang, sc = 130.0, 100.0, 60.0, 1.0
    m = model.find(render([(x, y, ang, sc)], size=(200, 260)))[0]
    a = math.radians(m.angle_deg)
    rot = m.scale * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    hole = rot @ (np.array([80.0, 70.0]) - REF) + [m.x, m.y]
    a0 = math.radians(ang)
    truth = np.array([[math.cos(a0), math.sin(a0)], [-math.sin(a0), math.cos(a0)]]) \
        @ (np.array([80.0, 70.0]) - REF) + [x, y]
    assert np.hypot(*(hole - truth)) < 0.1


def test_several_instances_and_roi(model):
    poses = [(90.0, 90.0, 20.0, 1.0), (290.0, 170.0, -110.0, 0.95)]
    img = render(poses, size=(260, 400), seed=5)
    found = model.find(img, max_matches=3)
    assert len(found) == 2
    got = sorted(found, key=lambda q: q.x)
    for m, p in zip(got, poses, strict=True):
        assert math.hypot(m.x - p[0], m.y - p[1]) < 0.15
        assert abs((m.angle_deg - p[2] + 180) % 360 - 180) < 0.1
    one = model.find(img, max_matches=1)
    assert len(one) == 1
    right = model.find(img, search_roi=(200, 100, 180, 150))
    assert len(right) == 1 and abs(right[0].x - 290.0) < 0.15
    assert model.find(img, search_roi=(0, 230, 60, 30)) == []


def test_no_part_and_restricted_angles(model):
    blank = render([], size=(200, 260))
    assert model.find(blank) == []
    img = render([(130.0, 100.0, 90.0, 1.0)], size=(200, 260))
    assert model.find(img, angle_range=(-30.0, 30.0), scale_range=(1.0, 1.0)) == []
    m = model.find(img, angle_range=(60.0, 120.0))
    assert len(m) == 1 and abs(m[0].angle_deg - 90.0) < 0.05


def test_reversed_contrast_needs_ignore_global(model):
    img = 255 - render([(125.5, 95.25, -40.0, 1.0)], size=(200, 260))
    assert model.find(img) == []
    m = model.find(img, polarity="ignore_global")
    assert len(m) == 1
    assert math.hypot(m[0].x - 125.5, m[0].y - 95.25) < 0.1
    assert abs(m[0].angle_deg + 40.0) < 0.05
    # The normal polarity still works with ignore_global.
    m = model.find(render([(125.5, 95.25, -40.0, 1.0)], size=(200, 260)),
                   polarity="ignore_global")
    assert len(m) == 1 and abs(m[0].angle_deg + 40.0) < 0.05


def test_save_load_round_trip(model, tmp_path):
    path = tmp_path / "part.npz"
    model.save(path)
    back = ShapeModel.load(path)
    img = render([(128.25, 93.5, 71.0, 1.04)], size=(200, 260))
    a, b = model.find(img)[0], back.find(img)[0]
    assert (a.x, a.y, a.angle_deg, a.scale, a.score) == (b.x, b.y, b.angle_deg, b.scale,
                                                         b.score)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(VisionInputError, match="not a"):
        ShapeModel.load(other)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(VisionInputError, match="cannot read"):
        ShapeModel.load(junk)
    with pytest.raises(VisionInputError, match="no such"):
        ShapeModel.load(tmp_path / "missing.npz")


def test_teach_and_find_errors(model):
    img = render([(120.0, 90.0, 0.0, 1.0)])
    with pytest.raises(VisionInputError, match="exceeds"):
        ShapeModel.teach(img, (200, 150, 100, 100))
    with pytest.raises(VisionInputError, match="smaller than"):
        ShapeModel.teach(img, (10, 10, 4, 40))
    with pytest.raises(VisionInputError, match="edge points"):
        ShapeModel.teach(np.full((100, 100), 90, np.uint8))
    with pytest.raises(VisionInputError, match="scale_range"):
        ShapeModel.teach(img, ROI, scale_range=(1.2, 0.8))
    with pytest.raises(VisionInputError, match="angle_range"):
        ShapeModel.teach(img, ROI, angle_range=(0.0, 720.0))
    with pytest.raises(VisionInputError, match="min_score"):
        model.find(img, min_score=0.0)
    with pytest.raises(VisionInputError, match="polarity"):
        model.find(img, polarity="any")
    with pytest.raises(VisionInputError, match="max_matches"):
        model.find(img, max_matches=0)
    with pytest.raises(VisionInputError, match="search_roi"):
        model.find(img, search_roi=(200, 150, 100, 100))
    with pytest.raises(VisionInputError):
        model.find(np.zeros((3, 3), np.uint8))


def test_small_images(model):
    # Smaller than the part and than the model's pyramid: no crash, no false match.
    assert model.find(np.full((40, 30), 90, np.uint8)) == []
    img = render([(120.0, 90.0, 0.0, 1.0)])
    assert model.find(img[60:100, 50:110]) == []


@pytest.mark.parametrize("roi,match", [
    ((math.nan, 40, 140, 100), "finite"),
    ((50, 40, math.inf, 100), "finite"),
    ((50, 40, 140), "model roi"),
    ("whole", "model roi"),
])
def test_teach_bad_roi(roi, match):
    img = render([(120.0, 90.0, 0.0, 1.0)])
    with pytest.raises(VisionInputError, match=match):
        ShapeModel.teach(img, roi)


@pytest.mark.parametrize("num_levels", [0, -1, 7, 2.5, "3", math.nan])
def test_teach_bad_num_levels(num_levels):
    img = render([(120.0, 90.0, 0.0, 1.0)])
    with pytest.raises(VisionInputError, match="num_levels"):
        ShapeModel.teach(img, ROI, num_levels=num_levels)


@pytest.mark.parametrize("kw,match", [
    ({"search_roi": (math.nan, 0, 50, 50)}, "search_roi"),
    ({"search_roi": (0, 0, math.inf, 50)}, "search_roi"),
    ({"search_roi": (0, 0, 0, 50)}, "search_roi"),
    ({"max_overlap": -0.1}, "max_overlap"),
    ({"max_overlap": 1.5}, "max_overlap"),
    ({"max_overlap": math.nan}, "max_overlap"),
    ({"max_overlap": None}, "max_overlap"),
])
def test_find_bad_arguments(model, kw, match):
    img = render([(120.0, 90.0, 0.0, 1.0)])
    with pytest.raises(VisionInputError, match=match):
        model.find(img, **kw)


def test_find_ranges_given_as_arrays(model):
    img = render([(121.3, 88.2, 10.0, 1.0)])
    m = model.find(img, angle_range=np.array([0.0, 20.0]), scale_range=np.array([1.0, 1.0]))
    assert len(m) == 1 and abs(m[0].angle_deg - 10.0) < 0.1 and m[0].scale == 1.0
