"""Benchmark 4: input shapers' residual vibration versus frequency error (-20 ... +20 %).

Ours: ``dg_motion.shaping.input_shaping`` (ZV, MZV, ZVD, ZVDD, EI, EI2, EI3 designed with
the mode's damping ratio) and ``dg_motion.shaping.shaped_trajectory.ShapedTrajectory``.

1. Insensitivity (zeta = 0): the band of relative frequency error around the design
   frequency where the residual vibration stays <= 5 %, from ``insensitivity_band``. Context
   (published, not computed here): ZV +-3.2 %, MZV -4.9 ... +5.5 %, ZVD +-14.4 %, EI +-19.9 %,
   ZVDD +-24.0 % (Singer & Seering 1990; Singhose et al. 1994; Klipper's shaper table).
   Goal: each band edge within 0.5 percentage points of the published one.
2. Same-run reference for the formula: a damped second-order mode
   ``x'' + 2 zeta w x' + w^2 x = -a(t)`` (a flexible link whose base is driven by the joint
   acceleration ``a``) simulated by exact first-order-hold discretisation (``scipy.signal.
   cont2discrete``, the jerk-limited acceleration being piecewise linear), driven by a Ruckig
   rest-to-rest move (``ruckig``, jerk-limited, time-optimal) unshaped and shaped. The
   simulated ratio of the residual amplitudes (each taken the same time after its own
   move ends) is compared with ``residual_vibration`` at frequency errors of -20, -10, -5,
   0, +5, +10, +20 % for zeta = 0 and 0.1. Goal: agreement within 0.2 percentage points.
3. EI-class (EI, EI2, EI3): the simulated vibration reduction (1 - shaped/plain) across the
   whole +-20 % sweep is >= 90 % for zeta = 0 and 0.1 (and agrees with the formula).

Run: ``python bench/motion_shaping.py --json bench/results/motion_shaping.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import ruckig
from scipy.signal import cont2discrete

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.shaping.input_shaping import (  # noqa: E402
    ShaperKind,
    design_shaper,
    insensitivity_band,
    residual_vibration,
)
from dg_motion.shaping.shaped_trajectory import ShapedTrajectory  # noqa: E402

NAME = "motion_shaping"
F_DESIGN_HZ = 5.0
ZETAS = (0.0, 0.1)
KINDS = ("zv", "mzv", "zvd", "zvdd", "ei", "ei2", "ei3")
EI_CLASS = ("ei", "ei2", "ei3")
#: Published 5 % insensitivity bands at zeta = 0 [%] (context, see module docstring).
PUBLISHED = {"zv": (-3.2, 3.2), "mzv": (-4.9, 5.5), "zvd": (-14.4, 14.4),
             "ei": (-19.9, 19.9), "zvdd": (-24.0, 24.0)}
PUBLISHED_SOURCE = "Singer & Seering 1990; Singhose et al. 1994; Klipper shaper table"
SIM_ERRORS = (-0.20, -0.10, -0.05, 0.0, 0.05, 0.10, 0.20)
SWEEP = np.linspace(-0.20, 0.20, 401)
DT_S = 1e-4
SETTLE_S = 0.3   # residual amplitude taken this long after the (shaped) move ends


class RuckigMove:
    """A one-joint rest-to-rest Ruckig move as a dg_motion Trajectory."""

    def __init__(self, q0: float, q1: float, v: float, a: float, j: float) -> None:
        inp = ruckig.InputParameter(1)
        inp.current_position, inp.target_position = [q0], [q1]
        inp.max_velocity, inp.max_acceleration, inp.max_jerk = [v], [a], [j]
        self._traj = ruckig.Trajectory(1)
        result = ruckig.Ruckig(1).calculate(inp, self._traj)
        if result != ruckig.Result.Working:
            raise RuntimeError(f"ruckig failed: {result}")
        self.names = ("joint",)
        self.duration_s = float(self._traj.duration)

    def sample(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity, acceleration at ``t_s`` [s] (held outside the move)."""
        out = [self._traj.at_time(float(np.clip(t, 0.0, self.duration_s))) for t in t_s]
        return tuple(np.array([o[k][0] for o in out])[:, None] for k in range(3))


def residual_amplitude(acc: np.ndarray, f_hz: float, zeta: float) -> float:
    """Free-vibration amplitude of the mode at the last sample of the acceleration input."""
    w = 2.0 * math.pi * f_hz
    wd = w * math.sqrt(1.0 - zeta * zeta)
    a_c = np.array([[0.0, 1.0], [-w * w, -2.0 * zeta * w]])
    b_c = np.array([[0.0], [-1.0]])
    ad, bd, cd, dd, _ = cont2discrete((a_c, b_c, np.eye(2), np.zeros((2, 1))), DT_S,
                                      method="foh")
    z = np.zeros(2)
    for u in acc[:-1]:
        z = ad @ z + bd[:, 0] * u
    x, xd = cd @ z + dd[:, 0] * acc[-1]
    return math.hypot(x, (xd + zeta * w * x) / wd)


def _run(report: Report, args: argparse.Namespace) -> None:
    # 1. insensitivity bands (zeta = 0 against the published table; zeta = 0.1 recorded)
    bands = {}
    for zeta in ZETAS:
        for kind in KINDS:
            lo, hi = insensitivity_band(design_shaper(kind, F_DESIGN_HZ, zeta), zeta)
            bands[f"{kind}_zeta{zeta}"] = [100 * lo, 100 * hi]
    for kind, (lo_p, hi_p) in PUBLISHED.items():
        lo, hi = bands[f"{kind}_zeta0.0"]
        for edge, ours, ref in (("low", lo, lo_p), ("high", hi, hi_p)):
            report.add(f"band5_{kind}_{edge}_pct_zeta0", ours, "within 0.5 pp of published",
                       abs(ours - ref) <= 0.5, ref, PUBLISHED_SOURCE,
                       no_reference_reason="published figure (context); the formula is "
                       "checked against the same-run simulation rows")
    report.extra["insensitivity_band_pct"] = bands

    # 2.-3. simulation: plain vs shaped Ruckig move on the mode
    # A short fast jog: its acceleration spectrum has no zero near 4 ... 6 Hz (a move whose
    # phase durations are multiples of the mode period leaves no plain residual, and the
    # ratio would be 0/0; e.g. 0 -> 1 rad at v 2, a 10, j 100 lasts 0.8 s: zeros at 5 Hz).
    move = RuckigMove(0.0, 0.1, v=3.2, a=20.0, j=300.0)
    sims = []
    for zeta in ZETAS:
        worst_err = 0.0
        for err in SIM_ERRORS:
            f_true = F_DESIGN_HZ * (1.0 + err)
            t_plain = np.arange(0.0, move.duration_s + SETTLE_S, DT_S)
            plain = residual_amplitude(move.sample(t_plain)[2][:, 0], f_true, zeta)
            for kind in KINDS:
                shaper = design_shaper(kind, F_DESIGN_HZ, zeta)
                shaped_traj = ShapedTrajectory(move, shaper)
                # same time after its own end: the shaped move ends shaper.duration_s later
                n_extra = int(round(shaper.duration_s / DT_S))
                t_sh = np.arange(0.0, len(t_plain) + n_extra) * DT_S
                shaped = residual_amplitude(shaped_traj.sample(t_sh)[2][:, 0], f_true, zeta)
                # the grid evaluates the shaped move `lag` earlier after its end than the
                # plain one (sub-sample remainder): carry it on by the mode's free decay
                lag = shaper.duration_s - n_extra * DT_S
                shaped *= math.exp(-zeta * 2 * math.pi * f_true * lag)
                sim = shaped / plain
                formula = residual_vibration(shaper, f_true, zeta)
                worst_err = max(worst_err, abs(sim - formula))
                sims.append({"kind": kind, "zeta": zeta, "frequency_error": err,
                             "plain_amplitude": plain, "simulated": sim, "formula": formula})
        report.add(f"formula_vs_sim_max_abs_err_pp_zeta{zeta}", 100 * worst_err,
                   "<= 0.2 pp", 100 * worst_err <= 0.2, 0.0,
                   "exact-discretisation simulation of the mode, this run",
                   reference_same_run=True)
        for kind in EI_CLASS:
            rows = [s for s in sims if s["kind"] == kind and s["zeta"] == zeta]
            sim_red = 1.0 - max(s["simulated"] for s in rows)
            shaper = design_shaper(kind, F_DESIGN_HZ, zeta)
            formula_red = 1.0 - float(np.max(residual_vibration(
                shaper, F_DESIGN_HZ * (1.0 + SWEEP), zeta)))
            report.add(f"min_reduction_pm20_{kind}_zeta{zeta}", sim_red,
                       ">= 0.90 (simulated), formula sweep agrees within 0.005",
                       sim_red >= 0.90 and formula_red >= 0.90
                       and sim_red - formula_red >= -0.005,
                       formula_red, "residual_vibration over a 401-point sweep, this run",
                       reference_same_run=True)
    report.extra["simulations"] = sims
    report.extra["move"] = {"q0_rad": 0.0, "q1_rad": 0.1, "v": 3.2, "a": 20.0, "j": 300.0,
                            "duration_s": move.duration_s}
    report.extra["shapers"] = {
        f"{k.value}_zeta{z}": {"times_s": s.times_s, "amplitudes": s.amplitudes,
                               "method": s.method}
        for z in ZETAS for k in ShaperKind for s in [design_shaper(k, F_DESIGN_HZ, z)]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    return run_bench(NAME, _run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
