"""Footstep plans for a biped: from a velocity command or to a goal pose, within limits.

Every rule is stated in the frame of the stance foot (the foot on the ground while the other
swings), as the reachable region of the swing foot is fixed there:

- forward offset ``dx`` in ``[-max_backward, max_forward]``;
- lateral offset toward the swing foot's own side (``+y`` for a left swing foot, ``-y`` for a
  right one) in ``[min_width, min(max_width, nominal_width + max_lateral)]``: a foot never
  crosses over or gets closer than ``min_width`` to the other;
- yaw relative to the stance foot within ``+-max_yaw``;
- the two sole rectangles do not overlap (a toe-in step at minimum width could).

A velocity command is turned into steps by moving a body pose ``M`` (midway between the feet,
feet at ``M +- nominal_width / 2``) by the command over one step period: forward speed and
yaw rate every step; sideways speed only on the steps of the foot on the side of motion, twice
as far (the leading foot steps out, the trailing foot closes to nominal width), which allows
twice the lateral speed of spreading it over both steps.

A goal is reached in three phases (turn toward it, walk, turn to its heading), each a greedy
sequence of steps toward the feet's targets, every step clamped into the region above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from dg_common.geometry import wrap_angle
from dg_motion.humanoid.types import Footstep, Side

#: Feet closer than this to their targets have arrived [m, rad].
ARRIVED_TOL = 1e-6
#: A foot this close to its place at the goal (position error plus 0.3 m per radian of yaw
#: error) is not moved again [m]: re-planned from the measured feet, which land a few
#: millimetres off, a goal would otherwise end in steps of a few millimetres (on the
#: simulated biped, each a chance to stumble).
SETTLED_TOL = 0.02
#: A goal farther than this from the feet's midpoint is walked to with a turn toward it
#: first; closer ones are reached by stepping sideways/backwards in place [m].
TURN_TOWARD_MIN_M = 0.30
#: Upper bound on the steps of one plan (a goal many metres away: 200 steps is 60 m).
MAX_PLAN_STEPS = 200


class FootstepError(ValueError):
    """A footstep plan or its input is not feasible; ``index`` is the step (or None)."""

    def __init__(self, index: int | None, reason: str) -> None:
        """Keep the step index and the reason; the message holds both."""
        self.index = index
        self.reason = reason
        where = f"step {index}: " if index is not None else ""
        super().__init__(f"{where}{reason}")


@dataclass(frozen=True)
class FootstepLimits:
    """Reachable region of the swing foot in the stance foot's frame, and the foot size.

    Defaults for a medium humanoid with JVRC-1's hips (0.096 m either side of the pelvis,
    AIST's JVRC-1 model, jrl-umi3218/jvrc_description) and the 0.22 x 0.12 m sole of the
    biped in dg_motion/config/robots/biped.
    """

    max_forward: float = 0.30      #: [m]
    max_backward: float = 0.15     #: [m]
    max_lateral: float = 0.15      #: sideways step beyond nominal_width [m]
    nominal_width: float = 0.192   #: distance between sole centres when standing [m]
    min_width: float = 0.15        #: [m]
    max_width: float = 0.40        #: [m]
    max_yaw: float = 0.35          #: per step, relative to the stance foot [rad]
    foot_length: float = 0.22      #: sole, along its x [m]
    foot_width: float = 0.12       #: sole, along its y [m]

    def __post_init__(self) -> None:
        """Reject non-finite, non-positive or inconsistent limits, naming the field."""
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0.0):
                raise ValueError(f"FootstepLimits.{f.name} must be finite and > 0, got {v!r}")
        if not self.min_width <= self.nominal_width <= self.max_width:
            raise ValueError(f"need min_width <= nominal_width <= max_width, got "
                             f"{self.min_width}, {self.nominal_width}, {self.max_width}")
        if self.max_yaw >= math.pi / 2:
            raise ValueError(f"max_yaw {self.max_yaw} rad must be below pi/2")

    @property
    def width_max(self) -> float:
        """Largest lateral offset between the sole centres [m]."""
        return min(self.max_width, self.nominal_width + self.max_lateral)


def _side_sign(side: Side) -> float:
    return 1.0 if side is Side.LEFT else -1.0


def relative_pose(stance: Footstep, swing: Footstep) -> tuple[float, float, float]:
    """``swing`` in ``stance``'s frame: (dx, dy, dyaw) [m, m, rad]."""
    c, s = math.cos(stance.yaw), math.sin(stance.yaw)
    ex, ey = swing.x - stance.x, swing.y - stance.y
    return c * ex + s * ey, -s * ex + c * ey, wrap_angle(swing.yaw - stance.yaw)


def compose(base: Footstep | tuple[float, float, float], dx: float, dy: float, dyaw: float,
            side: Side) -> Footstep:
    """The pose ``base (+) (dx, dy, dyaw)`` as a footstep of ``side``."""
    bx, by, byaw = (base.x, base.y, base.yaw) if isinstance(base, Footstep) else base
    c, s = math.cos(byaw), math.sin(byaw)
    return Footstep(side, bx + c * dx - s * dy, by + s * dx + c * dy, wrap_angle(byaw + dyaw))


def mid_pose(left: Footstep, right: Footstep) -> tuple[float, float, float]:
    """Pose midway between the feet (x, y, yaw): the mean position and the mean heading."""
    yaw = math.atan2(math.sin(left.yaw) + math.sin(right.yaw),
                     math.cos(left.yaw) + math.cos(right.yaw))
    return 0.5 * (left.x + right.x), 0.5 * (left.y + right.y), yaw


def foot_corners(step: Footstep, foot_length: float, foot_width: float) -> np.ndarray:
    """The sole rectangle's corners (4, 2), counter-clockwise."""
    hl, hw = 0.5 * foot_length, 0.5 * foot_width
    local = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
    c, s = math.cos(step.yaw), math.sin(step.yaw)
    return local @ np.array([[c, s], [-s, c]]) + np.array([step.x, step.y])


def _rectangles_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating axis test of two convex quadrilaterals (corners counter-clockwise)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for ex, ey in edges:
            n = np.array([-ey, ex])
            pa, pb = a @ n, b @ n
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def support_polygon(feet: Sequence[Footstep], foot_length: float = 0.22,
                    foot_width: float = 0.12) -> np.ndarray:
    """Convex hull (N, 2), counter-clockwise, of the soles of ``feet`` (on the ground)."""
    if not feet:
        raise ValueError("support polygon of no feet")
    pts = np.vstack([foot_corners(f, foot_length, foot_width) for f in feet])
    if not np.isfinite(pts).all():
        raise ValueError("non-finite foot pose")
    return _convex_hull(pts)


def _convex_hull(pts: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain; counter-clockwise, no repeated end point."""
    p = sorted({(float(x), float(y)) for x, y in pts})
    if len(p) <= 2:
        return np.array(p)

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for q in p:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0.0:
            lower.pop()
        lower.append(q)
    upper: list[tuple[float, float]] = []
    for q in reversed(p):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0.0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def _check_one(stance: Footstep, swing: Footstep, limits: FootstepLimits) -> str:
    """'' when ``swing`` is reachable from ``stance``, else why not."""
    vals = (swing.x, swing.y, swing.yaw, stance.x, stance.y, stance.yaw)
    if not all(math.isfinite(v) for v in vals):
        return "non-finite footstep"
    dx, dy, dyaw = relative_pose(stance, swing)
    lateral = _side_sign(swing.side) * dy
    eps = 1e-9
    if dx > limits.max_forward + eps:
        return f"forward {dx:.3f} m > max_forward {limits.max_forward} m"
    if dx < -limits.max_backward - eps:
        return f"backward {-dx:.3f} m > max_backward {limits.max_backward} m"
    if lateral < limits.min_width - eps:
        what = "crosses the stance foot" if lateral < 0.0 else "too close to the stance foot"
        return (f"{what}: width {lateral:.3f} m < min_width {limits.min_width} m "
                f"in the stance foot's frame")
    if lateral > limits.width_max + eps:
        return f"width {lateral:.3f} m > {limits.width_max:.3f} m (max_lateral/max_width)"
    if abs(dyaw) > limits.max_yaw + eps:
        return f"yaw {dyaw:.3f} rad beyond max_yaw {limits.max_yaw} rad"
    if _rectangles_overlap(foot_corners(stance, limits.foot_length, limits.foot_width),
                           foot_corners(swing, limits.foot_length, limits.foot_width)):
        return "soles overlap"
    return ""


def _check_feet(left: Footstep, right: Footstep) -> None:
    if left.side is not Side.LEFT or right.side is not Side.RIGHT:
        raise FootstepError(None, f"feet given as ({left.side}, {right.side}), "
                                  "need (left, right)")
    if not all(math.isfinite(v) for f in (left, right) for v in (f.x, f.y, f.yaw)):
        raise FootstepError(None, "non-finite current foot pose")


def check_footsteps(left: Footstep, right: Footstep, steps: Sequence[Footstep],
                    limits: FootstepLimits) -> None:
    """Raise :class:`FootstepError` at the first step out of reach of its stance foot.

    ``left``/``right``: where the feet are now. Each step moves the foot of its side; its
    stance foot is where the other foot last landed.
    """
    _check_feet(left, right)
    feet = {Side.LEFT: left, Side.RIGHT: right}
    for i, step in enumerate(steps):
        if not isinstance(step, Footstep) or not isinstance(step.side, Side):
            raise FootstepError(i, f"not a Footstep: {step!r}")
        why = _check_one(feet[step.side.other], step, limits)
        if why:
            raise FootstepError(i, why)
        feet[step.side] = step


def clamp_velocity(vx: float, vy: float, wz: float, limits: FootstepLimits,
                   step_period_s: float) -> tuple[float, float, float, str]:
    """Clamp a walking velocity (m/s, m/s, rad/s) to what the footstep limits allow.

    Bounds per step period T: ``vx`` in ``[-max_backward, max_forward] / T``, ``|vy| <=
    (width_max - nominal_width) / (2 T)`` (the leading foot steps out twice as far),
    ``|wz| <= max_yaw / T``. Returns the clamped values and a message naming what was
    clamped ('' if nothing). Non-finite input raises :class:`FootstepError`.
    """
    if not (math.isfinite(step_period_s) and step_period_s > 0.0):
        raise FootstepError(None, f"step period must be finite and > 0, got {step_period_s}")
    for name, v in (("vx", vx), ("vy", vy), ("wz", wz)):
        if not isinstance(v, int | float) or not math.isfinite(v):
            raise FootstepError(None, f"velocity {name} is not finite: {v!r}")
    t = step_period_s
    lat = (limits.width_max - limits.nominal_width) / (2.0 * t)
    bounds = {"vx": (-limits.max_backward / t, limits.max_forward / t),
              "vy": (-lat, lat), "wz": (-limits.max_yaw / t, limits.max_yaw / t)}
    units = {"vx": "m/s", "vy": "m/s", "wz": "rad/s"}
    out = {}
    notes = []
    for name, v in (("vx", float(vx)), ("vy", float(vy)), ("wz", float(wz))):
        lo, hi = bounds[name]
        c = min(max(v, lo), hi)
        if c != v:
            notes.append(f"{name} {v:.3g} {units[name]} clamped to {c:.3g}")
        out[name] = c
    return out["vx"], out["vy"], out["wz"], "; ".join(notes)


def _velocity_steps(left: Footstep, right: Footstep, vx: float, vy: float, wz: float,
                    t: float, n_steps: int, first: Side, limits: FootstepLimits
                    ) -> list[Footstep]:
    feet = {Side.LEFT: left, Side.RIGHT: right}
    half = 0.5 * limits.nominal_width
    steps = []
    side = first
    for _ in range(n_steps):
        stance = feet[side.other]
        # Body pose implied by the stance foot, moved by one step of the command.
        body = compose(stance, 0.0, _side_sign(side) * half, 0.0, side)
        lateral = 2.0 * vy * t if _side_sign(side) * vy > 0.0 else 0.0
        dyaw = wz * t
        mid = body.yaw + 0.5 * dyaw
        c, s = math.cos(mid), math.sin(mid)
        dx_w, dy_w = c * vx * t - s * lateral, s * vx * t + c * lateral
        moved = (body.x + dx_w, body.y + dy_w, body.yaw + dyaw)
        step = compose(moved, 0.0, _side_sign(side) * half, 0.0, side)
        steps.append(step)
        feet[side] = step
        side = side.other
    return steps


def plan_velocity(left: Footstep, right: Footstep, vx: float, vy: float, wz: float,
                  step_period_s: float, n_steps: int, limits: FootstepLimits,
                  first_side: Side | None = None) -> list[Footstep]:
    """``n_steps`` footsteps walking at (vx, vy, wz) in the body frame, each step period.

    The velocity is clamped first (:func:`clamp_velocity`); a combination that still
    leaves the reachable region (turning while side-stepping) is scaled down until every
    step is within limits. ``first_side``: the foot that steps first; by default the one on
    the side of a sideways or turning motion, else the left. Zero velocity brings the feet
    side by side at nominal width, then steps in place.
    """
    _check_feet(left, right)
    if not isinstance(n_steps, int) or n_steps < 0:
        raise FootstepError(None, f"n_steps must be an int >= 0, got {n_steps!r}")
    vx, vy, wz, _ = clamp_velocity(vx, vy, wz, limits, step_period_s)
    if first_side is None:
        key = vy if abs(vy) > 1e-9 else wz
        first_side = Side.RIGHT if key < -1e-12 else Side.LEFT
    for k in range(40):
        scale = 0.9 ** k
        steps = _velocity_steps(left, right, scale * vx, scale * vy, scale * wz,
                                step_period_s, n_steps, first_side, limits)
        try:
            check_footsteps(left, right, steps, limits)
        except FootstepError:
            continue
        return steps
    # Even zero velocity fails: the current stance is itself out of reach (feet crossed).
    check_footsteps(left, right, steps, limits)
    return steps


def clamp_step(stance: Footstep, target: Footstep, limits: FootstepLimits) -> Footstep:
    """The reachable step from ``stance`` nearest ``target`` (component-wise clamp).

    Forward offset, width and yaw are clamped in the stance foot's frame; a step whose soles
    would still overlap is widened, then straightened.
    """
    dx, dy, dyaw = relative_pose(stance, target)
    sign = _side_sign(target.side)
    dx = min(max(dx, -limits.max_backward), limits.max_forward)
    lateral = min(max(sign * dy, limits.min_width), limits.width_max)
    dyaw = min(max(dyaw, -limits.max_yaw), limits.max_yaw)
    step = compose(stance, dx, sign * lateral, dyaw, target.side)
    # A toe-in step near minimum width can clip the stance sole: widen, then straighten.
    for _ in range(40):
        if not _check_one(stance, step, limits):
            return step
        if lateral < limits.width_max - 1e-9:
            lateral = min(lateral + 0.01, limits.width_max)
        else:
            dyaw *= 0.7
        step = compose(stance, dx, sign * lateral, dyaw, target.side)
    return step


def _step_error(a: Footstep, b: Footstep) -> float:
    return math.hypot(a.x - b.x, a.y - b.y) + 0.3 * abs(wrap_angle(a.yaw - b.yaw))


def _walk_to(feet: dict[Side, Footstep], target: tuple[float, float, float],
             limits: FootstepLimits, steps: list[Footstep], lead: Side | None = None,
             settle_tol: float = 0.0) -> None:
    """Greedy clamped steps until both feet are at ``target (+-) nominal_width / 2``.

    Each step aims at the body pose at the target position, turned from the stance foot's
    heading toward the target heading by at most ``max_yaw``: a turn then pivots about the
    body's centre instead of dragging the feet around. A foot within ``settle_tol`` of its
    place stays where it is.
    """
    half = 0.5 * limits.nominal_width
    tx, ty, tyaw = target
    goal = {s: compose(target, 0.0, _side_sign(s) * half, 0.0, s) for s in Side}
    for s in Side:
        if _step_error(feet[s], goal[s]) < settle_tol:
            goal[s] = feet[s]

    def remaining(f: dict[Side, Footstep]) -> float:
        return sum(_step_error(f[s], goal[s]) for s in Side)

    def next_step(f: dict[Side, Footstep], side: Side) -> Footstep:
        stance = f[side.other]
        turn = min(max(wrap_angle(tyaw - stance.yaw), -limits.max_yaw), limits.max_yaw)
        aim = compose((tx, ty, stance.yaw + turn), 0.0, _side_sign(side) * half, 0.0, side)
        step = clamp_step(stance, aim, limits)
        if _step_error(step, goal[side]) < ARRIVED_TOL and not _check_one(stance, goal[side],
                                                                           limits):
            step = goal[side]
        return step

    if remaining(feet) < ARRIVED_TOL:
        return
    if lead is not None:
        side = lead
        if _step_error(feet[side], goal[side]) < ARRIVED_TOL:
            steps.append(feet[side])          # the lead foot is there: it steps in place
            side = side.other
    else:
        # Lead with the foot whose first step leaves the least to do (ties: the left).
        trial = {}
        for s in (Side.LEFT, Side.RIGHT):
            f = dict(feet)
            f[s] = next_step(f, s)
            trial[s] = remaining(f)
        side = Side.LEFT if trial[Side.LEFT] <= trial[Side.RIGHT] + 1e-9 else Side.RIGHT
    idle = 0
    while remaining(feet) >= ARRIVED_TOL:
        if len(steps) >= MAX_PLAN_STEPS:
            raise FootstepError(len(steps), f"goal not reached within {MAX_PLAN_STEPS} steps")
        if _step_error(feet[side], goal[side]) < ARRIVED_TOL:
            idle += 1
            if idle >= 2:
                raise FootstepError(len(steps), "no progress toward the goal")
            side = side.other
            continue
        idle = 0
        step = next_step(feet, side)
        steps.append(step)
        feet[side] = step
        side = side.other


def plan_to_goal(left: Footstep, right: Footstep, goal_x: float, goal_y: float,
                 goal_yaw: float, limits: FootstepLimits,
                 first_side: Side | None = None) -> list[Footstep]:
    """Footsteps to stand at the goal pose (x, y, yaw) with the feet side by side.

    Turn in place toward the goal (when the heading is off by more than ``max_yaw``: smaller
    turns are taken while walking), walk straight to it, turn to the goal heading; a goal
    closer than ``TURN_TOWARD_MIN_M`` is stepped to directly (sideways/backwards). The feet
    alternate from one phase to the next; a foot within ``SETTLED_TOL`` of its place at the
    goal stays. Every step is within ``limits`` (checked). ``[]`` when the feet are already
    there. ``first_side`` forces the foot of the first step (re-planning while the other
    foot swings); by default the foot whose first step leaves the least to do.
    """
    _check_feet(left, right)
    if not all(math.isfinite(v) for v in (goal_x, goal_y, goal_yaw)):
        raise FootstepError(None, f"non-finite goal ({goal_x}, {goal_y}, {goal_yaw})")
    feet = {Side.LEFT: left, Side.RIGHT: right}
    mx, my, myaw = mid_pose(left, right)
    steps: list[Footstep] = []
    dist = math.hypot(goal_x - mx, goal_y - my)
    targets = [(goal_x, goal_y, wrap_angle(goal_yaw))]
    if dist > TURN_TOWARD_MIN_M:
        heading = math.atan2(goal_y - my, goal_x - mx)
        targets = [(goal_x, goal_y, heading)] + targets
        if abs(wrap_angle(heading - myaw)) > limits.max_yaw:
            # A turn the walking steps cannot take on the way: in place first. (Below it the
            # steps turn as they go, so that re-planning mid-stride, e.g. after a foot landed
            # a little off, does not pull the feet back together.)
            targets.insert(0, (mx, my, heading))
    for k, target in enumerate(targets):
        lead = steps[-1].side.other if steps else first_side
        settle = SETTLED_TOL if k == len(targets) - 1 else 0.0
        _walk_to(feet, target, limits, steps, lead=lead, settle_tol=settle)
    check_footsteps(left, right, steps, limits)
    return steps
