"""Mission file loading and validation (pure): a valid file and every invalid case."""

import copy
import math
import pathlib
import re

import pytest
import yaml
from shapely.geometry import Point

from dg_autonomy.mission.mission_file import MissionError, load_mission, parse_mission
from dg_common.geodesy import Datum, enu_to_geodetic

REPO = pathlib.Path(__file__).resolve().parents[3]
CONFIG = REPO / "config" / "usv_mission.yaml"

BASE = {"mission": {
    "name": "test_bay",
    "frame": "enu",
    "area": {"polygon": [[0, 0], [200, 0], [200, 120], [0, 120]],
             "islands": [[[90, 50], [110, 50], [110, 70], [90, 70]]]},
    "home": [20, 20],
    "survey": {"swath_m": 20.0, "speed_mps": 2.0, "shore_margin_m": 8.0},
    "samples": {"points": [[50, 30], [150, 90]], "dwell_s": 10.0},
}}


def write(tmp_path, doc, name="m.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return p


def variant(**changes):
    """BASE with dotted-path changes, e.g. {'survey.speed_mps': -2}; None deletes."""
    doc = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = doc["mission"]
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return doc


def test_config_mission_is_valid():
    m = load_mission(CONFIG)
    assert m.name == "reservoir_survey" and m.frame == "enu"
    assert m.home_xy == (0.0, 0.0) and len(m.islands) == 2
    assert len(m.samples) == 6 and [s.sample_id for s in m.samples][:2] == ["S01", "S02"]
    assert m.speed_mps == 2.0 and m.swath_m == 30.0 and m.dwell_s == 15.0
    assert m.geofence.contains(m.outline)             # the reservoir shore around the bay
    assert len(m.area.interiors) == 2                 # islands are holes of the water
    assert all(m.area.contains(Point(s.x_m, s.y_m)) for s in m.samples)
    assert m.datum == Datum(47.3977, 8.5456, 488.0) and len(m.digest) == 64


def test_base_variant_is_valid(tmp_path):
    m = load_mission(write(tmp_path, BASE))
    assert m.transit_speed_mps == 2.0 and m.geofence.equals(m.outline)
    assert m.planner_inflation_m == 5.0 and m.sweep_angle_rad is None


def test_latlon_frame_matches_enu(tmp_path):
    datum = Datum(47.3977, 8.5456, 488.0)

    def ll(p):
        g = enu_to_geodetic(datum, p[0], p[1], 0.0)
        return [g.lat_deg, g.lon_deg]

    m0 = BASE["mission"]
    doc = variant(frame="latlon", datum={"lat_deg": 47.3977, "lon_deg": 8.5456, "alt_m": 488.0})
    doc["mission"]["area"] = {"polygon": [ll(p) for p in m0["area"]["polygon"]],
                              "islands": [[ll(p) for p in m0["area"]["islands"][0]]]}
    doc["mission"]["home"] = ll(m0["home"])
    doc["mission"]["samples"]["points"] = [ll(p) for p in m0["samples"]["points"]]
    m = load_mission(write(tmp_path, doc))
    ref = load_mission(write(tmp_path, BASE, "ref.yaml"))
    assert m.frame == "latlon"
    assert m.home_xy == pytest.approx(ref.home_xy, abs=1e-4)
    assert m.area.symmetric_difference(ref.area).area < 1e-3
    assert [c for s in m.samples for c in (s.x_m, s.y_m)] == pytest.approx(
        [c for s in ref.samples for c in (s.x_m, s.y_m)], abs=1e-4)


def test_grid_samples(tmp_path):
    doc = variant(**{"samples": {"spacing_m": 50.0, "dwell_s": 5.0}})
    m = load_mission(write(tmp_path, doc))
    assert m.sample_spacing_m == 50.0 and len(m.samples) >= 4
    water = m.area.buffer(-m.shore_margin_m + 1e-6)
    assert all(water.covers(Point(s.x_m, s.y_m)) for s in m.samples)


@pytest.mark.parametrize("changes, message", [
    # The three acceptance cases.
    ({"area.polygon": [[0, 0], [200, 120], [200, 0], [0, 120]]},
     "area.polygon is not a simple polygon: Self-intersection"),
    ({"home": [250, 20]}, "mission.home (250.0, 20.0) is outside the survey area"),
    ({"survey.speed_mps": -2.0}, "survey.speed_mps must be > 0, got -2"),
    # More.
    ({"survey.speed_mps": 0}, "survey.speed_mps must be > 0, got 0"),
    ({"survey.speed_mps": 40.0}, "survey.speed_mps must be <= 15"),
    ({"survey.speed_mps": "fast"}, "survey.speed_mps must be a number"),
    ({"survey.swath_m": -1.0}, "survey.swath_m must be > 0"),
    ({"survey.shore_margin_m": 70.0}, "leaves no water to survey"),
    ({"home": [100, 60]}, "mission.home (100.0, 60.0) is on area.islands[0]"),
    ({"home": [4, 4]}, "closer than planner.inflation_m"),
    ({"area.islands": [[[190, 50], [230, 50], [230, 70], [190, 70]]]},
     "area.islands[0] is not inside area.polygon"),
    ({"area.islands": [[[90, 50], [110, 50], [110, 70], [90, 70]],
                       [[100, 60], [120, 60], [120, 80], [100, 80]]]},
     "area.islands[1] overlaps area.islands[0]"),
    ({"area.islands": [[[90, 50], [110, 70], [110, 50], [90, 70]]]},
     "area.islands[0] is not a simple polygon"),
    ({"area.polygon": [[0, 0], [200, 0]]}, "needs at least 3 distinct points"),
    ({"area.polygon": [[0, 0], [200, 0], [200]]}, "area.polygon[2] must be a pair"),
    ({"samples.points": [[100, 60]]}, "samples.points[0] (100.0, 60.0) is on an island"),
    ({"samples.points": [[300, 60]]}, "samples.points[0] (300.0, 60.0) is outside the survey"),
    ({"samples.spacing_m": 30.0}, "exactly one of spacing_m (grid) or points"),
    ({"samples.dwell_s": -5.0}, "samples.dwell_s must be >= 0"),
    ({"survey.swath": 20.0}, "mission.survey: unknown key(s) ['swath']"),
    ({"survey.speed_mps": None}, "mission.survey: missing required key(s) ['speed_mps']"),
    ({"home": None}, "mission: missing required key(s) ['home']"),
    ({"frame": "utm"}, "mission.frame must be 'enu' or 'latlon'"),
    ({"frame": "latlon"}, "mission.datum is required when frame is 'latlon'"),
    ({"datum": {"lat_deg": 95.0, "lon_deg": 8.0}}, "mission.datum: datum: latitude 95.0"),
    ({"name": "my mission"}, "mission.name must match"),
    ({"geofence": {"polygon": [[30, 0], [200, 0], [200, 120], [30, 120]]}},
     "is not inside the geofence"),
    ({"transit_speed_mps": -1.0}, "mission.transit_speed_mps must be > 0"),
])
def test_invalid_mission_gives_clear_error(tmp_path, changes, message):
    path = write(tmp_path, variant(**changes))
    with pytest.raises(MissionError) as exc:
        load_mission(path)
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_non_finite_value(tmp_path):
    text = yaml.safe_dump(BASE).replace("speed_mps: 2.0", "speed_mps: .nan")
    with pytest.raises(MissionError, match="survey.speed_mps must be finite"):
        load_mission(write(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    ("mission: [1, 2", "not valid YAML"),
    ("- 1\n- 2\n", "top level must be a mapping"),
    ("other: 1\n", "top level: unknown key(s) ['other']"),
])
def test_malformed_file(tmp_path, text, message):
    with pytest.raises(MissionError, match=re.escape(message)):
        load_mission(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(MissionError, match="cannot read"):
        load_mission(tmp_path / "nope.yaml")


def test_parse_mission_without_file():
    m = parse_mission(copy.deepcopy(BASE["mission"]))
    assert m.source == "<memory>" and math.isclose(m.area.area, 200 * 120 - 400)
