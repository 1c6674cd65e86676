"""Install dg_common as an ament_python package."""

from setuptools import find_packages, setup

PACKAGE = "dg_common"

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
    description="Node plumbing shared by all DG Stack packages.",
    license="Apache-2.0",
)
