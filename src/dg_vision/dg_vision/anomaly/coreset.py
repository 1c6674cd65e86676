"""Greedy coreset subsampling of a PatchCore memory bank.

PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022,
Sec. 3.2, Alg. 1) keeps the subset of patch features chosen by the greedy k-center rule
(Sener & Savarese, ICLR 2018): start from one feature, then repeatedly add the feature
farthest from everything selected so far. It covers the feature space with far fewer
points than random sampling and keeps rare-but-normal patches. Distances are computed on
a seeded random linear projection of the features (Johnson-Lindenstrauss; the paper projects
to d* = 128), which makes every step a cheap matrix-vector product.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dg_vision.errors import VisionInputError


def greedy_coreset(features: np.ndarray, n_select: int, *, seed: int = 0,
                   projection_dim: int = 128,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Indices (sorted, int64) of ``n_select`` rows of ``features`` (N, D) chosen greedily.

    The first row is drawn with ``seed``; the projection matrix (D x ``projection_dim``,
    N(0, 1/projection_dim) entries) comes from the same generator, so equal inputs and seeds
    give equal coresets. ``projection_dim >= D`` uses the features as they are.
    ``progress(done, total)`` is called every 10 % of the selections.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise VisionInputError(f"coreset: features must be a non-empty (N, D) array, got "
                               f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise VisionInputError("coreset: features contain NaN or infinite values")
    n = x.shape[0]
    if n_select >= n:
        return np.arange(n, dtype=np.int64)
    if n_select < 1:
        raise VisionInputError(f"coreset: n_select must be >= 1, got {n_select}")
    rng = np.random.default_rng(seed)
    if projection_dim < x.shape[1]:
        proj = rng.standard_normal((x.shape[1], projection_dim)).astype(np.float32)
        x = x @ (proj / np.sqrt(projection_dim, dtype=np.float32))
    x = np.ascontiguousarray(x)
    sq = np.einsum("ij,ij->i", x, x)
    selected = np.empty(n_select, dtype=np.int64)
    idx = int(rng.integers(n))
    min_d2 = np.full(n, np.inf, dtype=np.float32)
    step = max(1, n_select // 10)
    buf = np.empty(n, dtype=np.float32)
    for k in range(n_select):
        selected[k] = idx
        # squared distance of every feature to the newly selected one
        np.matmul(x, x[idx], out=buf)
        buf *= -2.0
        buf += sq
        buf += sq[idx]
        np.minimum(min_d2, buf, out=min_d2)
        min_d2[idx] = -1.0  # never pick twice (round-off may leave tiny positives)
        idx = int(np.argmax(min_d2))
        if progress is not None and ((k + 1) % step == 0 or k + 1 == n_select):
            progress(k + 1, n_select)
    return np.sort(selected)
