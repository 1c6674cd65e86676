"""SPC statistics against values computed by hand and with numpy/statistics."""

import math
import statistics

import numpy as np
import pytest

from dg_vision.errors import VisionInputError
from dg_vision.recipe import Measured
from dg_vision.spc import SpcTable


def test_two_sided_cp_cpk_match_textbook_formulas():
    rng = np.random.default_rng(3)
    vals = rng.normal(10.02, 0.01, 200)
    t = SpcTable()
    for v in vals:
        t.add("w.width", v, 9.95, 10.05, "mm")
    r = t.row("w.width")
    mu, sd = statistics.fmean(vals), statistics.stdev(vals)
    assert r.n == 200 and r.unit == "mm"
    assert r.mean == pytest.approx(mu, rel=1e-12)
    assert r.sigma == pytest.approx(sd, rel=1e-12)
    assert r.cp == pytest.approx(0.10 / (6 * sd), rel=1e-9)
    assert r.cpk == pytest.approx(min(10.05 - mu, mu - 9.95) / (3 * sd), rel=1e-9)
    assert r.cpk < r.cp  # off-centre process
    assert r.out_of_tolerance == int(np.sum((vals < 9.95) | (vals > 10.05)))
    assert r.reason == ""


def test_hand_computed_small_sample():
    t = SpcTable()
    for v in (1.0, 2.0, 3.0, 4.0):       # mean 2.5, sample sigma sqrt(5/3)
        t.add("a", v, 0.0, 5.0)
    r = t.row("a")
    sd = math.sqrt(5 / 3)
    assert r.sigma == pytest.approx(sd)
    assert r.cp == pytest.approx(5 / (6 * sd))
    assert r.cpk == pytest.approx(2.5 / (3 * sd))
    assert r.out_of_tolerance == 0


def test_one_sided_limits_give_cpk_but_no_cp():
    t = SpcTable()
    for v in (0.1, 0.2, 0.3):
        t.add("anomaly.score", v, upper=0.5)        # upper only
        t.add("match.score", v, lower=0.0)          # lower only
    up, lo = t.row("anomaly.score"), t.row("match.score")
    sd = 0.1
    assert math.isnan(up.cp) and "one-sided" in up.reason
    assert up.cpk == pytest.approx((0.5 - 0.2) / (3 * sd))
    assert math.isnan(lo.cp)
    assert lo.cpk == pytest.approx((0.2 - 0.0) / (3 * sd))


def test_fewer_than_two_samples_and_missing_values():
    t = SpcTable()
    t.add("x", 1.0, 0.0, 2.0)
    t.add("y", math.nan, 0.0, 2.0)
    t.add("y", 5.0, 0.0, 2.0)
    rx, ry = t.row("x"), t.row("y")
    assert rx.n == 1 and rx.mean == 1.0 and math.isnan(rx.sigma) and math.isnan(rx.cpk)
    assert "need >= 2" in rx.reason
    # NaN (not measured) is out of tolerance but not part of the statistics.
    assert ry.n == 1 and ry.not_measured == 1 and ry.out_of_tolerance == 2
    t.add("z", 1.0)
    t.add("z", 2.0)
    rz = t.row("z")
    assert math.isnan(rz.cp) and math.isnan(rz.cpk) and "no tolerance" in rz.reason


def test_zero_spread_is_infinite_capability_with_reason():
    t = SpcTable()
    for _ in range(3):
        t.add("c.count", 4.0, 4.0, 4.0)
    r = t.row("c.count")
    assert r.sigma == 0.0 and r.cpk == math.inf and "zero spread" in r.reason


def test_bad_limits_are_rejected():
    t = SpcTable()
    with pytest.raises(VisionInputError, match="lower limit"):
        t.add("a", 1.0, 2.0, 1.0)
    with pytest.raises(VisionInputError, match="NaN"):
        t.add("a", 1.0, math.nan, 1.0)
    with pytest.raises(VisionInputError, match="empty"):
        t.add("", 1.0)


def test_csv_and_markdown(tmp_path):
    t = SpcTable()
    t.add_measurements([Measured("h.diameter", "mm", 2.0, 2.0, 1.9, 2.1, True),
                        Measured("anomaly.score", "score", 0.3, math.nan, -math.inf, 0.5,
                                 True)])
    t.add_measurements([Measured("h.diameter", "mm", 2.02, 2.0, 1.9, 2.1, True),
                        Measured("anomaly.score", "score", 0.7, math.nan, -math.inf, 0.5,
                                 False)])
    text = t.to_csv(tmp_path / "spc.csv")
    assert (tmp_path / "spc.csv").read_text() == text
    lines = text.strip().split("\n")
    assert lines[0].startswith("name,unit,n,mean,sigma,lower,upper,cp,cpk")
    assert lines[1].startswith("h.diameter,mm,2,2.01,")
    assert ",-inf,0.5," in lines[2] and lines[2].split(",")[9] == "1"  # out_of_tolerance
    md = t.to_markdown()
    assert md.count("\n") == 4 and "| h.diameter | mm | 2 | 2.01 |" in md
    assert t.names() == ["h.diameter", "anomaly.score"]
