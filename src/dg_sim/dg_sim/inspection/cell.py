"""The inspection cell: part ``k`` on the conveyor = board image + part scan + ground truth.

Each part is an assembly that passes one station: the camera looks at its board (PCB, see
:mod:`~dg_sim.inspection.parts`), the 3D camera scans its machined housing (see
:mod:`~dg_sim.inspection.machined` and :mod:`~dg_sim.inspection.depth`). Whether part ``k``
is defective, which defects it has and every other random choice come from
``numpy.random.default_rng([seed, k])``: a part is the same whatever order parts are asked
for, and a run is reproducible. Good boards for teaching an anomaly model come from a
separate stream (:meth:`InspectionCell.good_boards`), never equal to the run's parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import open3d as o3d

from dg_sim.inspection.depth import DepthSensor, DepthSensorModel, PartPose
from dg_sim.inspection.machined import (
    PART_DEFECTS,
    build_mesh,
    default_part,
    random_surface_defect,
)
from dg_sim.inspection.parts import (
    BOARD_DEFECTS,
    BoardSample,
    CameraModel,
    RenderSettings,
    default_board,
    render_board,
)

#: Every defect type the cell can produce.
DEFECT_TYPES = BOARD_DEFECTS + PART_DEFECTS
#: Prefix of the serial numbers printed in the boards' DataMatrix codes (the 14x14 code holds
#: 10 characters: prefix + 6 digits).
SERIAL_PREFIX = "DG-"
#: Stream offset of the teach boards (far from any part index of a run).
_TEACH_STREAM = 1 << 40


@dataclass(frozen=True)
class CellConfig:
    """Everything that decides what the cell produces (flat, as in the node's parameters)."""

    seed: int = 0
    defect_probability: float = 0.4
    defect_types: tuple[str, ...] = DEFECT_TYPES
    second_defect_probability: float = 0.15
    # camera
    image_width_px: int = 640
    image_height_px: int = 480
    mm_per_px: float = 0.1
    focal_length_px: float = 3000.0
    supersample: int = 3
    board_shift_px: float = 8.0
    board_rotation_deg: float = 3.0
    blur_px: float = 0.6
    noise_grey: float = 2.0
    process_sigma_mm: float = 0.015
    # 3D camera and the housing's placement
    depth_pitch_mm: float = 0.2
    depth_noise_mm: float = 0.02
    depth_field_x_mm: float = 72.0
    depth_field_y_mm: float = 52.0
    depth_standoff_mm: float = 150.0
    part_shift_mm: float = 1.5
    part_yaw_deg: float = 4.0

    def __post_init__(self) -> None:
        """Reject values no cell could run with (ValueError naming the field)."""
        if not 0.0 <= self.defect_probability <= 1.0:
            raise ValueError(f"defect_probability must be in [0, 1], got "
                             f"{self.defect_probability}")
        if not 0.0 <= self.second_defect_probability <= 1.0:
            raise ValueError(f"second_defect_probability must be in [0, 1], got "
                             f"{self.second_defect_probability}")
        bad = [t for t in self.defect_types if t not in DEFECT_TYPES]
        if bad:
            raise ValueError(f"defect_types: unknown {bad}; known: {list(DEFECT_TYPES)}")
        if self.defect_probability > 0 and not self.defect_types:
            raise ValueError("defect_types is empty but defect_probability > 0")
        for f in ("part_shift_mm", "part_yaw_deg"):
            v = getattr(self, f)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{f} must be >= 0, got {v}")
        # Constructing the models validates their fields.
        self.camera()
        self.render_settings()
        self.depth_model()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CellConfig:
        """Build from a flat mapping (ROS parameters / YAML); unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in params.items() if k in names}
        if "defect_types" in kw:
            kw["defect_types"] = tuple(kw["defect_types"])
        return cls(**kw)

    def camera(self) -> CameraModel:
        """The board camera."""
        return CameraModel(self.image_width_px, self.image_height_px, self.mm_per_px,
                           self.focal_length_px)

    def render_settings(self) -> RenderSettings:
        """Rendering randomness of the board camera."""
        return RenderSettings(self.supersample, self.board_shift_px, self.board_rotation_deg,
                              self.blur_px, self.noise_grey, process_sigma_mm=
                              self.process_sigma_mm)

    def depth_model(self) -> DepthSensorModel:
        """The 3D camera."""
        return DepthSensorModel(self.depth_pitch_mm, self.depth_field_x_mm,
                                self.depth_field_y_mm, self.depth_noise_mm,
                                self.depth_standoff_mm)


@dataclass
class CellPart:
    """One part at the station: what both sensors see and the truth about it."""

    index: int
    part_id: str
    serial: str
    board: BoardSample
    points_mm: np.ndarray                      # (N, 3) conveyor frame [mm]
    part_pose: PartPose
    part_defects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The camera image (BGR uint8)."""
        return self.board.image

    @property
    def defects(self) -> list[dict[str, Any]]:
        """Every defect (board and housing) as JSON-ready dicts."""
        return [d.to_json() for d in self.board.defects] + list(self.part_defects)

    @property
    def defective(self) -> bool:
        """True when the part has at least one defect."""
        return bool(self.board.defects or self.part_defects)

    def ground_truth(self, stamp_ns: int | None = None) -> dict[str, Any]:
        """The ground-truth record (JSON-ready) of this part."""
        b = self.board
        gt: dict[str, Any] = {
            "part_id": self.part_id, "serial": self.serial, "index": self.index,
            "defective": self.defective, "defects": self.defects,
            "board": {"pose_px_deg": [round(b.pose.x_px, 3), round(b.pose.y_px, 3),
                                      round(b.pose.angle_deg, 4)], **b.truth},
            "housing": {"pose_mm_deg": [round(self.part_pose.x_mm, 4),
                                        round(self.part_pose.y_mm, 4),
                                        round(self.part_pose.yaw_deg, 4)],
                        "points": int(len(self.points_mm))},
        }
        if stamp_ns is not None:
            gt = {"stamp_ns": int(stamp_ns), **gt}
        return gt


class InspectionCell:
    """Produces the parts of a run (deterministic per ``(seed, index)``)."""

    def __init__(self, config: CellConfig = CellConfig()) -> None:
        """Build the board design, the housing's CAD mesh and the sensors."""
        self.config = config
        self.board_design = default_board()
        self.part_design = default_part()
        self.cad_mesh: o3d.geometry.TriangleMesh = build_mesh(self.part_design)
        self.camera = config.camera()
        self.settings = config.render_settings()
        self.depth = DepthSensor(self.cad_mesh, config.depth_model())

    def serial(self, index: int) -> str:
        """Serial number printed in the board's DataMatrix code."""
        return f"{SERIAL_PREFIX}{index % 1_000_000:06d}"

    def choose_defects(self, rng: np.random.Generator) -> list[str]:
        """Defect types of one part (empty for a good part)."""
        c = self.config
        if not c.defect_types or rng.random() >= c.defect_probability:
            return []
        n = 2 if (len(c.defect_types) > 1 and rng.random() < c.second_defect_probability) \
            else 1
        picks = rng.choice(len(c.defect_types), size=n, replace=False)
        return [c.defect_types[int(i)] for i in picks]

    def part(self, index: int, defects: Sequence[str] | None = None) -> CellPart:
        """Part ``index`` of the run; ``defects`` overrides the random choice of types."""
        if index < 0:
            raise ValueError(f"part index must be >= 0, got {index}")
        c = self.config
        rng = np.random.default_rng([c.seed, index])
        kinds = self.choose_defects(rng) if defects is None else list(defects)
        bad = [k for k in kinds if k not in DEFECT_TYPES]
        if bad:
            raise ValueError(f"unknown defect types {bad}; known: {list(DEFECT_TYPES)}")
        board_rng, part_rng = rng.spawn(2)
        serial = self.serial(index)
        board = render_board(self.board_design, self.camera, board_rng, serial=serial,
                             defects=[{"type": k} for k in kinds if k in BOARD_DEFECTS],
                             settings=self.settings)
        pose = PartPose(float(part_rng.uniform(-1, 1) * c.part_shift_mm),
                        float(part_rng.uniform(-1, 1) * c.part_shift_mm),
                        float(part_rng.uniform(-1, 1) * c.part_yaw_deg))
        surf = [random_surface_defect(self.part_design, k, part_rng)
                for k in kinds if k in PART_DEFECTS]
        points = self.depth.scan(pose, part_rng, surf)
        part_defects = []
        for d in surf:
            js = d.to_json()
            centre = pose.matrix() @ np.array([d.x_mm, d.y_mm, d.z_mm, 1.0])
            js["center_mm"] = [round(float(v), 3) for v in centre[:3]]
            part_defects.append(js)
        return CellPart(index, f"P{index:05d}", serial, board, points, pose, part_defects)

    def good_boards(self, n: int) -> list[BoardSample]:
        """``n`` good boards (teach set, with their poses), from a stream no run part uses."""
        out = []
        for i in range(n):
            rng = np.random.default_rng([self.config.seed, _TEACH_STREAM + i])
            out.append(render_board(self.board_design, self.camera, rng,
                                    serial=self.serial(900_000 + i), settings=self.settings))
        return out

    def golden_board(self) -> BoardSample:
        """Render a good board at the nominal pose (image centre, not rotated).

        This is the reference image a recipe's geometry is drawn on.
        """
        rng = np.random.default_rng([self.config.seed, _TEACH_STREAM - 1])
        return render_board(self.board_design, self.camera, rng, serial=self.serial(0),
                            settings=replace(self.settings, shift_px=0.0, rotation_deg=0.0))
