"""Water-sampling stations over a survey region: a regular grid, or a checked list.

Stations lie on the water at least ``margin_m`` from the shore and from every island (the
same conservative region as the coverage planner, :func:`coverable_region`). Grid stations
are ordered row by row, alternating direction (a serpentine), starting from the corner
nearest the boat so the visiting order is short without any search; transits between them
are the global planner's job (islands in between).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import Polygon

from dg_autonomy.coverage.boustrophedon import (
    InvalidCoverageParameter,
    NoCoverableArea,
    coverable_region,
    validate_area,
)


class SampleOutsideRegion(InvalidCoverageParameter):
    """A listed sampling station is not on the water clear of the margin."""


def _distance(value: float, name: str, allow_zero: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidCoverageParameter(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        raise InvalidCoverageParameter(
            f"{name} must be finite and {'>=' if allow_zero else '>'} 0, got {value!r}")
    return v


def grid_samples(area: Polygon, spacing_m: float, margin_m: float, angle_rad: float = 0.0,
                 start_xy: Sequence[float] | None = None) -> list[tuple[float, float]]:
    """Sampling stations on a square grid over the water of ``area``.

    Args:
        area: water polygon (holes = islands) [m, map frame].
        spacing_m: distance between neighbouring stations [m] (> 0).
        margin_m: keep-out distance from the shore and the islands [m] (>= 0).
        angle_rad: grid orientation (ENU, 0 = rows along east).
        start_xy: where the boat starts; the serpentine begins at the grid corner nearest to
            it (default: the south-west corner of the rotated grid).

    Returns:
        Stations ``[(x, y), ...]`` in visiting order: the centres of a grid of
        ``spacing_m`` cells laid over the region's extent, kept where they fall inside the
        region (boundary excluded). A region too small to hold one gets a single station at
        its pole of inaccessibility (the point farthest from shore and islands).

    Raises:
        InvalidArea: area not a valid simple non-empty Polygon.
        InvalidCoverageParameter: spacing, margin, angle or start malformed / out of range.
        NoCoverableArea: no water is left once the margin is removed.

    """
    area = validate_area(area)
    spacing_m = _distance(spacing_m, "spacing_m", allow_zero=False)
    margin_m = _distance(margin_m, "margin_m", allow_zero=True)
    if not math.isfinite(float(angle_rad)):
        raise InvalidCoverageParameter(f"angle_rad must be finite, got {angle_rad}")
    start = None
    if start_xy is not None:
        start = np.asarray(start_xy, dtype=float).reshape(-1)
        if start.shape != (2,) or not np.all(np.isfinite(start)):
            raise InvalidCoverageParameter(f"start_xy must be a finite (x, y) pair, "
                                           f"got {start_xy!r}")
    region = coverable_region(area, margin_m)
    parts = [p for p in getattr(region, "geoms", [region]) if not p.is_empty]
    if not parts:
        raise NoCoverableArea(f"no water is left {margin_m} m away from the shore and islands")
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    rot = np.array([[c, -s], [s, c]])  # p @ rot: world -> grid frame (rows along angle)
    coords = np.concatenate([np.asarray(r.coords) for p in parts
                             for r in (p.exterior, *p.interiors)]) @ rot
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    # Cell-centred: each station stands for a spacing x spacing cell of the extent.
    n = np.maximum(1, np.ceil((hi - lo) / spacing_m - 1e-9)).astype(int)
    first = lo + 0.5 * ((hi - lo) - (n - 1) * spacing_m)
    gx = first[0] + spacing_m * np.arange(n[0])
    gy = first[1] + spacing_m * np.arange(n[1])
    xx, yy = np.meshgrid(gx, gy)  # rows = grid y
    world = np.stack([xx, yy], axis=-1) @ rot.T
    shapely.prepare(region)
    inside = shapely.contains_xy(region, world[..., 0], world[..., 1])
    if not inside.any():
        biggest = max(parts, key=lambda p: p.area)
        pole = shapely.ops.polylabel(biggest, tolerance=0.01 * spacing_m)
        return [(float(pole.x), float(pole.y))]
    # Serpentine from the corner nearest the start: rows from the nearer end, first row from
    # the nearer side.
    rows = [np.flatnonzero(inside[i]) for i in range(inside.shape[0])]
    rows_order = list(range(len(rows)))
    flip_first = False
    if start is not None:
        local = start @ rot
        rows_order = rows_order[::-1] if local[1] > 0.5 * (gy[0] + gy[-1]) else rows_order
        flip_first = local[0] > 0.5 * (gx[0] + gx[-1])
    out: list[tuple[float, float]] = []
    flip = flip_first
    for i in rows_order:
        cols = rows[i]
        if len(cols) == 0:
            continue
        for j in (cols[::-1] if flip else cols):
            out.append((float(world[i, j, 0]), float(world[i, j, 1])))
        flip = not flip
    return out


def validate_samples(area: Polygon, points: Iterable[Sequence[float]],
                     margin_m: float) -> list[tuple[float, float]]:
    """Check listed stations: each must lie on the water at least ``margin_m`` off the shore.

    Raises:
        InvalidArea: area not a valid simple non-empty Polygon.
        InvalidCoverageParameter: a point is malformed, or the list is empty.
        SampleOutsideRegion: a point is on land, on an island or within the margin (the
            message gives its index and position).

    """
    area = validate_area(area)
    margin_m = _distance(margin_m, "margin_m", allow_zero=True)
    region = area.buffer(-margin_m) if margin_m > 0.0 else area
    out = []
    for k, p in enumerate(points):
        try:
            xy = np.asarray(p, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidCoverageParameter(f"sample {k} is not an (x, y) pair: {p!r}") from exc
        if xy.shape != (2,) or not np.all(np.isfinite(xy)):
            raise InvalidCoverageParameter(f"sample {k} must be a finite (x, y) pair, got {p!r}")
        if not region.covers(shapely.Point(xy)):
            where = "on land or an island" if not area.covers(shapely.Point(xy)) else \
                f"within {margin_m} m of the shore or an island"
            raise SampleOutsideRegion(f"sample {k} at ({xy[0]:.2f}, {xy[1]:.2f}) is {where}")
        out.append((float(xy[0]), float(xy[1])))
    if not out:
        raise InvalidCoverageParameter("no samples given")
    return out
