"""AIS (AIVDM) decoding and validation into local ENU targets, with pyais.

:class:`AisDecoder` takes one NMEA 0183 sentence at a time (as on the ``/ais/nmea`` topic),
reassembles multi-sentence messages, checks checksums and field ranges, keeps the static data
(ship length) per MMSI and returns, per sentence, a :class:`FeedResult`: a target, a static
update, "pending" (waiting for more fragments), "ignored" (a valid message we do not use) or
a rejection with a short reason category and a readable detail. It never raises on bad input.
:func:`decode_aivdm` decodes a batch of sentences.

Field facts (ITU-R M.1371-5, as summarised in the gpsd "AIVDM/AIVDO protocol decoding" notes;
checked against pyais 3 decoding):

* types 1/2/3 (class A), 18/19 (class B) position reports: SOG in 0.1 kn, 102.3 = not
  available, 102.2 = 102.2 kn or more; COG in 0.1 deg true, 360 = not available, > 360
  invalid; true heading in deg, 511 = not available; longitude 181 / latitude 91 = not
  available; "time stamp" = UTC second of the fix, 60 = not available, 61 manual input,
  62 dead reckoning, 63 positioning system inoperative; position accuracy flag 1 = high
  (<= 10 m), 0 = low (> 10 m).
* type 27 (long-range): position in 1/10 min, SOG in whole knots (63 = not available), COG in
  whole degrees (511 = not available), no time stamp.
* type 5, 19 and 24 part B carry the dimensions: length = to_bow + to_stern (0 = unknown).

Rejection reasons (``FeedResult.reason``): ``malformed``, ``checksum``, ``incomplete``
(multi-sentence message with a missing or out-of-order fragment), ``invalid_mmsi``,
``position_unavailable``, ``out_of_range``, ``too_far`` (beyond ``max_range_m`` of the datum:
the local tangent plane is meant for a reservoir, not an ocean). Ignored reasons:
``own_vessel`` (AIVDO, our own transponder), ``unsupported_type``.

Velocity: course over ground is converted to ENU yaw (``pi/2 - radians(cog)``). When COG is
not available the true heading stands in for it; when neither (or SOG) is available the
target keeps its position with ``velocity_valid = False`` and speed 0, so that a tracker can
estimate the velocity from successive fixes instead of trusting a made-up one.

Fix time: a position report only carries the UTC second of its fix. With ``use_utc_second``
(default) the fix time is taken as the latest time not after ``now_s`` with that UTC second
(plus half a second, the truncation), i.e. ``now_s`` must be UTC-aligned (ROS wall time is;
a simulator must encode ``second = int(t) % 60`` of its own clock). An apparent age above
``max_utc_age_s`` means the clocks disagree: the receive time is used instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pyais.exceptions import AISBaseException
from pyais.messages import NMEAMessage

from dg_common.geodesy import Datum, GeodesyError, geodetic_to_enu
from dg_common.geometry import wrap_angle

#: Knots to metres per second (1 kn = 1852 m / 3600 s, exact).
KNOT_MPS = 1852.0 / 3600.0

#: Message types carrying a position, and those carrying only static data.
POSITION_TYPES = (1, 2, 3, 18, 19, 27)
STATIC_TYPES = (5, 24)

#: 1-sigma position noise [m] by accuracy flag / report kind (ITU-R M.1371: high accuracy is
#: better than 10 m; low worse than 10 m; type 27 is rounded to 1/10 minute, ~185 m).
SIGMA_HIGH_ACCURACY_M = 5.0
SIGMA_LOW_ACCURACY_M = 15.0
SIGMA_DEAD_RECKONING_M = 50.0
SIGMA_LONG_RANGE_M = 100.0


class FeedStatus(Enum):
    """What one sentence produced."""

    TARGET = "target"        # a position report decoded into an AisTarget
    STATIC = "static"        # static/voyage data stored (ship length)
    PENDING = "pending"      # a fragment of a multi-sentence message, waiting for the rest
    IGNORED = "ignored"      # valid but not used (own vessel, other message types)
    REJECTED = "rejected"    # invalid: see reason and detail


@dataclass(frozen=True)
class AisTarget:
    """A vessel from one AIS position report, in the local ENU frame of the datum.

    ``id`` is the MMSI as a string (the ``Target.id`` of ``dg_interfaces``). ``course_rad``
    is ENU yaw of the course over ground; ``heading_rad`` None when not reported.
    ``velocity_valid`` False means SOG/COG were not available (speed 0 is a placeholder).
    ``stamp_s`` is the estimated time of the fix on the caller's clock.
    """

    id: str
    mmsi: int
    msg_type: int
    x_m: float
    y_m: float
    course_rad: float
    speed_mps: float
    heading_rad: float | None
    length_m: float
    stamp_s: float
    position_sigma_m: float
    velocity_valid: bool
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class FeedResult:
    """Outcome of one sentence (or of a fragment group dropped as incomplete)."""

    status: FeedStatus
    target: AisTarget | None = None
    reason: str = ""
    detail: str = ""
    mmsi: int | None = None


class AisRejected(ValueError):
    """Raised by :func:`decode_aivdm` in strict mode; ``reason`` is the category."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the reason category and the readable detail."""
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def cog_to_enu_rad(cog_deg: float) -> float:
    """ENU yaw [rad] (0 = east, CCW, in (-pi, pi]) of a true course/heading [deg, CW from N]."""
    return wrap_angle(math.radians(90.0 - cog_deg))


def enu_to_cog_deg(yaw_rad: float) -> float:
    """True course [deg, 0..360) of an ENU yaw [rad] (inverse of :func:`cog_to_enu_rad`)."""
    return (90.0 - math.degrees(yaw_rad)) % 360.0


def stamp_from_utc_second(now_s: float, second: int) -> float:
    """Latest time <= ``now_s`` whose UTC second is ``second``, plus 0.5 s (truncation)."""
    age = (now_s - second) % 60.0
    return min(now_s, now_s - age + 0.5)


class AisDecoder:
    """Stateful AIVDM decoder: fragments, static data per MMSI, validation (see module)."""

    def __init__(self, datum: Datum, *, max_range_m: float = 20000.0,
                 fragment_timeout_s: float = 2.0, use_utc_second: bool = True,
                 max_utc_age_s: float = 20.0, accept_own_vessel: bool = False,
                 max_pending_groups: int = 64) -> None:
        """Decode into the ENU frame of ``datum``.

        Args:
            datum: origin of the local frame (``dg_common.geodesy.Datum``).
            max_range_m: reject positions farther than this from the datum.
            fragment_timeout_s: drop an unfinished multi-sentence message after this.
            use_utc_second: estimate the fix time from the UTC second (see module doc).
            max_utc_age_s: larger apparent ages fall back to the receive time.
            accept_own_vessel: decode AIVDO (own ship) reports as targets too.
            max_pending_groups: bound on simultaneously pending fragment groups.

        """
        if not (math.isfinite(max_range_m) and max_range_m > 0):
            raise ValueError(f"max_range_m must be finite and > 0, got {max_range_m}")
        if not (math.isfinite(fragment_timeout_s) and fragment_timeout_s > 0):
            raise ValueError(f"fragment_timeout_s must be > 0, got {fragment_timeout_s}")
        self.datum = datum
        self.max_range_m = max_range_m
        self.fragment_timeout_s = fragment_timeout_s
        self.use_utc_second = use_utc_second
        self.max_utc_age_s = max_utc_age_s
        self.accept_own_vessel = accept_own_vessel
        self.max_pending_groups = max_pending_groups
        #: Ship length [m] per MMSI from static reports.
        self.lengths: dict[int, float] = {}
        # (frag_cnt, seq_id, channel, talker) -> (first receive time, fragments so far)
        self._pending: dict[tuple[Any, ...], tuple[float, list[NMEAMessage]]] = {}

    def feed(self, sentence: str | bytes, now_s: float) -> list[FeedResult]:
        """Decode one sentence received at ``now_s`` [s].

        Returns one result for the sentence, preceded by a ``REJECTED``/``incomplete``
        result for each unfinished multi-sentence message this sentence (or its time)
        proves broken. Never raises on bad input.
        """
        out = self._expire(now_s)
        try:
            out.append(self._feed(sentence, now_s, out))
        except _Invalid as exc:
            out.append(FeedResult(FeedStatus.REJECTED, reason=exc.reason, detail=exc.detail))
        return out

    # --- internals ----------------------------------------------------------------------
    def _expire(self, now_s: float) -> list[FeedResult]:
        out = []
        for key, (t0, frags) in list(self._pending.items()):
            if now_s - t0 > self.fragment_timeout_s or now_s < t0:
                del self._pending[key]
                out.append(_incomplete(
                    f"{len(frags)} of {key[0]} fragments after {self.fragment_timeout_s} s"))
        return out

    def _feed(self, sentence: str | bytes, now_s: float, out: list[FeedResult]) -> FeedResult:
        raw = _to_bytes(sentence)
        try:
            msg = NMEAMessage(raw)
        except AISBaseException as exc:
            raise _Invalid("malformed",
                           f"not an AIS sentence ({_why(exc)}): {_show(raw)}") from None
        except Exception as exc:  # noqa: BLE001 - pyais may raise plain errors on garbage
            raise _Invalid("malformed", f"unparsable ({exc!r}): {_show(raw)}") from None
        if not msg.is_valid:
            raise _Invalid("checksum", f"checksum missing or wrong: {_show(raw)}")
        kind = str(getattr(msg.type, "value", msg.type))
        if kind not in ("VDM", "VDO"):
            raise _Invalid("malformed", f"sentence type {kind!r} is not VDM/VDO: {_show(raw)}")
        if msg.frag_cnt > 1:
            key = (msg.frag_cnt, msg.seq_id, msg.channel, kind)
            entry = self._pending.get(key)
            if msg.frag_num == 1:
                if entry is not None:
                    out.append(_incomplete(
                        f"new message started after {len(entry[1])} of {key[0]} fragments"))
                if len(self._pending) >= self.max_pending_groups:
                    oldest = min(self._pending, key=lambda k: self._pending[k][0])
                    del self._pending[oldest]
                    out.append(_incomplete("too many unfinished multi-sentence messages"))
                self._pending[key] = (now_s, [msg])
                return FeedResult(FeedStatus.PENDING)
            if entry is None or entry[1][-1].frag_num != msg.frag_num - 1:
                if entry is not None:
                    del self._pending[key]
                raise _Invalid("incomplete", f"fragment {msg.frag_num} of {msg.frag_cnt} "
                               f"without its predecessor: {_show(raw)}")
            entry[1].append(msg)
            if msg.frag_num < msg.frag_cnt:
                return FeedResult(FeedStatus.PENDING)
            del self._pending[key]
            try:
                msg = NMEAMessage.assemble_from_iterable(entry[1])
            except Exception as exc:  # noqa: BLE001
                raise _Invalid("malformed", f"cannot assemble fragments ({exc!r})") from None
        if kind == "VDO" and not self.accept_own_vessel:
            return FeedResult(FeedStatus.IGNORED, reason="own_vessel",
                              detail="AIVDO: own transponder")
        try:
            decoded = msg.decode()
        except AISBaseException as exc:
            raise _Invalid("malformed",
                           f"payload not decodable ({_why(exc)}): {_show(raw)}") from None
        except Exception as exc:  # noqa: BLE001
            raise _Invalid("malformed", f"payload not decodable ({exc!r}): {_show(raw)}") \
                from None
        return self._interpret(decoded, now_s, raw)

    def _interpret(self, d: Any, now_s: float, raw: bytes) -> FeedResult:
        mtype = int(d.msg_type)
        mmsi = getattr(d, "mmsi", None)
        if not isinstance(mmsi, int) or not 0 < mmsi <= 999_999_999:
            raise _Invalid("invalid_mmsi", f"MMSI {mmsi!r} (type {mtype})")
        if mtype in STATIC_TYPES or mtype == 19:
            bow, stern = getattr(d, "to_bow", None), getattr(d, "to_stern", None)
            if isinstance(bow, int) and isinstance(stern, int) and bow + stern > 0:
                self.lengths[mmsi] = float(bow + stern)
            if mtype in STATIC_TYPES:
                return FeedResult(FeedStatus.STATIC, mmsi=mmsi)
        if mtype not in POSITION_TYPES:
            return FeedResult(FeedStatus.IGNORED, reason="unsupported_type",
                              detail=f"message type {mtype}", mmsi=mmsi)
        return FeedResult(FeedStatus.TARGET, target=self._position(d, mtype, mmsi, now_s, raw),
                          mmsi=mmsi)

    def _position(self, d: Any, mtype: int, mmsi: int, now_s: float, raw: bytes) -> AisTarget:
        lat, lon = d.lat, d.lon
        speed_kn, cog = d.speed, d.course
        heading = getattr(d, "heading", None)
        second = getattr(d, "second", None)
        for name, v in (("lat", lat), ("lon", lon), ("speed", speed_kn), ("course", cog)):
            if not isinstance(v, (int, float)):
                raise _Invalid("malformed", f"{name} missing (truncated payload?): {_show(raw)}")
            if not math.isfinite(v):
                raise _Invalid("out_of_range", f"{name} is not finite ({v})")
        if lat == 91.0 or lon == 181.0:
            raise _Invalid("position_unavailable",
                           f"MMSI {mmsi}: lat {lat} / lon {lon} means 'not available'")
        if second == 63:
            raise _Invalid("position_unavailable",
                           f"MMSI {mmsi}: positioning system inoperative (time stamp 63)")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise _Invalid("out_of_range", f"MMSI {mmsi}: lat {lat} / lon {lon} out of range")
        long_range = mtype == 27
        sog_na = speed_kn >= (63.0 if long_range else 102.3)
        cog_na = cog == (511.0 if long_range else 360.0)
        if not cog_na and not 0.0 <= cog < 360.0:
            raise _Invalid("out_of_range", f"MMSI {mmsi}: course {cog} deg is not a course")
        if speed_kn < 0:
            raise _Invalid("out_of_range", f"MMSI {mmsi}: negative speed {speed_kn} kn")
        hdg_ok = isinstance(heading, int) and 0 <= heading < 360
        heading_rad = cog_to_enu_rad(float(heading)) if hdg_ok else None
        try:
            e, n, _ = geodetic_to_enu(self.datum, float(lat), float(lon), 0.0)
        except GeodesyError as exc:
            raise _Invalid("out_of_range", f"MMSI {mmsi}: {exc}") from None
        dist = math.hypot(e, n)
        if dist > self.max_range_m:
            raise _Invalid("too_far", f"MMSI {mmsi}: {dist:.0f} m from the datum "
                           f"(limit {self.max_range_m:.0f} m)")
        speed = 0.0 if sog_na else float(speed_kn) * KNOT_MPS
        if not cog_na:
            course, vel_ok = cog_to_enu_rad(float(cog)), not sog_na
        elif heading_rad is not None:
            course, vel_ok = heading_rad, not sog_na
        else:
            # No direction: fine for a vessel that is (nearly) stopped, else unknown.
            course, vel_ok = 0.0, (not sog_na) and speed_kn < 0.5
        if not vel_ok:
            speed = 0.0
        if long_range:
            sigma = SIGMA_LONG_RANGE_M
        elif second in (61, 62):
            sigma = SIGMA_DEAD_RECKONING_M
        else:
            sigma = SIGMA_HIGH_ACCURACY_M if getattr(d, "accuracy", False) \
                else SIGMA_LOW_ACCURACY_M
        stamp = now_s
        if self.use_utc_second and isinstance(second, int) and 0 <= second <= 59:
            est = stamp_from_utc_second(now_s, second)
            if now_s - est <= self.max_utc_age_s:
                stamp = est
        return AisTarget(id=str(mmsi), mmsi=mmsi, msg_type=mtype, x_m=e, y_m=n,
                         course_rad=course, speed_mps=speed, heading_rad=heading_rad,
                         length_m=self.lengths.get(mmsi, 0.0), stamp_s=stamp,
                         position_sigma_m=sigma, velocity_valid=vel_ok,
                         lat_deg=float(lat), lon_deg=float(lon))


def decode_aivdm(lines: Iterable[str | bytes], datum: Datum, now_s: float,
                 rejections: list[FeedResult] | None = None,
                 **decoder_kwargs: Any) -> list[AisTarget]:
    """Decode a batch of AIVDM sentences (received at ``now_s``) into targets.

    Multi-sentence messages must be complete and in order within ``lines``. Rejections are
    appended to ``rejections`` when a list is given; without one the first rejection raises
    :class:`AisRejected` (strict mode). Ignored and static sentences are not rejections.
    ``decoder_kwargs`` go to :class:`AisDecoder`.
    """
    decoder = AisDecoder(datum, **decoder_kwargs)
    targets: list[AisTarget] = []
    results: list[FeedResult] = []
    for line in lines:
        results += decoder.feed(line, now_s)
    if decoder._pending:
        results.append(_incomplete(f"{len(decoder._pending)} multi-sentence message(s) "
                                   "unfinished at the end of the batch"))
    for r in results:
        if r.status is FeedStatus.TARGET and r.target is not None:
            targets.append(r.target)
        elif r.status is FeedStatus.REJECTED:
            if rejections is None:
                raise AisRejected(r.reason, r.detail)
            rejections.append(r)
    return targets


def _incomplete(detail: str) -> FeedResult:
    return FeedResult(FeedStatus.REJECTED, reason="incomplete", detail=detail)


def _to_bytes(sentence: str | bytes) -> bytes:
    if isinstance(sentence, bytes):
        return sentence.strip()
    if not isinstance(sentence, str):
        raise _Invalid("malformed", f"sentence must be text, got {type(sentence).__name__}")
    try:
        return sentence.strip().encode("ascii")
    except UnicodeEncodeError:
        raise _Invalid("malformed", f"non-ASCII characters in {sentence[:60]!r}") from None


def _show(raw: bytes, limit: int = 90) -> str:
    text = raw.decode("ascii", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _why(exc: Exception) -> str:
    text = str(exc)
    return type(exc).__name__ if not text or text.startswith("b'") else text[:80]
