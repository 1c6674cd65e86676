"""Line-atomic terminal output shared by the runner and the reader threads of its processes."""

from __future__ import annotations

import threading
from typing import IO


class Printer:
    """Writes whole lines to one stream from several threads, flushing each line."""

    def __init__(self, stream: IO[str]) -> None:
        """Print to ``stream`` (usually ``sys.stdout``)."""
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, source: str, text: str) -> None:
        """Print one output line of process ``source`` as ``[source] text``."""
        self._write(f"[{source}] {text}")

    def info(self, source: str, message: str) -> None:
        """Print ``[INFO] [source]: message``."""
        self._write(f"[INFO] [{source}]: {message}")

    def warning(self, source: str, message: str) -> None:
        """Print ``[WARNING] [source]: message``."""
        self._write(f"[WARNING] [{source}]: {message}")

    def error(self, source: str, message: str) -> None:
        """Print ``[ERROR] [source]: message``."""
        self._write(f"[ERROR] [{source}]: {message}")

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                self._stream.write(text + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # closed or broken stream (e.g. piped into `head`): keep running quietly
