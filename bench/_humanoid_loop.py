"""The in-process closed loop of the humanoid benchmarks (no ROS): controller + MuJoCo biped.

:class:`Loop` builds ``dg_motion``'s :class:`WalkingController` and ``dg_sim``'s
:class:`BipedSim`, places the robot standing in the controller's posture and runs the loop
of ``src/dg_sim/test/test_humanoid_walking.py``: every 5 ms period the controller reads the
sensors, its joint targets go to the servos, the physics runs 5 ms. It records the ground
truth (time, CoM, CoM velocity, pelvis position) and the controller's mode and support
phase; a fall is the simulator's own fall flag (pelvis below half its standing height or
tilted beyond 45 deg), never the controller's detector::

    loop = Loop(ControllerConfig(), BipedSimConfig(seed=3))
    loop.run(1.0)                                            # stand
    loop.ctrl.set_goal(10.0, 0.0, 0.0)
    loop.run(40.0, stop=lambda lp, cmd: lp.ctrl.mode is Mode.STANDING)
    print(loop.fallen_at, loop.trace()["com"][-1])

``run`` takes ``on_step(loop, cmd)`` callbacks (pushes, commands at chosen phases) and a
``stop(loop, cmd)`` predicate; it ends early at a fall. :func:`parallel` runs independent
trials on the machine's cores (one robot per process; the loop costs ~1 s of CPU per
simulated second here).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from dg_motion.humanoid.controller import ControllerConfig, WalkingController
from dg_motion.humanoid.types import Sensors, WalkingCommand
from dg_sim.humanoid.sim import BipedSim, BipedSimConfig

DT_S = 0.005
#: Sensor noise of the benchmarks' simulated robot (white, per 5 ms sample): a MEMS IMU and
#: strain-gauge sole sensors (the sim's defaults are noise-free).
NOISE = {"gyro_noise_rad_s": 0.01, "acc_noise_mps2": 0.1, "wrench_noise_n": 2.0}

Hook = Callable[["Loop", WalkingCommand], bool | None]


class Loop:
    """One robot (controller + simulator) and the traces of its run."""

    def __init__(self, ctrl_config: ControllerConfig, sim_config: BipedSimConfig) -> None:
        """Build both and stand the robot in the controller's standing posture."""
        self.ctrl = WalkingController(ctrl_config)
        self.sim = BipedSim(sim_config)
        self.sim.reset(self.ctrl.standing_q)
        self.sim.set_targets(self.ctrl.standing_q)
        self.fallen_at: float | None = None     #: sim time of the fall [s]
        self.cmd: WalkingCommand | None = None
        self.wall_s = 0.0                        #: wall time spent in run() [s]
        self._rows: list[tuple] = []

    @property
    def t(self) -> float:
        """Simulation time [s]."""
        return self.sim.t

    def run(self, seconds: float, on_step: Hook | None = None,
            stop: Hook | None = None) -> bool:
        """Run up to ``seconds`` [s]; False when the robot fell (the run ends there)."""
        w0 = time.perf_counter()
        try:
            for _ in range(round(seconds / DT_S)):
                if self.fallen_at is not None:
                    return False
                self.cmd = cmd = self.ctrl.update(Sensors(**vars(self.sim.sensors())))
                self.sim.set_targets(cmd.q_target)
                self.sim.step(DT_S)
                truth = self.sim.truth()
                self._rows.append((truth.t, *truth.com, *truth.com_vel, *truth.pelvis_pos,
                                   cmd.mode.value, cmd.support))
                if truth.fallen:
                    self.fallen_at = truth.t
                    return False
                if on_step is not None:
                    on_step(self, cmd)
                if stop is not None and stop(self, cmd):
                    break
            return self.fallen_at is None
        finally:
            self.wall_s += time.perf_counter() - w0

    def trace(self) -> dict[str, np.ndarray]:
        """Recorded arrays: t, com (n, 3), com_vel (n, 3), pelvis (n, 3), mode, support."""
        if not self._rows:
            empty = np.zeros((0, 3))
            return {"t": np.zeros(0), "com": empty, "com_vel": empty, "pelvis": empty,
                    "mode": np.array([], dtype=str), "support": np.array([], dtype=str)}
        num = np.array([r[:10] for r in self._rows], dtype=float)
        return {"t": num[:, 0], "com": num[:, 1:4], "com_vel": num[:, 4:7],
                "pelvis": num[:, 7:10], "mode": np.array([r[10] for r in self._rows]),
                "support": np.array([r[11] for r in self._rows])}


def parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 0) -> list[Any]:
    """``[fn(x) for x in items]`` over ``workers`` processes (0: the cores, at most 4).

    ``fn`` must be a module-level function; results come back in the order of ``items``.
    """
    items = list(items)
    n = workers or min(4, os.cpu_count() or 1)
    if n <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with multiprocessing.get_context("fork").Pool(min(n, len(items))) as pool:
        return pool.map(fn, items, chunksize=1)
