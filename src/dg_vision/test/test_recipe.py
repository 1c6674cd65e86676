"""Recipe machinery: validation, fixturing, tolerances, units, naming, errors, overlay.

Every run uses the real tools (metrology, anomaly, inspect3d) on the synthetic board of
``vision_test_parts`` whose geometry is known exactly.
"""

import copy
import math
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from vision_test_parts import (
    CENTER,
    H,
    W,
    pose_matrix,
    recipe_dict,
    render_board,
)

from dg_vision.errors import VisionInputError
from dg_vision.recipe import (
    TOOL_TYPES,
    Tolerance,
    fixture_transform,
    load_recipe,
    parse_tolerance,
)

CONFIG = Path(__file__).resolve().parents[1] / "config"


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    path = tmp_path_factory.mktemp("golden") / "golden.png"
    cv2.imwrite(str(path), render_board(noise=0.0))
    return path


@pytest.fixture(scope="module")
def recipe(golden):
    return load_recipe(recipe_dict(golden))


def values(outcome):
    return {m.name: m for m in outcome.measurements}


# --- tolerances -------------------------------------------------------------------------

def test_tolerance_forms():
    assert parse_tolerance({"nominal": 10, "tol": 0.5}) == Tolerance(10, 9.5, 10.5)
    assert parse_tolerance({"nominal": 10, "tol": [0.2, 0.5]}) == Tolerance(10, 9.8, 10.5)
    t = parse_tolerance({"upper": 3})
    assert t.lower == -math.inf and t.upper == 3 and math.isnan(t.nominal)
    assert t.accepts(-1e9) and t.accepts(3.0) and not t.accepts(3.0001)
    assert not t.accepts(math.nan)
    assert parse_tolerance({"nominal": 5, "lower": 4}).upper == math.inf


@pytest.mark.parametrize("spec, words", [
    ({"tol": 1}, "needs a 'nominal'"),
    ({"nominal": 1}, "needs 'tol'"),
    ({"nominal": 1, "tol": 1, "upper": 3}, "not both"),
    ({"lower": 2, "upper": 1}, "lower 2.0 > upper 1.0"),
    ({"nominal": 5, "lower": 1, "upper": 2}, "outside"),
    ({"nominal": 5, "tol": -1}, ">= 0"),
    ({"nominal": 5, "tol": [1, 2, 3]}, "[minus, plus]"),
    ({"lower": "a"}, "must be a number"),
    ({"nominal": math.nan, "tol": 1}, "finite"),
    ({"tolerance": 1}, "unknown key"),
    ({}, "no limits"),
])
def test_bad_tolerances_are_named(spec, words):
    with pytest.raises(ValueError, match=None) as info:
        parse_tolerance(spec)
    assert words in str(info.value)


# --- validation ----------------------------------------------------------------------------

def _bad(golden, mutate):
    d = recipe_dict(golden)
    mutate(d)
    with pytest.raises(VisionInputError) as info:
        load_recipe(d)
    return str(info.value)


@pytest.mark.parametrize("mutate, step, fld, words", [
    (lambda d: d["steps"][1].update(type="circel"), "hole", "type", "unknown tool type"),
    (lambda d: d["steps"][1].pop("radius"), "hole", "radius", "required"),
    (lambda d: d["steps"][1].update(radius=-3), "hole", "radius", "> 0"),
    (lambda d: d["steps"][2].update(line=[[1, 2]]), "bar", "line", "[[x0, y0], [x1, y1]]"),
    (lambda d: d["steps"][2].update(line=[[1, 2], [1, 2]]), "bar", "line", "shorter"),
    (lambda d: d["steps"][4].update(roi=[10, 10, 0, 5]), "dots", "roi", "at least 2x2"),
    (lambda d: d["steps"][4].update(roi=[-5, 10, 20, 20]), "dots", "roi", "negative"),
    (lambda d: d["steps"][4].update(roi="all"), "dots", "roi", "[x, y, width, height]"),
    (lambda d: d["steps"][2].update(tol=[0.5]), "bar", "tol", "[minus, plus]"),
    (lambda d: d["steps"][3].update(lower=22), "left_edge", "lower", "lower 22.0 > upper"),
    (lambda d: d["steps"][1]["tolerances"].update(area={"upper": 3}), "hole",
     "tolerances.area", "not 'area'"),
    (lambda d: d["steps"][1]["tolerances"].update(diameter={"upper": 3}), "hole",
     "tolerances.diameter", "given twice"),
    (lambda d: d["steps"][1].update(tolerence={"upper": 3}), "hole", "tolerence",
     "unknown field"),
    (lambda d: d["steps"][2].update(polarity="up"), "bar", "polarity", "one of"),
    (lambda d: d["steps"][2].update(name="hole"), "hole", "name", "duplicate"),
    (lambda d: d["steps"][1].update(fixture="nowhere"), "hole", "fixture", "no earlier step"),
    (lambda d: d["steps"][2].update(fixture="hole"), "bar", "fixture", "must be a shape_match"),
    (lambda d: d["steps"].insert(0, dict(d["steps"][1])), "hole", "fixture",
     "no earlier step"),
    (lambda d: d["steps"][0].update(model_image="missing.png"), "locate", "model_image",
     "no such file"),
    (lambda d: d["steps"][0].update(model_roi=[300, 200, 200, 200]), "locate", "model_roi",
     "exceeds"),
    (lambda d: d["steps"][0].update(min_score=1.5), "locate", "min_score", "(0, 1]"),
    (lambda d: d["steps"][5].update(pattern="SN-("), "label", "pattern", "regular"),
    (lambda d: d["steps"][5].update(formats=["DataMatrx"]), "label", "formats",
     "unknown code format"),
    (lambda d: d["steps"].append({"name": "flat", "type": "flatness", "fixture": "locate"}),
     "flat", "fixture", "cannot follow"),
    (lambda d: d["steps"].append({"name": "ad", "type": "anomaly", "model": "none.dgm"}),
     "ad", "model", "does not exist"),
    (lambda d: d["steps"].append({"name": "s", "type": "step_height",
                                  "region_a": [0, 0, 1, 1], "region_b": [3, 3, 2, 4]}),
     "s", "region_b", "empty"),
    (lambda d: d["steps"].append({"name": "9x", "type": "flatness"}), "9x", "name",
     "identifier"),
])
def test_validation_errors_name_step_and_field(golden, mutate, step, fld, words):
    msg = _bad(golden, mutate)
    assert f"step '{step}'" in msg, msg
    assert f"field '{fld}'" in msg, msg
    assert words in msg, msg


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.pop("name"), "'name' is required"),
    (lambda d: d.update(steps=[]), "non-empty list"),
    (lambda d: d.update(stepz=[]), "unknown field 'stepz'"),
    (lambda d: d.update(units={"length": "inch"}), "units.length"),
    (lambda d: d.update(units={"mm_per_px": 0.1, "working_distance_mm": 200}), "not both"),
    (lambda d: d.update(units={"length": "mm"}), "units.mm_per_px"),
    (lambda d: d.update(image_size=[0, 10]), "image_size"),
])
def test_recipe_level_errors(golden, mutate, words):
    assert words in _bad(golden, mutate)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(VisionInputError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(VisionInputError, match="not valid YAML"):
        load_recipe(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(VisionInputError, match="mapping"):
        load_recipe(bad)


def test_anomaly_model_of_another_backbone_is_rejected_naming_the_step(golden, tmp_path,
                                                                       anomaly_model):
    foreign = tmp_path / "foreign.dgm"
    with zipfile.ZipFile(anomaly_model) as src, zipfile.ZipFile(foreign, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "meta.json":
                data = data.replace(b'"efficientnet', b'"resnet18-not-ours-efficientnet')
            dst.writestr(item, data)
    d = recipe_dict(golden, extra_steps=[{"name": "surface", "type": "anomaly",
                                          "model": str(foreign)}])
    with pytest.raises(VisionInputError) as info:
        load_recipe(d)
    msg = str(info.value)
    assert "step 'surface'" in msg and "field 'model'" in msg and "backbone" in msg
    # the node's override: a model for a recipe without an anomaly step is inconsistent
    with pytest.raises(VisionInputError, match="no anomaly step"):
        load_recipe(recipe_dict(golden), anomaly_model=str(anomaly_model))


# --- running -------------------------------------------------------------------------------

def test_good_part_in_reference_pose(recipe):
    assert recipe.needs_image and not recipe.needs_points and not recipe.has_anomaly
    out = recipe.run(render_board(seed=1))
    v = values(out)
    assert [m.name for m in out.measurements] == recipe.measurement_names()
    assert list(v) == ["locate.score", "locate.x", "locate.y", "locate.angle",
                       "hole.diameter", "hole.x", "hole.y", "bar.width", "left_edge.position",
                       "dots.count", "label.count", "label.match"]
    assert out.ok, [(m.name, m.message) for m in out.measurements if not m.ok]
    assert out.failures == []
    assert v["hole.diameter"].value == pytest.approx(36.0, abs=0.15)
    assert v["hole.x"].value == pytest.approx(130.0, abs=0.1)
    assert v["hole.y"].value == pytest.approx(110.0, abs=0.1)
    assert v["bar.width"].value == pytest.approx(16.0, abs=0.15)
    assert v["left_edge.position"].value == pytest.approx(20.0, abs=0.1)
    assert v["dots.count"].value == 3
    assert v["locate.angle"].value == pytest.approx(0.0, abs=0.1)
    assert (v["locate.x"].value, v["locate.y"].value) == pytest.approx(CENTER, abs=0.1)
    assert v["hole.diameter"].unit == "px" and v["dots.count"].unit == "count"
    assert v["hole.diameter"].lower == 35.0 and v["hole.diameter"].upper == 37.0
    assert v["hole.diameter"].nominal == 36.0
    assert v["locate.score"].lower == 0.7 and v["locate.score"].upper == math.inf
    assert math.isnan(v["locate.x"].nominal)
    assert out.part_id == "SN-0042" and out.codes == [("label", "DataMatrix", "SN-0042")]
    assert math.isnan(out.anomaly_score) and out.anomaly_map is None
    # detections: match, hole, bar, edge, 3 dots, code
    kinds = [d.class_id for d in out.detections]
    assert kinds.count("dots") == 3 and "locate" in kinds and "code:DataMatrix" in kinds
    hole = next(d for d in out.detections if d.class_id == "hole")
    assert (hole.x, hole.y, hole.w) == pytest.approx((130.0, 110.0, 36.0), abs=0.2)
    code = next(d for d in out.detections if d.class_id.startswith("code"))
    assert code.id == "SN-0042"
    # overlay: BGR, same size, green PASS banner
    assert out.overlay.shape == (H, W, 3) and out.overlay.dtype == np.uint8
    b, g, r = out.overlay[2, W - 3]
    assert g > 150 and r < 100


@pytest.mark.parametrize("dx, dy, angle", [(14.0, -9.0, 17.0), (-11.5, 6.25, -33.0)])
def test_fixture_follows_the_part(golden, recipe, dx, dy, angle):
    img = render_board(dx, dy, angle, seed=2)
    out = recipe.run(img)
    v = values(out)
    assert out.ok, [(m.name, m.value, m.message) for m in out.measurements if not m.ok]
    assert v["locate.angle"].value == pytest.approx(angle, abs=0.1)
    m = pose_matrix(dx, dy, angle)
    assert (v["locate.x"].value, v["locate.y"].value) == pytest.approx(
        tuple((m @ [*CENTER, 1.0])[:2]), abs=0.15)
    # positions come out in the part (reference) frame, sizes unchanged
    assert v["hole.x"].value == pytest.approx(130.0, abs=0.2)
    assert v["hole.y"].value == pytest.approx(110.0, abs=0.2)
    assert v["hole.diameter"].value == pytest.approx(36.0, abs=0.2)
    assert v["bar.width"].value == pytest.approx(16.0, abs=0.2)
    assert v["left_edge.position"].value == pytest.approx(20.0, abs=0.2)
    # the hole's detection is in image coordinates
    hole = next(d for d in out.detections if d.class_id == "hole")
    assert (hole.x, hole.y) == pytest.approx(tuple((m @ [130.0, 110.0, 1.0])[:2]), abs=0.2)
    # without the fixture the same recipe measures in the wrong place and fails
    loose = load_recipe(recipe_dict(golden, fixture=False))
    assert not loose.run(img).ok


def test_fixture_transform_round_trip():
    f = fixture_transform(CENTER, 250.0, 120.0, 30.0, 1.0)
    assert np.allclose(f, pose_matrix(50.0, -30.0, 30.0))
    f2 = fixture_transform((10.0, 20.0), 10.0, 20.0, 0.0, 2.0)
    assert np.allclose(f2 @ [11.0, 20.0, 1.0], [12.0, 20.0, 1.0])


def test_defects_fail_with_named_measurements_and_red_banner(recipe):
    out = recipe.run(render_board(5, 3, 8, hole_r=19.5, bar_w=17.5, dots=2, code="SN-0043",
                                  seed=3))
    v = values(out)
    assert not out.ok
    assert set(out.failures) == {"hole.diameter", "bar.width", "dots.count", "label.match"}
    assert v["hole.diameter"].value == pytest.approx(39.0, abs=0.2)
    assert "above the upper limit 37" in v["hole.diameter"].message
    assert v["dots.count"].value == 2 and "below the lower limit 3" in v["dots.count"].message
    assert v["label.count"].ok and out.part_id == "SN-0043"
    b, g, r = out.overlay[2, W - 3]
    assert r > 150 and g < 100


def test_missing_part_gives_nan_measurements_not_an_exception(recipe):
    out = recipe.run(render_board(present=False, seed=4))
    assert not out.ok
    for m in out.measurements:
        assert not m.ok and m.message
        if m.name != "label.count":
            assert math.isnan(m.value), m.name
    v = values(out)
    assert "no match" in v["locate.score"].message
    assert "fixture step 'locate' did not find the part" in v["hole.diameter"].message


def test_roi_outside_the_image_is_a_failed_measurement(golden):
    d = recipe_dict(golden, fixture=False)
    d["steps"][4]["roi"] = [500, 500, 20, 20]
    v = values(load_recipe(d).run(render_board()))
    assert math.isnan(v["dots.count"].value) and "outside" in v["dots.count"].message


def test_units_mm(golden):
    r = load_recipe(recipe_dict(golden, units={"mm_per_px": 0.05}))
    d = copy.deepcopy(recipe_dict(golden, units={"working_distance_mm": 100.0}))
    d["steps"][1].update(nominal=1.8, tol=0.05)   # 36 px * 0.05 mm/px
    d["steps"][1]["tolerances"] = {}
    rw = load_recipe(d)
    img = render_board(seed=5)
    v = values(r.run(img))
    assert v["hole.diameter"].unit == "mm"
    assert v["hole.diameter"].value == pytest.approx(1.8, abs=0.01)
    assert v["hole.x"].value == pytest.approx(6.5, abs=0.01)
    assert v["dots.count"].unit == "count" and v["locate.angle"].unit == "deg"
    assert rw.needs_camera_info and not r.needs_camera_info
    v = values(rw.run(img, focal_px=2000.0))   # 100 mm / 2000 px
    assert v["hole.diameter"].value == pytest.approx(1.8, abs=0.01) and v["hole.diameter"].ok
    v = values(rw.run(img))   # no focal length (camera_info): lengths cannot be converted
    assert math.isnan(v["hole.diameter"].value) and "camera_info" in v["hole.diameter"].message
    assert v["dots.count"].ok


def test_bad_images_raise(recipe, golden):
    for bad, words in [(np.zeros((0, 0), np.uint8), "empty"),
                       (np.zeros((300, 400, 2), np.uint8), "shape"),
                       (np.full((300, 400), np.nan), "NaN")]:
        with pytest.raises(VisionInputError, match=words):
            recipe.run(bad)
    with pytest.raises(VisionInputError, match="give an image"):
        recipe.run()
    d = recipe_dict(golden)
    d["image_size"] = [640, 480]
    with pytest.raises(VisionInputError, match="expects 640x480"):
        load_recipe(d).run(render_board())
    # a colour image works the same
    assert recipe.run(cv2.cvtColor(render_board(seed=6), cv2.COLOR_GRAY2BGR)).ok


def test_anomaly_step(golden, anomaly_model):
    d = recipe_dict(golden, extra_steps=[{"name": "surface", "type": "anomaly",
                                          "model": str(anomaly_model), "fixture": "locate",
                                          "roi": [60, 40, 280, 220]}])
    r = load_recipe(d)
    assert r.has_anomaly and r.measurement_names()[-1] == "surface.score"
    good = r.run(render_board(3, -2, 4, seed=11))
    v = values(good)
    assert v["surface.score"].upper == pytest.approx(r.anomaly_models()[0].threshold)
    assert good.ok, [(m.name, m.value, m.message) for m in good.measurements if not m.ok]
    assert good.anomaly_map.shape == (H, W) and good.anomaly_score == v["surface.score"].value
    bad = r.run(render_board(3, -2, 4, seed=12, scratch=True))
    assert bad.failures == ["surface.score"]
    defects = [det for det in bad.detections if det.class_id == "anomaly"]
    assert defects, "the scratch must give an anomaly detection"
    m = pose_matrix(3, -2, 4)
    sx, sy = (m @ [175.0, 176.0, 1.0])[:2]          # scratch centre in the image
    assert any(abs(det.x - sx) < 25 and abs(det.y - sy) < 25 for det in defects)
    # heat map blended into the overlay where the scratch is
    assert not np.array_equal(bad.overlay[int(sy), int(sx)], good.overlay[int(sy), int(sx)])


# --- 3D ------------------------------------------------------------------------------------

def _plate_cloud(seed=0, step_mm=2.0, bow_mm=0.0):
    """A 60 x 40 mm plate at z = 0 with a raised block (z = step_mm) for x > 30 mm."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(0, 60, 121), np.linspace(0, 40, 81))
    z = np.where(x > 30, step_mm, 0.0) + bow_mm * ((x - 15) / 15) ** 2 * (x <= 30)
    pts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    pts[:, 2] += rng.normal(0, 0.002, len(pts))
    return pts


def test_3d_steps_and_missing_cloud():
    d = {"name": "plate3d", "steps": [
        {"name": "base", "type": "flatness", "region": [2, 2, 28, 38], "upper": 0.05},
        {"name": "step", "type": "step_height", "region_a": [2, 2, 28, 38],
         "region_b": [32, 2, 58, 38], "nominal": 2.0, "tol": 0.05},
    ]}
    r = load_recipe(d)
    assert r.needs_points and not r.needs_image
    out = r.run(points=_plate_cloud())
    v = values(out)
    assert out.ok, [(m.name, m.value, m.message) for m in out.measurements]
    assert v["base.flatness"].unit == "mm" and v["base.flatness"].value < 0.03
    assert v["step.height"].value == pytest.approx(2.0, abs=0.01)   # B above A
    assert out.overlay is None
    bowed = values(r.run(points=_plate_cloud(bow_mm=0.2)))
    assert not bowed["base.flatness"].ok
    # the parabola z = 0.2 ((x - 15) / 15)^2 over x in 2..28: zone 0.2 (13 / 15)^2
    assert bowed["base.flatness"].value == pytest.approx(0.2 * (13 / 15) ** 2, abs=0.01)
    # a 2D image alone: the 3D steps cannot measure
    v = values(r.run(image=render_board()))
    assert math.isnan(v["base.flatness"].value) and "no point cloud" in v["base.flatness"].message
    with pytest.raises(VisionInputError, match="NaN"):
        r.run(points=np.full((10, 3), np.nan))
    with pytest.raises(VisionInputError, match=r"\(N, 3\)"):
        r.run(points=np.zeros((10, 2)))


# --- the shipped example recipe ---------------------------------------------------------

def test_example_recipe_in_config_runs_on_its_golden_image():
    path = CONFIG / "example_board.yaml"
    data = yaml.safe_load(path.read_text())
    assert {s["type"] for s in data["steps"]} <= set(TOOL_TYPES)
    r = load_recipe(path)
    img = cv2.imread(str(CONFIG / "example_board_golden.png"), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    out = r.run(img)
    assert out.ok, [(m.name, m.value, m.message) for m in out.measurements if not m.ok]
    moved = r.run(render_board(8, 5, -12, seed=9))
    assert moved.ok, [(m.name, m.value, m.message) for m in moved.measurements if not m.ok]
    bad = r.run(render_board(8, 5, -12, hole_r=16.0, seed=9))
    assert not bad.ok and "hole.diameter" in bad.failures


def _sample_mesh(mesh, n, seed):
    """Area-uniform, seeded surface samples of a mesh (N, 3) and a mask of the top face."""
    rng = np.random.default_rng(seed)
    v, t = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    idx = rng.choice(len(t), n, p=area / area.sum())
    s, r2 = np.sqrt(rng.random(n)), rng.random(n)
    p = ((1 - s)[:, None] * a[idx] + (s * (1 - r2))[:, None] * b[idx]
         + (s * r2)[:, None] * c[idx])
    return p, p[:, 2] > p[:, 2].max() - 1e-6


def test_cad_deviation_and_surface_defects(tmp_path):
    import open3d as o3d

    from dg_vision.inspect3d.cad import example_part

    o3d.io.write_triangle_mesh(str(tmp_path / "part.ply"), example_part())
    d = {"name": "cad", "steps": [
        {"name": "surface", "type": "cad_deviation", "cad": "part.ply",
         "tolerance_mm": 0.1, "min_points": 15,
         "tolerances": {"defect_count": {"upper": 0}}, "report": ["max_defect_depth"]},
        {"name": "shape", "type": "cad_deviation", "cad": "part.ply", "tolerance_mm": 0.1,
         "min_points": 15, "upper": 0.3, "tolerances": {"rmse": {"upper": 0.05}}},
    ]}
    r = load_recipe(d, base_dir=tmp_path)      # the CAD file is relative to base_dir
    pts, top = _sample_mesh(example_part(), 20000, 0)
    pts += np.random.default_rng(1).normal(0, 0.01, pts.shape)
    dent = pts.copy()
    centre = pts[top][0]
    near = top & (np.linalg.norm(pts[:, :2] - centre[:2], axis=1) < 4.0)
    dent[near, 2] -= 0.6                       # a 0.6 mm deep, 8 mm wide dent in the top
    a = math.radians(6.0)                      # the scan lies off the CAD pose
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    good = values(r.run(points=pts @ rot.T + [3.0, -2.0, 1.0]))
    assert all(m.ok for m in good.values()), good
    assert good["surface.defect_count"].value == 0 and good["shape.rmse"].value < 0.05
    out = r.run(points=dent @ rot.T + [3.0, -2.0, 1.0])
    bad = values(out)
    assert out.failures == ["surface.defect_count", "shape.max_deviation"]
    assert bad["shape.defect_count"].ok          # informational: no limits given
    assert bad["surface.max_defect_depth"].value == pytest.approx(0.6, abs=0.05)
    assert bad["shape.max_deviation"].value == pytest.approx(0.6, abs=0.05)
    assert out.surface_defects[0].kind == "dent"
    with pytest.raises(VisionInputError, match="field 'cad'"):
        load_recipe(d)                          # relative to the current folder: missing
    assert r.steps[0].state["cad"] is r.steps[1].state["cad"]  # prepared once at load
    with pytest.raises(VisionInputError, match="unknown|surface_defects"):
        load_recipe({"name": "old", "steps": [{"name": "s", "type": "surface_defects",
                                               "cad": "part.ply"}]}, base_dir=tmp_path)


def test_open_cad_mesh_is_rejected_at_load(tmp_path):
    import open3d as o3d

    from dg_vision.inspect3d.cad import example_part

    mesh = example_part()
    mesh.triangles = o3d.utility.Vector3iVector(np.asarray(mesh.triangles)[1:])  # a hole
    o3d.io.write_triangle_mesh(str(tmp_path / "open.ply"), mesh)
    d = {"name": "open", "steps": [{"name": "shape", "type": "cad_deviation",
                                    "cad": "open.ply"}]}
    with pytest.raises(VisionInputError, match="field 'cad'.*not watertight"):
        load_recipe(d, base_dir=tmp_path)


def test_mm_without_a_scale_fails_at_load():
    # no length tolerance to catch it later: it used to load, then fail on every frame
    d = {"name": "mm", "units": {"length": "mm"},
         "steps": [{"name": "dots", "type": "blob_count", "upper": 3}]}
    with pytest.raises(VisionInputError, match="units.length.*units.mm_per_px"):
        load_recipe(d)


def test_overlay_only_when_asked(recipe):
    img = render_board(seed=1)
    with_overlay = recipe.run(img)
    without = recipe.run(img, overlay=False)
    assert with_overlay.overlay is not None and without.overlay is None
    assert [m.value for m in with_overlay.measurements] == pytest.approx(
        [m.value for m in without.measurements], nan_ok=True)
