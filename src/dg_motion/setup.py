"""Install dg_motion as an ament_python package."""

import os

from setuptools import find_packages, setup

PACKAGE = "dg_motion"


def tree(top: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing the folder ``top`` (robot descriptions) recursively."""
    return [(os.path.join("share", PACKAGE, d), [os.path.join(d, f) for f in files])
            for d, _, files in os.walk(top) if files]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *tree("config"),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest
    zip_safe=False,
    maintainer="DG Stack",
    maintainer_email="dev@dg-stack.org",
    description="DG Stack motion control: jerk-limited trajectories, input shaping, "
                "dynamics compensation, offline programming, ros2_control-style execution.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "arm_controller = dg_motion.nodes.arm_controller_node:main",
        "job_runner = dg_motion.nodes.job_runner_node:main",
        "humanoid_controller = dg_motion.nodes.humanoid_controller_node:main",
    ]},
)
