"""USV EKF: convergence, GNSS outage, outlier gating, bad input (pure)."""

import math

import numpy as np
import pytest

from dg_autonomy.estimation.usv_ekf import (
    PSI,
    EkfInputError,
    UsvEkf,
    UsvEkfConfig,
)
from dg_common.validation import InvalidInput

DT = 0.02          # 50 Hz IMU
GNSS_EVERY = 10    # 5 Hz GNSS


def truth_run(seconds, seed=0, speed=1.5, gyro_bias=0.004, accel_bias=(0.05, -0.03)):
    """Truth of a boat weaving at ``speed`` plus the IMU it would measure (noisy, biased)."""
    rng = np.random.default_rng(seed)
    n = round(seconds / DT)
    x = y = 0.0
    psi = 0.3
    u = speed
    out = []
    for k in range(n):
        t = k * DT
        r = 0.15 * math.sin(0.1 * t)                    # gentle weaving
        du = 0.05 * math.cos(0.05 * t)                  # slow surges
        # Body-frame specific force for v = 0: a_x = u', a_y = r u.
        ax, ay = du, r * u
        imu_w = r + gyro_bias + 0.005 / math.sqrt(DT) * rng.standard_normal()
        imu_a = (ax + accel_bias[0] + 0.1 / math.sqrt(DT) * rng.standard_normal(),
                 ay + accel_bias[1] + 0.1 / math.sqrt(DT) * rng.standard_normal())
        # Exact-enough truth integration (midpoint).
        psi_m = psi + 0.5 * r * DT
        u_m = u + 0.5 * du * DT
        x += u_m * math.cos(psi_m) * DT
        y += u_m * math.sin(psi_m) * DT
        psi = math.remainder(psi + r * DT, 2 * math.pi)
        u += du * DT
        out.append((t + DT, x, y, psi, u, imu_w, imu_a))
    return out


def run_filter(ekf, truth, gnss_sigma=1.0, outage=None, outliers=(), seed=1, heading=False,
               record=None, rejected=None):
    rng = np.random.default_rng(seed)
    for k, (t, x, y, psi, _u, w, a) in enumerate(truth):
        ekf.predict(w, a, DT)
        if k % GNSS_EVERY == 0 and not (outage and outage[0] <= t < outage[1]):
            e, n = x + gnss_sigma * rng.standard_normal(), y + gnss_sigma * rng.standard_normal()
            if k in outliers:
                e += 40.0
            if not ekf.update_gnss(e, n, gnss_sigma) and rejected is not None:
                rejected.append(k)
        if heading and k % 5 == 0:
            ekf.update_heading(psi + 0.02 * rng.standard_normal(), 0.02)
        if record is not None:
            ve, vn = ekf.velocity_enu()
            record.append((t, ekf.state[0] - x, ekf.state[1] - y, ekf.position_sigma_m(),
                           math.hypot(ve - _u * math.cos(psi), vn - _u * math.sin(psi))))
    return ekf


def rms_and_sigma(record, start):
    """RMS position error and mean position sigma over the record from index ``start``."""
    err = np.array([math.hypot(r[1], r[2]) for r in record[start:]])
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean([r[3] for r in record[start:]]))


def errors(ekf, truth_row):
    _, x, y, psi, u, _, _ = truth_row
    s = ekf.state
    return math.hypot(s[0] - x, s[1] - y), abs(math.remainder(s[PSI] - psi, 2 * math.pi)), \
        abs(s[3] - u)


def test_converges_from_unknown_heading():
    truth = truth_run(120.0)
    rec = []
    ekf = run_filter(UsvEkf(), truth, record=rec)
    rms, sigma = rms_and_sigma(rec, len(rec) // 2)
    assert rms < 0.8                                   # GNSS sigma 1 m, filtered
    assert rms == pytest.approx(sigma, rel=0.3)        # and consistent
    _, yaw, _ = errors(ekf, truth[-1])
    # GNSS alone fixes the course (velocity direction) well; heading and sway (crab angle)
    # trade off, so the yaw is only as good as its own (consistent) sigma says.
    vel_rms = math.sqrt(np.mean([r[4] ** 2 for r in rec[len(rec) // 2:]]))
    assert vel_rms < 0.35                              # yaw-limited without a heading aid
    assert yaw < 3.0 * math.sqrt(ekf.covariance[PSI, PSI])
    # A 99.9 % gate drops about one good fix in a thousand.
    assert ekf.gnss_rejected <= 2
    assert ekf.gnss_accepted + ekf.gnss_rejected == len(truth) // GNSS_EVERY
    # The gyro bias is learned.
    assert ekf.state[5] == pytest.approx(0.004, abs=0.002)


def test_yaw_rate_variance_is_gyro_noise_plus_the_learned_bias_variance():
    cfg = UsvEkfConfig(gyro_noise_radps=0.005, initial_gyro_bias_sigma_radps=0.01)
    ekf = UsvEkf(cfg)
    ekf.update_gnss(0.0, 0.0, 1.0)
    assert ekf.yaw_rate_variance_radps2() == pytest.approx(0.005 ** 2 + 0.01 ** 2)
    run_filter(ekf, truth_run(20.0), heading=True)
    bias_var = ekf.covariance[5, 5]
    assert bias_var < 0.5 * 0.01 ** 2                   # the bias became observable
    assert ekf.yaw_rate_variance_radps2() == pytest.approx(0.005 ** 2 + bias_var)


def test_heading_aid_converges_faster():
    truth = truth_run(20.0)
    ekf = run_filter(UsvEkf(), truth, heading=True)
    pos, yaw, _ = errors(ekf, truth[-1])
    assert yaw < math.radians(2) and pos < 2.0 and ekf.heading_accepted > 0


def test_gnss_outage_grows_covariance_and_drift_stays_bounded():
    truth = truth_run(150.0, seed=2)
    rec = []
    ekf = run_filter(UsvEkf(), truth, outage=(100.0, 130.0), heading=True, record=rec)
    during = [r for r in rec if 100.0 <= r[0] < 130.0]
    sig = [r[3] for r in during]
    assert all(b >= a - 1e-9 for a, b in zip(sig, sig[1:], strict=False))    # monotone growth
    assert sig[-1] > 5 * sig[0]
    drift = [math.hypot(r[1], r[2]) for r in during]
    assert max(drift) < 15.0                           # 30 s of dead reckoning at 1.5 m/s
    assert all(d < 3.0 * s + 1.0 for d, s in zip(drift, sig, strict=False))   # consistent
    assert ekf.time_since_gnss_s < 1.0                  # recovered
    pos, _, _ = errors(ekf, truth[-1])
    assert pos < 2.0 and ekf.reset_count == 0


def test_constant_velocity_mode_without_accelerometer():
    truth = truth_run(120.0, seed=3)
    ekf = UsvEkf()
    rng = np.random.default_rng(0)
    rec = []
    for k, (_t, x, y, _psi, _u, w, _a) in enumerate(truth):
        ekf.predict(w, None, DT)
        if k % GNSS_EVERY == 0:
            ekf.update_gnss(x + rng.standard_normal(), y + rng.standard_normal(), 1.0)
        rec.append((_t, ekf.state[0] - x, ekf.state[1] - y, ekf.position_sigma_m()))
    rms, _ = rms_and_sigma(rec, len(rec) // 2)
    _, yaw, vel = errors(ekf, truth[-1])
    assert rms < 1.0 and vel < 0.5
    assert yaw < max(math.radians(8), 3.0 * math.sqrt(ekf.covariance[PSI, PSI]))


def test_outliers_are_gated_and_counted():
    truth = truth_run(60.0, seed=4)
    spikes = {2000, 2300, 2600}
    rejected, rec = [], []
    ekf = run_filter(UsvEkf(), truth, outliers=spikes, rejected=rejected, record=rec)
    assert spikes <= set(rejected) and len(rejected) <= len(spikes) + 1
    rms, _ = rms_and_sigma(rec, 1900)
    assert rms < 0.8
    # A single 40 m spike would have moved the estimate by metres had it been fused.
    before = ekf.state
    assert ekf.update_gnss(before[0] + 40.0, before[1], 1.0) is False
    assert np.array_equal(ekf.state, before)
    assert ekf.last_nis > ekf.config.gnss_gate_chi2


def test_persistent_disagreement_reinitializes_position():
    ekf = UsvEkf(UsvEkfConfig(max_consecutive_rejections=5))
    ekf.update_gnss(0.0, 0.0, 1.0)
    for _ in range(50):
        ekf.predict(0.0, (0.0, 0.0), 0.02)
    results = [ekf.update_gnss(100.0, 50.0, 1.0) for _ in range(5)]
    assert results == [False] * 4 + [True]
    assert ekf.reset_count == 1
    assert ekf.state[:2] == pytest.approx((100.0, 50.0))


@pytest.mark.parametrize("call", [
    lambda f: f.predict(math.nan, (0.0, 0.0), 0.02),
    lambda f: f.predict(0.1, (math.inf, 0.0), 0.02),
    lambda f: f.predict(0.1, (0.0, 0.0), 0.0),
    lambda f: f.predict(0.1, (0.0,), 0.02),
    lambda f: f.predict(50.0, None, 0.02),
    lambda f: f.update_gnss(math.nan, 1.0, 1.0),
    lambda f: f.update_gnss(1.0, 1.0, -1.0),
    lambda f: f.update_gnss(1.0, 1.0, cov_m2=[[1.0, 0.0], [0.0, math.nan]]),
    lambda f: f.update_gnss(1.0, 1.0, cov_m2=[[0.0, 0.0], [0.0, 0.0]]),
    lambda f: f.update_gnss(1.0, 1.0),
    lambda f: f.update_heading(math.inf, 0.1),
    lambda f: f.update_heading(0.1, 0.0),
    lambda f: f.update_gnss("x", 1.0, 1.0),
])
def test_bad_input_is_rejected_without_touching_the_state(call):
    ekf = UsvEkf()
    ekf.update_gnss(3.0, 4.0, 1.0)
    ekf.predict(0.1, (0.2, 0.0), 0.02)
    x, cov = ekf.state, ekf.covariance
    with pytest.raises(EkfInputError) as info:
        call(ekf)
    assert isinstance(info.value, InvalidInput)
    assert np.array_equal(ekf.state, x) and np.array_equal(ekf.covariance, cov)


def test_lever_arm_is_accounted_for():
    cfg = UsvEkfConfig(gnss_lever_arm_m=(1.0, 0.0))
    ekf = UsvEkf(cfg)
    ekf.update_heading(math.pi / 2, 0.01)        # facing north before the first fix
    ekf.update_gnss(10.0, 20.0, 0.5)
    # Antenna 1 m ahead of base_link while facing north: base_link 1 m south of the fix.
    assert ekf.state[:3] == pytest.approx((10.0, 19.0, math.pi / 2))


def test_config_validation():
    with pytest.raises(ValueError, match="gnss_gate_chi2"):
        UsvEkfConfig(gnss_gate_chi2=0.0)
    with pytest.raises(ValueError, match="accel_noise_mps2"):
        UsvEkfConfig(accel_noise_mps2=math.nan)
