"""Whole-body IK and leg odometry of the biped (fixture biped and the packaged biped URDF)."""

# Transforms and Jacobians keep the textbook capitals (T, R, J).
# ruff: noqa: N803, N806

import math
import time
from pathlib import Path

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.estimation import (
    ContactDetector,
    EstimatorConfig,
    LegOdometry,
    zmp_from_wrenches,
)
from dg_motion.humanoid.types import LEG_JOINTS, Sensors, Side
from dg_motion.humanoid.whole_body_ik import WholeBodyIK, sole_pose

BIPED_URDF = (Path(__file__).resolve().parents[1] / "config" / "robots" / "biped"
              / "biped.urdf")

# Fixture biped: pelvis 10 kg, torso 25 kg, per leg 1+1+6+3+0.5+1 kg; hips 0.096 m off the
# centre line 0.1 m below the pelvis origin, thigh and shank 0.36 m, sole 0.08 m below the
# ankle. Zero configuration: straight vertical legs.
HIP_Y, HIP_Z, THIGH, SHANK, SOLE_Z = 0.096, -0.1, 0.36, 0.36, -0.08
LIMITS = {"hip_yaw": (-0.8, 0.8), "hip_roll": (-0.5, 0.5), "hip_pitch": (-2.0, 0.8),
          "knee": (0.0, 2.4), "ankle_pitch": (-1.0, 1.0), "ankle_roll": (-0.5, 0.5)}
AXES = {"hip_yaw": "0 0 1", "hip_roll": "1 0 0", "hip_pitch": "0 1 0", "knee": "0 1 0",
        "ankle_pitch": "0 1 0", "ankle_roll": "1 0 0"}


def _link(name: str, mass: float, com_z: float = 0.0, inertia: float = 0.01) -> str:
    return (f'<link name="{name}"><inertial><origin xyz="0 0 {com_z}"/><mass value="{mass}"/>'
            f'<inertia ixx="{inertia}" ixy="0" ixz="0" iyy="{inertia}" iyz="0" '
            f'izz="{inertia}"/></inertial></link>')


def _joint(name: str, parent: str, child: str, xyz: str, axis: str | None = None) -> str:
    if axis is None:
        return (f'<joint name="{name}" type="fixed"><parent link="{parent}"/>'
                f'<child link="{child}"/><origin xyz="{xyz}"/></joint>')
    lo, hi = LIMITS[name[2:]]
    return (f'<joint name="{name}" type="revolute"><parent link="{parent}"/>'
            f'<child link="{child}"/><origin xyz="{xyz}"/><axis xyz="{axis}"/>'
            f'<limit lower="{lo}" upper="{hi}" velocity="10" effort="200"/></joint>')


def fixture_urdf(extra: str = "") -> str:
    parts = [_link("pelvis", 10.0, 0.0, 0.1), _link("torso", 25.0, 0.25, 0.5),
             _joint("torso_fixed", "pelvis", "torso", "0 0 0.1"),
             '<link name="imu"/>', _joint("imu_fixed", "pelvis", "imu", "0 0 0.05")]
    for s, sign in (("l", 1), ("r", -1)):
        chain = [("hip_yaw", 1.0, 0.0, f"0 {sign * HIP_Y} {HIP_Z}"),
                 ("hip_roll", 1.0, 0.0, "0 0 0"), ("hip_pitch", 6.0, -THIGH / 2, "0 0 0"),
                 ("knee", 3.0, -SHANK / 2, f"0 0 {-THIGH}"),
                 ("ankle_pitch", 0.5, 0.0, f"0 0 {-SHANK}"),
                 ("ankle_roll", 1.0, SOLE_Z / 2, "0 0 0")]
        parent = "pelvis"
        for j, mass, com_z, xyz in chain:
            parts += [_link(f"{s}_{j}_link", mass, com_z),
                      _joint(f"{s}_{j}", parent, f"{s}_{j}_link", xyz, AXES[j])]
            parent = f"{s}_{j}_link"
        parts += [f'<link name="{s}_sole"/>',
                  _joint(f"{s}_sole_fixed", parent, f"{s}_sole", f"0 0 {SOLE_Z}")]
    return f'<robot name="fixture_biped">{"".join(parts)}{extra}</robot>'


@pytest.fixture(scope="module")
def fixture_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("biped") / "biped.urdf"
    path.write_text(fixture_urdf())
    return path


@pytest.fixture(scope="module")
def ik(fixture_path) -> WholeBodyIK:
    return WholeBodyIK(fixture_path)


def crouch(knee: float = 0.6) -> np.ndarray:
    """Both legs bent at the knee, hips and ankles compensating (pelvis level, soles flat)."""
    leg = [0.0, 0.0, -knee / 2, knee, -knee / 2, 0.0]
    return np.array(leg + leg)


def yaw_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    return sole_pose((x, y, z, yaw), "pose")


def rot(axis: str, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


# -- forward kinematics ----------------------------------------------------------------


def test_forward_at_zero_matches_the_drawing(ik) -> None:
    com, left, right = ik.forward(np.zeros(12))
    leg = THIGH + SHANK - HIP_Z - SOLE_Z
    np.testing.assert_allclose(left[:3, 3], [0.0, HIP_Y, -leg], atol=1e-12)
    np.testing.assert_allclose(right[:3, 3], [0.0, -HIP_Y, -leg], atol=1e-12)
    np.testing.assert_allclose(left[:3, :3], np.eye(3), atol=1e-12)
    assert ik.mass_kg == pytest.approx(60.0)
    lower, upper = ik.joint_limits()
    assert lower[LEG_JOINTS.index("r_knee")] == 0.0 and upper[0] == 0.8
    # CoM by hand: torso 25 kg at +0.35, legs below; symmetric in x and y.
    legs = 2 * (1.0 * HIP_Z + 1.0 * HIP_Z + 6.0 * (HIP_Z - THIGH / 2)
                + 3.0 * (HIP_Z - THIGH - SHANK / 2) + 0.5 * (HIP_Z - THIGH - SHANK)
                + 1.0 * (HIP_Z - THIGH - SHANK + SOLE_Z / 2))
    np.testing.assert_allclose(com, [0.0, 0.0, (25.0 * 0.35 + legs) / 60.0], atol=1e-12)


def test_forward_signs_follow_the_axis_conventions(ik) -> None:
    q = np.zeros(12)
    q[LEG_JOINTS.index("l_hip_pitch")] = -0.3      # leg swings forward
    assert ik.forward(q).left_sole[0, 3] > 0.1
    q = np.zeros(12)
    q[LEG_JOINTS.index("l_knee")] = 0.5            # shank goes backwards
    assert ik.forward(q).left_sole[0, 3] < -0.1
    base = yaw_pose(1.0, 2.0, 0.9, 0.5)
    com_w, left_w, _ = ik.forward(crouch(), base)
    com_b, left_b, _ = ik.forward(crouch())
    np.testing.assert_allclose(left_w, base @ left_b, atol=1e-12)
    np.testing.assert_allclose(com_w, base[:3, :3] @ com_b + base[:3, 3], atol=1e-12)


# -- inverse kinematics ----------------------------------------------------------------


def test_round_trip_recovers_com_feet_and_pelvis(ik) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        q_true = crouch(rng.uniform(0.3, 1.0)) + rng.uniform(-0.15, 0.15, 12)
        q_true = np.clip(q_true, ik.lower, ik.upper)
        R = rot("z", rng.uniform(-1, 1)) @ rot("y", rng.uniform(-0.2, 0.2)) \
            @ rot("x", rng.uniform(-0.2, 0.2))
        base = np.eye(4)
        base[:3, :3] = R
        base[:3, 3] = rng.uniform(-1, 1, 3)
        com, left, right = ik.forward(q_true, base)
        ik.reset_warm_start()
        res = ik.solve(com, R, left, right, crouch(0.6))
        assert res.ok, res
        c2, l2, r2 = ik.forward(res.q, res.base_pose)
        assert np.linalg.norm(c2 - com) < 1e-3
        assert np.linalg.norm(l2[:3, 3] - left[:3, 3]) < 1e-3
        assert np.linalg.norm(r2[:3, 3] - right[:3, 3]) < 1e-3
        assert np.abs(l2[:3, :3] - left[:3, :3]).max() < 1e-3
        np.testing.assert_allclose(res.base_pose[:3, :3], R, atol=1e-3)
        assert res.com_error_m < 1e-5 and res.foot_error_m < 1e-5
        assert np.all(res.q >= ik.lower) and np.all(res.q <= ik.upper)


def test_flat_targets_give_flat_soles_and_a_level_pelvis(ik) -> None:
    ik.reset_warm_start()
    res = ik.solve([0.02, 0.0, 0.75], np.eye(3), (0.0, HIP_Y, 0.0, 0.0),
                   (0.0, -HIP_Y, 0.0, 0.0), crouch())
    assert res.ok
    _, left, right = ik.forward(res.q, res.base_pose)
    np.testing.assert_allclose(left[:3, :3], np.eye(3), atol=1e-5)
    np.testing.assert_allclose(right[:3, 2], [0, 0, 1], atol=1e-5)
    # Symmetric targets give mirrored legs: knees equal, hip rolls opposite.
    q = res.q
    assert q[3] == pytest.approx(q[9], abs=1e-5)
    assert q[1] == pytest.approx(-q[7], abs=1e-5)
    assert q[3] > 0.2   # crouched: knee bent forward


def test_warm_start_tracks_a_moving_target_in_few_iterations(ik) -> None:
    """A walking-like sweep at 200 Hz: CoM sways 4 cm, a foot lifts 5 cm and moves 20 cm."""
    ik.reset_warm_start()
    q = crouch()
    iterations, times = [], []
    n = 200
    for k in range(n):
        s = k / n
        com = [0.1 * s, 0.04 * math.sin(2 * math.pi * s), 0.76]
        right = (0.2 * s, -HIP_Y, 0.05 * math.sin(math.pi * s), 0.1 * s)
        t0 = time.perf_counter()
        res = ik.solve(com, rot("z", 0.05 * s), (0.0, HIP_Y, 0.0, 0.0), right, q)
        times.append(time.perf_counter() - t0)
        assert res.ok
        q = res.q
        iterations.append(res.iterations)
    assert max(iterations[1:]) <= 4      # the first call starts cold
    assert np.median(iterations) <= 3
    # Generous bound (shared 2-core machine); the measured median is printed.
    print(f"IK median {1e6 * np.median(times):.0f} us, iterations {np.median(iterations)}")
    assert np.median(times) < 5e-3


def test_unreachable_com_fails_gracefully_feet_first(ik) -> None:
    ik.reset_warm_start()
    leg = THIGH + SHANK - HIP_Z - SOLE_Z
    res = ik.solve([0.0, 0.0, leg + 0.3], np.eye(3), (0.0, HIP_Y, 0.0, 0.0),
                   (0.0, -HIP_Y, 0.0, 0.0), crouch())
    assert not res.ok
    assert np.isfinite(res.q).all() and np.isfinite(res.base_pose).all()
    assert np.all(res.q >= ik.lower) and np.all(res.q <= ik.upper)
    assert res.com_error_m > 0.1
    assert res.foot_error_m < 0.1 * res.com_error_m      # the feet win


def test_joint_limits_are_never_crossed(ik) -> None:
    """A deep squat needs more knee than the limit allows: best effort, inside the limits."""
    ik.reset_warm_start()
    res = ik.solve([0.0, 0.0, 0.12], np.eye(3), (0.0, HIP_Y, 0.0, 0.0),
                   (0.0, -HIP_Y, 0.0, 0.0), crouch())
    assert not res.ok
    assert np.all(res.q >= ik.lower - 1e-12) and np.all(res.q <= ik.upper + 1e-12)
    assert np.isfinite(res.q).all()
    # A step wider than the hip roll allows.
    ik.reset_warm_start()
    res = ik.solve([0.0, 0.0, 0.7], np.eye(3), (0.0, 0.9, 0.0, 0.0),
                   (0.0, -HIP_Y, 0.0, 0.0), crouch())
    assert not res.ok and res.foot_error_m > 0.01
    assert np.all(res.q >= ik.lower - 1e-12) and np.all(res.q <= ik.upper + 1e-12)


@pytest.mark.parametrize("bad", [
    {"com": [0, 0, float("nan")]},
    {"com": [0, 0]},
    {"pelvis_rotation": np.ones((3, 3))},
    {"left_sole": (0, 0.1, 0, float("inf"))},
    {"left_sole": (0, 0.1, 0)},
    {"q_init": np.full(12, np.nan)},
    {"q_init": np.zeros(11)},
])
def test_bad_input_is_rejected(ik, bad) -> None:
    args = {"com": [0, 0, 0.75], "pelvis_rotation": np.eye(3),
            "left_sole": (0, HIP_Y, 0, 0), "right_sole": (0, -HIP_Y, 0, 0),
            "q_init": crouch()}
    args.update(bad)
    with pytest.raises(MotionInputError):
        ik.solve(**args)


def test_bad_models_are_rejected(tmp_path) -> None:
    path = tmp_path / "no_sole.urdf"
    path.write_text(fixture_urdf().replace('"l_sole"', '"l_toe"'))
    with pytest.raises(MotionInputError, match="l_sole"):
        WholeBodyIK(path)
    with pytest.raises(MotionInputError, match="not in the URDF"):
        WholeBodyIK(_write(tmp_path, fixture_urdf()), joint_names=(*LEG_JOINTS[:11], "r_toe"))
    with pytest.raises(MotionInputError, match="not found"):
        WholeBodyIK(tmp_path / "missing.urdf")


def test_extra_movable_joints_are_locked(tmp_path) -> None:
    extra = (_link("head", 2.0) + '<joint name="neck" type="revolute"><parent link="torso"/>'
             '<child link="head"/><origin xyz="0 0 0.5"/><axis xyz="0 0 1"/>'
             '<limit lower="-1" upper="1" velocity="1" effort="1"/></joint>')
    solver = WholeBodyIK(_write(tmp_path, fixture_urdf(extra)))
    assert solver.mass_kg == pytest.approx(62.0)
    res = solver.solve([0.0, 0.0, 0.8], np.eye(3), (0, HIP_Y, 0, 0), (0, -HIP_Y, 0, 0),
                       crouch())
    assert res.ok


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.urdf"
    path.write_text(text)
    return path


# -- the packaged biped -----------------------------------------------------------------


@pytest.fixture(scope="module")
def biped() -> WholeBodyIK:
    return WholeBodyIK(BIPED_URDF)


def test_packaged_biped_round_trips(biped) -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        q_true = np.clip(crouch(rng.uniform(0.3, 1.0)) + rng.uniform(-0.15, 0.15, 12),
                         biped.lower, biped.upper)
        R = rot("z", rng.uniform(-1, 1)) @ rot("x", rng.uniform(-0.2, 0.2))
        base = np.eye(4)
        base[:3, :3] = R
        base[:3, 3] = rng.uniform(-1, 1, 3)
        com, left, right = biped.forward(q_true, base)
        biped.reset_warm_start()
        res = biped.solve(com, R, left, right, crouch(0.6))
        assert res.ok, res
        assert res.com_error_m < 1e-3 and res.foot_error_m < 1e-3 and res.foot_error_rad < 1e-3
        assert np.all(res.q >= biped.lower) and np.all(res.q <= biped.upper)


def test_packaged_biped_walking_sweep_timing(biped) -> None:
    """200 Hz targets of one step (CoM sway, 25 cm swing, 5 cm lift): iterations and time."""
    _, left0, right0 = biped.forward(crouch())
    hip_y = left0[1, 3]
    biped.reset_warm_start()
    res = biped.solve([0.0, 0.0, 0.78], np.eye(3), (0, hip_y, 0, 0), (0, -hip_y, 0, 0),
                      crouch())
    assert res.ok
    q, times, iterations = res.q, [], []
    for k in range(160):
        s = k / 160
        com = [0.125 * s, 0.05 * math.sin(math.pi * s), 0.78]
        right = (0.25 * s, -hip_y, 0.05 * math.sin(math.pi * s), 0.0)
        t0 = time.perf_counter()
        res = biped.solve(com, np.eye(3), (0, hip_y, 0, 0), right, q)
        times.append(time.perf_counter() - t0)
        assert res.ok
        q = res.q
        iterations.append(res.iterations)
    print(f"biped IK: median {1e6 * np.median(times):.0f} us, p95 "
          f"{1e6 * np.percentile(times, 95):.0f} us, iterations median "
          f"{np.median(iterations)} max {max(iterations)}")
    assert max(iterations) <= 4
    assert np.median(times) < 5e-3       # generous: a shared 2-core machine


# -- estimation: contacts, ZMP, leg odometry -------------------------------------------


def test_contact_hysteresis() -> None:
    det = ContactDetector(on_n=100.0, off_n=30.0)
    seq = [0, 50, 99, 101, 80, 40, 31, 29, 60, 99, 150]
    out = [det.update(fz, 0.0)[0] for fz in seq]
    assert out == [False, False, False, True, True, True, True, False, False, False, True]
    with pytest.raises(MotionInputError):
        ContactDetector(on_n=30.0, off_n=30.0)


def test_zmp_from_wrenches_by_hand() -> None:
    left, right = yaw_pose(0.1, 0.1, 0.0, 0.0), yaw_pose(0.0, -0.1, 0.0, math.pi / 2)
    # Left sole alone, centre of pressure 3 cm ahead and 1 cm inward: tau = p x f.
    w_left = np.array([0.0, 0.0, 500.0, 500.0 * -0.01, -500.0 * 0.03, 0.0])
    zmp = zmp_from_wrenches([w_left, np.zeros(6)], [left, right], min_fz_n=10.0)
    np.testing.assert_allclose(zmp, [0.13, 0.09], atol=1e-12)
    # Right sole turned 90 deg: its local +x pressure offset points along world +y.
    w_right = np.array([0.0, 0.0, 300.0, 0.0, -300.0 * 0.02, 0.0])
    zmp = zmp_from_wrenches([w_left, w_right], [left, right], min_fz_n=10.0)
    expected = (500.0 * np.array([0.13, 0.09]) + 300.0 * np.array([0.0, -0.08])) / 800.0
    np.testing.assert_allclose(zmp, expected, atol=1e-12)
    # A force on a raised sole: its line of action meets the ground plane 0.02 * 50 / 500
    # behind the sole (a forward push through a point above the ground comes from behind).
    raised = yaw_pose(0.0, 0.0, 0.02, 0.0)
    w = np.array([50.0, 0.0, 500.0, 0.0, 0.0, 0.0])
    zmp = zmp_from_wrenches([w], [raised], min_fz_n=10.0, plane_z=0.0)
    np.testing.assert_allclose(zmp, [-0.02 * 50.0 / 500.0, 0.0], atol=1e-12)
    assert zmp_from_wrenches([np.zeros(6), np.zeros(6)], [left, right], min_fz_n=10.0) is None
    assert zmp_from_wrenches([w_left * 0.01], [left], min_fz_n=10.0) is None


def _quat(R: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of a rotation matrix (Shepperd's method, w > 0 branch suffices here)."""
    w = math.sqrt(max(0.0, 1.0 + np.trace(R))) / 2.0
    return np.array([w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w),
                     (R[1, 0] - R[0, 1]) / (4 * w)])


def _walk(ik: WholeBodyIK, yaw0: float = 0.3):
    """Two steps generated with the IK: truth pelvis poses, joints, contact forces."""
    dt, weight = 0.005, ik.mass_kg * 9.81
    R0 = rot("z", yaw0)
    def world(x, y):
        return R0[:2, :2] @ [x, y]
    feet = {"l": [0.0, HIP_Y], "r": [0.0, -HIP_Y]}
    phases = [(0.2, None), (0.6, "r"), (0.2, None), (0.6, "l"), (0.2, None)]
    t_total = sum(p[0] for p in phases)
    ik.reset_warm_start()
    q = crouch()
    out = []
    t, k = 0.0, 0
    for duration, swing in phases:
        n = round(duration / dt)
        start = list(feet[swing]) if swing else None
        for i in range(n):
            s = (i + 1) / n
            if swing:
                feet[swing] = [start[0] + 0.2 * s if swing == "r" else start[0] + 0.4 * s,
                               start[1]]
            lift = 0.04 * math.sin(math.pi * s) if swing else 0.0
            targets = {}
            for side in ("l", "r"):
                xy = world(*feet[side])
                targets[side] = (xy[0], xy[1], lift if side == swing else 0.0, yaw0)
            cx = 0.4 * t / t_total
            cy = 0.03 * (1 if swing == "r" else -1 if swing == "l" else 0) * math.sin(math.pi * s)
            c = world(cx, cy)
            R = R0 @ rot("x", 0.02 * math.sin(6 * t)) @ rot("y", 0.03)
            res = ik.solve([c[0], c[1], 0.76], R, targets["l"], targets["r"], q)
            assert res.ok
            q = res.q
            fl = 0.0 if swing == "l" else weight if swing == "r" else weight / 2
            fr = 0.0 if swing == "r" else weight if swing == "l" else weight / 2
            out.append((t, q.copy(), res.base_pose.copy(), fl, fr))
            t += dt
            k += 1
    return out


def _sensors(t, q, base, fl, fr, yaw_drift=0.0) -> Sensors:
    R = rot("z", yaw_drift) @ base[:3, :3]
    return Sensors(t=t, q=q, dq=np.zeros(12), imu_quat=_quat(R), imu_gyro=np.zeros(3),
                   imu_acc=np.array([0, 0, 9.81]), left_wrench=np.array([0, 0, fl, 0, 0, 0]),
                   right_wrench=np.array([0, 0, fr, 0, 0, 0]))


def test_leg_odometry_follows_two_steps_with_a_drifting_imu_yaw(ik) -> None:
    data = _walk(ik)
    odo = LegOdometry(ik)
    t0, q0, base0, _, _ = data[0]
    yaw0 = math.atan2(base0[1, 0], base0[0, 0])
    odo.reset(q0, _quat(base0[:3, :3]), (base0[0, 3], base0[1, 3], yaw0), t=t0)
    touchdowns = []
    worst_pos = worst_rot = worst_vel = 0.0
    for i, (t, q, base, fl, fr) in enumerate(data[1:], start=1):
        est = odo.update(_sensors(t, q, base, fl, fr, yaw_drift=0.5 * t))
        worst_pos = max(worst_pos, np.linalg.norm(est.base_pose[:3, 3] - base[:3, 3]))
        worst_rot = max(worst_rot, np.abs(est.base_pose[:3, :3] - base[:3, :3]).max())
        if est.touchdown is not None:
            touchdowns.append((i, est.touchdown.value))
        if i > 40:   # the filter settled; truth by central differences of the true CoM
            c_prev = ik.forward(data[i - 1][1], data[i - 1][2]).com
            c_next = ik.forward(data[i + 1][1], data[i + 1][2]).com if i + 1 < len(data) \
                else est.com
            v_true = (c_next - c_prev) / (data[min(i + 1, len(data) - 1)][0] - data[i - 1][0])
            worst_vel = max(worst_vel, abs(est.com_vel[0] - v_true[0]))
    assert worst_pos < 1e-3, worst_pos
    assert worst_rot < 1e-3, worst_rot
    assert worst_vel < 0.03, worst_vel      # forward speed 0.22 m/s
    # Touch-downs: right foot at the end of its swing, then the left.
    assert [side for _, side in touchdowns] == ["right", "left"]
    final = odo.state
    assert final.support == "double"
    right = final.footstep(Side.RIGHT)
    np.testing.assert_allclose([right.x, right.y], final.right_sole[:2, 3])
    np.testing.assert_allclose(final.dcm(3.5), final.com[:2] + final.com_vel[:2] / 3.5)
    true_com = ik.forward(data[-1][1], data[-1][2]).com
    np.testing.assert_allclose(final.com, true_com, atol=1e-3)


def test_leg_odometry_imu_loss_and_bad_input(ik) -> None:
    odo = LegOdometry(ik)
    with pytest.raises(MotionInputError, match="reset"):
        odo.update(_sensors(0.0, crouch(), np.eye(4), 300.0, 300.0))
    st = odo.reset(crouch(), [1, 0, 0, 0], (1.0, 2.0, 0.5))
    np.testing.assert_allclose(st.left_sole[2, 3], 0.0, atol=1e-12)
    np.testing.assert_allclose(st.base_pose[:2, 3], [1.0, 2.0], atol=1e-12)
    s = _sensors(0.005, crouch(), st.base_pose, 300.0, 300.0)
    lost = Sensors(**{**s.__dict__, "imu_quat": np.array([0.0, 0, 0, 0]), "imu_valid": False})
    est = odo.update(lost)          # orientation from the stance feet: unchanged
    np.testing.assert_allclose(est.base_pose, st.base_pose, atol=1e-9)
    bad = Sensors(**{**s.__dict__, "q": np.full(12, np.nan)})
    with pytest.raises(MotionInputError):
        odo.update(bad)
    with pytest.raises(MotionInputError):
        EstimatorConfig(contact_on_fraction=0.05, contact_off_fraction=0.1)
