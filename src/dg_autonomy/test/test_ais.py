"""Tests of AIS decoding and validation (dg_autonomy.collision.ais)."""

import math

import pytest
from pyais.encode import encode_dict

from dg_autonomy.collision.ais import (
    KNOT_MPS,
    AisDecoder,
    AisRejected,
    FeedStatus,
    cog_to_enu_rad,
    decode_aivdm,
    enu_to_cog_deg,
    stamp_from_utc_second,
)
from dg_common.geodesy import Datum, enu_to_geodetic

DATUM = Datum(47.3977, 8.5456, 488.0)
MMSI = 211234567


def position(x=120.0, y=-40.0, **fields):
    """Type 1 sentences of a vessel at ENU (x, y) with overridable fields."""
    lat, lon, _ = enu_to_geodetic(DATUM, x, y, 0.0)
    data = {"type": 1, "mmsi": MMSI, "lat": lat, "lon": lon, "speed": 10.0, "course": 45.0,
            "heading": 511, "second": 30, "accuracy": 1}
    data.update(fields)
    return encode_dict(data, sentence_type="VDM")


def static(to_bow=10, to_stern=5, mmsi=MMSI, seq_id=3):
    return encode_dict({"type": 5, "mmsi": mmsi, "shipname": "FERRY", "to_bow": to_bow,
                        "to_stern": to_stern}, sentence_type="VDM", seq_id=seq_id)


def feed_all(decoder, lines, now=90.0):
    return [r for line in lines for r in decoder.feed(line, now)]


# --- good input ------------------------------------------------------------------------

def test_position_report_to_enu_target():
    (t,) = decode_aivdm(position(), DATUM, 90.0)
    assert t.id == str(MMSI) and t.msg_type == 1
    # AIS resolution is 1/10000 minute (~0.2 m).
    assert t.x_m == pytest.approx(120.0, abs=0.3) and t.y_m == pytest.approx(-40.0, abs=0.3)
    assert t.speed_mps == pytest.approx(10.0 * KNOT_MPS, abs=1e-6)
    assert t.course_rad == pytest.approx(math.radians(45.0))      # COG 045 = north-east
    assert t.heading_rad is None and t.velocity_valid
    assert t.position_sigma_m == 5.0                              # high accuracy flag
    assert t.stamp_s == 90.0            # UTC second 30 = now (t = 90 s): fix in [90, 91)


def test_course_conversion_round_trip():
    for cog in (0.0, 45.0, 90.0, 180.0, 270.0, 359.9):
        assert enu_to_cog_deg(cog_to_enu_rad(cog)) == pytest.approx(cog, abs=1e-9)
    assert cog_to_enu_rad(90.0) == pytest.approx(0.0)             # east
    assert cog_to_enu_rad(0.0) == pytest.approx(math.pi / 2)      # north


def test_fix_time_from_utc_second():
    assert stamp_from_utc_second(125.2, 3) == pytest.approx(123.5)
    assert stamp_from_utc_second(121.0, 59) == pytest.approx(119.5)   # minute wrap
    assert stamp_from_utc_second(130.0, 10) == pytest.approx(130.0)   # never in the future
    # An implausibly old apparent fix (clocks not aligned) falls back to the receive time.
    (t,) = decode_aivdm(position(second=30), DATUM, 1000.0)          # age 10 s: kept
    assert t.stamp_s == pytest.approx(990.5)
    (t,) = decode_aivdm(position(second=15), DATUM, 1000.0)          # age 25 s > 20 s
    assert t.stamp_s == 1000.0


def test_multi_sentence_static_data_gives_length():
    dec = AisDecoder(DATUM)
    lines = static()
    assert len(lines) == 2
    results = feed_all(dec, lines + position())
    assert [r.status for r in results] == [FeedStatus.PENDING, FeedStatus.STATIC,
                                           FeedStatus.TARGET]
    assert results[-1].target.length_m == 15.0


def test_class_b_and_heading_stands_in_for_missing_course():
    lat, lon, _ = enu_to_geodetic(DATUM, 10.0, 10.0, 0.0)
    lines = encode_dict({"type": 18, "mmsi": 244000001, "lat": lat, "lon": lon, "speed": 4.0,
                         "course": 360.0, "heading": 90, "second": 60}, sentence_type="VDM")
    (t,) = decode_aivdm(lines, DATUM, 50.0)
    assert t.course_rad == pytest.approx(0.0) and t.velocity_valid    # heading 090
    assert t.stamp_s == 50.0                                           # second 60: n/a


# --- "not available" and out of range ------------------------------------------------

def test_position_not_available_is_rejected():
    rej = []
    assert decode_aivdm(position(lat=91.0, lon=181.0), DATUM, 10.0, rej) == []
    assert rej[0].reason == "position_unavailable" and "not available" in rej[0].detail


def test_speed_not_available_keeps_position_without_velocity():
    (t,) = decode_aivdm(position(speed=102.3), DATUM, 10.0)
    assert not t.velocity_valid and t.speed_mps == 0.0


def test_course_and_heading_not_available_means_no_velocity():
    (t,) = decode_aivdm(position(course=360.0, heading=511), DATUM, 10.0)
    assert not t.velocity_valid and t.speed_mps == 0.0
    (t,) = decode_aivdm(position(course=360.0, heading=511, speed=0.2), DATUM, 10.0)
    assert t.velocity_valid                                            # (nearly) stopped


@pytest.mark.parametrize("fields, reason", [
    ({"course": 400.0}, "out_of_range"),
    ({"mmsi": 0}, "invalid_mmsi"),
    ({"second": 63}, "position_unavailable"),
])
def test_out_of_range_fields_are_rejected(fields, reason):
    rej = []
    assert decode_aivdm(position(**fields), DATUM, 10.0, rej) == []
    assert rej[0].reason == reason


def test_position_far_from_datum_is_rejected():
    rej = []
    assert decode_aivdm(position(x=30000.0, y=0.0), DATUM, 10.0, rej) == []
    assert rej[0].reason == "too_far" and "m from the datum" in rej[0].detail


def test_non_finite_position_is_rejected_without_crash():
    dec = AisDecoder(DATUM)
    good = position()[0]
    for bad in ("!AIVDM,1,1,,A,nan,0*00", good.replace(good.split(",")[5], "1" * 28)):
        (r,) = dec.feed(bad, 1.0)
        assert r.status is FeedStatus.REJECTED


# --- malformed --------------------------------------------------------------------------

@pytest.mark.parametrize("line, reason", [
    ("hello world", "malformed"),
    ("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", "malformed"),
    ("!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*00", "checksum"),
    ("!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0", "checksum"),
    ("!AIVDM,x,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*5C", "malformed"),
    ("!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,9*5C", "malformed"),
    ("!AIVDM,1,1,,A,15M67FC0ü,0*00", "malformed"),      # non-ASCII
    ("", "malformed"),
])
def test_malformed_sentences_are_rejected_with_reason(line, reason):
    dec = AisDecoder(DATUM)
    results = dec.feed(line, 1.0)
    assert results[-1].status is FeedStatus.REJECTED
    assert results[-1].reason == reason, results[-1].detail
    assert results[-1].detail


def test_truncated_payload_with_valid_checksum():
    # Build a correct checksum around a too-short payload.
    body = "AIVDM,1,1,,A,15M6,0"
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    (r,) = AisDecoder(DATUM).feed(f"!{body}*{cs:02X}", 1.0)
    assert r.status is FeedStatus.REJECTED and r.reason == "malformed"
    assert "truncated" in r.detail or "decodable" in r.detail


def test_missing_or_out_of_order_fragments():
    dec = AisDecoder(DATUM, fragment_timeout_s=2.0)
    first, second = static()
    (r,) = dec.feed(second, 0.0)                      # second without the first
    assert r.reason == "incomplete"
    assert dec.feed(first, 1.0)[0].status is FeedStatus.PENDING
    out = dec.feed(position()[0], 5.0)                # the first times out
    assert out[0].reason == "incomplete" and out[-1].status is FeedStatus.TARGET
    # A new first fragment while one is pending drops the old one.
    dec.feed(first, 10.0)
    out = dec.feed(first, 10.5)
    assert out[0].reason == "incomplete" and out[1].status is FeedStatus.PENDING


def test_own_vessel_and_other_types_are_ignored():
    dec = AisDecoder(DATUM)
    vdo = encode_dict({"type": 1, "mmsi": MMSI, "lat": 47.4, "lon": 8.55, "speed": 1.0,
                       "course": 10.0, "second": 1}, sentence_type="VDO")
    (r,) = dec.feed(vdo[0], 1.0)
    assert r.status is FeedStatus.IGNORED and r.reason == "own_vessel"
    base = encode_dict({"type": 4, "mmsi": 2111234, "lat": 47.4, "lon": 8.55},
                       sentence_type="VDM")
    (r,) = dec.feed(base[0], 1.0)
    assert r.status is FeedStatus.IGNORED and r.reason == "unsupported_type"


def test_strict_batch_decode_raises_first_rejection():
    with pytest.raises(AisRejected, match="checksum") as info:
        decode_aivdm(["!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*00"], DATUM, 1.0)
    assert info.value.reason == "checksum"


def test_batch_with_unfinished_fragment_reports_it():
    rej = []
    assert decode_aivdm(static()[:1], DATUM, 1.0, rej) == []
    assert rej[0].reason == "incomplete"


def test_decoder_rejects_bad_construction():
    with pytest.raises(ValueError, match="max_range_m"):
        AisDecoder(DATUM, max_range_m=math.nan)
