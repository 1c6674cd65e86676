"""Sampling stations: grid over the water clear of the margin, order, listed-point checks."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from shapely import affinity
from shapely.geometry import Point, Polygon, box

from dg_autonomy.coverage.boustrophedon import (
    InvalidArea,
    InvalidCoverageParameter,
    NoCoverableArea,
)
from dg_autonomy.coverage.sampling import SampleOutsideRegion, grid_samples, validate_samples

MARGIN_M = 5.0


def lake():
    shore = Point(0.0, 0.0).buffer(120.0, quad_segs=24)
    island = Point(30.0, 10.0).buffer(25.0, quad_segs=8)
    return Polygon(shore.exterior.coords, [island.exterior.coords])


def test_grid_samples_lie_on_water_clear_of_shore_and_island():
    samples = np.array(grid_samples(lake(), 20.0, MARGIN_M))
    region = lake().buffer(-MARGIN_M)
    assert all(region.covers(Point(p)) for p in samples)
    assert not any(Point(30.0, 10.0).buffer(25.0 + MARGIN_M - 1e-6).contains(Point(p))
                   for p in samples)
    assert pdist(samples).min() == pytest.approx(20.0)
    # About one station per spacing^2 of water.
    assert len(samples) == pytest.approx(region.area / 400.0, rel=0.15)


def test_grid_is_a_serpentine_that_starts_at_the_corner_nearest_the_boat():
    samples = np.array(grid_samples(box(0.0, 0.0, 100.0, 60.0), 20.0, 0.0,
                                    start_xy=(95.0, 55.0)))
    assert np.allclose(samples[0], (90.0, 50.0))
    steps = np.hypot(*np.diff(samples, axis=0).T)
    assert steps.max() == pytest.approx(20.0)  # every move is to a neighbour
    assert len(samples) == 5 * 3


def test_rotated_grid_follows_the_angle():
    angle = math.radians(30.0)
    rect = affinity.rotate(box(0.0, 0.0, 100.0, 40.0), 30.0, origin=(0.0, 0.0))
    samples = np.array(grid_samples(rect, 20.0, 0.0, angle_rad=angle))
    d = np.diff(samples[:2], axis=0)[0]
    assert math.remainder(math.atan2(d[1], d[0]) - angle, math.pi) == pytest.approx(0.0,
                                                                                    abs=1e-9)
    assert len(samples) == 5 * 2


def test_lake_smaller_than_the_spacing_gets_one_station_in_its_middle():
    samples = grid_samples(Point(10.0, -4.0).buffer(12.0), 50.0, 2.0)
    assert len(samples) == 1
    assert math.dist(samples[0], (10.0, -4.0)) < 0.5


def test_grid_sample_input_is_validated():
    with pytest.raises(InvalidArea):
        grid_samples(Polygon([(0, 0), (10, 10), (10, 0), (0, 10)]), 10.0, 1.0)
    with pytest.raises(InvalidCoverageParameter):
        grid_samples(lake(), 0.0, 1.0)
    with pytest.raises(InvalidCoverageParameter):
        grid_samples(lake(), 10.0, -1.0)
    with pytest.raises(InvalidCoverageParameter):
        grid_samples(lake(), 10.0, 1.0, angle_rad=math.inf)
    with pytest.raises(InvalidCoverageParameter):
        grid_samples(lake(), 10.0, 1.0, start_xy=(math.nan, 0.0))
    with pytest.raises(NoCoverableArea):
        grid_samples(box(0.0, 0.0, 50.0, 8.0), 10.0, 5.0)


def test_listed_samples_are_checked_against_water_and_margin():
    assert validate_samples(lake(), [(-80.0, 0.0), (0.0, -90)], MARGIN_M) == [
        (-80.0, 0.0), (0.0, -90.0)]
    with pytest.raises(SampleOutsideRegion, match="sample 1 .* on land or an island"):
        validate_samples(lake(), [(-80.0, 0.0), (30.0, 10.0)], MARGIN_M)
    with pytest.raises(SampleOutsideRegion, match="within 5.0 m"):
        validate_samples(lake(), [(0.0, 117.0)], MARGIN_M)
    with pytest.raises(InvalidCoverageParameter, match="sample 0"):
        validate_samples(lake(), [(math.nan, 0.0)], MARGIN_M)
    with pytest.raises(InvalidCoverageParameter, match="no samples"):
        validate_samples(lake(), [], MARGIN_M)
