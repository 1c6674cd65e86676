"""Parsers of the recipe's field values: each checks one value and raises :class:`_FieldError`.

The loader (:mod:`dg_vision.recipe.loading`) adds which step and field a message is about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


class _FieldError(ValueError):
    """A field value is wrong; the caller adds which step and field.

    ``key`` narrows the field down inside a mapping, e.g. ``tol`` of a tolerance.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _num(v: Any, what: str = "a number") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _FieldError(f"must be {what}, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise _FieldError(f"must be finite, got {v!r}")
    return f


def _pos(v: Any) -> float:
    f = _num(v, "a positive number")
    if f <= 0:
        raise _FieldError(f"must be > 0, got {v!r}")
    return f


def _nonneg(v: Any) -> float:
    f = _num(v, "a number >= 0")
    if f < 0:
        raise _FieldError(f"must be >= 0, got {v!r}")
    return f


def _int_nonneg(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _FieldError(f"must be an integer >= 0, got {v!r}")
    return int(v)


def _int_pos(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _FieldError(f"must be an integer >= 1, got {v!r}")
    return int(v)


def _point(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a point [x, y] in px, got {v!r}")
    return _num(v[0]), _num(v[1])


def _line(v: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a line [[x0, y0], [x1, y1]] in px, got {v!r}")
    p0, p1 = _point(v[0]), _point(v[1])
    if math.dist(p0, p1) < 2.0:
        raise _FieldError(f"line {v!r} is shorter than 2 px")
    return p0, p1


def _rect(v: Any) -> tuple[float, float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise _FieldError(f"must be a rectangle [x, y, width, height] in px, got {v!r}")
    x, y, w, h = (_num(a) for a in v)
    if w < 2 or h < 2:
        raise _FieldError(f"rectangle {v!r} must be at least 2x2 px")
    if x < 0 or y < 0:
        raise _FieldError(f"rectangle {v!r} starts at negative coordinates")
    return x, y, w, h


def _box_mm(v: Any) -> tuple[float, float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise _FieldError(f"must be an XY box [x_min, y_min, x_max, y_max] in mm, got {v!r}")
    x0, y0, x1, y1 = (_num(a) for a in v)
    if x1 <= x0 or y1 <= y0:
        raise _FieldError(f"box {v!r} is empty (need x_min < x_max and y_min < y_max)")
    return x0, y0, x1, y1


def _range2(v: Any) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise _FieldError(f"must be a range [low, high], got {v!r}")
    lo, hi = _num(v[0]), _num(v[1])
    if lo > hi:
        raise _FieldError(f"range {v!r} has low > high")
    return lo, hi


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _FieldError(f"must be a non-empty string, got {v!r}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _FieldError(f"must be true or false, got {v!r}")
    return v


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(v: Any) -> str:
        if v not in options:
            raise _FieldError(f"must be one of {list(options)}, got {v!r}")
        return str(v)
    return parse


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) and s for s in v):
        raise _FieldError(f"must be a list of strings, got {v!r}")
    return tuple(v)


def _regex(v: Any) -> re.Pattern[str]:
    s = _str(v)
    try:
        return re.compile(s)
    except re.error as exc:
        raise _FieldError(f"is not a valid regular expression: {exc}") from None


def _min_score(v: Any) -> float:
    f = _num(v)
    if not 0.0 < f <= 1.0:
        raise _FieldError(f"must be in (0, 1], got {v!r}")
    return f


REQUIRED = object()


def _resolve(base: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else base / p
