"""The stamp synchroniser (pure): exact and approximate pairing, drops, three topics."""

import pytest

from dg_vision.stamp_sync import StampSync


def test_stamp_sync_exact_pairs_and_drops():
    s = StampSync(["image", "info"], slop_ns=0, queue_size=3)
    assert s.add("image", 100, "i100") == []
    assert s.add("info", 90, "c90") == []          # older than the image: never matches
    got = s.add("info", 100, "c100")
    assert got == [{"image": (100, "i100"), "info": (100, "c100")}]
    assert s.dropped["info"] == 1 and s.pending() == {"image": 0, "info": 0}
    # image without info, then the next pair: the lone image is dropped
    s.add("image", 200, "i200")
    s.add("image", 300, "i300")
    assert s.add("info", 300, "c300")[0]["image"] == (300, "i300")
    assert s.dropped["image"] == 1 and s.matched == 2
    # queue overflow
    for t in (400, 500, 600, 700):
        s.add("image", t, t)
    assert s.dropped["image"] == 2 and s.pending()["image"] == 3


def test_stamp_sync_approximate_and_three_topics():
    s = StampSync(["image", "info", "points"], slop_ns=5, queue_size=10)
    s.add("points", 1003, "p")
    s.add("image", 1000, "i")
    assert s.add("info", 1009, "c") == []          # 9 ns off: outside the slop
    got = s.add("info", 998, "c2")
    assert got and got[0]["info"] == (998, "c2") and got[0]["points"] == (1003, "p")
    single = StampSync(["points"])
    assert single.add("points", 5, "x") == [{"points": (5, "x")}]
    with pytest.raises(ValueError):
        StampSync(["a", "a"])
