"""Robust geometric fitting of lines, circles and ellipses to 2D points, and circle finding.

Every fit runs the same three stages:

1. **LMedS** (least median of squares, Rousseeuw 1984) over seeded random minimal samples
   (2 points for a line, 3 for a circle, 5 for an ellipse): tolerates up to ~50 % outliers
   without a threshold to tune; the robust scale is sigma = 1.4826 (1 + 5 / (n - p))
   sqrt(median r^2);
2. **IRLS with Tukey's biweight** (c = 4.685 sigma) on *geometric* residuals, the distance
   of each point to the curve (orthogonal regression for the line, |‖p - c‖ - r| with a
   Gauss-Newton step for the circle, the exact point-to-ellipse distance for the ellipse),
   not on algebraic ones, which bias the radius and centre of noisy or partial arcs;
3. inliers = |residual| <= 2.5 sigma (at least 1e-9 px); ``rms`` is the RMS geometric
   residual of the inliers.

Determinism: the random samples come from ``numpy.random.default_rng(seed)`` (seed 0 by
default).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares

from dg_vision.errors import VisionInputError
from dg_vision.image import to_gray
from dg_vision.metrology._robust import MIN_SCALE as _MIN_SCALE
from dg_vision.metrology._robust import robust_scale as _scale
from dg_vision.metrology._robust import screen_angle_deg
from dg_vision.metrology._robust import tukey_weights as _tukey
from dg_vision.metrology.caliper import (
    Polarity,
    _check_params,
    _number,
    _parallel_edges,
    _point,
    _radial_edges,
)

_INLIER_K = 2.5


@dataclass(frozen=True)
class LineFit:
    """A fitted line.

    Through ``point`` (x, y) with unit ``direction``; ``rms`` [px] of the inliers;
    ``inliers`` a bool mask over the input points.
    """

    point: tuple[float, float]
    direction: tuple[float, float]
    rms: float
    inliers: np.ndarray

    @property
    def angle_deg(self) -> float:
        """Direction angle, counter-clockwise on screen from +x, in (-90, 90]."""
        return screen_angle_deg(math.atan2(self.direction[1], self.direction[0]))

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance of (N, 2) points to the line [px]."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        n = np.array([-self.direction[1], self.direction[0]])
        return (p - np.asarray(self.point)) @ n


@dataclass(frozen=True)
class CircleFit:
    """A fitted circle.

    Centre (cx, cy) and radius r [px]; ``rms`` [px] of the inliers (a roundness
    measure); ``inliers`` a bool mask over the input points.
    """

    cx: float
    cy: float
    r: float
    rms: float
    inliers: np.ndarray


@dataclass(frozen=True)
class EllipseFit:
    """A fitted ellipse.

    Centre, semi-axes a >= b [px], ``angle_deg`` of the a axis (counter-clockwise
    on screen from +x, in (-90, 90]); ``rms`` [px] of the inliers; ``inliers`` mask.
    """

    cx: float
    cy: float
    a: float
    b: float
    angle_deg: float
    rms: float
    inliers: np.ndarray


# --- input -------------------------------------------------------------------------------

def _points(points: object, need: int, what: str) -> np.ndarray:
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise VisionInputError(f"{what}: points must be an (N, 2) array of numbers") from None
    if p.ndim != 2 or p.shape[1] != 2:
        raise VisionInputError(f"{what}: points must be (N, 2), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise VisionInputError(f"{what}: points contain NaN or infinite values")
    if len(p) < need:
        raise VisionInputError(f"{what}: need at least {need} points, got {len(p)}")
    return p


def _n_trials(n: int, p: int) -> int:
    # Enough samples for 99.9 % confidence of one clean sample at 50 % outliers, capped.
    return int(min(500, max(30, math.ceil(math.log(1e-3) / math.log(1 - 0.5 ** p)))))


def _eval_points(p: np.ndarray, seed: int, limit: int = 1000) -> np.ndarray:
    """The points on which LMedS medians are evaluated.

    All of them, or a seeded random subset of ``limit`` (the median of 1000 residuals tests
    a model as well as the median of all, and keeps trials x points bounded).
    """
    if len(p) <= limit:
        return p
    idx = np.random.default_rng(seed + 1).choice(len(p), limit, replace=False)
    return p[np.sort(idx)]


def _distinct(p: np.ndarray) -> np.ndarray:
    """The distinct points of ``p`` in their first-seen order.

    The LMedS samples are drawn from these: repeated points make degenerate minimal samples.
    """
    _, first = np.unique(p, axis=0, return_index=True)
    return p if len(first) == len(p) else p[np.sort(first)]


def _samples(n: int, p: int, trials: int, seed: int) -> np.ndarray:
    # Callers sample only from more than p (distinct) points.
    rng = np.random.default_rng(seed)
    if n <= 64:
        keys = rng.random((trials, n))
        return np.argpartition(keys, p - 1, axis=1)[:, :p]
    # Large n: draw with replacement and drop the (rare) samples with a repeated index.
    idx = rng.integers(0, n, size=(2 * trials, p))
    srt = np.sort(idx, axis=1)
    ok = np.all(srt[:, 1:] != srt[:, :-1], axis=1)
    return idx[ok][:trials]


# --- line --------------------------------------------------------------------------------

def _line_ls(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ws = w.sum()
    c = (p * w[:, None]).sum(axis=0) / ws
    d = p - c
    cov = (d * w[:, None]).T @ d
    evals, evecs = np.linalg.eigh(cov)
    direction = evecs[:, 1]
    if direction[0] < 0 or (direction[0] == 0 and direction[1] < 0):
        direction = -direction
    return c, direction


def _line_res(p: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    return (p - c) @ np.array([-d[1], d[0]])


def fit_line(points: np.ndarray, *, seed: int = 0, max_iter: int = 20) -> LineFit:
    """Robust orthogonal line fit to (N >= 2, 2) points (LMedS + Tukey IRLS).

    Raises:
        VisionInputError: not (N, 2), NaN, fewer than 2 points, or all points coincide.

    """
    p = _points(points, 2, "fit_line")
    if float(np.ptp(p, axis=0).max()) < 1e-12:
        raise VisionInputError("fit_line: all points coincide, the direction is undefined")
    n = len(p)
    uq = _distinct(p)
    c = direction = None
    if len(uq) >= 4:
        idx = _samples(len(uq), 2, _n_trials(len(uq), 2), seed)
        a, b = uq[idx[:, 0]], uq[idx[:, 1]]
        d = b - a
        ln = np.hypot(d[:, 0], d[:, 1])
        ok = ln > 1e-12
        if ok.any():
            a, d = a[ok], d[ok] / ln[ok, None]
            nrm = np.stack([-d[:, 1], d[:, 0]], axis=1)
            pe = _eval_points(p, seed)
            res = np.einsum("tnk,tk->tn", pe[None, :, :] - a[:, None, :], nrm)
            best = int(np.argmin(np.median(res * res, axis=1)))
            c, direction = a[best], d[best]
    if c is None:
        c, direction = _line_ls(p, np.ones(n))
    sigma = _scale(_line_res(p, c, direction), 2)
    for _ in range(max_iter):
        w = _tukey(_line_res(p, c, direction), sigma)
        if w.sum() < 2 or np.count_nonzero(w) < 2:
            break
        c_new, d_new = _line_ls(p, w)
        r = _line_res(p, c_new, d_new)
        sigma = _scale(r[w > 0], 2)
        done = np.hypot(*(c_new - c)) < 1e-10 and abs(abs(d_new @ direction) - 1) < 1e-14
        c, direction = c_new, d_new
        if done:
            break
    r = _line_res(p, c, direction)
    inl = np.abs(r) <= max(_INLIER_K * sigma, _MIN_SCALE)
    if inl.sum() >= 2:
        c, direction = _line_ls(p, inl.astype(np.float64))
        r = _line_res(p, c, direction)
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(direction))):
        raise VisionInputError("fit_line: the points do not determine a line")
    rms = float(np.sqrt(np.mean(r[inl] ** 2))) if inl.any() else math.nan
    return LineFit((float(c[0]), float(c[1])), (float(direction[0]), float(direction[1])),
                   rms, inl)


# --- circle ------------------------------------------------------------------------------

def _circle_algebraic(p: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted Kasa fit (start value only)."""
    a = np.c_[p, np.ones(len(p))]
    b = (p * p).sum(axis=1)
    sw = np.sqrt(w)
    sol, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + cx * cx + cy * cy
    return float(cx), float(cy), float(math.sqrt(max(r2, 0.0)))


def _circle_res(p: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    return np.hypot(p[:, 0] - cx, p[:, 1] - cy) - r


def _circle_geometric(p: np.ndarray, w: np.ndarray, cx: float, cy: float, r: float,
                      iters: int = 10) -> tuple[float, float, float]:
    """Weighted Gauss-Newton on the geometric distance ||p - c|| - r."""
    for _ in range(iters):
        dx, dy = p[:, 0] - cx, p[:, 1] - cy
        dist = np.maximum(np.hypot(dx, dy), 1e-12)
        res = dist - r
        jac = np.stack([-dx / dist, -dy / dist, -np.ones(len(p))], axis=1)
        sw = np.sqrt(w)
        step, *_ = np.linalg.lstsq(jac * sw[:, None], -res * sw, rcond=None)
        cx, cy, r = cx + step[0], cy + step[1], r + step[2]
        if np.abs(step).max() < 1e-10:
            break
    return float(cx), float(cy), float(abs(r))


def fit_circle(points: np.ndarray, *, seed: int = 0, max_iter: int = 20) -> CircleFit:
    """Robust geometric circle fit to (N >= 3, 2) points.

    LMedS + Tukey IRLS + Gauss-Newton on the orthogonal distance.

    Raises:
        VisionInputError: not (N, 2), NaN, fewer than 3 points, or collinear points.

    """
    p = _points(points, 3, "fit_circle")
    n = len(p)
    ctr = p.mean(axis=0)
    spread = float(np.sqrt(((p - ctr) ** 2).sum(axis=1).mean()))
    if spread < 1e-9 or np.linalg.svd(p - ctr, compute_uv=False)[1] < 1e-9 * max(spread, 1):
        raise VisionInputError("fit_circle: the points are collinear or coincide")
    uq = _distinct(p)
    d = np.zeros(0)
    if len(uq) >= 5:
        idx = _samples(len(uq), 3, _n_trials(len(uq), 3), seed)
        a, b, c = uq[idx[:, 0]], uq[idx[:, 1]], uq[idx[:, 2]]
        # Circumcircle of each triple.
        d = 2.0 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1])
                   + c[:, 0] * (a[:, 1] - b[:, 1]))
        ok = np.abs(d) > 1e-9 * spread ** 2
        a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    if len(d):
        sa, sb, sc = (a * a).sum(1), (b * b).sum(1), (c * c).sum(1)
        ux = (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d
        uy = (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d
        rr = np.hypot(a[:, 0] - ux, a[:, 1] - uy)
        pe = _eval_points(p, seed)
        res = np.hypot(pe[None, :, 0] - ux[:, None], pe[None, :, 1] - uy[:, None]) - rr[:, None]
        best = int(np.argmin(np.median(res * res, axis=1)))
        cx, cy, r = float(ux[best]), float(uy[best]), float(rr[best])
        sigma = _scale(_circle_res(p, cx, cy, r), 3)
        w = _tukey(_circle_res(p, cx, cy, r), sigma)
    else:
        # Few (distinct) points or no non-degenerate triple: least-squares start.
        w = np.ones(n)
        cx, cy, r = _circle_algebraic(p, w)
        sigma = _MIN_SCALE
    if n > 3:
        for _ in range(max_iter):
            if np.count_nonzero(w) < 3:
                break
            cx2, cy2, r2 = _circle_geometric(p, w, cx, cy, r)
            res = _circle_res(p, cx2, cy2, r2)
            sigma = _scale(res[w > 0], 3)
            moved = math.hypot(cx2 - cx, cy2 - cy) + abs(r2 - r)
            cx, cy, r = cx2, cy2, r2
            w = _tukey(res, sigma)
            if moved < 1e-9:
                break
    res = _circle_res(p, cx, cy, r)
    inl = np.abs(res) <= max(_INLIER_K * sigma, 1e-9) if n > 3 else np.ones(n, bool)
    if inl.sum() >= 3 and n > 3:
        cx, cy, r = _circle_geometric(p, inl.astype(np.float64), cx, cy, r)
        res = _circle_res(p, cx, cy, r)
    if not all(math.isfinite(v) for v in (cx, cy, r)):
        raise VisionInputError("fit_circle: the points do not determine a circle")
    rms = float(np.sqrt(np.mean(res[inl] ** 2))) if inl.any() else math.nan
    return CircleFit(float(cx), float(cy), float(r), rms, inl)


# --- ellipse -----------------------------------------------------------------------------

def _ellipse_dist(p: np.ndarray, cx: float, cy: float, a: float, b: float,
                  th: float) -> np.ndarray:
    """Signed orthogonal distance (outside > 0) of points to an ellipse.

    ``th`` is the angle of the a axis in image coordinates (the axis is (cos th, sin th)).
    Newton on the parameter of the foot point (Eberly's method, vectorised).
    """
    c, s = math.cos(th), math.sin(th)
    dx, dy = p[:, 0] - cx, p[:, 1] - cy
    x = np.abs(c * dx + s * dy)
    y = np.abs(-s * dx + c * dy)
    a, b = max(a, 1e-12), max(b, 1e-12)
    # Parameterise the foot point (a cos t, b sin t), t in [0, pi/2]; minimise distance.
    t = np.arctan2(a * y, b * x)
    for _ in range(8):
        ct, st = np.cos(t), np.sin(t)
        fx, fy = a * ct - x, b * st - y
        g = -a * st * fx + b * ct * fy                 # d/dt of 0.5 |f|^2
        h = (a * st) ** 2 + (b * ct) ** 2 - a * ct * fx - b * st * fy
        t = np.clip(t - g / np.where(np.abs(h) > 1e-12, h, 1e-12), 0.0, math.pi / 2)
    d = np.hypot(a * np.cos(t) - x, b * np.sin(t) - y)
    inside = (x / a) ** 2 + (y / b) ** 2 < 1.0
    return np.where(inside, -d, d)


def _ellipse_from_cv(box: tuple) -> tuple[float, float, float, float, float]:
    (cx, cy), (w, h), ang = box
    th = math.radians(ang)  # cv2: angle of the "width" axis, clockwise on screen = +y
    a, b = w / 2.0, h / 2.0
    if b > a:
        a, b, th = b, a, th + math.pi / 2
    return float(cx), float(cy), float(a), float(b), float(th)


def _conic_ellipse(p5: np.ndarray) -> tuple[float, float, float, float, float] | None:
    """Ellipse through 5 points (null space of the conic design matrix), None if not one."""
    x, y = p5[:, 0], p5[:, 1]
    m = np.stack([x * x, x * y, y * y, x, y, np.ones(5)], axis=1)
    _, _, vt = np.linalg.svd(m)
    A, B, C, D, E, F = vt[-1]  # noqa: N806 (conic coefficients)
    disc = B * B - 4 * A * C
    if disc >= 0:
        return None
    den = disc
    cx = (2 * C * D - B * E) / den
    cy = (2 * A * E - B * D) / den
    num = 2 * (A * E * E + C * D * D - B * D * E + disc * F)
    root = math.sqrt((A - C) ** 2 + B * B)
    q1, q2 = num * (A + C + root), num * (A + C - root)
    if q1 <= 0 or q2 <= 0:
        return None
    a, b = math.sqrt(q1) / -den, math.sqrt(q2) / -den
    th = 0.5 * math.atan2(-B, C - A)
    if b > a:
        a, b, th = b, a, th + math.pi / 2
    return float(cx), float(cy), float(a), float(b), float(th)


def fit_ellipse(points: np.ndarray, *, seed: int = 0, max_iter: int = 10) -> EllipseFit:
    """Robust geometric ellipse fit to (N >= 5, 2) points.

    LMedS over 5-point conics, then Tukey-weighted least squares on the exact orthogonal
    point-to-ellipse distance (scipy ``least_squares``, Levenberg-Marquardt style TRF).

    Raises:
        VisionInputError: not (N, 2), NaN, fewer than 5 points, degenerate (collinear)
            points, or no ellipse fits them.

    """
    p = _points(points, 5, "fit_ellipse")
    ctr = p.mean(axis=0)
    sv = np.linalg.svd(p - ctr, compute_uv=False)
    if sv[1] < 1e-9 * max(sv[0], 1.0):
        raise VisionInputError("fit_ellipse: the points are collinear or coincide")
    cands = []
    uq = _distinct(p)
    if len(uq) >= 8:
        for s5 in _samples(len(uq), 5, min(_n_trials(len(uq), 5), 300), seed):
            e = _conic_ellipse(uq[s5])
            if e is not None:
                cands.append(e)
    try:
        cands.append(_ellipse_from_cv(cv2.fitEllipseDirect(p.astype(np.float32))))
    except cv2.error:
        pass
    if not cands:
        raise VisionInputError("fit_ellipse: no ellipse fits these points")
    pe = _eval_points(p, seed)
    meds = [float(np.median(_ellipse_dist(pe, *e) ** 2)) for e in cands]
    par = np.array(cands[int(np.argmin(meds))])
    sigma = _scale(_ellipse_dist(p, *par), 5)
    span = float(np.ptp(p, axis=0).max())
    for _ in range(max_iter):
        w = _tukey(_ellipse_dist(p, *par), sigma)
        if np.count_nonzero(w) < 5:
            break
        sw = np.sqrt(w)
        sol = least_squares(lambda q, sw=sw: sw * _ellipse_dist(p, *q), par, method="lm",
                            x_scale=np.array([span, span, span, span, 1.0]), max_nfev=200)
        new = sol.x
        res = _ellipse_dist(p, *new)
        sigma = _scale(res[w > 0], 5)
        moved = float(np.abs(new - par).max())
        par = new
        if moved < 1e-9:
            break
    res = _ellipse_dist(p, *par)
    inl = np.abs(res) <= max(_INLIER_K * sigma, 1e-9)
    cx, cy, a, b, th = (float(v) for v in par)
    a, b = abs(a), abs(b)
    if b > a:
        a, b, th = b, a, th + math.pi / 2
    if not all(math.isfinite(v) for v in (cx, cy, a, b, th)) or b <= 0:
        raise VisionInputError("fit_ellipse: the points do not determine an ellipse")
    ang = screen_angle_deg(th)
    rms = float(np.sqrt(np.mean(res[inl] ** 2))) if inl.any() else math.nan
    return EllipseFit(cx, cy, a, b, ang, rms, inl)


# --- circle finding ----------------------------------------------------------------------

def _min_edges(min_edges: object, least: int, what: str) -> int:
    if not (isinstance(min_edges, numbers.Integral) and 1 <= min_edges <= 100_000):
        raise VisionInputError(f"{what}: min_edges must be an int >= 1, got {min_edges!r}")
    return max(int(min_edges), least)


def find_circle(image: np.ndarray, center_guess: tuple[float, float], radius_guess: float, *,
                search: float | None = None, rays: int = 64, width: float = 3.0,
                sigma: float = 1.0, threshold: float = 20.0, polarity: Polarity = "any",
                min_edges: int = 8) -> CircleFit:
    """Measure a circular edge (hole, pad, boss) near a guess.

    ``rays`` radial calipers from ``radius_guess - search`` to ``radius_guess + search``
    (``search`` defaults to max(3, radius / 4) px; the outer radius is capped at the
    farthest image corner), each averaged over ``width`` px; on each ray the strongest edge
    of the requested ``polarity`` ("rising" = dark to bright going outwards: a dark hole on a
    bright part) is kept, then :func:`fit_circle` rejects the outliers. Rays that leave the
    image are skipped.

    Raises:
        VisionInputError: bad image or parameters, the annulus entirely outside the image, or
            fewer than ``min_edges`` edge points found (no circle there).

    """
    gray = to_gray(image)
    c = _point(center_guess, "find_circle: center_guess")
    r = _number(radius_guess, "find_circle: radius_guess")
    if not (math.isfinite(r) and r >= 2.0):
        raise VisionInputError(f"find_circle: need a finite radius >= 2 px, got "
                               f"{radius_guess!r}")
    srch = max(3.0, r / 4.0) if search is None else _number(search, "find_circle: search")
    if not (math.isfinite(srch) and srch >= 1.0):
        raise VisionInputError(f"find_circle: search must be >= 1 px, got {search!r}")
    if not (isinstance(rays, numbers.Integral) and 8 <= rays <= 4096):
        raise VisionInputError(f"find_circle: rays must be an int in 8..4096, got {rays!r}")
    width, sigma, threshold = _check_params(width, sigma, threshold, polarity)
    need = _min_edges(min_edges, 3, "find_circle")
    h, w = gray.shape
    if (c[0] + r + srch < 0 or c[1] + r + srch < 0 or c[0] - r - srch > w - 1
            or c[1] - r - srch > h - 1):
        raise VisionInputError(f"find_circle: the search annulus at {tuple(c)} r={r} lies "
                               f"outside the {w}x{h} image")
    # No ray needs to run past the farthest image corner.
    far = max(math.hypot(x - c[0], y - c[1]) for x in (0.0, w - 1.0) for y in (0.0, h - 1.0))
    r0 = max(1.0, r - srch)
    r1 = min(r + srch, far)
    if r0 >= r1:
        raise VisionInputError(f"find_circle: the search annulus {r0:.1f}..{r + srch:.1f} px "
                               f"about {tuple(c)} lies outside the {w}x{h} image")
    rays = int(rays)
    ang = np.arange(rays) * (2.0 * math.pi / rays)
    per_ray = _radial_edges(gray, c, r0, r1, ang, width=width, sigma=sigma,
                            threshold=threshold, polarity=polarity)
    pts = []
    for a, edges in zip(ang, per_ray, strict=True):
        if edges:
            re, _ = max(edges, key=lambda q: abs(q[1]))
            pts.append((c[0] + re * math.cos(a), c[1] - re * math.sin(a)))
    if len(pts) < need:
        raise VisionInputError(f"find_circle: found edges on only {len(pts)} of {rays} rays "
                               f"(need {need}): no circle near {tuple(c)}")
    return fit_circle(np.array(pts))


def find_line(image: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], *,
              search: float = 10.0, calipers: int = 16, width: float = 5.0,
              sigma: float = 1.0, threshold: float = 20.0, polarity: Polarity = "any",
              select: str = "strongest", min_edges: int = 3) -> LineFit:
    """Measure a straight edge near the segment ``p0`` -> ``p1`` (a caliper "rake").

    ``calipers`` calipers evenly spaced along the segment, each crossing it at right
    angles over +-``search`` px (from the right-hand side to the left-hand side of p0 ->
    p1 as seen on screen, which is the direction ``polarity`` refers to; at most the image
    diagonal), averaged over ``width`` px along the segment; on each the ``select``-ed edge
    ("strongest", "first" or "last" along the caliper) is kept, then :func:`fit_line`
    rejects outliers.

    Raises:
        VisionInputError: bad image or parameters, or fewer than ``min_edges`` edges found.

    """
    gray = to_gray(image)
    a = _point(p0, "find_line: p0")
    b = _point(p1, "find_line: p1")
    seg = float(np.hypot(*(b - a)))
    if seg < 2.0:
        raise VisionInputError(f"find_line: segment {tuple(a)} -> {tuple(b)} is shorter than "
                               f"2 px")
    if not (isinstance(calipers, numbers.Integral) and 2 <= calipers <= 1000):
        raise VisionInputError(f"find_line: calipers must be an int 2..1000, got {calipers!r}")
    h, w = gray.shape
    diag = math.hypot(w, h)
    srch = _number(search, "find_line: search")
    if not (math.isfinite(srch) and 1.0 <= srch <= diag):
        raise VisionInputError(f"find_line: search must be 1..{diag:.0f} px (the image "
                               f"diagonal), got {search!r}")
    if select not in ("strongest", "first", "last"):
        raise VisionInputError(f"find_line: select must be strongest, first or last, got "
                               f"{select!r}")
    width, sigma, threshold = _check_params(width, sigma, threshold, polarity)
    need = _min_edges(min_edges, 2, "find_line")
    calipers = int(calipers)
    u = (b - a) / seg
    n = np.array([u[1], -u[0]])           # caliper direction: right side -> left side
    frac = (np.arange(calipers) + 0.5) / calipers
    centres = a[None, :] + frac[:, None] * (b - a)[None, :]
    starts = centres - n * srch
    wid = float(min(width, max(1.0, seg / calipers)))
    per = _parallel_edges(gray, starts, n, 2.0 * srch, width=wid, sigma=sigma,
                          threshold=threshold, polarity=polarity)
    pts = []
    for st, edges in zip(starts, per, strict=True):
        if not edges:
            continue
        if select == "strongest":
            s_, _ = max(edges, key=lambda q: abs(q[1]))
        elif select == "first":
            s_ = edges[0][0]
        else:
            s_ = edges[-1][0]
        pts.append(st + s_ * n)
    if len(pts) < need:
        raise VisionInputError(f"find_line: found edges on only {len(pts)} of {calipers} "
                               f"calipers (need {need})")
    return fit_line(np.array(pts))
