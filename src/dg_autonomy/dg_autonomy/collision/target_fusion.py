"""Fusion of AIS reports and tracker (radar/camera) targets into one target list.

Each source keeps its latest report per id (MMSI for AIS, track id for the tracker). On
:meth:`TargetFusion.fused` every report is extrapolated at constant velocity to the requested
time, reports older than ``stale_timeout_s`` are dropped, and AIS and tracker targets closer
than ``association_gate_m`` (and with velocities within ``velocity_gate_mps``) are paired,
nearest first (global nearest neighbour, greedy). A pair becomes one ``FUSED`` target with the
AIS identity (MMSI) and inverse-variance weighted position and velocity; unpaired targets pass
through with their own source. Position uncertainty grows by ``sigma_growth_mps`` per second
of extrapolation.

AIS reports without a usable velocity (SOG/COG "not available") get one from the previous fix
of the same MMSI when the two are at least ``min_velocity_baseline_s`` apart; until then they
are treated as stationary with an inflated uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: ``dg_interfaces/Target`` source constants.
SOURCE_AIS, SOURCE_TRACKER, SOURCE_FUSED = 0, 1, 2


class FusionInputError(ValueError):
    """A report is invalid (non-finite values, negative speed or sigma)."""


@dataclass(frozen=True)
class TargetReport:
    """One target as reported by a source, at ``stamp_s``; ENU [m], yaw [rad], [m/s]."""

    id: str
    source: int
    x_m: float
    y_m: float
    course_rad: float
    speed_mps: float
    length_m: float
    position_sigma_m: float
    stamp_s: float
    velocity_valid: bool = True


@dataclass(frozen=True)
class FusionConfig:
    """Tuning of :class:`TargetFusion` (times [s], distances [m], speeds [m/s])."""

    stale_timeout_s: float = 30.0
    association_gate_m: float = 30.0
    velocity_gate_mps: float = 2.0
    sigma_growth_mps: float = 0.5
    min_velocity_baseline_s: float = 1.0

    def __post_init__(self) -> None:
        """Reject non-positive or non-finite values."""
        for name in ("stale_timeout_s", "association_gate_m", "velocity_gate_mps",
                     "min_velocity_baseline_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise FusionInputError(f"FusionConfig.{name} must be finite and > 0, got {v}")
        if not (math.isfinite(self.sigma_growth_mps) and self.sigma_growth_mps >= 0):
            raise FusionInputError("FusionConfig.sigma_growth_mps must be finite and >= 0")


def _check(r: TargetReport) -> None:
    vals = (r.x_m, r.y_m, r.course_rad, r.speed_mps, r.length_m, r.position_sigma_m, r.stamp_s)
    if not all(math.isfinite(v) for v in vals):
        raise FusionInputError(f"target {r.id!r}: non-finite value in {vals}")
    if r.speed_mps < 0 or r.length_m < 0 or r.position_sigma_m < 0:
        raise FusionInputError(f"target {r.id!r}: negative speed, length or sigma")
    if not r.id:
        raise FusionInputError("target without id")


class TargetFusion:
    """Latest AIS and tracker reports, fused on demand (see module docstring)."""

    def __init__(self, config: FusionConfig | None = None) -> None:
        """Create an empty fusion with ``config`` (defaults: :class:`FusionConfig`)."""
        self.config = config or FusionConfig()
        self._ais: dict[str, TargetReport] = {}
        self._tracks: dict[str, TargetReport] = {}

    def update_ais(self, report: TargetReport) -> TargetReport:
        """Store an AIS report (velocity estimated from the previous fix when invalid).

        Returns the stored report. Raises :class:`FusionInputError` on invalid values.
        """
        _check(report)
        prev = self._ais.get(report.id)
        if not report.velocity_valid:
            report = self._velocity_from_fixes(report, prev)
        if prev is not None and report.stamp_s < prev.stamp_s:
            return prev   # out of order: keep the newer fix
        self._ais[report.id] = report
        return report

    def update_tracks(self, reports: list[TargetReport]) -> None:
        """Store tracker reports (each replaces the previous one with its id).

        Raises :class:`FusionInputError` (nothing stored) if any report is invalid.
        """
        for r in reports:
            _check(r)
        for r in reports:
            self._tracks[r.id] = r

    def _velocity_from_fixes(self, r: TargetReport, prev: TargetReport | None) -> TargetReport:
        if prev is not None:
            dt = r.stamp_s - prev.stamp_s
            if self.config.min_velocity_baseline_s <= dt <= self.config.stale_timeout_s:
                vx, vy = (r.x_m - prev.x_m) / dt, (r.y_m - prev.y_m) / dt
                return TargetReport(r.id, r.source, r.x_m, r.y_m, math.atan2(vy, vx),
                                    math.hypot(vx, vy), r.length_m, r.position_sigma_m,
                                    r.stamp_s, True)
        return TargetReport(r.id, r.source, r.x_m, r.y_m, r.course_rad, 0.0, r.length_m,
                            r.position_sigma_m * 2.0, r.stamp_s, False)

    def prune(self, now_s: float) -> int:
        """Drop reports older than the stale timeout; return how many were dropped."""
        n = 0
        for store in (self._ais, self._tracks):
            for k in [k for k, r in store.items()
                      if now_s - r.stamp_s > self.config.stale_timeout_s]:
                del store[k]
                n += 1
        return n

    def _extrapolate(self, r: TargetReport, now_s: float) -> TargetReport:
        dt = max(0.0, now_s - r.stamp_s)
        return TargetReport(
            r.id, r.source, r.x_m + r.speed_mps * math.cos(r.course_rad) * dt,
            r.y_m + r.speed_mps * math.sin(r.course_rad) * dt, r.course_rad, r.speed_mps,
            r.length_m, math.hypot(r.position_sigma_m, self.config.sigma_growth_mps * dt),
            now_s, r.velocity_valid)

    def fused(self, now_s: float) -> list[TargetReport]:
        """All live targets extrapolated to ``now_s``, AIS/tracker pairs merged."""
        self.prune(now_s)
        ais = [self._extrapolate(r, now_s) for r in self._ais.values()]
        trk = [self._extrapolate(r, now_s) for r in self._tracks.values()]
        cfg = self.config
        pairs = []
        for i, a in enumerate(ais):
            avx, avy = _vel(a)
            for j, t in enumerate(trk):
                d = math.hypot(a.x_m - t.x_m, a.y_m - t.y_m)
                if d > cfg.association_gate_m:
                    continue
                tvx, tvy = _vel(t)
                if a.velocity_valid and math.hypot(avx - tvx, avy - tvy) > cfg.velocity_gate_mps:
                    continue
                pairs.append((d, i, j))
        pairs.sort()
        used_a: set[int] = set()
        used_t: set[int] = set()
        out = []
        for _, i, j in pairs:
            if i in used_a or j in used_t:
                continue
            used_a.add(i)
            used_t.add(j)
            out.append(_merge(ais[i], trk[j], now_s))
        out += [a for i, a in enumerate(ais) if i not in used_a]
        out += [t for j, t in enumerate(trk) if j not in used_t]
        return out


def _vel(r: TargetReport) -> tuple[float, float]:
    return r.speed_mps * math.cos(r.course_rad), r.speed_mps * math.sin(r.course_rad)


def _merge(a: TargetReport, t: TargetReport, now_s: float) -> TargetReport:
    """Inverse-variance weighted merge; the AIS identity and length win."""
    wa = 1.0 / max(a.position_sigma_m, 0.1) ** 2
    wt = 1.0 / max(t.position_sigma_m, 0.1) ** 2
    x = (wa * a.x_m + wt * t.x_m) / (wa + wt)
    y = (wa * a.y_m + wt * t.y_m) / (wa + wt)
    (avx, avy), (tvx, tvy) = _vel(a), _vel(t)
    if a.velocity_valid:
        vx, vy = (wa * avx + wt * tvx) / (wa + wt), (wa * avy + wt * tvy) / (wa + wt)
    else:
        vx, vy = tvx, tvy
    return TargetReport(a.id, SOURCE_FUSED, x, y, math.atan2(vy, vx), math.hypot(vx, vy),
                        a.length_m or t.length_m, 1.0 / math.sqrt(wa + wt), now_s, True)
