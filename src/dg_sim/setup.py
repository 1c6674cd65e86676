"""Install dg_sim as an ament_python package."""

from setuptools import find_packages, setup

PACKAGE = "dg_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest
    zip_safe=False,
    maintainer="DG Stack",
    maintainer_email="dev@dg-stack.org",
    description="DG Stack embedded simulator.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "clock = dg_sim.nodes.clock_node:main",
        "recorder = dg_sim.nodes.recorder_node:main",
        "ground_vehicle = dg_sim.nodes.ground_vehicle_node:main",
        "usv_sim = dg_sim.nodes.usv_sim_node:main",
        "inspection_cell = dg_sim.nodes.inspection_cell_node:main",
        "humanoid_sim = dg_sim.nodes.humanoid_sim_node:main",
    ]},
)
