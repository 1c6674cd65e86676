"""Statistical process control of inspection measurements across a run.

Per measurement name: number of samples, mean, sample standard deviation (``ddof=1``), the
process capability ``Cp = (USL - LSL) / 6 sigma`` and the capability index
``Cpk = min(USL - mean, mean - LSL) / 3 sigma`` (Montgomery, *Introduction to Statistical
Quality Control*, ch. 8), and how many samples were out of tolerance.

One-sided limits: ``Cp`` needs both limits (NaN, reason "one-sided limits"); ``Cpk`` uses
the one limit there is (CPU or CPL). Samples that could not be measured (NaN) are not part
of the statistics; they are counted in ``not_measured`` (and as out of tolerance, since the
part failed). Fewer than two measured samples give NaN sigma/Cp/Cpk with a reason.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dg_vision.errors import VisionInputError


@dataclass(frozen=True)
class SpcRow:
    """The statistics of one measurement name."""

    name: str
    unit: str
    n: int
    mean: float
    sigma: float
    lower: float
    upper: float
    cp: float
    cpk: float
    out_of_tolerance: int
    not_measured: int
    reason: str = ""


@dataclass
class _Series:
    unit: str = ""
    lower: float = -math.inf
    upper: float = math.inf
    values: list[float] = field(default_factory=list)
    not_measured: int = 0


class SpcTable:
    """Collects measurement values by name and computes the SPC statistics."""

    def __init__(self) -> None:
        """An empty table."""
        self._series: dict[str, _Series] = {}

    def add(self, name: str, value: float, lower: float = -math.inf,
            upper: float = math.inf, unit: str = "") -> None:
        """Add one sample of ``name`` with its tolerance limits (absolute; +-inf when open).

        The limits of the latest sample are the ones used (a recipe change shows at once).
        A NaN value counts as not measured.

        Raises:
            VisionInputError: empty name, NaN limits or ``lower > upper``.

        """
        if not name:
            raise VisionInputError("SPC: measurement name is empty")
        lower, upper, value = float(lower), float(upper), float(value)
        if math.isnan(lower) or math.isnan(upper):
            raise VisionInputError(f"SPC {name}: tolerance limits must not be NaN "
                                   "(use -inf/+inf for an open side)")
        if lower > upper:
            raise VisionInputError(f"SPC {name}: lower limit {lower} > upper limit {upper}")
        s = self._series.setdefault(name, _Series())
        s.lower, s.upper = lower, upper
        if unit:
            s.unit = unit
        if math.isfinite(value):
            s.values.append(value)
        else:
            s.not_measured += 1

    def add_measurements(self, measurements: Iterable[Any]) -> None:
        """Add every measurement of one part.

        Items are objects with name, value, lower, upper and unit, e.g.
        :class:`dg_vision.recipe.Measured` or ``dg_interfaces/Measurement``.
        """
        for m in measurements:
            self.add(m.name, m.value, m.lower, m.upper, getattr(m, "unit", ""))

    def names(self) -> list[str]:
        """Measurement names in the order they were first added."""
        return list(self._series)

    def row(self, name: str) -> SpcRow:
        """The statistics of one measurement name (KeyError if never added)."""
        s = self._series[name]
        return _stats(name, s)

    def table(self) -> list[SpcRow]:
        """The statistics of every measurement name, in the order they were first added."""
        return [_stats(n, s) for n, s in self._series.items()]

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV text (header row, one row per name); also written to ``path``."""
        buf = io.StringIO()
        cols = list(SpcRow.__dataclass_fields__)
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.table():
            w.writerow({k: (_num(v) if isinstance(v, float) else v)
                        for k, v in asdict(r).items()})
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_markdown(self) -> str:
        """The table as a Markdown table (values to 4 significant digits)."""
        head = ("| measurement | unit | n | mean | sigma | LSL | USL | Cp | Cpk | out of tol "
                "| not measured | note |")
        lines = [head, "|" + "---|" * 12]
        for r in self.table():
            lines.append(
                f"| {r.name} | {r.unit} | {r.n} | {_num(r.mean)} | {_num(r.sigma)} "
                f"| {_num(r.lower)} | {_num(r.upper)} | {_num(r.cp)} | {_num(r.cpk)} "
                f"| {r.out_of_tolerance} | {r.not_measured} | {r.reason} |")
        return "\n".join(lines) + "\n"


def _num(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _stats(name: str, s: _Series) -> SpcRow:
    vals = s.values
    n = len(vals)
    lo, hi = s.lower, s.upper
    out = sum(1 for v in vals if not lo <= v <= hi) + s.not_measured
    mean = math.fsum(vals) / n if n else math.nan
    nan = math.nan
    reasons: list[str] = []
    if n < 2:
        reasons.append(f"{n} sample{'s' if n != 1 else ''}: need >= 2 for sigma")
        return SpcRow(name, s.unit, n, mean, nan, lo, hi, nan, nan, out, s.not_measured,
                      "; ".join(reasons))
    sigma = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1))
    has_lo, has_hi = math.isfinite(lo), math.isfinite(hi)
    cp = cpk = nan
    if not (has_lo or has_hi):
        reasons.append("no tolerance limits")
    elif sigma == 0.0:
        reasons.append("zero spread")
        inside = (not has_lo or mean >= lo) and (not has_hi or mean <= hi)
        cpk = math.inf if inside else -math.inf
        cp = math.inf if has_lo and has_hi else nan
    else:
        if has_lo and has_hi:
            cp = (hi - lo) / (6.0 * sigma)
        else:
            reasons.append("one-sided limits: Cp undefined")
        sides = []
        if has_hi:
            sides.append((hi - mean) / (3.0 * sigma))
        if has_lo:
            sides.append((mean - lo) / (3.0 * sigma))
        cpk = min(sides)
    return SpcRow(name, s.unit, n, mean, sigma, lo, hi, cp, cpk, out, s.not_measured,
                  "; ".join(reasons))
