"""`dg demo humanoid` on a short mission (config/tour/humanoid_mission.yaml, the tour's)
through all the nodes: the MuJoCo biped (humanoid_sim, lockstep) and the walking controller
(humanoid_controller) walk to one goal 1 m ahead while the simulator pushes the torso
sideways once; the mission node sends the goal and reports success. Judged here from the
recording with an independent reader (mcap-ros2-support) and the simulator's ground truth,
then compared with the analysis' metrics.json."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from demo_run import recorded, run_demo

from dg_common.sim_time import stamp_to_ns
from dg_interfaces.msg import MissionProgress

MISSION = Path(__file__).resolve().parents[1] / "config" / "tour" / "humanoid_mission.yaml"
GOAL = tuple(yaml.safe_load(MISSION.read_text())["/**"]["ros__parameters"]["goals"])  # x, y, yaw
PUSH_T_S, PUSH_F_N = 3.0, (0.0, 30.0, 0.0)
TOPICS = ["/humanoid_sim/ground_truth", "/humanoid_sim/com", "/humanoid_sim/push",
          "/mission_progress", "/humanoid/walking_state", "/goal_pose"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    run_dir, metrics = run_demo(
        "humanoid", runs, f"mission_file:={MISSION}", f"push_times_s:=[{PUSH_T_S}]",
        f"push_forces_n:=[{', '.join(map(str, PUSH_F_N))}]", "timeout_s:=60.0",
        timeout_s=900)
    msgs = {t: [m.ros_msg for m in ms] for t, ms in recorded(run_dir, TOPICS).items()}
    return run_dir, metrics, msgs


def truth_track(msgs):
    """(t [s], x, y, z, tilt [rad]) of the true pelvis, in stamp order."""
    rows = []
    for m in msgs["/humanoid_sim/ground_truth"]:
        p, q = m.pose.pose.position, m.pose.pose.orientation
        n2 = q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2
        cos_tilt = 1.0 - 2.0 * (q.x ** 2 + q.y ** 2) / n2       # R[2,2]
        rows.append((stamp_to_ns(m.header.stamp) * 1e-9, p.x, p.y, p.z,
                     math.acos(max(-1.0, min(1.0, cos_tilt)))))
    return np.array(sorted(rows))


def test_mission_succeeded_and_the_run_folder_is_complete(demo):
    run_dir, m, msgs = demo
    assert m["succeeded"] is True and m["launch_exit_code"] == 0
    for name in ("recording.mcap", "parameters.yaml", "launch_args.yaml", "humanoid_zmp.png",
                 "humanoid_com_dcm.png", "humanoid_footsteps.png", "humanoid_joints.png"):
        assert (run_dir / name).is_file(), name
    progress = msgs["/mission_progress"]
    assert progress[-1].state == MissionProgress.STATE_SUCCEEDED, progress[-1].detail
    assert not any(p.state == MissionProgress.STATE_FAILED for p in progress)
    goals = msgs["/goal_pose"]
    assert goals and (goals[0].pose.position.x, goals[0].pose.position.y) == GOAL[:2]


def test_no_fall_and_forward_progress_from_ground_truth(demo):
    _, m, msgs = demo
    tr = truth_track(msgs)
    assert len(tr) > 100
    standing_z = float(np.median(tr[tr[:, 0] <= tr[0, 0] + 0.5, 3]))
    # never fallen: the pelvis stays above half its standing height and within 45 deg
    assert tr[:, 3].min() > 0.5 * standing_z, tr[:, 3].min()
    assert np.degrees(tr[:, 4].max()) < 45.0
    # walked forward: the CoM ends near the goal, the pelvis moved ahead by most of it
    assert tr[-1, 1] - tr[0, 1] >= 0.7 * GOAL[0], (tr[0, 1:3], tr[-1, 1:3])
    com = msgs["/humanoid_sim/com"][-1].point
    goal_error = math.hypot(com.x - GOAL[0], com.y - GOAL[1])
    assert goal_error <= 0.25, goal_error
    assert m["falls"] == 0
    assert m["goal_error_m"] == pytest.approx(goal_error, abs=1e-6)


def test_the_push_was_applied_and_survived(demo):
    _, m, msgs = demo
    pushes = [p for p in msgs["/humanoid_sim/push"] if abs(p.wrench.force.y) > 0.0]
    assert pushes, "no push event recorded"
    t_push = stamp_to_ns(pushes[0].header.stamp) * 1e-9
    assert t_push == pytest.approx(PUSH_T_S, abs=0.01)
    assert pushes[0].wrench.force.y == pytest.approx(PUSH_F_N[1])
    tr = truth_track(msgs)
    assert tr[-1, 0] >= t_push + 3.0          # the recording covers the recovery
    assert m["pushes_total"] == m["pushes_survived"] == 1


def test_the_controller_walked_and_tracked_its_zmp(demo):
    _, m, msgs = demo
    modes = [s.mode for s in msgs["/humanoid/walking_state"]]
    assert "walking" in modes and modes[-1] == "standing"
    assert "fallen" not in modes and "safe_stop" not in modes
    assert m["footsteps_taken"] >= 2
    # the measured ZMP follows the desired one to within a third of the sole's width (sole
    # 0.22 m x 0.12 m) half of the time (measured 2.0 cm median) and to within half its
    # length RMS, the touch-down spikes included (measured 6.3 to 8.6 cm over 5 runs of this
    # short walk with its start, push and stop)
    assert m["zmp_tracking_median_m"] < 0.04, m["zmp_tracking_median_m"]
    assert m["zmp_tracking_rms_m"] < 0.11, m["zmp_tracking_rms_m"]
    assert m["distance_walked_m"] == pytest.approx(GOAL[0], abs=0.3)
