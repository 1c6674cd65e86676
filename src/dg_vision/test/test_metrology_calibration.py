"""Calibration on synthetic views: a planar target (checkerboard or ChArUco) rendered through a
known camera (K, distortion) at known poses, recovered by our calibration; undistortion;
hand-eye on synthetic robot/camera poses; YAML round trip; input errors."""

import functools
import math

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dg_vision.errors import VisionInputError
from dg_vision.metrology.calibration import (
    CameraCalibration,
    calibrate_charuco,
    calibrate_checkerboard,
    charuco_board,
    hand_eye,
    undistort,
)

W, H = 640, 480
K = np.array([[620.0, 0.0, 322.5], [0.0, 618.0, 236.8], [0.0, 0.0, 1.0]])
DIST = np.array([-0.21, 0.08, 0.0008, -0.0005, 0.0])
PX_PER_MM = 8.0          # raster of the flat target


def checker_raster(cols, rows, square_mm, margin_sq=1):
    """Flat checkerboard image (1 raster px = 1 / PX_PER_MM mm) with a white margin; the board
    origin (0, 0) mm is the raster's top-left corner of the first square."""
    sq = int(square_mm * PX_PER_MM)
    nx, ny = cols + 1, rows + 1
    img = np.full(((ny + 2 * margin_sq) * sq, (nx + 2 * margin_sq) * sq), 255, np.uint8)
    for j in range(ny):
        for i in range(nx):
            if (i + j) % 2 == 0:
                y0, x0 = (j + margin_sq) * sq, (i + margin_sq) * sq
                img[y0:y0 + sq, x0:x0 + sq] = 0
    return img, margin_sq * square_mm


def _undistort_normalised(u, v):
    """Ideal normalised coordinates of distorted pixels (fixed-point inversion of the
    plumb-bob model; contracts by ~|k1| r^2 < 0.1 per step: 30 steps)."""
    xd = (u - K[0, 2]) / K[0, 0]
    yd = (v - K[1, 2]) / K[1, 1]
    k1, k2, p1, p2, k3 = DIST
    x, y = xd.copy(), yd.copy()
    for _ in range(30):
        r2 = x * x + y * y
        rad = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = (xd - dx) / rad, (yd - dy) / rad
    return np.stack([x, y], axis=1)


@functools.lru_cache(maxsize=1)
def _rays():
    """Ideal normalised ray directions of the 2 x 2 sub-samples of every pixel."""
    out = []
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    for oy in (-0.25, 0.25):
        for ox in (-0.25, 0.25):
            und = _undistort_normalised(xx.ravel() + ox, yy.ravel() + oy)
            out.append(np.c_[und, np.ones(len(und))])
    return out


def pose(rvec, centre_cam, board_centre):
    """(rvec, tvec) that put the board's centre at ``centre_cam`` [mm] in the camera."""
    r = cv2.Rodrigues(np.asarray(rvec, float))[0]
    return np.asarray(rvec, float), np.asarray(centre_cam, float) - r @ np.r_[board_centre, 0]


def view(raster, origin_mm, rvec, tvec, noise=1.5, seed=0):
    """Render the flat target through the camera: each sub-pixel's ray (undistorted by the
    true K, DIST) is intersected with the target plane, the raster sampled there; 2 x 2
    sub-samples per pixel."""
    r = cv2.Rodrigues(np.asarray(rvec, float))[0]
    t = np.asarray(tvec, float)
    acc = np.zeros((H, W))
    for d in _rays():
        n = r[:, 2]
        lam = (n @ t) / (d @ n)
        pb = (lam[:, None] * d - t) @ r            # = R^T (P - t), rows
        u = (pb[:, 0] + origin_mm) * PX_PER_MM - 0.5
        v = (pb[:, 1] + origin_mm) * PX_PER_MM - 0.5
        s = cv2.remap(raster.astype(np.float32), u.reshape(H, W).astype(np.float32),
                      v.reshape(H, W).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        acc += s
    img = 40 + (acc / 4) * (180 / 255) + np.random.default_rng(seed).normal(0, noise, (H, W))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


VIEWS = [((0.15, -0.2, 0.05), (0, 0, 270)), ((-0.25, 0.1, -0.1), (-45, -30, 250)),
         ((0.05, 0.3, 0.2), (45, 35, 280)), ((0.35, 0.05, -0.05), (40, -35, 260)),
         ((-0.1, -0.35, 0.1), (-40, 35, 270)), ((0.2, 0.25, -0.3), (-50, 5, 290)),
         ((-0.3, -0.15, 0.25), (50, 0, 255))]
BOARD_CENTRE = (67.5, 52.5)                    # 9 x 7 squares of 15 mm
POSES = [pose(rv, c, BOARD_CENTRE) for rv, c in VIEWS]


def _distortion_gap(cal, radius_px=260.0):
    """Max distance [px] between the true and the calibrated projection of rays within
    ``radius_px`` of the image centre (includes the focal-length error, which the views'
    distances absorb)."""
    ang = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    rad = np.linspace(0, radius_px, 14)
    uv = np.array([[W / 2 + r * math.cos(a), H / 2 + r * math.sin(a)] for r in rad for a in ang])
    und = _undistort_normalised(uv[:, 0], uv[:, 1])
    pts = np.c_[und, np.ones(len(und))]
    est, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), cal.K, cal.dist)
    return float(np.hypot(*(est.reshape(-1, 2) - uv).T).max())


def test_checkerboard_recovers_intrinsics(tmp_path):
    raster, origin = checker_raster(8, 6, 15.0)
    imgs = [view(raster, origin, rv, tv, seed=i) for i, (rv, tv) in enumerate(POSES)]
    imgs.append(np.full((H, W), 128, np.uint8))          # no board: skipped
    cal = calibrate_checkerboard(imgs, (8, 6), 15.0)
    assert cal.views == list(range(len(POSES)))
    assert cal.image_size == (W, H)
    assert abs(cal.K[0, 0] - K[0, 0]) < 0.01 * K[0, 0]
    assert abs(cal.K[1, 1] - K[1, 1]) < 0.01 * K[1, 1]
    assert abs(cal.K[0, 2] - K[0, 2]) < 3 and abs(cal.K[1, 2] - K[1, 2]) < 3
    assert abs(cal.dist[0] - DIST[0]) < 0.03
    assert _distortion_gap(cal, 150.0) < 1.0
    assert cal.rms_px < 0.2 and len(cal.per_view_rms_px) == len(POSES)
    # Round trip through ROS camera_info YAML.
    path = tmp_path / "cam.yaml"
    cal.save(path)
    back = CameraCalibration.load(path)
    assert np.allclose(back.K, cal.K) and np.allclose(back.dist, cal.dist)
    assert back.image_size == (W, H) and back.rms_px == pytest.approx(cal.rms_px)
    # Undistortion: a projected point lands where the ideal pinhole puts it.
    und = undistort(imgs[0], cal)
    assert und.shape == imgs[0].shape
    obj = np.array([[15.0 * 3, 15.0 * 2, 0.0]])
    ideal, _ = cv2.projectPoints(obj, POSES[0][0], POSES[0][1], K, None)
    found, corners = cv2.findChessboardCornersSB(und, (8, 6))
    assert found
    d = np.hypot(*(corners.reshape(-1, 2) - ideal.reshape(2)).T).min()
    assert d < 1.0


def test_charuco_recovers_intrinsics():
    board = charuco_board((7, 5), 20.0, 15.0, "DICT_5X5_100")
    sq = int(20 * PX_PER_MM)
    raster = board.generateImage((7 * sq, 5 * sq), marginSize=0, borderBits=1)
    poses = [pose(rv, c, (70.0, 50.0)) for rv, c in VIEWS[:6]]
    imgs = [view(raster, 0.0, rv, tv, seed=i) for i, (rv, tv) in enumerate(poses)]
    cal = calibrate_charuco(imgs, (7, 5), 20.0, 15.0, dictionary="DICT_5X5_100")
    assert len(cal.views) == len(poses)
    assert abs(cal.K[0, 0] - K[0, 0]) < 0.015 * K[0, 0]
    assert abs(cal.K[0, 2] - K[0, 2]) < 4 and abs(cal.K[1, 2] - K[1, 2]) < 4
    assert abs(cal.dist[0] - DIST[0]) < 0.03
    assert cal.rms_px < 0.3 and max(cal.per_view_rms_px) < 0.5


def _random_pose(rng, rot_deg, trans):
    t = np.eye(4)
    t[:3, :3] = Rotation.from_rotvec(rng.normal(size=3) / math.sqrt(3)
                                     * math.radians(rot_deg)).as_matrix()
    t[:3, 3] = rng.uniform(-trans, trans, 3)
    return t


@pytest.mark.parametrize("eye_in_hand", [True, False])
def test_hand_eye_recovers_mounting(eye_in_hand):
    rng = np.random.default_rng(7)
    x_true = _random_pose(rng, 40, 80)            # gripper->cam (or base->cam)
    fixed = _random_pose(rng, 30, 300)            # base->target (or gripper->target)
    robots, targets = [], []
    for _ in range(10):
        g = _random_pose(rng, 50, 400)            # T_base_gripper
        robots.append(g)
        if eye_in_hand:
            cam = g @ x_true                      # T_base_cam
            targets.append(np.linalg.inv(cam) @ fixed)
        else:
            tgt = g @ fixed                       # target on the gripper
            targets.append(np.linalg.inv(x_true) @ tgt)
    x = hand_eye(robots, targets, eye_in_hand=eye_in_hand)
    assert np.allclose(x, x_true, atol=1e-6)
    # With 0.1 deg / 0.2 mm noise on the target poses.
    noisy = []
    for t in targets:
        n = _random_pose(rng, 0.1, 0.2)
        noisy.append(t @ n)
    x2 = hand_eye(robots, noisy, eye_in_hand=eye_in_hand)
    ang = Rotation.from_matrix(x2[:3, :3] @ x_true[:3, :3].T).magnitude()
    assert math.degrees(ang) < 0.2 and np.linalg.norm(x2[:3, 3] - x_true[:3, 3]) < 2.0


def test_calibration_errors(tmp_path):
    blank = [np.full((H, W), 128, np.uint8)] * 3
    with pytest.raises(VisionInputError, match="found in 0"):
        calibrate_checkerboard(blank, (8, 6), 15.0)
    with pytest.raises(VisionInputError, match="at least 3"):
        calibrate_checkerboard(blank[:2], (8, 6), 15.0)
    with pytest.raises(VisionInputError, match="differ in size"):
        calibrate_checkerboard(blank[:2] + [np.zeros((100, 100), np.uint8)], (8, 6), 15.0)
    with pytest.raises(VisionInputError, match="square_mm"):
        calibrate_checkerboard(blank, (8, 6), -1)
    with pytest.raises(VisionInputError, match="pattern"):
        calibrate_checkerboard(blank, (1, 6), 15.0)
    with pytest.raises(VisionInputError, match="dictionary"):
        calibrate_charuco(blank, (7, 5), 20.0, 15.0, dictionary="DICT_NOPE")
    with pytest.raises(VisionInputError, match="smaller"):
        calibrate_charuco(blank, (7, 5), 20.0, 25.0)
    cal = CameraCalibration(K=K, dist=DIST, image_size=(W, H), rms_px=0.1)
    with pytest.raises(VisionInputError, match="calibration is for"):
        undistort(np.zeros((100, 100), np.uint8), cal)
    with pytest.raises(VisionInputError, match="no such"):
        CameraCalibration.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("image_width: 10\n")
    with pytest.raises(VisionInputError, match="missing"):
        CameraCalibration.load(bad)
    eye = [np.eye(4)] * 3
    with pytest.raises(VisionInputError, match="robot poses but"):
        hand_eye(eye, eye[:2] + eye)
    with pytest.raises(VisionInputError, match="two"):
        hand_eye(eye, eye)
    with pytest.raises(VisionInputError, match="not rotations"):
        hand_eye([np.diag([2.0, 1, 1, 1])] * 3, eye)
    with pytest.raises(VisionInputError, match=r"\(N, 4, 4\)"):
        hand_eye(np.zeros((3, 3, 3)), eye)


def _info(**over):
    d = CameraCalibration(K=K, dist=DIST, image_size=(W, H), rms_px=0.1).to_camera_info()
    d.update(over)
    return d


@pytest.mark.parametrize("over", [
    {"image_width": math.inf},
    {"image_width": "wide"},
    {"image_height": None},
    {"camera_matrix": {"data": [1, 2, 3]}},
    {"distortion_coefficients": {"data": [0.1] * 6}},
    {"distortion_coefficients": {"data": [math.nan] * 5}},
    {"rms_px": "small"},
    {"rms_px": [1, 2]},
    {"per_view_rms_px": 5},
    {"per_view_rms_px": ["a"]},
])
def test_from_camera_info_bad_fields(over):
    with pytest.raises(VisionInputError, match="camera_info|camera matrix|distortion"):
        CameraCalibration.from_camera_info(_info(**over))


@pytest.mark.parametrize("n,model,written", [
    (4, "plumb_bob", 5), (5, "plumb_bob", 5), (8, "rational_polynomial", 8),
    (14, "rational_polynomial", 8),
])
def test_to_camera_info_distortion_model(n, model, written):
    d = np.zeros(n)
    d[:min(n, 5)] = [0.1, -0.05, 0.001, 0.002, 0.01][:min(n, 5)]
    info = CameraCalibration(K=K, dist=d, image_size=(W, H), rms_px=0.1).to_camera_info()
    assert info["distortion_model"] == model
    assert len(info["distortion_coefficients"]["data"]) == written
    back = CameraCalibration.from_camera_info(info)
    assert np.allclose(back.dist[:min(n, 5)], d[:min(n, 5)])
    # The per-view list may be absent or null in other tools' files.
    info["per_view_rms_px"] = None
    assert CameraCalibration.from_camera_info(info).per_view_rms_px == []


def test_to_camera_info_refuses_thin_prism_terms():
    d = np.zeros(12)
    d[9] = 0.01
    with pytest.raises(VisionInputError, match="no ROS"):
        CameraCalibration(K=K, dist=d, image_size=(W, H), rms_px=0.1).to_camera_info()


@pytest.mark.parametrize("img", [np.full((H, W), 128, np.uint8),
                                 np.full((H, W, 3), 128, np.uint8)])
def test_one_image_instead_of_a_sequence(img):
    with pytest.raises(VisionInputError, match="one image"):
        calibrate_checkerboard(img, (8, 6), 15.0)
