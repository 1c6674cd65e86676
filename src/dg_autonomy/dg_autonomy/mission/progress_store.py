"""Mission progress persisted as JSON with atomic writes (pure).

A write goes to a temporary file in the same directory, is flushed and fsync'ed, then
renamed over the old file (``os.replace`` is atomic on POSIX and Windows), and the directory
is fsync'ed: a crash or power loss leaves either the old or the new progress, never a torn
file. A file that cannot be parsed is moved aside (``<name>.corrupt``) and reported, so a
restart begins afresh instead of crashing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class ProgressError(ValueError):
    """The progress file cannot be read or written."""


class ProgressStore:
    """Reads and atomically writes one JSON progress file."""

    def __init__(self, path: str | Path) -> None:
        """Use the file at ``path`` (its directory is created on the first save)."""
        self.path = Path(path)

    def load(self) -> tuple[dict[str, Any] | None, str]:
        """Return (data, note): data None when there is no usable file; note says why.

        A corrupt file is renamed to ``<name>.corrupt`` (kept for inspection).
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, "no progress file"
        except OSError as exc:
            raise ProgressError(f"progress file {self.path}: cannot read: {exc}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("top level is not an object")
        except ValueError as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            return None, f"progress file was corrupt ({exc}); moved to {aside}"
        return data, "loaded"

    def save(self, data: dict[str, Any]) -> None:
        """Write ``data`` atomically (see the module doc)."""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1, sort_keys=True, allow_nan=False)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except (OSError, ValueError) as exc:
            raise ProgressError(f"progress file {self.path}: cannot write: {exc}") from None

    def clear(self) -> None:
        """Delete the progress file if present."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
