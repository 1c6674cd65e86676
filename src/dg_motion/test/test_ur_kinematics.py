"""Closed-form UR inverse kinematics: FK(IK(T)) == T, all 8 branches, limits, singularities,
agreement with the numerical IK and with Pinocchio's FK of the URDF."""

# Transforms and Jacobians keep the textbook capitals (T, R, J).
# ruff: noqa: N803, N806

import math

import numpy as np
import pytest

from dg_motion.robots.model import ArmModel, IKMethod, IKStatus
from dg_motion.robots.paths import robot_file
from dg_motion.robots.ur_kinematics import (
    UR5,
    closest_equivalent,
    dh_transform,
    geometry_from_placements,
    ur_fk,
    ur_ik,
)


@pytest.fixture(scope="module")
def ur5() -> ArmModel:
    return ArmModel.from_robot("ur5")


def _angle_diff(a, b):
    return np.abs(np.remainder(np.asarray(a) - np.asarray(b) + np.pi, 2 * np.pi) - np.pi)


def test_dh_transform_matches_hand_composition():
    theta, d, a, alpha = 0.3, 0.2, -0.4, 0.7
    rz = np.eye(4)
    rz[:2, :2] = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    tz = np.eye(4)
    tz[2, 3] = d
    tx = np.eye(4)
    tx[0, 3] = a
    rx = np.eye(4)
    rx[1:3, 1:3] = [[math.cos(alpha), -math.sin(alpha)], [math.sin(alpha), math.cos(alpha)]]
    np.testing.assert_allclose(dh_transform(theta, d, a, alpha), rz @ tz @ tx @ rx, atol=1e-15)


def test_ur5_home_pose_from_the_dh_table():
    # q = 0: the arm stretched along -x (a2 + a3), the wrist offsets d4 along -y... derived
    # by hand from the table: x = a2 + a3, y = -(d4 + d6), z = d1 - d5, flange z along -y.
    T = ur_fk(UR5, np.zeros(6))
    np.testing.assert_allclose(T[:3, 3], [-0.425 - 0.39225, -(0.10915 + 0.0823),
                                          0.089159 - 0.09465], atol=1e-12)
    np.testing.assert_allclose(T[:3, 2], [0.0, -1.0, 0.0], atol=1e-12)


def test_urdf_fk_equals_the_dh_chain(ur5):
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = rng.uniform(-np.pi, np.pi, 6)
        np.testing.assert_allclose(ur5.fk(q, "flange"), ur_fk(UR5, q), atol=1e-12)


def test_geometry_recognised_from_the_urdf(ur5):
    assert ur5.has_analytic_ik
    m = ur5.pin_model
    geom, T_base_0 = geometry_from_placements([m.jointPlacements[i].homogeneous
                                               for i in range(1, 7)])
    for k in ("d1", "a2", "a3", "d4", "d5", "d6"):
        assert getattr(geom, k) == pytest.approx(getattr(UR5, k), abs=1e-12)
    np.testing.assert_allclose(T_base_0, np.eye(4), atol=1e-12)


def test_not_ur_geometry_is_rejected():
    placements = [np.eye(4) for _ in range(6)]
    assert geometry_from_placements(placements) is None


def test_fk_of_ik_is_the_target_for_random_poses():
    rng = np.random.default_rng(0)
    worst = 0.0
    found_original = 0
    for _ in range(1000):
        q = rng.uniform(-np.pi, np.pi, 6)
        T = ur_fk(UR5, q)
        sols = ur_ik(UR5, T)
        assert sols, "a pose produced by FK must be reachable"
        for s in sols:
            worst = max(worst, float(np.abs(ur_fk(UR5, s.q) - T).max()))
        found_original += min(_angle_diff(s.q, q).max() for s in sols) < 1e-7
    assert worst < 1e-9
    assert found_original == 1000


def test_all_eight_branches_are_distinct_solutions():
    # a comfortable pose away from every singularity has 8 distinct solutions
    q = np.array([0.4, -1.2, 1.3, -1.6, -1.4, 0.5])
    T = ur_fk(UR5, q)
    sols = ur_ik(UR5, T)
    assert len(sols) == 8
    assert {(s.shoulder, s.wrist, s.elbow) for s in sols} == {
        (a, b, c) for a in (1, -1) for b in (1, -1) for c in (1, -1)}
    for i, a in enumerate(sols):
        np.testing.assert_allclose(ur_fk(UR5, a.q), T, atol=1e-10)
        for b in sols[i + 1:]:
            assert _angle_diff(a.q, b.q).max() > 1e-3
    # the branch signs mean what they say
    for s in sols:
        assert np.sign(s.q[4]) == s.wrist
        assert np.sign(s.q[2]) == s.elbow


def test_unreachable_poses_give_no_solution(ur5):
    far = np.eye(4)
    far[:3, 3] = [1.5, 0.0, 0.3]  # beyond the reach (|a2| + |a3| + offsets < 1.1 m)
    assert ur_ik(UR5, far) == []
    res = ur5.ik(far, np.zeros(6))
    assert res.status is IKStatus.UNREACHABLE and res.q is None
    # the wrist point inside the cylinder of radius d4 around the base axis
    inside = np.eye(4)
    inside[:3, 3] = [0.0, 0.0, 0.5 + UR5.d6]
    assert ur_ik(UR5, inside) == []


def test_wrist_singularity_reaches_the_pose_and_is_reported(ur5):
    q = np.array([0.3, -1.0, 1.2, -0.4, 0.0, 0.7])  # q5 = 0: axes 6 and 2-4 parallel
    T = ur5.fk(q)
    res = ur5.ik(T, q + 0.05)
    assert res.status is IKStatus.SINGULAR
    np.testing.assert_allclose(ur5.fk(res.q), T, atol=1e-9)
    assert res.q[5] == pytest.approx(q[5] + 0.05, abs=1e-9)  # q6 free: taken from the seed
    assert ur5.manipulability(q) < 1e-12
    assert ur5.min_singular_value(q) < 1e-12


def test_elbow_and_shoulder_singularities_measured(ur5):
    regular = np.array([0.3, -1.0, 1.2, -0.4, 1.1, 0.7])
    w_regular = ur5.manipulability(regular)
    assert w_regular > 1e-3
    stretched = regular.copy()
    stretched[2] = 0.0  # elbow fully stretched: joints 2, 3, 4 lose a direction
    assert ur5.min_singular_value(stretched) < 1e-12
    # shoulder singularity: the wrist point on the plane of z0 and z1 (q set by hand so that
    # the wrist centre lies on the base axis): find it by bisection on the x of the wrist
    # point over q2 -- its manipulability must drop through zero
    w = [ur5.min_singular_value(np.array([0.0, q2, 2.0, 0.0, 1.0, 0.0]))
         for q2 in np.linspace(-3.0, 0.0, 61)]
    assert min(w) < 0.05 * max(w)


def test_manipulability_equals_sqrt_det(ur5):
    q = np.array([0.2, -0.9, 1.0, -1.3, 0.8, 0.1])
    J = ur5.jacobian(q)
    assert ur5.manipulability(q) == pytest.approx(math.sqrt(np.linalg.det(J @ J.T)), rel=1e-9)


def test_jacobian_matches_finite_differences(ur5):
    q = np.array([0.2, -0.9, 1.0, -1.3, 0.8, 0.1])
    J = ur5.jacobian(q)
    h = 1e-7
    for i in range(6):
        dq = np.zeros(6)
        dq[i] = h
        T1, T0 = ur5.fk(q + dq), ur5.fk(q - dq)
        np.testing.assert_allclose(J[:3, i], (T1[:3, 3] - T0[:3, 3]) / (2 * h), atol=1e-7)
        dR = (T1[:3, :3] - T0[:3, :3]) / (2 * h) @ ur5.fk(q)[:3, :3].T
        np.testing.assert_allclose(J[3:, i], [dR[2, 1], dR[0, 2], dR[1, 0]], atol=1e-7)


def test_ik_picks_the_solution_closest_to_the_seed(ur5):
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 100:
        q = rng.uniform(-np.pi, np.pi, 6)
        q[2] = rng.uniform(-3.0, 3.0)
        if ur5.min_singular_value(q) < 0.02:
            continue  # near a singularity two branches are closer than the seed noise
        checked += 1
        T = ur5.fk(q)
        res = ur5.ik(T, q + rng.normal(0.0, 0.02, 6))
        assert res.status in (IKStatus.SOLVED, IKStatus.SINGULAR)
        np.testing.assert_allclose(res.q, q, atol=1e-7)
        assert res.position_error_m < 1e-9 and res.orientation_error_rad < 1e-9


def test_ik_uses_the_2pi_equivalent_nearest_the_seed(ur5):
    q = np.array([-0.5, -1.2, 1.3, -1.6, -1.4, 0.5])
    seed = q.copy()
    seed[0] += 2 * np.pi  # the arm turned once around: stay there
    seed[5] -= 2 * np.pi
    res = ur5.ik(ur5.fk(q), seed)
    np.testing.assert_allclose(res.q, seed, atol=1e-8)


def test_closest_equivalent_respects_limits():
    lo, hi = np.array([-np.pi]), np.array([np.pi])
    assert closest_equivalent(np.array([3.0]), np.array([3.5]), lo, hi)[0] == pytest.approx(3.0)
    lo, hi = np.array([0.0]), np.array([0.1])
    assert closest_equivalent(np.array([0.5]), np.array([0.0]), lo, hi) is None
    lo, hi = np.array([-2 * np.pi]), np.array([2 * np.pi])
    assert closest_equivalent(np.array([-3.0]), np.array([3.0]), lo, hi)[0] == pytest.approx(
        -3.0 + 2 * np.pi)


def test_joint_limits_status(tmp_path, ur5):
    # a limits file that forbids the only elbow angles reaching the pose
    text = robot_file("ur5", "joint_limits.yaml").read_text().replace(
        "min_position: -3.141592653589793", "min_position: -0.1").replace(
        "max_position: 3.141592653589793", "max_position: 0.1")
    limits = tmp_path / "joint_limits.yaml"
    limits.write_text(text)
    narrow = ArmModel.from_urdf(robot_file("ur5", "ur5.urdf"), limits_file=limits)
    assert narrow.limits.position_max[2] == pytest.approx(0.1)
    T = ur5.fk(np.array([0.4, -1.2, 1.3, -1.6, -1.4, 0.5]))
    res = narrow.ik(T, np.zeros(6))
    assert res.status is IKStatus.JOINT_LIMITS and res.q is None
    assert narrow.ik_all(T) == []


def test_ik_all_returns_in_limit_solutions(ur5):
    q = np.array([0.4, -1.2, 1.3, -1.6, -1.4, 0.5])
    T = ur5.fk(q)
    sols = ur5.ik_all(T)
    assert len(sols) == 8
    for s in sols:
        assert ur5.within_limits(s)
        np.testing.assert_allclose(ur5.fk(s), T, atol=1e-9)


def test_analytic_and_numerical_ik_agree(ur5):
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 20:
        q = rng.uniform(-np.pi, np.pi, 6)
        if ur5.min_singular_value(q) < 0.02:
            continue  # near a singularity the seed may sit nearer another branch
        checked += 1
        T = ur5.fk(q)
        seed = q + rng.normal(0.0, 0.1, 6)
        analytic = ur5.ik(T, seed, IKMethod.ANALYTIC)
        numerical = ur5.ik(T, seed, IKMethod.NUMERICAL)
        assert analytic.status is IKStatus.SOLVED
        assert numerical.status is IKStatus.SOLVED
        np.testing.assert_allclose(numerical.q, analytic.q, atol=1e-6)
        assert numerical.position_error_m < 1e-9


def test_numerical_ik_reports_unreachable(ur5):
    far = np.eye(4)
    far[:3, 3] = [1.5, 0.0, 0.3]
    res = ur5.ik(far, np.zeros(6), IKMethod.NUMERICAL)
    assert res.status in (IKStatus.UNREACHABLE, IKStatus.JOINT_LIMITS)
    assert res.q is None
