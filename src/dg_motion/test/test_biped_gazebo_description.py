"""The biped's Gazebo path, checked statically (no Gazebo here): the gz_ros2_control
description, the controllers and bridge configs, the world and the launch file agree with
the URDF, with LEG_JOINTS and with the topics humanoid_controller uses."""

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest
import yaml

from dg_motion.humanoid.types import LEG_JOINTS
from dg_motion.nodes.humanoid_controller_node import COMMAND_TOPIC

PKG = Path(__file__).resolve().parents[1]
REPO = PKG.parents[1]
BIPED = PKG / "config" / "robots" / "biped"
URDF = BIPED / "biped.urdf"
ROS2_CONTROL = BIPED / "biped.ros2_control.xml"
GZ_LAUNCH = REPO / "launch" / "humanoid_gazebo.launch.xml"
GZ_CONTROLLERS = REPO / "config" / "humanoid_gazebo_controllers.yaml"
BRIDGE = REPO / "config" / "humanoid_bridge.yaml"
WORLD = REPO / "config" / "worlds" / "humanoid_flat.sdf"
CONTROLLER_PARAMS = REPO / "config" / "humanoid_controller.yaml"

#: (ros2_control sensor, broadcaster, frame, ankle joint carrying it, fixed sole joint)
FEET = (("l_foot_ft", "left_foot", "l_sole", "l_ankle_roll", "l_sole_joint"),
        ("r_foot_ft", "right_foot", "r_sole", "r_ankle_roll", "r_sole_joint"))
FT_INTERFACES = ["force.x", "force.y", "force.z", "torque.x", "torque.y", "torque.z"]


def urdf_joints() -> list[str]:
    root = ET.parse(URDF).getroot()
    return [j.get("name") for j in root.findall("joint") if j.get("type") != "fixed"]


def description() -> ET.Element:
    return ET.parse(ROS2_CONTROL).getroot()


def gazebo_sensors() -> dict[tuple[str, str], ET.Element]:
    """{(reference, sensor name): <sensor>} of the description's <gazebo> blocks."""
    return {(g.get("reference"), s.get("name")): s
            for g in description().findall("gazebo") for s in g.findall("sensor")}


def controllers() -> dict:
    return yaml.safe_load(GZ_CONTROLLERS.read_text())


def initial_positions() -> dict[str, float]:
    block = description().find("ros2_control")
    return {j.get("name"): float(j.find("state_interface[@name='position']/param"
                                        "[@name='initial_value']").text)
            for j in block.findall("joint")}


def test_description_includes_the_biped_urdf():
    root = description()
    assert root.tag == "robot" and root.get("name") == "dg_biped"
    xacro = "{http://www.ros.org/wiki/xacro}"
    includes = [i.get("filename") for i in root.iter(f"{xacro}include")]
    assert includes == ["$(find dg_motion)/config/robots/biped/biped.urdf"]
    assert (PKG / includes[0].removeprefix("$(find dg_motion)/")).is_file()
    # xacro pastes the URDF's links and joints into this <robot>: the description adds none
    assert not root.findall("link") and not root.findall("joint")
    assert ET.parse(URDF).getroot().get("name") == "dg_biped"


def test_ros2_control_joints_match_the_urdf_and_leg_joints():
    block = description().find("ros2_control")
    assert block is not None and block.get("type") == "system"
    assert block.get("name") == "dg_biped"
    assert block.find("hardware/plugin").text.strip() == "gz_ros2_control/GazeboSimSystem"
    joints = block.findall("joint")
    assert [j.get("name") for j in joints] == list(LEG_JOINTS)
    assert sorted(LEG_JOINTS) == sorted(urdf_joints())
    for j in joints:
        assert [c.get("name") for c in j.findall("command_interface")] == ["position"], \
            j.get("name")
        assert [s.get("name") for s in j.findall("state_interface")] == [
            "position", "velocity", "effort"], j.get("name")


def test_initial_posture_is_within_limits_and_standing_at_spawn_height():
    """The joints start crouched, soles level, and spawn_z puts the soles on the ground."""
    q0 = initial_positions()
    assert list(q0) == list(LEG_JOINTS)
    model = pin.buildModelFromUrdf(str(URDF), pin.JointModelFreeFlyer())
    q = pin.neutral(model)
    for name, value in q0.items():
        jid = model.getJointId(name)
        lo, hi = model.lowerPositionLimit[model.idx_qs[jid]], \
            model.upperPositionLimit[model.idx_qs[jid]]
        assert lo <= value <= hi, name
        q[model.idx_qs[jid]] = value
    data = model.createData()
    pin.framesForwardKinematics(model, data, q)           # pelvis at the origin, level
    soles = [data.oMf[model.getFrameId(frame)] for _, _, frame, _, _ in FEET]
    for sole in soles:
        np.testing.assert_allclose(sole.rotation, np.eye(3), atol=1e-6)   # flat on the floor
    height = -soles[0].translation[2]
    assert soles[1].translation[2] == pytest.approx(-height, abs=1e-9)
    spawn_z = float(ET.parse(GZ_LAUNCH).getroot().find("arg[@name='spawn_z']").get("default"))
    assert height <= spawn_z <= height + 0.005


def test_foot_force_torque_sensors():
    block = description().find("ros2_control")
    sensors = block.findall("sensor")
    assert [s.get("name") for s in sensors] == [f[0] for f in FEET]
    sensors_gz = gazebo_sensors()
    urdf = ET.parse(URDF).getroot()
    for s, (name, _, frame, ankle, sole_joint) in zip(sensors, FEET, strict=True):
        assert s.get("type") == "force_torque"
        assert [i.get("name") for i in s.findall("state_interface")] == FT_INTERFACES
        # the Gazebo sensor of the same name (GazeboSimSystem matches them by name), on the
        # ankle joint whose child is the foot, posed at the sole frame
        gz = sensors_gz[(ankle, name)]
        assert gz.get("type") == "force_torque"
        assert gz.find("force_torque/frame").text == "sensor"
        assert gz.find("force_torque/measure_direction").text == "child_to_parent"
        joint = urdf.find(f"joint[@name='{ankle}']")
        fixed = urdf.find(f"joint[@name='{sole_joint}']")
        assert fixed.get("type") == "fixed" and fixed.find("child").get("link") == frame
        assert fixed.find("parent").get("link") == joint.find("child").get("link")
        sole_xyz = [float(v) for v in fixed.find("origin").get("xyz").split()]
        pose = [float(v) for v in gz.find("pose").text.split()]
        assert pose == sole_xyz + [0.0, 0.0, 0.0]
        assert fixed.find("origin").get("rpy").split() == ["0", "0", "0"]


def test_pelvis_imu():
    imus = [(ref, s) for (ref, _), s in gazebo_sensors().items() if s.get("type") == "imu"]
    assert len(imus) == 1
    ref, imu = imus[0]
    assert ref == "pelvis"
    assert (imu.find("topic").text, imu.find("gz_frame_id").text) == ("imu/data", "imu")
    assert imu.find("imu/orientation_reference_frame/localization").text == "ENU"
    # the `imu` link is fixed to the pelvis origin in the URDF: same frame as the sensor
    joint = ET.parse(URDF).getroot().find("joint[@name='imu_joint']")
    assert joint.get("type") == "fixed" and joint.find("parent").get("link") == "pelvis"
    assert joint.find("child").get("link") == "imu"
    origin = joint.find("origin")
    assert origin.get("xyz").split() == ["0", "0", "0"] and origin.get("rpy").split() == [
        "0", "0", "0"]
    assert [float(v) for v in imu.find("pose").text.split()] == [0.0] * 6
    # the controller checks that frame
    params = yaml.safe_load(CONTROLLER_PARAMS.read_text())["/**"]["ros__parameters"]
    assert params["imu_frame"] == "imu"
    assert (params["left_sole_frame"], params["right_sole_frame"]) == ("l_sole", "r_sole")


def test_gz_ros2_control_plugin_loads_the_controllers_yaml():
    plugins = [p for g in description().findall("gazebo") for p in g.findall("plugin")]
    assert len(plugins) == 1
    plugin = plugins[0]
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert plugin.get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    assert plugin.find("parameters").text.strip() == \
        "$(find dg_bringup)/config/humanoid_gazebo_controllers.yaml"
    assert GZ_CONTROLLERS.is_file()


def test_controllers_match_the_description_and_the_walking_controller():
    ctl = controllers()
    cm = ctl["controller_manager"]["ros__parameters"]
    assert cm["joint_state_broadcaster"]["type"] == \
        "joint_state_broadcaster/JointStateBroadcaster"
    # the walking controller publishes /<name>/commands of a JointGroupPositionController
    name = COMMAND_TOPIC.strip("/").removesuffix("/commands")
    assert cm[name]["type"] == "position_controllers/JointGroupPositionController"
    assert ctl[name]["ros__parameters"]["joints"] == list(LEG_JOINTS)
    # force_torque_sensor_broadcaster publishes ~/wrench: /left_foot/wrench, /right_foot/wrench
    for sensor, broadcaster, frame, _, _ in FEET:
        assert cm[broadcaster]["type"] == \
            "force_torque_sensor_broadcaster/ForceTorqueSensorBroadcaster"
        params = ctl[broadcaster]["ros__parameters"]
        assert (params["sensor_name"], params["frame_id"]) == (sensor, frame)
    assert cm["update_rate"] == 1000
    # every configured controller is spawned by the launch file, and only those
    root = ET.parse(GZ_LAUNCH).getroot()
    spawned = [a for n in root.iter("node") if n.get("exec") == "spawner"
               for a in n.get("args", "").split("--")[0].split()]
    assert sorted(spawned) == sorted(k for k in cm if isinstance(cm[k], dict))


def test_walking_controller_topics_exist_in_gazebo():
    """What humanoid_controller subscribes to and publishes, named alike in this world."""
    node = (PKG / "dg_motion" / "nodes" / "humanoid_controller_node.py").read_text()
    for topic in ("/joint_states", "/imu/data", "/left_foot/wrench", "/right_foot/wrench"):
        assert f'"{topic}"' in node
    entries = {e["ros_topic_name"]: e for e in yaml.safe_load(BRIDGE.read_text())}
    imu = entries["/imu/data"]
    assert (imu["ros_type_name"], imu["gz_type_name"], imu["direction"]) == (
        "sensor_msgs/msg/Imu", "gz.msgs.IMU", "GZ_TO_ROS")
    sensors = [s for s in gazebo_sensors().values() if s.get("type") == "imu"]
    assert imu["gz_topic_name"].lstrip("/") == sensors[0].find("topic").text
    assert entries["/clock"]["ros_type_name"] == "rosgraph_msgs/msg/Clock"
    # the rest come from ros2_controllers inside Gazebo, not through the bridge
    assert set(entries) == {"/imu/data", "/clock"}


def test_world_loads_the_sensor_systems():
    world = ET.parse(WORLD).getroot().find("world")
    plugins = {p.get("filename") for p in world.findall("plugin")}
    assert {"gz-sim-physics-system", "gz-sim-imu-system", "gz-sim-forcetorque-system"} <= plugins
    step = float(world.find("physics/max_step_size").text)
    assert step == pytest.approx(1.0 / controllers()["controller_manager"]["ros__parameters"][
        "update_rate"])


def test_gazebo_launch_references_the_files():
    root = ET.parse(GZ_LAUNCH).getroot()
    text = GZ_LAUNCH.read_text()
    assert root.tag == "launch"
    for needle in ("$(find-pkg-share dg_motion)/config/robots/biped/biped.ros2_control.xml",
                   "$(find-pkg-share dg_bringup)/config/humanoid_bridge.yaml",
                   "$(find-pkg-share dg_bringup)/config/worlds/humanoid_flat.sdf",
                   "gz_sim.launch.py"):
        assert needle in text
    execs = {(n.get("pkg"), n.get("exec")) for n in root.iter("node")}
    assert {("ros_gz_sim", "create"), ("ros_gz_bridge", "parameter_bridge"),
            ("robot_state_publisher", "robot_state_publisher"),
            ("controller_manager", "spawner")} <= execs
    create = next(n for n in root.iter("node") if n.get("exec") == "create")
    args = create.get("args").split()
    assert args[args.index("-name") + 1] == description().get("name")
    assert args[args.index("-topic") + 1] == "robot_description"
    # the Gazebo world is chosen by the humanoid launch file's sim:=gazebo
    assert "humanoid_gazebo.launch.xml" in (REPO / "launch" / "humanoid.launch.xml").read_text()
