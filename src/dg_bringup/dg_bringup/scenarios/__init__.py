"""Scenarios that ``dg demo`` runs: a launch file plus the analysis of its recording.

Each pillar adds its scenarios to :data:`SCENARIOS`; a :class:`~dg_bringup.scenarios.tour.Tour`
there runs several of them one after the other (``tour``, the default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dg_bringup.scenarios import arm_cell, humanoid, inspection, ugv_square, usv_survey
from dg_bringup.scenarios.tour import TOUR, Tour


@dataclass(frozen=True)
class Scenario:
    """A demo: ``launch_file`` (in dg_bringup's share/launch) and its ``analyze``."""

    description: str
    launch_file: str
    analyze: Callable[[Path], dict[str, Any]]
    #: Sim time [s] after which the demo monitor declares the scenario failed.
    timeout_s: float
    #: Real-time factor of the simulated clock unless ``--rtf`` says otherwise.
    rtf: float
    #: Work before the launch: ``prepare(run_dir, launch_args)`` returns launch arguments
    #: to add (e.g. the inspection line teaches its recipe into the run folder).
    prepare: Callable[[Path, dict[str, str]], dict[str, str]] | None = None


SCENARIOS: dict[str, Scenario | Tour] = {
    "tour": TOUR,
    "ugv_square": Scenario(
        description="ground vehicle follows a square of waypoints (pure pursuit)",
        launch_file="demo_ugv_square.launch.xml",
        analyze=ugv_square.analyze,
        timeout_s=300.0,
        # A separate clock node, so a starved simulator skips periods instead of slowing the
        # clock: with another process keeping one core busy, at 5x half the odometry periods
        # were skipped and the square took 110-120 s of sim time; at 2x 13 % and 81 s.
        rtf=2.0,
    ),
    "usv_survey": Scenario(
        description="survey boat: leave home, survey lanes, sample, give way, return home",
        launch_file="demo_usv_survey.launch.xml",
        analyze=usv_survey.analyze,
        timeout_s=1800.0,
        # 8 Python nodes + the recorder on 2 cores: at 20x timer periods are skipped and the
        # GNSS fail-safe trips; at 5x the short mission (config/tour/usv_mission.yaml) failed
        # 2 of 3 runs (IMU gaps over 1 s of sim time, a geofence breach); at 3x with another
        # process keeping one core busy it succeeded (coverage 0.97).
        rtf=3.0,
    ),
    "inspection": Scenario(
        description="inspection line: teach from good boards, then boards and machined "
                    "housings with defects pass a camera and a 3D sensor; verdicts vs truth",
        launch_file="demo_inspection.launch.xml",
        analyze=inspection.analyze,
        timeout_s=900.0,
        # The line waits for each part's verdict (handshake), so the rate adapts to the CPU.
        rtf=2.0,
        # Teach before the launch: golden image, CAD mesh, anomaly model into the run folder.
        prepare=inspection.prepare,
    ),
    "arm": Scenario(
        description="CNC load/unload cell: an arm loads 4 raw parts into a machine's vise and "
                    "unloads them, run plain and shaped + compensated; vibration, cycle time",
        launch_file="demo_arm.launch.xml",
        analyze=arm_cell.analyze,
        timeout_s=600.0,
        # The 1 kHz loop steps the MuJoCo arm in its own process (about 0.3 ms of CPU per
        # simulated ms with the controller) while the ROS nodes and the recorder share the
        # other core.
        rtf=1.0,
    ),
    "humanoid": Scenario(
        description="biped walks a path of goal poses with turns, is pushed twice, "
                    "recovers and stops at the last goal; ZMP, CoM/DCM, footsteps, falls",
        launch_file="demo_humanoid.launch.xml",
        analyze=humanoid.analyze,
        timeout_s=180.0,
        # Lockstep: the simulator waits for each 5 ms command, so the pace adapts to the
        # CPU; 1.0 is the most it is asked for.
        rtf=1.0,
    ),
}

#: What ``dg demo`` runs without an argument.
DEFAULT_SCENARIO = "tour"
