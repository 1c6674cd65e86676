"""``dg bench``'s runner: what a benchmark measured survives a failing exit code."""

import json

from dg_bringup.bench_runner import run_one

SCRIPT = """
import json, sys
out = sys.argv[sys.argv.index("--json") + 1]
if {write}:
    json.dump({{"name": "b", "pass": True, "results": [{{"metric": "m", "ours": 1.0}}]}},
              open(out, "w"))
sys.exit({code})
"""


def _bench(tmp_path, write, code):
    script = tmp_path / "b.py"
    script.write_text(SCRIPT.format(write=write, code=code))
    return run_one(script, tmp_path)


def test_result_of_a_clean_exit_is_kept(tmp_path):
    assert _bench(tmp_path, True, 0)["pass"] is True


def test_exit_code_after_the_json_keeps_the_measurements_and_fails(tmp_path):
    result = _bench(tmp_path, True, 1)
    assert result["pass"] is False and result["error"] == "exit code 1"
    assert result["results"] == [{"metric": "m", "ours": 1.0}]
    assert json.loads((tmp_path / "b.json").read_text()) == result


def test_no_json_is_a_failure_record(tmp_path):
    result = _bench(tmp_path, False, 3)
    assert result["pass"] is False and result["results"] == []
    assert result["error"] == "exit code 3, no JSON result"
