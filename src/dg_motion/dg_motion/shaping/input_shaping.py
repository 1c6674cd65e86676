"""Input shapers for residual vibration suppression: ZV, MZV, ZVD, ZVDD, EI, 2- and 3-hump EI.

An input shaper is a sequence of impulses ``(t_i, A_i)`` with ``A_i > 0`` and ``sum A_i = 1``;
convolving a command with it cancels the residual vibration of a lightly damped mode of
natural frequency ``f`` [Hz] and damping ratio ``zeta``.

References and the facts used:

- N. C. Singer, W. P. Seering, "Preshaping command inputs to reduce system vibration",
  ASME J. Dyn. Sys. Meas. Control 112(1), 1990: the percentage residual vibration of an
  impulse sequence relative to a single unit impulse (``residual_vibration`` below),
  ``V(w, zeta) = exp(-zeta w t_n) sqrt(C^2 + S^2)`` with
  ``C = sum A_i exp(zeta w t_i) cos(w_d t_i)``, ``S = sum A_i exp(zeta w t_i) sin(w_d t_i)``,
  ``w_d = w sqrt(1 - zeta^2)``, ``t_n`` the last impulse time: the shaped command's residual
  amplitude relative to the unshaped one's, each taken the same time after its own end (the
  shaped move ends ``t_n`` later); and the shapers
  ZV ``A = [1, K] / (1 + K)``, ZVD ``A = [1, 2K, K^2] / (1 + K)^2`` (ZVDD: binomial
  ``[1, 3K, 3K^2, K^3] / (1 + K)^3``) at multiples of the half damped period
  ``T_d / 2 = pi / w_d``, with ``K = exp(-zeta pi / sqrt(1 - zeta^2))``.
- MZV (modified ZV, W. Singhose, "Command shaping for flexible systems: a review of the
  first 50 years", Int. J. Precision Eng. Manuf. 10(4), 2009; impulse times as in Klipper's
  ``mzv`` shaper): three impulses 3/8 of a damped period apart (phases 0, 135 deg, 270 deg).
  Zero vibration at the design frequency with the damping weights
  ``x_i = A_i exp(zeta w t_i)`` needs ``x_1 - x_2/sqrt(2) = 0`` (cosine sum) and
  ``x_2/sqrt(2) - x_3 = 0`` (sine sum): ``x = [1, sqrt(2), 1]``, so
  ``A ~ [1, sqrt(2) K_m, K_m^2]`` with ``K_m = exp(-0.75 zeta pi / sqrt(1 - zeta^2))``.
- EI, extra-insensitive (W. Singhose, W. Seering, N. Singer, "Residual vibration reduction
  using vector diagrams to generate shaping inputs", ASME J. Mech. Design 116, 1994) and
  multi-hump EI (W. Singhose, L. Porter, T. Tuttle, N. Singer, "Vibration reduction using
  multi-hump input shapers", ASME J. Dyn. Sys. Meas. Control 119, 1997). Undamped closed
  forms (tolerance ``V``, period ``T``, impulses every ``T/2``):
  EI ``A = [(1+V)/4, (1-V)/2, (1+V)/4]``;
  2-hump ``X = (V^2 (sqrt(1 - V^2) + 1))^(1/3)``, ``A_1 = A_4 = (3X^2 + 2X + 3V^2)/(16X)``,
  ``A_2 = A_3 = 1/2 - A_1``;
  3-hump ``A_1 = A_5 = (1 + 3V + 2 sqrt(2V(V + 1)))/16``, ``A_2 = A_4 = (1 - V)/4``,
  ``A_3 = 1 - 2(A_1 + A_2)``.
  Their defining constraints: the vibration curve ``V(w)`` has ``h`` humps of height exactly
  ``V`` (zero slope there) separated by ``h + 1`` exact zeros, the centre of the curve (a hump
  for odd ``h``, a zero for even ``h``) at the design frequency.
  **With damping** this module solves those constraint equations numerically
  (``scipy.optimize.least_squares`` on the square system: amplitudes, impulse times, the
  zero and hump frequencies as unknowns), carried by continuation in ``zeta`` from the
  undamped closed form. The result agrees with Singhose's published curve fit of the damped
  EI shaper (a test checks it). If a solve does not converge to positive amplitudes at
  increasing times, the closed form with each impulse weighted by ``K^(i-1)`` on the damped
  half-period grid (as Klipper does) is returned instead; ``Shaper.method`` says which.

Frequencies are in [Hz], times in [s]; ``residual_vibration`` returns a fraction (1 = the
vibration of the unshaped command).
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from dg_motion.errors import MotionInputError

#: Largest accepted damping ratio: beyond it a "mode" decays within a period and
#: shaping makes little sense (and the EI constraint solve is untested).
DAMPING_RATIO_MAX = 0.5

#: Largest accepted EI vibration tolerance (Singhose uses 5 %; the 3-hump closed form needs
#: V < 1/3 for a positive middle impulse).
TOLERANCE_MAX = 0.3

#: A converged EI constraint solve has every equation below this (dimensionless).
_EI_SOLVE_TOL = 1e-9


class ShaperKind(enum.Enum):
    """The shaper families (Singer & Seering 1990; Singhose 1994, 1997)."""

    ZV = "zv"      #: zero vibration, 2 impulses, duration T/2
    MZV = "mzv"    #: modified ZV, 3 impulses, duration 3T/4
    ZVD = "zvd"    #: zero vibration and derivative, 3 impulses, duration T
    ZVDD = "zvdd"  #: second derivative too, 4 impulses, duration 3T/2
    EI = "ei"      #: extra-insensitive, 3 impulses, duration T
    EI2 = "ei2"    #: two-hump EI, 4 impulses, duration 3T/2
    EI3 = "ei3"    #: three-hump EI, 5 impulses, duration 2T


@dataclass(frozen=True)
class Shaper:
    """An impulse sequence: times [s] from 0, positive amplitudes summing to 1."""

    times_s: np.ndarray
    amplitudes: np.ndarray
    name: str = "shaper"
    frequency_hz: float = math.nan   #: design frequency (nan for a hand-made sequence)
    damping_ratio: float = 0.0       #: design damping ratio
    method: str = field(default="closed form")  #: how the amplitudes/times were obtained

    def __post_init__(self) -> None:
        """Check the impulses: finite, times from 0 increasing, amplitudes > 0 summing to 1."""
        t = np.asarray(self.times_s, dtype=float).reshape(-1)
        a = np.asarray(self.amplitudes, dtype=float).reshape(-1)
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "amplitudes", a)
        if len(t) == 0 or len(t) != len(a):
            raise MotionInputError(f"shaper {self.name}: {len(t)} times but {len(a)} "
                                   "amplitudes (need the same, at least one)")
        if not (np.isfinite(t).all() and np.isfinite(a).all()):
            raise MotionInputError(f"shaper {self.name}: non-finite impulse time or amplitude")
        if abs(t[0]) > 1e-12 or np.any(np.diff(t) <= 0.0):
            raise MotionInputError(f"shaper {self.name}: impulse times must start at 0 and "
                                   f"increase, got {t.tolist()}")
        if np.any(a <= 0.0) or abs(a.sum() - 1.0) > 1e-9:
            raise MotionInputError(f"shaper {self.name}: amplitudes must be > 0 and sum to 1, "
                                   f"got {a.tolist()}")

    @property
    def duration_s(self) -> float:
        """Time of the last impulse [s]: the delay the shaper adds to a move."""
        return float(self.times_s[-1])


def _damped_factors(zeta: float) -> tuple[float, float]:
    """``(sqrt(1 - zeta^2), K = exp(-zeta pi / sqrt(1 - zeta^2)))``."""
    df = math.sqrt(1.0 - zeta * zeta)
    return df, math.exp(-zeta * math.pi / df)


def _undamped_ei(humps: int, tol: float) -> np.ndarray:
    """Singhose's undamped EI amplitudes (1, 2 or 3 humps), impulses every T/2."""
    if humps == 1:
        return np.array([(1 + tol) / 4, (1 - tol) / 2, (1 + tol) / 4])
    if humps == 2:
        v2 = tol * tol
        x = (v2 * (math.sqrt(1.0 - v2) + 1.0)) ** (1.0 / 3.0)
        a1 = (3 * x * x + 2 * x + 3 * v2) / (16 * x)
        return np.array([a1, 0.5 - a1, 0.5 - a1, a1])
    a1 = (1 + 3 * tol + 2 * math.sqrt(2 * tol * (tol + 1))) / 16
    a2 = (1 - tol) / 4
    return np.array([a1, a2, 1 - 2 * (a1 + a2), a2, a1])


def _vibration_normalised(a: np.ndarray, t: np.ndarray, r: np.ndarray,
                          zeta: float) -> np.ndarray:
    """Residual vibration at angular frequencies ``r`` [rad per unit time] (see module doc)."""
    r = np.asarray(r, dtype=float)[..., None]
    wd = r * math.sqrt(1.0 - zeta * zeta)
    w = a * np.exp(zeta * r * (t - t[-1]))   # exp(-zeta w t_n) folded in: no overflow
    c = np.sum(w * np.cos(wd * t), axis=-1)
    s = np.sum(w * np.sin(wd * t), axis=-1)
    return np.hypot(c, s)


def _ei_residuals(x: np.ndarray, n: int, humps: int, zeta: float, tol: float) -> np.ndarray:
    """Constraint equations of an h-hump EI shaper in normalised units (w_design = 1)."""
    a = x[:n]
    t = np.concatenate([[0.0], x[n:2 * n - 1]])
    rest = x[2 * n - 1:]
    n_zeros = humps + 1 if humps % 2 == 1 else humps   # unknown ones (centre pinned)
    zeros = list(rest[:n_zeros])
    peaks = list(rest[n_zeros:])
    # The centre of the curve is pinned at the design frequency.
    if humps % 2 == 1:
        peaks.insert(humps // 2, 1.0)
    else:
        zeros.insert(humps // 2, 1.0)
    p = complex(zeta, math.sqrt(1.0 - zeta * zeta))
    eqs = [a.sum() - 1.0]
    for r in zeros:
        z = np.sum(a * np.exp(r * p * t) * np.exp(-zeta * r * t[-1]))
        eqs += [z.real, z.imag]
    for r in peaks:
        e = np.exp(r * p * t)
        z = np.sum(a * e)
        dz = np.sum(a * p * t * e)
        scale = math.exp(-zeta * r * t[-1])
        eqs.append(abs(z) * scale - tol)
        # d(V^2)/dr = 0  <=>  Re(conj(Z) Z') - zeta t_n |Z|^2 = 0
        eqs.append((np.real(np.conj(z) * dz) - zeta * t[-1] * abs(z) ** 2) * scale * scale)
    return np.asarray(eqs, dtype=float)


def _extrema_near_one(a: np.ndarray, t: np.ndarray, zeta: float, n_min: int,
                      n_max: int) -> tuple[list[float], list[float]]:
    """Local minima / maxima of the vibration curve closest to the design frequency."""
    r = np.linspace(0.05, 4.0, 7901)
    v = _vibration_normalised(a, t, r, zeta)
    i = np.arange(1, len(r) - 1)
    mins = r[i[(v[i] <= v[i - 1]) & (v[i] <= v[i + 1])]]
    maxs = r[i[(v[i] >= v[i - 1]) & (v[i] >= v[i + 1])]]
    mins = sorted(sorted(mins, key=lambda x: abs(x - 1.0))[:n_min])
    maxs = sorted(sorted(maxs, key=lambda x: abs(x - 1.0))[:n_max])
    return mins, maxs


#: Damping-ratio step of the continuation that carries the EI solution from zeta = 0.
_EI_ZETA_STEP = 0.02


@functools.lru_cache(maxsize=64)
def _ei_normalised(humps: int, zeta: float, tol: float) -> tuple[tuple, tuple, str]:
    """EI impulse amplitudes and times for w_design = 1 rad/s (cached per zeta, tol).

    Continuation in the damping ratio: the undamped closed form (whose zero and hump
    frequencies are read off its vibration curve) is carried to ``zeta`` in steps of
    ``_EI_ZETA_STEP``, each solve started from the previous solution.
    """
    df, k = _damped_factors(zeta)
    base = _undamped_ei(humps, tol)
    n = len(base)
    t_undamped = np.arange(n) * math.pi
    if zeta == 0.0:
        return tuple(base), tuple(t_undamped), "closed form (Singhose, undamped)"
    a_k = base * k ** np.arange(n)
    fallback = (tuple(a_k / a_k.sum()), tuple(np.arange(n) * math.pi / df))
    mins, maxs = _extrema_near_one(base, t_undamped, 0.0, humps + 1, humps)
    if humps % 2 == 1:
        maxs.pop(humps // 2)
    else:
        mins.pop(humps // 2)
    x = np.concatenate([base, t_undamped[1:], mins, maxs])
    steps = int(math.ceil(zeta / _EI_ZETA_STEP))
    for z in np.linspace(0.0, zeta, steps + 1)[1:]:
        sol = least_squares(_ei_residuals, x, args=(n, humps, float(z), tol), method="lm",
                            xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000)
        x = sol.x
        a = x[:n]
        t = np.concatenate([[0.0], x[n:2 * n - 1]])
        if not (np.max(np.abs(sol.fun)) < _EI_SOLVE_TOL and np.all(a > 0)
                and np.all(np.diff(t) > 0)):
            return (*fallback, f"K-weighted closed form (constraint solve failed at "
                               f"zeta={z:.3f})")
    return tuple(a / a.sum()), tuple(t), "EI constraints solved numerically (damped)"


def design_shaper(kind: ShaperKind | str, frequency_hz: float, damping_ratio: float = 0.0,
                  *, tolerance: float = 0.05) -> Shaper:
    """The shaper ``kind`` for a mode of ``frequency_hz`` [Hz] and ``damping_ratio``.

    ``tolerance`` is the EI-family vibration tolerance (hump height, fraction). Bad input
    (unknown kind, non-positive or non-finite frequency, damping outside
    ``[0, DAMPING_RATIO_MAX]``, tolerance outside ``(0, TOLERANCE_MAX]``) raises
    :class:`MotionInputError`.
    """
    try:
        kind = ShaperKind(kind.lower()) if isinstance(kind, str) else ShaperKind(kind)
    except ValueError:
        names = ", ".join(k.name for k in ShaperKind)
        raise MotionInputError(f"unknown shaper kind {kind!r} (one of {names})") from None
    f = float(frequency_hz)
    zeta = float(damping_ratio)
    if not (math.isfinite(f) and f > 0.0):
        raise MotionInputError(f"shaper frequency must be finite and > 0 Hz, got {frequency_hz}")
    if not (math.isfinite(zeta) and 0.0 <= zeta <= DAMPING_RATIO_MAX):
        raise MotionInputError(f"shaper damping ratio must be in [0, {DAMPING_RATIO_MAX}], "
                               f"got {damping_ratio}")
    tol = float(tolerance)
    if not (math.isfinite(tol) and 0.0 < tol <= TOLERANCE_MAX):
        raise MotionInputError(f"shaper tolerance must be in (0, {TOLERANCE_MAX}], "
                               f"got {tolerance}")
    df, k = _damped_factors(zeta)
    half_period_s = 0.5 / (f * df)                      # T_d / 2 [s]
    method = "closed form"
    if kind is ShaperKind.ZV:
        a, t = np.array([1.0, k]), np.array([0.0, 1.0]) * half_period_s
    elif kind is ShaperKind.ZVD:
        a, t = np.array([1.0, 2 * k, k * k]), np.arange(3) * half_period_s
    elif kind is ShaperKind.ZVDD:
        a, t = np.array([1.0, 3 * k, 3 * k * k, k ** 3]), np.arange(4) * half_period_s
    elif kind is ShaperKind.MZV:
        km = math.exp(-0.75 * zeta * math.pi / df)
        a, t = np.array([1.0, math.sqrt(2.0) * km, km * km]), np.arange(3) * 0.75 * half_period_s
    else:
        humps = {ShaperKind.EI: 1, ShaperKind.EI2: 2, ShaperKind.EI3: 3}[kind]
        an, tn, method = _ei_normalised(humps, zeta, tol)
        a, t = np.array(an), np.array(tn) / (2.0 * math.pi * f)
    return Shaper(t, a / a.sum(), kind.name, f, zeta, method)


def convolve(a: Shaper, b: Shaper) -> Shaper:
    """The shaper that cancels both modes: the convolution of two impulse sequences.

    Multi-mode shaping (Singhose, Crain & Seering, "Convolved and simultaneous two-mode input
    shapers", IEE Proc. Control Theory Appl. 144(6), 1997): each pair of impulses
    ``(t_i + t_j, A_i A_j)``; the residual vibration of the result at any frequency is the
    product of the two shapers' (so each mode keeps its shaper's insensitivity), its
    duration the sum.
    """
    times = (a.times_s[:, None] + b.times_s[None, :]).ravel()
    amps = (a.amplitudes[:, None] * b.amplitudes[None, :]).ravel()
    order = np.argsort(times, kind="stable")
    times, amps = times[order], amps[order]
    keep = np.concatenate([[True], np.diff(times) > 1e-12])
    merged = np.add.reduceat(amps, np.flatnonzero(keep))
    return Shaper(times[keep], merged / merged.sum(), name=f"{a.name}*{b.name}",
                  frequency_hz=a.frequency_hz, damping_ratio=a.damping_ratio,
                  method=f"convolution ({a.method}; {b.method})")


def residual_vibration(shaper: Shaper, frequency_hz: float | np.ndarray,
                       damping_ratio: float) -> float | np.ndarray:
    """Residual vibration of ``shaper`` on a mode (f [Hz], zeta), fraction of the unshaped one.

    Singer & Seering's percentage vibration (module docstring) divided by 100; a float for a
    scalar frequency, an array for an array of frequencies.
    """
    zeta = float(damping_ratio)
    if not (math.isfinite(zeta) and 0.0 <= zeta < 1.0):
        raise MotionInputError(f"damping ratio must be in [0, 1), got {damping_ratio}")
    f = np.asarray(frequency_hz, dtype=float)
    if not np.all(np.isfinite(f)) or np.any(f < 0.0):
        raise MotionInputError("residual vibration: frequencies must be finite and >= 0 Hz")
    v = _vibration_normalised(shaper.amplitudes, shaper.times_s, 2.0 * math.pi * f, zeta)
    return float(v) if v.ndim == 0 else v


def insensitivity_band(shaper: Shaper, damping_ratio: float, *, level: float = 0.05,
                       span: float = 0.5, points: int = 20001) -> tuple[float, float]:
    """The band of relative frequency error where the residual vibration stays ``<= level``.

    Returns ``(low, high)`` around the design frequency (e.g. ZV: about ``(-0.032, +0.032)``).
    Searched on a grid of ``points`` over ``±span`` and refined by bisection; a band that
    reaches the end of the grid returns ``±span``.
    """
    f0 = shaper.frequency_hz
    if not (math.isfinite(f0) and f0 > 0):
        raise MotionInputError("insensitivity band: the shaper has no design frequency")
    e = np.linspace(-span, span, points)
    v = residual_vibration(shaper, f0 * (1.0 + e), damping_ratio) - level
    centre = points // 2
    if v[centre] > 1e-9:
        return 0.0, 0.0
    ok = v <= 1e-9

    def edge(i_in: int, i_out: int) -> float:
        lo, hi = e[i_in], e[i_out]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if residual_vibration(shaper, f0 * (1.0 + mid), damping_ratio) - level <= 1e-9:
                lo = mid
            else:
                hi = mid
        return float(lo)

    hi_i = centre
    while hi_i + 1 < points and ok[hi_i + 1]:
        hi_i += 1
    lo_i = centre
    while lo_i - 1 >= 0 and ok[lo_i - 1]:
        lo_i -= 1
    high = span if hi_i == points - 1 else edge(hi_i, hi_i + 1)
    low = -span if lo_i == 0 else edge(lo_i, lo_i - 1)
    return low, high
