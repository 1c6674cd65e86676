"""USV 3-DOF dynamics and disturbances (pure)."""

import math

import numpy as np
import pytest

from dg_sim.usv.disturbances import (
    VRX_SK2_WIND_GAIN_MPS,
    VRX_SK2_WIND_MEAN_MPS,
    CurrentField,
    Waves,
    Wind,
    pierson_moskowitz,
    vrx_stationkeeping2_wind,
)
from dg_sim.usv.dynamics import (
    OTTER,
    WAMV,
    HullParams,
    UsvModel,
    UsvModelError,
    UsvState,
    max_surge_speed,
    steady_surge_speed,
    surge_thrust_for_speed,
    with_params,
)


def run(model, state, cmd, seconds, dt=0.05, env=(0.0, 0.0, 0.0), current=(0.0, 0.0)):
    for _ in range(round(seconds / dt)):
        state = model.step(state, cmd, env, current, dt)
    return state


# --- parameters -----------------------------------------------------------------------------
def test_published_parameters():
    assert (WAMV.mass_kg, WAMV.izz_kgm2, WAMV.x_u, WAMV.x_uu, WAMV.y_v, WAMV.n_r) == \
        (180.0, 446.0, 51.3, 72.4, 40.0, 400.0)
    assert WAMV.thruster_y_m == pytest.approx(1.03, abs=0.01)
    # VRX sizes max_thrust_cmd so that both engines reach 15 kn (7.71667 m/s).
    assert max_surge_speed(WAMV) == pytest.approx(7.71667, rel=1e-9)
    # otter.m: Xu = -24.4 g / Umax puts the top speed (both props at 0.5 * 24.4 kgf) at 6 kn.
    assert max_surge_speed(OTTER) == pytest.approx(6 * 0.5144, rel=1e-9)
    assert OTTER.mass_kg == 80.0 and OTTER.yv_dot_kg == pytest.approx(82.5)
    assert OTTER.thrust_rev_max_n < OTTER.thrust_fwd_max_n


def test_bad_parameters_are_rejected():
    with pytest.raises(UsvModelError, match="mass_kg"):
        with_params(WAMV, mass_kg=-1.0)
    with pytest.raises(UsvModelError, match="damping"):
        with_params(WAMV, x_u=0.0, x_uu=0.0)
    with pytest.raises(UsvModelError, match="x_uu"):
        with_params(WAMV, x_uu=math.nan)
    assert isinstance(with_params(WAMV, thruster_time_constant_s=0.0), HullParams)


# --- surge, turning, saturation, thruster lag ------------------------------------------------
@pytest.mark.parametrize("hull,thrust", [(WAMV, 150.0), (WAMV, 600.0), (OTTER, 40.0),
                                         (OTTER, -30.0)])
def test_steady_surge_speed_matches_the_damping_balance(hull, thrust):
    s = run(UsvModel(hull), UsvState(), (thrust, thrust), 60.0)
    u = steady_surge_speed(hull, 2 * thrust)
    assert s.u_mps == pytest.approx(u, rel=1e-3)
    assert surge_thrust_for_speed(hull, u) == pytest.approx(2 * thrust, rel=1e-9)
    assert abs(s.v_mps) < 1e-9 and abs(s.r_radps) < 1e-9 and s.psi_rad == 0.0


def test_more_left_thrust_turns_clockwise_into_a_steady_circle():
    model = UsvModel(WAMV)
    s = run(model, UsvState(), (300.0, 100.0), 60.0)
    assert s.r_radps < 0.0                                  # starboard (clockwise) turn
    # Steady yaw rate: the yaw damping balances the thrust moment (no Munk moment on the WAM-V).
    expected_r = -WAMV.thruster_y_m * 200.0 / WAMV.n_r
    assert s.r_radps == pytest.approx(expected_r, rel=1e-3)
    # The boat skids outward (to the left in a right turn) and stays on a circle.
    assert s.v_mps > 0.0
    xs, ys = [], []
    for _ in range(400):
        s = model.step(s, (300.0, 100.0), dt_s=0.05)
        xs.append(s.x_m)
        ys.append(s.y_m)
    radius = s.speed_mps() / abs(s.r_radps)
    cx = (max(xs) + min(xs)) / 2
    cy = (max(ys) + min(ys)) / 2
    assert np.hypot(np.array(xs) - cx, np.array(ys) - cy) == pytest.approx(radius, rel=0.02)


def test_commands_saturate_and_lag():
    model = UsvModel(OTTER)
    s = model.step(UsvState(), (1e6, -1e6), dt_s=0.05)
    # One step of a 0.1 s lag: 1 - exp(-0.5) of the saturated command.
    frac = 1.0 - math.exp(-0.5)
    assert model.thrust_actual_n == pytest.approx(
        (frac * OTTER.thrust_fwd_max_n, -frac * OTTER.thrust_rev_max_n), rel=1e-12)
    run(model, s, (1e6, -1e6), 2.0)
    assert model.thrust_actual_n == pytest.approx(
        (OTTER.thrust_fwd_max_n, -OTTER.thrust_rev_max_n), rel=1e-6)
    assert model.saturate(-500.0) == -OTTER.thrust_rev_max_n
    # Same result whatever the step split (exact lag, RK4 sub-steps of <= 50 ms).
    a, b = UsvModel(WAMV), UsvModel(WAMV)
    sa = a.step(UsvState(), (500.0, 200.0), dt_s=1.0)
    sb = UsvState()
    for _ in range(20):
        sb = b.step(sb, (500.0, 200.0), dt_s=0.05)
    assert sa.as_tuple() == pytest.approx(sb.as_tuple(), abs=1e-9)


def test_bad_inputs_raise_and_never_move_the_thrusters():
    model = UsvModel(WAMV)
    for cmd in [(math.nan, 0.0), (0.0, math.inf), (1.0,), ("a", 1.0)]:
        with pytest.raises(UsvModelError, match="thrust_cmd_n"):
            model.step(UsvState(), cmd)
    with pytest.raises(UsvModelError, match="tau_env"):
        model.step(UsvState(), (0.0, 0.0), (0.0, math.nan, 0.0))
    with pytest.raises(UsvModelError, match="dt_s"):
        model.step(UsvState(), (0.0, 0.0), dt_s=0.0)
    with pytest.raises(UsvModelError, match="state"):
        model.step(UsvState(u_mps=math.nan), (0.0, 0.0))
    assert model.thrust_actual_n == (0.0, 0.0)


# --- current, energy, stability --------------------------------------------------------------
def test_a_drifting_boat_moves_with_the_current():
    s = run(UsvModel(OTTER), UsvState(psi_rad=0.7), (0.0, 0.0), 30.0, current=(0.3, -0.2))
    assert s.velocity_enu() == pytest.approx((0.3, -0.2), abs=1e-4)
    assert abs(s.r_radps) < 1e-6


def test_speed_through_water_sets_the_drag_with_a_current():
    # Heading into a 0.5 m/s head current, the boat makes steady speed u_w - 0.5 over ground.
    thrust = 60.0
    s = run(UsvModel(OTTER), UsvState(), (thrust, thrust), 60.0, current=(-0.5, 0.0))
    assert s.u_mps == pytest.approx(steady_surge_speed(OTTER, 2 * thrust) - 0.5, rel=1e-3)


@pytest.mark.parametrize("hull", [WAMV, OTTER])
def test_unforced_motion_loses_energy_and_settles(hull):
    model = UsvModel(hull)
    s = UsvState(u_mps=2.0, v_mps=-0.8, r_radps=0.6)
    energy = [model.kinetic_energy_j(s)]
    for _ in range(1200):
        s = model.step(s, (0.0, 0.0), dt_s=0.05)
        energy.append(model.kinetic_energy_j(s))
    # C is skew-symmetric and D positive: the energy never grows and decays to rest.
    assert all(b <= a + 1e-9 for a, b in zip(energy, energy[1:], strict=False))
    assert energy[-1] < 1e-3 * energy[0]


def test_full_thrust_is_bounded_for_long_runs():
    model = UsvModel(OTTER)
    s = UsvState()
    rng = np.random.default_rng(0)
    for _ in range(2000):
        cmd = rng.uniform(-200, 200, 2)
        s = model.step(s, cmd, dt_s=0.1)
        assert s.speed_mps() < 1.2 * max_surge_speed(OTTER) + 1.0
        assert abs(s.r_radps) < 5.0


# --- disturbances ----------------------------------------------------------------------------
def test_vrx_stationkeeping2_gust_statistics():
    w = vrx_stationkeeping2_wind(0.3, seed=11)
    dt = 0.05
    speeds = np.array([w.speed(i * dt) for i in range(40000)])[200:]  # skip the start at 0
    assert speeds.mean() == pytest.approx(VRX_SK2_WIND_MEAN_MPS, abs=0.2)
    assert speeds.std() == pytest.approx(VRX_SK2_WIND_GAIN_MPS, rel=0.1)
    g = speeds - speeds.mean()
    lag = round(2.0 / dt)                                     # one time constant
    acf = float(np.dot(g[:-lag], g[lag:]) / np.dot(g, g))
    assert acf == pytest.approx(math.exp(-1.0), abs=0.08)


def test_wind_force_follows_the_vrx_formula_and_is_seeded():
    w = Wind(7.0, 0.0, seed=1)             # blowing toward east, no gusts
    assert w.force(UsvState(), 0.0) == pytest.approx((0.5 * 49.0, 0.0, 0.0))
    x, y, n = w.force(UsvState(psi_rad=math.pi / 2), 1.0)     # boat heading north
    assert (x, y, n) == pytest.approx((0.0, -0.5 * 49.0, 0.0), abs=1e-9)
    x, y, n = w.force(UsvState(psi_rad=math.pi / 4), 2.0)
    wx = 7.0 * math.cos(math.pi / 4)
    assert (x, y, n) == pytest.approx((0.5 * wx * wx, -0.5 * wx * wx, 2 * 0.33 * wx * wx))
    a = [Wind(7, 1.0, 1.5, 2.0, seed=5).force(UsvState(), t) for t in (0.0,)]
    wa, wb = Wind(7, 1.0, 1.5, 2.0, seed=5), Wind(7, 1.0, 1.5, 2.0, seed=5)
    sa = [wa.force(UsvState(), 0.1 * i) for i in range(50)]
    sb = [wb.force(UsvState(), 0.1 * i) for i in range(50)]
    assert sa == sb and a[0] == sa[0]
    assert sa != [Wind(7, 1.0, 1.5, 2.0, seed=6).force(UsvState(), 0.1 * i) for i in range(50)]
    with pytest.raises(UsvModelError, match="back in time"):
        wa.force(UsvState(), 0.0)
    with pytest.raises(UsvModelError, match="gust_time_constant_s"):
        Wind(7.0, 0.0, 1.0, 0.0)


def test_wave_spectrum_height_and_reproducibility():
    # The PM spectrum integrates to Hs^2 / 16 and peaks at w_p.
    w = np.linspace(0.05, 10.0, 200000)
    s = pierson_moskowitz(w, 1.2, 5.0)
    assert np.trapezoid(s, w) == pytest.approx(1.2 ** 2 / 16, rel=1e-3)
    assert w[np.argmax(s)] == pytest.approx(2 * math.pi / 5.0, rel=1e-3)
    waves = Waves(5.0, 0.5, 0.0, seed=2)
    eta = np.array([waves.elevation(0.0, 0.0, 0.1 * i) for i in range(30000)])
    assert 4.0 * eta.std() == pytest.approx(0.5, rel=0.05)
    # Zero-crossing period of a PM sea is about 0.71 Tp.
    crossings = np.count_nonzero((eta[:-1] < 0) & (eta[1:] >= 0))
    assert 3000.0 / crossings == pytest.approx(0.71 * 5.0, rel=0.15)
    again = Waves(5.0, 0.5, 0.0, seed=2)
    st = UsvState(3.0, -2.0, 0.4)
    assert [again.force(st, t) for t in (0.0, 1.0, 7.5)] == \
        [waves.force(st, t) for t in (0.0, 1.0, 7.5)]


def test_wave_load_pushes_along_the_wave_direction_and_scales():
    waves = Waves(5.0, 0.5, math.pi / 2, seed=3)            # travelling north
    boat_east = UsvState(psi_rad=0.0)                       # beam seas
    f = np.array([waves.force(boat_east, 0.1 * i) for i in range(3000)])
    assert np.std(f[:, 1]) > 10 * np.std(f[:, 0])           # lateral load only
    # Slope load ~ m g k a: order of magnitude for the WAM-V in a 0.5 m, 5 s sea.
    k = (2 * math.pi / 5.0) ** 2 / 9.81
    assert 0.2 < np.std(f[:, 1]) / (WAMV.mass_kg * 9.81 * k * 0.5 / 4) < 3.0
    assert abs(np.mean(f[:, 1])) < 0.1 * np.std(f[:, 1])    # no mean drift
    calm = Waves(5.0, 0.0, 0.0)
    assert calm.force(boat_east, 1.0) == (0.0, 0.0, 0.0)


def test_current_field_mean_spatial_rms_and_divergence():
    c = CurrentField(0.2, math.pi / 3, spatial_rms_mps=0.1, length_scale_m=100.0, seed=3)
    pts = np.random.default_rng(0).uniform(-2000, 2000, (4000, 2))
    v = np.array([c.velocity(x, y) for x, y in pts])
    assert v.mean(0) == pytest.approx((0.1, 0.2 * math.sin(math.pi / 3)), abs=0.01)
    assert np.sqrt(((v - v.mean(0)) ** 2).sum(1).mean()) == pytest.approx(0.1, rel=0.1)
    # Divergence-free: d ve/dx + d vn/dy ~ 0 by central differences.
    h = 0.01
    for x, y in pts[:20]:
        div = (c.velocity(x + h, y)[0] - c.velocity(x - h, y)[0]
               + c.velocity(x, y + h)[1] - c.velocity(x, y - h)[1]) / (2 * h)
        assert abs(div) < 1e-6
    assert CurrentField(0.2, 0.0, 0.1, seed=3).velocity(5.0, 6.0, 1.0) == \
        CurrentField(0.2, 0.0, 0.1, seed=3).velocity(5.0, 6.0, 1.0)
    tv = CurrentField(0.3, 0.0, temporal_rms_mps=0.05, time_scale_s=100.0, seed=1)
    speeds = np.array([tv.velocity(0.0, 0.0, t)[0] for t in np.arange(0.0, 5000.0, 1.0)])
    assert speeds.mean() == pytest.approx(0.3, abs=0.02)
    assert speeds.std() == pytest.approx(0.05, rel=0.3)
    with pytest.raises(UsvModelError, match="length_scale_m"):
        CurrentField(length_scale_m=0.0)


def test_wind_and_waves_drive_an_uncontrolled_boat_downwind_reproducibly():
    def drift(seed):
        model, s = UsvModel(WAMV), UsvState()
        wind = vrx_stationkeeping2_wind(0.0, seed=seed)
        waves = Waves(5.0, 0.3, 0.0, seed=seed)
        for i in range(1200):
            t = 0.05 * i
            env = np.add(wind.force(s, t), waves.force(s, t))
            s = model.step(s, (0.0, 0.0), env, (0.0, 0.0), 0.05)
        return s
    a, b = drift(4), drift(4)
    assert a == b
    assert a.x_m > 1.0                                      # pushed east, downwind
