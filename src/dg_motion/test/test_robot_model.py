"""ArmModel: URDF loading and its errors, limits merging, frames, tools, numerical IK."""

# Transforms and Jacobians keep the textbook capitals (T, R, J).
# ruff: noqa: N803, N806

import numpy as np
import pytest

from dg_motion.errors import MotionInputError
from dg_motion.robots.model import ArmModel, IKStatus
from dg_motion.robots.paths import robot_file

UR5_JOINTS = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
              "wrist_2_joint", "wrist_3_joint")


@pytest.fixture(scope="module")
def ur5() -> ArmModel:
    return ArmModel.from_robot("ur5")


def _chain_urdf(origins, axes) -> str:
    """A serial chain URDF: joint i at origin xyz/rpy about axis."""
    links = "".join(f'<link name="l{i}"><inertial><mass value="1"/><inertia ixx="0.01" '
                    f'ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial></link>'
                    for i in range(len(origins) + 1))
    joints = "".join(
        f'<joint name="j{i}" type="revolute"><parent link="l{i}"/><child link="l{i + 1}"/>'
        f'<origin xyz="{o[0]} {o[1]} {o[2]}" rpy="{o[3]} {o[4]} {o[5]}"/>'
        f'<axis xyz="{a[0]} {a[1]} {a[2]}"/>'
        f'<limit lower="-3.0" upper="3.0" velocity="2.0" effort="50"/></joint>'
        for i, (o, a) in enumerate(zip(origins, axes, strict=True)))
    tool = (f'<link name="tool0"/><joint name="tool_fixed" type="fixed"><parent '
            f'link="l{len(origins)}"/><child link="tool0"/><origin xyz="0 0 0.1"/></joint>')
    return f'<robot name="chain">{links}{joints}{tool}</robot>'


@pytest.fixture(scope="module")
def seven_dof(tmp_path_factory) -> ArmModel:
    """A 7-DoF arm (no closed form): alternating z/y axes, 0.3 m links."""
    origins = [(0, 0, 0.1, 0, 0, 0)] + [(0, 0, 0.3 if i % 2 else 0.0, 0, 0, 0)
                                        for i in range(1, 7)]
    axes = [(0, 0, 1) if i % 2 == 0 else (0, 1, 0) for i in range(7)]
    path = tmp_path_factory.mktemp("urdf") / "seven.urdf"
    path.write_text(_chain_urdf(origins, axes))
    return ArmModel.from_urdf(path)


def test_ur5_loads_with_merged_limits(ur5):
    assert ur5.names == UR5_JOINTS
    assert ur5.dof == 6
    assert ur5.tool_frame == "tool0"
    assert ur5.urdf_path == robot_file("ur5", "ur5.urdf")
    np.testing.assert_allclose(ur5.limits.velocity_max, [3.15, 3.15, 3.15, 3.2, 3.2, 3.2])
    np.testing.assert_allclose(ur5.limits.acceleration_max, [6, 6, 6, 10, 10, 10])  # the yaml
    np.testing.assert_allclose(ur5.limits.effort_max, [150, 150, 150, 28, 28, 28])  # the URDF
    assert ur5.limits.has_jerk_limits()


def test_urdf_limits_alone_without_a_limits_file():
    model = ArmModel.from_urdf(robot_file("ur5", "ur5.urdf"))
    np.testing.assert_allclose(model.limits.position_max[2], np.pi)
    assert np.isinf(model.limits.acceleration_max).all()
    assert not model.limits.has_jerk_limits()


@pytest.mark.parametrize(("text", "reason"), [
    ("<robot name='x'><link name='a'", "XML"),
    ("<notarobot/>", "expected <robot>"),
    ("<robot name='x'><link name='a'/><joint name='j' type='revolute'><parent link='a'/>"
     "<child link='b'/></joint></robot>", "'b' is not a <link>"),
    ("<robot name='x'><link name='a'/><link name='b'/><joint name='j' type='revolute'>"
     "<parent link='a'/><child link='b'/></joint></robot>", "has no <limit>"),
    ("<robot name='x'><link name='a'/></robot>", "no movable joints"),
])
def test_malformed_urdf_names_file_and_reason(tmp_path, text, reason):
    path = tmp_path / "bad.urdf"
    path.write_text(text)
    with pytest.raises(MotionInputError) as exc:
        ArmModel.from_urdf(path)
    assert str(path) in str(exc.value)
    assert reason in str(exc.value)


def test_missing_urdf_and_unknown_tool_frame(tmp_path):
    with pytest.raises(MotionInputError, match="not found"):
        ArmModel.from_urdf(tmp_path / "none.urdf")
    with pytest.raises(MotionInputError, match="unknown tool frame 'gripper'"):
        ArmModel.from_urdf(robot_file("ur5", "ur5.urdf"), tool_frame="gripper")


def test_bad_limits_file_is_named(tmp_path):
    bad = tmp_path / "joint_limits.yaml"
    bad.write_text("joint_limits:\n  elbow_joint:\n    has_velocity_limits: true\n")
    with pytest.raises(MotionInputError, match="max_velocity"):
        ArmModel.from_urdf(robot_file("ur5", "ur5.urdf"), limits_file=bad)


def test_tool0_is_the_flange_plus_150mm_along_z(ur5):
    rng = np.random.default_rng(2)
    for _ in range(10):
        q = rng.uniform(-np.pi, np.pi, 6)
        flange, tool = ur5.fk(q, "flange"), ur5.fk(q)
        np.testing.assert_allclose(tool[:3, :3], flange[:3, :3], atol=1e-12)
        np.testing.assert_allclose(tool[:3, 3], flange[:3, 3] + 0.15 * flange[:3, 2],
                                   atol=1e-12)


def test_frame_poses_cover_the_links(ur5):
    q = np.array([0.1, -1.0, 1.0, 0.2, 0.3, 0.4])
    poses = ur5.frame_poses(q)
    for name in ("base_link", "shoulder_link", "wrist_3_link", "flange", "tool0"):
        assert poses[name].shape == (4, 4)
    np.testing.assert_allclose(poses["tool0"], ur5.fk(q), atol=1e-15)
    np.testing.assert_allclose(poses["base_link"], np.eye(4), atol=1e-15)


def test_bad_joint_vectors_are_rejected(ur5):
    with pytest.raises(MotionInputError, match="expected 6 joint values"):
        ur5.fk(np.zeros(5))
    with pytest.raises(MotionInputError, match="non-finite"):
        ur5.fk(np.array([0, 0, np.nan, 0, 0, 0]))
    with pytest.raises(MotionInputError, match="finite 4x4"):
        ur5.ik(np.full((4, 4), np.nan), np.zeros(6))
    with pytest.raises(MotionInputError, match="rigid"):
        ur5.ik(np.diag([2.0, 1.0, 1.0, 1.0]), np.zeros(6))
    with pytest.raises(MotionInputError, match="unknown frame"):
        ur5.jacobian(np.zeros(6), "nowhere")


def test_within_limits(ur5):
    assert ur5.within_limits(np.zeros(6))
    assert not ur5.within_limits(np.array([0, 0, 3.2, 0, 0, 0]))


def test_with_tool_moves_the_tcp_and_keeps_the_closed_form(ur5):
    T_ft = np.eye(4)
    T_ft[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    T_ft[:3, 3] = [0.02, 0.0, 0.2]
    gripper = ur5.with_tool(T_ft, name="gripper")
    assert gripper.tool_frame == "gripper" and ur5.tool_frame == "tool0"
    assert gripper.has_analytic_ik
    rng = np.random.default_rng(5)
    for _ in range(50):
        q = rng.uniform(-np.pi, np.pi, 6)
        np.testing.assert_allclose(gripper.fk(q), ur5.fk(q, "flange") @ T_ft, atol=1e-12)
        T = gripper.fk(q)
        res = gripper.ik(T, q)
        assert res.status in (IKStatus.SOLVED, IKStatus.SINGULAR)
        np.testing.assert_allclose(gripper.fk(res.q), T, atol=1e-9)
    with pytest.raises(MotionInputError, match="already has a frame"):
        gripper.with_tool(T_ft, name="gripper")


def test_jacobian_is_base_aligned_and_linear_first(ur5):
    q = np.array([0.0, -1.0, 1.0, 0.0, 1.0, 0.0])
    J = ur5.jacobian(q)
    assert J.shape == (6, 6)
    # joint 1 turns about the base z axis: angular column (0, 0, 1), linear z x p
    np.testing.assert_allclose(J[3:, 0], [0, 0, 1], atol=1e-12)
    p = ur5.fk(q)[:3, 3]
    np.testing.assert_allclose(J[:3, 0], np.cross([0, 0, 1], p), atol=1e-12)


def test_numerical_ik_on_a_seven_dof_arm(seven_dof):
    assert not seven_dof.has_analytic_ik
    assert seven_dof.dof == 7
    rng = np.random.default_rng(4)
    for _ in range(10):
        q = rng.uniform(-2.5, 2.5, 7)
        T = seven_dof.fk(q)
        res = seven_dof.ik(T, np.clip(q + rng.normal(0, 0.3, 7), -3, 3))
        assert res.status is IKStatus.SOLVED, res
        assert res.position_error_m < 1e-9 and res.orientation_error_rad < 1e-9
        assert seven_dof.within_limits(res.q)
    far = np.eye(4)
    far[:3, 3] = [3.0, 0.0, 0.0]
    assert seven_dof.ik(far, np.zeros(7)).status in (IKStatus.UNREACHABLE,
                                                     IKStatus.JOINT_LIMITS)
    with pytest.raises(MotionInputError, match="analytic IK"):
        seven_dof.ik(T, np.zeros(7), method="analytic")
    sols = seven_dof.ik_all(T)
    assert sols and all(np.abs(seven_dof.fk(s) - T).max() < 1e-8 for s in sols)


def test_robot_file_lookup():
    assert robot_file("ur5", "joint_limits.yaml").is_file()
    with pytest.raises(MotionInputError, match="not found"):
        robot_file("ur5", "missing.urdf")
