"""numpy <-> ``sensor_msgs`` conversion (Image, PointCloud2, CameraInfo), one implementation.

cv_bridge and sensor_msgs_py are not part of the pip-mode ROS 2 install, so the stack has its
own: the simulator publishes with :func:`image_to_msg` / :func:`xyz_to_cloud` /
:func:`camera_info_msg`, the vision node reads with :func:`image_from_msg` /
:func:`points_from_msg`, the scenario analysis decodes recorded images with
:func:`image_from_msg` (it takes any object with the message's fields, e.g. an MCAP-decoded
message).

Incoming data is checked before it is decoded (DESIGN.md §4.6): :func:`image_rejection` and
:func:`cloud_rejection` return why a message must be rejected as ``(reason, detail)`` (like
:func:`dg_common.validation.odometry_rejection`), the decoders raise
:class:`~dg_common.validation.InvalidInput` for what is left. Reasons: ``empty``,
``encoding``, ``oversize``, ``layout``, ``truncated``, ``fields``, ``non_finite``.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from dg_common.validation import InvalidInput, require_finite, require_size

#: Image encodings converted here, with (numpy dtype, channels).
ENCODINGS: dict[str, tuple[type, int]] = {
    "mono8": (np.uint8, 1), "bgr8": (np.uint8, 3), "rgb8": (np.uint8, 3),
    "mono16": (np.uint16, 1)}

_PF_DTYPES = {PointField.FLOAT32: np.float32, PointField.FLOAT64: np.float64}

Checks = tuple[tuple[str, Callable[[], None]], ...]


def first_rejection(checks: Checks) -> tuple[str, str] | None:
    """Run ``(reason, check)`` pairs in order; the first failure as (reason, detail)."""
    for reason, check in checks:
        try:
            check()
        except InvalidInput as exc:
            return reason, str(exc)
    return None


def _buffer(data: Any) -> Any:
    """``data`` as a buffer numpy can read (rclpy gives array/bytes, others may give lists)."""
    return data if isinstance(data, (bytes, bytearray, memoryview, array.array)) \
        else bytes(data)


def _require(cond: bool, detail: str) -> None:
    if not cond:
        raise InvalidInput(detail)


# --- Image ------------------------------------------------------------------------------

def image_rejection(msg: Any, max_pixels: int) -> tuple[str, str] | None:
    """Why a ``sensor_msgs/Image`` must be rejected, as (reason, detail), or None if valid.

    Checks, in order: ``empty``, ``encoding`` (see :data:`ENCODINGS`), ``oversize`` (more
    than ``max_pixels``), ``layout`` (``step`` < width x bytes per pixel), ``truncated``,
    ``layout`` (more bytes than step x height).
    """
    w, h, step, n = int(msg.width), int(msg.height), int(msg.step), len(msg.data)
    bpp = 0
    if msg.encoding in ENCODINGS:
        dtype, ch = ENCODINGS[msg.encoding]
        bpp = ch * np.dtype(dtype).itemsize
    return first_rejection((
        ("empty", lambda: _require(w > 0 and h > 0 and n > 0,
                                   f"empty image ({w}x{h}, {n} bytes)")),
        ("encoding", lambda: _require(bpp > 0, f"unsupported encoding {msg.encoding!r}; use "
                                      f"one of {list(ENCODINGS)}")),
        ("oversize", lambda: require_size("image pixels", w * h, max_pixels)),
        ("layout", lambda: _require(step >= w * bpp, f"step {step} < width {w} x {bpp} bytes "
                                    "per pixel")),
        ("truncated", lambda: _require(n >= step * h, f"{n} bytes, need step {step} x height "
                                       f"{h} = {step * h}")),
        ("layout", lambda: _require(n <= step * h, f"{n} bytes, more than step {step} x "
                                    f"height {h}")),
    ))


def image_from_msg(msg: Any, max_pixels: int = 2**31 - 1) -> np.ndarray:
    """A ``sensor_msgs/Image`` as an (H, W) or (H, W, 3) BGR array of its own dtype.

    ``rgb8`` is reordered to BGR, ``mono16`` stays uint16 (native byte order). The result
    is a fresh, writable array.

    Raises:
        InvalidInput: see :func:`image_rejection`.

    """
    rejection = image_rejection(msg, max_pixels)
    if rejection is not None:
        raise InvalidInput(rejection[1])
    w, h, step = int(msg.width), int(msg.height), int(msg.step)
    dtype, ch = ENCODINGS[msg.encoding]
    row = w * ch * np.dtype(dtype).itemsize
    buf = np.frombuffer(_buffer(msg.data), dtype=np.uint8).reshape(h, step)[:, :row]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    arr = np.ascontiguousarray(buf).view(dt).reshape(h, w, ch)
    if msg.encoding == "rgb8":
        arr = arr[:, :, ::-1]
    arr = arr.astype(dtype, copy=True)   # native byte order, writable, contiguous
    return arr[:, :, 0] if ch == 1 else arr


def image_to_msg(img: np.ndarray, header: Header | None = None,
                 encoding: str | None = None) -> Image:
    """A ``sensor_msgs/Image`` of a uint8 grey or BGR array.

    ``encoding`` defaults to ``mono8`` (2D) / ``bgr8`` (3 channels); a BGR array asked for
    as ``mono8`` is converted to grey, as ``rgb8`` reordered.

    Raises:
        ValueError: not a uint8 grey/BGR array, or an encoding it cannot be written as.

    """
    a = np.asarray(img)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"need a uint8 (H, W) or (H, W, 3) array, got {a.dtype} {a.shape}")
    if encoding is None:
        encoding = "mono8" if a.ndim == 2 else "bgr8"
    if encoding == "mono8" and a.ndim == 3:
        import cv2

        a = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
    elif encoding == "rgb8" and a.ndim == 3:
        a = a[:, :, ::-1]
    elif (encoding == "mono8") != (a.ndim == 2) or encoding not in ("mono8", "bgr8", "rgb8"):
        raise ValueError(f"cannot write a {a.shape} array as {encoding!r}")
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    msg = Image(header=header if header is not None else Header(), height=h, width=w,
                encoding=encoding, is_bigendian=0, step=w * (1 if a.ndim == 2 else 3))
    msg.data = array.array("B", a.tobytes())   # the fast path of rclpy's uint8[] setter
    return msg


# --- PointCloud2 ------------------------------------------------------------------------

def cloud_rejection(msg: Any, max_points: int) -> tuple[str, str] | None:
    """Why a ``sensor_msgs/PointCloud2`` must be rejected before decoding, or None.

    Checks, in order: ``empty``, ``oversize``, ``fields`` (x, y, z each one FLOAT32 or
    FLOAT64), ``layout`` (a field past ``point_step``, ``row_step`` < width x point_step),
    ``truncated``, ``layout`` (more bytes than row_step x height).
    """
    n_pts = int(msg.width) * int(msg.height)
    n = len(msg.data)
    ps, rs, height = int(msg.point_step), int(msg.row_step), int(msg.height)
    fields = {f.name: f for f in msg.fields}

    def check_fields() -> None:
        for axis in "xyz":
            f = fields.get(axis)
            _require(f is not None, f"cloud has no '{axis}' field (fields: {sorted(fields)})")
            _require(f.datatype in _PF_DTYPES and f.count in (0, 1),
                     f"field '{axis}' must be one FLOAT32 or FLOAT64, got datatype "
                     f"{f.datatype} count {f.count}")

    def check_offsets() -> None:
        for axis in "xyz":
            f = fields[axis]
            size = np.dtype(_PF_DTYPES[f.datatype]).itemsize
            _require(f.offset + size <= ps, f"field '{axis}' (offset {f.offset}) exceeds "
                     f"point_step {ps}")
        _require(rs >= ps * int(msg.width), f"row_step {rs} < width {msg.width} x "
                 f"point_step {ps}")

    return first_rejection((
        ("empty", lambda: _require(n_pts > 0 and n > 0, f"empty cloud ({msg.width}x"
                                   f"{msg.height}, {n} bytes)")),
        ("oversize", lambda: require_size("cloud points", n_pts, max_points)),
        ("fields", check_fields),
        ("layout", check_offsets),
        ("truncated", lambda: _require(n >= rs * height, f"{n} bytes, need row_step {rs} x "
                                       f"height {height} = {rs * height}")),
        ("layout", lambda: _require(n <= rs * height, f"{n} bytes, more than row_step x "
                                    f"height {rs * height}")),
    ))


def points_from_msg(msg: Any, max_points: int = 2**31 - 1,
                    max_invalid_fraction: float = 0.0) -> np.ndarray:
    """x, y, z of a ``sensor_msgs/PointCloud2`` as (N, 3) float64 [m].

    NaN/Inf points of a cloud that is not ``is_dense`` (organised clouds mark missing
    returns so) are dropped, up to ``max_invalid_fraction`` of the points (and at least 3
    must stay).

    Raises:
        InvalidInput: see :func:`cloud_rejection`; also NaN/Inf points in a dense cloud or
            too many of them (reason ``non_finite``).

    """
    rejection = cloud_rejection(msg, max_points)
    if rejection is not None:
        raise InvalidInput(rejection[1])
    width, height = int(msg.width), int(msg.height)
    ps, rs = int(msg.point_step), int(msg.row_step)
    fields = {f.name: f for f in msg.fields}
    order = ">" if msg.is_bigendian else "<"
    dtype = np.dtype({"names": list("xyz"),
                      "formats": [np.dtype(_PF_DTYPES[fields[a].datatype]).newbyteorder(order)
                                  for a in "xyz"],
                      "offsets": [int(fields[a].offset) for a in "xyz"], "itemsize": ps})
    raw = np.frombuffer(_buffer(msg.data), dtype=np.uint8).reshape(height, rs)
    rec = np.ascontiguousarray(raw[:, :ps * width]).view(dtype).reshape(-1)
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
    good = np.all(np.isfinite(xyz), axis=1)
    n_pts, n_bad = len(xyz), int(len(xyz) - good.sum())
    if n_bad:
        if msg.is_dense:
            raise InvalidInput(f"cloud says is_dense but has {n_bad} NaN/Inf points")
        if n_bad > max_invalid_fraction * n_pts or n_bad > n_pts - 3:
            raise InvalidInput(f"{n_bad} of {n_pts} points are NaN/Inf (limit "
                               f"{max_invalid_fraction:.0%})")
        xyz = xyz[good]
    return xyz


def xyz_to_cloud(points_m: np.ndarray, header: Header | None = None) -> PointCloud2:
    """Unorganised, dense ``sensor_msgs/PointCloud2`` of (N, 3) points [m] (x, y, z float32).

    Raises:
        ValueError: not (N, 3) or not finite.

    """
    pts = np.ascontiguousarray(points_m, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"need (N, 3) points, got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points must be finite (the cloud is published dense)")
    msg = PointCloud2(header=header if header is not None else Header())
    msg.height, msg.width = 1, int(len(pts))
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, n in enumerate("xyz")]
    msg.is_bigendian = False
    msg.point_step = 12
    msg.row_step = 12 * msg.width
    msg.is_dense = True
    msg.data = array.array("B", pts.tobytes())
    return msg


# --- CameraInfo -------------------------------------------------------------------------

def camera_info_msg(k: np.ndarray | Sequence[float], width: int, height: int,
                    header: Header | None = None) -> CameraInfo:
    """``sensor_msgs/CameraInfo`` of an undistorted pinhole camera with matrix ``k`` (3x3)."""
    km = np.asarray(k, dtype=np.float64).reshape(3, 3)
    msg = CameraInfo(header=header if header is not None else Header())
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in km.ravel()]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [km[0, 0], 0.0, km[0, 2], 0.0, 0.0, km[1, 1], km[1, 2], 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def focal_px(msg: Any) -> float:
    """Mean focal length (fx + fy) / 2 [px] of a ``sensor_msgs/CameraInfo``.

    Raises:
        InvalidInput: K not finite, or fx / fy not positive.

    """
    k = [float(v) for v in msg.k]
    require_size("camera_info K", len(k), 9, 9)
    require_finite("camera_info K", k)
    _require(k[0] > 0 and k[4] > 0, f"camera_info: fx {k[0]} and fy {k[4]} must be > 0")
    return (k[0] + k[4]) / 2.0
