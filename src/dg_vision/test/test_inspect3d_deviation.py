"""Signed deviation from CAD and surface-defect clusters (dents, bumps, missing material)."""

import numpy as np
import open3d as o3d
import pytest

from dg_vision.errors import VisionInputError
from dg_vision.inspect3d import example_part, find_surface_defects, signed_deviation

MESH = example_part()
# The plate's top face is z = 2 (plate 10 mm thick, part shifted by -8 mm).
TOP_Z = 2.0


def top_patch(n: int, seed: int, sigma: float = 0.005) -> np.ndarray:
    """Points on a featureless part of the plate's top face (x -38..-10, y -6..4)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-38.0, -10.0, n)
    y = rng.uniform(-6.0, 4.0, n)
    return np.c_[x, y, TOP_Z + rng.normal(0.0, sigma, n)]


def full_scan(n: int, sigma: float, seed: int) -> np.ndarray:
    """Area-uniform points on the whole part surface with isotropic noise."""
    rng = np.random.default_rng(seed)
    v, t = np.asarray(MESH.vertices), np.asarray(MESH.triangles)
    tv = v[t]
    area = 0.5 * np.linalg.norm(np.cross(tv[:, 1] - tv[:, 0], tv[:, 2] - tv[:, 0]), axis=1)
    tri = rng.choice(area.size, size=n, p=area / area.sum())
    a, b = rng.random(n), rng.random(n)
    flip = a + b > 1.0
    a[flip], b[flip] = 1.0 - a[flip], 1.0 - b[flip]
    s = tv[tri]
    p = s[:, 0] + a[:, None] * (s[:, 1] - s[:, 0]) + b[:, None] * (s[:, 2] - s[:, 0])
    return p + rng.normal(0.0, sigma, p.shape)


def test_sign_and_magnitude_on_faces():
    pts = np.array([[-20.0, 0.0, TOP_Z + 0.3],    # above the top face: outside
                    [-20.0, 0.0, TOP_Z - 0.2],    # below it: inside the plate
                    [-20.0, 0.0, -8.0 - 0.5],     # below the bottom face
                    [40.5, -10.0, 0.0],           # beside the step's end wall
                    [np.nan, 0.0, 0.0]])
    d = signed_deviation(pts, MESH)
    np.testing.assert_allclose(d[:4], [0.3, -0.2, 0.5, 0.5], atol=1e-4)
    assert np.isnan(d[4]) and np.count_nonzero(np.isnan(d)) == 1


def test_far_from_origin_keeps_precision():
    shift = np.array([5000.0, -3000.0, 2000.0])
    moved = o3d.geometry.TriangleMesh(MESH).translate(shift)
    d = signed_deviation(np.array([[-20.0, 0.0, TOP_Z + 0.01]]) + shift, moved)
    assert abs(d[0] - 0.01) < 1e-4


def test_open_mesh_is_rejected():
    v = np.asarray(MESH.vertices)
    t = np.asarray(MESH.triangles)[1:]  # one triangle missing
    with pytest.raises(VisionInputError, match="not watertight"):
        signed_deviation(np.zeros((3, 3)), (v, t))
    flipped = np.asarray(MESH.triangles).copy()
    flipped[0] = flipped[0, ::-1]
    with pytest.raises(VisionInputError, match="oriented"):
        signed_deviation(np.zeros((3, 3)), (v, flipped))


def test_dent_and_bump_are_found_with_size_and_depth():
    pts = top_patch(12000, seed=1)
    dent_c, bump_c = np.array([-30.0, -1.0]), np.array([-16.0, 0.0])
    r_d = np.hypot(pts[:, 0] - dent_c[0], pts[:, 1] - dent_c[1])
    r_b = np.hypot(pts[:, 0] - bump_c[0], pts[:, 1] - bump_c[1])
    pts[:, 2] -= 0.30 * np.clip(1.0 - (r_d / 2.5) ** 2, 0.0, None)  # 5 mm wide, 0.3 deep
    pts[:, 2] += 0.15 * np.clip(1.0 - (r_b / 1.5) ** 2, 0.0, None)  # 3 mm wide, 0.15 high
    dev = signed_deviation(pts, MESH)
    defects = find_surface_defects(pts, dev, tolerance_mm=0.05, min_points=10)
    kinds = sorted(d.kind for d in defects)
    assert kinds == ["bump", "dent"]
    dent = next(d for d in defects if d.kind == "dent")
    bump = next(d for d in defects if d.kind == "bump")
    assert np.linalg.norm(dent.centroid[:2] - dent_c) < 0.3
    assert np.linalg.norm(bump.centroid[:2] - bump_c) < 0.3
    assert abs(dent.depth_mm - 0.30) < 0.03 and abs(bump.depth_mm - 0.15) < 0.03
    # Out of tolerance where depth * (1 - (r/R)^2) > 0.05: r < R sqrt(1 - 0.05 / depth).
    assert abs(dent.size_mm - 5.0 * np.sqrt(1 - 0.05 / 0.30)) < 0.5
    assert abs(bump.size_mm - 3.0 * np.sqrt(1 - 0.05 / 0.15)) < 0.5
    assert np.all(dev[dent.indices] < -0.05)


def test_noise_alone_gives_no_defects():
    pts = top_patch(5000, seed=2)
    dev = signed_deviation(pts, MESH)
    assert find_surface_defects(pts, dev, tolerance_mm=0.03) == []


def test_missing_material_from_uncovered_cad_surface():
    # A full-surface scan with the top of boss A (centre (-22, 12), r 6, top z 10) gone.
    pts = full_scan(40000, 0.005, seed=3)
    gone = (np.hypot(pts[:, 0] + 22.0, pts[:, 1] - 12.0) < 6.5) & (pts[:, 2] > 9.0)
    pts = pts[~gone]
    dev = signed_deviation(pts, MESH)
    defects = find_surface_defects(pts, dev, tolerance_mm=0.05, cad_mesh=MESH)
    missing = [d for d in defects if d.kind == "missing"]
    assert len(missing) == 1
    m = missing[0]
    assert np.linalg.norm(m.centroid - [-22.0, 12.0, 10.0]) < 0.5
    assert 10.0 < m.size_mm < 13.0


def test_missing_material_in_a_single_view_uses_the_sensor_position():
    import open3d as o3d

    d = np.array([0.05, 0.1, 1.0]) / np.linalg.norm([0.05, 0.1, 1.0])
    e1 = np.cross(d, [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    g = np.arange(-50.0, 50.0, 0.4)
    gu, gv = (a.reshape(-1, 1) for a in np.meshgrid(g, g))
    origins = 300.0 * d + gu * e1 + gv * e2
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(MESH))
    rays = np.hstack([origins, np.broadcast_to(-d, origins.shape)]).astype(np.float32)
    t = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy().astype(float)
    ok = np.isfinite(t)
    pts = origins[ok] - t[ok, None] * d
    gone = (np.hypot(pts[:, 0] - 5.0, pts[:, 1] + 12.0) < 4.3) & (pts[:, 2] > 5.5)
    pts = pts[~gone]  # boss B's top (z 6, r 4 at (5, -12)) broken off
    dev = signed_deviation(pts, MESH)
    defects = find_surface_defects(pts, dev, tolerance_mm=0.05, cad_mesh=MESH,
                                   sensor_origin=300.0 * d)
    assert [x.kind for x in defects] == ["missing"]
    assert np.linalg.norm(defects[0].centroid - [5.0, -12.0, 6.0]) < 0.6
    assert 7.0 < defects[0].size_mm < 8.5
    # Without the sensor position the unseen bottom and walls count as missing too.
    assert len(find_surface_defects(pts, dev, tolerance_mm=0.05, cad_mesh=MESH)) > 1


def test_bad_defect_inputs():
    pts = top_patch(100, seed=4)
    with pytest.raises(VisionInputError, match="tolerance"):
        find_surface_defects(pts, np.zeros(100), tolerance_mm=0.0)
    with pytest.raises(VisionInputError, match="match"):
        find_surface_defects(pts, np.zeros(99), tolerance_mm=0.1)
    with pytest.raises(VisionInputError, match="finite"):
        find_surface_defects(pts, np.full(100, np.nan), tolerance_mm=0.1)
    ragged = [[0.0, 0.0, 0.0], [1.0, 2.0]] * 50
    with pytest.raises(VisionInputError, match="points"):
        find_surface_defects(ragged, np.zeros(100), tolerance_mm=0.1)
    with pytest.raises(VisionInputError, match="tolerance_mm"):
        find_surface_defects(pts, np.zeros(100), tolerance_mm="0.1")
    with pytest.raises(VisionInputError, match="deviation"):
        find_surface_defects(pts, ["0"] * 100, tolerance_mm=0.1)
    for bad in (np.zeros(2), np.zeros((2, 2)), ["a", "b", "c"], [np.nan, 0.0, 0.0]):
        with pytest.raises(VisionInputError, match="sensor_origin"):
            find_surface_defects(pts, np.zeros(100), tolerance_mm=0.1, cad_mesh=MESH,
                                 sensor_origin=bad)


def test_prepared_target_gives_the_same_results():
    from dg_vision.inspect3d import prepare_cad

    cad = prepare_cad(MESH)
    pts = full_scan(20000, 0.005, seed=5)
    dev = signed_deviation(pts, cad)
    np.testing.assert_array_equal(dev, signed_deviation(pts, MESH))
    a = find_surface_defects(pts, dev, tolerance_mm=0.05, cad_mesh=cad, sensor_origin=[0, 0, 300])
    b = find_surface_defects(pts, dev, tolerance_mm=0.05, cad_mesh=MESH,
                             sensor_origin=[0, 0, 300])
    assert [(d.kind, d.n_points) for d in a] == [(d.kind, d.n_points) for d in b]
    assert cad.scene() is cad.scene()  # built once per target
