"""``dg demo tour``: each pillar's scenario in a short variant, one after the other.

What ``dg demo`` runs without an argument (``make run``): the survey boat, the inspection
line, the CNC arm cell and the humanoid, each with the short inputs of ``config/tour/``
(installed to ``share/dg_bringup/config/tour/``; the system tests under tests/ run the same
files). :func:`dg_bringup.demo.run_tour` runs every leg with the scenario runner into its own
run folder inside the tour's, then writes ``tour.json`` and one summary table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TourLeg:
    """One scenario of a tour, its launch arguments and the metrics the tour shows."""

    scenario: str
    #: Launch arguments given as they are.
    args: Mapping[str, str] = field(default_factory=dict)
    #: Launch arguments naming a file in the tour's config folder (``config/tour/``).
    files: Mapping[str, str] = field(default_factory=dict)
    #: ``metrics.json`` keys shown in the tour's table and kept in ``tour.json``.
    metrics: tuple[str, ...] = ()

    def launch_args(self, config_dir: Path) -> dict[str, str]:
        """The leg's launch arguments, its files resolved in ``config_dir``."""
        return {**self.args, **{k: str(config_dir / name) for k, name in self.files.items()}}


@dataclass(frozen=True)
class Tour:
    """Scenarios run one after the other; succeeds when every leg succeeded."""

    description: str
    legs: tuple[TourLeg, ...]


TOUR = Tour(
    description="a short run of each pillar's scenario, one after the other; one summary "
                "table",
    legs=(
        # One 300 m lane, one sample, one AIS vessel met head-on on the lane, home.
        TourLeg("usv_survey",
                files={"mission_file": "usv_mission.yaml", "traffic_file": "usv_traffic.yaml"},
                metrics=("coverage_ratio", "give_way_manoeuvres", "returned_home")),
        # Teach, then 10 parts (boards and housings, some with defects) instead of 40.
        TourLeg("inspection", args={"n_parts": "10"},
                metrics=("accuracy", "recall_defective", "parts_without_result")),
        # One part loaded and unloaded, plain then shaped + compensated.
        TourLeg("arm", files={"job_file": "arm_job.yaml"},
                metrics=("parts_done", "residual_vibration_reduction_ratio")),
        # One goal 1 m ahead, one push from the side while walking there.
        TourLeg("humanoid",
                args={"push_times_s": "[3.0]", "push_forces_n": "[0.0, 30.0, 0.0]",
                      "timeout_s": "60.0"},
                files={"mission_file": "humanoid_mission.yaml"},
                metrics=("falls", "goal_error_m", "pushes_survived")),
    ),
)
