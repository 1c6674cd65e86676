"""Simulated industrial arm in MuJoCo (pure, no rclpy): model building, cell, hardware system.

* :mod:`.cell` reads the CNC load/unload cell file (``config/arm_cell.yaml``).
* :mod:`.model` builds the MJCF from a URDF (same kinematics and inertias) plus a flexible
  forearm, the gripper, the tool accelerometer and the cell's objects.
* :mod:`.mujoco_system` is :class:`~dg_sim.arm.mujoco_system.MujocoSystem`, a hardware system
  with ros2_control's read/write/lifecycle shape (duck-typed: dg_sim never imports dg_motion,
  the system it tests).
"""

from dg_sim.arm.cell import Cell, CellError, load_cell
from dg_sim.arm.model import ArmModelError, FlexSpec, build_mjcf
from dg_sim.arm.mujoco_system import ArmSimError, MujocoSystem, SimCommand, SimState

__all__ = ["ArmModelError", "ArmSimError", "Cell", "CellError", "FlexSpec", "MujocoSystem",
           "SimCommand", "SimState", "build_mjcf", "load_cell"]
