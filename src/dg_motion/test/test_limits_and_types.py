"""JointLimits (MoveIt joint_limits.yaml) and the sampled trajectory type."""

import numpy as np
import pytest
import yaml

from dg_motion.errors import MotionInputError
from dg_motion.robots.limits import JointLimits, joint_limits_from_dict, load_joint_limits
from dg_motion.robots.paths import robot_file
from dg_motion.trajectory.types import SampledTrajectory, sample_uniform

UR5_LIMITS = robot_file("ur5", "joint_limits.yaml")


def _doc(**entries):
    return {"joint_limits": entries}


def test_ur5_file_reads_every_limit():
    lim = load_joint_limits(UR5_LIMITS)
    assert lim.dof == 6
    assert lim.names[0] == "shoulder_pan_joint"
    assert lim.velocity_max[0] == 3.15 and lim.velocity_max[5] == 3.2
    assert lim.has_jerk_limits()
    assert lim.position_min[2] == pytest.approx(-np.pi)


def test_flags_false_mean_unlimited_and_base_fills_the_rest():
    base = JointLimits(("a", "b"), np.array([-1.0, -2.0]), np.array([1.0, 2.0]),
                       np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([np.inf] * 2),
                       np.array([10.0, 10.0]))
    lim = joint_limits_from_dict(_doc(a={"has_velocity_limits": True, "max_velocity": 0.5,
                                         "has_jerk_limits": False, "max_jerk": 9.0}), base=base)
    assert lim.velocity_max.tolist() == [0.5, 1.0]
    assert np.isinf(lim.jerk_max).all() and not lim.has_jerk_limits()
    assert lim.position_max.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("entry, words", [
    ({"has_velocity_limits": True}, "no max_velocity"),
    ({"has_velocity_limits": True, "max_velocity": "fast"}, "must be a number"),
    ({"has_velocity_limits": True, "max_velocity": float("nan")}, "NaN"),
    ({"has_acceleration_limits": True, "max_acceleration": -1.0}, "acceleration_max must be > 0"),
    ({"has_position_limits": True, "min_position": 1.0, "max_position": -1.0}, "min_position"),
])
def test_bad_entries_are_named(entry, words):
    with pytest.raises(MotionInputError, match=words):
        joint_limits_from_dict(_doc(j=entry))


def test_missing_joint_and_malformed_file(tmp_path):
    with pytest.raises(MotionInputError, match=r"no limits for joints \['k'\]"):
        joint_limits_from_dict(_doc(j={}), names=["j", "k"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("joint_limits: [1, 2")
    with pytest.raises(MotionInputError, match="cannot read"):
        load_joint_limits(bad)
    bad.write_text(yaml.safe_dump({"limits": {}}))
    with pytest.raises(MotionInputError, match="expected a mapping"):
        load_joint_limits(bad)


def test_index_of_names_the_mismatch():
    lim = load_joint_limits(UR5_LIMITS)
    order = list(reversed(lim.names))
    assert lim.index_of(order).tolist() == [5, 4, 3, 2, 1, 0]
    with pytest.raises(MotionInputError, match="unknown.*'elbow'.*missing.*'elbow_joint'"):
        lim.index_of([*lim.names[:2], "elbow", *lim.names[3:]])
    with pytest.raises(MotionInputError):
        lim.index_of([*lim.names[:5], lim.names[0]])


def test_scaled_and_subset():
    lim = load_joint_limits(UR5_LIMITS)
    half = lim.scaled(0.5, 0.25, 1.0)
    assert half.velocity_max[0] == pytest.approx(1.575)
    assert half.acceleration_max[3] == pytest.approx(2.5)
    with pytest.raises(MotionInputError):
        lim.scaled(0.0)
    sub = lim.subset(["wrist_3_joint", "shoulder_pan_joint"])
    assert sub.velocity_max.tolist() == [3.2, 3.15]


def test_sampled_trajectory_interpolates_a_cubic_exactly():
    # q(t) = t^3 - t: Hermite interpolation of a cubic with exact end slopes is exact.
    t = np.linspace(0.0, 2.0, 5)
    q = (t**3 - t)[:, None]
    traj = SampledTrajectory(("j",), t, q, (3 * t**2 - 1)[:, None], (6 * t)[:, None])
    tq = np.array([0.1, 0.77, 1.9, 5.0])
    qs, qds, _ = traj.sample(tq)
    clipped = np.minimum(tq, 2.0)
    assert np.allclose(qs[:, 0], clipped**3 - clipped, atol=1e-12)
    assert qds[-1, 0] == pytest.approx(11.0)  # held at the end state
    uni = sample_uniform(traj, 0.3)
    assert uni.t_s[-1] == pytest.approx(2.0) and np.all(np.diff(uni.t_s) <= 0.3 + 1e-12)


def test_sampled_trajectory_rejects_nan_and_bad_times():
    t = np.array([0.0, 1.0])
    ok = np.zeros((2, 1))
    with pytest.raises(MotionInputError, match="non-finite q"):
        SampledTrajectory(("j",), t, np.array([[0.0], [np.nan]]), ok, ok)
    with pytest.raises(MotionInputError, match="increasing"):
        SampledTrajectory(("j",), np.array([0.0, 0.0]), ok, ok, ok)
