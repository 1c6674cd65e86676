"""Scan-to-CAD registration: ICP accuracy, global registration, determinism, bad input."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d import (
    example_part,
    icp_point_to_plane,
    prepare_cad,
    register_to_cad,
    rotation_angle_deg,
)
from dg_vision.inspect3d._common import as_mesh, check_watertight

MESH = example_part()


def sample_surface(n: int, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p, _ = as_mesh(MESH).sample_surface(n, rng)
    return p + rng.normal(0.0, sigma, p.shape)


def pose(rotvec_deg, trans) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = Rotation.from_rotvec(np.radians(rotvec_deg)).as_matrix()
    t[:3, 3] = trans
    return t


def to_scan(points: np.ndarray, truth: np.ndarray) -> np.ndarray:
    inv = np.linalg.inv(truth)
    return points @ inv[:3, :3].T + inv[:3, 3]


def errors(est: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return (rotation_angle_deg(est[:3, :3] @ truth[:3, :3].T),
            float(np.linalg.norm(est[:3, 3] - truth[:3, 3])))


def test_example_part_is_closed_and_outward():
    check_watertight(as_mesh(MESH))
    assert MESH.is_watertight()
    assert MESH.get_volume() > 0.0  # outward normals give a positive volume


def test_icp_from_small_offset_meets_the_goals():
    truth = pose([6.0, -4.0, 3.0], [2.0, -3.0, 1.5])
    scan = to_scan(sample_surface(6000, 0.02, seed=1), truth)
    reg = register_to_cad(scan, MESH, init=np.eye(4))
    rot, trans = errors(reg.transform, truth)
    assert rot < 0.1 and trans < 0.05
    assert reg.fitness > 0.99 and 0.015 < reg.rmse_mm < 0.04
    np.testing.assert_array_equal(reg.global_transform, np.eye(4))
    np.testing.assert_allclose(reg.apply(scan[:5]), to_scan(scan[:5], np.linalg.inv(truth)),
                               atol=0.05)


def test_global_registration_any_pose_is_deterministic():
    truth = pose([150.0, -60.0, 95.0], [40.0, -55.0, 30.0])
    scan = to_scan(sample_surface(6000, 0.02, seed=2), truth)
    a = register_to_cad(scan, MESH, seed=3)
    b = register_to_cad(scan, MESH, seed=3)
    rot, trans = errors(a.transform, truth)
    assert rot < 0.1 and trans < 0.05
    np.testing.assert_array_equal(a.transform, b.transform)


def test_feature_path_alone_registers():
    truth = pose([-70.0, 120.0, 10.0], [-30.0, 10.0, 60.0])
    scan = to_scan(sample_surface(6000, 0.02, seed=4), truth)
    a = register_to_cad(scan, MESH, seed=0, use_features=True)
    b = register_to_cad(scan, MESH, seed=0, use_features=True)
    rot, trans = errors(a.transform, truth)
    assert rot < 0.1 and trans < 0.05
    np.testing.assert_array_equal(a.transform, b.transform)


def view_scan(direction, pitch: float, sigma: float, seed: int) -> np.ndarray:
    """One side of the part: first hits of parallel rays along -direction, noise on t."""
    import open3d as o3d

    rng = np.random.default_rng(seed)
    d = np.asarray(direction, dtype=float) / np.linalg.norm(direction)
    e1 = np.cross(d, [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    g = np.arange(-55.0, 55.0, pitch)
    gu, gv = (a.reshape(-1, 1) for a in np.meshgrid(g, g))
    origins = 100.0 * d + gu * e1 + gv * e2
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(MESH))
    rays = np.hstack([origins, np.broadcast_to(-d, origins.shape)]).astype(np.float32)
    t = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy().astype(float)
    ok = np.isfinite(t)
    return origins[ok] - (t[ok] + rng.normal(0.0, sigma, ok.sum()))[:, None] * d


def test_single_view_from_above_registers():
    truth = pose([20.0, 175.0, -40.0], [10.0, 35.0, -20.0])
    pts = view_scan([0.1, -0.15, 1.0], 0.5, 0.02, seed=8)
    assert pts.shape[0] > 5000
    scan = to_scan(pts, truth)
    reg = register_to_cad(scan, MESH, seed=0)
    rot, trans = errors(reg.transform, truth)
    assert rot < 0.1 and trans < 0.05
    assert reg.fitness > 0.99


def test_icp_point_to_plane_on_prepared_samples():
    cad = prepare_cad(MESH)
    truth = pose([0.0, 0.0, 4.0], [1.0, 0.5, -0.5])
    scan = to_scan(sample_surface(4000, 0.01, seed=5), truth)
    reg = icp_point_to_plane(scan, cad, None, np.eye(4))  # samples, normals and k-d tree
    rot, trans = errors(reg.transform, truth)
    assert rot < 0.1 and trans < 0.05
    same = icp_point_to_plane(scan, cad.points, cad.normals, np.eye(4))
    np.testing.assert_allclose(same.transform, reg.transform, atol=1e-9)
    with pytest.raises(VisionInputError, match="None with a CadTarget"):
        icp_point_to_plane(scan, cad, cad.normals)
    with pytest.raises(VisionInputError, match="target_normals"):
        icp_point_to_plane(scan, cad.points)


def test_degenerate_scans_raise():
    one = np.tile([1.0, 2.0, 3.0], (200, 1))
    line = np.c_[np.linspace(-30, 30, 200), np.zeros(200), np.full(200, 2.0)]
    for bad in (one, line):
        with pytest.raises(VisionInputError, match="degenerate"):
            register_to_cad(bad, MESH)
        with pytest.raises(VisionInputError, match="degenerate"):
            register_to_cad(bad, MESH, init=np.eye(4))
        with pytest.raises(VisionInputError, match="degenerate"):
            icp_point_to_plane(bad, prepare_cad(MESH))


def test_parameters_checked():
    scan = sample_surface(500, 0.01, seed=7)
    for kw, what in (({"floor_mm": 0.0}, "floor_mm"), ({"inlier_mm": -1.0}, "inlier_mm"),
                     ({"inlier_mm": float("nan")}, "inlier_mm"),
                     ({"accept_fitness": 0.0}, "accept_fitness"),
                     ({"accept_fitness": 1.5}, "accept_fitness"),
                     ({"n_hypotheses": 0}, "n_hypotheses")):
        with pytest.raises(VisionInputError, match=what):
            register_to_cad(scan, MESH, **kw)
    cad = prepare_cad(MESH)
    for kw, what in (({"gate_mm": 0.0}, "gate_mm"), ({"floor_mm": -1.0}, "floor_mm"),
                     ({"inlier_mm": 0.0}, "inlier_mm")):
        with pytest.raises(VisionInputError, match=what):
            icp_point_to_plane(scan, cad, **kw)


def test_constraint_tells_a_pinned_pose_from_a_sliding_one():
    full = sample_surface(4000, 0.01, seed=11)
    reg = register_to_cad(full, MESH, init=np.eye(4))
    assert reg.constraint > 0.01
    cad = prepare_cad(MESH)
    top = cad.points[np.abs(cad.points[:, 2] - 2.0) < 1e-6]  # the plate's top face only
    assert top.shape[0] > 1000
    flat = icp_point_to_plane(top, cad, init=np.eye(4))
    assert flat.constraint < 1e-3 < reg.constraint


def test_nan_points_are_dropped_and_counted():
    scan = sample_surface(3000, 0.01, seed=6)
    scan[::100] = np.nan
    scan[1] = [np.inf, 0.0, 0.0]
    reg = register_to_cad(scan, MESH, init=np.eye(4))
    assert reg.n_dropped == 31 and reg.n_points == 2969
    assert errors(reg.transform, np.eye(4))[1] < 0.05


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros((100, 2)), np.full((50, 3), np.nan),
                                 np.zeros((5, 3))])
def test_bad_scans_raise(bad):
    with pytest.raises(VisionInputError):
        register_to_cad(bad, MESH)


def test_bad_init_and_mesh_raise():
    scan = sample_surface(500, 0.01, seed=7)
    with pytest.raises(VisionInputError, match="4x4"):
        register_to_cad(scan, MESH, init=np.eye(3))
    with pytest.raises(VisionInputError, match="rotation"):
        register_to_cad(scan, MESH, init=np.diag([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(VisionInputError, match="mesh"):
        register_to_cad(scan, "part.stl")
    with pytest.raises(VisionInputError, match="normals"):
        icp_point_to_plane(scan, scan, np.zeros_like(scan))


def test_extrude_regions_rejects_bad_regions():
    from shapely.geometry import Polygon

    from dg_vision.inspect3d import Region, extrude_regions

    square = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    assert len(extrude_regions([Region(square, 5.0)]).triangles) > 0
    for bad in ([], [Region(square, float("nan"))], [Region(square, -1.0)],
                [Region(Polygon(), 5.0)], [Region(square, "high")]):
        with pytest.raises(VisionInputError):
            extrude_regions(bad)
