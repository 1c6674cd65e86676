"""Identification of the dominant vibration mode from one move's residual vibration.

After a move ends, a lightly damped mode rings freely: the joint encoder's tracking error or
a tool accelerometer measures ``y(t) = sum_k a_k exp(-zeta_k w_k t) cos(w_dk t + phi_k)``
plus a slow offset/drift and noise (any derivative of a damped sinusoid is a damped sinusoid
with the same ``w``, ``zeta``, so position and acceleration signals identify the same mode).
The natural frequency ``f = w / 2 pi`` [Hz] and damping ratio ``zeta`` are what
:func:`dg_motion.shaping.input_shaping.design_shaper` needs.

Method (nonlinear least squares with variable projection, G. Golub, V. Pereyra, "The
differentiation of pseudo-inverses and nonlinear least squares problems whose variables
separate", SIAM J. Numer. Anal. 10(2), 1973):

1. Window: the samples from ``t_start_s`` (the end of the move) on, resampled to a uniform
   grid if the time stamps jitter.
2. Start frequency: the peak of the Hann-windowed, zero-padded spectrum of the linearly
   detrended window (the textbook FFT-peak estimate), searched between 2 cycles per window
   and 0.45 of the sample rate.
3. Fit: for nonlinear parameters ``(f_k, zeta_k)`` the amplitudes (cos/sin per mode) and an
   offset + linear drift enter linearly and are solved by linear least squares; the
   nonlinear ones are refined by ``scipy.optimize.least_squares`` (bounded:
   ``0 <= zeta <= 0.9``), started from several damping guesses (0.01, 0.05, 0.2); the best
   fit wins.
4. A second, weaker mode: the spectrum peak of the one-mode fit's residual seeds a two-mode
   fit, kept when it lowers the Bayesian information criterion by more than
   ``BIC_MARGIN`` (noise alone does not pass it).
5. The dominant mode is the one with the most energy in the window,
   ``a^2 (1 - exp(-2 zeta w T)) / (2 zeta w)`` (``a^2 T`` for ``zeta = 0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from dg_motion.errors import MotionInputError

#: Minimum samples in the analysis window.
MIN_SAMPLES = 32
#: A second mode is kept when it lowers BIC = n ln(RSS/n) + p ln(n) by more than this.
BIC_MARGIN = 10.0
#: Damping ratio bounds of the fit.
ZETA_MAX = 0.9
#: Damping ratio starting guesses of the multi-start fit.
ZETA_STARTS = (0.01, 0.05, 0.2)


@dataclass(frozen=True)
class ModeEstimate:
    """The dominant mode: natural frequency [Hz], damping ratio, amplitude, fit RMS.

    ``amplitude`` is the mode's amplitude at the window start and ``fit_rms`` the RMS of the
    fit residual, both in the signal's unit; ``modes`` lists every fitted mode as
    ``(frequency_hz, damping_ratio, amplitude)``, dominant first.
    """

    frequency_hz: float
    damping_ratio: float
    amplitude: float
    fit_rms: float
    modes: tuple[tuple[float, float, float], ...] = field(default=())


def _basis(tau: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Columns: per mode exp(-zeta w t) cos / sin (w_d t), then 1 and t (offset, drift)."""
    cols = []
    for f, zeta in params.reshape(-1, 2):
        w = 2.0 * math.pi * f
        wd = w * math.sqrt(max(1.0 - zeta * zeta, 1e-12))
        env = np.exp(-zeta * w * tau)
        cols += [env * np.cos(wd * tau), env * np.sin(wd * tau)]
    cols += [np.ones_like(tau), tau / max(tau[-1], 1e-12)]
    return np.column_stack(cols)


def _projected_residual(params: np.ndarray, tau: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual after solving the linear parameters for the given (f, zeta) pairs."""
    b = _basis(tau, params)
    coef, *_ = np.linalg.lstsq(b, y, rcond=None)
    return b @ coef - y


def _spectrum_peak(tau: np.ndarray, y: np.ndarray, f_lo: float, f_hi: float,
                   exclude: list[float] | None = None) -> float:
    """Frequency [Hz] of the largest Hann-windowed, zero-padded spectrum peak in a band."""
    dt = tau[1] - tau[0]
    yd = y - np.polyval(np.polyfit(tau, y, 1), tau)
    n_fft = 1 << int(math.ceil(math.log2(len(y) * 8)))
    spec = np.abs(np.fft.rfft(yd * np.hanning(len(y)), n_fft))
    freqs = np.fft.rfftfreq(n_fft, dt)
    band = (freqs >= f_lo) & (freqs <= f_hi)
    for fx in exclude or []:
        band &= np.abs(freqs - fx) > 0.15 * fx
    if not band.any():
        return math.nan
    return float(freqs[band][np.argmax(spec[band])])


def _fit(tau: np.ndarray, y: np.ndarray, starts: list[np.ndarray],
         f_lo: float, f_hi: float) -> tuple[np.ndarray, float]:
    """Best multi-start variable-projection fit: (params, RSS)."""
    best, best_rss = None, math.inf
    for x0 in starts:
        m = len(x0) // 2
        lo = np.tile([f_lo, 0.0], m)
        hi = np.tile([f_hi, ZETA_MAX], m)
        x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
        sol = least_squares(_projected_residual, x0, bounds=(lo, hi), args=(tau, y),
                            x_scale=np.tile([max(x0[0], 1.0) * 0.05, 0.02], m))
        rss = float(np.sum(sol.fun ** 2))
        if rss < best_rss:
            best, best_rss = sol.x, rss
    return best, best_rss


def _modes(tau: np.ndarray, y: np.ndarray, params: np.ndarray) -> list[tuple[float, float,
                                                                            float, float]]:
    """(f, zeta, amplitude, window energy) per fitted mode."""
    b = _basis(tau, params)
    coef, *_ = np.linalg.lstsq(b, y, rcond=None)
    out = []
    span = tau[-1]
    for k, (f, zeta) in enumerate(params.reshape(-1, 2)):
        amp = float(math.hypot(coef[2 * k], coef[2 * k + 1]))
        s = 2.0 * zeta * 2.0 * math.pi * f
        energy = amp ** 2 * (span if s * span < 1e-9 else (1.0 - math.exp(-s * span)) / s)
        out.append((float(f), float(zeta), amp, energy))
    return out


def identify_mode(t_s: np.ndarray, signal: np.ndarray, *,
                  t_start_s: float | None = None, max_modes: int = 2) -> ModeEstimate:
    """Estimate the dominant mode (f [Hz], zeta) of the free vibration in ``signal``.

    ``t_s`` [s] increasing sample times, ``signal`` the measured residual vibration (any unit:
    tracking error [rad], tool acceleration [m/s^2]); only samples at ``t >= t_start_s`` (the
    end of the move; default: all) are used. ``max_modes`` (1 or 2) bounds the modes fitted.
    Raises :class:`MotionInputError` for mismatched, non-finite, too short or flat input.
    """
    t = np.asarray(t_s, dtype=float).reshape(-1)
    y = np.asarray(signal, dtype=float).reshape(-1)
    if len(t) != len(y):
        raise MotionInputError(f"mode identification: {len(t)} times but {len(y)} samples")
    if not (np.isfinite(t).all() and np.isfinite(y).all()):
        raise MotionInputError("mode identification: non-finite time or signal sample")
    if len(t) > 1 and np.any(np.diff(t) <= 0.0):
        raise MotionInputError("mode identification: times must increase")
    if max_modes not in (1, 2):
        raise MotionInputError(f"mode identification: max_modes must be 1 or 2, got {max_modes}")
    if t_start_s is not None:
        if not math.isfinite(t_start_s):
            raise MotionInputError("mode identification: non-finite t_start_s")
        keep = t >= t_start_s
        t, y = t[keep], y[keep]
    if len(t) < MIN_SAMPLES:
        raise MotionInputError(f"mode identification: {len(t)} samples in the window, need "
                               f">= {MIN_SAMPLES} (is t_start_s after the end of the record?)")
    # 1. uniform grid
    dt = float(np.median(np.diff(t)))
    tau = t - t[0]
    if np.max(np.abs(np.diff(t) - dt)) > 0.01 * dt:
        grid = np.arange(0.0, tau[-1] + 0.5 * dt, dt)
        y = np.interp(grid, tau, y)
        tau = grid
    span = float(tau[-1])
    f_lo, f_hi = 2.0 / span, 0.45 / dt
    if f_lo >= f_hi:
        raise MotionInputError("mode identification: the window is too short for 2 cycles")
    detrended = y - np.polyval(np.polyfit(tau, y, 1), tau)
    if np.std(detrended) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))):
        raise MotionInputError("mode identification: the signal has no vibration (flat)")
    # 2.-3. one mode
    f0 = _spectrum_peak(tau, y, f_lo, f_hi)
    p1, rss1 = _fit(tau, y, [np.array([f0, z]) for z in ZETA_STARTS], f_lo, f_hi)
    n = len(y)
    params, rss = p1, rss1
    # 4. a second, weaker mode
    if max_modes == 2:
        resid = _projected_residual(p1, tau, y)
        f2 = _spectrum_peak(tau, resid, f_lo, f_hi, exclude=[float(p1[0])])
        if math.isfinite(f2):
            p2, rss2 = _fit(tau, y, [np.array([p1[0], p1[1], f2, z]) for z in (0.02, 0.1)],
                            f_lo, f_hi)

            def bic(r: float, k: int) -> float:
                return n * math.log(max(r, 1e-300) / n) + k * math.log(n)

            if bic(rss2, 8) < bic(rss1, 4) - BIC_MARGIN:
                params, rss = p2, rss2
    # 5. dominant mode
    modes = sorted(_modes(tau, y, params), key=lambda m: -m[3])
    f, zeta, amp, _ = modes[0]
    return ModeEstimate(f, zeta, amp, math.sqrt(rss / n),
                        tuple((m[0], m[1], m[2]) for m in modes))
