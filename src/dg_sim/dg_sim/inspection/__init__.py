"""Inspection cell simulation (pure, seeded): boards, machined parts, defects, ground truth.

PCB-like boards are seen by a camera, machined parts by a 3D sensor.

* :mod:`~dg_sim.inspection.parts`: boards rendered from above on a conveyor (solder mask,
  copper pads, fiducials, drilled holes, components, a DataMatrix label) with defects.
* :mod:`~dg_sim.inspection.machined`: the machined part's CAD mesh (watertight, Open3D) and
  its surface defects (dents, bumps).
* :mod:`~dg_sim.inspection.depth`: a depth sensor by ray casting (Open3D RaycastingScene).
* :mod:`~dg_sim.inspection.cell`: one part on the conveyor = image + cloud + ground truth.

No rclpy here; the ``inspection_cell`` node publishes what these produce.
"""
