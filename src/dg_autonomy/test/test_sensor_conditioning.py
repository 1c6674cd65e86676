"""GNSS covariance conditioning, IMU levelling and heading sigma (pure)."""

import math

import numpy as np
import pytest
from sensor_msgs.msg import NavSatFix

from dg_autonomy.estimation.sensor_conditioning import (
    CovarianceType,
    gnss_covariance_en_m2,
    heading_sigma_rad,
    level_imu,
)

G_MPS2 = 9.80665


def cov3(en, up=1.0):
    """Row-major 3x3 ENU covariance with the east/north block ``en`` and variance ``up``."""
    c = np.zeros((3, 3))
    c[:2, :2] = en
    c[2, 2] = up
    c[0, 2] = c[2, 0] = 0.5                  # east/up cross term: never used
    return c.ravel().tolist()


# --- GNSS covariance -----------------------------------------------------------------------
def test_covariance_types_are_the_navsatfix_constants():
    assert CovarianceType.UNKNOWN == NavSatFix.COVARIANCE_TYPE_UNKNOWN
    assert CovarianceType.APPROXIMATED == NavSatFix.COVARIANCE_TYPE_APPROXIMATED
    assert CovarianceType.DIAGONAL_KNOWN == NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    assert CovarianceType.KNOWN == NavSatFix.COVARIANCE_TYPE_KNOWN


def test_unknown_covariance_uses_the_default_sigma_floored():
    ignored = [math.nan] * 9                 # an unknown covariance is not even read
    assert gnss_covariance_en_m2(ignored, CovarianceType.UNKNOWN, 2.0, 0.3) == \
        pytest.approx(np.eye(2) * 4.0)
    assert gnss_covariance_en_m2(ignored, CovarianceType.UNKNOWN, 0.1, 0.3) == \
        pytest.approx(np.eye(2) * 0.09)


@pytest.mark.parametrize("kind", [CovarianceType.APPROXIMATED, CovarianceType.DIAGONAL_KNOWN])
def test_diagonal_types_drop_the_cross_terms_and_floor_each_variance(kind):
    en = [[0.25, 0.2], [0.2, 0.01]]          # north sigma 0.1 m < floor 0.3 m
    assert gnss_covariance_en_m2(cov3(en), kind, 2.0, 0.3) == \
        pytest.approx(np.diag([0.25, 0.09]))


def test_known_covariance_is_floored_along_its_principal_axes():
    # Eigenvalues 1.99 along (1, 1)/sqrt 2 and 0.01 along (1, -1)/sqrt 2; the floor 0.3 m
    # lifts the second to 0.09: V diag(1.99, 0.09) V^T = [[1.04, 0.95], [0.95, 1.04]].
    en = [[1.0, 0.99], [0.99, 1.0]]
    got = gnss_covariance_en_m2(cov3(en), CovarianceType.KNOWN, 2.0, 0.3)
    assert got == pytest.approx(np.array([[1.04, 0.95], [0.95, 1.04]]))
    # Above the floor a known covariance passes unchanged (symmetrized).
    en = [[4.0, 1.0], [0.6, 2.0]]
    got = gnss_covariance_en_m2(cov3(en), CovarianceType.KNOWN, 2.0, 0.3)
    assert got == pytest.approx(np.array([[4.0, 0.8], [0.8, 2.0]]))


@pytest.mark.parametrize("cov", [
    cov3([[math.nan, 0.0], [0.0, 1.0]]),
    cov3([[1.0, math.inf], [0.0, 1.0]]),
    cov3([[-0.1, 0.0], [0.0, 1.0]]),
    cov3([[1.0, 0.0], [0.0, -1e-9]]),
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
])
def test_malformed_covariance_gives_none(cov):
    for kind in (CovarianceType.APPROXIMATED, CovarianceType.DIAGONAL_KNOWN,
                 CovarianceType.KNOWN):
        assert gnss_covariance_en_m2(cov, kind, 2.0, 0.3) is None


# --- IMU levelling -------------------------------------------------------------------------
def _quat_mul(a, b):
    """Hamilton product of quaternions given as (w, x, y, z)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def _attitude(roll, pitch, yaw):
    """Quaternion (x, y, z, w) and body-to-ENU matrix of R_z(yaw) R_y(pitch) R_x(roll)."""
    qx = (math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0)
    qy = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
    qz = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    w, x, y, z = _quat_mul(_quat_mul(qz, qy), qx)
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch),
                              math.sin(pitch), math.cos(yaw), math.sin(yaw))
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return (x, y, z, w), rz @ ry @ rx


def test_without_orientation_the_imu_is_taken_as_level():
    imu = level_imu((0.1, -0.2, 0.3), (0.4, -0.5, G_MPS2))
    assert (imu.roll_rad, imu.pitch_rad, imu.yaw_rad) == (0.0, 0.0, 0.0)
    assert imu.yaw_rate_radps == pytest.approx(0.3)
    assert imu.accel_xy_mps2 == pytest.approx((0.4, -0.5))


def test_tilted_imu_gives_the_heading_frame_acceleration_and_the_yaw_rate():
    rng = np.random.default_rng(7)
    for _ in range(50):
        roll, pitch = rng.uniform(-0.6, 0.6, 2)        # up to 34 deg of heel and trim
        yaw = rng.uniform(-math.pi, math.pi)
        yaw_rate = rng.uniform(-0.5, 0.5)
        q, r_body_to_enu = _attitude(roll, pitch, yaw)
        # A boat accelerating horizontally in ENU while turning at constant heel and trim.
        accel_enu = np.array([*rng.uniform(-2.0, 2.0, 2), 0.0])
        f_body = r_body_to_enu.T @ (accel_enu + [0.0, 0.0, G_MPS2])
        w_body = r_body_to_enu.T @ np.array([0.0, 0.0, yaw_rate])
        imu = level_imu(w_body, f_body, q)
        assert (imu.roll_rad, imu.pitch_rad, imu.yaw_rad) == pytest.approx((roll, pitch, yaw))
        # Expected: the ENU horizontal acceleration seen in axes turned by the heading.
        c, s = math.cos(yaw), math.sin(yaw)
        expected = (c * accel_enu[0] + s * accel_enu[1], -s * accel_enu[0] + c * accel_enu[1])
        assert imu.accel_xy_mps2 == pytest.approx(expected, abs=1e-9)
        assert imu.yaw_rate_radps == pytest.approx(yaw_rate, abs=1e-12)


def test_a_scaled_quaternion_gives_the_same_levelling():
    q, _ = _attitude(0.2, -0.1, 1.0)
    unit = level_imu((0.0, 0.05, 0.2), (0.3, 1.5, 9.7), q)
    scaled = level_imu((0.0, 0.05, 0.2), (0.3, 1.5, 9.7), [1.005 * v for v in q])
    assert scaled.accel_xy_mps2 == pytest.approx(unit.accel_xy_mps2)
    assert scaled.yaw_rate_radps == pytest.approx(unit.yaw_rate_radps)
    assert scaled.yaw_rad == pytest.approx(1.0)


# --- heading sigma -------------------------------------------------------------------------
def test_heading_sigma_is_the_root_of_the_variance_floored():
    assert heading_sigma_rad(0.04, 0.01) == pytest.approx(0.2)
    assert heading_sigma_rad(1e-8, 0.01) == 0.01
    assert heading_sigma_rad(-1.0, 0.01) == 0.01
