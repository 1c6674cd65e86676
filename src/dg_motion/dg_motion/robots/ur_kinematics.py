"""Closed-form inverse kinematics of the Universal Robots 6R geometry (up to 8 solutions).

Geometry (standard Denavit-Hartenberg, ``A_i = Rz(q_i) Tz(d_i) Tx(a_i) Rx(alpha_i)``):
``alpha = [pi/2, 0, 0, pi/2, -pi/2, 0]``, ``a = [0, a2, a3, 0, 0, 0]``,
``d = [d1, 0, 0, d4, d5, d6]`` -- the table Universal Robots publishes for every UR arm
("DH parameters for calculations of kinematics and dynamics", universal-robots.com; UR5:
a2 = -0.425, a3 = -0.39225, d1 = 0.089159, d4 = 0.10915, d5 = 0.09465, d6 = 0.0823 m).
Joints 2, 3, 4 are parallel, joints 5 and 6 form a wrist with offsets. The closed form below
follows the structure of K. P. Hawkins, "Analytic Inverse Kinematics for the Universal
Robots UR-5/UR-10 Arms" (Georgia Tech, 2013); each step is derived here from the table.

Given the flange pose ``T06`` (columns X, Y, Z and origin P in frame 0):

1. Wrist point ``P05 = P - d6 Z``. Every frame from 1 to 5 is offset from the base's z axis
   by ``d4`` along ``z1 = (sin q1, -cos q1, 0)`` (joints 2-4 axis), so
   ``P05 . z1 = d4``: ``q1 = atan2(P05y, P05x) + pi/2 +- acos(d4 / |P05xy|)`` (shoulder
   branch; no solution when the wrist point lies inside the cylinder of radius d4).
2. ``z5 . z1 = cos q5`` and ``P . z1 = d4 + d6 cos q5``:
   ``q5 = +- acos((Px sin q1 - Py cos q1 - d4) / d6)`` (wrist branch).
3. ``z1`` in frame 6 is ``(sin q5 cos q6, -sin q5 sin q6, cos q5)``, i.e.
   ``q6 = atan2((Yy cos q1 - Yx sin q1) / sin q5, (Xx sin q1 - Xy cos q1) / sin q5)``;
   the same components give ``|sin q5|``, so q5 is computed as an ``atan2`` (precise near
   ``q5 = 0``, where the ``acos`` of step 2 loses half the digits).
   At ``sin q5 = 0`` (wrist singularity: axes 6 and 2-4 align) q6 is free; the caller's hint
   is used and q2..q4 absorb the rest, so the pose is still reached exactly.
4. ``T14 = A1^-1 T06 A6^-1 A5^-1 = Rz(q2) Tx(a2) Rz(q3) Tx(a3) Rz(q4) Tz(d4) Rx(pi/2)``: a
   planar 2-link arm to ``(x, y) = P14xy``: ``cos q3 = (x^2 + y^2 - a2^2 - a3^2) / (2 a2 a3)``
   (elbow branch +-), ``q2 = atan2(y, x) - atan2(a3 sin q3, a2 + a3 cos q3)``, and
   ``q4 = atan2(R14[1,0], R14[0,0]) - q2 - q3``.

Angles are returned in ``(-pi, pi]``; :func:`closest_equivalent` picks the ``+-2 pi``
equivalent nearest a seed within joint limits (UR joints turn +-2 pi).
"""

# Transforms, rotations and Jacobians keep the textbook capitals (T, R, J, A_i).
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dg_common.geometry import wrap_angle

#: Standard-DH twist angles of every UR arm [rad].
UR_ALPHA_RAD = (math.pi / 2, 0.0, 0.0, math.pi / 2, -math.pi / 2, 0.0)
#: ``acos`` arguments beyond 1 by less than this are rounding (a boundary pose, e.g. the
#: arm fully stretched); beyond it the branch has no solution.
_ACOS_SLACK = 1e-9
#: ``|sin q5|`` below this is the wrist singularity (q6 taken from the hint).
WRIST_SINGULAR_SIN = 1e-10


@dataclass(frozen=True)
class URGeometry:
    """Lengths of the UR DH table [m] (a2, a3 negative in UR's convention)."""

    d1: float
    a2: float
    a3: float
    d4: float
    d5: float
    d6: float

    @property
    def a(self) -> np.ndarray:
        """DH ``a`` column [m]."""
        return np.array([0.0, self.a2, self.a3, 0.0, 0.0, 0.0])

    @property
    def d(self) -> np.ndarray:
        """DH ``d`` column [m]."""
        return np.array([self.d1, 0.0, 0.0, self.d4, self.d5, self.d6])


#: Universal Robots' published UR5 table (see the module docstring).
UR5 = URGeometry(d1=0.089159, a2=-0.425, a3=-0.39225, d4=0.10915, d5=0.09465, d6=0.0823)


@dataclass(frozen=True)
class URSolution:
    """One closed-form solution: joint angles [rad] in (-pi, pi] and its branch signs."""

    q: np.ndarray
    shoulder: int  #: +1 / -1: sign taken before acos in step 1
    wrist: int     #: +1 / -1: sign of q5
    elbow: int     #: +1 / -1: sign of q3
    wrist_singular: bool  #: |sin q5| < WRIST_SINGULAR_SIN (q6 from the hint)


def dh_transform(theta: float, d: float, a: float, alpha: float) -> np.ndarray:
    """Standard DH link transform ``Rz(theta) Tz(d) Tx(a) Rx(alpha)`` (4x4)."""
    ct, st, ca, sa = math.cos(theta), math.sin(theta), math.cos(alpha), math.sin(alpha)
    return np.array([[ct, -st * ca, st * sa, a * ct],
                     [st, ct * ca, -ct * sa, a * st],
                     [0.0, sa, ca, d],
                     [0.0, 0.0, 0.0, 1.0]])


def ur_fk(geom: URGeometry, q: Sequence[float]) -> np.ndarray:
    """Flange pose (DH frame 6) in DH frame 0 for joint angles ``q`` [rad] (4x4)."""
    T = np.eye(4)
    for i in range(6):
        T = T @ dh_transform(float(q[i]), geom.d[i], geom.a[i], UR_ALPHA_RAD[i])
    return T


def _rigid_inv(T: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = T[:3, :3].T
    out[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return out


def _acos_branch(x: float) -> float | None:
    if abs(x) > 1.0 + _ACOS_SLACK:
        return None
    return math.acos(min(1.0, max(-1.0, x)))


def ur_ik(geom: URGeometry, T06: np.ndarray, q6_hint_rad: float = 0.0) -> list[URSolution]:
    """All closed-form solutions (at most 8) placing DH frame 6 at ``T06`` (4x4 in frame 0).

    An empty list means the pose is out of reach. ``q6_hint_rad`` is used for q6 at the
    wrist singularity only.
    """
    T = np.asarray(T06, dtype=float)
    X, Y, Z, P = T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3]
    p05 = P - geom.d6 * Z
    r = math.hypot(p05[0], p05[1])
    if r < 1e-12:
        return []
    phi = _acos_branch(geom.d4 / r)
    if phi is None:
        return []
    psi = math.atan2(p05[1], p05[0])
    out: list[URSolution] = []
    for shoulder in (1, -1):
        q1 = wrap_angle(psi + math.pi / 2 + shoulder * phi)
        s1, c1 = math.sin(q1), math.cos(q1)
        # z1 in frame 6 = (s5 c6, -s5 s6, c5): q5 from atan2 keeps full precision near
        # the wrist singularity, where acos((P . z1 - d4) / d6) would lose half the digits;
        # by the choice of q1, c5 = Z . z1 = (P . z1 - d4) / d6 (step 2) holds exactly.
        s5c6 = X[0] * s1 - X[1] * c1
        s5s6 = Y[1] * c1 - Y[0] * s1
        c5 = Z[0] * s1 - Z[1] * c1
        s5_abs = math.hypot(s5c6, s5s6)
        for wrist in (1, -1):
            q5 = math.atan2(wrist * s5_abs, c5)
            singular = s5_abs < WRIST_SINGULAR_SIN
            if singular:
                q6 = wrap_angle(q6_hint_rad)
            else:
                q6 = math.atan2(wrist * s5s6, wrist * s5c6)
            A1 = dh_transform(q1, geom.d1, 0.0, UR_ALPHA_RAD[0])
            A5 = dh_transform(q5, geom.d5, 0.0, UR_ALPHA_RAD[4])
            A6 = dh_transform(q6, geom.d6, 0.0, UR_ALPHA_RAD[5])
            T14 = _rigid_inv(A1) @ T @ _rigid_inv(A5 @ A6)
            x, y = T14[0, 3], T14[1, 3]
            c3 = (x * x + y * y - geom.a2**2 - geom.a3**2) / (2.0 * geom.a2 * geom.a3)
            q3_abs = _acos_branch(c3)
            if q3_abs is None:
                continue
            q234 = math.atan2(T14[1, 0], T14[0, 0])
            for elbow in (1, -1):
                q3 = elbow * q3_abs
                q2 = math.atan2(y, x) - math.atan2(geom.a3 * math.sin(q3),
                                                   geom.a2 + geom.a3 * math.cos(q3))
                q4 = q234 - q2 - q3
                q = np.array([q1, wrap_angle(q2), q3, wrap_angle(q4), q5, q6])
                out.append(URSolution(q, shoulder, wrist, elbow, singular))
    return out


def closest_equivalent(q: np.ndarray, q_seed: np.ndarray, q_min: np.ndarray,
                       q_max: np.ndarray, tol_rad: float = 1e-12) -> np.ndarray | None:
    """Per joint, the ``q + 2 pi k`` nearest ``q_seed`` inside ``[q_min, q_max]`` [rad].

    Returns ``None`` when some joint has no equivalent inside its limits.
    """
    two_pi = 2.0 * math.pi
    q = np.asarray(q, dtype=float)
    k0 = np.round((q_seed - q) / two_pi)
    cands = q[:, None] + two_pi * (k0[:, None] + _K_OFFSETS)           # (n, 5)
    valid = (cands >= q_min[:, None] - tol_rad) & (cands <= q_max[:, None] + tol_rad)
    dist = np.where(valid, np.abs(cands - q_seed[:, None]), np.inf)
    out = cands[np.arange(len(q)), np.argmin(dist, axis=1)]
    missing = ~valid.any(axis=1)
    if missing.any():
        # the seed far outside the limits: the lowest equivalent inside them, if any
        with np.errstate(invalid="ignore"):
            low = q + two_pi * np.ceil((q_min - tol_rad - q) / two_pi)
        low = np.where(np.isfinite(low), low, q)
        if np.any(missing & (low > q_max + tol_rad)):
            return None
        out = np.where(missing, low, out)
    return np.clip(out, q_min, q_max)


_K_OFFSETS = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])


def geometry_from_placements(placements: Sequence[np.ndarray],
                             tol: float = 1e-9) -> tuple[URGeometry, np.ndarray] | None:
    """Recognise the UR structure from the 6 joint placements.

    Each placement is 4x4: the joint frame at q = 0 relative to the previous joint's frame,
    joint axes along z.

    Joint ``i > 1`` must be ``Tx(a[i-1]) Rx(alpha[i-1]) Tz(d[i])`` with UR's alphas and zero
    ``a``/``d`` where the table has them. Returns the geometry and ``T_base_0`` (the fixed
    transform from the model's base to DH frame 0), or ``None`` when the chain is not UR-like.
    """
    if len(placements) != 6:
        return None
    M1 = np.asarray(placements[0], dtype=float)
    d1 = float(M1[:3, 3] @ M1[:3, 2])
    T_base_0 = M1.copy()
    T_base_0[:3, 3] = M1[:3, 3] - d1 * M1[:3, 2]
    a = np.zeros(6)
    d = np.zeros(6)
    d[0] = d1
    for i in range(1, 6):
        M = np.asarray(placements[i], dtype=float)
        alpha = UR_ALPHA_RAD[i - 1]
        Rx = np.array([[1.0, 0.0, 0.0],
                       [0.0, math.cos(alpha), -math.sin(alpha)],
                       [0.0, math.sin(alpha), math.cos(alpha)]])
        if np.abs(M[:3, :3] - Rx).max() > tol:
            return None
        t = M[:3, 3]
        a[i - 1] = t[0]
        d[i] = float(t @ Rx[:, 2])
        if abs(float(t @ Rx[:, 1])) > tol:
            return None
    if (abs(a[0]) > tol or abs(a[3]) > tol or abs(a[4]) > tol or abs(d[1]) > tol
            or abs(d[2]) > tol or abs(a[1]) < tol or abs(a[2]) < tol or abs(d[5]) < tol):
        return None
    return URGeometry(d1=d1, a2=a[1], a3=a[2], d4=d[3], d5=d[4], d6=d[5]), T_base_0
