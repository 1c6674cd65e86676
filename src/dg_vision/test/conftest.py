"""Test session setup for dg_vision: private DDS domain and localhost discovery.

Must run before any ``rclpy.init`` (DESIGN.md §2); pytest imports conftest first.
"""

import pytest

from dg_common.testing import ros_context  # noqa: F401 - the fixture; isolates ROS first


@pytest.fixture(scope="session")
def anomaly_model(tmp_path_factory):
    """A small PatchCore model fitted on good synthetic boards (one per session, ~6 s)."""
    from vision_test_parts import render_board

    from dg_vision.anomaly.patchcore import fit_patchcore

    # the board's ROI [60, 40, 280, 220] as the recipe's fixtured anomaly step sees it
    images = [render_board(dx=0.37 * (i % 3), dy=-0.29 * (i % 2), seed=100 + i)[40:260, 60:340]
              for i in range(8)]
    model = fit_patchcore(images, image_size=128, coreset_ratio=0.25, seed=0)
    path = tmp_path_factory.mktemp("anomaly") / "board.dgm"
    model.save(path)
    return path
