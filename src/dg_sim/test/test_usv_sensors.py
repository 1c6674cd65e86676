"""Pure tests of the boat simulator's sensors, battery, water field, traffic/AIS and radio link."""

import math
from pathlib import Path

import numpy as np
import pyais
import pytest

from dg_common.geodesy import Datum, enu_to_geodetic, geodetic_to_enu
from dg_sim.usv.battery import Battery, BatteryConfigError, thruster_power_w
from dg_sim.usv.operator_link import OperatorLink
from dg_sim.usv.sensors import (
    GRAVITY_MPS2,
    Compass,
    GnssSensor,
    ImuSensor,
    OutageWindows,
    SensorConfigError,
    body_acceleration,
)
from dg_sim.usv.traffic import (
    MPS_PER_KNOT,
    AisTransmitter,
    NoisyTracker,
    TrafficConfigError,
    TrafficVessel,
    Vessel,
    ais_report_interval_s,
    course_to_cog_deg,
    encode_ais_position,
    encode_ais_static,
    load_traffic,
    parse_traffic,
    random_traffic,
)
from dg_sim.usv.water_quality import (
    WaterQualityConfig,
    WaterQualityField,
    WaterQualitySensor,
    oxygen_saturation_mgl,
)

CONFIG = Path(__file__).resolve().parents[3] / "config"
DATUM = Datum(47.3977, 8.5456, 488.0)
#: AIS lat/lon resolution: 1/10000 minute = 1/600000 degree.
AIS_LATLON_RES_DEG = 1.0 / 600000.0


# --- outage windows and GNSS ----------------------------------------------------------------
def test_outage_windows_half_open_and_flat_form():
    w = OutageWindows.from_flat([30.0, 40.0, 5.0, 6.0])
    assert w.windows == ((5.0, 6.0), (30.0, 40.0))
    assert [w.active(t) for t in (4.99, 5.0, 5.99, 6.0, 35.0, 40.0)] == [
        False, True, True, False, True, False]
    assert len(OutageWindows.from_flat([])) == 0


@pytest.mark.parametrize("flat, match", [
    ([1.0], "even length"),
    ([5.0, 5.0], "start_s < end_s"),
    ([1.0, math.nan], "finite"),
])
def test_malformed_outage_windows_are_rejected(flat, match):
    with pytest.raises(SensorConfigError, match=match):
        OutageWindows.from_flat(flat, "gnss_outages_s")


def gnss_run(seed, n=200, **kw):
    g = GnssSensor(DATUM, 0.5, 1.0, rng=seed, **kw)
    return [g.fix(10.0, 20.0, 0.1 * i) for i in range(n)]


def test_gnss_is_seeded_and_noisy_with_the_requested_sigma():
    a, b, c = gnss_run(3), gnss_run(3), gnss_run(4)
    assert a == b and a != c
    g = GnssSensor(DATUM, 0.5, 1.0, antenna_height_m=1.3, rng=5)
    enu = np.array([geodetic_to_enu(DATUM, f.lat_deg, f.lon_deg, DATUM.alt_m)[:2]
                    for f in (g.fix(10.0, 20.0, 0.0) for _ in range(3000))])
    assert enu.mean(axis=0) == pytest.approx((10.0, 20.0), abs=0.05)
    assert enu.std(axis=0) == pytest.approx((0.5, 0.5), rel=0.06)
    alts = [g.fix(0.0, 0.0, 0.0).alt_m for _ in range(3000)]
    assert np.mean(alts) == pytest.approx(DATUM.alt_m + 1.3, abs=0.06)


def test_gnss_has_no_fix_during_outages_only():
    g = GnssSensor(DATUM, outages=[(2.0, 4.0)], rng=0)
    fixes = {t: g.fix(0.0, 0.0, t) for t in (1.9, 2.0, 3.0, 3.99, 4.0)}
    assert [fixes[t] is None for t in sorted(fixes)] == [False, True, True, True, False]


def test_gnss_bias_is_correlated_in_time():
    g = GnssSensor(DATUM, 0.0, 0.0, bias_sigma_m=2.0, bias_time_constant_s=100.0, rng=1)
    east = [geodetic_to_enu(DATUM, f.lat_deg, f.lon_deg)[0]
            for f in (g.fix(0.0, 0.0, float(t)) for t in range(2000))]
    steps = np.diff(east)
    # Gauss-Markov: a 1 s step moves sigma*sqrt(1 - exp(-2/100)) ~ 0.28 m, the level ~ 2 m.
    assert np.std(steps) == pytest.approx(2.0 * math.sqrt(1 - math.exp(-2 / 100)), rel=0.1)
    assert 0.8 < np.std(east) < 3.5
    fix = g.fix(0.0, 0.0, 2000.0)
    assert fix.horizontal_sigma_m == pytest.approx(2.0)


def test_gnss_rejects_bad_input():
    with pytest.raises(SensorConfigError, match="horizontal_sigma_m"):
        GnssSensor(DATUM, -1.0)
    with pytest.raises(ValueError, match="non-finite"):
        GnssSensor(DATUM).fix(math.nan, 0.0, 0.0)


# --- IMU, compass ----------------------------------------------------------------------------
def test_imu_reports_yaw_rate_and_specific_force_with_noise():
    imu = ImuSensor(rng=2)
    readings = [imu.measure(0.7, 0.1, 0.3, -0.2) for _ in range(3000)]
    gz = np.array([r.angular_velocity_radps[2] for r in readings])
    acc = np.array([r.linear_acceleration_mps2 for r in readings])
    assert gz.mean() == pytest.approx(0.1 + imu.gyro_bias_radps[2], abs=1e-3)
    assert gz.std() == pytest.approx(0.009, rel=0.06)
    assert acc.mean(axis=0) == pytest.approx(
        np.array((0.3, -0.2, GRAVITY_MPS2)) + imu.accel_bias_mps2, abs=2e-3)
    x, y, z, w = readings[0].orientation_xyzw
    assert math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)) == pytest.approx(0.7,
                                                                                     abs=0.05)
    assert ImuSensor(rng=9).measure(0, 0, 0, 0) == ImuSensor(rng=9).measure(0, 0, 0, 0)
    with pytest.raises(ValueError, match="non-finite"):
        imu.measure(0.0, math.inf, 0.0, 0.0)


def test_body_acceleration_of_a_turning_boat_is_centripetal():
    # Constant speed 2 m/s on a circle with yaw rate 0.1 rad/s: |a| = u r = 0.2 m/s^2, to port.
    u, r, dt = 2.0, 0.1, 0.01
    yaw0 = 0.3
    v0 = (u * math.cos(yaw0), u * math.sin(yaw0))
    v1 = (u * math.cos(yaw0 + r * dt), u * math.sin(yaw0 + r * dt))
    ax, ay = body_acceleration(yaw0 + r * dt / 2, v0, v1, dt)
    assert (ax, ay) == pytest.approx((0.0, u * r), abs=1e-6)


def test_compass_is_biased_and_wrapped():
    c = Compass(sigma_rad=0.0, bias_rad=0.2, rng=0)
    assert c.heading(math.pi - 0.1) == pytest.approx(-math.pi + 0.1)


# --- battery ------------------------------------------------------------------------------
def test_battery_discharges_by_energy_with_resistive_loss():
    b = Battery(capacity_wh=100.0, voltage_full_v=29.4, voltage_empty_v=21.0,
                internal_resistance_ohm=0.05, hotel_load_w=0.0)
    r = b.step(500.0, 36.0)      # 500 W for 0.01 h = 5 Wh at the load
    assert r.power_w == 500.0 and r.current_a > 500.0 / 29.4   # V_terminal < V_oc
    assert r.voltage_v * r.current_a == pytest.approx(500.0)
    loss_wh = r.current_a ** 2 * 0.05 * 36.0 / 3600.0
    assert (1.0 - r.soc) * 100.0 == pytest.approx(5.0 + loss_wh, rel=1e-9)
    assert r.voltage_v < 29.4 and not r.limited and not r.depleted


def test_battery_runs_empty_and_stays_empty():
    b = Battery(capacity_wh=10.0, hotel_load_w=100.0)
    t = 0.0
    while not b.depleted and t < 1000.0:
        b.step(0.0, 1.0)
        t += 1.0
    assert t == pytest.approx(360.0, rel=0.03)       # 10 Wh at ~100 W
    r = b.step(1000.0, 1.0)
    assert r.depleted and r.current_a == 0.0 and r.soc == 0.0 and r.voltage_v == 21.0


def test_battery_caps_power_at_the_maximum_deliverable():
    b = Battery(voltage_full_v=24.0, voltage_empty_v=20.0, internal_resistance_ohm=1.0,
                hotel_load_w=0.0)
    r = b.step(1000.0, 1.0)
    assert r.limited and r.power_w == pytest.approx(24.0 ** 2 / 4.0)


def test_battery_validation():
    with pytest.raises(BatteryConfigError, match="voltage_empty_v"):
        Battery(voltage_full_v=20.0, voltage_empty_v=25.0)
    with pytest.raises(ValueError, match="power_w"):
        Battery().step(math.nan, 1.0)


def test_thruster_power_scales_with_thrust_to_the_three_halves():
    assert thruster_power_w(250.0, 1000.0, 4000.0) == pytest.approx(4000.0 / 8.0)
    assert thruster_power_w(-1000.0, 1000.0, 4000.0) == 4000.0
    with pytest.raises(ValueError):
        thruster_power_w(math.nan, 1000.0, 4000.0)


# --- water quality ------------------------------------------------------------------------
def test_water_field_is_seeded_bounded_and_physical():
    f = WaterQualityField(seed=11)
    assert f.sample(120.0, -40.0) == WaterQualityField(seed=11).sample(120.0, -40.0)
    assert f.sample(120.0, -40.0) != WaterQualityField(seed=12).sample(120.0, -40.0)
    xs, ys = np.meshgrid(np.linspace(-3000, 3000, 121), np.linspace(-3000, 3000, 121))
    temp, do, turb = f.sample(xs, ys)
    (t_lo, t_hi), (d_lo, d_hi), (n_lo, n_hi) = f.config.bounds()
    assert t_lo <= temp.min() and temp.max() <= t_hi
    assert d_lo <= do.min() and do.max() <= d_hi
    assert n_lo <= turb.min() and turb.max() <= n_hi
    assert temp.max() - temp.min() > 2.0          # it does vary in space
    # Oxygen solubility (APHA 4500-O table): 9.09 mg/L at 20 degC, 14.62 at 0 degC.
    assert oxygen_saturation_mgl(20.0) == pytest.approx(9.09, abs=0.02)
    assert oxygen_saturation_mgl(0.0) == pytest.approx(14.62, abs=0.04)


def test_water_field_is_smooth():
    cfg = WaterQualityConfig(min_wavelength_m=150.0)
    f = WaterQualityField(seed=3, config=cfg)
    x = np.linspace(0.0, 2000.0, 4001)              # 0.5 m spacing
    temp = f.sample(x, np.zeros_like(x)).temp_c
    grad = np.abs(np.diff(temp)) / 0.5
    # |dT/dx| <= amplitude * 2 pi / min wavelength (sum of unit-normalised plane waves).
    assert grad.max() <= cfg.temperature_amplitude_c * 2 * math.pi / 150.0
    assert np.abs(np.diff(temp, 2)).max() < 1e-3   # no jumps or kinks


def test_water_sensor_noise_is_seeded_and_nonnegative():
    f = WaterQualityField(seed=1)
    a = WaterQualitySensor(f, rng=4).read(10.0, 10.0)
    assert a == WaterQualitySensor(f, rng=4).read(10.0, 10.0)
    assert a.do_mgl >= 0.0 and a.turbidity_ntu >= 0.0
    with pytest.raises(SensorConfigError, match="temperature range"):
        WaterQualityConfig(temperature_mean_c=38.0, temperature_amplitude_c=5.0)


# --- traffic and AIS ----------------------------------------------------------------------
def crossing():
    return TrafficVessel(mmsi=211000001, waypoints_m=((200.0, -300.0), (200.0, 300.0),
                                                      (500.0, 300.0)),
                         speed_mps=(3.0, 5.0), start_time_s=10.0, length_m=20.0,
                         beam_m=6.0, name="Ferry", ship_type=60)


def test_scripted_vessel_follows_legs_in_closed_form():
    v = crossing()
    assert v.state(9.99) is None
    s = v.state(110.0)                                   # 100 s at 3 m/s north
    assert (s.x_m, s.y_m, s.speed_mps) == pytest.approx((200.0, 0.0, 3.0))
    assert s.course_rad == pytest.approx(math.pi / 2)
    s = v.state(10.0 + 200.0 + 20.0)                     # second leg, 20 s at 5 m/s east
    assert (s.x_m, s.y_m, s.course_rad) == pytest.approx((300.0, 300.0, 0.0))
    assert v.end_time_s == pytest.approx(10.0 + 200.0 + 60.0)
    assert v.state(v.end_time_s + 1.0) is None           # after_end: remove


def test_after_end_stop_and_loop():
    stop = TrafficVessel(mmsi=1, waypoints_m=((0.0, 0.0), (10.0, 0.0)), speed_mps=1.0,
                         after_end="stop")
    assert (stop.state(50.0).x_m, stop.state(50.0).speed_mps) == (10.0, 0.0)
    loop = TrafficVessel(mmsi=2, waypoints_m=((0.0, 0.0), (10.0, 0.0)), speed_mps=1.0,
                         after_end="loop")
    assert loop.state(25.0).x_m == pytest.approx(5.0)    # lap of 20 s: back out again
    assert loop.state(15.0).course_rad == pytest.approx(math.pi)
    anchored = TrafficVessel(mmsi=3, waypoints_m=((5.0, 5.0),), course_rad=1.0)
    assert anchored.state(1e6).speed_mps == 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"waypoints_m": ()}, "at least one waypoint"),
    ({"speed_mps": (1.0, 2.0)}, "2 speeds for 1 legs"),
    ({"speed_mps": 0.0}, "speed 0.0"),
    ({"waypoints_m": ((0, 0), (0, 0))}, "zero length"),
    ({"after_end": "sink"}, "after_end"),
    ({"mmsi": 1_234_567_890}, "9 digits"),
    ({"waypoints_m": ((0, 0), (math.nan, 1))}, "finite"),
])
def test_bad_vessel_is_rejected(kwargs, match):
    base = {"mmsi": 1, "waypoints_m": ((0.0, 0.0), (10.0, 0.0)), "speed_mps": 1.0}
    with pytest.raises(TrafficConfigError, match=match):
        TrafficVessel(**{**base, **kwargs})


def test_random_traffic_is_seeded_and_stays_in_its_box():
    a = random_traffic(3, (-500, -200, 500, 200), seed=7)
    assert a == random_traffic(3, (-500, -200, 500, 200), seed=7)
    assert a != random_traffic(3, (-500, -200, 500, 200), seed=8)
    for v in a:
        for t in np.linspace(0.0, 5000.0, 200):
            s = v.state(float(t))
            assert -500 <= s.x_m <= 500 and -200 <= s.y_m <= 200
    assert len({v.mmsi for v in a}) == 3


def decode(sentences):
    return pyais.decode(*sentences).asdict()


@pytest.mark.parametrize("x, y, course, speed", [
    (0.0, 0.0, 0.0, 0.0), (350.0, -1200.0, math.pi / 2, 3.0), (-2500.0, 800.0, 2.5, 12.3),
    (10.0, 10.0, -0.01, 50.0),
])
def test_ais_position_report_decodes_back_within_ais_resolution(x, y, course, speed):
    v = Vessel(366123456, x, y, course, speed)
    sentences = encode_ais_position(v, DATUM, 125.7)
    assert len(sentences) == 1 and sentences[0].startswith("!AIVDM,1,1,,A,")
    d = decode(sentences)
    assert (d["msg_type"], d["mmsi"], d["second"]) == (1, 366123456, 5)
    truth = enu_to_geodetic(DATUM, x, y, 0.0)
    # AIS carries 1/10000 min; pyais rounds to it when encoding (and to 1e-6 deg decoding).
    assert abs(d["lat"] - truth.lat_deg) <= AIS_LATLON_RES_DEG
    assert abs(d["lon"] - truth.lon_deg) <= AIS_LATLON_RES_DEG
    e, n, _ = geodetic_to_enu(DATUM, d["lat"], d["lon"], truth.alt_m)
    m_n, m_e = DATUM.meters_per_degree()     # ~0.19 m north, ~0.13 m east per quantum here
    assert abs(n - y) <= m_n * AIS_LATLON_RES_DEG + 1e-3
    assert abs(e - x) <= m_e * AIS_LATLON_RES_DEG + 1e-3
    assert d["speed"] == pytest.approx(speed / MPS_PER_KNOT, abs=0.05 + 1e-9)
    cog = course_to_cog_deg(course)
    assert abs((d["course"] - cog + 180.0) % 360.0 - 180.0) <= 0.05 + 1e-9
    assert d["heading"] == round(cog) % 360


def test_ais_speed_is_clamped_and_course_is_compass():
    d = decode(encode_ais_position(Vessel(1, 0.0, 0.0, math.pi, 80.0), DATUM, 0.0))
    assert d["speed"] == 102.2 and d["course"] == 270.0   # west
    assert course_to_cog_deg(math.pi / 2) == 0.0 and course_to_cog_deg(0.0) == 90.0
    with pytest.raises(ValueError, match="non-finite"):
        encode_ais_position(Vessel(1, math.nan, 0.0, 0.0, 1.0), DATUM, 0.0)


def test_ais_static_data_decodes():
    v = crossing().state(20.0)
    sentences = encode_ais_static(v, seq_id=3, channel="B")
    assert [s[:15] for s in sentences] == ["!AIVDM,2,1,3,B,", "!AIVDM,2,2,3,B,"]
    d = decode(sentences)
    assert (d["msg_type"], d["shipname"], d["ship_type"]) == (5, "FERRY", 60)
    assert (d["to_bow"] + d["to_stern"], d["to_port"] + d["to_starboard"]) == (20, 6)


def test_ais_transmitter_schedule_and_static_every_sixth():
    v = crossing()
    tx = AisTransmitter(period_s=2.0, static_every=6)
    out = {t / 10: tx.poll(v.state(t / 10), DATUM, t / 10) for t in range(0, 400)}
    sent = {t: s for t, s in out.items() if s}
    assert sorted(sent)[:3] == pytest.approx([10.0, 12.0, 14.0])   # appears at 10 s
    types = [decode(s[:1])["msg_type"] for s in sent.values()]
    assert types == [1] * len(sent)
    with_static = [t for t, s in sent.items() if len(s) == 3]
    assert with_static == pytest.approx([10.0, 22.0, 34.0])
    assert ais_report_interval_s(5.0) == 10.0 and ais_report_interval_s(10.0) == 6.0
    assert ais_report_interval_s(13.0) == 2.0


def test_tracker_noise_range_and_stable_ids():
    vessels = [Vessel(1, 100.0, 0.0, 0.0, 2.0, 10.0), Vessel(2, 5000.0, 0.0, 0.0, 2.0)]
    tr = NoisyTracker(position_sigma_m=2.0, velocity_sigma_mps=0.1, max_range_m=1000.0, rng=3)
    obs = [tr.observe(vessels, 0.0, 0.0) for _ in range(2000)]
    assert all(len(o) == 1 and o[0].track_id == "T1" for o in obs)
    xs = np.array([o[0].x_m for o in obs])
    assert xs.mean() == pytest.approx(100.0, abs=0.2) and xs.std() == pytest.approx(2.0,
                                                                                   rel=0.08)
    assert np.mean([o[0].speed_mps for o in obs]) == pytest.approx(2.0, abs=0.02)
    assert NoisyTracker(rng=1).observe(vessels, 0, 0) == NoisyTracker(rng=1).observe(
        vessels, 0, 0)
    half = NoisyTracker(detection_probability=0.5, rng=0)
    seen = sum(len(half.observe(vessels[:1], 0.0, 0.0)) for _ in range(1000))
    assert 420 < seen < 580


def test_example_traffic_file_loads():
    vessels = load_traffic(CONFIG / "usv_traffic.yaml")
    assert len(vessels) >= 2 and len({v.mmsi for v in vessels}) == len(vessels)


@pytest.mark.parametrize("doc, match", [
    ({"ships": []}, "top level"),
    ({"vessels": [{"mmsi": 1, "waypoints_m": [[0, 0], [1, 0]], "sped": 1}]}, "unknown keys"),
    ({"vessels": [{"mmsi": 1, "waypoints_m": [0, 0]}]}, "list of \\[x_m, y_m\\]"),
    ({"vessels": [{"mmsi": 1, "waypoints_m": [[0, 0], [1, 0]]}] * 2}, "duplicate MMSI"),
    ({"random": {"count": 2, "bounds_m": [0, 0, 0, 0]}}, "random: .*empty box"),
])
def test_bad_traffic_file_is_a_clear_error(doc, match):
    with pytest.raises(TrafficConfigError, match=match):
        parse_traffic(doc, "t.yaml")


# --- operator link ------------------------------------------------------------------------
def test_operator_heartbeats_at_period_except_in_outages():
    link = OperatorLink(period_s=0.5, outages=[(10.0, 15.0)], rng=0)
    times = [t / 100 for t in range(0, 3000)]
    got = [t for t in times if link.poll(t)]
    assert got[:3] == [0.0, 0.5, 1.0]
    assert not any(10.0 <= t < 15.0 for t in got)
    assert len(got) == 60 - 10
    lossy = OperatorLink(period_s=0.5, loss_probability=0.3, rng=1)
    n = sum(lossy.poll(t / 2) for t in range(2000))
    assert 1300 < n < 1500 and lossy.sent == 2000
