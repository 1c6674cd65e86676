"""Caliper: sub-pixel edges and edge pairs along a line or an arc.

Method (the classic 1D measure of HALCON's ``measure_pos`` / ``measure_pairs``):

1. the grey values are sampled with bilinear interpolation on a grid of 1 px steps along
   the caliper and averaged across it over ``width`` px (perpendicular to a line, radially
   for an arc), which gives a 1D profile with the noise reduced by ~sqrt(width);
2. the profile is convolved with the derivative of a Gaussian of ``sigma`` px, scaled by
   sqrt(2 pi) sigma so that a sharp step of height h crossed at right angles gives an
   amplitude of h (``amplitude`` is in grey levels, signed: positive = dark to bright going
   from ``p0`` to ``p1``; a blurred edge, e.g. with a Gaussian PSF of sigma_e, gives
   h sigma / sqrt(sigma^2 + sigma_e^2), an oblique crossing less again);
3. each local extremum of the derivative whose |amplitude| >= ``threshold`` is an edge; its
   sub-pixel position is the vertex of a parabola fitted to the logarithms of the five
   samples around it, weighted by |derivative| (a Gaussian fit: exact for a
   Gaussian-shaped derivative peak, which a blurred step smoothed by a Gaussian is, where a
   plain parabola is biased by up to ~0.05 px depending on the sub-pixel phase; five
   samples instead of three cut the noise-induced error by ~20 % on blurred edges). Near
   another edge of the same sign or the profile end, the three-sample fit is used.

Pairs: each edge is paired with the next one of opposite polarity (``polarity`` chooses the
polarity of the first edge of a pair); width = distance between the two along the caliper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from dg_vision.errors import VisionInputError
from dg_vision.image import to_gray

Polarity = Literal["any", "rising", "falling"]
_POLARITIES = ("any", "rising", "falling")


@dataclass(frozen=True)
class Edge:
    """One sub-pixel edge.

    Image position (x, y) [px], ``s`` = distance from the caliper
    start along it [px] (arc length for an arc caliper), signed ``amplitude`` [grey levels]
    and ``polarity`` ("rising" = dark to bright along the caliper, else "falling").
    """

    x: float
    y: float
    s: float
    amplitude: float
    polarity: str


@dataclass(frozen=True)
class EdgePair:
    """Two edges of opposite polarity and their distance ``width`` [px] along the caliper."""

    first: Edge
    second: Edge
    width: float


# --- input checks ------------------------------------------------------------------------

def _point(p: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(p, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise VisionInputError(f"{name} must be a point (x, y), got {p!r}") from None
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise VisionInputError(f"{name} must be a finite point (x, y), got {p!r}")
    return arr


def _check_params(width: float, sigma: float, threshold: float, polarity: str) -> None:
    if not (math.isfinite(width) and 1.0 <= width <= 1000.0):
        raise VisionInputError(f"caliper width must be 1..1000 px, got {width!r}")
    if not (math.isfinite(sigma) and 0.4 <= sigma <= 50.0):
        raise VisionInputError(f"caliper sigma must be 0.4..50 px, got {sigma!r}")
    if not (math.isfinite(threshold) and threshold >= 0.0):
        raise VisionInputError(f"caliper threshold must be >= 0 grey levels, got {threshold!r}")
    if polarity not in _POLARITIES:
        raise VisionInputError(f"polarity must be one of {_POLARITIES}, got {polarity!r}")


def _check_inside(xs: np.ndarray, ys: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    h, w = shape[:2]
    tol = 0.5
    if (xs.min() < -tol or ys.min() < -tol or xs.max() > w - 1 + tol
            or ys.max() > h - 1 + tol):
        raise VisionInputError(
            f"{what} leaves the {w}x{h} image (x {xs.min():.1f}..{xs.max():.1f}, "
            f"y {ys.min():.1f}..{ys.max():.1f})")


# --- the 1D measure ----------------------------------------------------------------------

def _dog_kernel(sigma: float) -> np.ndarray:
    """Derivative-of-Gaussian kernel (for np.correlate) scaled to step-height amplitude."""
    r = max(2, int(math.ceil(4.0 * sigma)))
    k = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (k / sigma) ** 2)
    dg = k * g
    # Unit ramp -> derivative 1 (sum k * dg = 1), then x sqrt(2 pi) sigma: step h -> h.
    dg /= float(np.sum(k * dg))
    return dg * math.sqrt(2.0 * math.pi) * sigma


def _sample(gray_f: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float32 image at float coordinates (any shape, 2D arrays)."""
    shp = xs.shape
    mx = np.ascontiguousarray(xs.reshape(shp[0], -1), dtype=np.float32)
    my = np.ascontiguousarray(ys.reshape(shp[0], -1), dtype=np.float32)
    out = cv2.remap(gray_f, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(shp)


def _edges_1d(profile: np.ndarray, sigma: float, threshold: float, polarity: str,
              margin: int, length: float) -> list[tuple[float, float]]:
    """Edges of one profile sampled at s = (i - margin) px: [(s, amplitude)], s in [0, L]."""
    kern = _dog_kernel(sigma)
    r = len(kern) // 2
    padded = np.pad(profile.astype(np.float64), r, mode="edge")
    d = np.correlate(padded, kern, mode="valid")
    a = np.abs(d)
    n = len(d)
    if n < 3:
        return []
    i = np.arange(1, n - 1)
    peak = (a[i] >= a[i - 1]) & (a[i] > a[i + 1]) & (a[i] >= max(threshold, 1e-9))
    if polarity == "rising":
        peak &= d[i] > 0
    elif polarity == "falling":
        peak &= d[i] < 0
    out = []
    x5 = np.arange(-2.0, 3.0)
    v5 = np.stack([x5 * x5, x5, np.ones(5)], axis=1)
    for j in i[peak]:
        y0, y1, y2 = a[j - 1], a[j], a[j + 1]
        sgn = np.sign(d[j])
        if 2 <= j < n - 2 and np.all(np.sign(d[j - 2:j + 3]) == sgn):
            # Gaussian fit over 5 samples: weighted least-squares parabola through
            # log|d| (weights |d|: the log of a noisy sample has sd ~ noise / |d|).
            yy = a[j - 2:j + 3]
            sol, *_ = np.linalg.lstsq(v5 * yy[:, None], np.log(yy) * yy, rcond=None)
            if sol[0] < 0:
                delta = -sol[1] / (2.0 * sol[0])
                if abs(delta) <= 1.0:
                    amp = math.exp(sol[2] - sol[1] * sol[1] / (4.0 * sol[0]))
                    s_ = j + delta - margin
                    if -1e-9 <= s_ <= length + 1e-9:
                        out.append((float(s_), float(math.copysign(amp, d[j]))))
                    continue
        if y0 > 0 and y2 > 0 and np.sign(d[j - 1]) == sgn == np.sign(d[j + 1]):
            l0, l1, l2 = math.log(y0), math.log(y1), math.log(y2)
            den = l0 - 2.0 * l1 + l2
            delta = 0.5 * (l0 - l2) / den if den < 0 else 0.0
            amp = math.exp(l1 - 0.25 * (l0 - l2) * delta)
        else:
            den = y0 - 2.0 * y1 + y2
            delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            amp = y1 - 0.25 * (y0 - y2) * delta
        delta = min(0.5, max(-0.5, delta))
        s = j + delta - margin
        if -1e-9 <= s <= length + 1e-9:
            out.append((float(s), float(math.copysign(amp, d[j]))))
    return out


def _make_edge(x: float, y: float, s: float, amp: float) -> Edge:
    return Edge(float(x), float(y), float(s), float(amp), "rising" if amp > 0 else "falling")


def measure_edges(image: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], *,
                  width: float = 5.0, sigma: float = 1.0, threshold: float = 20.0,
                  polarity: Polarity = "any") -> list[Edge]:
    """Sub-pixel edges crossed by the line ``p0`` -> ``p1``, sorted by ``s``.

    Args:
        image: grey or BGR image (see :func:`dg_vision.image.as_image`).
        p0: caliper start (x, y) [px].
        p1: caliper end (x, y) [px]; the whole band (line +- width / 2) must lie inside
            the image.
        width: band width across the line [px] over which the profile is averaged.
        sigma: Gaussian smoothing of the derivative [px].
        threshold: minimum |amplitude| [grey levels of step height].
        polarity: "rising" (dark to bright from p0 to p1), "falling" or "any".

    Raises:
        VisionInputError: bad image, a line shorter than 2 px, a band outside the image, bad
            parameters.

    """
    gray = to_gray(image)
    a, b = _point(p0, "p0"), _point(p1, "p1")
    width, sigma, threshold = float(width), float(sigma), float(threshold)
    _check_params(width, sigma, threshold, polarity)
    length = float(np.hypot(*(b - a)))
    if length < 2.0:
        raise VisionInputError(f"caliper line {tuple(a)} -> {tuple(b)} is shorter than 2 px")
    u = (b - a) / length
    v = np.array([-u[1], u[0]])
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    corners = np.array([a + v * half, a - v * half, b + v * half, b - v * half])
    _check_inside(corners[:, 0], corners[:, 1], gray.shape, "caliper band")
    margin = int(math.ceil(4.0 * sigma)) + 2
    n = int(math.floor(length)) + 1
    s = np.arange(-margin, n + margin, dtype=np.float64)
    nw = max(1, int(round(width)))
    t = np.linspace(-half, half, nw) if nw > 1 else np.zeros(1)
    xs = a[0] + s[None, :] * u[0] + t[:, None] * v[0]
    ys = a[1] + s[None, :] * u[1] + t[:, None] * v[1]
    prof = _sample(gray.astype(np.float32), xs, ys).mean(axis=0)
    edges = _edges_1d(prof, sigma, threshold, polarity, margin, length)
    return [_make_edge(a[0] + si * u[0], a[1] + si * u[1], si, amp) for si, amp in edges]


def pair_edges(edges: list[Edge], polarity: Polarity = "any") -> list[EdgePair]:
    """Pair each edge with the next one of opposite polarity.

    ``polarity`` is that of the first edge of a pair ("any" takes whichever comes first);
    left to right, no edge reused.
    """
    if polarity not in _POLARITIES:
        raise VisionInputError(f"polarity must be one of {_POLARITIES}, got {polarity!r}")
    es = sorted(edges, key=lambda e: e.s)
    pairs: list[EdgePair] = []
    i = 0
    while i < len(es) - 1:
        e = es[i]
        if polarity != "any" and e.polarity != polarity:
            i += 1
            continue
        j = i + 1
        while j < len(es) and es[j].polarity == e.polarity:
            j += 1
        if j >= len(es):
            break
        # The edge just before the partner is the one adjacent to it (innermost pairing).
        first = es[j - 1]
        pairs.append(EdgePair(first, es[j], float(es[j].s - first.s)))
        i = j + 1
    return pairs


def measure_pairs(image: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], *,
                  width: float = 5.0, sigma: float = 1.0, threshold: float = 20.0,
                  polarity: Polarity = "any") -> list[EdgePair]:
    """Edge pairs (e.g. the two sides of a bar or a gap) along ``p0`` -> ``p1``.

    Same arguments as :func:`measure_edges`; the edges are found with polarity "any" and
    then paired by :func:`pair_edges` with ``polarity`` = polarity of each pair's first edge
    ("falling" along a dark bar on a bright background, "rising" across a bright bar).
    """
    if polarity not in _POLARITIES:
        raise VisionInputError(f"polarity must be one of {_POLARITIES}, got {polarity!r}")
    edges = measure_edges(image, p0, p1, width=width, sigma=sigma, threshold=threshold,
                          polarity="any")
    return pair_edges(edges, polarity)


def measure_edges_arc(image: np.ndarray, center: tuple[float, float], radius: float,
                      a0_deg: float, a1_deg: float, *, width: float = 5.0, sigma: float = 1.0,
                      threshold: float = 20.0, polarity: Polarity = "any") -> list[Edge]:
    """Edges crossed by the arc of ``radius`` about ``center`` from ``a0_deg`` to ``a1_deg``.

    Angles are counter-clockwise on screen from the +x axis (point = (cx + r cos a,
    cy - r sin a)); the arc runs from a0 to a1 (a1 < a0 runs clockwise). The profile is
    averaged radially over ``width`` px; ``s`` is the arc length from a0 [px]; polarity is
    along the direction of travel. Raises VisionInputError as :func:`measure_edges`.
    """
    gray = to_gray(image)
    c = _point(center, "center")
    radius, width, sigma, threshold = float(radius), float(width), float(sigma), \
        float(threshold)
    _check_params(width, sigma, threshold, polarity)
    if not (math.isfinite(a0_deg) and math.isfinite(a1_deg)):
        raise VisionInputError("arc angles must be finite")
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    if not (math.isfinite(radius) and radius - half >= 1.0):
        raise VisionInputError(f"arc radius {radius!r} must exceed width/2 + 1 px")
    sweep = math.radians(float(a1_deg) - float(a0_deg))
    length = abs(sweep) * radius
    if length < 2.0:
        raise VisionInputError(f"arc {a0_deg}..{a1_deg} deg at r={radius} is shorter than 2 px")
    margin = int(math.ceil(4.0 * sigma)) + 2
    n = int(math.floor(length)) + 1
    s = np.arange(-margin, n + margin, dtype=np.float64)
    ang = math.radians(float(a0_deg)) + np.sign(sweep) * s / radius
    nw = max(1, int(round(width)))
    rr = radius + (np.linspace(-half, half, nw) if nw > 1 else np.zeros(1))
    xs = c[0] + rr[:, None] * np.cos(ang)[None, :]
    ys = c[1] - rr[:, None] * np.sin(ang)[None, :]
    core = (s >= 0) & (s <= length)
    _check_inside(xs[:, core], ys[:, core], gray.shape, "arc caliper band")
    prof = _sample(gray.astype(np.float32), xs, ys).mean(axis=0)
    out = []
    for si, amp in _edges_1d(prof, sigma, threshold, polarity, margin, length):
        t = math.radians(float(a0_deg)) + math.copysign(si / radius, sweep)
        out.append(_make_edge(c[0] + radius * math.cos(t), c[1] - radius * math.sin(t),
                              si, amp))
    return out


def radial_edges(gray: np.ndarray, center: np.ndarray, r0: float, r1: float,
                 angles_rad: np.ndarray, *, width: float = 3.0, sigma: float = 1.0,
                 threshold: float = 20.0, polarity: Polarity = "any"
                 ) -> list[list[tuple[float, float]]]:
    """Edges along rays from radius r0 to r1 at each angle (one batched remap).

    Returns per ray a list of (r, amplitude) with r the radius of the edge; rays leaving the
    image yield no edges. Used by :func:`dg_vision.metrology.fitting.find_circle`.
    """
    length = r1 - r0
    margin = int(math.ceil(4.0 * sigma)) + 2
    n = int(math.floor(length)) + 1
    s = np.arange(-margin, n + margin, dtype=np.float64)
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    nw = max(1, int(round(width)))
    t = np.linspace(-half, half, nw) if nw > 1 else np.zeros(1)
    rad = r0 + s
    # The profile is averaged along arcs (constant radius), not along straight tangents,
    # so a circle centred on ``center`` is not biased inwards by the width averaging.
    r_mid = max(0.5 * (r0 + r1), 1.0)
    ang = angles_rad[:, None, None] + (t / r_mid)[None, :, None]      # (rays, nw, 1)
    xs = center[0] + np.cos(ang) * rad[None, None, :]
    ys = center[1] - np.sin(ang) * rad[None, None, :]
    ux = np.cos(angles_rad)
    h, w = gray.shape[:2]
    core = (s >= 0) & (s <= length)
    inside = ((xs[:, :, core] >= -0.5) & (xs[:, :, core] <= w - 0.5)
              & (ys[:, :, core] >= -0.5) & (ys[:, :, core] <= h - 0.5)).all(axis=(1, 2))
    prof = _sample(gray.astype(np.float32), xs.reshape(len(ux), -1),
                   ys.reshape(len(ux), -1)).reshape(xs.shape).mean(axis=1)
    out: list[list[tuple[float, float]]] = []
    for k in range(len(ux)):
        if not inside[k]:
            out.append([])
            continue
        out.append([(r0 + si, amp) for si, amp in
                    _edges_1d(prof[k], sigma, threshold, polarity, margin, length)])
    return out


def parallel_edges(gray: np.ndarray, starts: np.ndarray, direction: np.ndarray, length: float,
                   *, width: float = 5.0, sigma: float = 1.0, threshold: float = 20.0,
                   polarity: Polarity = "any") -> list[list[tuple[float, float]]]:
    """Edges along parallel calipers (a "rake") in one batched remap.

    ``starts`` (N, 2) caliper starts, all running ``length`` px along the unit
    ``direction``; returns per caliper a list of (s, amplitude); calipers whose band leaves
    the image yield no edges. Used by :func:`dg_vision.metrology.fitting.find_line`.
    """
    u = np.asarray(direction, dtype=np.float64)
    v = np.array([-u[1], u[0]])
    margin = int(math.ceil(4.0 * sigma)) + 2
    n = int(math.floor(length)) + 1
    s = np.arange(-margin, n + margin, dtype=np.float64)
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    nw = max(1, int(round(width)))
    t = np.linspace(-half, half, nw) if nw > 1 else np.zeros(1)
    st = np.asarray(starts, dtype=np.float64).reshape(-1, 2)
    xs = st[:, 0, None, None] + s[None, None, :] * u[0] + t[None, :, None] * v[0]
    ys = st[:, 1, None, None] + s[None, None, :] * u[1] + t[None, :, None] * v[1]
    h, w = gray.shape[:2]
    core = (s >= 0) & (s <= length)
    inside = ((xs[:, :, core] >= -0.5) & (xs[:, :, core] <= w - 0.5)
              & (ys[:, :, core] >= -0.5) & (ys[:, :, core] <= h - 0.5)).all(axis=(1, 2))
    prof = _sample(gray.astype(np.float32), xs.reshape(len(st), -1),
                   ys.reshape(len(st), -1)).reshape(xs.shape).mean(axis=1)
    return [(_edges_1d(prof[k], sigma, threshold, polarity, margin, length)
             if inside[k] else []) for k in range(len(st))]
