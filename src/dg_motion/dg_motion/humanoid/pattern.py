"""Online walking pattern: footsteps -> ZMP reference -> CoM (preview control) and feet.

The pattern is a timeline of phases built from the footsteps not yet taken:

1. ``initial`` double support (``initial_double_support_s``): the ZMP reference moves
   linearly from where the robot stands to the first stance foot (weight shift).
2. per step: ``single`` support (``single_support_s``), ZMP at the stance sole's centre while
   the other foot swings; then a ``between`` double support (``double_support_s``), ZMP moving
   linearly to the next stance sole's centre.
3. ``final`` double support (``final_double_support_s``): the ZMP goes to the midpoint of
   the feet and stays there (standing).

The ZMP reference is continuous and piecewise linear in time (breakpoints at the phase ends),
so the preview window at any time is one ``np.interp``; past the last breakpoint it holds the
final value: the window is always full. The CoM follows from
:class:`~dg_motion.humanoid.preview_control.PreviewController` (Kajita et al. ICRA 2003).

Swing foot: a quintic from the lift-off pose to the landing (zero velocity and acceleration at
both ends) for x, y, yaw, and ``z = h 64 s^3 (1 - s)^3`` (peak ``h`` = ``swing_height_m`` at
mid-swing, zero velocity and acceleration at lift-off and touch-down), ``s`` the swing phase.

Online changes:

- :meth:`WalkingPattern.set_footsteps` replaces the steps not yet started; a swing in
  progress finishes; a double support in progress re-aims its ZMP ramp from the reference's
  present value (extended to at least ``double_support_s`` from now). The preview
  controller's state is never reset, so the CoM stays continuous (position, velocity and
  acceleration: the controller integrates a jerk).
- :meth:`WalkingPattern.adjust_current_landing` moves the landing of the swing in progress
  (step adjustment for push recovery): a new quintic from the foot's present position,
  velocity and acceleration to the new landing in the remaining swing time; the following
  steps shift with it (their geometry relative to each other is kept, so they stay within
  limits); the ZMP reference follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from dg_common.geometry import wrap_angle
from dg_motion.humanoid.footsteps import (
    FootstepError,
    FootstepLimits,
    check_footsteps,
    clamp_step,
    plan_velocity,
    relative_pose,
    support_polygon,
)
from dg_motion.humanoid.preview_control import PreviewController
from dg_motion.humanoid.types import Footstep, Side

#: Time comparisons [s] (phase ends fall on the control grid up to rounding).
_EPS_T = 1e-9


@dataclass(frozen=True)
class WalkTiming:
    """Durations of the walking phases [s] and the swing foot's clearance [m]."""

    single_support_s: float = 0.6
    double_support_s: float = 0.2
    swing_height_m: float = 0.05
    #: Weight shift from standing onto the first stance foot.
    initial_double_support_s: float = 0.8
    #: Standing still before that shift, so that the CoM, which sees the shift coming
    #: through the preview, starts moving before the ZMP reference does. Measured with
    #: z_c 0.8 m, preview 1.6 s, a 0.8 s shift of 0.096 m: the model ZMP leaves the
    #: reference by 16 mm with 0.4 s of hold, by 64 mm without (it swings to the far side).
    initial_hold_s: float = 0.4
    #: Weight back to the middle of the feet after the last step.
    final_double_support_s: float = 0.8

    def __post_init__(self) -> None:
        """Reject non-finite or non-positive durations (clearance may be zero)."""
        for f in fields(self):
            v = getattr(self, f.name)
            ok = isinstance(v, int | float) and math.isfinite(v)
            may_be_zero = f.name in ("swing_height_m", "initial_hold_s")
            ok = ok and (v >= 0.0 if may_be_zero else v > 0.0)
            if not ok:
                raise ValueError(f"WalkTiming.{f.name} must be finite and "
                                 f"{'>= 0' if may_be_zero else '> 0'}, got {v!r}")

    @property
    def step_period_s(self) -> float:
        """One step: single + double support [s]."""
        return self.single_support_s + self.double_support_s


@dataclass
class PatternSample:
    """The pattern at one control period (world frame, SI units)."""

    t: float                   #: time [s]
    com: np.ndarray            #: (x, y, z_c) [m]
    com_vel: np.ndarray        #: (3,) [m/s]
    com_acc: np.ndarray        #: (3,) [m/s^2]
    zmp_ref: np.ndarray        #: (2,) the ZMP reference at t [m]
    zmp_model: np.ndarray      #: (2,) the cart-table model's ZMP at t (what the CoM implies)
    left_foot: np.ndarray      #: sole target (x, y, z, yaw) [m, rad]
    right_foot: np.ndarray
    left_foot_vel: np.ndarray  #: (vx, vy, vz, yaw rate) [m/s, rad/s]
    right_foot_vel: np.ndarray
    support: str               #: 'left', 'right' (the stance foot) or 'double'
    swing_phase: float         #: 0..1 through the single support; 0 in double support
    step_index: int            #: steps started since start(), minus one (-1: none yet)
    done: bool                 #: standing, no step pending


@dataclass
class _Phase:
    kind: str                       # 'hold' | 'initial' | 'between' | 'final' | 'single'
    t0: float
    t1: float
    zmp0: np.ndarray
    zmp1: np.ndarray
    step: Footstep | None = None    # single: the landing
    coef: np.ndarray | None = None  # single: quintic (6, 3) for x, y, yaw from t_coef
    t_coef: float = 0.0
    counted: bool = False           # single: counted in step_index once begun


def _quintic(p0: np.ndarray, v0: np.ndarray, a0: np.ndarray, p1: np.ndarray,
             d: float) -> np.ndarray:
    """Coefficients (6, n) from (p0, v0, a0) to (p1, 0, 0) in time ``d``."""
    dp = p1 - p0
    c3 = (20.0 * dp - 12.0 * v0 * d - 3.0 * a0 * d * d) / (2.0 * d ** 3)
    c4 = (-30.0 * dp + 16.0 * v0 * d + 3.0 * a0 * d * d) / (2.0 * d ** 4)
    c5 = (12.0 * dp - 6.0 * v0 * d - a0 * d * d) / (2.0 * d ** 5)
    return np.array([p0, v0, 0.5 * a0, c3, c4, c5])


def _eval_quintic(c: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position, velocity, acceleration of the quintic ``c`` at ``tau`` (one product)."""
    t2 = tau * tau
    t3 = t2 * tau
    basis = np.array([[1.0, tau, t2, t3, t3 * tau, t3 * t2],
                      [0.0, 1.0, 2.0 * tau, 3.0 * t2, 4.0 * t3, 5.0 * t3 * tau],
                      [0.0, 0.0, 2.0, 6.0 * tau, 12.0 * t2, 20.0 * t3]])
    pva = basis @ c
    return pva[0], pva[1], pva[2]


def _centre(f: Footstep) -> np.ndarray:
    return np.array([f.x, f.y])


def _pose4(f: Footstep, z: float = 0.0) -> np.ndarray:
    return np.array([f.x, f.y, z, f.yaw])


def _as_footstep(side: Side, foot: Footstep | np.ndarray) -> Footstep:
    """A foot given as Footstep, (x, y, z, yaw) or a 4x4 sole pose, as a Footstep."""
    if isinstance(foot, Footstep):
        if foot.side is not side:
            raise ValueError(f"expected the {side.value} foot, got the {foot.side.value}")
        return foot
    a = np.asarray(foot, dtype=float)
    if a.shape == (4, 4):
        f = Footstep(side, float(a[0, 3]), float(a[1, 3]), math.atan2(a[1, 0], a[0, 0]))
    elif a.shape == (4,):
        f = Footstep(side, float(a[0]), float(a[1]), float(a[3]))
    else:
        raise ValueError(f"foot pose must be a Footstep, (x, y, z, yaw) or 4x4, got {a.shape}")
    if not all(math.isfinite(v) for v in (f.x, f.y, f.yaw)):
        raise ValueError(f"non-finite {side.value} foot pose")
    return f


class WalkingPattern:
    """Online walking pattern generator: call :meth:`start`, then :meth:`advance` every dt."""

    def __init__(self, timing: WalkTiming | None = None, z_c: float = 0.8, dt: float = 0.005,
                 limits: FootstepLimits | None = None, foot_length: float | None = None,
                 foot_width: float | None = None, preview_s: float = 1.6, q_e: float = 1.0,
                 r: float = 1e-6) -> None:
        """Preview gains for CoM height ``z_c`` [m], period ``dt`` [s]; foot size of limits.

        ``foot_length``/``foot_width`` [m] override the sole size in ``limits``.
        """
        self.timing = timing or WalkTiming()
        self.limits = limits or FootstepLimits()
        self.foot_length = float(foot_length or self.limits.foot_length)
        self.foot_width = float(foot_width or self.limits.foot_width)
        self.z_c = float(z_c)
        self.dt = float(dt)
        if self.timing.single_support_s < 2.0 * dt:
            raise ValueError(f"single support {self.timing.single_support_s} s shorter than "
                             f"two periods of {dt} s")
        self.preview = PreviewController(dt=dt, z_c=z_c, q_e=q_e, r=r, preview_s=preview_s)
        self._offsets = np.arange(self.preview.window_length) * self.dt
        self._started = False
        self._t0 = 0.0
        self._k = 0
        self._feet: dict[Side, Footstep] = {}
        self._phases: list[_Phase] = []
        self._zmp_stand = np.zeros(2)
        self._bp_t = np.zeros(1)
        self._bp_z = np.zeros((1, 2))
        self._steps_started = 0
        self._last: PatternSample | None = None

    # ------------------------------------------------------------------ state access
    @property
    def t(self) -> float:
        """Pattern time [s]."""
        return self._t0 + self._k * self.dt

    @property
    def done(self) -> bool:
        """Standing with no step pending."""
        return self._started and not self._phases

    @property
    def feet(self) -> tuple[Footstep, Footstep]:
        """Where the feet last landed (left, right)."""
        return self._feet[Side.LEFT], self._feet[Side.RIGHT]

    @property
    def remaining_steps(self) -> list[Footstep]:
        """Steps planned and not yet started (the swing in progress excluded)."""
        return [p.step for p in self._phases if p.kind == "single" and p.t0 > self.t + _EPS_T]

    @property
    def current_swing(self) -> Footstep | None:
        """Landing of the swing in progress, or None in double support."""
        p = self._phases[0] if self._phases else None
        return p.step if p is not None and p.kind == "single" and p.t0 <= self.t + _EPS_T \
            else None

    def planning_feet(self) -> tuple[Footstep, Footstep, Side | None]:
        """Feet (left, right) from which new steps start, and the side that must step first.

        During a swing: the feet after it lands, and the other side next. In a double
        support that already shifts the weight toward a planned step: the feet now and that
        step's side (another side would send the ZMP back across in what is left of the
        double support). Standing, or settling after the last step: the feet now and
        ``None`` (either side). Give these to
        :func:`~dg_motion.humanoid.footsteps.plan_velocity` (or ``plan_to_goal``) before
        :meth:`set_footsteps`.
        """
        self._need_start()
        swing = self.current_swing
        feet = dict(self._feet)
        if swing is None:
            nxt = next((p for p in self._phases if p.kind == "single"), None)
            shifting = bool(self._phases) and self._phases[0].kind in ("initial", "between")
            return feet[Side.LEFT], feet[Side.RIGHT], (nxt.step.side if shifting and nxt
                                                       else None)
        feet[swing.side] = swing
        return feet[Side.LEFT], feet[Side.RIGHT], swing.side.other

    def planned_feet(self) -> tuple[Footstep, Footstep]:
        """(left, right) from which new steps start (see :meth:`planning_feet`)."""
        left, right, _ = self.planning_feet()
        return left, right

    def next_side(self) -> Side | None:
        """The side that must take the next new step (None: either)."""
        return self.planning_feet()[2]

    def steps_left(self) -> int:
        """Steps planned and not yet started."""
        return len(self.remaining_steps)

    def upcoming_footsteps(self) -> list[Footstep]:
        """The landing of the swing in progress (if any) and the steps after it."""
        swing = self.current_swing
        return ([swing] if swing is not None else []) + self.remaining_steps

    def swing_landing(self) -> Footstep | None:
        """Landing of the swing in progress (None in double support)."""
        return self.current_swing

    def stance_foot(self) -> Footstep | None:
        """The foot on the ground during a swing (None in double support)."""
        swing = self.current_swing
        return None if swing is None else self._feet[swing.side.other]

    def time_to_touchdown(self) -> float:
        """Time left in the swing in progress [s] (0 in double support)."""
        swing = self.current_swing
        return 0.0 if swing is None else max(self._phases[0].t1 - self.t, 0.0)

    def pelvis_yaw(self) -> float:
        """Heading for the pelvis: the mean of the two feet's present target yaws [rad]."""
        self._need_start()
        a, b = self._last.left_foot[3], self._last.right_foot[3]
        return math.atan2(math.sin(a) + math.sin(b), math.cos(a) + math.cos(b))

    def closing_steps(self) -> list[Footstep]:
        """The step that brings the feet side by side (nominal width) after the present one.

        ``[]`` when they already are. In double support the foot behind steps up.
        """
        left, right, first = self.planning_feet()
        dx, dy, dyaw = relative_pose(right, left)
        if (abs(dx) < 1e-6 and abs(dy - self.limits.nominal_width) < 1e-6
                and abs(dyaw) < 1e-6):
            return []
        if first is None:
            first = Side.RIGHT if dx > 0.0 else Side.LEFT
        return plan_velocity(left, right, 0.0, 0.0, 0.0, self.timing.step_period_s, 1,
                             self.limits, first_side=first)

    def zmp_ref_at(self, t: np.ndarray | float) -> np.ndarray:
        """The ZMP reference (x, y) at time(s) ``t`` as planned now."""
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        z = np.stack([np.interp(tt, self._bp_t, self._bp_z[:, 0]),
                      np.interp(tt, self._bp_t, self._bp_z[:, 1])], axis=-1)
        return z[0] if np.ndim(t) == 0 else z

    def support_polygon(self) -> np.ndarray:
        """Convex hull (N, 2) of the soles on the ground now."""
        self._need_start()
        swing = self.current_swing
        feet = [f for s, f in self._feet.items() if swing is None or s is not swing.side]
        return support_polygon(feet, self.foot_length, self.foot_width)

    def _need_start(self) -> None:
        if not self._started:
            raise RuntimeError("WalkingPattern.start() first")

    # ------------------------------------------------------------------ commands
    def start(self, t: float | Footstep | np.ndarray, left: Footstep | np.ndarray,
              right: Footstep | np.ndarray,
              com_xy: np.ndarray | tuple[float, float] | None = None) -> None:
        """Stand at time ``t`` [s] on ``left``/``right`` with the CoM at rest over ``com_xy``.

        Feet as :class:`Footstep`, (x, y, z, yaw) or a 4x4 sole pose. ``start(left, right,
        com_xy)`` (no time) starts at t = 0.
        """
        if com_xy is None:
            t, left, right, com_xy = 0.0, t, left, right
        left_f, right_f = _as_footstep(Side.LEFT, left), _as_footstep(Side.RIGHT, right)
        com = np.asarray(com_xy, dtype=float).reshape(-1)[:2]
        if not (isinstance(t, int | float) and math.isfinite(t) and com.shape == (2,)
                and np.isfinite(com).all()):
            raise ValueError(f"start needs a finite time and CoM (x, y), got {t}, {com_xy}")
        check_footsteps(left_f, right_f, [], self.limits)
        self.preview.reset(com)
        self._t0, self._k = float(t), 0
        self._feet = {Side.LEFT: left_f, Side.RIGHT: right_f}
        self._phases = []
        self._zmp_stand = com.copy()
        self._steps_started = 0
        self._started = True
        self._rebuild_breakpoints()
        self._last = self._sample(self.preview.state, self.preview.zmp)

    def set_footsteps(self, steps: list[Footstep]) -> None:
        """Replace the steps not yet started by ``steps`` (the swing in progress continues).

        Raises :class:`~dg_motion.humanoid.footsteps.FootstepError` (nothing changed) when a
        step is out of reach, or when the first one is of the side now swinging.
        """
        self._need_start()
        left, right, first = self.planning_feet()
        steps = list(steps)
        if steps and first is not None and steps[0].side is not first:
            raise FootstepError(0, f"the next step must be {first.value} (the "
                                   f"{first.other.value} foot swings or bears the weight now)")
        check_footsteps(left, right, steps, self.limits)
        self._replan(steps)

    def stop(self) -> None:
        """Drop the steps not yet started: finish the swing in progress, then stand."""
        self.set_footsteps([])

    def adjust_current_landing(self, x: float, y: float) -> Footstep | None:
        """Move the landing of the swing in progress to (x, y) [m], clamped to the limits.

        Returns the landing used (clamped), or None when no swing is in progress or too
        little of it is left (under two periods) to re-target smoothly.
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"non-finite landing ({x}, {y})")
        self._need_start()
        ph = self._phases[0] if self._phases else None
        now = self.t
        if ph is None or ph.kind != "single" or ph.t0 > now + _EPS_T:
            return None
        if ph.t1 - now < 2.0 * self.dt - _EPS_T:
            return None
        old = ph.step
        stance = self._feet[old.side.other]
        new = clamp_step(stance, Footstep(old.side, float(x), float(y), old.yaw), self.limits)
        p, v, a = _eval_quintic(ph.coef, now - ph.t_coef)
        target = np.array([new.x, new.y, p[2] + wrap_angle(new.yaw - p[2])])
        ph.coef = _quintic(p, v, a, target, ph.t1 - now)
        ph.t_coef = now
        ph.step = new
        dx, dy = new.x - old.x, new.y - old.y
        later = [Footstep(s.side, s.x + dx, s.y + dy, s.yaw) for s in self.remaining_steps]
        self._replan(later)
        return new

    # ------------------------------------------------------------------ timeline
    def _replan(self, steps: list[Footstep]) -> None:
        """Rebuild the phases after the present one (re-aiming a double support)."""
        now = self.t
        tm = self.timing
        feet = dict(self._feet)
        cur = self._phases[0] if self._phases else None
        phases: list[_Phase] = []
        if cur is not None and cur.kind == "single":
            phases.append(cur)
            feet[cur.step.side] = cur.step
            tc = cur.t1
            zc = cur.zmp1
            first_end = None
        else:
            zc = self.zmp_ref_at(now)
            tc = now
            if cur is None and not steps:
                self._phases = []
                self._rebuild_breakpoints()
                return
            if cur is not None and cur.kind == "hold":
                if not steps:                    # nothing to shift for: stand
                    self._phases = []
                    self._rebuild_breakpoints()
                    return
                phases.append(cur)
                tc = cur.t1
                first_end = tc + tm.initial_double_support_s
            elif cur is None:
                if tm.initial_hold_s > 0.0:
                    phases.append(_Phase("hold", now, now + tm.initial_hold_s, zc, zc))
                    tc = now + tm.initial_hold_s
                first_end = tc + tm.initial_double_support_s
            else:
                if cur.kind in ("initial", "final"):
                    min_len = (tm.initial_double_support_s if steps
                               else tm.final_double_support_s)
                else:
                    min_len = tm.double_support_s
                first_end = max(cur.t1, now + min_len)
        for i, step in enumerate(steps):
            target = _centre(feet[step.side.other])
            if first_end is not None and i == 0:
                kind = ("initial" if cur is None or cur.kind in ("initial", "hold")
                        else "between")
                phases.append(_Phase(kind, tc, first_end, zc, target))
                tc = first_end
            else:
                phases.append(_Phase("between", tc, tc + tm.double_support_s, zc, target))
                tc += tm.double_support_s
            swing_from = feet[step.side]
            p0 = np.array([swing_from.x, swing_from.y, swing_from.yaw])
            p1 = np.array([step.x, step.y, swing_from.yaw + wrap_angle(step.yaw - swing_from.yaw)])
            coef = _quintic(p0, np.zeros(3), np.zeros(3), p1, tm.single_support_s)
            phases.append(_Phase("single", tc, tc + tm.single_support_s, target, target, step,
                                 coef, tc))
            tc += tm.single_support_s
            feet[step.side] = step
            zc = target
        mid = 0.5 * (_centre(feet[Side.LEFT]) + _centre(feet[Side.RIGHT]))
        end = tc + tm.final_double_support_s
        if first_end is not None and not steps:
            end = first_end
        phases.append(_Phase("final", tc, end, zc, mid))
        self._phases = phases
        self._rebuild_breakpoints()

    def _rebuild_breakpoints(self) -> None:
        now = self.t
        ts = [now]
        zs = [self._zmp_now()]
        for p in self._phases:
            if p.t1 > now + _EPS_T:
                ts.append(p.t1)
                zs.append(p.zmp1)
        self._bp_t = np.array(ts)
        self._bp_z = np.array(zs, dtype=float)

    def _zmp_now(self) -> np.ndarray:
        """The reference at the present time from the present phase."""
        if not self._phases:
            return self._zmp_stand.copy()
        p = self._phases[0]
        if p.t1 - p.t0 <= _EPS_T:
            return np.asarray(p.zmp1, dtype=float).copy()
        s = min(max((self.t - p.t0) / (p.t1 - p.t0), 0.0), 1.0)
        return (1.0 - s) * np.asarray(p.zmp0) + s * np.asarray(p.zmp1)

    # ------------------------------------------------------------------ stepping
    def advance(self) -> PatternSample:
        """Advance one period ``dt`` and return the pattern at the new time."""
        self._need_start()
        window_t = self.t + self._offsets
        window = np.empty((len(window_t), 2))
        window[:, 0] = np.interp(window_t, self._bp_t, self._bp_z[:, 0])
        window[:, 1] = np.interp(window_t, self._bp_t, self._bp_z[:, 1])
        com, vel, acc, zmp_model = self.preview.step(window)
        self._k += 1
        now = self.t
        while self._phases and self._phases[0].t1 <= now + _EPS_T:
            done = self._phases.pop(0)
            if done.kind == "single":
                self._feet[done.step.side] = done.step
            elif done.kind == "final":
                self._zmp_stand = np.asarray(done.zmp1, dtype=float).copy()
        ph = self._phases[0] if self._phases else None
        if ph is not None and ph.kind == "single" and not ph.counted:
            ph.counted = True
            self._steps_started += 1
        if len(self._bp_t) and self._bp_t[0] < now - 0.5:
            self._rebuild_breakpoints()   # keep np.interp's input short
        self._last = self._sample(np.array([com, vel, acc]), zmp_model, window[1])
        return self._last

    def hold(self) -> PatternSample:
        """The last sample again, without advancing (e.g. while fallen)."""
        self._need_start()
        return self._last

    def _sample(self, state: np.ndarray, zmp_model: np.ndarray,
                zmp_ref: np.ndarray | None = None) -> PatternSample:
        """The pattern at the present time for the CoM ``state`` (3, 2)."""
        now = self.t
        ph = self._phases[0] if self._phases else None
        feet = {Side.LEFT: _pose4(self._feet[Side.LEFT]),
                Side.RIGHT: _pose4(self._feet[Side.RIGHT])}
        vels = {s: np.zeros(4) for s in Side}
        support = "double"
        phase = 0.0
        if ph is not None and ph.kind == "single":
            side = ph.step.side
            d = ph.t1 - ph.t0
            phase = min(max((now - ph.t0) / d, 0.0), 1.0)
            p, v, _ = _eval_quintic(ph.coef, now - ph.t_coef)
            h = self.timing.swing_height_m
            z = h * 64.0 * phase ** 3 * (1.0 - phase) ** 3
            dz = h * 64.0 * (3.0 * phase ** 2 * (1.0 - phase) ** 3
                             - 3.0 * phase ** 3 * (1.0 - phase) ** 2) / d
            feet[side] = np.array([p[0], p[1], z, wrap_angle(p[2])])
            vels[side] = np.array([v[0], v[1], dz, v[2]])
            support = side.other.value
        if zmp_ref is None:
            zmp_ref = self.zmp_ref_at(now)
        return PatternSample(
            t=now, com=np.array([state[0, 0], state[0, 1], self.z_c]),
            com_vel=np.array([state[1, 0], state[1, 1], 0.0]),
            com_acc=np.array([state[2, 0], state[2, 1], 0.0]),
            zmp_ref=np.array(zmp_ref, dtype=float), zmp_model=np.array(zmp_model, dtype=float),
            left_foot=feet[Side.LEFT], right_foot=feet[Side.RIGHT],
            left_foot_vel=vels[Side.LEFT], right_foot_vel=vels[Side.RIGHT],
            support=support, swing_phase=phase, step_index=self._steps_started - 1,
            done=not self._phases)
