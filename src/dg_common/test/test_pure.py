import math

import numpy as np
import pytest

from dg_common.geometry import quaternion_from_yaw, wrap_angle, yaw_from_quaternion
from dg_common.param_schema import ParameterError, ParamSpec, read_only_param, validate
from dg_common.validation import (
    InvalidInput,
    require_finite,
    require_frame,
    require_fresh,
    require_size,
)
from dg_common.watchdog import Watchdog


def test_param_spec_validates_types_ranges_and_choices():
    speed = ParamSpec("speed_mps", "float", "cruise speed", default=1.0, min=0.0, max=5.0)
    assert validate(speed, 2) == 2.0 and isinstance(validate(speed, 2), float)
    with pytest.raises(ParameterError, match="speed_mps.*above the maximum 5.0"):
        validate(speed, 9.0)
    with pytest.raises(ParameterError, match="must be finite"):
        validate(speed, math.nan)
    with pytest.raises(ParameterError, match="must be a float"):
        validate(speed, "fast")
    with pytest.raises(ParameterError, match="must be a float"):
        validate(speed, True)
    mode = ParamSpec("mode", "str", "mode", default="a", choices=("a", "b"))
    with pytest.raises(ParameterError, match="not one of"):
        validate(mode, "c")
    count = ParamSpec("count", "int", "count", default=1)
    with pytest.raises(ParameterError, match="integer"):
        validate(count, 1.5)


def test_param_spec_arrays_and_required():
    wps = ParamSpec("waypoints", "float[]", "xy pairs", min_len=2, max_len=4)
    assert validate(wps, [1, 2.5]) == [1.0, 2.5]
    with pytest.raises(ParameterError, match=r"waypoints'\[1\] must be finite"):
        validate(wps, [1.0, math.inf])
    with pytest.raises(ParameterError, match="at least 2"):
        validate(wps, [1.0])
    with pytest.raises(ParameterError, match="at most 4"):
        validate(wps, [1.0] * 5)
    with pytest.raises(ParameterError, match="is required"):
        validate(wps, None)
    with pytest.raises(ParameterError, match="above the maximum"):
        ParamSpec("bad", "float", "bad default", default=1.0, max=0.5)
    with pytest.raises(TypeError, match="unknown kind"):
        ParamSpec("bad", "double", "wrong kind")


def test_param_spec_array_choices_apply_to_every_element():
    topics = ParamSpec("wait_for", "str[]", "topics", default=["a"], choices=("a", "b", "c"))
    assert validate(topics, ["c", "a"]) == ["c", "a"]
    assert validate(topics, []) == []
    with pytest.raises(ParameterError, match=r"wait_for'.*\['x'\] not allowed.*one of"):
        validate(topics, ["a", "x"])
    with pytest.raises(ParameterError, match="not allowed"):
        ParamSpec("bad", "int[]", "bad default", default=[1, 4], choices=(1, 2))
    spec = read_only_param("rate_hz", "float", "rate", 2.0, 0.0, 10.0)
    assert (spec.read_only, spec.min, spec.max, spec.default) == (True, 0.0, 10.0, 2.0)
    assert read_only_param("m", "str", "mode", "a", choices=("a",)).choices == ("a",)


def test_bridge_publisher_qos_is_what_ros_gz_bridge_offers():
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy

    from dg_common.qos import BRIDGE_PUB_QOS

    q = BRIDGE_PUB_QOS
    assert (q.history, q.depth) == (HistoryPolicy.KEEP_LAST, 10)
    assert q.reliability == ReliabilityPolicy.RELIABLE
    assert q.durability == DurabilityPolicy.VOLATILE


def test_validation_helpers():
    require_finite("odom", [0.0, 1.0])
    with pytest.raises(InvalidInput, match="non-finite value nan at index 1"):
        require_finite("odom", [0.0, math.nan])
    require_frame("odom", "odom", {"odom", "map"})
    with pytest.raises(InvalidInput, match="frame 'base_link'"):
        require_frame("odom", "base_link", "odom")
    require_fresh("odom", 10.0, 10.2, 0.5)
    with pytest.raises(InvalidInput, match="stale by 1.000 s"):
        require_fresh("odom", 9.0, 10.0, 0.5)
    with pytest.raises(InvalidInput, match="future"):
        require_fresh("odom", 12.0, 10.0, 0.5)
    with pytest.raises(InvalidInput, match="not set"):
        require_fresh("odom", 0.0, 10.0, 0.5)
    with pytest.raises(InvalidInput, match="more than the limit"):
        require_size("cloud", 11, 10)
    with pytest.raises(InvalidInput, match="at least 1"):
        require_size("path", 0, 10)


def test_watchdog():
    w = Watchdog(0.5)
    assert w.expired(0.0) and w.age_s(0.0) == math.inf
    w.feed(1.0)
    assert not w.expired(1.5)
    assert w.expired(1.51)
    w.reset()
    assert w.expired(1.0)
    with pytest.raises(ValueError):
        Watchdog(0.0)


def test_geometry():
    for yaw in (-3.0, -1.0, 0.0, 0.5, 3.1):
        assert yaw_from_quaternion(*quaternion_from_yaw(yaw)) == pytest.approx(yaw)
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(-math.pi) == math.pi and wrap_angle(math.pi) == math.pi   # (-pi, pi]
    many = np.array([-7.0, -math.pi, -1.0, 0.0, math.pi, 4.0, 50.0])
    wrapped = wrap_angle(many)
    assert isinstance(wrapped, np.ndarray)
    assert wrapped == pytest.approx([wrap_angle(float(a)) for a in many], abs=1e-12)


def test_odometry_rejection_reasons():
    from types import SimpleNamespace as Ns

    from dg_common.validation import odometry_rejection

    def odom(frame="odom", x=1.0, qw=1.0, stamp=(10, 0)):
        return Ns(header=Ns(frame_id=frame, stamp=Ns(sec=stamp[0], nanosec=stamp[1])),
                  pose=Ns(pose=Ns(position=Ns(x=x, y=0.0, z=0.0),
                                  orientation=Ns(x=0.0, y=0.0, z=0.0, w=qw))),
                  twist=Ns(twist=Ns(linear=Ns(x=0.0, y=0.0, z=0.0),
                                    angular=Ns(x=0.0, y=0.0, z=0.0))))

    assert odometry_rejection(odom(), "odom", 10.1, 0.5) is None
    assert odometry_rejection(odom(frame="map"), "odom", 10.1, 0.5)[0] == "frame"
    assert odometry_rejection(odom(x=math.nan), "odom", 10.1, 0.5)[0] == "non_finite"
    assert odometry_rejection(odom(qw=0.5), "odom", 10.1, 0.5)[0] == "quaternion"
    reason, detail = odometry_rejection(odom(stamp=(8, 0)), "odom", 10.1, 0.5)
    assert reason == "stale" and "stale by 2.100 s" in detail
