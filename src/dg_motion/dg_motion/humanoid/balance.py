"""Balance feedback for a position-controlled biped: DCM, ZMP admittance, ankle, hip, stepping.

The walking pattern (ZMP preview control) is open loop: it assumes the robot is the linear
inverted pendulum it planned with. A push, a model error or a step on uneven ground puts the
real CoM elsewhere, and the pendulum's unstable part, the divergent component of motion,

    xi = c + c_dot / omega,   omega = sqrt(g / z_c),   xi_dot = omega (xi - p)

(T. Englsberger, C. Ott, A. Albu-Schaeffer, "Three-Dimensional Bipedal Walking Control Based
on Divergent Component of Motion", IEEE T-RO 31(2), 2015; the "capture point" of J. Pratt et
al., "Capture Point: A Step toward Humanoid Push Recovery", Humanoids 2006), runs away from the
ZMP ``p`` exponentially. The ladder of responses, each used when the one before saturates:

1. DCM feedback (:class:`DcmFeedback`): move the desired ZMP so the DCM error decays at the
   rate ``k_dcm``: ``p_des = p_ref + (1 + k_dcm / omega)(xi - xi_ref)`` (Englsberger 2015,
   from ``xi_dot - xi_ref_dot = -k_dcm (xi - xi_ref)``), clamped into the support polygon
   (the ZMP cannot leave it) along the ray from the DCM, so that the DCM keeps heading for its
   reference; the clamp is reported as saturation.
2. Realising that ZMP on a stiff position-controlled robot:
   - CoM admittance (:class:`ComAdmittance`): a CoM command offset whose rate follows the ZMP
     error, ``d(dc)/dt = k_zmp (p_meas - p_des)`` (S. Kajita et al., "Biped Walking
     Stabilization Based on Linear Inverted Pendulum Tracking", IROS 2010, CoM/ZMP tracking;
     the same law as Choi et al., "Posture/Walking Control for Humanoid Robot Based on
     Kinematic Resolution of CoM Jacobian With Embedded Motion", IEEE T-RO 23(6), 2007, where
     it is stable together with the CoM/DCM feedback of step 1). Sign: a ZMP ahead of the
     desired one means the CoM accelerates too little forward (``p = c - c_ddot / omega^2``),
     so the CoM command moves forward. Bounded, leaking back to zero.
   - Ankle strategy (:class:`AnkleStrategy`, Kajita 2010's foot damping control): the
     desired ZMP is shared between the feet (:func:`distribute_zmp`) into desired sole
     torques; each ankle's roll/pitch target moves until the measured torque matches,
     ``d(theta)/dt = k_ankle (tau_meas - tau_des) - theta / T_leak``. Sign: rotating the sole
     about +y presses its toe (the centre of pressure moves to +x, ``tau_y`` decreases).
3. Hip strategy (:class:`HipStrategy`): the part of the desired ZMP the feet cannot take
   (``p_unclamped - p_des``) is produced by turning the upper body: a pelvis pitch forward
   shifts the centroidal moment pivot forward by ``L_dot_y / (m g)`` (and a roll about -x
   shifts it to +y), so the offset is pitch ``+k_hip e_x``, roll ``-k_hip e_y`` in the
   heading frame. Bounded and leaking back: the trunk can only lean so far.
4. Stepping (:class:`StepAdjuster`): when the ZMP saturates the DCM may not come back over
   the stance foot; the landing of the swing foot moves by the DCM error predicted at
   touch-down, ``(xi - xi_ref) e^(omega T)`` (the capture point idea: land where the DCM
   will be, with the planned offset from it), within the footstep limits.

Everything here is pure (numpy), state lives in the objects, ``reset()`` clears it; every
output is finite and bounded whatever the (finite) input.
"""

# ruff: noqa: N803, N806

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.types import LEG_JOINTS, Footstep, Side


def omega(z_c: float, g: float = 9.81) -> float:
    """Natural frequency ``sqrt(g / z_c)`` [1/s] of the LIPM of CoM height ``z_c`` [m]."""
    if not (math.isfinite(z_c) and math.isfinite(g)) or z_c <= 0.0 or g <= 0.0:
        raise MotionInputError(f"omega: need z_c > 0 and g > 0, got {z_c}, {g}")
    return math.sqrt(g / z_c)


def dcm(com: np.ndarray, vel: np.ndarray, omega: float) -> np.ndarray:
    """Divergent component of motion ``com + vel / omega`` (element-wise; pass x, y)."""
    return np.asarray(com, dtype=float) + np.asarray(vel, dtype=float) / omega


def _finite(v: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(v, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.isfinite(arr).all():
        raise MotionInputError(f"{what}: expected {n} finite values, got {v!r}")
    return arr


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0.0 if allow_zero else value > 0.0)
    if not ok:
        raise MotionInputError(f"{name} must be finite and {'>=' if allow_zero else '>'} 0, "
                               f"got {value}")


# -- geometry --------------------------------------------------------------------------


def clamp_to_polygon(point: np.ndarray, polygon: np.ndarray,
                     margin_m: float = 0.0) -> tuple[np.ndarray, bool]:
    """The point of a convex polygon nearest to ``point``, and whether it had to move.

    ``polygon`` is (N, 2), vertices in order (either direction). ``margin_m`` shrinks it by
    that distance (each edge moved inward; a polygon too small for the margin collapses to
    its centroid). A single vertex or a segment works too.

    Raises:
        MotionInputError: empty or non-finite polygon, non-finite point.

    """
    p = _finite(point, 2, "point")
    P = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(P) == 0 or not np.isfinite(P).all():
        raise MotionInputError("support polygon: empty or non-finite")
    if len(P) < 3:
        a, b = P[0], P[-1]
        d = b - a
        s = 0.0 if d @ d < 1e-18 else float(np.clip((p - a) @ d / (d @ d), 0.0, 1.0))
        q = a + s * d
        return q, bool(np.linalg.norm(p - q) > 1e-12)
    normals, offsets = _halfplanes(P, margin_m)
    if np.all(normals @ p <= offsets + 1e-12):          # inside: the usual case, cheap
        return p.copy(), False
    if margin_m > 0.0:
        # The inset polygon: intersect consecutive shifted edges.
        inset = []
        for i in range(len(normals)):
            A = np.array([normals[i - 1], normals[i]])
            if abs(A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]) < 1e-12:
                continue
            inset.append(np.linalg.solve(A, [offsets[i - 1], offsets[i]]))
        inset = np.array(inset)
        if len(inset) < 3 or np.any(normals @ inset.T > offsets[:, None] + 1e-9):
            centroid = P.mean(axis=0)
            return centroid, bool(np.linalg.norm(p - centroid) > 1e-12)
        return clamp_to_polygon(p, inset)[0], True
    # Nearest point on the boundary: the closest of the edges' nearest points.
    a = P if _ccw(P) else P[::-1]
    d = np.concatenate([a[1:], a[:1]]) - a
    s = np.clip(np.einsum("ij,ij->i", p - a, d) / np.maximum(np.einsum("ij,ij->i", d, d),
                                                              1e-18), 0.0, 1.0)
    q = a + s[:, None] * d
    return q[int(np.argmin(np.einsum("ij,ij->i", q - p, q - p)))], True


def _ccw(P: np.ndarray) -> bool:
    """True when the vertices run counter-clockwise (positive signed area)."""
    x, y = P[:, 0], P[:, 1]
    return float(x @ np.concatenate([y[1:], y[:1]]) - y @ np.concatenate([x[1:], x[:1]])) >= 0.0


def _halfplanes(polygon: np.ndarray, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Half-planes ``n . x <= o`` (outward unit normals) of a convex polygon less a margin."""
    P = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if not _ccw(P):
        P = P[::-1]
    edges = np.concatenate([P[1:], P[:1]]) - P
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 1e-12
    P, edges, lengths = P[keep], edges[keep], lengths[keep]
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1) / lengths[:, None]
    return normals, np.einsum("ij,ij->i", normals, P) - margin_m


def clip_ray_to_polygon(start: np.ndarray, end: np.ndarray, polygon: np.ndarray,
                        margin_m: float = 0.0) -> np.ndarray | None:
    """The point of the segment ``start -> end`` furthest along it inside the polygon.

    None when ``start`` itself is outside (or the polygon has fewer than 3 vertices).
    """
    P = np.asarray(polygon, dtype=float).reshape(-1, 2)
    if len(P) < 3:
        return None
    n, o = _halfplanes(P, margin_m)
    a = np.asarray(start, dtype=float)
    d = np.asarray(end, dtype=float) - a
    slack = o - n @ a
    if np.any(slack < -1e-12):
        return None
    rate = n @ d
    pos = rate > 1e-15
    s = min(1.0, float(np.min(slack[pos] / rate[pos]))) if pos.any() else 1.0
    return a + max(s, 0.0) * d


def foot_rectangle(x: float, y: float, yaw: float, length_m: float,
                   width_m: float) -> np.ndarray:
    """The four corners (4, 2) of a sole of the given size, counter-clockwise."""
    c, s = math.cos(yaw), math.sin(yaw)
    hl, hw = length_m / 2.0, width_m / 2.0
    local = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
    return local @ np.array([[c, s], [-s, c]]) + [x, y]


# -- 1. DCM feedback -------------------------------------------------------------------


@dataclass(frozen=True)
class DcmFeedbackResult:
    """Desired ZMP and what limited it."""

    zmp_des: np.ndarray        #: desired ZMP (x, y) in the support polygon [m]
    zmp_unclamped: np.ndarray  #: before the polygon clamp [m]
    saturated: bool           #: the clamp moved it
    dcm_error: np.ndarray      #: xi - xi_ref [m]


class DcmFeedback:
    """Desired ZMP from the DCM error (Englsberger et al., T-RO 2015), kept in the polygon."""

    def __init__(self, k_dcm: float, omega: float, margin_m: float = 0.01) -> None:
        """``k_dcm`` [1/s]: DCM error decay rate; ``margin_m``: kept inside the polygon.

        The margin keeps the desired ZMP off the sole's edge, where the foot would start to
        roll and the measured ZMP no longer follows.
        """
        _positive("DcmFeedback.k_dcm", k_dcm, allow_zero=True)
        _positive("DcmFeedback.omega", omega)
        _positive("DcmFeedback.margin_m", margin_m, allow_zero=True)
        self.k_dcm, self.omega, self.margin_m = float(k_dcm), float(omega), float(margin_m)

    @property
    def gain(self) -> float:
        """``1 + k_dcm / omega``: ZMP shift per metre of DCM error."""
        return 1.0 + self.k_dcm / self.omega

    def update(self, zmp_ref: np.ndarray, dcm: np.ndarray, dcm_ref: np.ndarray,
               support_polygon: np.ndarray) -> DcmFeedbackResult:
        """The desired ZMP for this period (all (x, y) in the world)."""
        p_ref = _finite(zmp_ref, 2, "zmp_ref")
        err = _finite(dcm, 2, "dcm") - _finite(dcm_ref, 2, "dcm_ref")
        xi = _finite(dcm, 2, "dcm")
        raw = p_ref + self.gain * err
        clamped, saturated = clamp_to_polygon(raw, support_polygon, self.margin_m)
        if saturated:
            # Along the ray from the DCM: the DCM then still moves straight back toward its
            # reference (xi_dot = omega (xi - p) keeps its direction), only slower. The
            # nearest point of a slanted double-support edge would turn it sideways and, with
            # the DCM near that edge, out of the polygon.
            on_ray = clip_ray_to_polygon(xi, raw, support_polygon, self.margin_m)
            if on_ray is not None:
                clamped = on_ray
        return DcmFeedbackResult(clamped, raw, saturated, err)


# -- 2a. CoM admittance ----------------------------------------------------------------


class ComAdmittance:
    """CoM command offset driven by the ZMP error (Kajita et al., IROS 2010), bounded."""

    def __init__(self, k_zmp: float = 1.0, leak_s: float = 1.0, max_offset_m: float = 0.04,
                 max_speed_mps: float = 0.2) -> None:
        """Gain ``k_zmp`` [1/s], leak time constant, offset and offset-rate bounds.

        ``k_zmp`` must stay below omega (~3.5 1/s for z_c 0.8 m) for the loop with the DCM
        feedback to be stable (Choi et al. 2007's condition ``0 < k_zmp < omega``).
        """
        for name, v in (("k_zmp", k_zmp), ("leak_s", leak_s), ("max_offset_m", max_offset_m),
                        ("max_speed_mps", max_speed_mps)):
            _positive(f"ComAdmittance.{name}", v, allow_zero=name == "k_zmp")
        self.k_zmp, self.leak_s = float(k_zmp), float(leak_s)
        self.max_offset_m, self.max_speed_mps = float(max_offset_m), float(max_speed_mps)
        self.offset = np.zeros(2)
        self.saturated = False

    def reset(self) -> None:
        """Zero offset."""
        self.offset = np.zeros(2)
        self.saturated = False

    def update(self, zmp_des: np.ndarray, zmp_meas: np.ndarray | None, dt: float) -> np.ndarray:
        """New offset (x, y) [m] to add to the CoM reference; ``zmp_meas`` None: leak only."""
        _positive("dt", dt)
        p_des = _finite(zmp_des, 2, "zmp_des")
        rate = -self.offset / self.leak_s
        if zmp_meas is not None:
            rate = rate + self.k_zmp * (_finite(zmp_meas, 2, "zmp_meas") - p_des)
        speed = float(np.linalg.norm(rate))
        if speed > self.max_speed_mps:
            rate *= self.max_speed_mps / speed
        new = self.offset + rate * dt
        norm = float(np.linalg.norm(new))
        self.saturated = norm > self.max_offset_m
        if self.saturated:
            new *= self.max_offset_m / norm
        self.offset = new
        return new.copy()


# -- 2b. ZMP distribution and ankle strategy -------------------------------------------


@dataclass(frozen=True)
class FootWrenchTarget:
    """Desired load of one sole: normal force and torques about the sole origin (sole frame)."""

    fz_n: float
    tau_x: float    #: [N m] = fz * cop_y (centre of pressure in the sole frame)
    tau_y: float    #: [N m] = -fz * cop_x


def distribute_zmp(zmp_des: np.ndarray, left: Footstep, right: Footstep, support: str,
                   total_fz_n: float, foot_length_m: float,
                   foot_width_m: float) -> dict[Side, FootWrenchTarget]:
    """Share the desired ZMP between the soles (Kajita et al. IROS 2010's ZMP distributor).

    Single support: the stance sole takes everything, its centre of pressure at the ZMP
    (clamped to the sole). Double support: the load splits by where the ZMP lies along the
    segment between the sole centres (``alpha`` on the left, ``1 - alpha`` on the right),
    and each sole's centre of pressure carries the ZMP's offset across that segment.
    """
    p = _finite(zmp_des, 2, "zmp_des")
    feet = {Side.LEFT: left, Side.RIGHT: right}
    if support in ("left", "right"):
        share = {Side.LEFT: 1.0 if support == "left" else 0.0}
        share[Side.RIGHT] = 1.0 - share[Side.LEFT]
        cop_world = {s: p for s in Side}
    elif support == "double":
        a = np.array([right.x, right.y])
        d = np.array([left.x, left.y]) - a
        alpha = 0.5 if d @ d < 1e-12 else float(np.clip((p - a) @ d / (d @ d), 0.0, 1.0))
        share = {Side.LEFT: alpha, Side.RIGHT: 1.0 - alpha}
        across = p - (a + alpha * d)
        cop_world = {s: np.array([feet[s].x, feet[s].y]) + across for s in Side}
    else:
        raise MotionInputError(f"distribute_zmp: support must be left/right/double, "
                               f"got {support!r}")
    out = {}
    for s, f in feet.items():
        c, sn = math.cos(f.yaw), math.sin(f.yaw)
        rel = cop_world[s] - [f.x, f.y]
        local = np.array([c * rel[0] + sn * rel[1], -sn * rel[0] + c * rel[1]])
        local = np.clip(local, [-foot_length_m / 2, -foot_width_m / 2],
                        [foot_length_m / 2, foot_width_m / 2])
        fz = share[s] * max(total_fz_n, 0.0)
        out[s] = FootWrenchTarget(fz, fz * local[1], -fz * local[0])
    return out


class AnkleStrategy:
    """Foot damping control: ankle roll/pitch offsets from the sole torque errors.

    ``d(theta)/dt = k_ankle (tau_meas - tau_des) - theta / leak_s`` per axis of each sole
    (x: roll, y: pitch), bounded by ``max_angle_rad``; a foot out of contact leaks only.
    The offsets are rotations of the sole about its own x and y axes: add them to the
    ankle_roll / ankle_pitch targets (same axes for a flat foot) or to the IK sole targets.
    """

    def __init__(self, k_ankle: float = 0.01, leak_s: float = 0.5,
                 max_angle_rad: float = 0.15) -> None:
        """``k_ankle`` [rad/s per N m].

        The default turns a 30 N m error (a 60 kg robot's centre of pressure 5 cm off)
        into 0.3 rad/s: the sole turns 0.03 rad in 0.1 s, the scale of its compliance.
        """
        for name, v in (("k_ankle", k_ankle), ("leak_s", leak_s),
                        ("max_angle_rad", max_angle_rad)):
            _positive(f"AnkleStrategy.{name}", v, allow_zero=name == "k_ankle")
        self.k_ankle, self.leak_s, self.max_angle_rad = k_ankle, leak_s, max_angle_rad
        self.offsets = {Side.LEFT: np.zeros(2), Side.RIGHT: np.zeros(2)}
        self.saturated = {Side.LEFT: False, Side.RIGHT: False}

    def reset(self) -> None:
        """Zero offsets."""
        self.offsets = {Side.LEFT: np.zeros(2), Side.RIGHT: np.zeros(2)}
        self.saturated = {Side.LEFT: False, Side.RIGHT: False}

    def update(self, side: Side, tau_des: np.ndarray, tau_meas: np.ndarray, contact: bool,
               dt: float) -> np.ndarray:
        """New (roll, pitch) offset [rad] of ``side``; torques (tau_x, tau_y) in the sole frame."""
        _positive("dt", dt)
        theta = self.offsets[side]
        rate = -theta / self.leak_s
        if contact:
            rate = rate + self.k_ankle * (_finite(tau_meas, 2, "tau_meas")
                                          - _finite(tau_des, 2, "tau_des"))
        new = theta + rate * dt
        clipped = np.clip(new, -self.max_angle_rad, self.max_angle_rad)
        self.saturated[side] = bool(np.any(clipped != new))
        self.offsets[side] = clipped
        return clipped.copy()


# -- 3. hip strategy -------------------------------------------------------------------


class HipStrategy:
    """Pelvis pitch/roll offsets that produce the ZMP excess the feet cannot take."""

    def __init__(self, k_hip: float = 2.0, leak_s: float = 0.6, max_angle_rad: float = 0.25,
                 max_rate_rps: float = 1.5) -> None:
        """``k_hip`` [rad/m] of excess; leak back with ``leak_s``; angle and rate bounds."""
        for name, v in (("k_hip", k_hip), ("leak_s", leak_s), ("max_angle_rad", max_angle_rad),
                        ("max_rate_rps", max_rate_rps)):
            _positive(f"HipStrategy.{name}", v, allow_zero=name == "k_hip")
        self.k_hip, self.leak_s = k_hip, leak_s
        self.max_angle_rad, self.max_rate_rps = max_angle_rad, max_rate_rps
        self.offset = np.zeros(2)     # (roll, pitch) [rad], pelvis heading frame

    def reset(self) -> None:
        """Zero offset."""
        self.offset = np.zeros(2)

    def update(self, zmp_excess: np.ndarray, heading_rad: float, dt: float) -> np.ndarray:
        """New (roll, pitch) [rad] of the pelvis about its heading frame's x and y axes.

        ``zmp_excess``: ``p_unclamped - p_des`` in the world (zero when not saturated). The
        target is ``(-k e_y, +k e_x)`` in the heading frame when there is an excess, else the
        offset leaks back to zero; the offset moves toward it at most ``max_rate_rps``.
        """
        _positive("dt", dt)
        e = _finite(zmp_excess, 2, "zmp_excess")
        c, s = math.cos(heading_rad), math.sin(heading_rad)
        e_local = np.array([c * e[0] + s * e[1], -s * e[0] + c * e[1]])
        if np.linalg.norm(e_local) > 1e-9:
            target = np.clip(self.k_hip * np.array([-e_local[1], e_local[0]]),
                             -self.max_angle_rad, self.max_angle_rad)
            step = target - self.offset
        else:
            step = -self.offset * min(1.0, dt / self.leak_s)
        step = np.clip(step, -self.max_rate_rps * dt, self.max_rate_rps * dt)
        self.offset = np.clip(self.offset + step, -self.max_angle_rad, self.max_angle_rad)
        return self.offset.copy()


# -- 4. step adjustment ----------------------------------------------------------------


@dataclass(frozen=True)
class StepAdjustment:
    """Where the swing foot should land now."""

    landing: Footstep   #: the (possibly) new landing (side and yaw as planned)
    adjusted: bool      #: differs from the planned landing
    clamped: bool       #: the footstep limits cut the adjustment


class StepAdjuster:
    """New landing of the swing foot from the DCM predicted at touch-down.

    ``limits`` is read by duck typing: ``max_forward``, ``max_backward``, ``max_lateral``
    (beyond ``nominal_width``), ``nominal_width``, ``min_width``, ``max_width`` [m], all in
    the stance sole's frame.
    """

    def __init__(self, limits: Any, omega: float, gain: float = 1.0,
                 min_time_s: float = 0.05, deadband_m: float = 0.03,
                 zmp_credit: float = 0.0, max_change_m: float = 0.01) -> None:
        """``gain`` scales the landing shift; no re-targeting within ``min_time_s`` of landing.

        ``deadband_m``: a predicted error this large is left to the next double support (the
        shift is the error less this length, along the error): the lateral DCM swings by a
        few centimetres every step, and amplified by ``e^(omega T)`` early in the swing it
        would move the foot back and forth. ``max_change_m``: the landing moves at most this
        much per call (a smooth re-targeting of the swing foot).

        The DCM error at touch-down is predicted as
        ``(xi - xi_ref) e^(omega T) - zmp_credit (p - p_ref)(e^(omega T) - 1)``: with
        ``zmp_credit`` 1 the ZMP is assumed to stay where the feedback holds it now (at the
        sole's edge when saturated) for the rest of the swing; the default 0 credits the
        stance foot with nothing, because the feedback moves the ZMP back as soon as the
        error shrinks (in the simulator, full credit shortened the step after a forward
        push while the DCM kept running ahead).

        Raises:
            MotionInputError: limits without the attributes above, bad numbers.

        """
        for name in ("max_forward", "max_backward", "max_lateral", "nominal_width",
                     "min_width", "max_width"):
            if not hasattr(limits, name):
                raise MotionInputError(f"StepAdjuster: limits lack '{name}'")
        _positive("StepAdjuster.omega", omega)
        _positive("StepAdjuster.gain", gain)
        _positive("StepAdjuster.min_time_s", min_time_s, allow_zero=True)
        _positive("StepAdjuster.deadband_m", deadband_m, allow_zero=True)
        _positive("StepAdjuster.max_change_m", max_change_m)
        if not (math.isfinite(zmp_credit) and 0.0 <= zmp_credit <= 1.0):
            raise MotionInputError(f"StepAdjuster.zmp_credit must be in [0, 1], got {zmp_credit}")
        self.limits, self.omega, self.gain = limits, omega, gain
        self.zmp_credit = float(zmp_credit)
        self.min_time_s, self.deadband_m = min_time_s, deadband_m
        self.max_change_m = float(max_change_m)
        self.active = False
        self._last: StepAdjustment | None = None
        self._planned: Footstep | None = None

    def reset(self) -> None:
        """A new step begins: forget the previous adjustment."""
        self.active = False
        self._last = None
        self._planned = None

    def predict_dcm(self, dcm: np.ndarray, zmp: np.ndarray, t_s: float) -> np.ndarray:
        """DCM after ``t_s`` with the ZMP held at ``zmp``: ``p + (xi - p) e^(omega t)``."""
        p = np.asarray(zmp, dtype=float)
        return p + (np.asarray(dcm, dtype=float) - p) * math.exp(self.omega * max(t_s, 0.0))

    def update(self, dcm: np.ndarray, dcm_ref: np.ndarray, zmp: np.ndarray,
               zmp_ref: np.ndarray, time_to_touchdown_s: float, planned: Footstep,
               stance: Footstep, saturated: bool) -> StepAdjustment:
        """The landing for this period.

        Args:
            dcm: measured DCM (x, y).
            dcm_ref: the pattern's DCM.
            zmp: the ZMP the robot produces now (the clamped desired one).
            zmp_ref: the pattern's ZMP.
            time_to_touchdown_s: remaining swing time.
            planned: the pattern's landing of the swing foot. The first one after
                :meth:`reset` is kept for the step: passing the pattern's landing once it has
                been adjusted does not add the shift twice.
            stance: the stance sole.
            saturated: the DCM feedback's ZMP hit the polygon this period; the first one
                activates the adjuster until :meth:`reset`.

        """
        xi = _finite(dcm, 2, "dcm")
        xi_ref = _finite(dcm_ref, 2, "dcm_ref")
        p = _finite(zmp, 2, "zmp")
        p_ref = _finite(zmp_ref, 2, "zmp_ref")
        if not math.isfinite(time_to_touchdown_s):
            raise MotionInputError("StepAdjuster: non-finite time to touch-down")
        if self._planned is None or self._planned.side is not planned.side:
            self._planned = planned
        planned = self._planned
        self.active = self.active or bool(saturated)
        unchanged = StepAdjustment(planned, False, False)
        if not self.active:
            return unchanged
        if time_to_touchdown_s < self.min_time_s and self._last is not None:
            return self._last          # too late to re-target the swing
        T = max(time_to_touchdown_s, 0.0)
        growth = math.exp(self.omega * T)
        credit = self.zmp_credit * (p - p_ref) * (growth - 1.0)
        shift = self.gain * ((xi - xi_ref) * growth - credit)
        size = float(np.linalg.norm(shift))
        shift = shift * max(0.0, 1.0 - self.deadband_m / size) if size > 0.0 else shift
        target = np.array([planned.x, planned.y]) + shift
        before = self._last.landing if self._last is not None else planned
        move = target - [before.x, before.y]
        dist = float(np.linalg.norm(move))
        if dist > self.max_change_m:
            target = np.array([before.x, before.y]) + move * (self.max_change_m / dist)
        xy, clamped = self._clamp(target, planned.side, stance)
        moved = bool(np.linalg.norm(xy - [planned.x, planned.y]) > 1e-9)
        result = (StepAdjustment(Footstep(planned.side, float(xy[0]), float(xy[1]), planned.yaw),
                                 True, clamped) if moved else unchanged)
        self._last = result
        return result

    def _clamp(self, xy: np.ndarray, side: Side, stance: Footstep) -> tuple[np.ndarray, bool]:
        lim = self.limits
        c, s = math.cos(stance.yaw), math.sin(stance.yaw)
        rel = xy - [stance.x, stance.y]
        local = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]])
        sign = 1.0 if side is Side.LEFT else -1.0
        y_max = min(lim.nominal_width + lim.max_lateral, lim.max_width)
        lo = np.array([-lim.max_backward, lim.min_width])
        hi = np.array([lim.max_forward, y_max])
        lateral = sign * local[1]
        clamped_local = np.array([np.clip(local[0], lo[0], hi[0]),
                                  sign * np.clip(lateral, lo[1], hi[1])])
        was_clamped = bool(np.abs(clamped_local - local).max() > 1e-12)
        world = np.array([stance.x + c * clamped_local[0] - s * clamped_local[1],
                          stance.y + s * clamped_local[0] + c * clamped_local[1]])
        return world, was_clamped


# -- all together ----------------------------------------------------------------------


@dataclass(frozen=True)
class StabilizerConfig:
    """Gains and bounds of :class:`Stabilizer` (each stage's meaning in its class)."""

    k_dcm: float = 3.0               #: [1/s] DCM error decay rate
    zmp_margin_m: float = 0.01       #: desired ZMP kept this far inside the polygon
    admittance: bool = True
    k_zmp: float = 1.0               #: [1/s] CoM admittance gain (< omega)
    com_leak_s: float = 1.0
    max_com_offset_m: float = 0.04
    max_com_speed_mps: float = 0.2
    ankle: bool = True
    k_ankle: float = 0.01            #: [rad/s per N m]
    ankle_leak_s: float = 0.5
    max_ankle_rad: float = 0.15
    hip: bool = True
    k_hip: float = 2.0               #: [rad/m]
    hip_leak_s: float = 0.6
    max_hip_rad: float = 0.25
    max_hip_rate_rps: float = 1.5
    foot_length_m: float = 0.22
    foot_width_m: float = 0.12


@dataclass(frozen=True)
class StabilizerOutput:
    """One period's corrections (world frame unless said)."""

    zmp_desired: np.ndarray     #: ZMP the feet should produce (x, y)
    zmp_unclamped: np.ndarray   #: the DCM law's ZMP before the polygon clamp
    saturated: bool             #: the polygon clamped it (a cue for the step adjuster)
    dcm: np.ndarray             #: measured DCM (x, y)
    dcm_ref: np.ndarray         #: reference DCM (x, y)
    com_offset: np.ndarray      #: add to the CoM reference (x, y) [m]
    ankle_offsets: dict[Side, np.ndarray]   #: (roll, pitch) [rad] to add to the ankles
    pelvis_offset: np.ndarray   #: (roll, pitch) [rad] of the pelvis about its heading frame

    def pelvis_rotation(self, heading_rad: float) -> np.ndarray:
        """Pelvis orientation target: heading, then the hip strategy's pitch and roll."""
        r, p = self.pelvis_offset
        c, s = math.cos(heading_rad), math.sin(heading_rad)
        Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        Ry = np.array([[math.cos(p), 0.0, math.sin(p)], [0.0, 1.0, 0.0],
                       [-math.sin(p), 0.0, math.cos(p)]])
        Rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(r), -math.sin(r)],
                       [0.0, math.sin(r), math.cos(r)]])
        return Rz @ Ry @ Rx


class Stabilizer:
    """DCM feedback, CoM admittance, ankle and hip strategies in one call per period.

    Use (every control period, after the estimator and the pattern)::

        out = stabilizer.update(est.com, est.com_vel, sample.com, sample.com_vel,
                                sample.zmp_ref, est.zmp, polygon, sample.support,
                                left_foot, right_foot, sensors.left_wrench,
                                sensors.right_wrench, heading, dt)
        com_target = sample.com + (out.com_offset, 0)
        ik.solve(com_target, out.pelvis_rotation(heading), ...)
        q = stabilizer.apply_ankles(ik_result.q, out)

    and, in single support when ``out.saturated``, :class:`StepAdjuster` for the landing.
    Measured on the simulated biped (standing, a 0.1 s forward push on the torso): the
    stiff joints alone fall from 210 N; with all stages it survives 210 N and settles.
    """

    def __init__(self, config: StabilizerConfig, omega: float, mass_kg: float,
                 g: float = 9.81) -> None:
        """Build the stages from ``config``; ``mass_kg`` sets the load to share."""
        _positive("Stabilizer.mass_kg", mass_kg)
        c = self.config = config
        self.omega, self.weight_n = float(omega), float(mass_kg * g)
        self.dcm = DcmFeedback(c.k_dcm, omega, c.zmp_margin_m)
        self.admittance = ComAdmittance(c.k_zmp, c.com_leak_s, c.max_com_offset_m,
                                        c.max_com_speed_mps)
        self.ankle = AnkleStrategy(c.k_ankle, c.ankle_leak_s, c.max_ankle_rad)
        self.hip = HipStrategy(c.k_hip, c.hip_leak_s, c.max_hip_rad, c.max_hip_rate_rps)

    def reset(self) -> None:
        """Zero every offset (after a fall, a reset, a re-start)."""
        self.admittance.reset()
        self.ankle.reset()
        self.hip.reset()

    def update(self, com: np.ndarray, com_vel: np.ndarray, com_ref: np.ndarray,
               com_vel_ref: np.ndarray, zmp_ref: np.ndarray, zmp_meas: np.ndarray | None,
               support_polygon: np.ndarray, support: str, left: Footstep, right: Footstep,
               left_wrench: np.ndarray, right_wrench: np.ndarray, heading_rad: float,
               dt: float) -> StabilizerOutput:
        """Corrections for this period.

        Args:
            com: estimated CoM; its first two entries are used (x, y) [m].
            com_vel: estimated CoM velocity (x, y used) [m/s].
            com_ref: the pattern's CoM (x, y used).
            com_vel_ref: the pattern's CoM velocity (x, y used).
            zmp_ref: the pattern's ZMP (x, y).
            zmp_meas: measured ZMP (x, y), None in flight.
            support_polygon: (N, 2) of the feet in contact.
            support: ``"left"``, ``"right"`` or ``"double"`` (the pattern's phase).
            left: left sole placement.
            right: right sole placement.
            left_wrench: measured left sole wrench (fx, fy, fz, tx, ty, tz), sole frame.
            right_wrench: same for the right sole.
            heading_rad: pelvis heading [rad].
            dt: control period [s].

        """
        c = self.config
        xi = dcm(np.asarray(com, dtype=float)[:2], np.asarray(com_vel, dtype=float)[:2],
                 self.omega)
        xi_ref = dcm(np.asarray(com_ref, dtype=float)[:2],
                     np.asarray(com_vel_ref, dtype=float)[:2], self.omega)
        fb = self.dcm.update(zmp_ref, xi, xi_ref, support_polygon)
        if c.admittance:
            offset = self.admittance.update(fb.zmp_des, zmp_meas, dt)
        else:
            offset = np.zeros(2)
        ankles = {Side.LEFT: np.zeros(2), Side.RIGHT: np.zeros(2)}
        if c.ankle:
            targets = distribute_zmp(fb.zmp_des, left, right, support, self.weight_n,
                                     c.foot_length_m, c.foot_width_m)
            for side, wrench in ((Side.LEFT, left_wrench), (Side.RIGHT, right_wrench)):
                w = _finite(wrench, 6, f"{side.value} wrench")
                contact = support in (side.value, "double")
                ankles[side] = self.ankle.update(side, [targets[side].tau_x,
                                                        targets[side].tau_y],
                                                 w[3:5], contact, dt)
        pelvis = (self.hip.update(fb.zmp_unclamped - fb.zmp_des, heading_rad, dt)
                  if c.hip else np.zeros(2))
        return StabilizerOutput(fb.zmp_des, fb.zmp_unclamped, fb.saturated, xi, xi_ref,
                                offset, ankles, pelvis)

    @staticmethod
    def apply_ankles(q: np.ndarray, out: StabilizerOutput) -> np.ndarray:
        """``q`` (LEG_JOINTS order) with the ankle offsets added to ankle_roll/ankle_pitch."""
        q = np.array(q, dtype=float)
        for side, prefix in ((Side.LEFT, "l"), (Side.RIGHT, "r")):
            roll, pitch = out.ankle_offsets[side]
            q[LEG_JOINTS.index(f"{prefix}_ankle_roll")] += roll
            q[LEG_JOINTS.index(f"{prefix}_ankle_pitch")] += pitch
        return q
