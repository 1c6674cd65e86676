"""Install dg_autonomy as an ament_python package."""

from setuptools import find_packages, setup

PACKAGE = "dg_autonomy"

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
    description="DG Stack autonomy for boats and ground vehicles.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "waypoint_follower = dg_autonomy.nodes.waypoint_follower_node:main",
        "usv_localization = dg_autonomy.nodes.usv_localization_node:main",
        "usv_navigator = dg_autonomy.nodes.usv_navigator_node:main",
        "target_tracker = dg_autonomy.nodes.target_tracker_node:main",
        "mission_executive = dg_autonomy.nodes.mission_executive_node:main",
    ]},
)
