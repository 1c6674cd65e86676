"""Plain PatchCore, the same-run reference of the anomaly benchmarks.

The textbook method of Roth et al., "Towards Total Recall in Industrial Anomaly Detection"
(CVPR 2022), on the same backbone features as ``dg_vision.anomaly.patchcore`` and without
its additions, written here separately from it:

1. Features: the deep channels of ``dg_vision.anomaly.backbone.PatchFeatures`` (the chosen
   EfficientNet-Lite0 stages, each averaged over 3x3 neighbourhoods, the paper's locally
   aware patch features, on one stride-8 grid), exported to ONNX and run with ONNX Runtime.
   The appended local-colour channels (a dg_vision addition) are dropped.
2. Memory bank: every patch feature of every training image, i.e. the paper's PatchCore
   with a 100 % bank, its most accurate setting: no coreset subsampling and no images held
   out for a threshold (AUROC needs none).
3. Patch score: Euclidean distance to the nearest memory-bank feature, exact (brute force
   over the whole bank).
4. Image score: the largest patch score (paper Eq. 6; the reweighting of Eq. 7 is left out).
5. Anomaly map: patch scores resized bilinearly to the image size and smoothed with a
   Gaussian of sigma = 4 px (paper Sec. 4.2).
"""

from __future__ import annotations

import cv2
import numpy as np

from dg_vision.anomaly.backbone import export_patch_features_onnx
from dg_vision.anomaly.patchcore import (
    COLOUR_CHANNELS,
    DEFAULT_STAGES,
    FEATURE_STRIDE,
    check_image_size,
    make_session,
    normalised_input,
)
from dg_vision.image import as_image

#: Gaussian smoothing of the anomaly map, px (PatchCore paper, Sec. 4.2).
SIGMA_PX = 4.0
#: Memory-bank rows per distance block (bounds the temporary (patches x rows) matrix).
BANK_CHUNK = 16384


class PlainPatchCore:
    """Textbook PatchCore fitted on good images (see the module docstring)."""

    def __init__(self, train_images, *, image_size=256, stages=DEFAULT_STAGES, threads=2):
        check_image_size(image_size)
        self.image_size = int(image_size)
        self.grid = self.image_size // FEATURE_STRIDE
        self._session = make_session(export_patch_features_onnx(self.image_size,
                                                                tuple(stages)), threads)
        self._input_name = self._session.get_inputs()[0].name
        bank = np.concatenate([self.features(img) for img in train_images])
        self.memory_bank = np.ascontiguousarray(bank, dtype=np.float32)
        self._bank_t_x2 = np.ascontiguousarray(-2.0 * self.memory_bank.T)  # -2 b, as columns
        self._bank_sq = np.einsum("ij,ij->i", self.memory_bank, self.memory_bank)

    def features(self, image):
        """Deep patch features (grid*grid, C) float32 of one grey/BGR image."""
        x = normalised_input(as_image(image), self.image_size)
        f = self._session.run(None, {self._input_name: x})[0][0]
        f = f.reshape(f.shape[0], -1).T[:, :-COLOUR_CHANNELS]
        return np.ascontiguousarray(f, dtype=np.float32)

    def nearest_distance(self, feats):
        """Distance of each feature row to its nearest memory-bank row (brute force).

        ``|q - b|^2 = |q|^2 - 2 q.b + |b|^2`` over the whole bank, one block of rows at a time.
        """
        best = np.full(feats.shape[0], np.inf, np.float32)
        for start in range(0, self._bank_t_x2.shape[1], BANK_CHUNK):
            stop = start + BANK_CHUNK
            d2 = feats @ self._bank_t_x2[:, start:stop]
            d2 += self._bank_sq[start:stop]
            np.minimum(best, d2.min(axis=1), out=best)
        best += np.einsum("ij,ij->i", feats, feats)
        return np.sqrt(np.maximum(best, 0.0))

    def score(self, image):
        """Image score (largest patch score) and anomaly map (float32, the image's size)."""
        img = as_image(image)
        patch = self.nearest_distance(self.features(img)).reshape(self.grid, self.grid)
        s = self.image_size
        amap = cv2.GaussianBlur(cv2.resize(patch, (s, s), interpolation=cv2.INTER_LINEAR),
                                (0, 0), SIGMA_PX, borderType=cv2.BORDER_REFLECT)
        h, w = img.shape[:2]
        if (h, w) != (s, s):
            amap = cv2.resize(amap, (w, h), interpolation=cv2.INTER_LINEAR)
        return float(patch.max()), amap.astype(np.float32, copy=False)
