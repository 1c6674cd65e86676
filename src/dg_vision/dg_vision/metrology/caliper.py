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
   another edge (a sample of the other sign within two), the three-sample fit is used. The
   profile runs a few px past both ends of the caliper, so an edge at an end is fitted on
   real grey values, never on padding.

Pairs: each edge is paired with the next one of opposite polarity (``polarity`` chooses the
polarity of the first edge of a pair); width = distance between the two along the caliper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy.ndimage import correlate1d

from dg_vision.errors import VisionInputError
from dg_vision.image import to_gray
from dg_vision.metrology._robust import subpixel_peak

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


def _number(v: object, name: str) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise VisionInputError(f"{name} must be a number, got {v!r}") from None


def _check_params(width: object, sigma: object, threshold: object, polarity: object
                  ) -> tuple[float, float, float]:
    """Checked caliper parameters as floats (width [px], sigma [px], threshold [grey])."""
    width = _number(width, "caliper width")
    sigma = _number(sigma, "caliper sigma")
    threshold = _number(threshold, "caliper threshold")
    if not (math.isfinite(width) and 1.0 <= width <= 1000.0):
        raise VisionInputError(f"caliper width must be 1..1000 px, got {width!r}")
    if not (math.isfinite(sigma) and 0.4 <= sigma <= 50.0):
        raise VisionInputError(f"caliper sigma must be 0.4..50 px, got {sigma!r}")
    if not (math.isfinite(threshold) and threshold >= 0.0):
        raise VisionInputError(f"caliper threshold must be >= 0 grey levels, got {threshold!r}")
    if polarity not in _POLARITIES:
        raise VisionInputError(f"polarity must be one of {_POLARITIES}, got {polarity!r}")
    return width, sigma, threshold


def _check_inside(xs: np.ndarray, ys: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    h, w = shape[:2]
    tol = 0.5
    if (xs.min() < -tol or ys.min() < -tol or xs.max() > w - 1 + tol
            or ys.max() > h - 1 + tol):
        raise VisionInputError(
            f"{what} leaves the {w}x{h} image (x {xs.min():.1f}..{xs.max():.1f}, "
            f"y {ys.min():.1f}..{ys.max():.1f})")


# --- the 1D measure ----------------------------------------------------------------------

#: Most bilinear samples one call may take (calipers x width x length): 16 M samples keep
#: the coordinate arrays near 128 MB each; more is a wrong parameter, not an inspection.
_MAX_SAMPLES = 1 << 24
_REMAP_COLS = 8192   # cv2.remap needs maps narrower than 32767 px


def _dog_kernel(sigma: float) -> np.ndarray:
    """Derivative-of-Gaussian kernel (for correlation) scaled to step-height amplitude."""
    r = max(2, int(math.ceil(4.0 * sigma)))
    k = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (k / sigma) ** 2)
    dg = k * g
    # Unit ramp -> derivative 1 (sum k * dg = 1), then x sqrt(2 pi) sigma: step h -> h.
    dg /= float(np.sum(k * dg))
    return dg * math.sqrt(2.0 * math.pi) * sigma


def _grid(width: float, sigma: float, length: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Sampling grid of a caliper: ``s`` along, ``t`` across [px], and the margin.

    ``s`` runs in 1 px steps from -margin to floor(length) + margin, ``t`` has ``width``
    samples over +-(width - 1) / 2. The margin (kernel radius + 3: the peak +-1, the fit
    +-2) makes every derivative sample that an edge in [0, length] is fitted on come from
    real profile samples.
    """
    margin = len(_dog_kernel(sigma)) // 2 + 3
    s = np.arange(-margin, int(math.floor(length)) + 1 + margin, dtype=np.float64)
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    nw = max(1, int(round(width)))
    t = np.linspace(-half, half, nw) if nw > 1 else np.zeros(1)
    return s, t, margin


def _sample(gray: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples (float32) of a uint8 image at float coordinates (any shape).

    Only the bounding box of the coordinates (+2 px) is converted to float; outside the
    image the border is replicated (as ``cv2.BORDER_REPLICATE`` on the whole image).
    """
    if xs.size > _MAX_SAMPLES:
        raise VisionInputError(f"caliper needs {xs.size} samples (> {_MAX_SAMPLES}): "
                               f"too many calipers, too wide or too long")
    h, w = gray.shape[:2]
    x0 = min(max(int(math.floor(float(xs.min()))) - 2, 0), w - 1)
    y0 = min(max(int(math.floor(float(ys.min()))) - 2, 0), h - 1)
    x1 = max(min(int(math.ceil(float(xs.max()))) + 2, w - 1), x0)
    y1 = max(min(int(math.ceil(float(ys.max()))) + 2, h - 1), y0)
    crop = gray[y0:y1 + 1, x0:x1 + 1].astype(np.float32)
    n = xs.size
    cols = min(n, _REMAP_COLS)
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = xs.reshape(-1) - x0
    my[:n] = ys.reshape(-1) - y0
    out = cv2.remap(crop, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1)[:n].reshape(xs.shape)


def _profiles(gray: np.ndarray, xs: np.ndarray, ys: np.ndarray, core: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Profiles (K, ns) of K calipers sampled at (K, nw, ns) coordinates, and insideness.

    The profile is the mean across the width; ``inside`` (K,) says whether each caliper's
    ``core`` samples (along s) lie inside the image.
    """
    h, w = gray.shape[:2]
    cx, cy = xs[:, :, core], ys[:, :, core]
    inside = ((cx >= -0.5) & (cx <= w - 0.5) & (cy >= -0.5) & (cy <= h - 0.5)).all(axis=(1, 2))
    return _sample(gray, xs, ys).mean(axis=1, dtype=np.float64), inside


def _edges(prof: np.ndarray, sigma: float, threshold: float, polarity: str, margin: int,
           length: float) -> list[list[tuple[float, float]]]:
    """Edges of K profiles (K, ns) sampled at s = (i - margin) px.

    Per profile [(s, amplitude)] with s in [0, length], in profile order.
    """
    kern = _dog_kernel(sigma)
    r = len(kern) // 2
    # Valid part only: d[:, i] is the derivative at s = i + r - margin.
    d = correlate1d(prof, kern, axis=-1, mode="nearest")[:, r:prof.shape[1] - r]
    off = margin - r
    a = np.abs(d)
    n = d.shape[1]
    mid = a[:, 1:-1]
    peak = (mid >= a[:, :-2]) & (mid > a[:, 2:]) & (mid >= max(threshold, 1e-9))
    if polarity == "rising":
        peak &= d[:, 1:-1] > 0
    elif polarity == "falling":
        peak &= d[:, 1:-1] < 0
    out: list[list[tuple[float, float]]] = [[] for _ in range(len(prof))]
    ks, js = np.nonzero(peak)
    if len(ks) == 0:
        return out
    js = js + 1
    sgn = np.sign(d[ks, js])
    # Gaussian fit over 5 samples where all five have the peak's sign: weighted least-squares
    # parabola through log|d| (weights |d|: the log of a noisy sample has sd ~ noise / |d|).
    win = np.clip(js[:, None] + np.arange(-2, 3)[None, :], 0, n - 1)
    five = (js >= 2) & (js < n - 2) & np.all(np.sign(d[ks[:, None], win]) == sgn[:, None],
                                              axis=1)
    delta = np.zeros(len(ks))
    amp = np.zeros(len(ks))
    if five.any():
        yy = a[ks[five, None], win[five]]                         # (P, 5), all > 0
        x5 = np.arange(-2.0, 3.0)
        v5 = np.stack([x5 * x5, x5, np.ones(5)], axis=1)
        vw = v5[None, :, :] * yy[:, :, None]
        sol = np.linalg.solve(np.einsum("pik,pil->pkl", vw, vw),
                              np.einsum("pik,pi->pk", vw, np.log(yy) * yy)[:, :, None])[:, :, 0]
        good = sol[:, 0] < 0
        dl = np.where(good, -sol[:, 1] / (2.0 * np.where(good, sol[:, 0], -1.0)), 2.0)
        good &= np.abs(dl) <= 1.0
        idx = np.flatnonzero(five)[good]
        s0 = sol[good]
        delta[idx] = dl[good]
        amp[idx] = np.exp(s0[:, 2] - s0[:, 1] ** 2 / (4.0 * s0[:, 0]))
        five[np.flatnonzero(five)[~good]] = False
    three = ~five
    if three.any():
        y = d[ks[three, None], js[three, None] + np.arange(-1, 2)[None, :]] * sgn[three, None]
        delta[three], amp[three] = subpixel_peak(y[:, 0], y[:, 1], y[:, 2])
    s = js + delta - off
    keep = (s >= -1e-9) & (s <= length + 1e-9)
    for k, si, am in zip(ks[keep], s[keep], (amp * sgn)[keep], strict=True):
        out[k].append((float(si), float(am)))
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
    width, sigma, threshold = _check_params(width, sigma, threshold, polarity)
    length = float(np.hypot(*(b - a)))
    if length < 2.0:
        raise VisionInputError(f"caliper line {tuple(a)} -> {tuple(b)} is shorter than 2 px")
    u = (b - a) / length
    v = np.array([-u[1], u[0]])
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    corners = np.array([a + v * half, a - v * half, b + v * half, b - v * half])
    _check_inside(corners[:, 0], corners[:, 1], gray.shape, "caliper band")
    # The band is inside, so the one-caliper rake finds its edges.
    edges = _parallel_edges(gray, a[None, :], u, length, width=width, sigma=sigma,
                            threshold=threshold, polarity=polarity)[0]
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
    cy - r sin a)); the arc runs from a0 to a1 (a1 < a0 runs clockwise) and sweeps at most
    360 deg. The profile is averaged radially over ``width`` px; ``s`` is the arc length
    from a0 [px]; polarity is along the direction of travel. Raises VisionInputError as
    :func:`measure_edges`.
    """
    gray = to_gray(image)
    c = _point(center, "center")
    width, sigma, threshold = _check_params(width, sigma, threshold, polarity)
    radius = _number(radius, "arc radius")
    a0, a1 = _number(a0_deg, "arc angle a0_deg"), _number(a1_deg, "arc angle a1_deg")
    if not (math.isfinite(a0) and math.isfinite(a1)):
        raise VisionInputError("arc angles must be finite")
    if abs(a1 - a0) > 360.0:
        raise VisionInputError(f"arc {a0}..{a1} deg sweeps more than 360 deg")
    half = (width - 1.0) / 2.0 if width > 1.0 else 0.0
    if not (math.isfinite(radius) and radius - half >= 1.0):
        raise VisionInputError(f"arc radius {radius!r} must exceed width/2 + 1 px")
    sweep = math.radians(a1 - a0)
    length = abs(sweep) * radius
    if length < 2.0:
        raise VisionInputError(f"arc {a0}..{a1} deg at r={radius} is shorter than 2 px")
    s, t, margin = _grid(width, sigma, length)
    ang = math.radians(a0) + math.copysign(1.0, sweep) * s / radius
    rr = radius + t
    xs = c[0] + rr[:, None] * np.cos(ang)[None, :]
    ys = c[1] - rr[:, None] * np.sin(ang)[None, :]
    core = (s >= 0) & (s <= length)
    _check_inside(xs[:, core], ys[:, core], gray.shape, "arc caliper band")
    prof, _ = _profiles(gray, xs[None], ys[None], core)
    out = []
    for si, amp in _edges(prof, sigma, threshold, polarity, margin, length)[0]:
        th = math.radians(a0) + math.copysign(si / radius, sweep)
        out.append(_make_edge(c[0] + radius * math.cos(th), c[1] - radius * math.sin(th),
                              si, amp))
    return out


def _radial_edges(gray: np.ndarray, center: np.ndarray, r0: float, r1: float,
                  angles_rad: np.ndarray, *, width: float, sigma: float, threshold: float,
                  polarity: str) -> list[list[tuple[float, float]]]:
    """Edges along rays from radius r0 to r1 at each angle (one batched sampling).

    Parameters already checked by the caller. Returns per ray a list of (r, amplitude) with r
    the radius of the edge; rays leaving the image yield no edges. Used by
    :func:`dg_vision.metrology.fitting.find_circle`.
    """
    length = r1 - r0
    s, t, margin = _grid(width, sigma, length)
    rad = r0 + s
    # The profile is averaged along arcs (constant radius), not along straight tangents,
    # so a circle centred on ``center`` is not biased inwards by the width averaging.
    r_mid = max(0.5 * (r0 + r1), 1.0)
    ang = angles_rad[:, None, None] + (t / r_mid)[None, :, None]      # (rays, nw, 1)
    xs = center[0] + np.cos(ang) * rad[None, None, :]
    ys = center[1] - np.sin(ang) * rad[None, None, :]
    prof, inside = _profiles(gray, xs, ys, (s >= 0) & (s <= length))
    per = _edges(prof, sigma, threshold, polarity, margin, length)
    return [[(r0 + si, amp) for si, amp in e] if ok else [] for e, ok in zip(per, inside,
                                                                            strict=True)]


def _parallel_edges(gray: np.ndarray, starts: np.ndarray, direction: np.ndarray,
                    length: float, *, width: float, sigma: float, threshold: float,
                    polarity: str) -> list[list[tuple[float, float]]]:
    """Edges along parallel calipers (a "rake") in one batched sampling.

    Parameters already checked by the caller. ``starts`` (N, 2) caliper starts, all running
    ``length`` px along the unit ``direction``; returns per caliper a list of
    (s, amplitude); calipers whose band leaves the image yield no edges. Used by
    :func:`measure_edges` and :func:`dg_vision.metrology.fitting.find_line`.
    """
    u = np.asarray(direction, dtype=np.float64)
    v = np.array([-u[1], u[0]])
    s, t, margin = _grid(width, sigma, length)
    st = np.asarray(starts, dtype=np.float64).reshape(-1, 2)
    xs = st[:, 0, None, None] + s[None, None, :] * u[0] + t[None, :, None] * v[0]
    ys = st[:, 1, None, None] + s[None, None, :] * u[1] + t[None, :, None] * v[1]
    prof, inside = _profiles(gray, xs, ys, (s >= 0) & (s <= length))
    per = _edges(prof, sigma, threshold, polarity, margin, length)
    return [e if ok else [] for e, ok in zip(per, inside, strict=True)]
