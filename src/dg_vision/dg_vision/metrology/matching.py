"""Shape-based matching: find a taught part at any rotation and moderate scale, sub-pixel.

Method (after Steger, "Occlusion, clutter, and illumination invariant object recognition",
2002, the idea behind HALCON's shape-based matching; our own implementation):

* **Model** (taught from one image at angle 0): on each level of an image pyramid
  (``cv2.pyrDown``), edge points of the ROI = gradient maxima along the gradient direction
  (non-maximum suppression) with magnitude above a contrast threshold, each with its unit
  gradient direction, relative to the ROI centre. Level-0 points are located to sub-pixel by
  a parabola through the gradient magnitude across the edge.
* **Score** of a pose (x, y, angle, scale): the mean over the model points of the cosine
  between the rotated model direction and the image gradient direction at the transformed
  point (image gradients normalised to unit length, weak ones set to 0). It is invariant to
  contrast and brightness, degrades gracefully with occlusion (missing points score 0) and
  clutter (only model points are looked at), and 1 is a perfect match.
* **Search**: on the top level every angle in the range (step ~1.5 / model radius rad) and
  scale (step ~1.5 / radius) is scored at every position at once by correlating the
  2-channel normalised gradient image (blurred slightly, so the coarse grid tolerates a
  pixel of misalignment) with the rasterised model (``cv2.matchTemplate``, TM_CCORR);
  the best poses over all angles become candidates (non-maximum suppressed). Each candidate
  is tracked down the pyramid: on every finer level a small grid of +-2 px, +-2 angle steps
  and +-1 scale steps around the doubled pose.
* **Refinement** (level 0): least squares. For every model point the image edge is looked
  up along the point's normal (the peak of the image gradient projected on the normal,
  sampled every 0.5 px over +-2 px, sub-pixel by a parabola); the pose update minimises the
  squared normal distances (Gauss-Newton with Tukey weights, linearised in x, y, angle and
  scale), iterated. This gives ~1/50 px and ~1/100 degree on a part of a few hundred edge
  points, well below the pyramid's grid.

Polarity: by default the edges must keep the model's dark/bright sense (a gradient
reversed by 180 deg scores -1); ``find(..., polarity="ignore_global")`` also accepts the
part with all its contrasts reversed (searched as a second sign on the top level).

Pose convention: ``Match(x, y, angle_deg, scale, score)``: the model ROI's centre (x + w/2,
y + h/2 of the teach ROI) lands at (x, y) [px]; a model point at offset p from it lands at
(x, y) + scale * R(angle) p with R = [[cos, sin], [-sin, cos]]: angle positive
counter-clockwise on screen (y down), as ``cv2.getRotationMatrix2D``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dg_common.geometry import wrap_angle
from dg_vision.errors import VisionInputError
from dg_vision.image import check_roi, to_gray
from dg_vision.metrology._robust import robust_scale, subpixel_peak, tukey_weights

_SMOOTH_SIGMA = 1.0          # Gaussian pre-smoothing at level 0 [px]
_TOP_MIN_SIDE = 10.0         # the top level keeps the ROI at least this wide [px]
_TOP_MIN_POINTS = 24
_MAX_LEVELS = 6
_MAX_POINTS_GRID = 400       # model points scored per pose on the tracking levels
_MAX_POINTS_REFINE = 3000    # model points used by the level-0 least squares
_SPREAD_SIGMA = 1.0          # blur of the normalised gradient on the top level [px]
_FORMAT = "dg_vision.shape_model/1"


@dataclass(frozen=True)
class Match:
    """A found instance.

    ROI centre (x, y) [px], angle [deg, counter-clockwise on screen],
    scale and score (mean gradient-direction cosine, 0..1).
    """

    x: float
    y: float
    angle_deg: float
    scale: float
    score: float


@dataclass
class _Level:
    pts: np.ndarray       # (n, 2) offsets from the ROI centre [px of this level]
    dirs: np.ndarray      # (n, 2) unit gradient directions
    radius: float         # max |pts|


@dataclass
class ShapeModel:
    """A taught shape; make one with :meth:`teach`, use it with :meth:`find`."""

    levels: list[_Level]
    ref: tuple[float, float]
    size: tuple[int, int]
    angle_range: tuple[float, float]
    scale_range: tuple[float, float]
    contrast: float
    info: dict = field(default_factory=dict)

    # --- teaching ----------------------------------------------------------------------
    @classmethod
    def teach(cls, image: np.ndarray, roi: tuple[int, int, int, int] | None = None, *,
              angle_range: tuple[float, float] = (-180.0, 180.0),
              scale_range: tuple[float, float] = (1.0, 1.0),
              min_contrast: float | None = None, num_levels: int | None = None
              ) -> ShapeModel:
        """Teach the shape inside ``roi`` = (x, y, w, h) of ``image`` (whole image if None).

        Args:
            image: grey or BGR image of the part at angle 0, scale 1.
            roi: the model region; its centre (x + w/2, y + h/2) is the reported position.
            angle_range: default angle range [deg] searched by :meth:`find`.
            scale_range: default scale range searched (e.g. (0.9, 1.1)).
            min_contrast: edge gradient threshold [grey levels / px]; None: 25 % of the 99th
                percentile of the gradient magnitude in the ROI (at least 4).
            num_levels: pyramid levels; None: as many as keep the ROI >= 14 px wide and
                >= 24 edge points on the top level.

        Raises:
            VisionInputError: bad image or ROI, ranges or a region with too few edges.

        """
        gray = to_gray(image)
        h_img, w_img = gray.shape
        if roi is None:
            x0, y0, rw, rh = 0, 0, w_img, h_img
        else:
            x0, y0, rw, rh = check_roi(roi, gray.shape, name="model roi", min_side=8)
        if num_levels is not None and not (isinstance(num_levels, numbers.Integral)
                                           and 1 <= num_levels <= _MAX_LEVELS):
            raise VisionInputError(f"num_levels must be an int 1..{_MAX_LEVELS} or None, got "
                                   f"{num_levels!r}")
        ar, sr = _check_ranges(angle_range, scale_range)
        ref = (x0 + rw / 2.0, y0 + rh / 2.0)
        pyr = _pyramid(gray, _MAX_LEVELS)
        grads = [_gradients(p, lvl) for lvl, p in enumerate(pyr)]
        mag0 = grads[0][2][y0:y0 + rh, x0:x0 + rw]
        if min_contrast is None:
            contrast = max(4.0, 0.25 * float(np.percentile(mag0, 99)))
        else:
            contrast = float(min_contrast)
            if not (math.isfinite(contrast) and contrast > 0):
                raise VisionInputError(f"min_contrast must be > 0, got {min_contrast!r}")
        levels: list[_Level] = []
        for lvl, (gx, gy, mag) in enumerate(grads):
            f = 2.0 ** lvl
            lo_x, lo_y = int(math.ceil(x0 / f)), int(math.ceil(y0 / f))
            hi_x = int(math.floor((x0 + rw - 1) / f))
            hi_y = int(math.floor((y0 + rh - 1) / f))
            if lvl > 0 and (min(rw, rh) / f < _TOP_MIN_SIDE):
                break
            if hi_x - lo_x < 3 or hi_y - lo_y < 3:
                break
            # The contrast halves less than the smoothing: edges stay strong per level.
            pts, dirs = _edge_points(gx, gy, mag, (lo_x, lo_y, hi_x, hi_y), contrast,
                                     subpixel=(lvl == 0))
            if lvl > 0 and len(pts) < _TOP_MIN_POINTS:
                break
            if lvl == 0 and len(pts) < 8:
                raise VisionInputError(f"model region has only {len(pts)} edge points above "
                                       f"contrast {contrast:.1f}: nothing to match")
            rel = pts - np.array([ref[0] / f, ref[1] / f])
            levels.append(_Level(rel, dirs, float(np.hypot(rel[:, 0], rel[:, 1]).max())))
            if num_levels is not None and len(levels) >= int(num_levels):
                break
        if num_levels is not None and len(levels) < int(num_levels):
            raise VisionInputError(f"model supports only {len(levels)} pyramid levels, "
                                   f"asked for {num_levels}")
        return cls(levels=levels, ref=ref, size=(rw, rh), angle_range=ar, scale_range=sr,
                   contrast=contrast, info={"points": [len(lv.pts) for lv in levels]})

    # --- files -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model to one ``.npz`` file (no pickle)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(_FORMAT),
            "meta": np.array([*self.ref, *self.size, *self.angle_range, *self.scale_range,
                              self.contrast, len(self.levels)], dtype=np.float64)}
        for i, lv in enumerate(self.levels):
            arrays[f"pts{i}"] = lv.pts
            arrays[f"dirs{i}"] = lv.dirs
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> ShapeModel:
        """Read a model written by :meth:`save`.

        Raises:
            VisionInputError: missing file, not a shape-model file, or a corrupt one.

        """
        p = Path(path)
        if not p.is_file():
            raise VisionInputError(f"{p}: no such shape-model file")
        try:
            with np.load(p, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"]) != _FORMAT:
                    raise VisionInputError(f"{p}: not a {_FORMAT} file")
                meta = z["meta"]
                n = int(meta[9])
                levels = []
                for i in range(n):
                    pts, dirs = z[f"pts{i}"].astype(np.float64), z[f"dirs{i}"].astype(np.float64)
                    if pts.ndim != 2 or pts.shape[1] != 2 or dirs.shape != pts.shape:
                        raise VisionInputError(f"{p}: level {i} is corrupt")
                    levels.append(_Level(pts, dirs, float(np.hypot(pts[:, 0], pts[:, 1]).max())))
        except VisionInputError:
            raise
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise VisionInputError(f"{p}: cannot read shape model ({exc})") from None
        if not levels or not np.all(np.isfinite(meta)):
            raise VisionInputError(f"{p}: shape model has no levels or bad values")
        return cls(levels=levels, ref=(float(meta[0]), float(meta[1])),
                   size=(int(meta[2]), int(meta[3])),
                   angle_range=(float(meta[4]), float(meta[5])),
                   scale_range=(float(meta[6]), float(meta[7])), contrast=float(meta[8]),
                   info={"points": [len(lv.pts) for lv in levels]})

    # --- searching ---------------------------------------------------------------------
    def find(self, image: np.ndarray, *, min_score: float = 0.6, max_matches: int = 1,
             search_roi: tuple[int, int, int, int] | None = None,
             angle_range: tuple[float, float] | None = None,
             scale_range: tuple[float, float] | None = None,
             max_overlap: float = 0.5, polarity: str = "use") -> list[Match]:
        """Find up to ``max_matches`` instances with score >= ``min_score``, best first.

        Args:
            image: grey or BGR image.
            min_score: minimum score (0..1) of a reported match.
            max_matches: how many instances to return at most.
            search_roi: (x, y, w, h): only matches whose centre lies inside are reported.
            angle_range: override the angle range given at teach time [deg].
            scale_range: override the scale range given at teach time.
            max_overlap: two matches closer than ``max_overlap`` x the model's smaller
                side are one (the better is kept).
            polarity: "use" (edges must have the model's dark/bright sense) or
                "ignore_global" (also find the part with all contrasts reversed, e.g. a
                bright part on a dark background taught as dark on bright).

        Raises:
            VisionInputError: bad image, ROI or parameters.

        """
        gray = to_gray(image)
        try:
            min_score = float(min_score)
        except (TypeError, ValueError):
            raise VisionInputError(f"min_score must be a number, got {min_score!r}") from None
        if not (0.0 < min_score <= 1.0):
            raise VisionInputError(f"min_score must be in (0, 1], got {min_score!r}")
        if polarity not in ("use", "ignore_global"):
            raise VisionInputError(f"polarity must be 'use' or 'ignore_global', got "
                                   f"{polarity!r}")
        if not (isinstance(max_matches, numbers.Integral) and max_matches >= 1):
            raise VisionInputError(f"max_matches must be an int >= 1, got {max_matches!r}")
        max_matches = int(max_matches)
        try:
            max_overlap = float(max_overlap)
        except (TypeError, ValueError):
            raise VisionInputError(f"max_overlap must be a number, got {max_overlap!r}") \
                from None
        if not 0.0 <= max_overlap <= 1.0:
            raise VisionInputError(f"max_overlap must be in [0, 1], got {max_overlap!r}")
        ar, sr = _check_ranges(self.angle_range if angle_range is None else angle_range,
                               self.scale_range if scale_range is None else scale_range)
        h_img, w_img = gray.shape
        roi = None
        if search_roi is not None:
            roi = check_roi(search_roi, gray.shape, name="search_roi")
        pyr = _pyramid(gray, len(self.levels))
        nlev = len(pyr)        # an image smaller than the model's pyramid: fewer levels
        grads = [_gradients(p, lvl) for lvl, p in enumerate(pyr)]
        weak = 0.25 * self.contrast
        top = nlev - 1

        def nmap(lvl: int) -> tuple[np.ndarray, np.ndarray]:
            nx, ny = _normalised(*grads[lvl], weak)
            sig = _SPREAD_SIGMA if lvl == top else 0.7 if lvl > 0 else 0.0
            if sig > 0:
                nx = cv2.GaussianBlur(nx, (0, 0), sig)
                ny = cv2.GaussianBlur(ny, (0, 0), sig)
            return nx, ny

        # A reversed-contrast hypothesis (sign -1) scores the image against the model with
        # its directions negated: the same as negating the image gradients.
        cands = self._search_top(nmap(top), top, ar, sr, roi, min_score, max_matches,
                                 either_sign=polarity == "ignore_global")
        n_track = max(2 * max_matches, 3)
        for lvl in range(top - 1, -1, -1):
            nm = nmap(lvl)
            tracked = [self._track(nm, lvl, 2.0 * x, 2.0 * y, ang, sc, a_st / 2.0,
                                   s_st / 2.0, sr, sg) + (a_st / 2.0, s_st / 2.0, sg)
                       for _, x, y, ang, sc, a_st, s_st, sg in cands]
            tracked.sort(key=lambda c: -c[0])
            # Drop candidates that converged onto a better one (same place, same sign).
            near = 0.25 * min(self.size) / 2.0 ** lvl
            cands = []
            for c in tracked:
                if c[0] < 0.7 * min_score or len(cands) >= n_track:
                    break
                if all(math.hypot(c[1] - k[1], c[2] - k[2]) >= near or c[7] != k[7]
                       for k in cands):
                    cands.append(c)
            if not cands:
                return []
        results: list[Match] = []
        for _, x, y, ang, sc, _, _, sg in cands:
            x, y, ang, sc = self._refine(grads[0], x, y, ang, sc, sr, sg)
            score = self._score0(grads[0], x, y, ang, sc, weak, sg)
            if score < min_score or not (0 <= x < w_img and 0 <= y < h_img):
                continue
            if roi is not None and not (roi[0] <= x <= roi[0] + roi[2]
                                        and roi[1] <= y <= roi[1] + roi[3]):
                continue
            results.append(Match(float(x), float(y), math.degrees(wrap_angle(ang)),
                                 float(sc), float(score)))
        results.sort(key=lambda m: -m.score)
        keep: list[Match] = []
        min_d = max_overlap * min(self.size)
        for m in results:
            if all(math.hypot(m.x - k.x, m.y - k.y) >= min_d for k in keep):
                keep.append(m)
            if len(keep) >= max_matches:
                break
        return keep

    def _search_top(self, nmap: tuple[np.ndarray, np.ndarray], lvl: int,
                    ar: tuple[float, float], sr: tuple[float, float], roi: tuple | None,
                    min_score: float, max_matches: int, either_sign: bool = False
                    ) -> list[tuple]:
        nx, ny = nmap
        f = 2.0 ** lvl
        model = self.levels[lvl]
        r = model.radius
        a_step = min(math.radians(12.0), 1.5 / max(r, 1.0))
        a0, a1 = math.radians(ar[0]), math.radians(ar[1])
        span = a1 - a0
        if span >= 2 * math.pi - 1e-9:
            n_a = int(math.ceil(2 * math.pi / a_step))
            angles = a0 + np.arange(n_a) * (2 * math.pi / n_a)
            a_step = 2 * math.pi / n_a
        else:
            n_a = max(1, int(math.ceil(span / a_step)) + 1)
            angles = np.linspace(a0, a1, n_a) if n_a > 1 else np.array([0.5 * (a0 + a1)])
            a_step = span / (n_a - 1) if n_a > 1 else a_step
        s_step = 1.5 / max(r, 1.0)
        if sr[1] - sr[0] > 1e-9:
            n_s = max(2, int(math.ceil((sr[1] - sr[0]) / s_step)) + 1)
            scales = np.linspace(sr[0], sr[1], n_s)
            s_step = (sr[1] - sr[0]) / (n_s - 1)
        else:
            scales = np.array([sr[0]])
            s_step = 0.0
        half = int(math.ceil(r * float(scales.max()))) + 2
        h, w = nx.shape
        img2 = cv2.merge([cv2.copyMakeBorder(c, half, half, half, half, cv2.BORDER_CONSTANT, 0)
                          for c in (nx, ny)])
        n_pts = len(model.pts)
        best = np.full((h, w), -np.inf, np.float32)
        best_idx = np.zeros((h, w), np.int32)
        best_neg = np.zeros((h, w), bool)
        poses = []
        tsize = 2 * half + 1
        for sc in scales:
            for ang in angles:
                rot = _rot(ang)
                q = sc * model.pts @ rot.T
                dq = model.dirs @ rot.T
                ix = np.rint(q[:, 0]).astype(np.int64) + half
                iy = np.rint(q[:, 1]).astype(np.int64) + half
                flat = iy * tsize + ix
                tmpl = np.stack([np.bincount(flat, dq[:, 0], tsize * tsize),
                                 np.bincount(flat, dq[:, 1], tsize * tsize)], axis=1)
                tmpl = tmpl.astype(np.float32).reshape(tsize, tsize, 2)
                res = cv2.matchTemplate(img2, tmpl, cv2.TM_CCORR)
                if either_sign:
                    neg = res < 0
                    res = np.abs(res)
                better = res > best
                best[better] = res[better]
                best_idx[better] = len(poses)
                if either_sign:
                    best_neg[better] = neg[better]
                poses.append((float(ang), float(sc)))
        best /= n_pts
        if roi is not None:
            mask = np.zeros_like(best, dtype=bool)
            x0, y0 = int(math.floor(roi[0] / f)), int(math.floor(roi[1] / f))
            x1 = int(math.ceil((roi[0] + roi[2]) / f))
            y1 = int(math.ceil((roi[1] + roi[3]) / f))
            mask[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = True
            best[~mask] = -np.inf
        # Candidates: local maxima over a neighbourhood of ~ half the model radius.
        k = max(3, int(2 * (r // 3) + 1))
        dil = cv2.dilate(best, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
        thr = 0.5 * min_score
        ys, xs = np.nonzero((best >= dil) & (best >= thr))
        order = np.argsort(-best[ys, xs])
        n_keep = max(4 * max_matches, 6)
        out = []
        for i in order[:n_keep]:
            ang, sc = poses[best_idx[ys[i], xs[i]]]
            out.append((float(best[ys[i], xs[i]]), float(xs[i]), float(ys[i]), ang, sc,
                        a_step, s_step, -1 if best_neg[ys[i], xs[i]] else 1))
        return out

    def _track(self, nmap: tuple[np.ndarray, np.ndarray], lvl: int, x: float, y: float,
               ang: float, sc: float, a_step: float, s_step: float, sr: tuple[float, float],
               sign: int = 1) -> tuple[float, float, float, float, float]:
        nx, ny = nmap
        model = self.levels[lvl]
        pts, dirs = _subset(model.pts, model.dirs, _MAX_POINTS_GRID)
        dirs = sign * dirs
        angs = ang + a_step * np.arange(-2, 3)
        if s_step > 0:
            scs = np.clip(sc + s_step * np.arange(-1, 2), sr[0], sr[1])
            scs = np.unique(scs)
        else:
            scs = np.array([sc])
        cx, cy = int(round(x)), int(round(y))
        offs = np.arange(-2, 3)
        h, w = nx.shape
        # All angle x scale poses at once: (P, n) rotated offsets and directions.
        pose_a = np.repeat(angs, len(scs))
        pose_s = np.tile(scs, len(angs))
        c, s_ = np.cos(pose_a)[:, None], np.sin(pose_a)[:, None]
        qx = pose_s[:, None] * (c * pts[None, :, 0] + s_ * pts[None, :, 1])
        qy = pose_s[:, None] * (-s_ * pts[None, :, 0] + c * pts[None, :, 1])
        dx = c * dirs[None, :, 0] + s_ * dirs[None, :, 1]
        dy = -s_ * dirs[None, :, 0] + c * dirs[None, :, 1]
        ix = np.rint(qx).astype(np.int64) + cx        # (P, n)
        iy = np.rint(qy).astype(np.int64) + cy
        px = ix[:, None, None, :] + offs[None, None, :, None]      # (P, 5 (y), 5 (x), n)
        py = iy[:, None, None, :] + offs[None, :, None, None]
        inside = (px >= 0) & (px < w) & (py >= 0) & (py < h)
        idx = np.clip(py, 0, h - 1) * w + np.clip(px, 0, w - 1)
        sco = nx.ravel()[idx] * dx[:, None, None, :] + ny.ravel()[idx] * dy[:, None, None, :]
        tot = np.where(inside, sco, 0.0).sum(axis=3)               # (P, 5, 5)
        k = int(np.argmax(tot))
        p_i, rem = divmod(k, 25)
        iy_, ix_ = divmod(rem, 5)
        return (float(tot.flat[k]) / len(pts), float(cx + offs[ix_]), float(cy + offs[iy_]),
                float(pose_a[p_i]), float(pose_s[p_i]))

    def _refine(self, grad: tuple, x: float, y: float, ang: float, sc: float,
                sr: tuple[float, float], sign: int = 1, iters: int = 6
                ) -> tuple[float, float, float, float]:
        gx, gy, _ = grad
        model = self.levels[0]
        pts, dirs = _subset(model.pts, model.dirs, _MAX_POINTS_REFINE)
        dirs = sign * dirs
        free_scale = sr[1] - sr[0] > 1e-9
        ts = np.arange(-4, 5) * 0.5
        for it in range(iters):
            rot = _rot(ang)
            v = sc * pts @ rot.T
            nrm = dirs @ rot.T
            t, ok = _peaks_along(gx, gy, np.array([x, y]) + v, nrm, ts, 0.5 * self.contrast)
            if ok.sum() < 6:
                break
            n_ok, t_ok, v_ok = nrm[ok], t[ok], v[ok]
            cols = [n_ok[:, 0], n_ok[:, 1], n_ok[:, 0] * v_ok[:, 1] - n_ok[:, 1] * v_ok[:, 0]]
            if free_scale:
                cols.append((n_ok * v_ok).sum(axis=1) / sc)
            a_mat = np.stack(cols, axis=1)
            wts = np.ones(len(t_ok))
            for _ in range(3):
                sw = np.sqrt(wts)
                sol, *_ = np.linalg.lstsq(a_mat * sw[:, None], t_ok * sw, rcond=None)
                res = t_ok - a_mat @ sol
                wts = tukey_weights(res, robust_scale(res, a_mat.shape[1], floor=0.05))
            x, y, ang = x + sol[0], y + sol[1], ang + sol[2]
            if free_scale:
                sc = float(np.clip(sc + sol[3], sr[0] * 0.98, sr[1] * 1.02))
            if it >= 1 and abs(sol[0]) + abs(sol[1]) < 1e-3 and abs(sol[2]) < 1e-5:
                break
        return float(x), float(y), float(ang), float(sc)

    def _score0(self, grad: tuple, x: float, y: float, ang: float, sc: float,
                weak: float, sign: int = 1) -> float:
        gx, gy, mag = grad
        model = self.levels[0]
        rot = _rot(ang)
        q = sc * model.pts @ rot.T + np.array([x, y])
        dq = sign * model.dirs @ rot.T
        mx = q[:, 0:1].astype(np.float32)
        my = q[:, 1:2].astype(np.float32)
        sx = cv2.remap(gx, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[:, 0]
        sy = cv2.remap(gy, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[:, 0]
        m = np.hypot(sx, sy)
        cos = np.where(m >= weak, (sx * dq[:, 0] + sy * dq[:, 1]) / np.maximum(m, 1e-9), 0.0)
        return float(np.mean(cos))


# --- helpers -----------------------------------------------------------------------------

def _check_ranges(angle_range: tuple[float, float], scale_range: tuple[float, float]
                  ) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        a0, a1 = (float(v) for v in angle_range)
        s0, s1 = (float(v) for v in scale_range)
    except (TypeError, ValueError):
        raise VisionInputError(f"angle_range and scale_range must be (lo, hi) pairs, got "
                               f"{angle_range!r}, {scale_range!r}") from None
    if not all(math.isfinite(v) for v in (a0, a1, s0, s1)):
        raise VisionInputError("angle_range and scale_range must be finite")
    if a1 < a0 or a1 - a0 > 360.0:
        raise VisionInputError(f"angle_range {angle_range!r} must have lo <= hi, span <= 360")
    if not (0.2 <= s0 <= s1 <= 5.0):
        raise VisionInputError(f"scale_range {scale_range!r} must satisfy 0.2 <= lo <= hi <= 5")
    return (a0, a1), (s0, s1)


def _rot(ang: float) -> np.ndarray:
    c, s = math.cos(ang), math.sin(ang)
    return np.array([[c, s], [-s, c]])


def _pyramid(gray: np.ndarray, n: int) -> list[np.ndarray]:
    out = [gray.astype(np.float32)]
    for _ in range(n - 1):
        if min(out[-1].shape) < 16:
            break
        out.append(cv2.pyrDown(out[-1]))
    return out


def _gradients(img: np.ndarray, lvl: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient x, y and magnitude [grey levels / px] of a pyramid level (float32)."""
    sm = cv2.GaussianBlur(img, (0, 0), _SMOOTH_SIGMA) if lvl == 0 else img
    gx = cv2.Sobel(sm, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(sm, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    return gx, gy, cv2.magnitude(gx, gy)


def _normalised(gx: np.ndarray, gy: np.ndarray, mag: np.ndarray, weak: float
                ) -> tuple[np.ndarray, np.ndarray]:
    inv = np.where(mag >= weak, 1.0 / np.maximum(mag, 1e-9), 0.0).astype(np.float32)
    return gx * inv, gy * inv


def _subset(pts: np.ndarray, dirs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(pts) <= n:
        return pts, dirs
    idx = np.linspace(0, len(pts) - 1, n).round().astype(np.int64)
    return pts[idx], dirs[idx]


def _edge_points(gx: np.ndarray, gy: np.ndarray, mag: np.ndarray,
                 box: tuple[int, int, int, int], contrast: float, *, subpixel: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Edge points of a pyramid level.

    Non-maximum suppressed gradient >= contrast inside box (x0, y0, x1, y1 inclusive),
    as (n, 2) positions and (n, 2) unit directions, in a fixed order.
    """
    h, w = mag.shape
    x0, y0 = max(box[0], 1), max(box[1], 1)
    x1, y1 = min(box[2], w - 2), min(box[3], h - 2)
    m = mag[y0:y1 + 1, x0:x1 + 1]
    ax = gx[y0:y1 + 1, x0:x1 + 1]
    ay = gy[y0:y1 + 1, x0:x1 + 1]
    ang = np.mod(np.arctan2(ay, ax), np.pi)
    sector = (np.floor((ang + np.pi / 8) / (np.pi / 4)).astype(np.int64)) % 4
    # Neighbour offsets per sector: 0 -> x, 1 -> diagonal (1, 1), 2 -> y, 3 -> (-1, 1).
    dxs = np.array([1, 1, 0, -1])[sector]
    dys = np.array([0, 1, 1, 1])[sector]
    yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
    n1 = mag[yy + dys, xx + dxs]
    n2 = mag[yy - dys, xx - dxs]
    keep = (m >= contrast) & (m > n1) & (m >= n2)
    ys, xs = np.nonzero(keep)
    px, py = xs + x0, ys + y0
    mm = m[ys, xs]
    ux, uy = ax[ys, xs] / mm, ay[ys, xs] / mm
    pts = np.stack([px, py], axis=1).astype(np.float64)
    if subpixel and len(pts):
        nrm = np.stack([ux, uy], axis=1).astype(np.float64)
        t, ok = _peaks_along(gx, gy, pts, nrm, np.arange(-2, 3) * 0.5, 0.0)
        pts += np.where(ok, t, 0.0)[:, None] * nrm
    return pts, np.stack([ux, uy], axis=1).astype(np.float64)


def _peaks_along(gx: np.ndarray, gy: np.ndarray, base: np.ndarray, nrm: np.ndarray,
                 ts: np.ndarray, min_value: float) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel offset t of the edge along each normal.

    The maximum of the image gradient
    projected on the normal, sampled at ``base + t nrm`` for t in ``ts`` (bicubic, so the
    peak is not pulled towards pixel centres as with bilinear sampling), refined by a
    Gaussian (log-parabola) fit through the three samples around it. ``ok`` is False where
    the peak is at the end of the range or below ``min_value``.
    """
    qx = (base[:, 0:1] + ts[None, :] * nrm[:, 0:1]).astype(np.float32)
    qy = (base[:, 1:2] + ts[None, :] * nrm[:, 1:2]).astype(np.float32)
    sx = cv2.remap(gx, qx, qy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    sy = cv2.remap(gy, qx, qy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    proj = (sx * nrm[:, 0:1] + sy * nrm[:, 1:2]).astype(np.float64)
    k = np.argmax(proj, axis=1)
    rows = np.arange(len(k))
    kk = np.clip(k, 1, len(ts) - 2)
    y0, y1, y2 = proj[rows, kk - 1], proj[rows, kk], proj[rows, kk + 1]
    ok = (k > 0) & (k < len(ts) - 1) & (y1 > max(min_value, 1e-9))
    delta, _ = subpixel_peak(y0, y1, y2)
    return ts[kk] + float(ts[1] - ts[0]) * delta, ok
