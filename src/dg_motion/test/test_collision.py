"""Cell file loading and arm-versus-cell clearances (coal), against hand-computed distances."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from offline_jobs import CELL, PI

from dg_motion.errors import MotionInputError
from dg_motion.offline.collision import CollisionWorld, load_cell, pose_from_xyzrpy
from dg_motion.robots.model import ArmModel


@pytest.fixture(scope="module")
def arm() -> ArmModel:
    return ArmModel.from_robot("ur5")


def _cell(tmp: Path, static: list) -> Path:
    data = yaml.safe_load(CELL.read_text())
    data["cell"]["static"] = static
    p = tmp / "cell.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _q_at(arm: ArmModel, xyz: tuple[float, float, float]) -> np.ndarray:
    res = arm.ik(pose_from_xyzrpy([*xyz, PI, 0, 0]), np.array([PI, -1.3, 1.8, -2.07, -1.57, 0]))
    assert res.q is not None
    return res.q


def test_demo_cell_loads_with_locations() -> None:
    cell = load_cell(CELL)
    assert cell.locations["tray"].count == 4 and cell.locations["outfeed"].count == 4
    # slot (1, 1) of the tray: pose + [pitch_x, pitch_y, 0]
    p = cell.locations["tray"].slot_pose(3)[:3, 3]
    np.testing.assert_allclose(p, [0.40, -0.32, 0.041])   # [0.30, -0.42] + [0.10, 0.10]
    assert {b.name for b in cell.static} >= {"table", "machine_left_wall", "vise_base"}


def test_clearance_matches_hand_computed_gap(tmp_path: Path, arm: ArmModel) -> None:
    # one box whose top is at z = 0.20 under a TCP at z = 0.30 pointing down: the finger
    # tips end 0.01 m below the TCP, so the gap is 0.30 - 0.01 - 0.20 = 0.09 m; holding a
    # raw part (0.04 m high, centred on the TCP) it is 0.30 - 0.02 - 0.20 = 0.08 m.
    box = {"name": "block", "size": [0.2, 0.2, 0.1], "pose": [0.40, 0.0, 0.15, 0, 0, 0]}
    world = CollisionWorld(arm.urdf_path, load_cell(_cell(tmp_path, [box])),
                           pin_model=arm.pin_model)
    q = _q_at(arm, (0.40, 0.0, 0.30))
    c = world.clearance(q)
    assert c.distance_m == pytest.approx(0.09, abs=1e-6)
    assert c.robot_shape.startswith("gripper_finger") and c.cell_object == "block"
    world.set_held_part("raw")
    c = world.clearance(q)
    assert c.distance_m == pytest.approx(0.08, abs=1e-6) and c.robot_shape == "held raw part"
    # lowered 0.1 m the part penetrates the block by 0.02 m
    c = world.clearance(_q_at(arm, (0.40, 0.0, 0.20)))
    assert c.distance_m == pytest.approx(-0.02, abs=1e-4)


def test_allow_contact_exempts_the_mounting_table(arm: ArmModel) -> None:
    world = CollisionWorld(arm.urdf_path, load_cell(CELL), pin_model=arm.pin_model)
    c = world.clearance(_q_at(arm, (0.35, 0.0, 0.40)))
    assert c.distance_m > 0.05  # the base cylinder stands on the table but is exempt
    dists, best = world.clearances(np.stack([_q_at(arm, (0.35, 0.0, 0.40))] * 2))
    assert dists.shape == (2,) and best.distance_m == pytest.approx(c.distance_m)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c["cell"]["static"][0].update(size=[1.0, math.nan, 0.1]), "static[0].size"),
    (lambda c: c["cell"]["tray"].update(part="gold"), "cell.tray.part"),
    (lambda c: c["cell"].pop("gripper"), "cell.gripper"),
    (lambda c: c["cell"]["static"].append(dict(c["cell"]["static"][0])), "duplicate"),
])
def test_bad_cell_files_name_the_field(tmp_path: Path, edit, message: str) -> None:
    data = yaml.safe_load(CELL.read_text())
    edit(data)
    p = tmp_path / "bad_cell.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(MotionInputError, match=re.escape(message)):
        load_cell(p)
