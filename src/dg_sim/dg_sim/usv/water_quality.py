"""A seeded, smooth and bounded water-quality field of a reservoir, and a sampling sensor (pure).

Each quantity is driven by a smooth random field on the plane: a sum of ``n_modes`` plane
waves with random directions, wavelengths in ``[min_wavelength_m, max_wavelength_m]`` and
phases (random Fourier features; Rahimi & Recht, "Random Features for Large-Scale Kernel
Machines", NIPS 2007), normalised to ``[-1, 1]`` by the sum of the amplitudes. So every field
is smooth (gradients bounded by ``2 pi / min_wavelength_m`` per unit) and bounded by
construction, and the same seed gives the same reservoir.

Physical mapping (typical summer values of a temperate reservoir):

* temperature ``T = temperature_mean_c + temperature_amplitude_c * f1``;
* dissolved oxygen = saturation fraction x the solubility of oxygen in fresh water at ``T``
  and 1 atm (Benson & Krause, Limnol. Oceanogr. 29(3), 1984, as in APHA *Standard Methods*
  4500-O and USGS OWQ 2011.03; ``T_k`` in kelvin):
  ``ln DO_sat = -139.34411 + 1.575701e5/T_k - 6.642308e7/T_k^2 + 1.243800e10/T_k^3
  - 8.621949e11/T_k^4`` [mg/L]; the fraction is ``do_saturation_mean +
  do_saturation_amplitude * f2``, so warm water holds less oxygen;
* turbidity is log-normal-like: ``turbidity_median_ntu * exp(turbidity_log_amplitude * f3)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dg_sim.usv.sensors import SensorConfigError, make_rng


class WaterQuality(NamedTuple):
    """A reading: temperature [degC], dissolved oxygen [mg/L], turbidity [NTU]."""

    temp_c: float
    do_mgl: float
    turbidity_ntu: float


def oxygen_saturation_mgl(temp_c: float | np.ndarray) -> float | np.ndarray:
    """Solubility of oxygen in fresh water at 1 atm [mg/L] (Benson & Krause 1984, 0-40 degC)."""
    tk = np.asarray(temp_c, dtype=float) + 273.15
    ln_c = (-139.34411 + 1.575701e5 / tk - 6.642308e7 / tk ** 2 + 1.243800e10 / tk ** 3
            - 8.621949e11 / tk ** 4)
    out = np.exp(ln_c)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class WaterQualityConfig:
    """Shape of the field: wavelengths and the physical ranges of each quantity."""

    n_modes: int = 12
    min_wavelength_m: float = 150.0
    max_wavelength_m: float = 1500.0
    temperature_mean_c: float = 18.0
    temperature_amplitude_c: float = 4.0
    do_saturation_mean: float = 0.85
    do_saturation_amplitude: float = 0.1
    turbidity_median_ntu: float = 5.0
    turbidity_log_amplitude: float = 1.0

    def __post_init__(self) -> None:
        """Reject shapes that break smoothness or the physical bounds."""
        if not (isinstance(self.n_modes, int) and self.n_modes >= 1):
            raise SensorConfigError(f"n_modes must be an integer >= 1, got {self.n_modes!r}")
        if not (0.0 < self.min_wavelength_m <= self.max_wavelength_m < math.inf):
            raise SensorConfigError(
                "need 0 < min_wavelength_m <= max_wavelength_m < inf, got "
                f"{self.min_wavelength_m}, {self.max_wavelength_m}")
        t_lo = self.temperature_mean_c - abs(self.temperature_amplitude_c)
        t_hi = self.temperature_mean_c + abs(self.temperature_amplitude_c)
        if not (0.0 <= t_lo and t_hi <= 40.0):
            raise SensorConfigError(
                f"temperature range [{t_lo}, {t_hi}] degC leaves 0-40 degC (fresh water)")
        s_lo = self.do_saturation_mean - abs(self.do_saturation_amplitude)
        s_hi = self.do_saturation_mean + abs(self.do_saturation_amplitude)
        if not (0.0 <= s_lo and s_hi <= 2.0):
            raise SensorConfigError(f"oxygen saturation range [{s_lo}, {s_hi}] leaves [0, 2]")
        if not (self.turbidity_median_ntu > 0.0 and math.isfinite(self.turbidity_median_ntu)
                and 0.0 <= self.turbidity_log_amplitude <= 10.0):
            raise SensorConfigError("turbidity_median_ntu must be > 0 and "
                                    "turbidity_log_amplitude in [0, 10]")

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """(min, max) of temperature [degC], dissolved oxygen [mg/L] and turbidity [NTU]."""
        ta = abs(self.temperature_amplitude_c)
        sa = abs(self.do_saturation_amplitude)
        t_lo, t_hi = self.temperature_mean_c - ta, self.temperature_mean_c + ta
        # Saturation decreases with temperature over 0-40 degC.
        do = (float(oxygen_saturation_mgl(t_hi)) * (self.do_saturation_mean - sa),
              float(oxygen_saturation_mgl(t_lo)) * (self.do_saturation_mean + sa))
        k = self.turbidity_log_amplitude
        tu = (self.turbidity_median_ntu * math.exp(-k), self.turbidity_median_ntu * math.exp(k))
        return (t_lo, t_hi), do, tu


class WaterQualityField:
    """Temperature, dissolved oxygen and turbidity as smooth functions of position."""

    def __init__(self, seed: int | np.random.Generator = 0,
                 config: WaterQualityConfig | None = None) -> None:
        """Draw the field's modes from ``seed``."""
        self.config = config or WaterQualityConfig()
        rng = make_rng(seed)
        c = self.config
        n = c.n_modes
        modes = []
        for _ in range(3):
            angle = rng.uniform(0.0, 2.0 * math.pi, n)
            # Log-uniform wavelengths: every scale between min and max equally represented.
            wavelength = np.exp(rng.uniform(math.log(c.min_wavelength_m),
                                            math.log(c.max_wavelength_m), n))
            k = 2.0 * math.pi / wavelength
            amp = rng.uniform(0.5, 1.0, n)
            modes.append((k * np.cos(angle), k * np.sin(angle), rng.uniform(0, 2 * math.pi, n),
                          amp / amp.sum()))
        self._modes = modes

    def _unit(self, i: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        kx, ky, phase, amp = self._modes[i]
        arg = np.multiply.outer(x, kx) + np.multiply.outer(y, ky) + phase
        return np.cos(arg) @ amp

    def sample(self, x_m: float | np.ndarray, y_m: float | np.ndarray) -> WaterQuality:
        """Values at (east, north) ``x_m, y_m`` [m]; scalars or broadcastable arrays.

        Raises:
            ValueError: if a coordinate is not finite.

        """
        x, y = np.broadcast_arrays(np.asarray(x_m, dtype=float), np.asarray(y_m, dtype=float))
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("water quality: non-finite position")
        c = self.config
        temp = c.temperature_mean_c + c.temperature_amplitude_c * self._unit(0, x, y)
        sat = c.do_saturation_mean + c.do_saturation_amplitude * self._unit(1, x, y)
        do = oxygen_saturation_mgl(temp) * sat
        turb = c.turbidity_median_ntu * np.exp(c.turbidity_log_amplitude * self._unit(2, x, y))
        if temp.ndim == 0:
            return WaterQuality(float(temp), float(do), float(turb))
        return WaterQuality(temp, do, turb)


class WaterQualitySensor:
    """A multiparameter sonde reading the field with Gaussian noise (clipped at >= 0)."""

    def __init__(self, field: WaterQualityField, temp_sigma_c: float = 0.05,
                 do_sigma_mgl: float = 0.1, turbidity_sigma_ntu: float = 0.3,
                 rng: int | np.random.Generator = 0) -> None:
        """Read ``field`` with these noise sigmas (of the order of a sonde's accuracy).

        E.g. YSI EXO sensors: +-0.01 degC, +-0.1 mg/L, +-0.3 NTU or 2 %.
        """
        for name, v in (("temp_sigma_c", temp_sigma_c), ("do_sigma_mgl", do_sigma_mgl),
                        ("turbidity_sigma_ntu", turbidity_sigma_ntu)):
            if not (math.isfinite(v) and v >= 0.0):
                raise SensorConfigError(f"{name} must be finite and >= 0, got {v!r}")
        self.field = field
        self.sigmas = (float(temp_sigma_c), float(do_sigma_mgl), float(turbidity_sigma_ntu))
        self.rng = make_rng(rng)

    def read(self, x_m: float, y_m: float) -> WaterQuality:
        """A noisy reading at (east, north) [m]."""
        truth = self.field.sample(x_m, y_m)
        n = self.rng.normal(0.0, 1.0, 3) * self.sigmas
        return WaterQuality(truth.temp_c + float(n[0]), max(0.0, truth.do_mgl + float(n[1])),
                            max(0.0, truth.turbidity_ntu + float(n[2])))
