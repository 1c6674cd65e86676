"""Differential-thrust allocation for a twin-thruster boat, with saturation handling.

Two fixed, parallel thrusters push along the body x axis (REP-103 body frame: x forward,
y left), the left one at ``y = left_y_m > 0``, the right one at ``y = right_y_m < 0``
(WAM-V, VRX ``wamv_aft_thrusters.xacro``: ``y = +-1.027 m``). A force ``T`` at lateral
offset ``y`` gives a surge force ``T`` and a yaw moment ``-y T``, so

    tau_X = T_L + T_R,        tau_N = -(y_L T_L + y_R T_R).

The unconstrained solution is the 2x2 inverse. Each thruster is limited to
``[-max_reverse_n, max_forward_n]`` (reverse thrust is weaker on propeller thrusters; the
VRX WAM-V thruster config gives 2353.5 N forward and gz-sim's default -1000 N). When the
demand is outside that box the yaw moment has priority (Fossen, *Handbook of Marine Craft
Hydrodynamics and Motion Control*, 2nd ed., Wiley 2021, chapter "Control allocation":
saturation and prioritisation): heading is what keeps a boat on its path, whereas a
temporarily lower surge force only costs speed. The allocation

1. clips ``tau_N`` to the largest moment the box can give at all (a box corner),
2. on the line of thrust pairs that give exactly that moment, takes the surge force
   closest to ``tau_X`` that stays inside the box (a segment: the surge force is linear
   and monotonic along it, so this is a clip of ``tau_X`` to the segment's image).

The result is exact whenever the demand is feasible, never leaves the box and is never
non-finite: a non-finite demand raises :class:`AllocationError` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Relative tolerance used to decide that a demand was clipped.
_SAT_TOL = 1e-9


class AllocationError(ValueError):
    """The demand or the thruster layout cannot be allocated; the message says why."""


@dataclass(frozen=True)
class ThrusterConfig:
    """Layout and limits of the two thrusters (SI units)."""

    left_y_m: float = 1.027135     #: lateral offset of the left thruster (> 0) [m]
    right_y_m: float = -1.027135   #: lateral offset of the right thruster (< 0) [m]
    max_forward_n: float = 2353.5  #: forward thrust limit per thruster [N]
    max_reverse_n: float = 1000.0  #: reverse thrust limit per thruster (magnitude) [N]

    def __post_init__(self) -> None:
        """Reject layouts without yaw authority and non-finite or negative limits."""
        for name, value in vars(self).items():
            if not math.isfinite(value):
                raise AllocationError(f"{name} must be finite, got {value}")
        if not (self.left_y_m > 0.0 > self.right_y_m):
            raise AllocationError(
                f"need left_y_m > 0 > right_y_m for yaw authority, got {self.left_y_m}, "
                f"{self.right_y_m}")
        if self.max_forward_n <= 0.0 or self.max_reverse_n < 0.0:
            raise AllocationError(
                f"need max_forward_n > 0 and max_reverse_n >= 0, got {self.max_forward_n}, "
                f"{self.max_reverse_n}")

    @classmethod
    def from_hull(cls, hull: Any) -> ThrusterConfig:
        """Build from a record with ``thruster_y_m``, ``thrust_fwd_max_n``, ``thrust_rev_max_n``.

        Duck-typed so that dg_autonomy does not import the simulator: works with
        ``dg_sim.usv.dynamics.HullParams`` (symmetric thrusters at ``+-thruster_y_m``).
        """
        y = abs(float(hull.thruster_y_m))
        return cls(left_y_m=y, right_y_m=-y, max_forward_n=float(hull.thrust_fwd_max_n),
                   max_reverse_n=abs(float(hull.thrust_rev_max_n)))

    @property
    def max_yaw_moment_nm(self) -> float:
        """Largest |tau_N| the thrusters can give (at zero-or-any surge force)."""
        return max(abs(_moment(self, tl, tr)) for tl, tr in _corners(self))

    def wrench(self, left_n: float, right_n: float) -> tuple[float, float]:
        """Surge force [N] and yaw moment [N m] of a thrust pair."""
        return left_n + right_n, _moment(self, left_n, right_n)


def _moment(cfg: ThrusterConfig, left_n: float, right_n: float) -> float:
    return -(cfg.left_y_m * left_n + cfg.right_y_m * right_n)


def _corners(cfg: ThrusterConfig) -> tuple[tuple[float, float], ...]:
    lo, hi = -cfg.max_reverse_n, cfg.max_forward_n
    return ((lo, lo), (lo, hi), (hi, lo), (hi, hi))


def allocate(tau_x_n: float, tau_n_nm: float,
             params: ThrusterConfig) -> tuple[float, float, bool]:
    """Thrusts ``(left_n, right_n, saturated)`` that realise ``(tau_x_n, tau_n_nm)``.

    Yaw moment first: see the module docstring. ``saturated`` is True when the demand had
    to be reduced (then the returned pair is the best feasible one).

    Raises:
        AllocationError: if a demand is NaN or infinite.

    """
    if not (math.isfinite(tau_x_n) and math.isfinite(tau_n_nm)):
        raise AllocationError(f"non-finite demand tau_x={tau_x_n}, tau_n={tau_n_nm}")
    lo, hi = -params.max_reverse_n, params.max_forward_n
    yl, yr = params.left_y_m, params.right_y_m
    moments = [_moment(params, tl, tr) for tl, tr in _corners(params)]
    n_min, n_max = min(moments), max(moments)
    tau_n = min(max(tau_n_nm, n_min), n_max)
    saturated = abs(tau_n - tau_n_nm) > _SAT_TOL * max(1.0, abs(tau_n_nm))
    # On the moment line: T_R = (-tau_n - yl T_L) / yr, i.e. T_R = a + b T_L with b > 0.
    a, b = -tau_n / yr, -yl / yr
    # T_L range for which T_R is inside [lo, hi], intersected with [lo, hi].
    tl_lo = max(lo, (lo - a) / b)
    tl_hi = min(hi, (hi - a) / b)
    if tl_lo > tl_hi:  # only by rounding at a corner
        tl_lo = tl_hi = 0.5 * (tl_lo + tl_hi)
    # Surge force along the line: tau_X = T_L + a + b T_L, increasing in T_L.
    x_lo, x_hi = a + (1.0 + b) * tl_lo, a + (1.0 + b) * tl_hi
    tau_x = min(max(tau_x_n, x_lo), x_hi)
    if abs(tau_x - tau_x_n) > _SAT_TOL * max(1.0, abs(tau_x_n)):
        saturated = True
    left = min(max((tau_x - a) / (1.0 + b), lo), hi)
    right = min(max(a + b * left, lo), hi)
    return float(left), float(right), saturated
