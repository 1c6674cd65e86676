"""Node ``target_tracker``: AIS sentences + tracker targets -> fused ``targets``.

Topics (relative names, remap as needed):

* ``ais/nmea`` (std_msgs/String, sub, best effort depth 50): one NMEA 0183 AIVDM sentence per
  message. Decoded with :class:`dg_autonomy.collision.ais.AisDecoder` (multi-sentence
  messages, checksums, "not available" values, ranges); a bad sentence is rejected with a
  reason category (``malformed``, ``checksum``, ``incomplete``, ``invalid_mmsi``,
  ``position_unavailable``, ``out_of_range``, ``too_far``), a throttled warning and a count on
  ``/diagnostics``; the node never stops on bad input.
* ``tracker/targets`` (dg_interfaces/TargetArray, sub, best effort depth 10): radar/camera
  tracks in ``frame_id``; a whole array is rejected on the wrong frame, an unset or stale
  stamp, more than ``max_targets`` entries or a non-finite / negative value.
* ``targets`` (dg_interfaces/TargetArray, pub, reliable depth 10) at ``publish_rate_hz``:
  every live target (reports older than ``stale_timeout_s`` dropped) extrapolated at
  constant velocity to the publish time, AIS and tracker targets within
  ``association_gate_m`` merged into one ``SOURCE_FUSED`` target carrying the MMSI
  (:mod:`dg_autonomy.collision.target_fusion`); frame ``frame_id`` (ENU ``map`` at the datum).

Parameters: the datum of the map frame (``datum_latitude_deg``, ``datum_longitude_deg``,
``datum_altitude_m``; the same names and defaults as ``usv_sim``), the fusion gates and
timeouts below. All read-only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header, String

from dg_autonomy.collision.ais import AisDecoder, AisTarget, FeedStatus
from dg_autonomy.collision.target_fusion import (
    SOURCE_AIS,
    SOURCE_TRACKER,
    FusionConfig,
    FusionInputError,
    TargetFusion,
    TargetReport,
)
from dg_common.diagnostics import OK
from dg_common.geodesy import Datum, GeodesyError
from dg_common.main import run_node
from dg_common.node import DgNode
from dg_common.param_schema import ParameterError, core_default
from dg_common.param_schema import read_only_param as _p
from dg_common.sim_time import s_to_stamp, stamp_to_s
from dg_common.validation import (
    InvalidInput,
    require_finite,
    require_frame,
    require_fresh,
    require_size,
)
from dg_interfaces.msg import Target, TargetArray

_F = "float"


SCHEMA = (
    _p("datum_latitude_deg", _F, "latitude of the map origin [deg]", 47.3977, -89.999, 89.999),
    _p("datum_longitude_deg", _F, "longitude of the map origin [deg]", 8.5456, -180.0, 180.0),
    _p("datum_altitude_m", _F, "WGS-84 altitude of the map origin [m]", 488.0, -1.0e4, 1.0e5),
    _p("frame_id", "str", "frame of the tracker input and of targets (ENU at the datum)", "map"),
    _p("publish_rate_hz", _F, "rate of the fused targets [Hz]", 2.0, 0.1, 50.0),
    _p("stale_timeout_s", _F, "drop a target not reported for this long [s]",
       core_default(FusionConfig, "stale_timeout_s"), 0.5, 3600.0),
    _p("association_gate_m", _F, "AIS and tracker targets closer than this are one [m]",
       core_default(FusionConfig, "association_gate_m"), 0.1, 1000.0),
    _p("velocity_gate_mps", _F, "... and with velocities closer than this [m/s]",
       core_default(FusionConfig, "velocity_gate_mps"), 0.01, 100.0),
    _p("ais_max_range_m", _F, "reject AIS positions farther from the datum [m]",
       core_default(AisDecoder, "max_range_m"), 1.0, 1.0e6),
    _p("ais_fragment_timeout_s", _F, "drop unfinished multi-sentence AIS messages after [s]",
       core_default(AisDecoder, "fragment_timeout_s"), 0.01, 60.0),
    _p("ais_use_utc_second", "bool",
       "estimate the fix time from the AIS UTC second (the clock must be UTC-aligned)",
       core_default(AisDecoder, "use_utc_second")),
    _p("tracker_max_age_s", _F, "reject tracker arrays stamped older than this [s]", 5.0, 0.01,
       3600.0),
    _p("max_targets", "int", "reject tracker arrays with more targets than this", 1000, 1,
       100000),
)


class TargetTrackerNode(DgNode):
    """Decodes AIS, validates tracker targets and publishes the fused target list."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the node; raises ParameterError on an invalid datum or gates."""
        super().__init__("target_tracker", SCHEMA, **kwargs)
        p = self.params
        try:
            datum = Datum(p.datum_latitude_deg, p.datum_longitude_deg, p.datum_altitude_m)
            self.fusion = TargetFusion(FusionConfig(
                stale_timeout_s=p.stale_timeout_s, association_gate_m=p.association_gate_m,
                velocity_gate_mps=p.velocity_gate_mps))
            self.decoder = AisDecoder(datum, max_range_m=p.ais_max_range_m,
                                      fragment_timeout_s=p.ais_fragment_timeout_s,
                                      use_utc_second=p.ais_use_utc_second)
        except (GeodesyError, FusionInputError, ValueError) as exc:
            raise ParameterError(str(exc)) from None
        # AIS is silent when no vessel is near: never "stale" (a warning would be noise).
        self.ais_monitor = self.diagnostics.monitor("ais/nmea", math.inf)
        self.tracker_monitor = self.diagnostics.monitor("tracker/targets", math.inf)
        self.ais_ok = 0
        self.ais_ignored = 0
        sub_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                             reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(String, "ais/nmea", self.guarded(self._on_ais), sub_qos)
        self.create_subscription(TargetArray, "tracker/targets", self.guarded(self._on_tracks),
                                 sub_qos)
        self._pub = self.create_publisher(TargetArray, "targets", QoSProfile(depth=10))
        self.create_timer(1.0 / p.publish_rate_hz, self.guarded(self._publish))
        self.diagnostics.set_status(OK, "running")

    # --- inputs -------------------------------------------------------------------------
    def _on_ais(self, msg: String) -> None:
        now = self.now_s()
        for r in self.decoder.feed(msg.data, now):
            if r.status is FeedStatus.REJECTED:
                self.reject(self.ais_monitor, r.reason, f"{r.reason}: {r.detail}")
                continue
            if r.status is FeedStatus.IGNORED:
                self.ais_ignored += 1
            elif r.status is FeedStatus.TARGET and r.target is not None:
                try:
                    self.fusion.update_ais(_ais_report(r.target))
                except FusionInputError as exc:
                    self.reject(self.ais_monitor, "out_of_range", str(exc))
                    continue
            self.ais_ok += 1
            self.ais_monitor.tick(now)

    def _on_tracks(self, msg: TargetArray) -> None:
        now = self.now_s()
        p = self.params
        stamp = stamp_to_s(msg.header.stamp)
        checks: tuple[tuple[str, Callable[[], None]], ...] = (
            ("frame", lambda: require_frame("tracker/targets", msg.header.frame_id,
                                            p.frame_id)),
            ("stale", lambda: require_fresh("tracker/targets", stamp, now,
                                            p.tracker_max_age_s)),
            ("oversize", lambda: require_size("tracker/targets", len(msg.targets),
                                              p.max_targets, min_n=0)),
        )
        for reason, check in checks:
            try:
                check()
            except InvalidInput as exc:
                self.reject(self.tracker_monitor, reason, str(exc))
                return
        reports = []
        try:
            for t in msg.targets:
                require_finite(f"tracker/targets id {t.id!r}", (
                    t.x_m, t.y_m, t.course_rad, t.speed_mps, t.length_m, t.position_sigma_m))
                t_stamp = stamp_to_s(t.header.stamp) or stamp
                reports.append(TargetReport(
                    f"{t.id}", SOURCE_TRACKER, t.x_m, t.y_m, t.course_rad, t.speed_mps,
                    t.length_m, t.position_sigma_m, t_stamp))
            self.fusion.update_tracks(reports)
        except (InvalidInput, FusionInputError) as exc:
            self.reject(self.tracker_monitor, "non_finite" if isinstance(exc, InvalidInput)
                        else "invalid", str(exc))
            return
        self.tracker_monitor.tick(now)

    # --- output -------------------------------------------------------------------------
    def _publish(self) -> None:
        now = self.now_s()
        header = Header(stamp=s_to_stamp(max(now, 0.0)), frame_id=self.params.frame_id)
        out = TargetArray(header=header)
        for r in self.fusion.fused(now):
            out.targets.append(Target(
                header=header, id=r.id, source=r.source, x_m=float(r.x_m), y_m=float(r.y_m),
                course_rad=float(r.course_rad), speed_mps=float(r.speed_mps),
                length_m=float(r.length_m), position_sigma_m=float(r.position_sigma_m)))
        self._pub.publish(out)
        d = self.diagnostics
        d.set_value("targets", len(out.targets))
        d.set_value("fused", sum(t.source == Target.SOURCE_FUSED for t in out.targets))
        d.set_value("ais sentences ok", self.ais_ok)
        d.set_value("ais sentences ignored", self.ais_ignored)


def _ais_report(t: AisTarget) -> TargetReport:
    return TargetReport(t.id, SOURCE_AIS, t.x_m, t.y_m, t.course_rad, t.speed_mps, t.length_m,
                        t.position_sigma_m, t.stamp_s, t.velocity_valid)


def main(args: list[str] | None = None) -> None:
    """Run the ``target_tracker`` node."""
    raise SystemExit(run_node(TargetTrackerNode, args))
