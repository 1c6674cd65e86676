"""Rigid transforms: rotation vectors, applying a 4x4, batched Kabsch fits, rotation angles."""

from __future__ import annotations

import numpy as np


def _rodrigues(w: np.ndarray) -> np.ndarray:
    theta = float(np.linalg.norm(w))
    if theta < 1e-12:
        k = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
        return np.eye(3) + k
    k = w / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * (kx @ kx)


def _apply(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ t[:3, :3].T + t[:3, 3]


def _kabsch_batch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations R (H,3,3) and translations t (H,3) with R a + t ~ b for (H, k, 3) sets."""
    ca, cb = a.mean(axis=1), b.mean(axis=1)
    h = np.einsum("hki,hkj->hij", a - ca[:, None], b - cb[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("hij,hjk->hik", u, vt)))
    d[d == 0] = 1.0
    vt = vt.copy()
    vt[:, 2, :] *= d[:, None]
    r = np.einsum("hji,hkj->hik", vt, u)
    return r, cb - np.einsum("hij,hj->hi", r, ca)


def rotation_angle_deg(r: np.ndarray) -> float:
    """Angle (degrees) of a 3x3 rotation matrix."""
    c = (float(np.trace(r[:3, :3])) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))
