"""Install dg_bringup as an ament_python package."""

import os

from setuptools import find_packages, setup

PACKAGE = "dg_bringup"


def tree(top: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing the folder ``top`` (launch/, config/) recursively."""
    return [(os.path.join("share", PACKAGE, d), [os.path.join(d, f) for f in files])
            for d, _, files in os.walk(top, followlinks=True) if files]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        ("bin", ["scripts/dg"]),  # `dg` on PATH after sourcing install/setup.bash
        *tree("launch"),
        *tree("config"),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest
    zip_safe=False,
    maintainer="DG Stack",
    maintainer_email="dev@dg-stack.org",
    description="DG Stack bring-up: the dg command, launch files, configs.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "demo_monitor = dg_bringup.nodes.demo_monitor_node:main",
        "humanoid_mission = dg_bringup.nodes.humanoid_mission_node:main",
    ]},
)
