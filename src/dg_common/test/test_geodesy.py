"""Geodesy: WGS-84 geodetic <-> local ENU around a datum."""

import math

import pytest

from dg_common.geodesy import (
    Datum,
    GeodesyError,
    ecef_to_geodetic,
    enu_to_geodetic,
    geodetic_to_ecef,
    geodetic_to_enu,
)


def test_ecef_of_known_points():
    # Equator/prime meridian at h = 0 lies at X = a; the north pole at Z = b.
    assert geodetic_to_ecef(0.0, 0.0, 0.0) == pytest.approx((6378137.0, 0.0, 0.0), abs=1e-6)
    assert geodetic_to_ecef(90.0, 0.0, 0.0)[2] == pytest.approx(6356752.314245, abs=1e-5)
    x, y, z = geodetic_to_ecef(0.0, 90.0, 100.0)
    assert (x, y, z) == pytest.approx((0.0, 6378237.0, 0.0), abs=1e-6)


@pytest.mark.parametrize("lat,lon,alt", [(0.0, 0.0, 0.0), (47.3977, 8.5456, 488.0),
                                         (-33.8688, 151.2093, -20.0), (89.99, -179.9, 1e4),
                                         (-89.5, 45.0, 3.0), (21.3, -157.9, 0.0)])
def test_ecef_round_trip(lat, lon, alt):
    g = ecef_to_geodetic(*geodetic_to_ecef(lat, lon, alt))
    assert g.lat_deg == pytest.approx(lat, abs=1e-11)
    assert g.lon_deg == pytest.approx(lon, abs=1e-11)
    assert g.alt_m == pytest.approx(alt, abs=1e-6)


def test_degree_lengths_at_45_deg_match_the_standard_series():
    # Length of a degree on WGS-84 (standard series, e.g. NGA/NIMA TR8350.2 tables).
    phi = math.radians(45.0)
    lat_m = 111132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    lon_m = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi) + 0.118 * math.cos(5 * phi)
    d = Datum(45.0, 7.0, 0.0)
    lat, lon, _ = enu_to_geodetic(d, 30.0, 20.0, 0.0)
    assert lat - 45.0 == pytest.approx(20.0 / lat_m, rel=1e-5)
    assert lon - 7.0 == pytest.approx(30.0 / lon_m, rel=1e-5)
    assert d.meters_per_degree() == pytest.approx((lat_m, lon_m), rel=1e-6)


def test_enu_round_trip_and_datum_is_origin():
    d = Datum(47.3977, 8.5456, 488.0)
    assert geodetic_to_enu(d, 47.3977, 8.5456, 488.0) == pytest.approx((0, 0, 0), abs=1e-9)
    for e, n, u in [(10.0, -20.0, 1.0), (4000.0, 3000.0, 0.0), (-1e5, 2e5, 50.0)]:
        g = enu_to_geodetic(d, e, n, u)
        assert geodetic_to_enu(d, *g) == pytest.approx((e, n, u), abs=1e-6)
    # The altitude of the datum carries over directly.
    assert enu_to_geodetic(d, 0.0, 0.0, 5.0).alt_m == pytest.approx(493.0, abs=1e-6)


def test_axes_point_east_and_north():
    d = Datum(10.0, 20.0, 0.0)
    e, n, _ = geodetic_to_enu(d, 10.0, 20.001, 0.0)
    assert e > 100.0 and abs(n) < 0.01
    e, n, _ = geodetic_to_enu(d, 10.001, 20.0, 0.0)
    assert n > 100.0 and abs(e) < 1e-6


def test_tangent_plane_drop_matches_the_stated_bound():
    # A sea-level point 5 km east sits d^2 / (2R) ~ 2 m below the tangent plane.
    d = Datum(0.0, 0.0, 0.0)
    g = enu_to_geodetic(d, 5000.0, 0.0, 0.0)
    _, _, u = geodetic_to_enu(d, g.lat_deg, g.lon_deg, 0.0)
    assert u == pytest.approx(-5000.0 ** 2 / (2 * 6378137.0), rel=1e-3)


def test_antimeridian_wraps():
    d = Datum(0.0, 179.9999, 0.0)
    _, lon, _ = enu_to_geodetic(d, 100.0, 0.0, 0.0)
    assert -180.0 < lon < -179.99
    e, _, _ = geodetic_to_enu(d, 0.0, lon, 0.0)
    assert e == pytest.approx(100.0, abs=1e-6)


@pytest.mark.parametrize("args,match", [((90.0, 0.0), "latitude"), ((0.0, math.nan), "longitude"),
                                        ((0.0, 0.0, math.inf), "altitude"),
                                        ((0.0, 181.0), "longitude"), (("x", 0.0), "latitude")])
def test_datum_validation(args, match):
    with pytest.raises(GeodesyError, match=match):
        Datum(*args)


def test_point_validation():
    d = Datum(1.0, 2.0)
    with pytest.raises(GeodesyError, match="latitude"):
        geodetic_to_enu(d, 91.0, 0.0, 0.0)
    with pytest.raises(GeodesyError, match="longitude"):
        geodetic_to_enu(d, 0.0, math.inf, 0.0)
    with pytest.raises(ValueError, match="east"):
        enu_to_geodetic(d, math.nan, 0.0, 0.0)
