"""Battery and electric-thruster power models (pure).

Battery: an open-circuit voltage that falls linearly with the state of charge plus a series
internal resistance (the simplest equivalent-circuit model, "Rint"; e.g. He, Xiong & Fan,
"Evaluation of Lithium-Ion Battery Equivalent Circuit Models...", Energies 4(4), 2011). For a
power demand ``P`` the current solves ``P = (V_oc - I R) I``; a demand above the maximum
deliverable power ``V_oc^2 / (4 R)`` is capped there. The cells lose ``V_oc I dt`` of energy
(load plus resistive loss). Empty (state of charge 0) stays empty: the boat loses power.

Defaults: two Torqeedo Power 26-104 packs in parallel (7S Li-ion, 25.9 V nominal, 2685 Wh
each; 29.4 V full, 21.0 V empty at 4.2/3.0 V per cell), the battery of the WAM-V class of boat.

Thruster power: momentum (actuator-disk) theory gives the ideal static power of a propeller
``P = T^{3/2} / sqrt(2 rho A)`` (Glauert, *The Elements of Aerofoil and Airscrew Theory*,
1926), so electric power scales as ``|T|^{3/2}``; :func:`thruster_power_w` anchors that curve
at the thruster's rated (max thrust, input power) point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class BatteryConfigError(ValueError):
    """A battery or power-model parameter is invalid."""


def _positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0.0):
        raise BatteryConfigError(f"{name} must be finite and > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class BatteryReading:
    """Battery state after a step."""

    soc: float              #: state of charge in [0, 1]
    voltage_v: float        #: terminal voltage [V]
    current_a: float        #: current drawn, positive when discharging [A]
    power_w: float          #: electric power delivered to the load [W]
    energy_wh: float        #: energy left in the cells [Wh]
    capacity_ah: float      #: nominal charge capacity [Ah]
    limited: bool           #: the demand exceeded what the battery can deliver
    depleted: bool          #: the battery is empty: no power for the load


class Battery:
    """A battery pack with a linear open-circuit voltage and internal resistance."""

    def __init__(self, capacity_wh: float = 5370.0, voltage_full_v: float = 29.4,
                 voltage_empty_v: float = 21.0, internal_resistance_ohm: float = 0.02,
                 initial_soc: float = 1.0, hotel_load_w: float = 60.0) -> None:
        """Create a pack.

        Args:
            capacity_wh: usable energy from full to empty [Wh].
            voltage_full_v: open-circuit voltage at state of charge 1 [V].
            voltage_empty_v: open-circuit voltage at state of charge 0 [V].
            internal_resistance_ohm: series resistance [ohm].
            initial_soc: state of charge at start, in [0, 1].
            hotel_load_w: constant load of the electronics (computer, radios, sensors) [W].

        Raises:
            BatteryConfigError: on an invalid parameter.

        """
        self.capacity_wh = _positive("capacity_wh", capacity_wh)
        self.voltage_full_v = _positive("voltage_full_v", voltage_full_v)
        self.voltage_empty_v = _positive("voltage_empty_v", voltage_empty_v)
        if self.voltage_empty_v >= self.voltage_full_v:
            raise BatteryConfigError(
                f"voltage_empty_v ({voltage_empty_v}) must be below voltage_full_v "
                f"({voltage_full_v})")
        self.internal_resistance_ohm = _positive("internal_resistance_ohm",
                                                 internal_resistance_ohm)
        if not (math.isfinite(initial_soc) and 0.0 <= initial_soc <= 1.0):
            raise BatteryConfigError(f"initial_soc must be in [0, 1], got {initial_soc!r}")
        if not (math.isfinite(hotel_load_w) and hotel_load_w >= 0.0):
            raise BatteryConfigError(f"hotel_load_w must be finite and >= 0, got "
                                     f"{hotel_load_w!r}")
        self.hotel_load_w = float(hotel_load_w)
        self.soc = float(initial_soc)
        nominal_v = 0.5 * (self.voltage_full_v + self.voltage_empty_v)
        self.capacity_ah = self.capacity_wh / nominal_v
        self.last = self._reading(0.0, 0.0, False)

    def open_circuit_voltage_v(self) -> float:
        """Open-circuit voltage at the current state of charge [V]."""
        return self.voltage_empty_v + (self.voltage_full_v - self.voltage_empty_v) * self.soc

    @property
    def depleted(self) -> bool:
        """True when the pack is empty."""
        return self.soc <= 0.0

    def _reading(self, current_a: float, power_w: float, limited: bool,
                 v_oc: float | None = None) -> BatteryReading:
        v_oc = self.open_circuit_voltage_v() if v_oc is None else v_oc
        voltage = v_oc - current_a * self.internal_resistance_ohm
        return BatteryReading(self.soc, voltage, current_a, power_w,
                              self.soc * self.capacity_wh, self.capacity_ah, limited,
                              self.depleted)

    def step(self, power_w: float, dt_s: float) -> BatteryReading:
        """Deliver ``power_w`` [W] (plus the hotel load) for ``dt_s`` [s]; return the new state.

        Raises:
            ValueError: on a negative or non-finite power, or a non-positive ``dt_s``.

        """
        if not (math.isfinite(power_w) and power_w >= 0.0):
            raise ValueError(f"battery: power_w must be finite and >= 0, got {power_w!r}")
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"battery: dt_s must be finite and > 0, got {dt_s!r}")
        if self.depleted:
            self.last = self._reading(0.0, 0.0, power_w + self.hotel_load_w > 0.0)
            return self.last
        demand = power_w + self.hotel_load_w
        v_oc, r = self.open_circuit_voltage_v(), self.internal_resistance_ohm
        p_max = v_oc * v_oc / (4.0 * r)
        limited = demand > p_max
        demand = min(demand, p_max)
        # Smaller root of R I^2 - V_oc I + P = 0, written to avoid cancellation at small P.
        current = 2.0 * demand / (v_oc + math.sqrt(max(v_oc * v_oc - 4.0 * r * demand, 0.0)))
        drawn_wh = v_oc * current * dt_s / 3600.0
        self.soc = max(0.0, self.soc - drawn_wh / self.capacity_wh)
        self.last = self._reading(current, demand, limited, v_oc)  # voltage during the step
        return self.last


def thruster_power_w(thrust_n: float, max_thrust_n: float, max_power_w: float) -> float:
    """Electric input power [W] of a thruster producing ``thrust_n`` [N] (either direction).

    ``max_power_w * (|T| / T_max)^{3/2}`` (momentum theory, see the module doc).

    Raises:
        ValueError: on non-finite thrust or non-positive ratings.

    """
    if not math.isfinite(thrust_n):
        raise ValueError(f"thrust_n must be finite, got {thrust_n!r}")
    _positive("max_thrust_n", max_thrust_n)
    _positive("max_power_w", max_power_w)
    return max_power_w * (abs(thrust_n) / max_thrust_n) ** 1.5
