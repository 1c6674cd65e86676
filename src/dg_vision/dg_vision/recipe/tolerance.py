"""Tolerances: the limits of one quantity, their recipe syntax, and the out-of-tolerance message."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dg_vision.recipe.fields import _FieldError, _nonneg, _num
from dg_vision.recipe.results import _fmt


@dataclass(frozen=True)
class Tolerance:
    """Absolute tolerance limits of one quantity (``-inf``/``+inf`` when one-sided)."""

    nominal: float = math.nan
    lower: float = -math.inf
    upper: float = math.inf

    def accepts(self, value: float) -> bool:
        """True when ``value`` is a number within ``[lower, upper]`` (NaN never is)."""
        return bool(math.isfinite(value) and self.lower <= value <= self.upper)


_TOL_KEYS = {"nominal", "tol", "lower", "upper"}


def parse_tolerance(spec: Any) -> Tolerance:
    """Parse a tolerance mapping into a :class:`Tolerance`.

    Accepted: ``{nominal, tol}`` (``tol`` a number for +-, or ``[minus, plus]``) or
    ``{lower, upper}`` (one of them for one-sided limits), optionally with a ``nominal``.
    Raises ValueError saying what is wrong.
    """
    if not isinstance(spec, Mapping):
        raise _FieldError(f"must be a mapping with nominal/tol or lower/upper, got {spec!r}")
    unknown = set(spec) - _TOL_KEYS
    if unknown:
        raise _FieldError(f"unknown key(s) {sorted(unknown)}; use {sorted(_TOL_KEYS)}")
    def num(key: str, default: float) -> float:
        if spec.get(key) is None:
            return default
        try:
            return _num(spec[key])
        except _FieldError as exc:
            raise _FieldError(str(exc), key) from None

    nominal = num("nominal", math.nan)
    lower = num("lower", -math.inf)
    upper = num("upper", math.inf)
    if spec.get("tol") is not None:
        if not math.isfinite(nominal):
            raise _FieldError("'tol' needs a 'nominal'", "tol")
        if "lower" in spec or "upper" in spec:
            raise _FieldError("give either 'tol' or 'lower'/'upper', not both", "tol")
        tol = spec["tol"]
        try:
            if isinstance(tol, (list, tuple)):
                if len(tol) != 2:
                    raise _FieldError(f"'tol' as a list must be [minus, plus], got {tol!r}")
                minus, plus = _nonneg(tol[0]), _nonneg(tol[1])
            else:
                minus = plus = _nonneg(tol)
        except _FieldError as exc:
            raise _FieldError(str(exc), "tol") from None
        lower, upper = nominal - minus, nominal + plus
    elif math.isfinite(nominal) and "lower" not in spec and "upper" not in spec:
        raise _FieldError("a 'nominal' needs 'tol' or 'lower'/'upper'", "nominal")
    if not (math.isfinite(lower) or math.isfinite(upper)):
        raise _FieldError("no limits: give nominal + tol, or lower and/or upper")
    if lower > upper:
        raise _FieldError(f"lower {lower} > upper {upper}", "lower")
    if math.isfinite(nominal) and not lower <= nominal <= upper:
        raise _FieldError(f"nominal {nominal} lies outside [{lower}, {upper}]", "nominal")
    return Tolerance(nominal, lower, upper)


def _out_of_tolerance(value: float, tol: Tolerance) -> str:
    if value < tol.lower:
        return f"{_fmt(value)} below the lower limit {tol.lower:.4g}"
    return f"{_fmt(value)} above the upper limit {tol.upper:.4g}"
