"""The COLREGs avoidance step: encounters updated, stand-on authority, manoeuvre search.

:class:`ColregsAvoidance` ties the encounter tracking (:mod:`.encounters`) to the manoeuvre
search (:mod:`.manoeuvre`) and decides when the boat follows its plan, avoids, or rejoins it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dg_autonomy.collision.colregs.config import ColregsConfig, ColregsInputError
from dg_autonomy.collision.colregs.encounters import (
    EncounterTracker,
    _finite,
    _Target,
    _validate_targets,
)
from dg_autonomy.collision.colregs.interface import (
    _MIN_COG_SPEED_MPS,
    AvoidanceResult,
    AvoidanceStatus,
    OwnShip,
    TrackedVessel,
)
from dg_autonomy.collision.colregs.manoeuvre import ManoeuvreSearch
from dg_common.geometry import wrap_angle


class ColregsAvoidance:
    """COLREGs-compliant collision avoidance over tracked targets (see the package docstring).

    Stateful: keeps one encounter per target id between calls; call :meth:`step` at the
    navigator rate (1-10 Hz) with a monotonic ``now_s``. Not thread-safe.
    """

    def __init__(self, config: ColregsConfig | None = None) -> None:
        """Create the avoidance with ``config`` (defaults: :class:`ColregsConfig`)."""
        self.config = config or ColregsConfig()
        self._tracker = EncounterTracker(self.config)
        self._manoeuvre = ManoeuvreSearch(self.config)
        self._last_cmd: tuple[float, float] | None = None
        self._rejoining = False

    def reset(self) -> None:
        """Forget all encounters and the last command (e.g. on a new mission)."""
        self._tracker.reset()
        self._last_cmd = None
        self._rejoining = False

    def encounter_situation(self, target_id: str) -> str | None:
        """Situation of the engaged encounter with ``target_id`` (None when none)."""
        enc = self._tracker.encounters.get(target_id)
        return enc.situation if enc else None

    def step(self, own: OwnShip, targets: Sequence[TrackedVessel], desired_course_rad: float,
             desired_speed_mps: float, now_s: float, static_obstacles: Any = None,
             geofence: Any = None) -> AvoidanceResult:
        """One decision: the course and speed to steer now.

        Args:
            own: own ship state.
            targets: tracked vessels (AIS, radar, fused); invalid or stale ones are skipped
                and listed in ``rejected_targets``.
            desired_course_rad: the plan's course (e.g. from line-of-sight guidance).
            desired_speed_mps: the plan's speed (>= 0).
            now_s: present time on the clock of the target stamps.
            static_obstacles: optional shapely geometry (islands, no-go zones).
            geofence: optional shapely Polygon the boat must stay inside.

        Returns:
            The command (finite always) and one :class:`EncounterInfo` per target in range.

        Raises:
            ColregsInputError: on a non-finite own state, plan or time, or a negative speed.

        """
        if not _finite(own.x_m, own.y_m, own.heading_rad, own.course_rad, own.speed_mps,
                       desired_course_rad, desired_speed_mps, now_s):
            raise ColregsInputError(
                f"non-finite own ship, plan or time: {own}, course {desired_course_rad}, "
                f"speed {desired_speed_mps}, now {now_s}")
        if desired_speed_mps < 0 or own.speed_mps < 0:
            raise ColregsInputError("speeds must be >= 0")
        desired_course = float(wrap_angle(desired_course_rad))
        own_course = own.course_rad if own.speed_mps >= _MIN_COG_SPEED_MPS else own.heading_rad
        p_own = np.array([own.x_m, own.y_m])
        v_own = own.speed_mps * np.array([math.cos(own_course), math.sin(own_course)])
        v_plan = desired_speed_mps * np.array([math.cos(desired_course),
                                               math.sin(desired_course)])
        tracked, rejected = _validate_targets(self.config, targets, now_s, p_own)

        # Update encounters: release the finished ones, engage new risks; then the stand-on
        # vessel's authority to act (Rules 17(a)(ii), 17(b), 2(b)).
        released = self._tracker.update(tracked, own, p_own, own_course, v_own, v_plan,
                                        desired_course, desired_speed_mps, now_s)

        def escape_margin_m(waiting: list[_Target], speed: float) -> float:
            return self._manoeuvre.best_escape_margin_m(own, p_own, own_course, waiting, speed)

        self._tracker.authorise_stand_on(tracked, p_own, escape_margin_m)

        encounters = self._tracker.encounters
        if released and not encounters:
            self._rejoining = True
        if encounters or self._rejoining:
            self._manoeuvre.set_geometry(static_obstacles, geofence)
        if self._rejoining and not encounters and not self._manoeuvre.plan_blocked(
                p_own, desired_course, desired_speed_mps):
            self._rejoining = False
        if not encounters and not self._rejoining:
            self._last_cmd = None
            course, speed, status = desired_course, desired_speed_mps, AvoidanceStatus.CLEAR
        else:
            course, speed, unsafe = self._manoeuvre.search(
                own, p_own, own_course, tracked, encounters, self._last_cmd, desired_course,
                desired_speed_mps)
            self._last_cmd = (course, speed)
            status = (AvoidanceStatus.UNSAFE if unsafe else
                      AvoidanceStatus.STAND_ON if self._tracker.holding()
                      else AvoidanceStatus.AVOIDING)
        infos = self._tracker.report(tracked, p_own, v_own, course, speed, released)
        return AvoidanceResult(course_rad=float(wrap_angle(course)), speed_mps=float(speed),
                               active=bool(encounters) or self._rejoining,
                               encounters=infos,
                               status=status, rejected_targets=rejected)
