"""Small numeric helpers shared by the metrology tools (no state, no rclpy).

* :func:`robust_scale` and :func:`tukey_weights`: the robust scale estimate and Tukey's
  biweight used by every reweighting loop (line/circle/ellipse fits, shape-match refinement);
* :func:`subpixel_peak`: the Gaussian (log-parabola) vertex through three samples around a
  discrete maximum (caliper edges, shape-match edge look-ups);
* :func:`screen_angle_deg`: an axis angle in image coordinates -> degrees counter-clockwise
  on screen in (-90, 90] (blob and ellipse orientation, line angle).
"""

from __future__ import annotations

import math

import numpy as np

TUKEY_C = 4.685
MIN_SCALE = 1e-9


def robust_scale(r: np.ndarray, p: int, floor: float = MIN_SCALE) -> float:
    """Robust scale of the residuals ``r`` of a ``p``-parameter model.

    sigma = 1.4826 (1 + 5 / (n - p)) sqrt(median r^2) (Rousseeuw & Leroy's LMedS scale), at
    least ``floor``.
    """
    n = len(r)
    corr = 1.0 + 5.0 / max(n - p, 1)
    return max(1.4826 * corr * math.sqrt(float(np.median(r * r))), floor)


def tukey_weights(r: np.ndarray, sigma: float) -> np.ndarray:
    """Tukey's biweight (1 - (r / c sigma)^2)^2 with c = 4.685, 0 beyond c sigma."""
    u = r / (TUKEY_C * sigma)
    return np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)


def subpixel_peak(y0: np.ndarray | float, y1: np.ndarray | float, y2: np.ndarray | float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Vertex offset (in samples, clipped to +-0.5) and height of a peak at the middle sample.

    A parabola through the logarithms of the three samples (a Gaussian fit: exact for a
    Gaussian-shaped peak, where a plain parabola is biased towards the sample) when all three
    are > 0, else through the samples themselves; a non-concave triple gives offset 0.
    Vectorised over arrays of triples.
    """
    y0, y1, y2 = (np.asarray(v, dtype=np.float64) for v in (y0, y1, y2))
    pos = (y0 > 0) & (y1 > 0) & (y2 > 0)
    a0 = np.where(pos, np.log(np.where(pos, y0, 1.0)), y0)
    a1 = np.where(pos, np.log(np.where(pos, y1, 1.0)), y1)
    a2 = np.where(pos, np.log(np.where(pos, y2, 1.0)), y2)
    den = a0 - 2.0 * a1 + a2
    concave = den < 0
    delta = np.where(concave, 0.5 * (a0 - a2) / np.where(concave, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    top = a1 - 0.25 * (a0 - a2) * delta
    return delta, np.where(pos, np.exp(np.where(pos, top, 0.0)), top)


def screen_angle_deg(th_image_rad: float) -> float:
    """Axis angle in image coordinates (towards +y) -> screen angle [deg] in (-90, 90].

    Counter-clockwise on screen from +x, folded as an axis (not a direction).
    """
    ang = (-math.degrees(th_image_rad)) % 180.0
    return float(ang - 180.0 if ang > 90.0 else ang)
