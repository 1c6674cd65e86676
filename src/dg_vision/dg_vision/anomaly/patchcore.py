"""PatchCore anomaly detection on EfficientNet-Lite0 features, run with ONNX Runtime.

Method: Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022.

Fit (good images only): every image is resized to ``image_size`` squared and passed through
the exported feature extractor (:class:`~dg_vision.anomaly.backbone.PatchFeatures`: stage-2
and stage-3 maps of EfficientNet-Lite0, 3x3 neighbourhood averaging, plus the local mean
colour: one 67-D feature per cell of the stride-8 grid). All patch features of the
training images form the memory bank, reduced by greedy coreset subsampling
(:mod:`~dg_vision.anomaly.coreset`). A seeded share of the good images (``holdout``) is
kept out of the bank and scored to calibrate the decision threshold.

Why stages 2+3 (strides 4 and 8) and not the paper's "layer2 + layer3" analogue (stages 3
and 5 here): in development runs of the texture benchmark (bench/vision_anomaly.py) the
shallower pair was better on the stochastic textures (grass image AUROC 0.80 vs 0.72, same
data, bank size and max-score rule); small scratches and stains are low-level events, and
the deeper features mostly add ImageNet semantics that vary a lot within such a texture.

Colour channels: ImageNet features respond to edges and texture, hardly to a smooth change
of brightness or colour over a region, which is what a stain is (on the benchmark, stains
on grass and gravel scored image AUROC 0.67-0.75 without them). The local mean colour is
appended and weighted by :func:`colour_weight_for`, computed from the good images only
(no defect data): each colour channel then varies as much as an average deep channel.

Score: each patch's distance to its nearest memory-bank feature (exact, a BLAS matrix
product against the bank) is the patch anomaly score; the grid of scores is upsampled
bilinearly to ``image_size``, smoothed with a Gaussian of sigma = 4 px (paper, Sec. 4.2) and
resized to the input image's size: the anomaly map. The image score is the mean of the top
``TOP_FRACTION`` (0.5 %) of the map at model resolution instead of the paper's (reweighted)
maximum patch score: on the benchmark the maximum let single odd-but-good patches decide
(development run, grass: image AUROC 0.90 with the max vs 0.96 with the top-0.5 % mean;
the paper's Eq. 7 reweighting changed it by < 0.005). 0.5 % of 256^2 is 328 px, a 20 px
disc: defects smaller than that are diluted (their score still rises, by area ratio).

Threshold: the held-out good scores s_1..s_n give ``max(max(s), mean(s) + 3 std(s))``:
every held-out good image passes, and with few held-out images the 3-sigma tail (a 0.13 %
one-sided false-reject rate for a normal distribution) adds margin for the unseen good parts
the max alone would reject. Scores are distances in feature space, so the threshold is
specific to the model it was calibrated with (stored in the model file).

Everything at score time is numpy, OpenCV and ONNX Runtime (2 intra-op threads by default);
torch is imported only by :func:`fit_patchcore` for the one-time ONNX export.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import math
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from dg_vision.anomaly._constants import (
    BACKBONE_NAME,
    COLOUR_CHANNELS,
    DEFAULT_STAGES,
    FEATURE_STRIDE,
    MEAN_RGB,
    STD_RGB,
)
from dg_vision.errors import VisionInputError
from dg_vision.image import as_image

FORMAT = "dg_vision.patchcore"
FORMAT_VERSION = 1
#: The backbone, its input normalisation ((rgb - 127) / 128), default feature stages, the
#: feature grid's stride and the colour channels: one definition shared with the export.
BACKBONE = BACKBONE_NAME
#: Floor of the colour channels' spread in the weight (normalised units; 0.02 * 128 = 2.6
#: grey levels, about sensor noise): flat good images must not blow the weight up.
MIN_COLOUR_STD = 0.02
#: Gaussian smoothing of the anomaly map (paper: sigma = 4 px).
SIGMA_PX = 4.0
#: Image score = mean of this share of the anomaly map's highest pixels (see module doc).
TOP_FRACTION = 0.005
#: Largest memory bank (rows; bounds the nearest-neighbour cost per image: ~10 ms on
#: 2 cores at 256 px) and largest pool the greedy coreset searches (bounds fit time; larger
#: sets are first subsampled at random, seeded).
MAX_BANK = 16384
MAX_POOL = 10 * MAX_BANK
#: Rows of the memory bank per matrix product (bounds the temporary distance matrix).
_BANK_CHUNK = 2048

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AnomalyResult:
    """Outcome of scoring one image.

    ``anomaly_map``: float32 (H, W) at the input image's size, in the units of ``score``
    (feature distance); ``is_anomalous`` is ``score > threshold``.
    """

    score: float
    anomaly_map: np.ndarray
    is_anomalous: bool
    threshold: float


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to ``size`` x ``size`` as the model sees it.

    Area averaging when shrinking, bilinear when enlarging; the aspect ratio is not kept.
    """
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    interp = cv2.INTER_AREA if h * w > size * size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def check_image_size(size: int) -> None:
    """Raise :class:`VisionInputError` unless ``size`` is a multiple of 32 in 64..1024.

    (The feature extractor mirrors 32 px around the image, which needs more than 32 px.)
    """
    if not isinstance(size, int | np.integer) or size < 64 or size % 32 or size > 1024:
        raise VisionInputError(f"image size must be a multiple of 32 in 64..1024, got {size}")


def make_session(onnx_bytes: bytes, threads: int = 2) -> ort.InferenceSession:
    """ONNX Runtime CPU session with ``threads`` intra-op threads, all graph optimisations."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # no busy-waiting of idle pool threads: same latency alone, far less CPU on shared cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own types for bad graphs
        raise VisionInputError(f"backbone ONNX graph cannot be loaded: {exc}") from exc


def calibrate_threshold(good_scores: Sequence[float]) -> float:
    """Decision threshold from scores of held-out good images (see module docstring)."""
    s = np.asarray(good_scores, dtype=np.float64)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise VisionInputError("threshold calibration needs finite scores of >= 1 good image")
    std = float(s.std(ddof=1)) if s.size > 1 else 0.0
    return float(max(s.max(), s.mean() + 3.0 * std))


@dataclass
class PatchCoreModel:
    """A fitted PatchCore model: the backbone ONNX graph, memory bank and threshold."""

    onnx_bytes: bytes
    memory_bank: np.ndarray
    threshold: float
    image_size: int = 256
    mean_rgb: tuple[float, float, float] = MEAN_RGB
    std_rgb: tuple[float, float, float] = STD_RGB
    stages: tuple[int, ...] = DEFAULT_STAGES
    backbone: str = BACKBONE
    sigma_px: float = SIGMA_PX
    top_fraction: float = TOP_FRACTION
    colour_weight: float = 1.0
    calibration: dict = field(default_factory=dict)
    threads: int = 2

    def __post_init__(self) -> None:
        if math.isnan(float(self.threshold)):
            raise VisionInputError("threshold must be a number (inf: nothing is anomalous), "
                                   "got NaN")
        if not (math.isfinite(float(self.sigma_px)) and self.sigma_px > 0):
            raise VisionInputError(f"sigma_px must be positive, got {self.sigma_px}")
        if not 0.0 < float(self.top_fraction) <= 1.0:
            raise VisionInputError(f"top_fraction must be in (0, 1], got {self.top_fraction}")
        if not (math.isfinite(float(self.colour_weight)) and self.colour_weight >= 0):
            raise VisionInputError(f"colour_weight must be finite and >= 0, got "
                                   f"{self.colour_weight}")
        bank = np.asarray(self.memory_bank)
        if bank.ndim != 2 or bank.shape[0] == 0 or not np.all(np.isfinite(bank)):
            raise VisionInputError(f"memory bank must be a finite non-empty (M, C) array, got "
                                   f"{bank.shape}")
        self.memory_bank = np.ascontiguousarray(bank, dtype=np.float32)
        bank_sq = np.einsum("ij,ij->i", self.memory_bank, self.memory_bank)
        self._bank_aug_t = np.ascontiguousarray(
            np.concatenate([-2.0 * self.memory_bank, bank_sq[:, None]], axis=1).T)
        self._session = make_session(self.onnx_bytes, self.threads)
        inp = self._session.get_inputs()[0]
        out = self._session.get_outputs()[0]
        s = int(self.image_size)
        if list(inp.shape) != [1, 3, s, s]:
            raise VisionInputError(f"backbone ONNX input is {inp.shape}, model file says image "
                                   f"size {s}")
        self.grid = (s // FEATURE_STRIDE, s // FEATURE_STRIDE)
        if list(out.shape) != [1, self.memory_bank.shape[1], *self.grid]:
            raise VisionInputError(f"backbone ONNX output {out.shape} does not fit the memory "
                                   f"bank ({self.memory_bank.shape[1]} channels, grid "
                                   f"{self.grid})")
        self._input_name = inp.name
        k = 2 * int(math.ceil(4.0 * self.sigma_px)) + 1
        self._ksize = (k, k)

    # ---------------------------------------------------------------- inference steps
    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """(1, 3, S, S) float32 normalised RGB of any grey/BGR image (resized to S x S)."""
        return self._input(as_image(image))

    def _input(self, img: np.ndarray) -> np.ndarray:
        """:meth:`preprocess` of an image already checked by ``as_image``."""
        return normalised_input(img, int(self.image_size), self.mean_rgb, self.std_rgb)

    def features(self, image: np.ndarray) -> np.ndarray:
        """Patch features (h*w, C) float32 of one image, row-major over the feature grid."""
        return self.features_from_input(self.preprocess(image))

    def features_from_input(self, x: np.ndarray) -> np.ndarray:
        """Patch features (h*w, C) of a preprocessed (1, 3, S, S) input, via ONNX Runtime."""
        f = self._session.run(None, {self._input_name: x})[0]
        return self.scale_features(np.ascontiguousarray(f[0].reshape(f.shape[1], -1).T))

    def scale_features(self, raw: np.ndarray) -> np.ndarray:
        """Weight the colour channels (the last ``COLOUR_CHANNELS``) of raw features, in place."""
        raw[:, -COLOUR_CHANNELS:] *= np.float32(self.colour_weight)
        return raw

    def nearest(self, feats: np.ndarray) -> np.ndarray:
        """Euclidean distance (float32) of each feature row to its nearest memory-bank row.

        Exact: ``|q - b|^2 = |q|^2 + (|b|^2 - 2 q.b)``, the bracket for all pairs as one BLAS
        product of ``[q, 1]`` with ``[-2 b, |b|^2]`` per chunk of the bank.
        """
        q = np.asarray(feats, dtype=np.float32)
        qa = np.empty((q.shape[0], q.shape[1] + 1), np.float32)
        qa[:, :-1] = q
        qa[:, -1] = 1.0
        best = None
        for start in range(0, self._bank_aug_t.shape[1], _BANK_CHUNK):
            m = (qa @ self._bank_aug_t[:, start:start + _BANK_CHUNK]).min(axis=1)
            best = m if best is None else np.minimum(best, m, out=best)
        best += np.einsum("ij,ij->i", q, q)
        return np.sqrt(np.maximum(best, 0.0, out=best), out=best)

    def score_features(self, feats: np.ndarray, out_hw: tuple[int, int]
                       ) -> tuple[float, np.ndarray]:
        """Image score and anomaly map (float32, ``out_hw``) from patch features."""
        dist = self.nearest(feats)
        patch = dist.reshape(self.grid)
        s = int(self.image_size)
        amap = cv2.resize(patch, (s, s), interpolation=cv2.INTER_LINEAR)
        amap = cv2.GaussianBlur(amap, self._ksize, self.sigma_px,
                                borderType=cv2.BORDER_REFLECT)
        score = self._top_mean(amap)
        h, w = out_hw
        if (h, w) != (s, s):
            amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
        return score, amap.astype(np.float32, copy=False)

    def _top_mean(self, amap: np.ndarray) -> float:
        """Mean of the ``top_fraction`` highest values of the map (its max if that is < 1 px)."""
        flat = amap.ravel()
        k = max(1, int(round(self.top_fraction * flat.size)))
        if k == 1:
            return float(flat.max())
        return float(np.partition(flat, flat.size - k)[flat.size - k:].mean(dtype=np.float64))

    def score(self, image: np.ndarray) -> AnomalyResult:
        """Score one image (grey or BGR, any size): score, map at its size, decision."""
        img = as_image(image)
        feats = self.features_from_input(self._input(img))
        score, amap = self.score_features(feats, img.shape[:2])
        return AnomalyResult(score=score, anomaly_map=amap,
                             is_anomalous=bool(score > self.threshold),
                             threshold=float(self.threshold))

    # ---------------------------------------------------------------- file format
    def _meta(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "backbone": self.backbone,
            "stages": list(self.stages), "image_size": int(self.image_size),
            "input": "RGB, (x - mean) / std, NCHW float32",
            "mean_rgb": list(self.mean_rgb), "std_rgb": list(self.std_rgb),
            "feature_dim": int(self.memory_bank.shape[1]),
            "bank_size": int(self.memory_bank.shape[0]), "grid": list(self.grid),
            "threshold": float(self.threshold), "sigma_px": float(self.sigma_px),
            "top_fraction": float(self.top_fraction), "feature_stride": FEATURE_STRIDE,
            "colour_weight": float(self.colour_weight), "colour_channels": COLOUR_CHANNELS,
            "calibration": self.calibration,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as one zip file.

        Entries: ``meta.json`` (format, version, backbone, image size, normalisation,
        threshold, calibration, SHA-256 of the rest), ``backbone.onnx`` and
        ``memory_bank.npy`` (float32).
        """
        p = Path(path)
        bank = io.BytesIO()
        np.save(bank, self.memory_bank, allow_pickle=False)
        meta = self._meta()
        meta["sha256"] = _digest(meta, self.onnx_bytes, bank.getvalue())
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            z.writestr("backbone.onnx", self.onnx_bytes)
            z.writestr("memory_bank.npy", bank.getvalue())
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 2) -> PatchCoreModel:
        """Read a model written by :meth:`save` (no torch needed).

        A missing, truncated, corrupt or foreign file, another backbone or another format
        version raises :class:`VisionInputError`.
        """
        p = Path(path)
        if not p.is_file():
            raise VisionInputError(f"{p}: no such model file")
        try:
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
                missing = {"meta.json", "backbone.onnx", "memory_bank.npy"} - names
                if missing:
                    raise VisionInputError(f"{p}: not a dg_vision PatchCore model (missing "
                                           f"{', '.join(sorted(missing))})")
                meta = json.loads(z.read("meta.json"))
                onnx_bytes = z.read("backbone.onnx")
                bank_bytes = z.read("memory_bank.npy")
        except VisionInputError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile, ValueError,
                KeyError, zlib.error, lzma.LZMAError, NotImplementedError,
                RuntimeError) as exc:
            # zlib/lzma: a corrupt compressed member; NotImplementedError: an unsupported
            # compression method; RuntimeError: an encrypted member.
            raise VisionInputError(f"{p}: not a readable model file (truncated or not a "
                                   f"dg_vision PatchCore zip): {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise VisionInputError(f"{p}: not a dg_vision PatchCore model (format "
                                   f"{meta.get('format') if isinstance(meta, dict) else '?'!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise VisionInputError(f"{p}: model format version {meta.get('format_version')}, "
                                   f"this dg_vision reads version {FORMAT_VERSION}; refit it")
        if meta.get("backbone") != BACKBONE:
            raise VisionInputError(f"{p}: model made with backbone {meta.get('backbone')!r}, "
                                   f"this dg_vision uses {BACKBONE!r}; refit it")
        want = meta.get("sha256")
        meta_wo = {k: v for k, v in meta.items() if k != "sha256"}
        if want != _digest(meta_wo, onnx_bytes, bank_bytes):
            raise VisionInputError(f"{p}: model file is corrupt (SHA-256 does not match)")
        try:
            bank = np.load(io.BytesIO(bank_bytes), allow_pickle=False)
            return cls(onnx_bytes=onnx_bytes, memory_bank=bank,
                       threshold=float(meta["threshold"]), image_size=int(meta["image_size"]),
                       mean_rgb=tuple(meta["mean_rgb"]), std_rgb=tuple(meta["std_rgb"]),
                       stages=tuple(meta["stages"]), backbone=meta["backbone"],
                       sigma_px=float(meta["sigma_px"]),
                       top_fraction=float(meta["top_fraction"]),
                       colour_weight=float(meta["colour_weight"]),
                       calibration=dict(meta.get("calibration", {})), threads=threads)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, VisionInputError):
                raise
            raise VisionInputError(f"{p}: model file has bad contents: {exc}") from exc


def _digest(meta: dict, onnx_bytes: bytes, bank_bytes: bytes) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(meta, sort_keys=True).encode())
    h.update(onnx_bytes)
    h.update(bank_bytes)
    return h.hexdigest()


def fit_patchcore(images: Sequence[np.ndarray], *, image_size: int = 256,
                  coreset_ratio: float = 0.1, seed: int = 0, progress: Progress | None = None,
                  holdout: float = 0.2, stages: tuple[int, ...] = DEFAULT_STAGES,
                  projection_dim: int = 128, threads: int = 2,
                  names: Sequence[str] | None = None) -> PatchCoreModel:
    """Fit PatchCore on good images (grey or BGR, any size; at least 2).

    A seeded ``holdout`` share of the images (at least 1) calibrates the threshold and is
    not put into the memory bank; ``coreset_ratio`` of the other images' patch features are
    kept (greedy coreset, projected to ``projection_dim``; at most ``MAX_BANK``, searched
    over at most ``MAX_POOL`` randomly pre-drawn features). ``progress(message)`` gets one
    line per image and per stage; ``names`` label the images in those lines.
    """
    say = progress or (lambda _msg: None)
    imgs = [as_image(im, name=(names[i] if names else f"image {i}"))
            for i, im in enumerate(images)]
    n = len(imgs)
    if n < 2:
        raise VisionInputError(f"fit needs at least 2 good images (1 for the memory bank, 1 "
                               f"to calibrate the threshold), got {n}")
    if not 0.0 < coreset_ratio <= 1.0:
        raise VisionInputError(f"coreset ratio must be in (0, 1], got {coreset_ratio}")
    if not 0.0 < holdout < 1.0:
        raise VisionInputError(f"holdout must be in (0, 1), got {holdout}")
    check_image_size(image_size)
    label = list(names) if names else [f"image {i}" for i in range(n)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_cal = min(n - 1, max(1, int(round(holdout * n))))
    cal_idx, bank_idx = sorted(order[:n_cal]), sorted(order[n_cal:])

    say(f"exporting {BACKBONE} stages {list(stages)} to ONNX ({image_size}x{image_size})")
    from dg_vision.anomaly.backbone import export_patch_features_onnx  # torch only here

    onnx_bytes = export_patch_features_onnx(image_size, tuple(stages))
    session = make_session(onnx_bytes, threads)
    feats = []
    for k, i in enumerate(bank_idx):
        feats.append(_raw_features(session, imgs[i], image_size))
        say(f"features {k + 1}/{len(bank_idx)}: {label[i]}")
    del session
    bank_all = np.concatenate(feats)
    colour_weight = colour_weight_for(bank_all)
    bank_all[:, -COLOUR_CHANNELS:] *= np.float32(colour_weight)
    say(f"colour channels weighted x{colour_weight:.3g} (mean per-channel spread of the "
        f"deep features)")
    n_total = bank_all.shape[0]
    n_keep = min(MAX_BANK, max(1, int(math.ceil(coreset_ratio * n_total))))
    pool = bank_all
    if n_total > MAX_POOL:  # bound the greedy search's cost: a seeded random pool first
        pool = bank_all[np.sort(rng.choice(n_total, MAX_POOL, replace=False))]
    say(f"coreset: {n_keep} of {n_total} patch features (greedy over {pool.shape[0]}, "
        f"seed {seed})")
    from dg_vision.anomaly.coreset import greedy_coreset

    keep = greedy_coreset(pool, n_keep, seed=seed, projection_dim=projection_dim,
                          progress=lambda d, t: say(f"coreset {d}/{t}"))
    model = PatchCoreModel(onnx_bytes=onnx_bytes, memory_bank=pool[keep], threshold=math.inf,
                           image_size=image_size, stages=tuple(stages), threads=threads,
                           colour_weight=colour_weight)
    cal_scores = []
    for k, i in enumerate(cal_idx):
        cal_scores.append(model.score(imgs[i]).score)
        say(f"calibration {k + 1}/{len(cal_idx)}: {label[i]} score {cal_scores[-1]:.4g}")
    model.threshold = calibrate_threshold(cal_scores)
    model.calibration = {
        "rule": "max(max(s), mean(s) + 3 std(s)) over held-out good images",
        "n_train": len(bank_idx), "n_holdout": len(cal_idx),
        "holdout_images": [label[i] for i in cal_idx],
        "holdout_scores": [float(s) for s in cal_scores], "seed": int(seed),
        "coreset_ratio": float(coreset_ratio), "patches_total": int(n_total),
    }
    say(f"threshold {model.threshold:.4g} from {len(cal_idx)} held-out good images "
        f"(max {max(cal_scores):.4g}, mean {float(np.mean(cal_scores)):.4g})")
    return model


def colour_weight_for(raw: np.ndarray) -> float:
    """Weight of the colour channels, from raw features of good images.

    The mean per-channel standard deviation of the deep channels over that of the colour
    channels (floored at ``MIN_COLOUR_STD``): on the good images each colour channel then
    varies as much as a typical deep channel.
    """
    std = raw.astype(np.float64).std(axis=0)
    deep = float(std[:-COLOUR_CHANNELS].mean())
    colour = max(float(std[-COLOUR_CHANNELS:].mean()), MIN_COLOUR_STD)
    return deep / colour


def normalised_input(img: np.ndarray, size: int, mean_rgb: Sequence[float] = MEAN_RGB,
                     std_rgb: Sequence[float] = STD_RGB) -> np.ndarray:
    """(1, 3, size, size) float32 ``(rgb - mean) / std`` of a checked grey/BGR image.

    Resized first (grey has one channel to resize), then made RGB.
    """
    small = resize_square(img, int(size))
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    rgb = small[:, :, ::-1].astype(np.float32)
    rgb -= np.asarray(mean_rgb, np.float32)
    rgb *= 1.0 / np.asarray(std_rgb, np.float32)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


def _raw_features(session: ort.InferenceSession, img: np.ndarray, size: int) -> np.ndarray:
    """Unweighted patch features (h*w, C) of a checked image (fit time)."""
    f = session.run(None, {session.get_inputs()[0].name: normalised_input(img, size)})[0]
    return np.ascontiguousarray(f[0].reshape(f.shape[1], -1).T)
