"""``dg vision fit`` / ``dg vision score`` run in-process on folders of small images."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from dg_vision.cli import main


def write_crops(folder: Path, n: int, seed: int, *, spot: bool = False, prefix: str = "img",
                size: int = 64, ext: str = ".png", colour: bool = False) -> list[Path]:
    """Brick-texture crops (half scale, noise sigma 2), optionally with a dark spot."""
    folder.mkdir(parents=True, exist_ok=True)
    tex = cv2.resize(skimage.data.brick(), (256, 256), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        y, x = rng.integers(0, 256 - size, 2)
        c = tex[y:y + size, x:x + size].astype(np.float32) + rng.normal(0, 2, (size, size))
        c = np.clip(c, 0, 255).astype(np.uint8)
        if spot:
            cv2.circle(c, (int(rng.integers(16, size - 16)), int(rng.integers(16, size - 16))),
                       size // 9, 10, -1)
        if colour:
            c = cv2.cvtColor(c, cv2.COLOR_GRAY2BGR)
        p = folder / f"{prefix}{i:02d}{ext}"
        assert cv2.imwrite(str(p), c)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("vision_cli")
    write_crops(root / "good", 14, 0)
    model = root / "model.dgad"
    assert main(["fit", "--good", str(root / "good"), "--out", str(model), "--image-size", "64",
                 "--coreset", "0.25", "--seed", "1", "--quiet"]) == 0
    return root, model


def test_fit_reports_progress_and_threshold(tmp_path, capsys):
    write_crops(tmp_path / "good", 5, 3)
    (tmp_path / "good" / "notes.txt").write_text("not an image")
    assert main(["fit", "--good", str(tmp_path / "good"), "--out", str(tmp_path / "m.dgad"),
                 "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "read 5/5: img04.png (64x64)" in out
    assert "features 4/4" in out and "coreset" in out and "calibration 1/1" in out
    assert "threshold" in out and (tmp_path / "m.dgad").is_file()


def test_score_folder_json_heatmaps_and_bad_image(fitted, tmp_path, capsys):
    _, model = fitted
    test = tmp_path / "test"
    write_crops(test, 4, 10, prefix="good")
    write_crops(test, 4, 11, prefix="bad", spot=True)
    # another size and colour, and a JPEG with the same stem as a PNG
    write_crops(test, 1, 12, prefix="big", size=100, colour=True, ext=".jpg")
    write_crops(test, 1, 12, prefix="big", size=100, ext=".png")
    (test / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out_json = tmp_path / "out" / "scores.json"
    code = main(["score", str(model), str(test), "--json", str(out_json),
                 "--heatmaps", str(tmp_path / "heat")])
    assert code == 1  # finished, but one image could not be read
    res = json.loads(out_json.read_text())
    assert res["n_images"] == 11 and res["n_errors"] == 1
    by = {e["file"]: e for e in res["images"]}
    assert "not a readable image" in by["broken.png"]["error"]
    for i in range(4):
        assert by[f"bad{i:02d}.png"]["is_anomalous"] is True
        assert by[f"good{i:02d}.png"]["is_anomalous"] is False
        assert by[f"bad{i:02d}.png"]["score"] > by[f"good{i:02d}.png"]["threshold"]
    assert by["big00.jpg"]["width"] == 100 and by["big00.png"]["height"] == 100
    heat = {Path(e["heatmap"]).name for e in res["images"] if "heatmap" in e}
    assert len(heat) == 10  # distinct names even for big00.png / big00.jpg
    img = cv2.imread(by["big00.jpg"]["heatmap"])
    assert img.shape == (100, 100, 3)
    assert res["n_anomalous"] == sum(e.get("is_anomalous", False) for e in res["images"])
    assert "broken.png: ERROR" in capsys.readouterr().err


def test_threshold_override(fitted, tmp_path):
    _, model = fitted
    write_crops(tmp_path / "t", 2, 20)
    assert main(["score", str(model), str(tmp_path / "t"), "--json", str(tmp_path / "o.json"),
                 "--threshold", "1e-6"]) == 0
    res = json.loads((tmp_path / "o.json").read_text())
    assert res["threshold"] == 1e-6 and res["n_anomalous"] == 2


def test_bad_input_exit_code_2(fitted, tmp_path, capsys):
    root, model = fitted
    write_crops(tmp_path / "t", 1, 30)
    js = str(tmp_path / "o.json")
    assert main(["score", str(tmp_path / "nope.dgad"), str(tmp_path / "t"), "--json", js]) == 2
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "fake.dgad").write_bytes(b"PK\x03\x04 not really")
    assert main(["score", str(tmp_path / "fake.dgad"), str(tmp_path / "t"), "--json", js]) == 2
    assert "not a readable model file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["score", str(model), str(tmp_path / "empty"), "--json", js]) == 2
    assert "no image files" in capsys.readouterr().err
    (tmp_path / "allbad").mkdir()
    (tmp_path / "allbad" / "x.png").write_bytes(b"")
    assert main(["score", str(model), str(tmp_path / "allbad"), "--json", js]) == 2
    write_crops(tmp_path / "one", 1, 31)
    assert main(["fit", "--good", str(tmp_path / "one"), "--out", str(tmp_path / "m")]) == 2
    assert "at least 2" in capsys.readouterr().err
    assert main(["fit", "--good", str(tmp_path / "t")]) == 2  # argparse: --out missing
    assert main(["fit", "--good", str(tmp_path / "t"), "--out", str(tmp_path / "m"),
                 "--image-size", "100"]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    assert main(["--help"]) == 0


# --- dg vision run (inspection recipes on image files) ------------------------------------

def test_run_recipe_on_images(tmp_path, capsys):
    from vision_test_parts import render_board

    config = Path(__file__).resolve().parents[1] / "config"
    imgs = tmp_path / "parts"
    imgs.mkdir()
    cv2.imwrite(str(imgs / "a_good.png"), render_board(4, 2, 10, seed=21))
    cv2.imwrite(str(imgs / "b_bad.png"), render_board(-3, 1, -5, dots=2, seed=22))
    (imgs / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    rc = main(["run", str(config / "example_board.yaml"), str(imgs), "--json",
               str(tmp_path / "r.json"), "--overlays", str(tmp_path / "ov"), "--spc",
               str(tmp_path / "spc.csv")])
    cap = capsys.readouterr()
    assert rc == 1
    assert "a_good.png: PASS  part SN-0042" in cap.out and "b_bad.png: FAIL dots.count" in cap.out
    assert "c_broken.png: ERROR" in cap.err
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [p.get("ok") for p in rep["parts"]] == [True, False, None]
    assert "not a readable image" in rep["parts"][2]["error"]
    assert rep["n_errors"] == 1 and rep["n_failed"] == 1
    assert rep["parts"][0]["measurements"][0]["upper"] == "inf"
    assert (tmp_path / "spc.csv").read_text().count("\n") == 13
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == [
        "a_good_overlay.png", "b_bad_overlay.png"]
    # only the good part: exit 0
    assert main(["run", str(config / "example_board.yaml"), str(imgs / "a_good.png"),
                 "--json", str(tmp_path / "one.json")]) == 0


def test_run_bad_input_exit_code_2(tmp_path, capsys):
    config = Path(__file__).resolve().parents[1] / "config"
    js = str(tmp_path / "o.json")
    write_crops(tmp_path / "t", 1, 40)
    assert main(["run", str(tmp_path / "missing.yaml"), str(tmp_path / "t"), "--json", js]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["run", str(config / "example_board.yaml"), str(tmp_path / "nope.png"),
                 "--json", js]) == 2
    assert "no such image" in capsys.readouterr().err
    assert main(["run", str(config / "example_board.yaml"), str(tmp_path / "t")]) == 2


def test_unwritable_output_exit_code_2(fitted, tmp_path, capsys):
    _, model = fitted
    write_crops(tmp_path / "t", 1, 41)
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert main(["score", str(model), str(tmp_path / "t"), "--json",
                 str(blocker / "out.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dg vision score: ") and "file" in err
