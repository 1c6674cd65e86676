"""Package lookups through the ament index (``AMENT_PREFIX_PATH`` of this process)."""

from __future__ import annotations

import os
from pathlib import Path

from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)


class PackageLookupError(LookupError):
    """A package or an executable in it that the ament index does not know."""


def package_prefix(package: str) -> Path:
    """Return the install prefix of ``package``."""
    try:
        return Path(get_package_prefix(package))
    except (PackageNotFoundError, ValueError):
        raise _not_found(package) from None


def package_share(package: str) -> Path:
    """Return ``<prefix>/share/<package>``."""
    try:
        return Path(get_package_share_directory(package))
    except (PackageNotFoundError, ValueError):
        raise _not_found(package) from None


def _not_found(package: str) -> PackageLookupError:
    search = os.environ.get("AMENT_PREFIX_PATH", "")
    return PackageLookupError(f"package '{package}' not found (AMENT_PREFIX_PATH='{search}')")
