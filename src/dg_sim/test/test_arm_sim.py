"""MuJoCo arm: model vs URDF (Pinocchio), flexible mode, gripper, machine, contacts, commands,
and the Gazebo files that stand beside it."""

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")  # before mujoco loads: headless rendering

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pinocchio as pin  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from dg_sim.arm import CellError, MujocoSystem, SimCommand, load_cell  # noqa: E402
from dg_sim.arm.model import ArmModelError, build_mjcf  # noqa: E402
from dg_sim.arm.mujoco_system import (  # noqa: E402
    ArmSimError,
    JointSource,
    default_urdf_path,
)
from dg_sim.ground_vehicle.bridge_config import parse_bridge_config  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CELL = HERE / "arm_cell_test.yaml"
URDF = REPO / "src" / "dg_motion" / "config" / "robots" / "ur5" / "ur5.urdf"
DT = 0.001


def make(**params) -> MujocoSystem:
    sim = MujocoSystem()
    sim.on_configure({"cell": str(CELL), **params})
    sim.on_activate()
    return sim


def pin_model():
    # dg_motion's own reading of the URDF + drives.yaml: the two readers must agree
    from dg_motion.robots.urdf import load_urdf_model

    model = load_urdf_model(URDF)
    assert np.all(model.armature > 0.0)
    return model, model.createData()


def command(position=None, velocity=None, effort=None, gripper=None) -> SimCommand:
    cmd = SimCommand.empty(6)
    for name, value in (("position", position), ("velocity", velocity), ("effort", effort)):
        if value is not None:
            setattr(cmd, name, np.asarray(value, dtype=float))
    if gripper is not None:
        cmd.gpio = {"gripper": float(gripper)}
    return cmd


def run(sim: MujocoSystem, cmd: SimCommand, seconds: float) -> list:
    states = []
    for _ in range(round(seconds / DT)):
        sim.write(0.0, DT, cmd)
        states.append(sim.read())
    return states


def set_rigid(sim: MujocoSystem, q: np.ndarray) -> None:
    """Actuated joints at q, flexible link straight, at rest."""
    sim.data.qpos[sim._qadr] = q
    sim.data.qpos[sim._flex_q] = 0.0
    sim.data.qvel[:] = 0.0
    mujoco.mj_forward(sim.model, sim.data)


# --- model vs URDF ---------------------------------------------------------------------------
def test_model_compiles_with_the_cell():
    sim = make()
    assert sim.joint_names == ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
                               "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")
    assert sim.command_interfaces == ("effort", "position") and sim.simulated
    assert sim.object_names == ("raw_0", "raw_1", "raw_2", "raw_3",
                                "finished_0", "finished_1", "finished_2", "finished_3")
    gt = sim.read().ground_truth
    np.testing.assert_array_equal(gt["object_visible"], [1, 1, 1, 1, 0, 0, 0, 0])
    # raw parts stand in the tray slots (2 x 2 from slot (0, 0), pitch 0.08 m)
    np.testing.assert_allclose(gt["object_poses"][:4, :2],
                               [[0.41, -0.34], [0.41, -0.26], [0.49, -0.34], [0.49, -0.26]])
    assert gt["contacts"][0] == 0
    np.testing.assert_allclose(sim.model.actuator_forcerange[:, 1], [150, 150, 150, 28, 28, 28])
    assert default_urdf_path().is_file()


def test_kinematics_mass_matrix_and_gravity_match_pinocchio():
    pmodel, pdata = pin_model()
    tool = pmodel.getFrameId("tool0")
    rng = np.random.default_rng(7)
    for flex in (True, False):
        sim = make(flex_enabled=flex)
        va = sim._vadr
        for _ in range(5):
            q = rng.uniform(-math.pi, math.pi, 6)
            set_rigid(sim, q)
            full = np.zeros((sim.model.nv, sim.model.nv))
            mujoco.mj_fullM(sim.model, sim.data, full)
            np.testing.assert_allclose(full[np.ix_(va, va)], pin.crba(pmodel, pdata, q),
                                       atol=1e-9, rtol=1e-9)
            np.testing.assert_allclose(sim.data.qfrc_bias[va],
                                       pin.computeGeneralizedGravity(pmodel, pdata, q),
                                       atol=1e-9, rtol=1e-9)
            pin.framesForwardKinematics(pmodel, pdata, q)
            pose = sim.read().ground_truth["tool_pose"]
            np.testing.assert_allclose(pose[:3], pdata.oMf[tool].translation, atol=1e-9)
            quat = pin.Quaternion(pdata.oMf[tool].rotation).coeffs()       # xyzw
            assert abs(abs(np.dot(pose[3:], quat)) - 1.0) < 1e-9


def test_tool_pose_equals_the_dh_chain():
    # UR5 DH table (Universal Robots), tool0 0.15 m along the flange z: derived by hand here
    a = [0, -0.425, -0.39225, 0, 0, 0]
    d = [0.089159, 0, 0, 0.10915, 0.09465, 0.0823]
    alpha = [math.pi / 2, 0, 0, math.pi / 2, -math.pi / 2, 0]
    q = np.array([0.3, -1.1, 1.4, -0.9, -1.6, 0.7])
    t = np.eye(4)
    for i in range(6):
        ct, st, ca, sa = math.cos(q[i]), math.sin(q[i]), math.cos(alpha[i]), math.sin(alpha[i])
        t = t @ np.array([[ct, -st * ca, st * sa, a[i] * ct], [st, ct * ca, -ct * sa, a[i] * st],
                          [0, sa, ca, d[i]], [0, 0, 0, 1]])
    tcp = t @ np.array([0, 0, 0.15, 1.0])
    sim = make()
    set_rigid(sim, q)
    np.testing.assert_allclose(sim.read().ground_truth["tool_pose"][:3], tcp[:3], atol=1e-9)


# --- holding still ----------------------------------------------------------------------------
KP_LIGHT = np.array([200.0, 200.0, 200.0, 20.0, 20.0, 1.0])   # [N m/rad]
KD_LIGHT = np.array([5.0, 5.0, 5.0, 0.5, 0.5, 0.05])          # [N m s/rad]


def test_holds_still_under_gravity_with_gravity_compensating_effort():
    pmodel, pdata = pin_model()
    # rigid arm: the URDF's own gravity torque holds it exactly (no feedback at all)
    sim = make(joint_friction_nm=0.0, flex_enabled=False)
    q0 = sim.read().q
    for _ in range(1000):
        sim.write(0.0, DT, command(effort=pin.computeGeneralizedGravity(pmodel, pdata,
                                                                         sim.read().q)))
    assert np.max(np.abs(sim.read().q - q0)) < 1e-6
    # flexible arm: the rigid model misses the sag, a light PD on top holds it
    sim = make(joint_friction_nm=0.0)
    q0 = sim.read().q
    for _ in range(1000):
        st = sim.read()
        # wrist 3 has 1.3e-4 kg m^2 (no gripper mass in the URDF): its explicit kd at 1 kHz
        # must stay below 2 I / dt = 0.26 N m s/rad
        tau = pin.computeGeneralizedGravity(pmodel, pdata, st.q) + KP_LIGHT * (q0 - st.q) \
            - KD_LIGHT * st.qd
        sim.write(0.0, DT, command(effort=tau))
    assert np.max(np.abs(sim.read().q - q0)) < 3e-3
    assert np.max(np.abs(sim.read().qd)) < 1e-2
    # the same arm without compensation falls
    fall = make(joint_friction_nm=0.0)
    run(fall, command(effort=np.zeros(6)), 0.3)
    assert np.max(np.abs(fall.read().q - q0)) > 0.05


def test_uncommanded_joints_hold_their_position():
    sim = make()
    q0 = sim.read().q
    states = run(sim, SimCommand.empty(6), 1.0)
    assert all(s == JointSource.HOLD for s in sim.sources)
    assert np.max(np.abs(states[-1].q - q0)) < 1e-3


def test_position_interface_tracks_a_slow_ramp():
    sim = make()
    q0 = sim.read().q
    goal = q0 + np.array([0.3, 0.2, -0.2, 0.1, 0.2, 0.3])
    n = 1500
    for k in range(n + 500):
        s = min(1.0, k / n)
        blend = 3 * s * s - 2 * s ** 3
        sim.write(0.0, DT, command(position=q0 + blend * (goal - q0)))
    assert all(s == JointSource.POSITION for s in sim.sources)
    np.testing.assert_allclose(sim.read().q, goal, atol=2e-3)


# --- flexible mode ----------------------------------------------------------------------------
def impulse_response(sim: MujocoSystem, mode) -> tuple[np.ndarray, np.ndarray]:
    """Lock the actuated joints (huge armature), kick the flex link along ``mode``."""
    sim.model.dof_armature[sim._vadr] = 1e9
    sim.data.qvel[sim._flex_v] += 0.05 * mode.shape
    flex, acc = [], []
    for _ in range(2000):
        mujoco.mj_step(sim.model, sim.data)
        flex.append(sim.data.qpos[sim._flex_q] @ mode.shape)
        acc.append(sim.read().sensors["tool_accelerometer"])
    return np.array(flex), np.array(acc)


def measure_mode(signal: np.ndarray) -> tuple[float, float]:
    """Frequency from zero crossings and damping ratio from the log decrement of the peaks."""
    x = signal - signal[-200:].mean()
    up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    t_up = (up + (-x[up] / (x[up + 1] - x[up]))) * DT
    period = np.median(np.diff(t_up))
    peaks = [np.max(np.abs(x[a:b])) for a, b in zip(up[:-1], up[1:], strict=False)]
    delta = np.log(peaks[0] / peaks[-1]) / (len(peaks) - 1)
    return 1.0 / period, delta / math.sqrt(4 * math.pi ** 2 + delta ** 2)


@pytest.mark.parametrize("with_part", [False, True])
def test_flexible_mode_by_impulse(with_part):
    sim = make(accelerometer_noise_mps2=0.0)
    if with_part:   # a raw part (1.2 kg) at the TCP, grasped
        tcp = sim.read().ground_truth["tool_pose"][:3]
        sim.place_object("raw_0", tcp)
        sim.write(0.0, DT, command(gripper=1))
        assert sim.read().ground_truth["held_part"][0] == 0
    modes = sim.flex_modes()
    f_pred, zeta_pred = modes[0].frequency_hz, modes[0].damping_ratio
    band = (2.8, 4.5) if with_part else (3.5, 6.0)   # the soft sideways bending mode
    assert band[0] < f_pred < band[1]
    assert 0.02 <= zeta_pred <= 0.05
    flex, acc = impulse_response(sim, modes[0])
    f_meas, zeta_meas = measure_mode(flex)
    assert f_meas == pytest.approx(f_pred, rel=0.02)
    # modal damping of a non-proportionally damped pair of hinges: an approximation
    assert zeta_meas == pytest.approx(zeta_pred, rel=0.25)
    # the tool accelerometer sees the same mode: a spectral peak at it, well above the floor
    # of the arm's band (the in-plane mode, stiffer, reads larger in acceleration, w^2)
    a = acc - acc.mean(axis=0)
    freqs = np.fft.rfftfreq(len(a), DT)
    low = (freqs > 1.0) & (freqs < 20.0)
    near = low & (np.abs(freqs - f_pred) <= 0.06 * f_pred + 0.5)
    spectra = np.abs(np.fft.rfft(a * np.hanning(len(a))[:, None], axis=0))
    assert max(spectra[near, i].max() / np.median(spectra[low, i]) for i in range(3)) > 10.0


# --- gripper, machine, outfeed -------------------------------------------------------------------
def ik(pmodel, pdata, xyz, q_seed) -> np.ndarray:
    """Tool z down at xyz (damped least squares on the rigid URDF model)."""
    target = pin.SE3(np.diag([1.0, -1.0, -1.0]), np.asarray(xyz))
    frame = pmodel.getFrameId("tool0")
    q = q_seed.copy()
    for _ in range(200):
        pin.framesForwardKinematics(pmodel, pdata, q)
        err = pin.log6(pdata.oMf[frame].actInv(target)).vector
        if np.linalg.norm(err) < 1e-10:
            break
        jac = pin.computeFrameJacobian(pmodel, pdata, q, frame, pin.LOCAL)
        q = q + jac.T @ np.linalg.solve(jac @ jac.T + 1e-8 * np.eye(6), err)
    return q_seed + (q - q_seed + math.pi) % (2 * math.pi) - math.pi   # nearest the seed


def move(sim, q_goal, seconds, gripper=None, contacts=None):
    q0 = sim.read().q
    n = round(seconds / DT)
    for k in range(n + 300):
        s = min(1.0, k / n)
        sim.write(0.0, DT, command(position=q0 + (3 * s * s - 2 * s ** 3) * (q_goal - q0),
                                   gripper=gripper))
        if contacts is not None:
            contacts.append(sim.read().ground_truth["contacts"][0])


def test_gripper_picks_carries_and_releases_a_part():
    pmodel, pdata = pin_model()
    sim = make()
    part = sim.read().ground_truth["object_poses"][0, :3]
    # elbow up, tool down, base turned towards the tray (tool0 at pan 0 points along -x)
    seed = np.array([math.atan2(part[1], part[0]) + math.pi, -1.2, 1.6, -1.9, -1.57, 0.0])
    q_above = ik(pmodel, pdata, part + [0, 0, 0.12], seed)
    q_grasp = ik(pmodel, pdata, part, q_above)
    contacts: list[int] = []
    move(sim, q_above, 2.0, gripper=0, contacts=contacts)
    move(sim, q_above, 1.0, gripper=0)                    # let the vibration die out
    tau_empty = sim.read().effort
    move(sim, q_grasp, 1.0, gripper=0, contacts=contacts)
    # the rigid model's TCP is within the grasp tolerance of the sagging arm's
    tcp = sim.read().ground_truth["tool_pose"][:3]
    assert np.linalg.norm(tcp - part) < 0.01
    move(sim, q_grasp, 0.05, gripper=1)
    assert sim.read().ground_truth["held_part"][0] == 0
    assert sim.read().sensors["gripper"][0] == 1.0
    move(sim, q_above, 1.0, gripper=1, contacts=contacts)
    move(sim, q_above, 1.0, gripper=1)
    gt = sim.read().ground_truth
    assert gt["object_poses"][0, 2] == pytest.approx(part[2] + 0.12, abs=0.01)
    assert sum(contacts) == 0   # the moves never touched the cell or another part
    # the arm feels the payload: the extra holding torque is the part's gravity load
    tau_part = sim.read().effort
    jac = pin.computeFrameJacobian(pmodel, pdata, q_above, pmodel.getFrameId("tool0"),
                                   pin.LOCAL_WORLD_ALIGNED)[:3]
    expected = jac.T @ np.array([0.0, 0.0, 1.2 * 9.81])     # raw part: 1.2 kg
    np.testing.assert_allclose(tau_part - tau_empty, expected, atol=0.3)
    # lift, open 2 cm above the tray: it drops and settles back at rest on the tray
    move(sim, ik(pmodel, pdata, part + [0, 0, 0.02], q_grasp), 0.5, gripper=1)
    move(sim, sim.read().q, 0.5, gripper=0)
    gt = sim.read().ground_truth
    assert gt["held_part"][0] == -1
    np.testing.assert_allclose(gt["object_poses"][0, :3], part, atol=0.005)


def test_machine_turns_a_raw_part_into_a_finished_one_and_outfeed_counts_it():
    sim = make()
    cell = load_cell(CELL)
    sim.place_object("raw_1", cell.vise_pose[:3] + [0, 0, 0.001])
    run(sim, SimCommand.empty(6), cell.machine_cycle_s + 0.5)
    assert sim.read().ground_truth["parts_machined"][0] == 0   # not started
    start = SimCommand.empty(6)
    start.gpio = {"machine_start": 1.0}
    run(sim, start, cell.machine_cycle_s - 0.1)
    assert sim.read().ground_truth["parts_machined"][0] == 0
    run(sim, start, 0.3)
    gt = sim.read().ground_truth
    assert gt["parts_machined"][0] == 1
    names = list(sim.object_names)
    assert gt["object_visible"][names.index("raw_1")] == 0
    assert gt["object_visible"][names.index("finished_1")] == 1
    # finished part (0.03 m high) sits where the raw one (0.04 m) stood, bottoms level
    np.testing.assert_allclose(gt["object_poses"][names.index("finished_1"), :3],
                               cell.vise_pose[:3] - [0, 0, 0.005], atol=0.002)
    assert gt["parts_done"][0] == 0
    sim.place_object("finished_1", cell.outfeed.slot_poses()[2][:3] + [0, 0, 0.001])
    run(sim, SimCommand.empty(6), 0.2)
    assert sim.read().ground_truth["parts_in_outfeed"][0] == 1
    assert sim.read().ground_truth["parts_done"][0] == 1


def test_repo_cell_gripper_boxes_grip_time_and_allowed_contacts():
    cell = REPO / "config" / "arm_cell.yaml"
    sim = MujocoSystem()
    sim.on_configure({"cell": str(cell)})
    sim.on_activate()
    grip = load_cell(cell).gripper
    names = {sim.model.geom(i).name for i in range(sim.model.ngeom)}
    assert {b.name for b in grip.boxes} <= names
    pmodel, pdata = pin_model()
    part = sim.read().ground_truth["object_poses"][0, :3]
    seed = np.array([math.atan2(part[1], part[0]) + math.pi, -1.2, 1.6, -1.9, -1.57, 0.0])
    q_above = ik(pmodel, pdata, part + [0, 0, 0.12], seed)
    contacts: list[int] = []
    move(sim, q_above, 2.0, gripper=0, contacts=contacts)
    move(sim, ik(pmodel, pdata, part, q_above), 1.0, gripper=0, contacts=contacts)
    states = run(sim, command(position=sim.read().q, gripper=1), grip.grip_time_s + 0.05)
    closed_at = next(i for i, s in enumerate(states) if s.ground_truth["held_part"][0] == 0)
    assert (closed_at + 1) * DT == pytest.approx(grip.grip_time_s, abs=2 * DT)
    # the base stands on the table (allow_contact) and the fingers clear the neighbours
    assert max(contacts) == 0
    assert max(s.ground_truth["contacts"][0] for s in states) == 0


# --- collisions ------------------------------------------------------------------------------
def test_contacts_counted_when_the_arm_is_driven_into_the_table():
    sim = make()
    assert sim.read().ground_truth["contacts"][0] == 0
    # shoulder lift drives the arm down onto the table; the others hold
    effort = np.full(6, np.nan)
    effort[1] = 60.0
    states = run(sim, command(effort=effort), 1.5)
    assert max(s.ground_truth["contacts"][0] for s in states) > 0
    assert states[-1].ground_truth["contact_steps"][0] > 100
    assert np.all(np.isfinite(states[-1].q))


# --- bad commands and parameters -------------------------------------------------------------
def test_non_finite_commands_never_reach_the_physics():
    sim = make()
    q0 = sim.read().q
    effort = np.array([np.nan, np.inf, -np.inf, np.nan, np.nan, np.nan])
    states = run(sim, command(effort=effort, velocity=np.full(6, np.nan)), 0.5)
    assert sim.sources == [JointSource.HOLD] * 6
    assert sim.rejected_commands == 2 * 500
    assert np.all(np.isfinite(sim.data.qacc)) and np.all(np.isfinite(sim.data.ctrl))
    assert np.max(np.abs(states[-1].q - q0)) < 1e-3
    # a NaN position falls back to the effort interface for that joint
    pos = np.full(6, np.nan)
    sim.write(0.0, DT, command(position=pos, effort=np.zeros(6)))
    assert sim.sources == [JointSource.EFFORT] * 6


def test_commands_are_ignored_until_active_and_after_deactivate():
    sim = MujocoSystem()
    with pytest.raises(ArmSimError, match="not configured"):
        sim.read()
    sim.on_configure({"cell": str(CELL)})
    q0 = sim.read().q
    run(sim, command(effort=np.full(6, 100.0), gripper=1), 0.3)
    assert np.max(np.abs(sim.read().q - q0)) < 1e-3
    assert sim.read().sensors["gripper"][0] == 0.0
    sim.on_activate()
    run(sim, command(effort=np.full(6, 5.0)), 0.05)
    sim.on_deactivate()
    q1 = sim.read().q
    run(sim, command(effort=np.full(6, 100.0)), 0.5)
    assert np.max(np.abs(sim.read().q - q1)) < 2e-2


def test_bad_command_shape_and_period_are_errors():
    sim = make()
    with pytest.raises(ArmSimError, match="command.effort must have 6 entries"):
        sim.write(0.0, DT, command(effort=np.zeros(5)))
    with pytest.raises(ArmSimError, match="period_s"):
        sim.write(0.0, float("nan"), SimCommand.empty(6))


@pytest.mark.parametrize("params, match", [
    ({"bogus": 1}, r"unknown parameter\(s\) \['bogus'\]"),
    ({"seed": -1}, "'seed' must be an integer"),
    ({"timestep_s": 0.0}, "'timestep_s' must be a number"),
    ({"initial_positions": [0.0] * 5}, "'initial_positions' must be 6 finite numbers"),
    ({"flex_stiffness_nm_per_rad": float("nan")}, "flex_stiffness_nm_per_rad"),
])
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ArmSimError, match=match):
        MujocoSystem().on_configure({"cell": str(CELL), **params})


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(CellError, match="cannot read cell file"):
        MujocoSystem().on_configure({"cell": str(tmp_path / "nope.yaml")})
    bad_urdf = tmp_path / "bad.urdf"
    bad_urdf.write_text("<robot name='x'><link name='a'/><joint name='j' type='revolute'>"
                        "<parent link='a'/><child link='missing'/></joint></robot>")
    with pytest.raises(ArmModelError, match="parent/child must name existing links"):
        MujocoSystem().on_configure({"urdf": str(bad_urdf)})
    bad_urdf.write_text("<robot><link")
    with pytest.raises(ArmModelError, match="malformed XML"):
        build_mjcf(bad_urdf)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["cell"].pop("vise"), "missing 'vise'"),
    (lambda c: c["cell"]["tray"].update(part="gold"), "'gold' is not one of the parts"),
    (lambda c: c["cell"]["static"][0].update(size=[1, 1]), r"static\[0\].size"),
    (lambda c: c["cell"]["static"].append(dict(c["cell"]["static"][0])), "duplicate box"),
    (lambda c: c["cell"].update(machine_cycle_s=-1), "machine_cycle_s"),
])
def test_malformed_cell_is_rejected(tmp_path, edit, match):
    data = yaml.safe_load(CELL.read_text())
    edit(data)
    path = tmp_path / "cell.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CellError, match=match):
        load_cell(path)


# --- sensors and rendering -------------------------------------------------------------------
def test_accelerometer_reads_specific_force_with_seeded_noise():
    a, b = make(seed=3), make(seed=3)
    acc_a = np.array([s.sensors["tool_accelerometer"] for s in run(a, SimCommand.empty(6), 0.3)])
    acc_b = np.array([s.sensors["tool_accelerometer"] for s in run(b, SimCommand.empty(6), 0.3)])
    np.testing.assert_array_equal(acc_a, acc_b)
    quat = a.read().ground_truth["tool_pose"][3:]                       # xyzw
    rot = pin.Quaternion(quat[3], *quat[:3]).toRotationMatrix()
    # at rest an accelerometer reads +g upwards, expressed in tool0
    np.testing.assert_allclose(acc_a.mean(axis=0), rot.T @ [0, 0, 9.81], atol=0.01)
    assert acc_a.std(axis=0) == pytest.approx([0.02] * 3, rel=0.25)


def test_render_png(tmp_path):
    sim = make()
    path = sim.render_png(tmp_path / "cell.png", width=160, height=120)
    import matplotlib.image
    img = matplotlib.image.imread(path)
    assert img.shape[:2] == (120, 160) and img.std() > 0.02


# --- Gazebo path (static checks: no Gazebo here) ----------------------------------------------
ROS2_CONTROL = URDF.parent / "ur5.ros2_control.xml"
BRIDGE = REPO / "config" / "arm_bridge.yaml"
GZ_LAUNCH = REPO / "launch" / "arm_gazebo.launch.xml"
GZ_CONTROLLERS = REPO / "config" / "arm_gazebo_controllers.yaml"


def urdf_joints() -> list[str]:
    root = ET.parse(URDF).getroot()
    return [j.get("name") for j in root.findall("joint") if j.get("type") != "fixed"]


def test_ros2_control_tags_match_the_urdf():
    root = ET.parse(ROS2_CONTROL).getroot()
    block = root.find("ros2_control")
    assert block is not None and block.get("type") == "system"
    assert block.find("hardware/plugin").text.strip() == "gz_ros2_control/GazeboSimSystem"
    joints = block.findall("joint")
    assert [j.get("name") for j in joints] == urdf_joints()
    for j in joints:
        assert {c.get("name") for c in j.findall("command_interface")} == {"effort", "position"}
        assert [s.get("name") for s in j.findall("state_interface")] == [
            "position", "velocity", "effort"]
    plugin = root.find("gazebo/plugin")
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert plugin.find("parameters").text.strip().endswith("config/arm_gazebo_controllers.yaml")
    imu = root.find("gazebo/sensor")
    assert imu.get("type") == "imu" and imu.find("topic").text == "tool/accelerometer"


def test_bridge_and_controllers_match_the_topics_of_the_embedded_arm():
    entries = {e.ros_topic_name: e for e in parse_bridge_config(BRIDGE.read_text(), str(BRIDGE))}
    assert entries["/clock"].ros_type_name == "rosgraph_msgs/msg/Clock"
    acc = entries["/tool/accelerometer"]
    assert (acc.ros_type_name, acc.gz_type_name, acc.direction) == (
        "sensor_msgs/msg/Imu", "gz.msgs.IMU", "GZ_TO_ROS")
    assert acc.gz_topic_name.lstrip("/") == "tool/accelerometer"
    ctl = yaml.safe_load(GZ_CONTROLLERS.read_text())
    cm = ctl["controller_manager"]["ros__parameters"]
    assert cm["arm_controller"]["type"] == "joint_trajectory_controller/JointTrajectoryController"
    assert cm["joint_state_broadcaster"]["type"] == \
        "joint_state_broadcaster/JointStateBroadcaster"
    params = ctl["arm_controller"]["ros__parameters"]
    assert params["joints"] == urdf_joints()
    assert params["command_interfaces"] == ["effort"]
    assert params["state_interfaces"] == ["position", "velocity"]


def test_gazebo_launch_references_the_files():
    root = ET.parse(GZ_LAUNCH).getroot()
    text = GZ_LAUNCH.read_text()
    assert root.tag == "launch"
    for needle in ("ur5.ros2_control.xml", "arm_bridge.yaml", "ros_gz_sim", "gz_sim.launch.py"):
        assert needle in text
    execs = {(n.get("pkg"), n.get("exec")) for n in root.iter("node")}
    assert {("ros_gz_sim", "create"), ("ros_gz_bridge", "parameter_bridge"),
            ("robot_state_publisher", "robot_state_publisher"),
            ("controller_manager", "spawner")} <= execs
    spawned = " ".join(n.get("args", "") for n in root.iter("node")
                       if n.get("exec") == "spawner")
    assert "arm_controller" in spawned and "joint_state_broadcaster" in spawned


def test_machine_done_input_and_cell_reset():
    """A finished part in the vise raises machine_done; the reset output restores the tray."""
    sim = make()
    start = sim.read().ground_truth["object_poses"].copy()
    assert sim.read().sensors["machine_done"][0] == 0.0
    n = len(sim.object_names) // 2
    vise = sim.cell.vise_pose[:3]
    sim.place_object(sim.object_names[n], vise - [0.0, 0.0, 0.005])
    assert sim.read().sensors["machine_done"][0] == 1.0
    cmd = SimCommand.empty(len(sim.joint_names))
    cmd.gpio = {"sim_reset_cell": 1.0}
    sim.write(0.0, 0.001, cmd)
    gt = sim.read().ground_truth
    assert sim.read().sensors["machine_done"][0] == 0.0
    assert np.allclose(gt["object_poses"][:, :3], start[:, :3], atol=1e-6)
    assert gt["parts_done"][0] == 0
