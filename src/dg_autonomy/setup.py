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
    zip_safe=False,
    maintainer="DG Stack",
    maintainer_email="dev@dg-stack.org",
    description="DG Stack autonomy for boats and ground vehicles.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "waypoint_follower = dg_autonomy.nodes.waypoint_follower_node:main",
    ]},
)
