"""numpy <-> sensor_msgs conversion: round trips, layouts and the reasons of rejections."""

import math

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, PointField

from dg_common.sensor_conv import (
    camera_info_msg,
    cloud_rejection,
    focal_px,
    image_from_msg,
    image_rejection,
    image_to_msg,
    points_from_msg,
    xyz_to_cloud,
)
from dg_common.validation import InvalidInput


def test_image_round_trip_in_every_encoding():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 255, (12, 17, 3), dtype=np.uint8)
    gray = bgr[:, :, 1].copy()
    assert np.array_equal(image_from_msg(image_to_msg(bgr)), bgr)
    assert np.array_equal(image_from_msg(image_to_msg(bgr, encoding="rgb8")), bgr)
    assert np.array_equal(image_from_msg(image_to_msg(gray)), gray)
    mono = image_from_msg(image_to_msg(bgr, encoding="mono8"))
    assert mono.shape == (12, 17) and mono.dtype == np.uint8
    msg = image_to_msg(gray)
    assert (msg.encoding, msg.step, msg.width, msg.height) == ("mono8", 17, 17, 12)
    out = image_from_msg(msg)
    out[0, 0] = 1                                  # writable
    with pytest.raises(ValueError):
        image_to_msg(gray, encoding="bgr8")


def test_image_padding_big_endian_and_rejections():
    msg = image_to_msg(np.zeros((4, 6), np.uint8))
    msg.encoding, msg.is_bigendian, msg.width = "mono16", 1, 3
    msg.data = (np.full((4, 3), 513, np.uint16).astype(">u2")).tobytes()
    assert image_from_msg(msg).tolist() == [[513] * 3] * 4
    padded = image_to_msg(np.full((4, 8), 7, np.uint8))
    padded.width = 6
    assert image_from_msg(padded).shape == (4, 6)
    cases = {"empty": dict(width=0), "encoding": dict(encoding="yuv422"),
             "layout": dict(step=3), "truncated": dict(data=bytes(10))}
    for reason, change in cases.items():
        bad = image_to_msg(np.zeros((4, 8), np.uint8))
        for k, v in change.items():
            setattr(bad, k, v)
        assert image_rejection(bad, 1000)[0] == reason
        with pytest.raises(InvalidInput):
            image_from_msg(bad)
    assert image_rejection(image_to_msg(np.zeros((4, 8), np.uint8)), 31)[0] == "oversize"
    assert image_rejection(image_to_msg(np.zeros((4, 8), np.uint8)), 32) is None


def test_cloud_round_trip_and_rejections():
    pts = np.array([[0.1, 0.2, 0.3], [1, 2, 3], [-1, 0, 2.5]])
    msg = xyz_to_cloud(pts)
    assert cloud_rejection(msg, 10) is None
    assert np.allclose(points_from_msg(msg), pts, atol=1e-6)
    assert cloud_rejection(msg, 2)[0] == "oversize"
    no_z = xyz_to_cloud(pts)
    no_z.fields = no_z.fields[:2]
    assert cloud_rejection(no_z, 10)[0] == "fields"
    as_int = xyz_to_cloud(pts)
    as_int.fields[2].datatype = PointField.INT32
    assert cloud_rejection(as_int, 10)[0] == "fields"
    short = xyz_to_cloud(pts)
    short.data = bytes(short.data)[:-4]
    assert cloud_rejection(short, 10)[0] == "truncated"
    # NaN: rejected in a dense cloud, dropped (up to a share) from a sparse one
    nan = np.vstack([pts, pts])
    nan[0] = math.nan
    sparse = xyz_to_cloud(np.nan_to_num(nan))
    sparse.data = nan.astype(np.float32).tobytes()
    with pytest.raises(InvalidInput, match="is_dense"):
        points_from_msg(sparse)
    sparse.is_dense = False
    assert len(points_from_msg(sparse, max_invalid_fraction=0.5)) == 5
    with pytest.raises(InvalidInput, match="NaN"):
        points_from_msg(sparse, max_invalid_fraction=0.1)
    with pytest.raises(ValueError):
        xyz_to_cloud(nan)


def test_camera_info_and_focal_length():
    k = np.array([[800.0, 0, 320], [0, 820.0, 240], [0, 0, 1]])
    msg = camera_info_msg(k, 640, 480)
    assert (msg.width, msg.height, msg.k[4], msg.p[5]) == (640, 480, 820.0, 820.0)
    assert focal_px(msg) == 810.0
    for bad in (math.nan, 0.0, -5.0):
        m = CameraInfo()
        m.k = [bad, 0.0, 1.0, 0.0, 800.0, 1.0, 0.0, 0.0, 1.0]
        with pytest.raises(InvalidInput):
            focal_px(m)
