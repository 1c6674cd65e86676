"""Balance feedback on a linear inverted pendulum: DCM feedback, stepping, strategies, bounds."""

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from dg_motion.errors import MotionInputError
from dg_motion.humanoid.balance import (
    AnkleStrategy,
    ComAdmittance,
    DcmFeedback,
    HipStrategy,
    Stabilizer,
    StabilizerConfig,
    StepAdjuster,
    clamp_to_polygon,
    dcm,
    distribute_zmp,
    foot_rectangle,
    omega,
)
from dg_motion.humanoid.types import Footstep, Side

Z_C, MASS, G = 0.8, 60.0, 9.81
FOOT_L, FOOT_W = 0.22, 0.12
W = omega(Z_C)


@dataclass(frozen=True)
class Limits:
    """The footstep limits' attributes the adjuster reads (duck typing)."""

    max_forward: float = 0.30
    max_backward: float = 0.15
    max_lateral: float = 0.15
    nominal_width: float = 0.19
    min_width: float = 0.15
    max_width: float = 0.40


@functools.lru_cache(maxsize=256)
def _polygon(feet: tuple[Footstep, ...]) -> np.ndarray:
    pts = np.vstack([foot_rectangle(f.x, f.y, f.yaw, FOOT_L, FOOT_W) for f in feet])
    return pts[ConvexHull(pts).vertices]


def polygon(feet: list[Footstep]) -> np.ndarray:
    return _polygon(tuple(feet))


class Lipm:
    """The plant: a linear inverted pendulum (1 ms Euler steps), ZMP input with a 10 ms lag,
    the ZMP physically kept inside the feet in contact, a horizontal push force."""

    def __init__(self, com_xy) -> None:
        self.c = np.array(com_xy, dtype=float)
        self.v = np.zeros(2)
        self.p = self.c.copy()

    def step(self, p_cmd, feet, force, duration=0.005) -> None:
        target, _ = clamp_to_polygon(p_cmd, polygon(feet))
        for _ in range(round(duration / 0.001)):
            self.p += (target - self.p) * 0.001 / 0.010
            acc = W ** 2 * (self.c - self.p) + np.asarray(force) / MASS
            self.v += acc * 0.001
            self.c += self.v * 0.001

    @property
    def dcm(self) -> np.ndarray:
        return dcm(self.c, self.v, W)


LEFT = Footstep(Side.LEFT, 0.0, 0.095, 0.0)
RIGHT = Footstep(Side.RIGHT, 0.0, -0.095, 0.0)


def stand_and_push(push_n: float, feedback: DcmFeedback | None, t_end: float = 3.0):
    """Standing on both feet, pushed forward for 0.1 s at t = 0.2 s; reference: stand still."""
    plant = Lipm([0.0, 0.0])
    feet = [LEFT, RIGHT]
    ref = np.zeros(2)
    saturated_any, zmps = False, []
    for k in range(round(t_end / 0.005)):
        t = k * 0.005
        force = [push_n, 0.0] if 0.2 <= t < 0.3 else [0.0, 0.0]
        if feedback is None:
            p_cmd = ref
        else:
            out = feedback.update(ref, plant.dcm, ref, polygon(feet))
            p_cmd = out.zmp_des
            saturated_any |= out.saturated
            zmps.append(out.zmp_des)
        plant.step(p_cmd, feet, force)
    return plant, saturated_any, np.array(zmps)


def test_dcm_feedback_recovers_a_push_the_open_loop_pattern_does_not() -> None:
    open_loop, _, _ = stand_and_push(120.0, None)
    assert abs(open_loop.c[0]) > 0.5                    # the pendulum ran away: fallen
    closed, saturated, zmps = stand_and_push(120.0, DcmFeedback(k_dcm=3.0, omega=W))
    assert np.linalg.norm(closed.dcm) < 0.005
    assert np.linalg.norm(closed.c) < 0.01 and np.linalg.norm(closed.v) < 0.01
    assert not saturated
    assert zmps[:, 0].max() > 0.02                      # the ZMP moved forward to brake
    assert np.all(np.abs(zmps[:, 0]) <= FOOT_L / 2 - 0.01 + 1e-9)


def test_a_push_beyond_the_feet_saturates_the_zmp() -> None:
    plant, saturated, zmps = stand_and_push(300.0, DcmFeedback(k_dcm=3.0, omega=W))
    assert saturated
    assert zmps[:, 0].max() == pytest.approx(FOOT_L / 2 - 0.01)   # held at the margin
    assert abs(plant.c[0]) > 0.5                                # no stepping: falls


def single_support_push(push_n: float, adjust: bool, push_dir=(1.0, 0.0)):
    """Left stance, right foot swinging to land beside it at t = 0.5 s; push at 0.05 s.

    The reference is a walking one: the ZMP on the stance sole, the DCM leaving it toward the
    swing side so that it reaches the midpoint of the feet at touch-down
    (``xi_ref(t) = p + (xi_0 - p) e^(omega t)``); after touch-down, stand between the feet.
    """
    t_td = 0.5
    p_stance = np.array([LEFT.x, LEFT.y])
    mid0 = 0.5 * np.array([LEFT.x + RIGHT.x, LEFT.y + RIGHT.y])
    xi0 = p_stance + (mid0 - p_stance) * math.exp(-W * t_td)
    plant = Lipm(xi0)                                       # at rest: DCM = CoM
    feedback = DcmFeedback(k_dcm=3.0, omega=W)
    adjuster = StepAdjuster(Limits(), W)
    landing = RIGHT
    saturated_any = False
    for k in range(round(3.0 / 0.005)):
        t = k * 0.005
        force = push_n * np.asarray(push_dir) if 0.05 <= t < 0.15 else np.zeros(2)
        landed = t >= t_td
        feet = [LEFT, landing] if landed else [LEFT]
        if landed:
            p_ref = xi_ref = 0.5 * np.array([LEFT.x + landing.x, LEFT.y + landing.y])
        else:
            p_ref = p_stance
            xi_ref = p_stance + (xi0 - p_stance) * math.exp(W * t)
        out = feedback.update(p_ref, plant.dcm, xi_ref, polygon(feet))
        saturated_any |= out.saturated
        if adjust and not landed:
            adj = adjuster.update(plant.dcm, xi_ref, out.zmp_des, p_ref, t_td - t, RIGHT, LEFT,
                                  out.saturated)
            landing = adj.landing
        plant.step(out.zmp_des, feet, force)
    return plant, landing, saturated_any


def test_step_adjustment_recovers_a_push_the_stance_foot_cannot() -> None:
    plant, landing, saturated = single_support_push(300.0, adjust=False)
    assert saturated
    assert abs(plant.c[0]) > 0.5                            # landing as planned: falls
    plant, landing, saturated = single_support_push(300.0, adjust=True)
    assert landing.x > 0.15                                 # stepped forward, toward the push
    mid = np.array([(LEFT.x + landing.x) / 2, (LEFT.y + landing.y) / 2])
    assert np.linalg.norm(plant.dcm - mid) < 0.01
    assert np.linalg.norm(plant.v) < 0.02
    assert landing.x <= Limits().max_forward + 1e-12
    # Pushed outward (-y): the right foot lands wider and the robot recovers.
    plant, landing, _ = single_support_push(200.0, adjust=True, push_dir=(0.0, -1.0))
    assert landing.y < RIGHT.y - 0.1 and abs(landing.x - RIGHT.x) < 0.01
    assert np.linalg.norm(plant.v) < 0.02
    # Beyond the footstep limits: the landing is clamped and that is not enough.
    plant, landing, _ = single_support_push(400.0, adjust=True)
    assert landing.x == pytest.approx(Limits().max_forward)
    assert abs(plant.c[0]) > 0.5


def test_step_adjustment_direction_and_limits() -> None:
    lim = Limits()
    adj = StepAdjuster(lim, W, max_change_m=1.0)
    ref = np.array([LEFT.x, LEFT.y])
    # Not saturated: the planned landing stays.
    out = adj.update(ref + [0.02, 0.0], ref, ref, ref, 0.3, RIGHT, LEFT, saturated=False)
    assert out.landing == RIGHT and not out.adjusted
    # Pushed outward (-y, away from the stance foot): the right foot lands wider.
    out = adj.update(ref + [0.0, -0.06], ref, ref + [0, -0.05], ref, 0.3, RIGHT, LEFT, True)
    assert out.adjusted and out.landing.y < RIGHT.y - 0.05
    assert LEFT.y - out.landing.y <= lim.nominal_width + lim.max_lateral + 1e-12
    # Pushed inward (+y, across the stance foot): clamped at the minimum width, no crossing.
    adj.reset()
    out = adj.update(ref + [0.0, 0.2], ref, ref + [0, 0.05], ref, 0.3, RIGHT, LEFT, True)
    assert out.clamped and LEFT.y - out.landing.y == pytest.approx(lim.min_width)
    # Far forward: clamped at max_forward in the stance frame (turned 90 deg here).
    adj.reset()
    stance = Footstep(Side.LEFT, 1.0, 1.0, math.pi / 2)
    planned = Footstep(Side.RIGHT, 1.19, 1.0, math.pi / 2)   # right foot: stance's -y side
    s_ref = np.array([1.0, 1.0])
    out = adj.update(s_ref + [0, 0.3], s_ref, s_ref + [0, 0.05], s_ref, 0.3, planned, stance,
                     True)
    assert out.clamped and out.landing.y == pytest.approx(1.0 + lim.max_forward)
    # Too close to touch-down: the last answer is kept.
    late = adj.update(s_ref, s_ref, s_ref, s_ref, 0.01, planned, stance, True)
    assert late == out
    # Rate limit, deadband, and the first planned landing kept for the step (passing the
    # pattern's already adjusted landing does not add the shift again).
    slow = StepAdjuster(lim, W, max_change_m=0.01, deadband_m=0.03)
    landing = RIGHT
    xs = []
    for _ in range(30):
        out = slow.update(ref + [0.02, 0.0], ref, ref, ref, 0.3, landing, LEFT, True)
        landing = out.landing
        xs.append(landing.x)
    assert np.all(np.diff(xs) <= 0.01 + 1e-12)
    expected = 0.02 * math.exp(W * 0.3) - 0.03        # the error less the deadband
    assert xs[-1] == pytest.approx(expected)
    small = StepAdjuster(lim, W, deadband_m=0.03)
    out = small.update(ref + [0.005, 0.0], ref, ref, ref, 0.3, RIGHT, LEFT, True)
    assert not out.adjusted and out.landing == RIGHT
    with pytest.raises(MotionInputError, match="limits lack"):
        StepAdjuster(object(), W)


def test_dcm_feedback_gain_and_inputs() -> None:
    fb = DcmFeedback(k_dcm=2.0, omega=W, margin_m=0.0)
    big = polygon([LEFT, RIGHT]) * 10
    out = fb.update([0.01, 0.0], [0.03, -0.01], [0.02, 0.0], big)
    np.testing.assert_allclose(out.zmp_des, [0.01 + (1 + 2 / W) * 0.01, -(1 + 2 / W) * 0.01])
    assert not out.saturated
    with pytest.raises(MotionInputError):
        fb.update([np.nan, 0.0], [0, 0], [0, 0], big)
    with pytest.raises(MotionInputError):
        DcmFeedback(k_dcm=-1.0, omega=W)
    with pytest.raises(MotionInputError):
        omega(0.0)


def test_clamp_to_polygon() -> None:
    square = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    for poly in (square, square[::-1]):          # either orientation
        p, sat = clamp_to_polygon([0.5, 0.2], poly)
        assert not sat and np.allclose(p, [0.5, 0.2])
        p, sat = clamp_to_polygon([3.0, 0.5], poly)
        assert sat and np.allclose(p, [1.0, 0.5])
        p, sat = clamp_to_polygon([3.0, 4.0], poly)
        assert sat and np.allclose(p, [1.0, 1.0])
        p, sat = clamp_to_polygon([0.95, 0.0], poly, margin_m=0.1)
        assert sat and np.allclose(p, [0.9, 0.0])
    p, sat = clamp_to_polygon([5.0, 5.0], square, margin_m=2.0)   # margin eats it all
    assert sat and np.allclose(p, [0.0, 0.0])
    p, sat = clamp_to_polygon([0.5, 1.0], np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert sat and np.allclose(p, [0.5, 0.0])
    with pytest.raises(MotionInputError):
        clamp_to_polygon([0.0, 0.0], np.zeros((0, 2)))


def test_com_admittance_sign_bounds_and_leak() -> None:
    adm = ComAdmittance(k_zmp=1.0, leak_s=1.0, max_offset_m=0.03, max_speed_mps=0.2)
    # Measured ZMP ahead of the desired one: the CoM command moves forward.
    off = adm.update([0.0, 0.0], [0.02, -0.01], 0.005)
    assert off[0] > 0 and off[1] < 0
    for _ in range(2000):
        off = adm.update([0.0, 0.0], [0.5, 0.0], 0.005)
        assert np.linalg.norm(off) <= 0.03 + 1e-12
    assert adm.saturated and off[0] == pytest.approx(0.03)
    for _ in range(2000):                     # no ZMP (flight): leaks back
        off = adm.update([0.0, 0.0], None, 0.005)
    assert np.linalg.norm(off) < 1e-4 and not adm.saturated
    # The offset rate is bounded.
    adm.reset()
    off = adm.update([0.0, 0.0], [100.0, 0.0], 0.005)
    assert off[0] == pytest.approx(0.2 * 0.005)


def test_ankle_strategy_sign_bounds_and_leak() -> None:
    ankle = AnkleStrategy(k_ankle=0.01, leak_s=0.5, max_angle_rad=0.1)
    # Desired centre of pressure further forward (tau_y more negative) than measured:
    # pitch the sole toe-down (+y), roll unchanged.
    off = ankle.update(Side.LEFT, [0.0, -20.0], [0.0, 0.0], True, 0.005)
    assert off[1] > 0 and off[0] == 0.0
    for _ in range(1000):
        off = ankle.update(Side.LEFT, [-500.0, -500.0], [0.0, 0.0], True, 0.005)
    assert ankle.saturated[Side.LEFT] and np.allclose(off, [0.1, 0.1])
    assert np.allclose(ankle.offsets[Side.RIGHT], 0.0)
    for _ in range(1000):                     # swing foot: leaks back
        off = ankle.update(Side.LEFT, [-500.0, -500.0], [0.0, 0.0], False, 0.005)
    assert np.abs(off).max() < 1e-3


def test_hip_strategy_sign_heading_bounds_and_return() -> None:
    hip = HipStrategy(k_hip=2.0, leak_s=0.5, max_angle_rad=0.2, max_rate_rps=1.0)
    off = hip.update([0.05, 0.0], 0.0, 0.005)        # excess forward: pitch forward
    assert off[1] > 0 and off[0] == 0
    assert off[1] == pytest.approx(0.005)             # rate limited (1 rad/s)
    hip.reset()
    for _ in range(200):
        off = hip.update([0.0, 0.05], 0.0, 0.005)     # excess to the left: roll about -x
    assert off[0] == pytest.approx(-0.1) and abs(off[1]) < 1e-12
    hip.reset()
    for _ in range(200):                              # heading 90 deg: world +y is forward
        off = hip.update([0.0, 1.0], math.pi / 2, 0.005)
    assert off[1] == pytest.approx(0.2) and abs(off[0]) < 1e-9
    for _ in range(1000):
        off = hip.update([0.0, 0.0], 0.0, 0.005)
    assert np.abs(off).max() < 1e-3


def test_distribute_zmp() -> None:
    total = MASS * G
    out = distribute_zmp([0.03, 0.105], LEFT, RIGHT, "left", total, FOOT_L, FOOT_W)
    assert out[Side.LEFT].fz_n == pytest.approx(total) and out[Side.RIGHT].fz_n == 0.0
    assert out[Side.LEFT].tau_y == pytest.approx(-total * 0.03)
    assert out[Side.LEFT].tau_x == pytest.approx(total * 0.01)
    out = distribute_zmp([0.0, 0.0], LEFT, RIGHT, "double", total, FOOT_L, FOOT_W)
    assert out[Side.LEFT].fz_n == pytest.approx(total / 2)
    assert out[Side.RIGHT].tau_x == pytest.approx(0.0)
    out = distribute_zmp([0.02, 0.095], LEFT, RIGHT, "double", total, FOOT_L, FOOT_W)
    assert out[Side.LEFT].fz_n == pytest.approx(total) and out[Side.RIGHT].fz_n == 0.0
    assert out[Side.LEFT].tau_y == pytest.approx(-total * 0.02)
    # Centre of pressure clamped to the sole.
    out = distribute_zmp([0.5, 0.095], LEFT, RIGHT, "left", total, FOOT_L, FOOT_W)
    assert out[Side.LEFT].tau_y == pytest.approx(-total * FOOT_L / 2)
    with pytest.raises(MotionInputError):
        distribute_zmp([0.0, 0.0], LEFT, RIGHT, "none", total, FOOT_L, FOOT_W)


def test_stabilizer_outputs_are_bounded_and_stages_switch_off() -> None:
    rng = np.random.default_rng(5)
    cfg = StabilizerConfig()
    stab = Stabilizer(cfg, W, MASS)
    poly = polygon([LEFT, RIGHT])
    for _ in range(400):
        com = rng.normal(0, 0.2, 2)
        out = stab.update(com, rng.normal(0, 1.0, 2), [0, 0], [0, 0], [0, 0],
                          rng.normal(0, 0.3, 2), poly, str(rng.choice(["left", "double"])),
                          LEFT, RIGHT, rng.normal(0, 300, 6), rng.normal(0, 300, 6), 0.3,
                          0.005)
        assert np.linalg.norm(out.com_offset) <= cfg.max_com_offset_m + 1e-12
        assert np.abs(out.pelvis_offset).max() <= cfg.max_hip_rad + 1e-12
        for side in Side:
            assert np.abs(out.ankle_offsets[side]).max() <= cfg.max_ankle_rad + 1e-12
        p, moved = clamp_to_polygon(out.zmp_desired, poly)
        assert not moved or np.linalg.norm(p - out.zmp_desired) < 1e-9
    off = Stabilizer(StabilizerConfig(admittance=False, ankle=False, hip=False), W, MASS)
    out = off.update([0.3, 0.0], [1.0, 0.0], [0, 0], [0, 0], [0, 0], [0.1, 0.0], poly,
                     "double", LEFT, RIGHT, np.zeros(6), np.zeros(6), 0.0, 0.005)
    assert out.saturated and np.all(out.com_offset == 0) and np.all(out.pelvis_offset == 0)
    assert all(np.all(v == 0) for v in out.ankle_offsets.values())


def test_stabilizer_directions_for_a_forward_push() -> None:
    """DCM ahead of its reference: ZMP forward, toes pressed, torso pitched if saturated."""
    stab = Stabilizer(StabilizerConfig(), W, MASS)
    poly = polygon([LEFT, RIGHT])
    for _ in range(20):
        out = stab.update([0.05, 0.0], [0.5, 0.0], [0, 0], [0, 0], [0, 0], [0.0, 0.0], poly,
                          "double", LEFT, RIGHT, [0, 0, MASS * G / 2, 0, 0, 0],
                          [0, 0, MASS * G / 2, 0, 0, 0], 0.0, 0.005)
    assert out.zmp_desired[0] > 0.05 and out.saturated
    assert out.ankle_offsets[Side.LEFT][1] > 0 and out.ankle_offsets[Side.RIGHT][1] > 0
    assert out.pelvis_offset[1] > 0                      # pitched forward
    rot_pelvis = out.pelvis_rotation(0.0)
    assert rot_pelvis[2, 0] < 0                          # pelvis x axis tipped down
    # Measured ZMP behind the desired one: the CoM command moves back.
    assert out.com_offset[0] < 0
    q = Stabilizer.apply_ankles(np.zeros(12), out)
    assert q[4] == pytest.approx(out.ankle_offsets[Side.LEFT][1])      # l_ankle_pitch
    assert q[11] == pytest.approx(out.ankle_offsets[Side.RIGHT][0])    # r_ankle_roll
