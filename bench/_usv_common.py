"""Shared lockstep harness of the USV benchmarks (pure cores, no ROS): plant, loop, report.

A benchmark builds a hull model and an environment, writes a controller callback and calls
:func:`run_lockstep`, which steps the plant at a fixed ``dt_s`` and records the truth::

    from _report import Report
    from _usv_common import Environment, run_lockstep
    from dg_sim.usv.dynamics import WAMV, UsvState
    from dg_sim.usv.disturbances import vrx_stationkeeping2_wind

    env = Environment(wind=vrx_stationkeeping2_wind(direction_rad=1.0, seed=7))

    def controller(t_s, observed, model):          # -> (left_n, right_n)
        return (100.0, 100.0)

    trace = run_lockstep(WAMV, UsvState(), controller, duration_s=60.0, env=env)
    trace.x_m[-1], trace.position_error_m(goal_xy=(0, 0))

Loop order per step k (t = k dt): the observer maps the true state to what the controller
sees (identity by default; :func:`noisy_observer` adds seeded GNSS/compass-like noise), the
controller returns the two thrust commands [N], the environment gives the body-frame load and
the current at the true state and time, the model integrates one step (thruster lag and
saturation inside). Everything is seeded by the callers' objects, so a run is
deterministic: same inputs, same trace. A controller may return ``None`` to stop the run
(e.g. mission finished); ``stop(t, state)`` is another way.

Reports: :class:`_report.Report` (shared by every benchmark) collects the rows, prints a
table and writes the DESIGN.md §5 JSON (``--json OUT``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dg_sim.usv.disturbances import CurrentField, Waves, Wind
from dg_sim.usv.dynamics import HullParams, UsvModel, UsvState

#: controller(t_s, observed_state, model) -> (left_n, right_n), or None to end the run.
Controller = Callable[[float, UsvState, UsvModel], "tuple[float, float] | None"]
#: observer(t_s, true_state) -> the state the controller sees.
Observer = Callable[[float, UsvState], UsvState]


@dataclass
class Environment:
    """Wind, waves and current acting on the boat; any of them may be None (calm)."""

    wind: Wind | None = None
    waves: Waves | None = None
    current: CurrentField | None = None

    def load(self, state: UsvState, t_s: float) -> tuple[float, float, float]:
        """Body-frame (X [N], Y [N], N [N m]) of wind plus waves at ``t_s``."""
        tau = [0.0, 0.0, 0.0]
        for source in (self.wind, self.waves):
            if source is not None:
                f = source.force(state, t_s)
                tau = [a + b for a, b in zip(tau, f, strict=True)]
        return (tau[0], tau[1], tau[2])

    def current_at(self, state: UsvState, t_s: float) -> tuple[float, float]:
        """Current (east, north) [m/s] at the boat."""
        return (0.0, 0.0) if self.current is None else \
            self.current.velocity(state.x_m, state.y_m, t_s)


@dataclass
class Trace:
    """Recorded run: one row per step (after the step), plus the commands that produced it."""

    t_s: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    psi_rad: np.ndarray
    u_mps: np.ndarray
    v_mps: np.ndarray
    r_radps: np.ndarray
    cmd_n: np.ndarray          #: (steps, 2) commanded left/right [N]
    thrust_n: np.ndarray       #: (steps, 2) actual (lagged, saturated) left/right [N]
    final_state: UsvState
    stopped_early: bool = False
    extras: dict[str, list[Any]] = field(default_factory=dict)

    def position_error_m(self, goal_xy: tuple[float, float]) -> np.ndarray:
        """Distance [m] to a fixed goal at each step."""
        return np.hypot(self.x_m - goal_xy[0], self.y_m - goal_xy[1])

    def thrust_impulse_ns(self) -> float:
        """Total |thrust| x time of both thrusters [N s] (an effort measure)."""
        if len(self.t_s) < 2:
            return 0.0
        dt = float(self.t_s[1] - self.t_s[0])
        return float(np.sum(np.abs(self.thrust_n)) * dt)


def run_lockstep(hull: HullParams, initial: UsvState, controller: Controller,
                 duration_s: float, dt_s: float = 0.05, env: Environment | None = None,
                 observer: Observer | None = None,
                 stop: Callable[[float, UsvState], bool] | None = None,
                 t0_s: float = 0.0) -> Trace:
    """Run ``controller`` on a fresh :class:`UsvModel` of ``hull`` for ``duration_s``.

    Deterministic for deterministic inputs. Returns the :class:`Trace`.
    """
    if not (dt_s > 0.0 and math.isfinite(duration_s) and duration_s >= 0.0):
        raise ValueError(f"need dt_s > 0 and duration_s >= 0, got {dt_s}, {duration_s}")
    env = env or Environment()
    model = UsvModel(hull)
    n = int(round(duration_s / dt_s))
    rows = np.zeros((n, 7))
    cmds = np.zeros((n, 2))
    thrusts = np.zeros((n, 2))
    state = initial
    k_done = 0
    stopped = False
    for k in range(n):
        t = t0_s + k * dt_s
        seen = observer(t, state) if observer is not None else state
        cmd = controller(t, seen, model)
        if cmd is None or (stop is not None and stop(t, state)):
            stopped = True
            break
        state = model.step(state, cmd, env.load(state, t), env.current_at(state, t), dt_s)
        rows[k] = (t + dt_s, *state.as_tuple())
        cmds[k] = cmd
        thrusts[k] = model.thrust_actual_n
        k_done = k + 1
    rows, cmds, thrusts = rows[:k_done], cmds[:k_done], thrusts[:k_done]
    return Trace(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5],
                 rows[:, 6], cmds, thrusts, state, stopped)


def noisy_observer(seed: int, position_sigma_m: float = 0.0, yaw_sigma_rad: float = 0.0,
                   velocity_sigma_mps: float = 0.0) -> Observer:
    """An observer adding seeded white noise to position, yaw and body velocities."""
    rng = np.random.default_rng(seed)

    def observe(_t_s: float, s: UsvState) -> UsvState:
        n = rng.standard_normal(5)
        return UsvState(s.x_m + position_sigma_m * n[0], s.y_m + position_sigma_m * n[1],
                        math.remainder(s.psi_rad + yaw_sigma_rad * n[2], 2 * math.pi),
                        s.u_mps + velocity_sigma_mps * n[3],
                        s.v_mps + velocity_sigma_mps * n[4], s.r_radps)
    return observe


