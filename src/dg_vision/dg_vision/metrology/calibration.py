"""Camera calibration (checkerboard, ChArUco), undistortion and hand-eye calibration.

* Intrinsics: OpenCV's ``calibrateCameraExtended`` (Zhang's method + Levenberg-Marquardt on
  the reprojection error), pinhole + radial/tangential distortion (``plumb_bob``, 5
  coefficients; ``rational`` adds k4..k6). Corners: ``findChessboardCornersSB`` (the
  sector-based detector, more accurate than the classic one plus ``cornerSubPix``; the
  classic one is the fallback), or ChArUco corners from ``cv2.aruco.CharucoDetector``
  (works with a partly visible board). The report gives the overall RMS reprojection error
  and the per-view RMS [px].
* Files: ROS ``camera_info`` YAML (as written by camera_calibration / read by
  camera_info_manager), plus our ``rms_px`` and ``per_view_rms_px`` keys.
* Hand-eye (AX = XB): OpenCV 5's Python bindings no longer export ``calibrateHandEye``, so
  we solve it here: Park & Martin (1994) closed form (rotation from the axis-angle vectors of
  all motion pairs, then the translation by linear least squares), followed by a nonlinear
  least-squares refinement of rotation and translation together over all pairs (``scipy``).
  Conventions as ``cv2.calibrateHandEye``: ``robot_poses`` = gripper pose in the robot base
  (T_base_gripper), ``target_poses`` = target pose in the camera (T_cam_target, e.g. from
  ``solvePnP``); eye-in-hand returns T_gripper_cam; eye-to-hand (``eye_in_hand=False``:
  a fixed camera, the target on the gripper) returns T_base_cam.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from dg_vision.errors import VisionInputError
from dg_vision.image import as_image, to_gray

MIN_VIEWS = 3


@dataclass
class CameraCalibration:
    """A camera calibration result.

    Intrinsics ``K`` (3x3), distortion ``dist`` (OpenCV order k1 k2 p1 p2 k3 [k4 k5 k6]),
    ``image_size`` (w, h) [px], overall and per-view RMS reprojection error [px]; ``views``
    = indices of the input images that were used, ``rvecs``/``tvecs`` their board poses.
    """

    K: np.ndarray
    dist: np.ndarray
    image_size: tuple[int, int]
    rms_px: float
    per_view_rms_px: list[float] = field(default_factory=list)
    views: list[int] = field(default_factory=list)
    rvecs: list[np.ndarray] = field(default_factory=list)
    tvecs: list[np.ndarray] = field(default_factory=list)
    camera_name: str = "camera"

    def to_camera_info(self) -> dict:
        """The ROS camera_info YAML structure.

        ROS knows two pinhole distortion models: ``plumb_bob`` (k1 k2 p1 p2 k3, 5
        coefficients; OpenCV's 4-coefficient k1 k2 p1 p2 is written with k3 = 0) and
        ``rational_polynomial`` (k1 k2 p1 p2 k3 k4 k5 k6, 8). OpenCV's 12/14-coefficient
        models (thin prism, tilt) are written as rational_polynomial when their extra terms
        are zero.

        Raises:
            VisionInputError: a distortion that no ROS model can hold (other lengths, or
                non-zero thin-prism/tilt terms).

        """
        k = np.asarray(self.K, dtype=np.float64)
        d = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if len(d) in (12, 14) and not np.any(d[8:]):
            d = d[:8]
        if len(d) == 4:
            d = np.r_[d, 0.0]
        if len(d) == 5:
            model = "plumb_bob"
        elif len(d) == 8:
            model = "rational_polynomial"
        else:
            raise VisionInputError(f"a distortion of {len(d)} coefficients has no ROS "
                                   f"camera_info model (plumb_bob: 5, rational_polynomial: 8)")
        p = np.zeros((3, 4))
        p[:, :3] = k
        return {
            "image_width": int(self.image_size[0]), "image_height": int(self.image_size[1]),
            "camera_name": self.camera_name,
            "camera_matrix": {"rows": 3, "cols": 3, "data": [float(v) for v in k.ravel()]},
            "distortion_model": model,
            "distortion_coefficients": {"rows": 1, "cols": int(len(d)),
                                        "data": [float(v) for v in d]},
            "rectification_matrix": {"rows": 3, "cols": 3,
                                     "data": [float(v) for v in np.eye(3).ravel()]},
            "projection_matrix": {"rows": 3, "cols": 4, "data": [float(v) for v in p.ravel()]},
            "rms_px": float(self.rms_px),
            "per_view_rms_px": [float(v) for v in self.per_view_rms_px],
        }

    def save(self, path: str | Path) -> None:
        """Write the calibration as ROS camera_info YAML."""
        Path(path).write_text(yaml.safe_dump(self.to_camera_info(), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path) -> CameraCalibration:
        """Read a ROS camera_info YAML file (ours or camera_calibration's).

        Raises:
            VisionInputError: missing file, not YAML, or missing/inconsistent fields.

        """
        p = Path(path)
        if not p.is_file():
            raise VisionInputError(f"{p}: no such calibration file")
        try:
            data = yaml.safe_load(p.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise VisionInputError(f"{p}: not valid YAML: {exc}") from None
        return cls.from_camera_info(data, name=str(p))

    @classmethod
    def from_camera_info(cls, data: object, *, name: str = "camera_info") -> CameraCalibration:
        """Build from a camera_info mapping (the YAML structure, or a msg's K/D/width)."""
        if not isinstance(data, dict):
            raise VisionInputError(f"{name}: camera_info must be a mapping")
        try:
            w, h = int(data["image_width"]), int(data["image_height"])
            k = np.asarray(data["camera_matrix"]["data"], dtype=np.float64).reshape(3, 3)
            d = np.asarray(data["distortion_coefficients"]["data"], dtype=np.float64)
            rms = float(data.get("rms_px", math.nan))
            per_view = [float(v) for v in (data.get("per_view_rms_px") or [])]
            cam = str(data.get("camera_name", "camera"))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise VisionInputError(f"{name}: missing or malformed camera_info field ({exc})") \
                from None
        if w <= 0 or h <= 0 or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise VisionInputError(f"{name}: bad image size or camera matrix")
        if d.size not in (4, 5, 8, 12, 14) or not np.all(np.isfinite(d)):
            raise VisionInputError(f"{name}: distortion must have 4, 5, 8, 12 or 14 finite "
                                   f"coefficients, got {d.size}")
        return cls(K=k, dist=d.reshape(-1), image_size=(w, h), rms_px=rms,
                   per_view_rms_px=per_view, camera_name=cam)


# --- intrinsics --------------------------------------------------------------------------

def _gray_views(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and (
            images.ndim == 2 or (images.ndim == 3 and images.shape[2] in (1, 3, 4))):
        raise VisionInputError(f"images must be a sequence of images, got one image "
                               f"(shape {images.shape})")
    try:
        views = [to_gray(im) for im in images]
    except TypeError:
        raise VisionInputError("images must be a sequence of images") from None
    if len(views) < MIN_VIEWS:
        raise VisionInputError(f"calibration needs at least {MIN_VIEWS} images, got "
                               f"{len(views)}")
    sizes = {v.shape for v in views}
    if len(sizes) != 1:
        raise VisionInputError(f"calibration images differ in size: {sorted(sizes)}")
    return views


def _calibrate(obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int],
               used: list[int], rational: bool, what: str) -> CameraCalibration:
    if len(obj) < MIN_VIEWS:
        raise VisionInputError(f"{what}: the pattern was found in {len(obj)} image(s), need "
                               f">= {MIN_VIEWS}")
    flags = cv2.CALIB_RATIONAL_MODEL if rational else 0
    try:
        rms, k, d, rv, tv, _, _, per_view = cv2.calibrateCameraExtended(
            obj, img, size, None, None, flags=flags)
    except cv2.error as exc:
        raise VisionInputError(f"{what}: calibration failed ({exc.err})") from None
    if not (math.isfinite(rms) and np.all(np.isfinite(k)) and np.all(np.isfinite(d))):
        raise VisionInputError(f"{what}: calibration diverged (views too similar?)")
    return CameraCalibration(K=k, dist=d.reshape(-1), image_size=size, rms_px=float(rms),
                             per_view_rms_px=[float(v) for v in np.ravel(per_view)],
                             views=used, rvecs=[np.ravel(r) for r in rv],
                             tvecs=[np.ravel(t) for t in tv])


def find_checkerboard(image: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """Sub-pixel inner corners (N, 2) of a checkerboard, or None.

    The board has ``pattern`` = (cols, rows) inner corners; they come in OpenCV's order
    (row by row).
    """
    gray = to_gray(image)
    cols, rows = _pattern(pattern)
    ok, corners = cv2.findChessboardCornersSB(gray, (cols, rows),
                                              cv2.CALIB_CB_NORMALIZE_IMAGE
                                              | cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY)
    if not ok:
        ok, corners = cv2.findChessboardCorners(gray, (cols, rows),
                                                cv2.CALIB_CB_ADAPTIVE_THRESH
                                                | cv2.CALIB_CB_NORMALIZE_IMAGE)
        if not ok:
            return None
        corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1),
                                   (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-3))
    return corners.reshape(-1, 2).astype(np.float64)


def _pattern(pattern: tuple[int, int]) -> tuple[int, int]:
    try:
        cols, rows = (int(v) for v in pattern)
    except (TypeError, ValueError):
        raise VisionInputError(f"pattern must be (cols, rows), got {pattern!r}") from None
    if cols < 2 or rows < 2:
        raise VisionInputError(f"pattern {pattern!r} needs >= 2 inner corners each way")
    return cols, rows


def _positive(v: float, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise VisionInputError(f"{name} must be a number, got {v!r}") from None
    if not (math.isfinite(f) and f > 0):
        raise VisionInputError(f"{name} must be > 0, got {v!r}")
    return f


def calibrate_checkerboard(images: Sequence[np.ndarray], pattern: tuple[int, int],
                           square_mm: float, *, rational: bool = False) -> CameraCalibration:
    """Calibrate a camera from views of a checkerboard.

    The board has ``pattern`` = (cols, rows) inner corners and squares of ``square_mm``;
    views where the board is not found are skipped.

    Raises:
        VisionInputError: fewer than 3 images or 3 views with the board, sizes differ, bad
            pattern or square size.

    """
    cols, rows = _pattern(pattern)
    sq = _positive(square_mm, "square_mm")
    views = _gray_views(images)
    grid = np.zeros((rows * cols, 3), np.float32)
    grid[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * sq
    obj, img, used = [], [], []
    for i, g in enumerate(views):
        c = find_checkerboard(g, (cols, rows))
        if c is not None:
            obj.append(grid)
            img.append(c.astype(np.float32).reshape(-1, 1, 2))
            used.append(i)
    h, w = views[0].shape
    return _calibrate(obj, img, (w, h), used, rational, "calibrate_checkerboard")


def _dictionary(dictionary: str | int) -> cv2.aruco.Dictionary:
    if isinstance(dictionary, str):
        key = dictionary if dictionary.startswith("DICT_") else f"DICT_{dictionary}"
        code = getattr(cv2.aruco, key.upper(), None)
        if code is None:
            raise VisionInputError(f"unknown ArUco dictionary {dictionary!r} (e.g. "
                                   f"DICT_5X5_100)")
    else:
        code = int(dictionary)
    try:
        return cv2.aruco.getPredefinedDictionary(code)
    except cv2.error:
        raise VisionInputError(f"unknown ArUco dictionary {dictionary!r}") from None


def charuco_board(squares: tuple[int, int], square_mm: float, marker_mm: float,
                  dictionary: str | int = "DICT_5X5_100") -> cv2.aruco.CharucoBoard:
    """The OpenCV ChArUco board of ``squares`` = (cols, rows) squares (checked sizes)."""
    cols, rows = _pattern(squares)
    sq, mk = _positive(square_mm, "square_mm"), _positive(marker_mm, "marker_mm")
    if mk >= sq:
        raise VisionInputError(f"marker_mm ({mk}) must be smaller than square_mm ({sq})")
    dic = _dictionary(dictionary)
    return cv2.aruco.CharucoBoard((cols, rows), sq, mk, dic)


def calibrate_charuco(images: Sequence[np.ndarray], squares: tuple[int, int],
                      square_mm: float, marker_mm: float, *,
                      dictionary: str | int = "DICT_5X5_100", min_corners: int = 6,
                      rational: bool = False) -> CameraCalibration:
    """Calibrate a camera from views of a ChArUco board.

    The board has ``squares`` = (cols, rows) squares; views with fewer than
    ``min_corners`` ChArUco corners are skipped.

    Raises:
        VisionInputError: as :func:`calibrate_checkerboard`, or an unknown dictionary.

    """
    board = charuco_board(squares, square_mm, marker_mm, dictionary)
    views = _gray_views(images)
    det = cv2.aruco.CharucoDetector(board)
    obj, img, used = [], [], []
    for i, g in enumerate(views):
        corners, ids, _, _ = det.detectBoard(g)
        if corners is None or ids is None or len(ids) < max(min_corners, 4):
            continue
        op, ip = board.matchImagePoints(corners, ids)
        if op is None or len(op) < max(min_corners, 4):
            continue
        obj.append(op.reshape(-1, 1, 3).astype(np.float32))
        img.append(ip.reshape(-1, 1, 2).astype(np.float32))
        used.append(i)
    h, w = views[0].shape
    return _calibrate(obj, img, (w, h), used, rational, "calibrate_charuco")


def undistort(image: np.ndarray, calib: CameraCalibration, *, alpha: float | None = None
              ) -> np.ndarray:
    """The image with lens distortion removed.

    Same size; the camera matrix stays ``K`` unless ``alpha`` in [0, 1] asks for
    ``getOptimalNewCameraMatrix``'s.

    Raises:
        VisionInputError: bad image, or an image size other than the calibration's.

    """
    img = as_image(image)
    h, w = img.shape[:2]
    if (w, h) != tuple(calib.image_size):
        raise VisionInputError(f"image is {w}x{h} but the calibration is for "
                               f"{calib.image_size[0]}x{calib.image_size[1]}")
    k = np.asarray(calib.K, dtype=np.float64)
    new_k = k
    if alpha is not None:
        try:
            a = float(alpha)
        except (TypeError, ValueError):
            a = math.nan
        if not 0.0 <= a <= 1.0:
            raise VisionInputError(f"alpha must be in [0, 1], got {alpha!r}")
        new_k, _ = cv2.getOptimalNewCameraMatrix(k, calib.dist, (w, h), a)
    return cv2.undistort(img, k, np.asarray(calib.dist, dtype=np.float64), None, new_k)


# --- hand-eye ----------------------------------------------------------------------------

def _poses(poses: Sequence[np.ndarray], name: str) -> np.ndarray:
    try:
        arr = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError):
        raise VisionInputError(f"{name} must be a sequence of 4x4 transforms") from None
    if arr.ndim != 3 or arr.shape[1:] != (4, 4):
        raise VisionInputError(f"{name} must be (N, 4, 4), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise VisionInputError(f"{name} contain NaN or infinite values")
    r = arr[:, :3, :3]
    err = np.abs(np.einsum("nij,nkj->nik", r, r) - np.eye(3)).max()
    if err > 1e-4 or np.any(np.linalg.det(r) < 0.5):
        raise VisionInputError(f"{name}: rotation parts are not rotations (|R R^T - I| = "
                               f"{err:.2g})")
    return arr


def _inv(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


def hand_eye(robot_poses: Sequence[np.ndarray], target_poses: Sequence[np.ndarray], *,
             eye_in_hand: bool = True, refine: bool = True) -> np.ndarray:
    """Solve AX = XB for the camera mounting (see the module docstring for conventions).

    Args:
        robot_poses: (N, 4, 4) T_base_gripper per station.
        target_poses: (N, 4, 4) T_cam_target per station (same order).
        eye_in_hand: camera on the gripper (True) or fixed, looking at a target held by the
            gripper (False).
        refine: polish the closed form by nonlinear least squares over all motion pairs.

    Returns:
        4x4 T_gripper_cam (eye-in-hand) or T_base_cam (eye-to-hand); translation in the
        units of the inputs.

    Raises:
        VisionInputError: shapes, NaN, non-rotations, fewer than 3 stations, or motions
            without two distinct rotation axes (the problem is then not determined).

    """
    rob = _poses(robot_poses, "robot_poses")
    tgt = _poses(target_poses, "target_poses")
    if len(rob) != len(tgt):
        raise VisionInputError(f"{len(rob)} robot poses but {len(tgt)} target poses")
    if len(rob) < 3:
        raise VisionInputError(f"hand_eye needs >= 3 stations, got {len(rob)}")
    if not eye_in_hand:
        rob = np.array([_inv(t) for t in rob])
    a_list, b_list = [], []
    n = len(rob)
    for i in range(n):
        for j in range(i + 1, n):
            a_list.append(_inv(rob[j]) @ rob[i])
            b_list.append(tgt[j] @ _inv(tgt[i]))
    a_arr, b_arr = np.array(a_list), np.array(b_list)
    alpha = Rotation.from_matrix(a_arr[:, :3, :3]).as_rotvec()
    beta = Rotation.from_matrix(b_arr[:, :3, :3]).as_rotvec()
    keep = (np.linalg.norm(alpha, axis=1) > 1e-3) & (np.linalg.norm(beta, axis=1) > 1e-3)
    if keep.sum() < 2 or np.linalg.matrix_rank(alpha[keep], tol=1e-3) < 2:
        raise VisionInputError("hand_eye: the robot motions need rotations about at least two "
                               "different axes")
    m = beta[keep].T @ alpha[keep]                          # sum beta_i alpha_i^T
    # R_X = (M^T M)^(-1/2) M^T (Park & Martin 1994), via SVD for a proper rotation.
    u, _, vt = np.linalg.svd(m.T)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rx = u @ d @ vt
    lhs = (a_arr[:, :3, :3] - np.eye(3)).reshape(-1, 3)
    rhs = (np.einsum("ij,njk->nik", rx, b_arr[:, :3, 3:4])[:, :, 0]
           - a_arr[:, :3, 3]).reshape(-1)
    tx, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    if refine:
        scale = max(float(np.abs(a_arr[:, :3, 3]).max()), 1e-9)

        def resid(q: np.ndarray) -> np.ndarray:
            r = Rotation.from_rotvec(q[:3]).as_matrix()
            t = q[3:]
            rot = np.einsum("nij,jk->nik", a_arr[:, :3, :3], r) \
                - np.einsum("ij,njk->nik", r, b_arr[:, :3, :3])
            tr = np.einsum("nij,j->ni", a_arr[:, :3, :3], t) + a_arr[:, :3, 3] \
                - np.einsum("ij,nj->ni", r, b_arr[:, :3, 3]) - t
            return np.concatenate([rot.reshape(-1), tr.reshape(-1) / scale])

        q0 = np.concatenate([Rotation.from_matrix(rx).as_rotvec(), tx])
        sol = least_squares(resid, q0, method="lm", max_nfev=200)
        if np.all(np.isfinite(sol.x)):
            rx, tx = Rotation.from_rotvec(sol.x[:3]).as_matrix(), sol.x[3:]
    out = np.eye(4)
    out[:3, :3] = rx
    out[:3, 3] = tx
    return out
