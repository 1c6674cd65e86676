"""Cartesian LIN/CIRC paths with blending on the UR5: geometry, IK continuity, errors,
timing within joint and TCP limits."""

# Transforms and Jacobians keep the textbook capitals (T, R, J).
# ruff: noqa: N803, N806

import math

import numpy as np
import pinocchio as pin
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.robots.model import ArmModel
from dg_motion.robots.paths import robot_file
from dg_motion.trajectory.cartesian import (
    CartesianPathError,
    CircSegment,
    LinSegment,
    cartesian_path,
    tcp_motion,
    time_cartesian,
)

Q0 = np.array([0.0, -1.9, 1.9, -1.57, -1.57, 0.0])  # tool pointing down, above the table


@pytest.fixture(scope="module")
def ur5() -> ArmModel:
    return ArmModel.from_robot("ur5")


def moved(T, dxyz, rot=None):
    out = T.copy()
    out[:3, 3] += dxyz
    if rot is not None:
        out[:3, :3] = out[:3, :3] @ rot
    return out


def _distance_to_polyline(p, pts):
    a, b = pts[:-1], pts[1:]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-30),
                0.0, 1.0)
    return float(np.linalg.norm(a + t[:, None] * ab - p, axis=1).min())


def test_lin_is_a_straight_line_with_slerped_orientation(ur5):
    T0 = ur5.fk(Q0)
    R_turn = pin.exp3(np.array([0.0, 0.0, 0.6]))  # 0.6 rad about the tool z axis
    T1 = moved(T0, [0.1, 0.2, -0.1], R_turn)
    path = cartesian_path(ur5, Q0, [LinSegment(T1)], step_m=0.002)
    p0, p1 = T0[:3, 3], T1[:3, 3]
    length = float(np.linalg.norm(p1 - p0))
    assert path.length_m == pytest.approx(length, rel=1e-9)
    assert len(path.u) >= length / 0.002
    d = (p1 - p0) / length
    for T, s in zip(path.poses, path.s_m, strict=True):
        off = T[:3, 3] - p0
        assert np.linalg.norm(off - (off @ d) * d) < 1e-12       # on the line
        angle = np.linalg.norm(pin.log3(T0[:3, :3].T @ T[:3, :3]))
        assert angle == pytest.approx(0.6 * s / length, abs=1e-9)  # slerp by distance
    for q, T in zip(path.q_points, path.poses, strict=True):
        np.testing.assert_allclose(ur5.fk(q), T, atol=1e-9)     # IK at every sample
    np.testing.assert_allclose(path.q_points[0], Q0)
    assert np.abs(np.diff(path.q_points, axis=0)).max() < 0.05  # one branch throughout
    assert path.stops == (0, len(path.u) - 1)


def test_circ_lies_on_the_circle_through_three_points(ur5):
    T0 = ur5.fk(Q0)
    # circle of radius 0.1 in the horizontal plane, centre 0.1 m along -x from the start:
    # start at angle 0, aux at 90 deg, end at 180 deg (derived by hand)
    c = T0[:3, 3] + [-0.1, 0.0, 0.0]
    aux = moved(T0, [-0.1, 0.1, 0.0])
    end = moved(T0, [-0.2, 0.0, 0.0], pin.exp3(np.array([0.0, 0.0, -0.4])))
    path = cartesian_path(ur5, Q0, [CircSegment(aux, end)])
    assert path.length_m == pytest.approx(math.pi * 0.1, rel=1e-4)
    r = np.linalg.norm(path.poses[:, :3, 3] - c, axis=1)
    np.testing.assert_allclose(r, 0.1, atol=1e-12)
    np.testing.assert_allclose(path.poses[:, 2, 3], T0[2, 3], atol=1e-12)
    assert np.linalg.norm(path.poses[:, :3, 3] - aux[:3, 3], axis=1).min() < 0.002
    np.testing.assert_allclose(path.poses[-1], end, atol=1e-12)
    # the arc bulges towards +y (through aux), not the other half circle
    assert (path.poses[:, 1, 3] >= T0[1, 3] - 1e-12).all()


def test_blend_cuts_the_corner_inside_the_radius_and_is_smooth(ur5):
    T0 = ur5.fk(Q0)
    corner = moved(T0, [0.0, 0.2, 0.0])
    end = moved(corner, [0.0, 0.0, -0.15])
    r = 0.03
    sharp = cartesian_path(ur5, Q0, [LinSegment(corner), LinSegment(end)])
    blended = cartesian_path(ur5, Q0, [LinSegment(corner), LinSegment(end)],
                             blend_radius_m=r)
    pc = corner[:3, 3]
    # unblended: through the corner with an exact stop there
    k = int(np.argmin(np.linalg.norm(sharp.poses[:, :3, 3] - pc, axis=1)))
    assert np.linalg.norm(sharp.poses[k, :3, 3] - pc) < 1e-12 and k in sharp.stops
    # blended: no stop, closest approach inside the sphere but off the corner, and every
    # sample off the two lines lies within r of the corner
    assert blended.stops == (0, len(blended.u) - 1)
    dist = np.linalg.norm(blended.poses[:, :3, 3] - pc, axis=1)
    on_lines = (np.abs(blended.poses[:, 0, 3] - pc[0]) < 1e-12) & (
        (np.abs(blended.poses[:, 2, 3] - pc[2]) < 1e-12)
        | (np.abs(blended.poses[:, 1, 3] - pc[1]) < 1e-12))
    assert (dist[~on_lines] <= r + 1e-12).all() and (~on_lines).sum() > 10
    # 90 deg corner cut by a symmetric quintic blend: closest point at w = 1/2
    # (r/2 along each leg from the corner) -> distance r / (2 sqrt 2) from the corner
    assert dist.min() == pytest.approx(r / (2 * math.sqrt(2)), rel=1e-3)
    chords = np.diff(blended.poses[:, :3, 3], axis=0)
    chords /= np.linalg.norm(chords, axis=1, keepdims=True)
    turn = np.arccos(np.clip(np.sum(chords[1:] * chords[:-1], axis=1), -1, 1))
    assert turn.max() < 0.2  # tangent continuous (the sharp path turns 90 deg at once)
    assert blended.length_m < sharp.length_m


def test_blend_radius_reduced_to_half_the_shorter_segment(ur5):
    T0 = ur5.fk(Q0)
    T1 = moved(T0, [0.0, 0.04, 0.0])
    T2 = moved(T1, [0.0, 0.0, -0.2])
    path = cartesian_path(ur5, Q0, [LinSegment(T1), LinSegment(T2)], blend_radius_m=0.1)
    assert path.blend_radii_m[0] == pytest.approx(0.02)


def test_blended_orientation_is_continuous(ur5):
    T0 = ur5.fk(Q0)
    T1 = moved(T0, [0.0, 0.15, 0.0], pin.exp3(np.array([0.0, 0.0, 0.5])))
    T2 = moved(T1, [0.15, 0.0, 0.0], pin.exp3(np.array([0.3, 0.0, 0.0])))
    path = cartesian_path(ur5, Q0, [LinSegment(T1), LinSegment(T2)], blend_radius_m=0.04)
    steps = [np.linalg.norm(pin.log3(a[:3, :3].T @ b[:3, :3]))
             for a, b in zip(path.poses[:-1], path.poses[1:], strict=True)]
    assert max(steps) < 0.02
    np.testing.assert_allclose(path.poses[-1], T2, atol=1e-12)


def test_unreachable_segment_is_named(ur5):
    T0 = ur5.fk(Q0)
    T1 = moved(T0, [0.0, 0.1, 0.0])
    T2 = moved(T1, [-1.0, 0.0, 0.0])  # away from the base: out of reach
    with pytest.raises(CartesianPathError) as exc:
        cartesian_path(ur5, Q0, [LinSegment(T1), LinSegment(T2)])
    assert exc.value.segment_index == 1
    assert "segment 1" in str(exc.value) and "out of reach" in str(exc.value)
    assert "xyz=[" in str(exc.value)


def test_path_through_the_wrist_singularity_is_rejected(ur5):
    qa = np.array([0.3, -1.4, 1.5, -0.2, 0.15, 0.4])
    qb = qa.copy()
    qb[4] = -0.15  # the same arm with the wrist flipped through q5 = 0
    Tb = ur5.fk(qb)
    with pytest.raises(CartesianPathError) as exc:
        cartesian_path(ur5, qa, [LinSegment(Tb)])
    assert exc.value.segment_index == 0
    assert "singularity" in str(exc.value)


def test_joint_limit_along_the_path_is_named(ur5, tmp_path):
    text = robot_file("ur5", "joint_limits.yaml").read_text()
    head, tail = text.split("  wrist_3_joint:")
    tail = tail.replace("min_position: -6.283185307179586", "min_position: -0.3", 1)
    tail = tail.replace("max_position: 6.283185307179586", "max_position: 0.3", 1)
    limits = tmp_path / "joint_limits.yaml"
    limits.write_text(head + "  wrist_3_joint:" + tail)
    narrow = ArmModel.from_urdf(robot_file("ur5", "ur5.urdf"), limits_file=limits)
    T0 = narrow.fk(Q0)
    T1 = moved(T0, [0.05, 0.0, 0.0], pin.exp3(np.array([0.0, 0.0, 1.0])))
    with pytest.raises(CartesianPathError) as exc:
        cartesian_path(narrow, Q0, [LinSegment(T1)])
    assert "joint limits" in str(exc.value) or "wrist_3_joint" in str(exc.value)


@pytest.mark.parametrize("bad", [
    dict(segments=[]),
    dict(segments=[LinSegment(np.full((4, 4), np.nan))]),
    dict(blend_radius_m=-0.1),
    dict(blend_radius_m=[0.1, 0.1, 0.1]),
    dict(step_m=0.0),
])
def test_bad_arguments(ur5, bad):
    T0 = ur5.fk(Q0)
    kwargs = dict(segments=[LinSegment(moved(T0, [0, 0.1, 0])),
                            LinSegment(moved(T0, [0, 0.1, -0.1]))])
    kwargs.update(bad)
    with pytest.raises(MotionInputError):
        cartesian_path(ur5, Q0, kwargs.pop("segments"), **kwargs)


def test_collinear_circ_is_rejected(ur5):
    T0 = ur5.fk(Q0)
    with pytest.raises(CartesianPathError, match="not on one line"):
        cartesian_path(ur5, Q0, [CircSegment(moved(T0, [0, 0.05, 0]),
                                             moved(T0, [0, 0.1, 0]))])


def test_timing_respects_tcp_and_joint_limits(ur5):
    T0 = ur5.fk(Q0)
    T1 = moved(T0, [0.0, 0.3, 0.0])
    T2 = moved(T1, [0.0, 0.0, -0.2])
    aux = moved(T2, [0.1, 0.1, 0.0])
    T3 = moved(T2, [0.0, 0.2, 0.0])
    path = cartesian_path(ur5, Q0, [LinSegment(T1), LinSegment(T2), CircSegment(aux, T3)],
                          blend_radius_m=[0.03, 0.02])
    v_cap, a_cap = 0.25, 2.0
    traj = time_cartesian(ur5, path, ur5.limits, tcp_speed_mps=v_cap, tcp_accel_mps2=a_cap)
    assert traj.names == ur5.names
    v, _, a = tcp_motion(ur5, traj, 0.001)
    assert v.max() <= v_cap * 1.002
    assert v.max() >= 0.95 * v_cap  # the long LIN cruises at the cap
    assert a.max() <= a_cap * 1.01
    t = np.linspace(0.0, traj.duration_s, 3000)
    q, qd, qdd = traj.sample(t)
    lim = ur5.limits
    assert (np.abs(qd) <= lim.velocity_max * (1 + 1e-6)).all()
    assert (np.abs(qdd) <= lim.acceleration_max * (1 + 1e-3)).all()
    np.testing.assert_allclose(q[0], Q0, atol=1e-12)
    np.testing.assert_allclose(ur5.fk(q[-1]), T3, atol=1e-9)
    np.testing.assert_allclose(qd[[0, -1]], 0.0, atol=1e-9)
    # the timed TCP stays on the sampled path (spline between IK samples): sub-0.1 mm
    dev = [_distance_to_polyline(ur5.fk(qk)[:3, 3], path.poses[:, :3, 3]) for qk in q[::10]]
    assert max(dev) < 1e-4
    # a lower TCP speed gives a longer motion (the cap is active)
    slow = time_cartesian(ur5, path, ur5.limits, tcp_speed_mps=0.1)
    assert slow.duration_s > 1.5 * traj.duration_s


def test_exact_stop_at_an_unblended_corner(ur5):
    T0 = ur5.fk(Q0)
    T1 = moved(T0, [0.0, 0.1, 0.0])
    T2 = moved(T1, [0.0, 0.0, -0.1])
    path = cartesian_path(ur5, Q0, [LinSegment(T1), LinSegment(T2)])
    assert len(path.stops) == 3
    traj = time_cartesian(ur5, path, ur5.limits, tcp_speed_mps=0.2)
    assert len(traj.pieces) == 2
    t_corner = traj.t_start[1]
    q, qd, _ = traj.sample(np.array([t_corner]))
    np.testing.assert_allclose(ur5.fk(q[0])[:3, 3], T1[:3, 3], atol=1e-9)
    assert np.abs(qd).max() < 1e-9


def test_bad_timing_arguments(ur5):
    T0 = ur5.fk(Q0)
    path = cartesian_path(ur5, Q0, [LinSegment(moved(T0, [0, 0.05, 0]))])
    with pytest.raises(MotionInputError, match="tcp_speed_mps"):
        time_cartesian(ur5, path, ur5.limits, tcp_speed_mps=0.0)
    with pytest.raises(MotionInputError, match="tcp_accel_mps2"):
        time_cartesian(ur5, path, ur5.limits, tcp_speed_mps=0.1, tcp_accel_mps2=math.nan)


def test_lin_on_a_model_without_closed_form(tmp_path):
    """A 7-DoF arm: numerical IK seeded along the path keeps one continuous solution."""
    links = "".join(f'<link name="l{i}"><inertial><mass value="1"/><inertia ixx="0.01" '
                    'ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial></link>'
                    for i in range(8))
    joints = "".join(
        f'<joint name="j{i}" type="revolute"><parent link="l{i}"/><child link="l{i + 1}"/>'
        f'<origin xyz="0 0 {0.1 if i == 0 else (0.3 if i % 2 else 0.0)}"/>'
        f'<axis xyz="{"0 0 1" if i % 2 == 0 else "0 1 0"}"/>'
        '<limit lower="-3.0" upper="3.0" velocity="2.0" effort="50"/></joint>'
        for i in range(7))
    tool = ('<link name="tool0"/><joint name="t" type="fixed"><parent link="l7"/>'
            '<child link="tool0"/><origin xyz="0 0 0.1"/></joint>')
    urdf = tmp_path / "seven.urdf"
    urdf.write_text(f'<robot name="seven">{links}{joints}{tool}</robot>')
    arm = ArmModel.from_urdf(urdf)
    q0 = np.array([0.1, 0.5, 0.0, 1.0, 0.0, 0.8, 0.0])
    T1 = moved(arm.fk(q0), [0.0, 0.05, -0.03])
    path = cartesian_path(arm, q0, [LinSegment(T1)], step_m=0.005)
    for q, T in zip(path.q_points, path.poses, strict=True):
        np.testing.assert_allclose(arm.fk(q), T, atol=1e-8)
    assert np.abs(np.diff(path.q_points, axis=0)).max() < 0.05
