"""Environmental loads on a USV: wind with gusts, irregular waves, a water-current field (pure).

All three are seeded (``numpy.random.default_rng(seed)``): the same seed and the same query times
give the same loads. Directions follow the world ENU convention and, like VRX's
``wind_direction``, name the direction the wind/waves/current move TOWARD (counter-clockwise
from east): ``direction_rad = 0`` is a westerly wind blowing east. Forces are returned in the
body frame as ``(X [N], Y [N], N [N m])`` (FLU: X forward, Y to the left, N counter-clockwise),
ready for :meth:`dg_sim.usv.dynamics.UsvModel.step`'s ``tau_env``.

**Wind** (VRX ``USVWind`` plugin, osrf/vrx ``usv_gazebo_wind_plugin.cc``; after Sarda et al.,
"Station-keeping control of an unmanned surface vehicle exposed to current and wind
disturbances", Ocean Engineering 127, 2016): the speed is ``V = V_mean + v_g`` with the gust
``v_g`` a first-order Gauss-Markov (Ornstein-Uhlenbeck) process::

    tau dv_g = -v_g dt + K sqrt(2 tau) dW          (K: gain constant, tau: time constant)

whose stationary standard deviation is exactly ``K`` and autocorrelation ``exp(-|dt| / tau)``.
VRX integrates it with Euler steps; we use the exact discretization
``v_g' = a v_g + K sqrt(1 - a^2) xi``, ``a = exp(-dt / tau)``, so the statistics do not depend
on the step. With the wind ``w = (w_x, w_y)`` in body axes the load is::

    X = c_x w_x |w_x|,   Y = c_y w_y |w_y|,   N = -2 c_n w_x w_y

with the hull's ``wind_coeff = (c_x, c_y, c_n)`` (VRX WAM-V: 0.5, 0.5, 0.33). Like VRX we use
the true wind (``apparent=False``); ``apparent=True`` subtracts the boat's velocity first.
VRX's hardest station-keeping practice (stationkeeping2) uses V_mean 7 m/s, K 1.5 m/s,
tau 2 s: :func:`vrx_stationkeeping2_wind`.

**Waves**: long-crested irregular sea from the Pierson-Moskowitz spectrum in its
two-parameter (ITTC / Bretschneider) form (Fossen 2021, §10.2.1)::

    S(w) = 5/16 Hs^2 w_p^4 w^-5 exp(-5/4 (w_p / w)^4),   w_p = 2 pi / T_p

sampled by ``n_components`` sinusoids with seeded random frequencies (one per band over
[0.5, 3] w_p, avoiding a repeating pattern) and phases, amplitudes ``sqrt(2 S dw)`` scaled so
the elevation variance is exactly ``Hs^2 / 16``; deep-water wavenumber ``k = w^2 / g``. The
horizontal load is the Froude-Krylov long-wave (slope) approximation: the hull's weight,
split over four points at (+-L/4, +-y_thruster) like VRX's ``Surface`` sample points, pushes
down the local sea-surface slope, ``F_i = -(m g / 4) grad eta(p_i)``, and the point forces also
give the yaw moment. Mean second-order drift is not modelled.

**Current**: a uniform mean current plus an optional divergence-free spatial variation (a few
seeded Fourier modes of a stream function, RMS ``spatial_rms_mps``, wavelength
``length_scale_m``) and an optional slow temporal modulation of the speed (a seeded sum of
sinusoids, RMS ``temporal_rms_mps``, periods around ``time_scale_s``). It is a pure function of
(x, y, t).
"""

from __future__ import annotations

import math

import numpy as np

from dg_sim.usv.dynamics import G_MPS2, WAMV, HullParams, UsvModelError, UsvState

#: VRX practice world stationkeeping2 (osrf/vrx, 2022 practice worlds): wind mean speed [m/s],
#: gust gain constant [m/s] and gust time constant [s].
VRX_SK2_WIND_MEAN_MPS = 7.0
VRX_SK2_WIND_GAIN_MPS = 1.5
VRX_SK2_WIND_TAU_S = 2.0


def _check(name: str, value: float, minimum: float = 0.0, strict: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsvModelError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < minimum or (strict and v == minimum):
        op = ">" if strict else ">="
        raise UsvModelError(f"{name} must be finite and {op} {minimum}, got {value!r}")
    return v


def _body(state: UsvState, fx: float, fy: float) -> tuple[float, float]:
    c, s = math.cos(state.psi_rad), math.sin(state.psi_rad)
    return c * fx + s * fy, -s * fx + c * fy


class Wind:
    """Mean wind plus Gauss-Markov gusts (VRX ``USVWind`` formulation, see module doc).

    ``force`` and ``speed`` advance the gust process to the queried time; query times must not
    decrease (repeating a time returns the same value).
    """

    def __init__(self, mean_speed_mps: float, direction_rad: float, gust_gain: float = 0.0,
                 gust_time_constant_s: float = 2.0, seed: int = 0, hull: HullParams = WAMV,
                 apparent: bool = False) -> None:
        """Wind blowing TOWARD ``direction_rad`` (ENU) at ``mean_speed_mps``, with gusts.

        The gusts have standard deviation ``gust_gain`` [m/s] and correlation time
        ``gust_time_constant_s`` [s].
        """
        self.mean_speed_mps = _check("mean_speed_mps", mean_speed_mps)
        self.direction_rad = _check("direction_rad", direction_rad, -math.inf)
        self.gust_gain = _check("gust_gain", gust_gain)
        self.gust_time_constant_s = _check("gust_time_constant_s", gust_time_constant_s,
                                           strict=True)
        self.coeff = hull.wind_coeff
        self.apparent = apparent
        self._rng = np.random.default_rng(seed)
        self._t_s: float | None = None
        self._gust_mps = 0.0          # VRX starts the gust at zero

    def speed(self, t_s: float) -> float:
        """Wind speed [m/s] at time ``t_s`` (mean + gust)."""
        t = _check("t_s", t_s, -math.inf)
        if self._t_s is None:
            self._t_s = t
        elif t < self._t_s:
            raise UsvModelError(f"wind queried back in time: {t} < {self._t_s}")
        elif t > self._t_s and self.gust_gain > 0.0:
            a = math.exp(-(t - self._t_s) / self.gust_time_constant_s)
            self._gust_mps = a * self._gust_mps + self.gust_gain * math.sqrt(
                max(0.0, 1.0 - a * a)) * float(self._rng.standard_normal())
            self._t_s = t
        else:
            self._t_s = t
        return self.mean_speed_mps + self._gust_mps

    def velocity_enu(self, t_s: float) -> tuple[float, float]:
        """Wind velocity (east, north) [m/s] at ``t_s``."""
        v = self.speed(t_s)
        return v * math.cos(self.direction_rad), v * math.sin(self.direction_rad)

    def force(self, state: UsvState, t_s: float) -> tuple[float, float, float]:
        """Body-frame wind load (X [N], Y [N], N [N m]) on a boat in ``state`` at ``t_s``."""
        we, wn = self.velocity_enu(t_s)
        wx, wy = _body(state, we, wn)
        if self.apparent:
            wx, wy = wx - state.u_mps, wy - state.v_mps
        cx, cy, cn = self.coeff
        return cx * wx * abs(wx), cy * wy * abs(wy), -2.0 * cn * wx * wy


def vrx_stationkeeping2_wind(direction_rad: float, seed: int = 0,
                             hull: HullParams = WAMV) -> Wind:
    """The wind of VRX's hardest station-keeping practice: 7 m/s mean, gain 1.5, tau 2 s."""
    return Wind(VRX_SK2_WIND_MEAN_MPS, direction_rad, VRX_SK2_WIND_GAIN_MPS,
                VRX_SK2_WIND_TAU_S, seed, hull)


def pierson_moskowitz(omega_radps: np.ndarray | float, sig_height_m: float,
                      peak_period_s: float) -> np.ndarray | float:
    """Pierson-Moskowitz (ITTC two-parameter) spectral density S(w) [m^2 s / rad]."""
    w = np.asarray(omega_radps, dtype=float)
    wp = 2.0 * math.pi / peak_period_s
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s = 5.0 / 16.0 * sig_height_m ** 2 * wp ** 4 / w ** 5 * np.exp(-1.25 * (wp / w) ** 4)
    s = np.where(w > 0.0, s, 0.0)
    return float(s) if s.ndim == 0 else s


class Waves:
    """Long-crested irregular waves (Pierson-Moskowitz) and their slope load (module doc)."""

    def __init__(self, peak_period_s: float, sig_height_m: float, direction_rad: float,
                 seed: int = 0, hull: HullParams = WAMV, n_components: int = 30,
                 spread_rad: float = 0.0) -> None:
        """Waves travelling TOWARD ``direction_rad`` (ENU), significant height ``sig_height_m``.

        ``spread_rad`` > 0 draws each component's direction uniformly within +-spread
        (short-crested sea, like VRX's wave ``angle``).
        """
        tp = _check("peak_period_s", peak_period_s, strict=True)
        hs = _check("sig_height_m", sig_height_m)
        _check("direction_rad", direction_rad, -math.inf)
        _check("spread_rad", spread_rad)
        if not (isinstance(n_components, int) and 1 <= n_components <= 1000):
            raise UsvModelError(f"n_components must be an int in [1, 1000], got {n_components}")
        self.peak_period_s, self.sig_height_m, self.direction_rad = tp, hs, direction_rad
        rng = np.random.default_rng(seed)
        wp = 2.0 * math.pi / tp
        edges = np.linspace(0.5 * wp, 3.0 * wp, n_components + 1)
        dw = np.diff(edges)
        self.omega = edges[:-1] + dw * rng.uniform(0.0, 1.0, n_components)
        amp = np.sqrt(2.0 * pierson_moskowitz(self.omega, 1.0, tp) * dw)
        m0 = float(np.sum(amp ** 2) / 2.0)
        self.amplitude = amp * (hs / 4.0) / math.sqrt(m0) if m0 > 0 and hs > 0 else amp * 0.0
        self.k = self.omega ** 2 / G_MPS2
        self.heading = direction_rad + rng.uniform(-spread_rad, spread_rad, n_components)
        self.kx, self.ky = self.k * np.cos(self.heading), self.k * np.sin(self.heading)
        self.phase = rng.uniform(0.0, 2.0 * math.pi, n_components)
        self.hull = hull
        lx, ly = hull.length_m / 4.0, hull.thruster_y_m
        self._points = np.array([(lx, ly), (lx, -ly), (-lx, ly), (-lx, -ly)])

    def _arg(self, x: np.ndarray, y: np.ndarray, t: float) -> np.ndarray:
        return (self.omega * t - np.multiply.outer(x, self.kx) - np.multiply.outer(y, self.ky)
                + self.phase)

    def elevation(self, x_m: float, y_m: float, t_s: float) -> float:
        """Sea-surface elevation eta [m] at a world point and time."""
        return float(np.sum(self.amplitude * np.cos(self._arg(np.asarray(x_m),
                                                              np.asarray(y_m), t_s))))

    def slope(self, x_m: float, y_m: float, t_s: float) -> tuple[float, float]:
        """Surface gradient (d eta/dx, d eta/dy) [-] at a world point and time."""
        s = self.amplitude * np.sin(self._arg(np.asarray(x_m), np.asarray(y_m), t_s))
        return float(np.sum(s * self.kx)), float(np.sum(s * self.ky))

    def force(self, state: UsvState, t_s: float) -> tuple[float, float, float]:
        """Body-frame wave load (X [N], Y [N], N [N m]) at ``t_s`` (slope approximation)."""
        t = _check("t_s", t_s, -math.inf)
        c, s = math.cos(state.psi_rad), math.sin(state.psi_rad)
        rx = c * self._points[:, 0] - s * self._points[:, 1]     # lever arms, world axes
        ry = s * self._points[:, 0] + c * self._points[:, 1]
        sn = np.sin(self._arg(state.x_m + rx, state.y_m + ry, t)) * self.amplitude
        w = self.hull.mass_kg * G_MPS2 / len(self._points)
        fx = -w * (sn @ self.kx)                                  # per point, world axes
        fy = -w * (sn @ self.ky)
        moment = float(np.sum(rx * fy - ry * fx))
        bx, by = _body(state, float(np.sum(fx)), float(np.sum(fy)))
        return bx, by, moment


class CurrentField:
    """Water current (east, north) [m/s] as a pure function of position and time (module doc)."""

    def __init__(self, speed_mps: float = 0.0, direction_rad: float = 0.0,
                 spatial_rms_mps: float = 0.0, length_scale_m: float = 200.0,
                 temporal_rms_mps: float = 0.0, time_scale_s: float = 600.0, seed: int = 0,
                 n_modes: int = 6) -> None:
        """Mean current TOWARD ``direction_rad`` at ``speed_mps`` plus seeded variations."""
        self.speed_mps = _check("speed_mps", speed_mps)
        self.direction_rad = _check("direction_rad", direction_rad, -math.inf)
        self.spatial_rms_mps = _check("spatial_rms_mps", spatial_rms_mps)
        length = _check("length_scale_m", length_scale_m, strict=True)
        self.temporal_rms_mps = _check("temporal_rms_mps", temporal_rms_mps)
        tscale = _check("time_scale_s", time_scale_s, strict=True)
        rng = np.random.default_rng(seed)
        k = 2.0 * math.pi / length
        theta = rng.uniform(0.0, 2.0 * math.pi, n_modes)
        self._kx, self._ky = k * np.cos(theta), k * np.sin(theta)
        self._phase = rng.uniform(0.0, 2.0 * math.pi, n_modes)
        # Stream function psi = sum A sin(k.p + phase): u = dpsi/dy, v = -dpsi/dx; each mode
        # has speed amplitude A k, so the RMS over space is A k sqrt(n / 2).
        self._a = self.spatial_rms_mps / (k * math.sqrt(n_modes / 2.0))
        self._tw = 2.0 * math.pi / (tscale * rng.uniform(0.5, 2.0, 3))
        self._tphase = rng.uniform(0.0, 2.0 * math.pi, 3)
        self._ta = self.temporal_rms_mps / math.sqrt(3 / 2.0)

    def velocity(self, x_m: float, y_m: float, t_s: float = 0.0) -> tuple[float, float]:
        """Current velocity (east, north) [m/s] at a world point and time."""
        speed = self.speed_mps
        if self.temporal_rms_mps > 0.0:
            speed += self._ta * float(np.sum(np.sin(self._tw * t_s + self._tphase)))
        ve = speed * math.cos(self.direction_rad)
        vn = speed * math.sin(self.direction_rad)
        if self.spatial_rms_mps > 0.0:
            c = self._a * np.cos(self._kx * x_m + self._ky * y_m + self._phase)
            ve += float(np.sum(c * self._ky))
            vn -= float(np.sum(c * self._kx))
        return ve, vn
