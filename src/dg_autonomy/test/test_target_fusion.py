"""Tests of AIS/tracker target fusion (dg_autonomy.collision.target_fusion)."""

import math

import pytest

from dg_autonomy.collision.target_fusion import (
    SOURCE_AIS,
    SOURCE_FUSED,
    SOURCE_TRACKER,
    FusionConfig,
    FusionInputError,
    TargetFusion,
    TargetReport,
)


def ais(x, y, course=0.0, speed=2.0, stamp=0.0, valid=True, tid="211000001", sigma=5.0):
    return TargetReport(tid, SOURCE_AIS, x, y, course, speed, 12.0, sigma, stamp, valid)


def trk(x, y, course=0.0, speed=2.0, stamp=0.0, tid="T1", sigma=5.0):
    return TargetReport(tid, SOURCE_TRACKER, x, y, course, speed, 0.0, sigma, stamp)


def test_extrapolates_to_now_and_grows_sigma():
    f = TargetFusion(FusionConfig(sigma_growth_mps=0.5))
    f.update_ais(ais(100.0, 0.0, course=math.pi / 2, speed=3.0, stamp=10.0))
    (t,) = f.fused(14.0)
    assert (t.x_m, t.y_m) == (pytest.approx(100.0), pytest.approx(12.0))
    assert t.position_sigma_m == pytest.approx(math.hypot(5.0, 2.0))
    assert t.stamp_s == 14.0 and t.source == SOURCE_AIS


def test_ais_and_tracker_within_gate_fuse_with_ais_identity():
    f = TargetFusion()
    f.update_ais(ais(100.0, 0.0, stamp=0.0, sigma=5.0))
    f.update_tracks([trk(106.0, 0.0, stamp=0.0, sigma=5.0), trk(400.0, 0.0, tid="T2")])
    out = {t.id: t for t in f.fused(0.0)}
    assert set(out) == {"211000001", "T2"}
    fused = out["211000001"]
    assert fused.source == SOURCE_FUSED and fused.x_m == pytest.approx(103.0)
    assert fused.length_m == 12.0 and fused.position_sigma_m < 5.0
    assert out["T2"].source == SOURCE_TRACKER


def test_velocity_gate_keeps_crossing_vessels_apart():
    f = TargetFusion(FusionConfig(velocity_gate_mps=1.0))
    f.update_ais(ais(100.0, 0.0, course=0.0, speed=3.0))
    f.update_tracks([trk(105.0, 0.0, course=math.pi, speed=3.0)])
    assert {t.source for t in f.fused(0.0)} == {SOURCE_AIS, SOURCE_TRACKER}


def test_stale_reports_are_dropped():
    f = TargetFusion(FusionConfig(stale_timeout_s=10.0))
    f.update_ais(ais(0.0, 0.0, stamp=0.0))
    f.update_tracks([trk(50.0, 0.0, stamp=5.0)])
    assert len(f.fused(9.0)) == 2
    assert [t.id for t in f.fused(12.0)] == ["T1"]
    assert f.fused(20.0) == []


def test_missing_ais_velocity_is_estimated_from_fixes():
    f = TargetFusion()
    first = f.update_ais(ais(0.0, 0.0, speed=0.0, stamp=0.0, valid=False))
    assert not first.velocity_valid and first.position_sigma_m == 10.0
    second = f.update_ais(ais(0.0, 20.0, speed=0.0, stamp=10.0, valid=False))
    assert second.velocity_valid
    assert second.speed_mps == pytest.approx(2.0)
    assert second.course_rad == pytest.approx(math.pi / 2)


def test_out_of_order_ais_keeps_newer_fix():
    f = TargetFusion()
    f.update_ais(ais(10.0, 0.0, stamp=5.0))
    f.update_ais(ais(0.0, 0.0, stamp=1.0))
    (t,) = f.fused(5.0)
    assert t.x_m == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [
    ais(math.nan, 0.0), ais(0.0, 0.0, speed=-1.0), ais(0.0, 0.0, tid=""),
    ais(0.0, 0.0, stamp=math.inf),
])
def test_invalid_reports_raise(bad):
    with pytest.raises(FusionInputError):
        TargetFusion().update_ais(bad)


def test_invalid_tracker_array_stores_nothing():
    f = TargetFusion()
    with pytest.raises(FusionInputError):
        f.update_tracks([trk(0.0, 0.0), trk(math.inf, 0.0, tid="T2")])
    assert f.fused(0.0) == []


def test_config_validation():
    with pytest.raises(FusionInputError, match="association_gate_m"):
        FusionConfig(association_gate_m=0.0)
