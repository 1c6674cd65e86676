"""Node ``usv_sim``: the embedded simulator of the survey boat (VRX WAM-V or Otter hull).

It publishes what Gazebo (VRX WAM-V: Thruster, navsat, imu, OdometryPublisher) +
ros_gz_bridge publish for the same boat, on the ROS topics named in the bridge config file
(``bridge_config``; ``config/wamv_bridge.yaml``, see
:data:`dg_sim.ground_vehicle.bridge_config.USV_STREAMS`), plus the boat's other
"hardware" that Gazebo does not model:

* subscribes the two thrust commands (``std_msgs/Float64`` [N], VRX
  ``/wamv/thrusters/{left,right}/thrust``). NaN/Inf commands are rejected (diagnostics +
  throttled warning) and never integrated; commands beyond the hull's limits saturate, as
  gz-sim's Thruster clamps them. A watchdog per thruster (``cmd_timeout_s``, ROS clock; VRX
  classic's thruster plugin used 1 s, ArduPilot Rover stops on lost throttle input too)
  commands zero thrust when its commands stop. An empty battery cuts both thrusters.
* steps :class:`dg_sim.usv.dynamics.UsvModel` with wind, waves and current
  (:mod:`dg_sim.usv.disturbances`) at ``rate_hz`` and publishes every step the ground truth
  (``nav_msgs/Odometry``, frame ``map``, child ``base_link``, twist in the body). Time: with
  ``publish_clock:=true`` the node is the time source, as gz-sim is for Gazebo runs: a
  wall-time thread paces fixed steps at ``rtf`` and publishes ``/clock`` after each step's
  sensor data (lockstep), so sim time never runs ahead of the physics and an overloaded
  machine slows the run down instead of leaving gaps in the sensor streams. Otherwise it
  follows the ROS clock (``use_sim_time:=true`` with dg_sim's clock node, or wall time).
* GNSS ``sensor_msgs/NavSatFix`` at ``gnss_rate_hz``, silent (or ``STATUS_NO_FIX``, see
  ``gnss_outage_mode``) in the ``gnss_outages_s`` windows; IMU ``sensor_msgs/Imu`` at
  ``imu_rate_hz`` (orientation relative to ENU, body rates, specific force).
* ``battery`` (``sensor_msgs/BatteryState``, 1 Hz): the pack powers both thrusters
  (``|T|^1.5`` law) and a hotel load.
* ``water_quality`` (``dg_interfaces/WaterSample``, ``water_rate_hz``): the sonde's noisy
  reading of the seeded reservoir field at the boat. ``x_m``/``y_m`` carry the TRUE
  position of the reading (for scoring); a real sonde reports none, so consumers must tag
  samples with their own position estimate.
* ``operator/heartbeat`` (``std_msgs/Header``, ``operator_heartbeat_rate_hz``): the ground
  station's heartbeat as it reaches the boat; lost in ``operator_outages_s`` windows and
  with ``operator_loss_probability``.
* traffic from ``traffic_file`` (format: ``config/usv_traffic.yaml``): AIS ``!AIVDM``
  sentences on ``ais/nmea`` (``std_msgs/String``, one sentence per message, each vessel at
  its reporting interval, type 5 static data every ``ais_static_every`` reports), noisy
  tracked targets on ``tracker/targets`` (``dg_interfaces/TargetArray``, ``tracker_rate_hz``,
  frame ``map``) and the noise-free traffic on ``traffic/ground_truth`` (scoring only).

Every random process has its own stream spawned from ``seed`` (numpy ``SeedSequence``), the
water field from ``water_field_seed``: a run is reproducible.

Like ``ground_vehicle``, a plain :class:`~dg_common.node.DgNode`: it simulates the boat, it
does not command one. Publishers use ros_gz_bridge's QoS (reliable, volatile, depth 10).
"""

from __future__ import annotations

import math
import threading
from functools import partial
from typing import Any

import numpy as np
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.parameter import Parameter
from rclpy.time import Time
from sensor_msgs.msg import BatteryState, Imu, NavSatFix, NavSatStatus
from std_msgs.msg import Float64, Header, String

from dg_common.diagnostics import ERROR, OK, WARN
from dg_common.geodesy import Datum
from dg_common.geometry import quaternion_from_yaw, wrap_angle
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, ParamSpec, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.qos import BRIDGE_PUB_QOS, COMMAND_SUB_QOS
from dg_common.validation import InvalidInput, require_finite
from dg_common.watchdog import Watchdog
from dg_interfaces.msg import Target, TargetArray, WaterSample
from dg_sim.clock import MAX_RTF
from dg_sim.ground_vehicle.bridge_config import BridgeConfigError, load_usv_topics
from dg_sim.nodes.time_source import TimeSource
from dg_sim.usv.battery import Battery, thruster_power_w
from dg_sim.usv.disturbances import CurrentField, Waves, Wind
from dg_sim.usv.dynamics import HULLS, UsvModel, UsvModelError, UsvState
from dg_sim.usv.operator_link import OperatorLink
from dg_sim.usv.sensors import GnssSensor, ImuSensor, OutageWindows, body_acceleration
from dg_sim.usv.traffic import (
    AisTransmitter,
    NoisyTracker,
    TrafficVessel,
    load_traffic,
)
from dg_sim.usv.water_quality import WaterQualityConfig, WaterQualityField, WaterQualitySensor

#: Variance reported for quantities the planar model knows exactly (roll, pitch) [rad^2].
VARIANCE_FLOOR = 1e-9
_F = "float"
#: The defaults of the simulated environment, sensors and hardware are their models' own.
_current = partial(core_default, CurrentField)
_gnss = partial(core_default, GnssSensor)
_imu = partial(core_default, ImuSensor)
_battery = partial(core_default, Battery)
_water = partial(core_default, WaterQualityConfig)
_tracker = partial(core_default, NoisyTracker)


SCHEMA = (
    ParamSpec("bridge_config", "str", "ros_gz_bridge YAML naming the boat's ROS topics "
              "(config/wamv_bridge.yaml)", read_only=True),
    _p("model_name", "str", "Gazebo model name in the bridge's gz topics", "wamv"),
    _p("world_name", "str", "Gazebo world name in the bridge's sensor gz topics",
       "sydney_regatta"),
    _p("hull", "str", "hull and thruster parameters (dg_sim.usv.dynamics)", "wamv",
       choices=tuple(HULLS)),
    _p("rate_hz", _F, "simulation step and ground-truth rate [Hz]", 50.0, 1.0, 1000.0),
    _p("publish_clock", "bool", "be the time source: publish /clock after each step, paced "
       "at rtf (lockstep; use_sim_time is then ignored)", False),
    _p("rtf", _F, "real-time factor of the steps when publish_clock is true", 1.0, 0.001,
       MAX_RTF),
    _p("cmd_timeout_s", _F, "zero a thruster when no valid command came for this long [s]",
       1.0, 0.01, 60.0),
    _p("initial_x_m", _F, "start position east in map [m]", core_default(UsvState, "x_m"), -1e5,
       1e5),
    _p("initial_y_m", _F, "start position north in map [m]", core_default(UsvState, "y_m"), -1e5,
       1e5),
    _p("initial_yaw_rad", _F, "start heading, counter-clockwise from east [rad]",
       core_default(UsvState, "psi_rad"), -3.15, 3.15),
    _p("seed", "int", "seed of every noise and disturbance process", 0, 0, 2**31 - 1),
    # environment (directions: ENU, the direction the wind/waves/current move TOWARD)
    _p("wind_speed_mps", _F, "mean wind speed [m/s]", 0.0, 0.0, 50.0),
    _p("wind_direction_rad", _F, "direction the wind blows toward (ENU) [rad]", 0.0,
       -6.3, 6.3),
    _p("wind_gust_gain_mps", _F, "gust standard deviation [m/s] (VRX gain constant)",
       core_default(Wind, "gust_gain"), 0.0, 20.0),
    _p("wind_gust_time_constant_s", _F, "gust correlation time [s]",
       core_default(Wind, "gust_time_constant_s"), 0.01, 1000.0),
    _p("wave_sig_height_m", _F, "significant wave height [m] (0: calm)", 0.0, 0.0, 5.0),
    _p("wave_peak_period_s", _F, "peak period of the wave spectrum [s]", 3.0, 0.5, 30.0),
    _p("wave_direction_rad", _F, "direction the waves travel toward (ENU) [rad]", 0.0,
       -6.3, 6.3),
    _p("current_speed_mps", _F, "mean water current [m/s]", _current("speed_mps"), 0.0, 5.0),
    _p("current_direction_rad", _F, "direction the current flows toward (ENU) [rad]",
       _current("direction_rad"), -6.3, 6.3),
    _p("current_spatial_rms_mps", _F, "RMS of the spatial current variation [m/s]",
       _current("spatial_rms_mps"), 0.0, 5.0),
    _p("current_length_scale_m", _F, "wavelength of the spatial current variation [m]",
       _current("length_scale_m"), 1.0, 1e5),
    _p("current_temporal_rms_mps", _F, "RMS of the slow current speed modulation [m/s]",
       _current("temporal_rms_mps"), 0.0, 5.0),
    _p("current_time_scale_s", _F, "period scale of that modulation [s]", _current("time_scale_s"),
       1.0, 1e6),
    # geodesy
    _p("datum_latitude_deg", _F, "latitude of the map origin [deg]", 47.3977, -89.0, 89.0),
    _p("datum_longitude_deg", _F, "longitude of the map origin [deg]", 8.5456, -180.0, 180.0),
    _p("datum_altitude_m", _F, "WGS-84 altitude of the water surface at the origin [m]",
       488.0, -1000.0, 10000.0),
    # GNSS
    _p("gnss_rate_hz", _F, "GNSS fix rate [Hz]", 5.0, 0.1, 100.0),
    _p("gnss_horizontal_sigma_m", _F, "GNSS white noise per horizontal axis [m]",
       _gnss("horizontal_sigma_m"), 0.0, 100.0),
    _p("gnss_vertical_sigma_m", _F, "GNSS white noise up [m]", _gnss("vertical_sigma_m"), 0.0,
       100.0),
    _p("gnss_bias_sigma_m", _F, "GNSS Gauss-Markov bias sigma per axis [m]", 0.3, 0.0, 100.0),
    _p("gnss_bias_time_constant_s", _F, "GNSS bias correlation time [s]",
       _gnss("bias_time_constant_s"), 0.1, 1e5),
    _p("gnss_antenna_height_m", _F, "GNSS antenna above the water line [m]",
       _gnss("antenna_height_m"), -10.0, 100.0),
    # Outage windows may change at run time (ros2 param set) to inject a fault live.
    ParamSpec("gnss_outages_s", "float[]", "GNSS outage windows, flat [start_s, end_s, ...] "
              "(sim time)", default=[], min=-1e9, max=1e9),
    _p("gnss_outage_mode", "str", "in an outage: 'silent' (no message) or 'no_fix' "
       "(STATUS_NO_FIX, NaN position, as receivers without a fix report)", "silent",
       choices=("silent", "no_fix")),
    # IMU (defaults: VRX WAM-V IMU noise, wamv_imu.xacro)
    _p("imu_rate_hz", _F, "IMU rate [Hz] (at most rate_hz)", 50.0, 0.1, 1000.0),
    _p("imu_gyro_sigma_radps", _F, "gyro white noise [rad/s]", _imu("gyro_sigma_radps"), 0.0, 10.0),
    _p("imu_gyro_bias_radps", _F, "gyro turn-on bias sigma [rad/s]", _imu("gyro_bias_radps"), 0.0,
       10.0),
    _p("imu_accel_sigma_mps2", _F, "accelerometer white noise [m/s^2]", _imu("accel_sigma_mps2"),
       0.0, 100.0),
    _p("imu_accel_bias_mps2", _F, "accelerometer turn-on bias sigma [m/s^2]",
       _imu("accel_bias_mps2"), 0.0, 100.0),
    _p("imu_orientation_sigma_rad", _F, "yaw noise of the IMU orientation [rad]",
       _imu("orientation_sigma_rad"), 0.0, 3.0),
    # battery and power
    _p("battery_capacity_wh", _F, "usable battery energy [Wh]", _battery("capacity_wh"), 1.0, 1e7),
    _p("battery_voltage_full_v", _F, "open-circuit voltage when full [V]",
       _battery("voltage_full_v"), 1.0, 1000.0),
    _p("battery_voltage_empty_v", _F, "open-circuit voltage when empty [V]",
       _battery("voltage_empty_v"), 1.0, 1000.0),
    _p("battery_internal_resistance_ohm", _F, "battery series resistance [ohm]",
       _battery("internal_resistance_ohm"), 1e-6, 100.0),
    _p("battery_initial_soc", _F, "state of charge at start [0..1]", _battery("initial_soc"), 0.0,
       1.0),
    _p("battery_hotel_load_w", _F, "constant electronics load [W]", _battery("hotel_load_w"), 0.0,
       1e5),
    _p("thruster_max_power_w", _F, "electric input power of one thruster at full thrust [W]",
       4000.0, 1.0, 1e6),
    _p("battery_rate_hz", _F, "BatteryState rate [Hz]", 1.0, 0.01, 100.0),
    # water quality
    _p("water_field_seed", "int", "seed of the reservoir's water-quality field",
       core_default(WaterQualityField, "seed"), 0, 2**31 - 1),
    _p("water_rate_hz", _F, "water-quality reading rate [Hz]", 1.0, 0.01, 100.0),
    _p("water_temperature_mean_c", _F, "mean water temperature [degC]",
       _water("temperature_mean_c"), 0.0, 40.0),
    _p("water_temperature_amplitude_c", _F, "temperature variation amplitude [degC]",
       _water("temperature_amplitude_c"), 0.0, 20.0),
    _p("water_min_wavelength_m", _F, "shortest wavelength of the field [m]",
       _water("min_wavelength_m"), 1.0, 1e5),
    _p("water_max_wavelength_m", _F, "longest wavelength of the field [m]",
       _water("max_wavelength_m"), 1.0, 1e6),
    # operator link
    _p("operator_heartbeat_rate_hz", _F, "operator heartbeat rate [Hz]", 2.0, 0.1, 100.0),
    ParamSpec("operator_outages_s", "float[]", "operator link outage windows, flat "
              "[start_s, end_s, ...] (sim time)", default=[], min=-1e9, max=1e9),
    _p("operator_loss_probability", _F, "probability that one heartbeat is lost",
       core_default(OperatorLink, "loss_probability"), 0.0, 1.0),
    # traffic
    _p("traffic_file", "str", "YAML of other vessels (config/usv_traffic.yaml format); "
       "empty: none", ""),
    _p("ais_static_every", "int", "send AIS type 5 static data every n-th report",
       core_default(AisTransmitter, "static_every"), 1, 1000),
    _p("tracker_rate_hz", _F, "tracked-targets rate [Hz]", 1.0, 0.01, 100.0),
    _p("tracker_position_sigma_m", _F, "tracker position noise [m]", _tracker("position_sigma_m"),
       0.0, 1000.0),
    _p("tracker_velocity_sigma_mps", _F, "tracker velocity noise per axis [m/s]",
       _tracker("velocity_sigma_mps"), 0.0, 100.0),
    _p("tracker_max_range_m", _F, "tracker range [m]", _tracker("max_range_m"), 1.0, 1e6),
    _p("tracker_detection_probability", _F, "probability a vessel in range is reported",
       _tracker("detection_probability"), 0.0, 1.0),
    # frames
    _p("map_frame_id", "str", "world frame of the ground truth and targets", "map"),
    _p("base_frame_id", "str", "boat body frame (REP-105)", "base_link"),
    _p("gnss_frame_id", "str", "frame of the GNSS fix", "base_link"),
    _p("imu_frame_id", "str", "frame of the IMU", "base_link"),
)


#: Round-off allowance [s] when a periodic output falls due on a step's time.
_TIME_EPS_S = 1e-9


class _Every:
    """Fires at a fixed period on a (possibly jumping) clock, without drift or bursts."""

    def __init__(self, rate_hz: float) -> None:
        self.period_s = 1.0 / rate_hz
        self._next_s: float | None = None

    def due(self, t_s: float) -> bool:
        if self._next_s is None or t_s < self._next_s - self.period_s:
            self._next_s = t_s
        if t_s < self._next_s - _TIME_EPS_S:  # 0.1 + 0.2 > 0.3: not a step late
            return False
        nxt = self._next_s + self.period_s
        self._next_s = nxt if nxt > t_s else t_s + self.period_s
        return True


def _diag3(values: tuple[float, float, float]) -> list[float]:
    return [values[0], 0.0, 0.0, 0.0, values[1], 0.0, 0.0, 0.0, values[2]]


class UsvSimNode(DgNode):
    """Steps the boat model on a ROS-clock timer and publishes its sensors and world."""

    def __init__(self, **kwargs: Any) -> None:
        """Read parameters, bridge config and traffic; create models, topics and timer.

        Raises:
            ParameterError: on an invalid parameter, bridge config or traffic file.

        """
        super().__init__("usv_sim", SCHEMA, **kwargs)
        p = self.params
        try:
            topics = load_usv_topics(p.bridge_config, p.model_name, p.world_name)
        except BridgeConfigError as exc:
            raise ParameterError(f"parameter 'bridge_config': {exc}") from None
        try:
            self.vessels: list[TrafficVessel] = load_traffic(p.traffic_file) \
                if p.traffic_file else []
        except ValueError as exc:
            raise ParameterError(f"parameter 'traffic_file': {exc}") from None
        seeds = [int(s.generate_state(1)[0])
                 for s in np.random.SeedSequence(p.seed).spawn(10)]
        try:
            self.hull = HULLS[p.hull]
            self.datum = Datum(p.datum_latitude_deg, p.datum_longitude_deg, p.datum_altitude_m)
            self.model = UsvModel(self.hull)
            self.wind = Wind(p.wind_speed_mps, p.wind_direction_rad, p.wind_gust_gain_mps,
                             p.wind_gust_time_constant_s, seeds[0], self.hull)
            self.waves = Waves(p.wave_peak_period_s, p.wave_sig_height_m,
                               p.wave_direction_rad, seeds[1], self.hull)
            self.current = CurrentField(
                p.current_speed_mps, p.current_direction_rad, p.current_spatial_rms_mps,
                p.current_length_scale_m, p.current_temporal_rms_mps, p.current_time_scale_s,
                seeds[2])
            self.gnss = GnssSensor(
                self.datum, p.gnss_horizontal_sigma_m, p.gnss_vertical_sigma_m,
                p.gnss_bias_sigma_m, p.gnss_bias_time_constant_s, p.gnss_antenna_height_m,
                OutageWindows.from_flat(p.gnss_outages_s, "gnss_outages_s"), seeds[3])
            self.imu = ImuSensor(p.imu_gyro_sigma_radps, p.imu_gyro_bias_radps,
                                 p.imu_accel_sigma_mps2, p.imu_accel_bias_mps2,
                                 p.imu_orientation_sigma_rad, seeds[4])
            self.battery = Battery(p.battery_capacity_wh, p.battery_voltage_full_v,
                                   p.battery_voltage_empty_v, p.battery_internal_resistance_ohm,
                                   p.battery_initial_soc, p.battery_hotel_load_w)
            field = WaterQualityField(p.water_field_seed, WaterQualityConfig(
                temperature_mean_c=p.water_temperature_mean_c,
                temperature_amplitude_c=p.water_temperature_amplitude_c,
                min_wavelength_m=p.water_min_wavelength_m,
                max_wavelength_m=p.water_max_wavelength_m))
            self.sonde = WaterQualitySensor(field, rng=seeds[5])
            self.operator = OperatorLink(
                1.0 / p.operator_heartbeat_rate_hz,
                OutageWindows.from_flat(p.operator_outages_s, "operator_outages_s"),
                p.operator_loss_probability, seeds[6])
            self.tracker = NoisyTracker(p.tracker_position_sigma_m, p.tracker_velocity_sigma_mps,
                                        p.tracker_max_range_m, p.tracker_detection_probability,
                                        seeds[7])
            phase_rng = np.random.default_rng(seeds[8])
            self.ais = [AisTransmitter(v.ais_period_s, p.ais_static_every,
                                       float(phase_rng.uniform(0.0, v.ais_period_s or 2.0)))
                        for v in self.vessels]
        except ValueError as exc:
            raise ParameterError(str(exc)) from None

        self.state = UsvState(p.initial_x_m, p.initial_y_m, wrap_angle(p.initial_yaw_rad))
        self.cmd_n = [0.0, 0.0]           # last valid command per thruster [N]
        self.applied_cmd_n = (0.0, 0.0)   # what the thrusters were last told (after watchdog)
        self.saturated_cmds = 0
        self._t_s: float | None = None    # physics time (never goes back) [s]
        self._last_clock_s: float | None = None
        self._accel_body = (0.0, 0.0)
        self._every = {k: _Every(r) for k, r in (
            ("gnss", p.gnss_rate_hz), ("imu", min(p.imu_rate_hz, p.rate_hz)),
            ("battery", p.battery_rate_hz), ("water", p.water_rate_hz),
            ("tracker", p.tracker_rate_hz))}

        self.watchdogs = (Watchdog(p.cmd_timeout_s), Watchdog(p.cmd_timeout_s))
        self.cmd_monitors = []
        for i, role in enumerate(("left_thrust", "right_thrust")):
            name = topics[role].ros_topic_name
            self.cmd_monitors.append(self.diagnostics.monitor(name, p.cmd_timeout_s))
            self.create_subscription(Float64, name, self.guarded(
                lambda msg, i=i: self._on_thrust(i, msg)), COMMAND_SUB_QOS)
        q = BRIDGE_PUB_QOS
        self._truth_pub = self.create_publisher(Odometry, topics["ground_truth"].ros_topic_name,
                                                q)
        self._gnss_pub = self.create_publisher(NavSatFix, topics["gnss"].ros_topic_name, q)
        self._imu_pub = self.create_publisher(Imu, topics["imu"].ros_topic_name, q)
        self._battery_pub = self.create_publisher(BatteryState, "battery", q)
        self._water_pub = self.create_publisher(WaterSample, "water_quality", q)
        self._heartbeat_pub = self.create_publisher(Header, "operator/heartbeat", q)
        self._ais_pub = self.create_publisher(String, "ais/nmea", q)
        self._targets_pub = self.create_publisher(TargetArray, "tracker/targets", q)
        # Noise-free states of all other vessels, for scoring runs (like ground_truth odom).
        self._traffic_truth_pub = self.create_publisher(TargetArray, "traffic/ground_truth", q)
        self._traffic_truth_due_s = 0.0
        self.add_on_set_parameters_callback(self._check_outages)
        self.add_post_set_parameters_callback(self._update_outages)
        self.diagnostics.set_value("hull", self.hull.name)
        self.diagnostics.set_value("vessels", len(self.vessels))
        self.diagnostics.set_status(OK, "running")
        # Commands arrive on the executor thread, steps may run on the time source's thread.
        self._lock = threading.Lock()
        self._time_source: TimeSource | None = None
        if p.publish_clock:
            # First step at one period: no message goes out stamped 0 ("stamp not set").
            self._time_source = TimeSource(self, 1.0 / p.rate_hz, start_s=1.0 / p.rate_hz,
                                           on_step=self._lockstep)
        else:
            self.create_timer(1.0 / p.rate_hz, self.guarded(self._step))

    # --- live outage windows --------------------------------------------------------------
    _OUTAGE_PARAMS = ("gnss_outages_s", "operator_outages_s")

    def _check_outages(self, changes: list[Parameter]) -> SetParametersResult:
        for param in changes:
            if param.name in self._OUTAGE_PARAMS:
                try:
                    OutageWindows.from_flat(list(param.value or []), param.name)
                except ValueError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def _update_outages(self, changes: list[Parameter]) -> None:
        for param in changes:
            if param.name in self._OUTAGE_PARAMS:
                windows = OutageWindows.from_flat(list(param.value or []), param.name)
                target = self.gnss if param.name == "gnss_outages_s" else self.operator
                target.outages = windows
                self.get_logger().info(f"{param.name} now {list(windows.windows)}")

    def now_s(self) -> float:
        """Sim time [s]: the current step's when this node is the time source."""
        ts = self._time_source
        return ts.now_s if ts is not None else super().now_s()

    # --- inputs ---------------------------------------------------------------------------
    def _on_thrust(self, i: int, msg: Float64) -> None:
        with self._lock:
            now = self.now_s()
            try:
                require_finite(self.cmd_monitors[i].topic, (msg.data,))
            except InvalidInput as exc:
                self.reject(self.cmd_monitors[i], "non_finite", str(exc))
                return
            if self.model.saturate(msg.data) != msg.data:
                self.saturated_cmds += 1
            self.cmd_n[i] = float(msg.data)
            self.watchdogs[i].feed(now)
            self.cmd_monitors[i].tick(now)

    # --- lockstep time source -------------------------------------------------------------
    def _lockstep(self, sim_time_s: float) -> None:
        """One fixed step at ``sim_time_s``: physics and sensors (then TimeSource: /clock)."""
        with self._lock:
            last = self._t_s
            if last is None:
                self._t_s = sim_time_s
            else:
                self._integrate(sim_time_s - last, sim_time_s)
            self._publish(Time(nanoseconds=round(sim_time_s * 1e9)), self._t_s)

    def on_exit(self) -> None:
        """Stop the time source's thread before the node is destroyed."""
        if self._time_source is not None:
            self._time_source.stop()

    # --- simulation -----------------------------------------------------------------------
    def _step(self) -> None:
        now = self.get_clock().now()
        if now.nanoseconds <= 0:
            return      # sim time, no /clock yet: nothing to integrate, no zero stamps
        now_s = now.nanoseconds * 1e-9
        last = self._last_clock_s
        self._last_clock_s = now_s
        if self._t_s is None:
            self._t_s = now_s
        elif last is not None and now_s < last:
            self.get_logger().warning(
                f"clock went back from {last:.3f} s to {now_s:.3f} s; continuing from the "
                "current state")
        elif last is not None and now_s > last:
            self._integrate(now_s - last, now_s)
        self._publish(now, self._t_s)

    def _integrate(self, dt_s: float, clock_s: float) -> None:
        t = self._t_s + dt_s            # physics time: monotonic even if the clock resets
        expired = [w.expired(clock_s) for w in self.watchdogs]
        cmd = tuple(0.0 if e else c for e, c in zip(expired, self.cmd_n, strict=True))
        if self.battery.depleted:
            cmd = (0.0, 0.0)
        self.applied_cmd_n = cmd
        prev = self.state
        try:
            wind = self.wind.force(prev, t)
            waves = self.waves.force(prev, t)
            tau_env = tuple(a + b for a, b in zip(wind, waves, strict=True))
            current = self.current.velocity(prev.x_m, prev.y_m, t)
            self.state = self.model.step(prev, cmd, tau_env, current, dt_s)
        except UsvModelError as exc:
            # Never publish a non-finite state: stop the boat where it was.
            self.model.reset()
            self.state = UsvState(prev.x_m, prev.y_m, prev.psi_rad)
            self.diagnostics.set_status(ERROR, f"model error, boat stopped: {exc}")
            self.get_logger().error(f"model step failed: {exc}", throttle_duration_sec=1.0)
        self._t_s = t
        power = sum(thruster_power_w(f, self.hull.thrust_fwd_max_n,
                                     self.params.thruster_max_power_w)
                    for f in self.model.thrust_actual_n)
        self.battery.step(power, dt_s)
        yaw_mid = prev.psi_rad + 0.5 * wrap_angle(self.state.psi_rad - prev.psi_rad)
        self._accel_body = body_acceleration(yaw_mid, prev.velocity_enu(),
                                             self.state.velocity_enu(), dt_s)
        self.diagnostics.set_value(
            "command", "timeout: zero thrust" if any(expired) else "ok")
        left, right = self.model.thrust_actual_n
        self.diagnostics.set_value("thrust_actual_n", f"{left:.1f}, {right:.1f}")
        self.diagnostics.set_value("saturated_commands", self.saturated_cmds)
        if self.battery.depleted:
            self.diagnostics.set_status(ERROR, "battery empty: thrusters without power")

    # --- outputs --------------------------------------------------------------------------
    def _publish(self, now: Time, t_s: float) -> None:
        stamp = now.to_msg()
        self._publish_truth(stamp)
        ev = self._every
        if ev["imu"].due(t_s):
            self._publish_imu(stamp)
        if ev["gnss"].due(t_s):
            self._publish_gnss(stamp, t_s)
        if ev["battery"].due(t_s):
            self._publish_battery(stamp)
        if ev["water"].due(t_s):
            self._publish_water(stamp)
        if self.operator.poll(t_s):
            self._heartbeat_pub.publish(Header(stamp=stamp, frame_id="operator"))
        self.diagnostics.set_value("operator_link", "up" if self.operator.up(t_s) else "outage")
        self._publish_traffic(stamp, t_s, ev["tracker"].due(t_s))

    def _publish_truth(self, stamp: Any) -> None:
        s, p = self.state, self.params
        msg = Odometry()
        msg.header.stamp = stamp
        msg.header.frame_id = p.map_frame_id
        msg.child_frame_id = p.base_frame_id
        msg.pose.pose.position.x = s.x_m
        msg.pose.pose.position.y = s.y_m
        q = msg.pose.pose.orientation
        q.x, q.y, q.z, q.w = quaternion_from_yaw(s.psi_rad)
        msg.twist.twist.linear.x = s.u_mps
        msg.twist.twist.linear.y = s.v_mps
        msg.twist.twist.angular.z = s.r_radps
        self._truth_pub.publish(msg)

    def _publish_imu(self, stamp: Any) -> None:
        s = self.state
        r = self.imu.measure(s.psi_rad, s.r_radps, *self._accel_body)
        msg = Imu()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params.imu_frame_id
        o = msg.orientation
        o.x, o.y, o.z, o.w = r.orientation_xyzw
        av, la = msg.angular_velocity, msg.linear_acceleration
        av.x, av.y, av.z = r.angular_velocity_radps
        la.x, la.y, la.z = r.linear_acceleration_mps2
        msg.orientation_covariance = _diag3((VARIANCE_FLOOR, VARIANCE_FLOOR,
                                             max(r.orientation_sigma_rad ** 2, VARIANCE_FLOOR)))
        msg.angular_velocity_covariance = _diag3(
            (max(r.angular_velocity_sigma_radps ** 2, VARIANCE_FLOOR),) * 3)
        msg.linear_acceleration_covariance = _diag3(
            (max(r.linear_acceleration_sigma_mps2 ** 2, VARIANCE_FLOOR),) * 3)
        self._imu_pub.publish(msg)

    def _publish_gnss(self, stamp: Any, t_s: float) -> None:
        fix = self.gnss.fix(self.state.x_m, self.state.y_m, t_s)
        self.diagnostics.set_value("gnss", "outage" if fix is None else "fix")
        msg = NavSatFix()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params.gnss_frame_id
        msg.status.service = NavSatStatus.SERVICE_GPS
        if fix is None:
            if self.params.gnss_outage_mode == "silent":
                return
            msg.status.status = NavSatStatus.STATUS_NO_FIX
            msg.latitude = msg.longitude = msg.altitude = math.nan
            msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_UNKNOWN
        else:
            msg.status.status = NavSatStatus.STATUS_FIX
            msg.latitude, msg.longitude, msg.altitude = fix.lat_deg, fix.lon_deg, fix.alt_m
            msg.position_covariance = _diag3((fix.horizontal_sigma_m ** 2,
                                              fix.horizontal_sigma_m ** 2,
                                              fix.vertical_sigma_m ** 2))
            msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
        self._gnss_pub.publish(msg)

    def _publish_battery(self, stamp: Any) -> None:
        b = self.battery.last
        msg = BatteryState()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params.base_frame_id
        msg.voltage = b.voltage_v
        msg.temperature = math.nan          # not measured (BatteryState: NaN when unknown)
        msg.current = -b.current_a          # negative while discharging (BatteryState)
        msg.charge = b.soc * b.capacity_ah
        msg.capacity = b.capacity_ah
        msg.design_capacity = b.capacity_ah
        msg.percentage = b.soc
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
        msg.power_supply_health = (BatteryState.POWER_SUPPLY_HEALTH_DEAD if b.depleted
                                   else BatteryState.POWER_SUPPLY_HEALTH_GOOD)
        msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
        msg.present = True
        msg.location = "hull"
        self._battery_pub.publish(msg)
        self.diagnostics.set_value("battery_soc", f"{b.soc:.3f}")
        if not b.depleted and b.soc < 0.1:
            self.diagnostics.set_status(WARN, "battery below 10 %")

    def _publish_water(self, stamp: Any) -> None:
        s = self.state
        r = self.sonde.read(s.x_m, s.y_m)
        msg = WaterSample()
        msg.header.stamp = stamp
        msg.header.frame_id = self.params.map_frame_id
        msg.x_m, msg.y_m = s.x_m, s.y_m
        msg.temperature_c = r.temp_c
        msg.dissolved_oxygen_mgl = r.do_mgl
        msg.turbidity_ntu = r.turbidity_ntu
        self._water_pub.publish(msg)

    def _publish_traffic(self, stamp: Any, t_s: float, track_now: bool) -> None:
        present, truth = [], []
        for vessel, tx in zip(self.vessels, self.ais, strict=True):
            state = vessel.state(t_s)
            if state is not None:
                truth.append(state)
            if state is not None and vessel.tracked:
                present.append(state)
            if vessel.ais:
                for sentence in tx.poll(state, self.datum, t_s):
                    self._ais_pub.publish(String(data=sentence))
        header = Header(stamp=stamp, frame_id=self.params.map_frame_id)
        if t_s >= self._traffic_truth_due_s:
            self._traffic_truth_due_s = t_s + TRAFFIC_TRUTH_PERIOD_S
            self._traffic_truth_pub.publish(TargetArray(header=header, targets=[Target(
                header=header, id=str(v.mmsi), source=Target.SOURCE_TRACKER, x_m=v.x_m,
                y_m=v.y_m, course_rad=v.course_rad, speed_mps=v.speed_mps,
                length_m=v.length_m) for v in truth]))
        if not track_now:
            return
        msg = TargetArray(header=header)
        for t in self.tracker.observe(present, self.state.x_m, self.state.y_m):
            msg.targets.append(Target(
                header=header, id=t.track_id, source=Target.SOURCE_TRACKER, x_m=t.x_m,
                y_m=t.y_m, course_rad=t.course_rad, speed_mps=t.speed_mps,
                length_m=t.length_m, position_sigma_m=t.position_sigma_m))
        self._targets_pub.publish(msg)


#: Period [s, sim time] of the traffic ground truth (scoring only).
TRAFFIC_TRUTH_PERIOD_S = 0.2


def main(args: list[str] | None = None) -> None:
    """Run the ``usv_sim`` node."""
    raise SystemExit(run_node(UsvSimNode, args))
