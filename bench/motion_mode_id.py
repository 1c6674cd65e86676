"""Benchmark 5: dominant-mode identification from one simulated move's residual vibration.

Ours: ``dg_motion.shaping.mode_identification.identify_mode`` on the tool accelerometer
signal after the move ends.

Plant (simulated here, independent of the identification code): a rigid, position-
controlled joint swings a flexible link carrying a tool: two lumped masses (link tip 5 kg at
0.50 m, tool 1 kg at 0.65 m) on springs/dampers, deflecting tangentially,
``M x'' + C x' + K x = -M r theta''(t)``. K and C are built from the chosen modal data
(``K = M Phi W^2 Phi^T M``, ``C = M Phi 2 Z W Phi^T M`` with M-orthonormal mode shapes
``Phi``, classical damping), so the true first mode is exactly ``(f, zeta)`` and a second,
weaker mode sits at 2.7 f (zeta 0.03); the state matrix's eigenvalues are checked against
them. ``theta(t)`` is a Ruckig rest-to-rest move (UR5 base-joint limits v 3.15 rad/s,
a 6 rad/s^2, j 60 rad/s^3, 0 -> 0.6 rad), integrated by exact first-order-hold
discretisation (``scipy.signal.cont2discrete``; the jerk-limited acceleration is piecewise
linear) at 0.1 ms. The tool accelerometer (tangential, ``r_2 theta'' + x_2''``) is read at
1 kHz with 0.05 m/s^2 rms white noise and a slow bias drift (seeded per case).

Cases: f in 4 ... 15 Hz, zeta in 0.01 ... 0.1 (six pairs). Goal (issue table): f within 2 %,
zeta within 0.02 of the truth. Same-run textbook reference: the FFT peak (Hann window,
zero padding) for f and the logarithmic decrement of successive peaks of the signal
band-passed around it for zeta; ours must also be no worse than it on average.

Run: ``python bench/motion_mode_id.py --json bench/results/motion_mode_id.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import ruckig
from scipy.signal import butter, cont2discrete, find_peaks, sosfiltfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report, bench_parser, run_bench  # noqa: E402

from dg_motion.shaping.mode_identification import identify_mode  # noqa: E402

NAME = "motion_mode_id"
CASES = ((4.0, 0.01), (5.5, 0.1), (7.0, 0.03), (9.0, 0.05), (12.0, 0.08), (15.0, 0.02))
SECOND_RATIO, SECOND_ZETA = 2.7, 0.03
MASSES_KG = np.array([5.0, 1.0])
RADII_M = np.array([0.50, 0.65])
DT_SIM_S = 1e-4
DT_SENSOR_S = 1e-3
RECORD_AFTER_S = 2.5
NOISE_MPS2 = 0.05
SEED = 20240


def plant(f1: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
    """State-space (A, B) of the flexible link + tool; states [x, x'], input theta''."""
    m = np.diag(MASSES_KG)
    w = 2 * math.pi * np.array([f1, SECOND_RATIO * f1])
    z = np.array([z1, SECOND_ZETA])
    phi1 = np.array([1.0, 1.3])
    phi2 = np.array([MASSES_KG[1] * phi1[1], -MASSES_KG[0] * phi1[0]])   # M-orthogonal
    phi = np.column_stack([p / math.sqrt(p @ m @ p) for p in (phi1, phi2)])
    k = m @ phi @ np.diag(w**2) @ phi.T @ m
    c = m @ phi @ np.diag(2 * z * w) @ phi.T @ m
    minv = np.linalg.inv(m)
    a = np.block([[np.zeros((2, 2)), np.eye(2)], [-minv @ k, -minv @ c]])
    b = np.concatenate([np.zeros(2), -RADII_M])[:, None]
    return a, b


def simulate(f1: float, z1: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                       float]:
    """Tool accelerometer samples (t [s], a [m/s^2]) and the move's end time [s]."""
    inp = ruckig.InputParameter(1)
    inp.current_position, inp.target_position = [0.0], [0.6]
    inp.max_velocity, inp.max_acceleration, inp.max_jerk = [3.15], [6.0], [60.0]
    traj = ruckig.Trajectory(1)
    if ruckig.Ruckig(1).calculate(inp, traj) != ruckig.Result.Working:
        raise RuntimeError("ruckig failed")
    t_end = float(traj.duration)
    t = np.arange(0.0, t_end + RECORD_AFTER_S, DT_SIM_S)
    acc = np.array([traj.at_time(float(min(ti, t_end)))[2][0] for ti in t])
    a, b = plant(f1, z1)
    ad, bd, cd, dd, _ = cont2discrete((a, b, np.eye(4), np.zeros((4, 1))), DT_SIM_S,
                                      method="foh")
    zs = np.zeros(4)
    xs = np.empty((len(t), 4))
    for i, u in enumerate(acc):
        xs[i] = cd @ zs + dd[:, 0] * u
        zs = ad @ zs + bd[:, 0] * u
    x2dd = (a @ xs.T + b @ acc[None]).T[:, 3]
    tool = RADII_M[1] * acc + x2dd
    step = int(round(DT_SENSOR_S / DT_SIM_S))
    ts, ys = t[::step], tool[::step]
    drift = 0.03 * np.sin(2 * math.pi * 0.2 * ts + rng.uniform(0, 6)) + rng.uniform(-0.1, 0.1)
    return ts, ys + drift + NOISE_MPS2 * rng.standard_normal(len(ts)), t_end


def textbook(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """FFT peak frequency and logarithmic-decrement damping ratio (band-passed peaks)."""
    dt = t[1] - t[0]
    yd = y - np.polyval(np.polyfit(t, y, 1), t)
    n_fft = 1 << int(math.ceil(math.log2(len(y) * 8)))
    spec = np.abs(np.fft.rfft(yd * np.hanning(len(y)), n_fft))
    freqs = np.fft.rfftfreq(n_fft, dt)
    band = freqs > 1.0
    f = float(freqs[band][np.argmax(spec[band])])
    sos = butter(2, [0.7 * f, 1.3 * f], btype="bandpass", fs=1.0 / dt, output="sos")
    yb = sosfiltfilt(sos, yd)
    peaks, _ = find_peaks(yb, distance=max(1, int(0.7 / (f * dt))))
    amp = yb[peaks]
    keep = amp > 0.1 * amp.max()   # peaks above the noise
    delta = -np.polyfit(t[peaks][keep] * f, np.log(amp[keep]), 1)[0]   # per cycle
    zeta = delta / math.sqrt(4 * math.pi**2 + delta**2)
    return f, float(zeta)


def _run(report: Report, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(SEED)
    rows = []
    for f1, z1 in CASES:
        a, _ = plant(f1, z1)
        eig = np.linalg.eigvals(a)
        eig = eig[eig.imag > 0]
        f_eig = np.sort(np.abs(eig) / (2 * math.pi))
        if abs(f_eig[0] - f1) > 1e-6 * f1:
            raise RuntimeError(f"plant construction: first mode {f_eig[0]} Hz, expected {f1}")
        t, y, t_end = simulate(f1, z1, rng)
        t_start = t_end + 0.02
        est = identify_mode(t, y, t_start_s=t_start)
        keep = t >= t_start
        f_tb, z_tb = textbook(t[keep], y[keep])
        amp = est.amplitude
        rows.append({"f_true_hz": f1, "zeta_true": z1, "f_hz": est.frequency_hz,
                     "zeta": est.damping_ratio, "amplitude_mps2": amp,
                     "fit_rms_mps2": est.fit_rms, "modes": est.modes,
                     "f_textbook_hz": f_tb, "zeta_textbook": z_tb,
                     "f_err_pct": 100 * abs(est.frequency_hz - f1) / f1,
                     "zeta_err": abs(est.damping_ratio - z1),
                     "f_err_textbook_pct": 100 * abs(f_tb - f1) / f1,
                     "zeta_err_textbook": abs(z_tb - z1)})
    report.extra["cases"] = rows
    f_err = max(r["f_err_pct"] for r in rows)
    z_err = max(r["zeta_err"] for r in rows)
    truth = "the simulated plant's true (f, zeta) are the reference"
    report.add("frequency_error_max_pct", f_err, "<= 2 % of true f", f_err <= 2.0, 0.0,
               "true f of the simulated plant", no_reference_reason=truth)
    report.add("damping_ratio_error_max", z_err, "<= 0.02 of true zeta", z_err <= 0.02, 0.0,
               "true zeta of the simulated plant", no_reference_reason=truth)
    for key, tb_key, label in (("f_err_pct", "f_err_textbook_pct", "frequency_error_mean_pct"),
                               ("zeta_err", "zeta_err_textbook", "damping_ratio_error_mean")):
        ours = float(np.mean([r[key] for r in rows]))
        ref = float(np.mean([r[tb_key] for r in rows]))
        report.add(f"{label}_vs_textbook", ours, "<= the textbook method's (same data)",
                   ours <= ref, ref, "FFT peak + log decrement, this run",
                   reference_same_run=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = bench_parser(__doc__, NAME)
    return run_bench(NAME, _run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
