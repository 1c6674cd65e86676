"""Image input for the vision core: files and arrays checked once, with clear errors.

Every tool takes what :func:`as_image` returns: a C-contiguous ``uint8`` array, ``(H, W)``
grey or ``(H, W, 3)`` BGR (OpenCV's order). Anything else (empty, truncated, NaN, a wrong
dtype or channel count, bigger than ``MAX_PIXELS``) raises :class:`VisionInputError`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dg_vision.errors import VisionInputError

#: Largest image accepted (pixels): 100 MP, above any line-scan frame we inspect; bigger
#: inputs are almost always a wrong width/height in a message or a corrupt file.
MAX_PIXELS = 100_000_000
#: Smallest side accepted (pixels).
MIN_SIDE = 8
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp")


def as_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Check ``image`` and return it as a contiguous uint8 grey or BGR array.

    Floats in [0, 1] are scaled to 0..255; 16-bit images are scaled down by 257; a single
    channel ``(H, W, 1)`` is squeezed; BGRA drops alpha.
    """
    try:
        arr = np.asarray(image)
    except (TypeError, ValueError):
        raise VisionInputError(f"{name} is not an array of pixels (ragged or mixed "
                               f"input)") from None
    if arr.size == 0:
        raise VisionInputError(f"{name} is empty (shape {arr.shape})")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise VisionInputError(f"{name} must be (H, W) grey or (H, W, 3) BGR, got shape "
                               f"{arr.shape}")
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise VisionInputError(f"{name} is {w}x{h} px: too small (min side {MIN_SIDE} px)")
    if h * w > MAX_PIXELS:
        raise VisionInputError(f"{name} is {w}x{h} px: larger than {MAX_PIXELS} px")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint16:
        return np.ascontiguousarray((arr // 257).astype(np.uint8))
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise VisionInputError(f"{name} has NaN or infinite pixels")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise VisionInputError(f"{name} is floating point outside [0, 1] "
                                   f"({lo:.3g}..{hi:.3g}); give uint8 or scale it")
        return np.ascontiguousarray(np.rint(arr * 255.0).astype(np.uint8))
    raise VisionInputError(f"{name} has unsupported dtype {arr.dtype}")


def check_roi(roi: object, shape: tuple[int, ...], *, name: str = "roi",
              min_side: int = 1) -> tuple[int, int, int, int]:
    """Check a region ``roi`` = (x, y, w, h) [px] against an image of ``shape`` (H, W[, C]).

    Each value must be a finite number; they are rounded to whole pixels. The region must
    lie inside the image and be at least ``min_side`` px each way.

    Returns:
        (x, y, w, h) as ints.

    Raises:
        VisionInputError: not four numbers, NaN/inf, too small or outside the image.

    """
    try:
        vals = [float(v) for v in roi]  # type: ignore[union-attr]
    except (TypeError, ValueError, OverflowError):
        raise VisionInputError(f"{name} must be (x, y, w, h), got {roi!r}") from None
    if len(vals) != 4:
        raise VisionInputError(f"{name} must be (x, y, w, h), got {roi!r}")
    if not all(np.isfinite(vals)):
        raise VisionInputError(f"{name} must be finite, got {roi!r}")
    x, y, w, h = (int(round(v)) for v in vals)
    hh, ww = shape[:2]
    if w < min_side or h < min_side:
        raise VisionInputError(f"{name} {(x, y, w, h)} is empty or smaller than "
                               f"{min_side}x{min_side} px")
    if x < 0 or y < 0 or x + w > ww or y + h > hh:
        raise VisionInputError(f"{name} {(x, y, w, h)} lies outside (exceeds) the {ww}x{hh} "
                               f"image")
    return x, y, w, h


def to_gray(image: np.ndarray) -> np.ndarray:
    """The grey (uint8, (H, W)) version of a checked image."""
    img = as_image(image)
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """The BGR (uint8, (H, W, 3)) version of a checked image."""
    img = as_image(image)
    return img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file: grey stays grey, colour becomes BGR.

    Raises :class:`VisionInputError` saying why (missing, empty, truncated, not an image,
    huge).
    """
    p = Path(path)
    if not p.is_file():
        raise VisionInputError(f"{p}: no such file")
    data = np.fromfile(p, dtype=np.uint8)
    if data.size == 0:
        raise VisionInputError(f"{p}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise VisionInputError(f"{p}: not a readable image (truncated or unknown format)")
    return as_image(img, name=str(p))


def image_files(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name; error when there are none."""
    d = Path(folder)
    if not d.is_dir():
        raise VisionInputError(f"{d}: not a directory")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VisionInputError(f"{d}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files
