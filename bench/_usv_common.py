"""Shared lockstep harness of the USV benchmarks (pure cores, no ROS graph): plant, loop, estimator.

:class:`EkfObserver` reads the ``usv_sim`` and ``usv_localization`` nodes' parameter defaults
(their ``SCHEMA``), so importing this module imports rclpy; nothing is spun or published.

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
sees (identity by default; :class:`EkfObserver` is the boat's own localization fed by the
simulated sensors, :func:`noisy_observer` an idealised estimate: truth plus small white
noise), the
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

from dg_autonomy.estimation.usv_ekf import PSI, U, UsvEkf, UsvEkfConfig, V, X, Y
from dg_autonomy.nodes import usv_localization_node
from dg_common.geodesy import Datum, geodetic_to_enu
from dg_common.geometry import wrap_angle, yaw_from_quaternion
from dg_sim.nodes import usv_sim_node
from dg_sim.usv.disturbances import CurrentField, Waves, Wind
from dg_sim.usv.dynamics import HullParams, UsvModel, UsvState
from dg_sim.usv.sensors import GnssSensor, ImuSensor, body_acceleration

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




def _schema_defaults(schema: tuple[Any, ...]) -> dict[str, Any]:
    return {spec.name: spec.default for spec in schema}


class EkfObserver:
    """The boat's own localization: usv_sim's sensors feeding usv_localization's EKF.

    What the controller sees on the boat, without ROS: the GNSS receiver and IMU models of
    :mod:`dg_sim.usv.sensors` with the noise, rates and datum that ``usv_sim`` declares as its
    defaults (its ``SCHEMA``; GNSS 5 Hz, 0.5 m white noise plus a 0.3 m / 60 s Gauss-Markov
    bias; VRX WAM-V IMU), and :class:`dg_autonomy.estimation.usv_ekf.UsvEkf` configured and
    fed as ``usv_localization`` does with its defaults: each IMU sample predicts over the
    time since the previous one with the gyro yaw rate and the (level) accelerometer, then
    its orientation's yaw is fused as a heading (sigma floored at
    ``heading_sigma_floor_rad``); each fix is converted to ENU at the datum and fused with
    its diagonal covariance (floored at ``gnss_sigma_floor_m``). Within one step the IMU
    comes before the fix, as usv_sim publishes them. The IMU is read at every step of the
    loop (20 Hz at the benchmarks' 0.05 s; usv_sim.yaml runs it at 25 Hz). The returned
    state is the filter's: position, yaw, body velocities and the bias-corrected yaw rate,
    as ``/odometry/filtered`` carries them.

    ``position_errors_m`` keeps |estimate - truth| [m] of every returned state, ``times_s``
    their times.
    """

    def __init__(self, seed: int) -> None:
        """Sensors seeded from ``seed`` (one stream each); the filter starts uninitialized."""
        sim = _schema_defaults(usv_sim_node.SCHEMA)
        loc = _schema_defaults(usv_localization_node.SCHEMA)
        gnss_rng, imu_rng = (np.random.default_rng(s)
                             for s in np.random.SeedSequence(seed).spawn(2))
        self.datum = Datum(sim["datum_latitude_deg"], sim["datum_longitude_deg"],
                           sim["datum_altitude_m"])
        self.gnss = GnssSensor(self.datum, sim["gnss_horizontal_sigma_m"],
                               sim["gnss_vertical_sigma_m"], sim["gnss_bias_sigma_m"],
                               sim["gnss_bias_time_constant_s"], sim["gnss_antenna_height_m"],
                               rng=gnss_rng)
        self.imu = ImuSensor(sim["imu_gyro_sigma_radps"], sim["imu_gyro_bias_radps"],
                             sim["imu_accel_sigma_mps2"], sim["imu_accel_bias_mps2"],
                             sim["imu_orientation_sigma_rad"], rng=imu_rng)
        self.gnss_period_s = 1.0 / sim["gnss_rate_hz"]
        self.gnss_floor_m = loc["gnss_sigma_floor_m"]
        self.heading_floor_rad = loc["heading_sigma_floor_rad"]
        self.ekf = UsvEkf(UsvEkfConfig(
            gyro_noise_radps=loc["gyro_noise_radps"], gyro_bias_walk=loc["gyro_bias_walk"],
            accel_noise_mps2=loc["accel_noise_mps2"], accel_bias_walk=loc["accel_bias_walk"],
            velocity_walk_mps=loc["velocity_walk_mps"], sway_walk_mps=loc["sway_walk_mps"],
            gnss_gate_chi2=loc["gnss_gate_chi2"], heading_gate_chi2=loc["heading_gate_chi2"],
            max_consecutive_rejections=loc["max_consecutive_rejections"],
            gnss_lever_arm_m=tuple(loc["gnss_lever_arm_m"])))
        self._prev: tuple[float, UsvState] | None = None
        self._next_fix_s: float | None = None
        self.position_errors_m: list[float] = []
        self.times_s: list[float] = []

    def __call__(self, t_s: float, s: UsvState) -> UsvState:
        """Sense the true state ``s`` at ``t_s``, update the filter, return its estimate."""
        accel = (0.0, 0.0)
        dt = None
        if self._prev is not None:
            t_prev, prev = self._prev
            dt = t_s - t_prev
            yaw_mid = prev.psi_rad + 0.5 * wrap_angle(s.psi_rad - prev.psi_rad)
            accel = body_acceleration(yaw_mid, prev.velocity_enu(), s.velocity_enu(), dt)
        self._prev = (t_s, s)
        imu = self.imu.measure(s.psi_rad, s.r_radps, *accel)
        if dt is not None:
            self.ekf.predict(imu.angular_velocity_radps[2], imu.linear_acceleration_mps2[:2], dt)
        self.ekf.update_heading(yaw_from_quaternion(*imu.orientation_xyzw),
                                max(imu.orientation_sigma_rad, self.heading_floor_rad))
        if self._next_fix_s is None or t_s >= self._next_fix_s - 1e-9:
            self._next_fix_s = t_s + self.gnss_period_s
            fix = self.gnss.fix(s.x_m, s.y_m, t_s)
            if fix is not None:
                e, n, _ = geodetic_to_enu(self.datum, fix.lat_deg, fix.lon_deg, fix.alt_m)
                sigma = max(fix.horizontal_sigma_m, self.gnss_floor_m)
                self.ekf.update_gnss(e, n, sigma_m=sigma)
        x = self.ekf.x
        self.position_errors_m.append(math.hypot(x[X] - s.x_m, x[Y] - s.y_m))
        self.times_s.append(t_s)
        return UsvState(float(x[X]), float(x[Y]), float(x[PSI]), float(x[U]), float(x[V]),
                        self.ekf.yaw_rate_radps)

    def position_error_rms_m(self, after_s: float = -math.inf) -> float:
        """RMS of the position errors [m] of the states returned after ``after_s``."""
        e = np.array(self.position_errors_m)[np.array(self.times_s) > after_s]
        return float(np.sqrt(np.mean(e ** 2))) if e.size else math.nan
