"""Boustrophedon coverage core: coverage, containment of turns, ordering, angle, validation.

Coverage and containment are measured here with shapely directly (path buffered by half the
swath inside ``lake.buffer(-margin)``), not with the planner's own bookkeeping.
"""

import math

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from dg_autonomy.coverage.boustrophedon import (
    InvalidArea,
    InvalidCoverageParameter,
    NoCoverableArea,
    StartOutsideArea,
    coverable_region,
    coverage_ratio,
    plan_coverage,
)

SWATH_M = 8.0
MARGIN_M = 5.0


def lake_with_island():
    """An elliptic lake, a peninsula from the north shore (a concavity) and an island."""
    shore = affinity.scale(Point(0.0, 0.0).buffer(160.0, quad_segs=24), 1.0, 0.6)
    shore = shore.difference(box(-25.0, 30.0, 15.0, 200.0))
    island = affinity.scale(Point(70.0, -15.0).buffer(22.0, quad_segs=8), 1.0, 0.7)
    return Polygon(shore.exterior.coords, [island.exterior.coords])


def c_shaped_lake():
    """A 'C': straight turns between the arms' lane ends would cut across land."""
    return Polygon(box(0.0, 0.0, 200.0, 200.0).exterior.coords).difference(
        box(60.0, 60.0, 200.0, 140.0))


def measured_coverage(lake, path, swath_m=SWATH_M, margin_m=MARGIN_M):
    region = lake.buffer(-margin_m)
    return region.intersection(LineString(path).buffer(0.5 * swath_m)).area / region.area


def legs_outside(lake, path, margin_m=MARGIN_M):
    allowed = lake.buffer(-margin_m).buffer(1e-6)
    legs = shapely.linestrings(np.stack([path[:-1], path[1:]], axis=1))
    return int(np.count_nonzero(~shapely.covers(allowed, legs)))


def test_lake_with_island_is_covered_with_every_leg_inside():
    lake = lake_with_island()
    start = (-120.0, -20.0)
    plan = plan_coverage(lake, SWATH_M, MARGIN_M, start)
    assert np.allclose(plan.path_xy[0], start)
    assert measured_coverage(lake, plan.path_xy) >= 0.995
    assert legs_outside(lake, plan.path_xy) == 0
    assert not Polygon(lake.interiors[0]).buffer(MARGIN_M - 1e-6).intersects(
        LineString(plan.path_xy))
    assert plan.lower_bound_m == pytest.approx(plan.region.area / SWATH_M)
    assert plan.lower_bound_m <= plan.length_m <= 1.15 * plan.lower_bound_m
    assert plan.length_m == pytest.approx(
        float(np.sum(np.hypot(*np.diff(plan.path_xy, axis=0).T))))
    # The module's own ratio agrees with the independent measurement.
    assert coverage_ratio(lake, plan.path_xy, SWATH_M, MARGIN_M) == pytest.approx(
        measured_coverage(lake, plan.path_xy), abs=1e-6)


def test_lanes_are_legs_of_the_path_parallel_and_one_swath_apart():
    plan = plan_coverage(lake_with_island(), SWATH_M, MARGIN_M, (-120.0, -20.0))
    assert len(plan.lanes) == len(plan.lane_start_index) > 10
    direction = np.array([math.cos(plan.sweep_angle_rad), math.sin(plan.sweep_angle_rad)])
    normal = np.array([-direction[1], direction[0]])
    offsets = []
    for (p0, p1), i in zip(plan.lanes, plan.lane_start_index, strict=True):
        assert np.allclose(plan.path_xy[i], p0) and np.allclose(plan.path_xy[i + 1], p1)
        d = np.subtract(p1, p0)
        assert abs(float(np.dot(d, normal))) < 1e-6 * max(1.0, float(np.hypot(*d)))
        offsets.append(float(np.dot(p0, normal)))
    steps = (np.array(offsets) - offsets[0]) / SWATH_M
    assert np.allclose(steps, np.round(steps), atol=1e-6)
    assert plan.lane_length_m == pytest.approx(
        sum(math.dist(a, b) for a, b in plan.lanes))


@pytest.mark.parametrize("angle_deg", [None, 0.0, 37.0, 90.0, 125.0])
def test_turns_stay_inside_a_c_shaped_lake(angle_deg):
    lake = c_shaped_lake()
    angle = None if angle_deg is None else math.radians(angle_deg)
    plan = plan_coverage(lake, SWATH_M, MARGIN_M, (30.0, 100.0), angle)
    assert legs_outside(lake, plan.path_xy) == 0
    assert measured_coverage(lake, plan.path_xy) >= 0.995
    if angle is not None:
        assert plan.sweep_angle_rad == pytest.approx(angle % math.pi)


def test_lane_order_reduces_transit_against_lane_by_lane():
    shore = affinity.scale(Point(0.0, 0.0).buffer(200.0, quad_segs=24), 1.0, 0.7)
    islands = [Point(-60.0, 10.0).buffer(25.0, quad_segs=8),
               Point(70.0, -20.0).buffer(30.0, quad_segs=8)]
    lake = Polygon(shore.exterior.coords, [i.exterior.coords for i in islands])
    start = (-180.0, 0.0)
    ours = plan_coverage(lake, SWATH_M, MARGIN_M, start, 0.0)
    naive = plan_coverage(lake, SWATH_M, MARGIN_M, start, 0.0, optimise_order=False)
    assert ours.lane_length_m == pytest.approx(naive.lane_length_m, rel=0.01)
    assert ours.transit_length_m < 0.8 * naive.transit_length_m
    assert legs_outside(lake, naive.path_xy) == 0  # the baseline stays inside too


@pytest.mark.parametrize("rotation_deg", [0.0, 30.0, 115.0])
def test_best_angle_of_a_long_thin_rectangle_is_its_long_axis(rotation_deg):
    lake = affinity.rotate(box(0.0, 0.0, 400.0, 40.0), rotation_deg, origin=(0.0, 0.0))
    plan = plan_coverage(lake, 6.0, 2.0, (10.0 * math.cos(math.radians(rotation_deg)),
                                          10.0 * math.sin(math.radians(rotation_deg))))
    err = math.remainder(plan.sweep_angle_rad - math.radians(rotation_deg), math.pi)
    assert abs(err) < math.radians(1.0)
    assert len(plan.lanes) == 6  # 36 m of water across, 6 m apart


def test_start_inside_the_margin_band_enters_the_region_first():
    lake = lake_with_island()
    start = (-157.0, 0.0)  # 3 m from the western shore: water, but inside the 5 m margin
    plan = plan_coverage(lake, SWATH_M, MARGIN_M, start)
    assert np.allclose(plan.path_xy[0], start)
    assert legs_outside(lake, plan.path_xy[1:]) == 0
    assert math.dist(plan.path_xy[0], plan.path_xy[1]) < MARGIN_M + 0.5


def test_region_split_by_a_narrow_neck_covers_the_start_side_and_reports_the_rest():
    lake = box(0.0, 0.0, 100.0, 60.0).union(box(100.0, 26.0, 120.0, 34.0)).union(
        box(120.0, 0.0, 220.0, 60.0))  # an 8 m neck: closed by a 5 m margin
    plan = plan_coverage(lake, SWATH_M, MARGIN_M, (20.0, 30.0))
    assert plan.unreachable_area_m2 == pytest.approx(90.0 * 50.0, rel=0.02)
    assert plan.path_xy[:, 0].max() < 100.0
    assert plan.region.area == pytest.approx(90.0 * 50.0, rel=0.02)


def test_coverable_region_keeps_the_margin_and_grows_islands():
    lake = lake_with_island()
    region = coverable_region(lake, MARGIN_M, 0.05)
    exact = lake.buffer(-MARGIN_M)
    assert region.difference(exact).area < 1e-6  # never closer than the margin
    assert region.area > 0.99 * exact.area
    assert coverable_region(lake, 0.0).equals(lake)


def test_coverage_ratio_of_exact_lanes_is_one_and_of_nothing_zero():
    square = box(0.0, 0.0, 100.0, 100.0)
    path = []
    for k, y in enumerate(np.arange(5.0, 100.0, 10.0)):
        xs = (0.0, 100.0) if k % 2 == 0 else (100.0, 0.0)
        path += [(xs[0], y), (xs[1], y)]
    assert coverage_ratio(square, np.array(path), 10.0) == pytest.approx(1.0, abs=1e-3)
    assert coverage_ratio(square, np.zeros((0, 2)), 10.0) == 0.0
    assert coverage_ratio(square, np.array([[50.0, 50.0]]), 10.0) == pytest.approx(
        math.pi * 25.0 / 1e4, rel=0.01)


@pytest.mark.parametrize("area", [
    Polygon([(0, 0), (10, 10), (10, 0), (0, 10)]),  # self-intersecting bow tie
    box(0, 0, 10, 10).union(box(20, 0, 30, 10)),   # two pieces
    Polygon(),
    "not a polygon",
])
def test_invalid_areas_are_rejected(area):
    with pytest.raises(InvalidArea):
        plan_coverage(area, SWATH_M, MARGIN_M, (5.0, 5.0))


@pytest.mark.parametrize("swath, margin, start, angle", [
    (0.0, 5.0, (0.0, 0.0), None),
    (-3.0, 5.0, (0.0, 0.0), None),
    (math.nan, 5.0, (0.0, 0.0), None),
    (8.0, -1.0, (0.0, 0.0), None),
    (8.0, math.inf, (0.0, 0.0), None),
    (8.0, 5.0, (math.nan, 0.0), None),
    (8.0, 5.0, (1.0, 2.0, 3.0), None),
    (8.0, 5.0, (0.0, 0.0), math.nan),
])
def test_invalid_parameters_are_rejected(swath, margin, start, angle):
    with pytest.raises(InvalidCoverageParameter):
        plan_coverage(lake_with_island(), swath, margin, start, angle)


@pytest.mark.parametrize("start", [(500.0, 0.0), (70.0, -15.0), (0.0, 60.0)])
def test_start_on_land_or_an_island_is_rejected(start):
    with pytest.raises(StartOutsideArea, match="not on the water"):
        plan_coverage(lake_with_island(), SWATH_M, MARGIN_M, start)


def test_margin_wider_than_the_lake_leaves_nothing_to_cover():
    with pytest.raises(NoCoverableArea):
        plan_coverage(box(0.0, 0.0, 50.0, 8.0), SWATH_M, MARGIN_M, (25.0, 4.0))


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        plan_coverage(lake_with_island(), 0.0, MARGIN_M, (0.0, 0.0))
