"""Closest point of approach (CPA) and time to it (TCPA) of two constant-velocity vessels.

Both vessels move on straight lines at constant velocity (the usual ARPA/AIS assumption).
With the relative position ``dp = p_tgt - p_own`` and relative velocity ``dv = v_tgt - v_own``
the range is smallest at ``tcpa = -dp.dv / |dv|^2``; ``cpa = |dp + dv * tcpa|``. A negative
TCPA means the vessels are already past their closest point (the range is opening). With
(almost) equal velocities the range never changes: TCPA 0, CPA the present range.

Positions in a local ENU frame [m], velocities [m/s] east/north. :func:`cpa_tcpa` is the
scalar API; :func:`cpa_tcpa_array` and :func:`min_range_within` evaluate many candidate
velocities at once (numpy broadcasting) for the collision avoidance search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Relative speeds below this [m/s] count as "no relative motion" (TCPA 0).
_MIN_REL_SPEED_MPS = 1e-6


class CpaInputError(ValueError):
    """A CPA input is not finite or not a 2-vector."""


def _vec2(what: str, v: Sequence[float]) -> tuple[float, float]:
    try:
        x, y = (float(c) for c in v)
    except (TypeError, ValueError):
        raise CpaInputError(f"{what} must be a 2-vector of numbers, got {v!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CpaInputError(f"{what} must be finite, got ({x}, {y})")
    return x, y


def cpa_tcpa(own_xy: Sequence[float], own_v_enu: Sequence[float],
             tgt_xy: Sequence[float], tgt_v_enu: Sequence[float]) -> tuple[float, float]:
    """CPA distance [m] and TCPA [s] of own ship and a target, both at constant velocity.

    Args:
        own_xy: own position (east, north) [m].
        own_v_enu: own velocity over ground (east, north) [m/s].
        tgt_xy: target position (east, north) [m].
        tgt_v_enu: target velocity over ground (east, north) [m/s].

    Returns:
        ``(cpa_m, tcpa_s)``; ``tcpa_s < 0`` when the closest point is already past (then
        ``cpa_m`` is that past closest distance, smaller than the present range).

    Raises:
        CpaInputError: on a non-finite or malformed input.

    """
    ox, oy = _vec2("own_xy", own_xy)
    ovx, ovy = _vec2("own_v_enu", own_v_enu)
    tx, ty = _vec2("tgt_xy", tgt_xy)
    tvx, tvy = _vec2("tgt_v_enu", tgt_v_enu)
    dx, dy = tx - ox, ty - oy
    dvx, dvy = tvx - ovx, tvy - ovy
    dv2 = dvx * dvx + dvy * dvy
    if dv2 < _MIN_REL_SPEED_MPS ** 2:
        return math.hypot(dx, dy), 0.0
    tcpa = -(dx * dvx + dy * dvy) / dv2
    return math.hypot(dx + dvx * tcpa, dy + dvy * tcpa), tcpa


def cpa_tcpa_array(dp: np.ndarray, dv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised CPA/TCPA from relative positions ``dp`` and velocities ``dv`` (..., 2).

    ``dp`` and ``dv`` broadcast against each other; inputs are trusted (finite), this is the
    inner loop of the avoidance search. Returns ``(cpa_m, tcpa_s)`` of the broadcast shape.
    """
    dv2 = np.einsum("...i,...i->...", dv, dv)
    dot = np.einsum("...i,...i->...", dp, dv)
    moving = dv2 >= _MIN_REL_SPEED_MPS ** 2
    tcpa = np.where(moving, -dot / np.where(moving, dv2, 1.0), 0.0)
    closest = dp + dv * tcpa[..., None]
    return np.hypot(closest[..., 0], closest[..., 1]), tcpa


def min_range_within(dp: np.ndarray, dv: np.ndarray,
                     horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Smallest range [m] over the window ``[0, horizon_s]`` and the time [s] it occurs.

    Like :func:`cpa_tcpa_array` with TCPA clamped to the window: a CPA in the past gives the
    present range, one beyond the horizon gives the range at the horizon.
    """
    _, tcpa = cpa_tcpa_array(dp, dv)
    t = np.clip(tcpa, 0.0, horizon_s)
    closest = dp + dv * t[..., None]
    return np.hypot(closest[..., 0], closest[..., 1]), t


def velocity_enu(course_rad: float, speed_mps: float) -> tuple[float, float]:
    """Velocity (east, north) [m/s] of a course (ENU yaw: 0 = east, CCW) and speed."""
    return speed_mps * math.cos(course_rad), speed_mps * math.sin(course_rad)
