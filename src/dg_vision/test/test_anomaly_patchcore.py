"""PatchCore: fit on good texture crops, detect planted defects, ONNX == torch, model file."""

import json
import zipfile

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from dg_vision.anomaly import patchcore
from dg_vision.anomaly.backbone import PatchFeatures, load_efficientnet_lite0
from dg_vision.anomaly.patchcore import PatchCoreModel, calibrate_threshold, fit_patchcore
from dg_vision.errors import VisionInputError

SIZE = 64


def crops(n: int, seed: int) -> list[np.ndarray]:
    """Grey 64x64 crops of scikit-image's brick texture at half scale, with sensor noise."""
    tex = cv2.resize(skimage.data.brick(), (256, 256), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y, x = rng.integers(0, 256 - SIZE, 2)
        c = tex[y:y + SIZE, x:x + SIZE].astype(np.float32) + rng.normal(0, 2, (SIZE, SIZE))
        out.append(np.clip(c, 0, 255).astype(np.uint8))
    return out


def with_spot(img: np.ndarray, centre: tuple[int, int], radius: int = 7) -> np.ndarray:
    out = img.copy()
    cv2.circle(out, centre, radius, 10, -1)
    return out


@pytest.fixture(scope="module")
def model() -> PatchCoreModel:
    return fit_patchcore(crops(16, 0), image_size=SIZE, coreset_ratio=0.25, seed=0)


def test_defects_flagged_good_pass_and_map_points_at_defect(model):
    good = crops(6, 1)
    bad = [with_spot(g, (20 + 5 * i, 40 - 3 * i)) for i, g in enumerate(crops(6, 2))]
    good_r = [model.score(g) for g in good]
    bad_r = [model.score(b) for b in bad]
    assert max(r.score for r in good_r) < min(r.score for r in bad_r)
    assert sum(r.is_anomalous for r in bad_r) == 6
    assert sum(r.is_anomalous for r in good_r) == 0
    for i, r in enumerate(bad_r):
        assert r.anomaly_map.shape == (SIZE, SIZE) and r.anomaly_map.dtype == np.float32
        y, x = np.unravel_index(np.argmax(r.anomaly_map), r.anomaly_map.shape)
        assert np.hypot(x - (20 + 5 * i), y - (40 - 3 * i)) < 10
        assert r.threshold == model.threshold


def test_onnx_and_torch_agree(model):
    """ONNX Runtime vs the torch module it was exported from: features within 1e-4 of their
    scale (float32 round-off of a different op order), scores within 1e-4 relative."""
    net = PatchFeatures(load_efficientnet_lite0(), model.stages).eval()
    for img in [crops(1, 5)[0], with_spot(crops(1, 6)[0], (30, 30))]:
        x = model.preprocess(img)
        with torch.no_grad():
            ft = net(torch.from_numpy(x)).numpy()
        ft = model.scale_features(np.ascontiguousarray(ft[0].reshape(ft.shape[1], -1).T))
        fo = model.features_from_input(x)
        assert fo.shape == ft.shape == (model.grid[0] * model.grid[1], 24 + 40 + 3)
        assert np.abs(fo - ft).max() <= 1e-4 * np.abs(ft).max()
        so, mo = model.score_features(fo, img.shape)
        st, mt = model.score_features(ft, img.shape)
        assert so == pytest.approx(st, rel=1e-4)
        assert np.abs(mo - mt).max() <= 1e-4 * np.abs(mt).max()


def test_nearest_is_exact(model):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(4)
    q = rng.normal(0, 5, (300, model.memory_bank.shape[1])).astype(np.float32)
    ref = cdist(q.astype(np.float64), model.memory_bank.astype(np.float64)).min(axis=1)
    assert np.allclose(model.nearest(q), ref, rtol=1e-4, atol=1e-3)
    # a bank row itself: 0 up to float32 cancellation in |q|^2 + |b|^2 - 2 q.b (|b|^2 ~ 1e3)
    assert np.allclose(model.nearest(model.memory_bank[:50]), 0.0, atol=0.05)


def test_any_size_grey_or_colour(model):
    img = crops(1, 7)[0]
    big = cv2.resize(img, (150, 90), interpolation=cv2.INTER_LINEAR)
    r = model.score(big)
    assert r.anomaly_map.shape == (90, 150)
    assert np.isfinite(r.score) and np.all(np.isfinite(r.anomaly_map))
    grey = model.score(img)
    bgr = model.score(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    bgra = model.score(cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA))
    assert grey.score == bgr.score == bgra.score
    assert model.score(img.astype(np.float32) / 255.0).score == pytest.approx(grey.score)
    with pytest.raises(VisionInputError, match="grey"):
        model.score(np.zeros((64, 64, 2), np.uint8))
    with pytest.raises(VisionInputError, match="empty"):
        model.score(np.zeros((0, 64), np.uint8))
    with pytest.raises(VisionInputError, match="NaN"):
        model.score(np.full((64, 64), np.nan, np.float32))


def test_save_load_roundtrip_and_bad_files(model, tmp_path):
    path = model.save(tmp_path / "m.dgad")
    loaded = PatchCoreModel.load(path)
    img = with_spot(crops(1, 8)[0], (32, 32))
    assert loaded.score(img).score == pytest.approx(model.score(img).score, rel=1e-6)
    assert loaded.threshold == model.threshold and loaded.image_size == SIZE
    assert loaded.calibration["n_holdout"] == model.calibration["n_holdout"]

    data = path.read_bytes()
    (tmp_path / "trunc.dgad").write_bytes(data[: len(data) // 2])
    with pytest.raises(VisionInputError, match="not a readable model file"):
        PatchCoreModel.load(tmp_path / "trunc.dgad")
    (tmp_path / "junk.dgad").write_bytes(b"hello")
    with pytest.raises(VisionInputError, match="not a readable model file"):
        PatchCoreModel.load(tmp_path / "junk.dgad")
    with pytest.raises(VisionInputError, match="no such model file"):
        PatchCoreModel.load(tmp_path / "missing.dgad")

    def rewrite(name: str, **changes) -> None:
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        meta = json.loads(parts["meta.json"])
        meta.update(changes)
        if "sha256" not in changes:
            meta["sha256"] = patchcore._digest({k: v for k, v in meta.items() if k != "sha256"},
                                               parts["backbone.onnx"], parts["memory_bank.npy"])
        parts["meta.json"] = json.dumps(meta).encode()
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for n, b in parts.items():
                z.writestr(n, b)

    rewrite("r18.dgad", backbone="resnet18")
    with pytest.raises(VisionInputError, match="backbone 'resnet18'"):
        PatchCoreModel.load(tmp_path / "r18.dgad")
    rewrite("v9.dgad", format_version=9)
    with pytest.raises(VisionInputError, match="format version 9"):
        PatchCoreModel.load(tmp_path / "v9.dgad")
    rewrite("other.dgad", format="someone.else")
    with pytest.raises(VisionInputError, match="not a dg_vision PatchCore model"):
        PatchCoreModel.load(tmp_path / "other.dgad")
    rewrite("tampered.dgad", sha256="0" * 64)
    with pytest.raises(VisionInputError, match="SHA-256"):
        PatchCoreModel.load(tmp_path / "tampered.dgad")


def test_corrupt_compressed_member_is_an_input_error(model, tmp_path):
    """Bytes flipped at the start of a deflated member: zlib.error inside zipfile."""
    path = model.save(tmp_path / "m.dgad")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("memory_bank.npy")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    # local header: 30 bytes + name + extra field, then the compressed data
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    for k in range(8):
        data[start + k] ^= 0xFF
    (tmp_path / "flipped.dgad").write_bytes(bytes(data))
    with pytest.raises(VisionInputError, match="not a readable model file"):
        PatchCoreModel.load(tmp_path / "flipped.dgad")


def test_model_parameters_checked(model):
    kw = {"onnx_bytes": model.onnx_bytes, "memory_bank": model.memory_bank,
          "image_size": model.image_size}
    assert PatchCoreModel(threshold=float("inf"), **kw).threshold == float("inf")
    with pytest.raises(VisionInputError, match="NaN"):
        PatchCoreModel(threshold=float("nan"), **kw)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(VisionInputError, match="sigma_px"):
            PatchCoreModel(threshold=1.0, sigma_px=bad, **kw)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(VisionInputError, match="top_fraction"):
            PatchCoreModel(threshold=1.0, top_fraction=bad, **kw)
    assert PatchCoreModel(threshold=1.0, top_fraction=1.0, **kw).top_fraction == 1.0


def test_scoring_needs_no_torch(model, tmp_path):
    """Load and score in a fresh interpreter where importing torch fails."""
    import subprocess
    import sys

    path = model.save(tmp_path / "m.dgad")
    img = with_spot(crops(1, 9)[0], (30, 30))
    np.save(tmp_path / "img.npy", img)
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from dg_vision.anomaly.patchcore import PatchCoreModel\n"
        f"m = PatchCoreModel.load({str(path)!r})\n"
        f"print(m.score(np.load({str(tmp_path / 'img.npy')!r})).score)\n"
        "assert 'torch' not in sys.modules or sys.modules['torch'] is None\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) == pytest.approx(model.score(img).score, rel=1e-5)


def test_bank_and_pool_caps(monkeypatch):
    monkeypatch.setattr(patchcore, "MAX_BANK", 20)
    monkeypatch.setattr(patchcore, "MAX_POOL", 100)
    m = fit_patchcore(crops(4, 3), image_size=SIZE, coreset_ratio=0.5, seed=2)
    assert m.memory_bank.shape == (20, 67)
    assert m.calibration["patches_total"] == 3 * 64
    assert np.isfinite(m.threshold)


def test_fit_input_checks():
    with pytest.raises(VisionInputError, match="at least 2"):
        fit_patchcore(crops(1, 0), image_size=SIZE)
    with pytest.raises(VisionInputError, match="multiple of 32"):
        fit_patchcore(crops(2, 0), image_size=50)
    with pytest.raises(VisionInputError, match="coreset ratio"):
        fit_patchcore(crops(2, 0), image_size=SIZE, coreset_ratio=0.0)
    with pytest.raises(VisionInputError, match="image 1"):
        fit_patchcore([crops(1, 0)[0], np.zeros((64, 64, 5), np.uint8)], image_size=SIZE)


def test_threshold_rule():
    assert calibrate_threshold([1.0]) == 1.0
    s = [1.0, 1.1, 0.9, 1.0]
    assert calibrate_threshold(s) == pytest.approx(1.0 + 3 * np.std(s, ddof=1))
    # the max rules when it is above mean + 3 std (never here for n >= 2 and ddof=1 unless
    # the sample is tiny); both branches: n = 1 gives the max itself
    assert calibrate_threshold([2.0, 2.0]) == 2.0
    with pytest.raises(VisionInputError):
        calibrate_threshold([])
