"""Global planner: optimality on known cases, islands, statuses, fallback, validation.

Optimal 8-connected costs are computed here with SciPy on a graph built in the test, and
path validity with a dense raster check written here, independent of the planner's own.
"""

import math

import numpy as np
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from dg_autonomy.planning.grid_planner import (
    GridMap,
    InvalidMap,
    InvalidPlanQuery,
    PlanStatus,
    VisibilityRoadmap,
    plan,
    shortest_path_in_polygon,
)


def optimal_8(occ, start_cell, goal_cell, r=1.0):
    """8-connected optimum (no corner cutting) by SciPy's Dijkstra on a graph built here."""
    h, w = occ.shape
    rows, cols, wts = [], [], []
    for i in range(h):
        for j in range(w):
            if occ[i, j]:
                continue
            for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
                a, b = i + di, j + dj
                if not (0 <= a < h and 0 <= b < w) or occ[a, b]:
                    continue
                if di and dj and (occ[i, b] or occ[a, j]):
                    continue
                rows.append(i * w + j)
                cols.append(a * w + b)
                wts.append(r * (math.sqrt(2.0) if di and dj else 1.0))
    graph = coo_matrix((wts, (rows, cols)), shape=(h * w, h * w)).tocsr()
    d = dijkstra(graph, directed=False, indices=start_cell[0] * w + start_cell[1])
    return float(d[goal_cell[0] * w + goal_cell[1]])


def samples_blocked(grid, path, step_cells=0.05):
    occ, r, (ox, oy) = grid.occupied, grid.resolution_m, grid.origin_xy
    bad = 0
    for a, b in zip(path[:-1], path[1:], strict=True):
        n = max(2, int(math.ceil(math.dist(a, b) / (step_cells * r))) + 1)
        pts = np.asarray(a) + np.linspace(0.0, 1.0, n)[:, None] * (np.asarray(b) - a)
        j = np.floor((pts[:, 0] - ox) / r).astype(int)
        i = np.floor((pts[:, 1] - oy) / r).astype(int)
        assert np.all((i >= 0) & (i < occ.shape[0]) & (j >= 0) & (j < occ.shape[1]))
        bad += int(np.count_nonzero(occ[i, j]))
    return bad


def wall_map():
    """40 x 30 cells; a wall at x in [20, 21) from y = 0 to 22, open above."""
    occ = np.zeros((30, 40), dtype=bool)
    occ[:22, 20] = True
    return GridMap(occ, 1.0)


def test_open_water_gives_the_straight_line():
    grid = GridMap(np.zeros((20, 30), dtype=bool), 1.0)
    res = plan(grid, (0.5, 0.5), (25.5, 12.5))
    assert res.status is PlanStatus.OK and res.ok
    assert res.cost_m == pytest.approx(math.hypot(25.0, 12.0))
    assert len(res.path_xy) == 2


def test_grid_search_matches_a_hand_computed_8_connected_optimum():
    grid = GridMap(np.zeros((5, 5), dtype=bool), 1.0)
    centres, cost = grid.grid_shortest_path((0, 0), (2, 4))
    assert cost == pytest.approx(2.0 * math.sqrt(2.0) + 2.0)
    assert np.allclose(centres[0], (0.5, 0.5)) and np.allclose(centres[-1], (4.5, 2.5))


def test_path_around_a_wall_is_within_one_percent_of_optimal_and_valid():
    grid = wall_map()
    start, goal = (5.5, 5.5), (35.5, 5.5)
    res = plan(grid, start, goal)
    assert res.ok
    assert samples_blocked(grid, res.path_xy) == 0
    best_8 = optimal_8(grid.occupied, grid.cell_of(start), grid.cell_of(goal))
    exact = 2.0 * math.hypot(14.5, 16.5) + 1.0  # any-angle, over the wall's two corners
    assert exact - 1e-9 <= res.cost_m <= 1.01 * best_8
    assert res.cost_m < best_8  # any-angle beats the 8-connected grid here


def test_path_avoids_an_island_with_its_inflation():
    area = box(0.0, 0.0, 200.0, 100.0)
    island = box(90.0, 20.0, 110.0, 80.0)
    lake = Polygon(area.exterior.coords, [island.exterior.coords])
    grid = GridMap.from_polygons(lake, [], resolution_m=1.0, inflation_m=5.0)
    res = plan(grid, (20.0, 50.0), (180.0, 50.0))
    assert res.ok
    assert samples_blocked(grid, res.path_xy) == 0
    assert LineString(res.path_xy).distance(island) >= 4.0  # 5 m, less a cell's round-off
    around = 2.0 * math.hypot(70.0 - 5.0, 35.0) + 30.0  # over the inflated corners
    assert around * 0.99 < res.cost_m < around * 1.03


def test_no_go_zone_is_avoided_too():
    lake = box(0.0, 0.0, 100.0, 60.0)
    zone = box(45.0, -10.0, 55.0, 50.0)
    grid = GridMap.from_polygons(lake, [zone], resolution_m=1.0, inflation_m=2.0)
    res = plan(grid, (10.0, 10.0), (90.0, 10.0))
    assert res.ok and samples_blocked(grid, res.path_xy) == 0
    assert LineString(res.path_xy).distance(zone) >= 1.0
    assert max(p[1] for p in res.path_xy) > 50.0


def test_unreachable_goal_and_blocked_or_outside_points_have_clear_statuses():
    occ = np.zeros((30, 30), dtype=bool)
    occ[10:20, 10] = occ[10:20, 19] = occ[10, 10:20] = occ[19, 10:20] = True  # a closed pond
    grid = GridMap(occ, 1.0)
    assert plan(grid, (2.5, 2.5), (15.5, 15.5)).status is PlanStatus.NO_PATH
    assert plan(grid, (10.5, 12.5), (2.5, 2.5)).status is PlanStatus.START_BLOCKED
    assert plan(grid, (2.5, 2.5), (19.5, 12.5)).status is PlanStatus.GOAL_BLOCKED
    assert plan(grid, (-1.0, 2.5), (2.5, 2.5)).status is PlanStatus.START_OUTSIDE_MAP
    assert plan(grid, (2.5, 2.5), (2.5, 30.5)).status is PlanStatus.GOAL_OUTSIDE_MAP
    failed = plan(grid, (2.5, 2.5), (15.5, 15.5))
    assert not failed.ok and math.isinf(failed.cost_m) and failed.path_xy.shape == (0, 2)


def test_one_cell_channel_is_found_by_the_exact_fallback():
    occ = np.zeros((21, 41), dtype=bool)
    occ[:, 20] = True
    occ[10, 20] = False  # the only way through
    grid = GridMap(occ, 1.0)
    start, goal = (3.5, 2.5), (37.5, 18.5)
    res = plan(grid, start, goal)
    assert res.ok
    assert samples_blocked(grid, res.path_xy) == 0
    assert res.cost_m <= optimal_8(occ, grid.cell_of(start), grid.cell_of(goal)) + 1e-9


def test_narrow_gap_between_an_island_and_a_pier_is_used_not_bypassed():
    occ = np.zeros((60, 80), dtype=bool)
    occ[20:40, 30:50] = True  # island
    occ[41:, 38:42] = True    # pier from the north shore: a 1-cell gap at row 40
    grid = GridMap(occ, 1.0)
    start, goal = (5.5, 55.5), (75.5, 55.5)
    res = plan(grid, start, goal)
    assert not grid.roadmap_topology_kept  # the roadmap's clearance would close the gap
    assert res.ok and samples_blocked(grid, res.path_xy) == 0
    best_8 = optimal_8(occ, grid.cell_of(start), grid.cell_of(goal))
    assert res.cost_m <= 1.01 * best_8
    assert min(p[1] for p in res.path_xy) > 39.0  # through the gap, not around the island


def test_resolution_and_origin_are_honoured():
    occ = np.zeros((10, 10), dtype=bool)
    occ[:7, 5] = True
    grid = GridMap(occ, 2.0, origin_xy=(100.0, -50.0))
    assert grid.cell_of((100.0, -50.0)) == (0, 0)
    assert grid.cell_of((119.9, -30.1)) == (9, 9)
    assert grid.cell_of((120.0, -40.0)) is None
    res = plan(grid, (103.0, -47.0), (117.0, -47.0))
    assert res.ok and samples_blocked(grid, res.path_xy) == 0
    assert max(p[1] for p in res.path_xy) >= -50.0 + 14.0  # over the wall's top at 14 m


def test_rasterisation_marks_cells_by_their_centre():
    grid = GridMap.from_polygons(box(0.0, 0.0, 10.0, 5.0), [box(2.0, 1.0, 4.0, 3.0)], 1.0)
    expected = np.zeros((5, 10), dtype=bool)
    expected[1:3, 2:4] = True
    assert np.array_equal(grid.occupied, expected)
    # Vertices off the half-cell lattice, so that no cell centre lies exactly on an edge.
    lake = Polygon([(0.0, 0.0), (37.13, 3.27), (41.0, 29.41), (12.37, 33.0), (3.19, 18.23)]
                   ).difference(Polygon([(15.31, 10.07), (25.23, 12.19), (20.11, 20.29)]))
    grid = GridMap.from_polygons(lake, [], 0.5)
    xs = grid.origin_xy[0] + (np.arange(grid.shape[1]) + 0.5) * 0.5
    ys = grid.origin_xy[1] + (np.arange(grid.shape[0]) + 0.5) * 0.5
    xx, yy = np.meshgrid(xs, ys)
    assert np.array_equal(~grid.occupied, shapely.contains_xy(lake, xx, yy))


def test_shortest_path_in_a_polygon_with_a_hole_goes_over_its_corners():
    square = Polygon(box(0, 0, 100, 100).exterior.coords, [box(40, 40, 60, 60).exterior.coords])
    res = shortest_path_in_polygon(square, (10.0, 50.0), (90.0, 50.0))
    assert res.ok
    assert res.cost_m == pytest.approx(2.0 * math.hypot(30.0, 10.0) + 20.0)
    assert shortest_path_in_polygon(square, (50.0, 50.0), (90.0, 50.0)).status is \
        PlanStatus.START_OUTSIDE_MAP
    two = MultiPolygon([box(0, 0, 10, 10), box(20, 0, 30, 10)])
    assert shortest_path_in_polygon(two, (5.0, 5.0), (25.0, 5.0)).status is PlanStatus.NO_PATH


def test_roadmap_distance_matrix_agrees_with_single_queries():
    free = Polygon(box(0, 0, 100, 60).exterior.coords,
                   [box(20, 10, 35, 50).exterior.coords, box(60, 5, 75, 40).exterior.coords])
    roadmap = VisibilityRoadmap(free)
    pts = np.array([(5.0, 30.0), (50.0, 30.0), (95.0, 20.0), (27.0, 55.0), (67.0, 2.0)])
    d = roadmap.distance_matrix(pts)
    assert np.allclose(d, d.T)
    for a in range(len(pts)):
        for b in range(len(pts)):
            _, cost = roadmap.shortest_path(pts[a], pts[b])
            assert d[a, b] == pytest.approx(cost)


@pytest.mark.parametrize("start, goal", [((math.nan, 1.0), (2.0, 2.0)),
                                          ((1.0, 1.0), (2.0, math.inf)),
                                          ((1.0, 1.0, 1.0), (2.0, 2.0)),
                                          ("a", (2.0, 2.0))])
def test_malformed_queries_raise(start, goal):
    grid = GridMap(np.zeros((5, 5), dtype=bool), 1.0)
    with pytest.raises(InvalidPlanQuery):
        plan(grid, start, goal)


def test_malformed_maps_raise():
    with pytest.raises(InvalidMap):
        GridMap(np.zeros((0, 4), dtype=bool), 1.0)
    with pytest.raises(InvalidMap):
        GridMap(np.zeros(4, dtype=bool), 1.0)
    with pytest.raises(InvalidMap):
        GridMap(np.zeros((4, 4), dtype=bool), 0.0)
    with pytest.raises(InvalidMap):
        GridMap(np.zeros((4, 4), dtype=bool), 1.0, origin_xy=(math.nan, 0.0))
    with pytest.raises(InvalidMap, match="invalid"):
        GridMap.from_polygons(Polygon([(0, 0), (10, 10), (10, 0), (0, 20)]), [], 1.0)
    with pytest.raises(InvalidMap, match="inflation"):
        GridMap.from_polygons(box(0, 0, 10, 10), [], 1.0, -1.0)
    with pytest.raises(InvalidMap, match="obstacle 0"):
        GridMap.from_polygons(box(0, 0, 10, 10), ["x"], 1.0)
    assert issubclass(InvalidMap, ValueError) and issubclass(InvalidPlanQuery, ValueError)
