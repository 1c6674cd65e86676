"""Fail-safe monitor (pure): timeouts, actions, priorities, predictive geofence."""

import math

import pytest
from shapely.geometry import box

from dg_autonomy.failsafe.monitor import (
    FailsafeAction,
    FailsafeConfig,
    FailsafeError,
    FailsafeMonitor,
    Fault,
    FaultConfig,
    stopping_distance_m,
)

PERIOD_S = 0.05  # the node's check period at 20 Hz


def run_until_fault(mon, fault, t0, t_end, feed=None):
    """Check every PERIOD_S from t0; return the first time ``fault`` is active (or None)."""
    t = t0
    while t <= t_end:
        if feed is not None:
            feed(t)
        st = mon.check(t)
        if fault in st.active:
            return t, st
        t = round(t + PERIOD_S, 9)
    return None, None


def test_defaults_follow_ardupilot():
    c = FailsafeConfig()
    assert c.gnss.timeout_s == 1.5 and c.gnss.action is FailsafeAction.HOLD      # FS_TIMEOUT
    assert c.operator_link.timeout_s == 5.0                                     # FS_GCS_TIMEOUT
    assert c.operator_link.action is FailsafeAction.HOLD                         # FS_ACTION=2
    assert c.battery.timeout_s == 10.0                                          # BATT_LOW_TIMER
    assert c.battery.action is FailsafeAction.RETURN_HOME
    assert c.battery_low_soc == 0.2


def test_operator_link_armed_by_first_heartbeat_and_detected_within_timeout():
    mon = FailsafeMonitor(FailsafeConfig())
    # No heartbeat ever: the link fail-safe stays inactive (ArduPilot GCS fail-safe).
    for i in range(200):
        mon.feed_gnss(i * PERIOD_S)
        assert Fault.OPERATOR_LINK not in mon.check(i * PERIOD_S).active
    last = 10.0
    for k in range(11):
        mon.feed_operator(float(k))
    t, st = run_until_fault(mon, Fault.OPERATOR_LINK, last, 30.0, feed=mon.feed_gnss)
    assert 5.0 < t - last <= 5.0 + 0.1
    assert st.action is FailsafeAction.HOLD and st.cause is Fault.OPERATOR_LINK
    assert st.new == (Fault.OPERATOR_LINK,) and st.detected_at[Fault.OPERATOR_LINK] == t
    assert "operator link lost" in st.describe()
    mon.feed_operator(t + 1.0)
    st = mon.check(t + 1.0)
    assert st.ok and st.cleared == (Fault.OPERATOR_LINK,) and st.action is FailsafeAction.NONE


def test_gnss_loss_counts_from_start_and_invalid_fixes_do_not_count():
    mon = FailsafeMonitor(FailsafeConfig())
    t, st = run_until_fault(mon, Fault.GNSS, 0.0, 5.0)
    assert 1.5 < t <= 1.6  # a receiver that never delivers a fix
    mon.feed_gnss(2.0)
    assert mon.check(2.0).ok
    for i in range(60):  # fixes keep coming but are invalid (no fix / NaN)
        mon.feed_gnss(2.0 + i * 0.1, valid=False)
    st = mon.check(3.6)
    assert st.active == (Fault.GNSS,) and st.action is FailsafeAction.HOLD


def test_battery_must_stay_low_for_the_timer_then_latches():
    mon = FailsafeMonitor(FailsafeConfig())
    mon.feed_gnss(0.0)
    # Noise around the threshold restarts the timer (BATT_LOW_TIMER semantics).
    for i in range(100):
        t = i * 0.1
        mon.feed_gnss(t)
        mon.battery(t, 0.21 if i % 20 == 19 else 0.19)
        assert Fault.BATTERY not in mon.check(t).active
    t0 = 10.0
    t = t0
    while True:
        mon.feed_gnss(t)
        mon.battery(t, 0.15)
        st = mon.check(t)
        if Fault.BATTERY in st.active:
            break
        t = round(t + PERIOD_S, 9)
    assert 10.0 <= t - t0 <= 10.0 + 0.1
    assert st.action is FailsafeAction.RETURN_HOME
    mon.battery(t + 1, 0.9)   # a recovering reading does not clear it
    mon.battery(t + 2, math.nan)  # unknown is ignored
    mon.feed_gnss(t + 2)
    assert Fault.BATTERY in mon.check(t + 2).active


def geofence_monitor(**kw):
    cfg = FailsafeConfig(fence=box(0.0, 0.0, 100.0, 100.0), fence_margin_m=2.0,
                         brake_decel_mps2=1.0, reaction_time_s=0.5, **kw)
    mon = FailsafeMonitor(cfg)
    mon.feed_gnss(0.0)
    return mon


def test_stopping_distance():
    assert stopping_distance_m(2.0, 1.0, 0.5) == pytest.approx(1.0 + 2.0)
    assert stopping_distance_m(-3.0, 1.5, 0.0) == pytest.approx(3.0)


@pytest.mark.parametrize("x, y, vx, vy, breach", [
    (50.0, 50.0, 2.0, 0.0, False),    # open water
    (96.0, 50.0, 2.0, 0.0, True),     # stop at 99 beyond the inner line at 98 (margin 2)
    (96.0, 50.0, -2.0, 0.0, False),   # same place, moving away
    (96.0, 50.0, 0.0, 2.0, False),    # moving along the fence
    (99.0, 50.0, 0.0, 0.0, True),     # stopped inside the margin band
    (101.0, 50.0, -1.0, 0.0, True),   # outside: an actual breach
])
def test_predictive_geofence(x, y, vx, vy, breach):
    mon = geofence_monitor()
    mon.position(0.0, x, y, vx, vy)
    st = mon.check(0.0)
    assert (Fault.GEOFENCE in st.active) is breach
    assert mon.fence_breach_predicted() is breach
    if breach:
        assert st.action is FailsafeAction.RETURN_HOME
    assert mon.is_outside_fence() is (x > 100.0)


def test_geofence_timeout_requires_persistence_and_clears():
    mon = geofence_monitor(geofence=FaultConfig(0.3, FailsafeAction.LOITER))
    mon.position(0.0, 96.0, 50.0, 2.0, 0.0)
    assert mon.check(0.0).ok
    assert mon.check(0.2).ok
    st = mon.check(0.3)
    assert st.active == (Fault.GEOFENCE,) and st.action is FailsafeAction.LOITER
    mon.position(0.4, 96.0, 50.0, -2.0, 0.0)
    assert mon.check(0.4).cleared == (Fault.GEOFENCE,)


def test_non_finite_position_is_ignored():
    mon = geofence_monitor()
    mon.position(0.0, 50.0, 50.0)
    mon.position(0.1, math.nan, 50.0)
    assert mon.check(0.1).ok


def test_priority_gnss_hold_beats_battery_return_and_none_is_report_only():
    cfg = FailsafeConfig(operator_link=FaultConfig(5.0, FailsafeAction.NONE))
    mon = FailsafeMonitor(cfg)
    mon.feed_operator(0.0)
    mon.battery(0.0, 0.05)
    st = mon.check(20.0)  # gnss lost, battery low for 20 s, link lost for 20 s
    assert st.active == (Fault.GNSS, Fault.BATTERY, Fault.OPERATOR_LINK)
    assert st.action is FailsafeAction.HOLD and st.cause is Fault.GNSS
    mon.feed_gnss(20.1)
    st = mon.check(20.1)
    assert st.action is FailsafeAction.RETURN_HOME and st.cause is Fault.BATTERY
    # Only the report-only fault left: no action.
    mon2 = FailsafeMonitor(cfg)
    mon2.feed_operator(0.0)
    mon2.feed_gnss(9.9)
    st = mon2.check(10.0)
    assert st.active == (Fault.OPERATOR_LINK,) and st.action is FailsafeAction.NONE


def test_disabled_fault_is_never_reported():
    mon = FailsafeMonitor(FailsafeConfig(gnss=FaultConfig(1.5, "hold", enabled=False)))
    assert mon.check(100.0).ok


@pytest.mark.parametrize("make, msg", [
    (lambda: FaultConfig(-1.0, "hold"), "timeout"),
    (lambda: FaultConfig(math.nan, "hold"), "timeout"),
    (lambda: FaultConfig(1.0, "land"), "not one of"),
    (lambda: FailsafeConfig(battery_low_soc=1.5), "battery_low_soc"),
    (lambda: FailsafeConfig(brake_decel_mps2=0.0), "brake_decel"),
])
def test_invalid_config_is_rejected(make, msg):
    with pytest.raises(FailsafeError, match=msg):
        make()


def test_action_strings_are_accepted():
    assert FaultConfig(1.0, "return_home").action is FailsafeAction.RETURN_HOME
