from pathlib import Path

import pytest

from dg_common.isolation import isolate_ros

isolate_ros()

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO
