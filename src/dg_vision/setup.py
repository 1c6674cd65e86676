"""Install dg_vision as an ament_python package."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dg_vision"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.png")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},  # colcon test runs pytest
    zip_safe=False,
    maintainer="DG Stack",
    maintainer_email="dev@dg-stack.org",
    description="DG Stack machine-vision inspection: 2D metrology, anomaly detection, 3D.",
    license="Apache-2.0",
    entry_points={"console_scripts": [
        "inspection = dg_vision.nodes.inspection_node:main",
    ]},
)
