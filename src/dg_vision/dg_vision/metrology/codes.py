"""Code reading: QR, DataMatrix, Aztec, PDF417 and 1D barcodes with zxing-cpp.

zxing-cpp (Apache-2.0, maintained, on PyPI as ``zxing-cpp``) reads every common symbology,
at any rotation, where OpenCV only has QR. We pass the grey image; zxing-cpp binarises it
(local average by default), tries rotations, inversion and downscaling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import zxingcpp

from dg_vision.errors import VisionInputError
from dg_vision.image import to_gray


@dataclass(frozen=True)
class Code:
    """One decoded symbol.

    ``format`` (zxing-cpp's name: "QRCode", "DataMatrix", "Code128",
    "EAN13", ...), the decoded ``text``, ``corners`` (4, 2) [px] (top-left, top-right,
    bottom-right, bottom-left of the symbol as read) and ``orientation_deg`` (zxing-cpp's
    rotation of the symbol, clockwise on screen, as it reports it).
    """

    format: str
    text: str
    corners: np.ndarray
    orientation_deg: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        """Mean of the four corners (x, y) [px]."""
        c = self.corners.mean(axis=0)
        return float(c[0]), float(c[1])


def parse_formats(formats: str | Iterable[str]) -> tuple[zxingcpp.BarcodeFormat, ...]:
    """The zxing-cpp formats named by ``formats``, one per name, in the given order.

    ``formats`` is one name (a str) or an iterable of names, spelled as zxing-cpp accepts
    them ("QRCode", "DataMatrix", "Code128", "EAN13", ...; case and "-"/"_" are ignored,
    e.g. "qr_code").

    Raises:
        VisionInputError: an unknown name, a name that is not a str, or no names at all.

    """
    names = [formats] if isinstance(formats, str) else formats
    try:
        names = list(names)
    except TypeError:
        raise VisionInputError(f"formats must be a format name or a list of names, got "
                               f"{formats!r}") from None
    out = []
    for n in names:
        f = n if isinstance(n, zxingcpp.BarcodeFormat) else None
        if isinstance(n, str):
            try:
                f = zxingcpp.barcode_format_from_str(n)
            except (ValueError, TypeError, RuntimeError):
                f = None
        if f is None or str(getattr(f, "name", "")) in ("", "NONE", "None"):
            raise VisionInputError(f"unknown code format {n!r} (e.g. QRCode, DataMatrix, "
                                   f"Code128, EAN13)")
        out.append(f)
    if not out:
        raise VisionInputError("formats is empty: give None for all formats")
    return tuple(out)


def _formats(formats: str | Iterable[str] | None) -> object:
    """zxing-cpp's combined format flags for ``formats`` (None: all formats)."""
    if formats is None:
        return None
    out = None
    for f in parse_formats(formats):
        out = f if out is None else out | f
    return out


def read_codes(image: np.ndarray, *, formats: str | Iterable[str] | None = None,
               try_harder: bool = True) -> list[Code]:
    """Decode every code in ``image``.

    In reading order (rows top to bottom, then left to right).

    Args:
        image: grey or BGR image (see :func:`dg_vision.image.as_image`).
        formats: restrict to this zxing-cpp format name or these names (None: all); see
            :func:`parse_formats`.
        try_harder: also try rotated, inverted and downscaled versions (zxing-cpp's
            try_rotate / try_invert / try_downscale).

    Raises:
        VisionInputError: bad image or unknown format name.

    """
    gray = to_gray(image)
    kw: dict[str, object] = {"try_rotate": try_harder, "try_invert": try_harder,
                             "try_downscale": try_harder}
    fmts = _formats(formats)
    if fmts is not None:
        kw["formats"] = fmts
    found = zxingcpp.read_barcodes(gray, **kw)
    out = []
    for r in found:
        if hasattr(r, "valid") and not r.valid:
            continue
        pos = r.position
        corners = np.array([[pos.top_left.x, pos.top_left.y], [pos.top_right.x, pos.top_right.y],
                            [pos.bottom_right.x, pos.bottom_right.y],
                            [pos.bottom_left.x, pos.bottom_left.y]], dtype=np.float64)
        fmt = getattr(r.format, "name", None) or str(r.format)
        out.append(Code(str(fmt), str(r.text), corners, float(r.orientation)))
    return _reading_order(out)


def _reading_order(codes: list[Code]) -> list[Code]:
    """Sort codes in reading order.

    Rows top to bottom (codes whose centres differ vertically by less than half the
    smaller code's height share a row), each row left to right.
    """
    rows: list[list[Code]] = []
    for c in sorted(codes, key=lambda q: q.center[1]):
        hgt = float(np.ptp(c.corners[:, 1]))
        if rows:
            ref = rows[-1][0]
            lim = 0.5 * min(hgt, float(np.ptp(ref.corners[:, 1])))
            if abs(c.center[1] - ref.center[1]) < max(lim, 1.0):
                rows[-1].append(c)
                continue
        rows.append([c])
    return [c for row in rows for c in sorted(row, key=lambda q: q.center[0])]


def render_code(text: str, fmt: str = "QRCode", *, module_px: int = 4) -> np.ndarray:
    """A uint8 image of ``text`` encoded as ``fmt`` with a quiet zone (for tests/labels).

    Raises:
        VisionInputError: unknown format, or text the format cannot encode.

    """
    f = parse_formats(fmt)[0]
    if not (isinstance(module_px, int) and 1 <= module_px <= 64):
        raise VisionInputError(f"module_px must be an int 1..64, got {module_px!r}")
    try:
        bc = zxingcpp.create_barcode(str(text), f)
    except (ValueError, RuntimeError) as exc:
        raise VisionInputError(f"cannot encode {text!r} as {fmt}: {exc}") from None
    return np.ascontiguousarray(np.asarray(bc.to_image(scale=module_px)), dtype=np.uint8)
