"""Base class of the streaming writers: atomic output, input validation across chunks.

A writer receives events chunk by chunk (``write``), checks them (fields, polarity, sensor size, time order
across chunks) and writes to a temporary file next to the destination. ``close()`` renames it into place;
an error or ``abort()`` deletes it, so no half-written file is ever left at the output path.
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from evflow.errors import EventValueError
from evflow.io.events import validate_events


class EventWriter(ABC):
    """Streaming, atomic event-file writer (subclasses implement ``_open``, ``_write``, ``_finish``).

    Args:
        path: destination file.
        height, width: sensor size stored in the file; events must lie inside it. None = unknown.
        max_coord: largest coordinate the format can store (exclusive), checked even without a size.
        min_t: smallest timestamp the format can store.

    Use as a context manager::

        with open_writer("out.dat", height=480, width=640) as w:
            for chunk in chunks:
                w.write(chunk)
    """

    format = "unknown"

    def __init__(
        self,
        path,
        height: int | None = None,
        width: int | None = None,
        max_coord: int = 1 << 16,
        min_t: int | None = None,
    ):
        if (height is None) != (width is None):
            raise EventValueError(f"{path}: give both height and width, or neither (got {height}, {width})")
        self.path = Path(path)
        self.height = None if height is None else int(height)
        self.width = None if width is None else int(width)
        self.max_coord = max_coord
        self.min_t = min_t
        self.count = 0
        self.last_t: int | None = None
        self.first_t: int | None = None
        self.closed = False
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent or ".")
        os.close(fd)
        self.tmp_path = Path(tmp)
        try:
            self._open()
        except BaseException:
            self.tmp_path.unlink(missing_ok=True)
            raise

    def write(self, events: np.ndarray) -> None:
        """Append events (any structured array with x, y, p, t), checking them first.

        Raises:
            EventValueError: bad polarity, coordinates outside the sensor or the format, time going backwards
                (also relative to the previous chunk) or below what the format stores.
        """
        self._check(events)
        if len(events) == 0:
            return
        if self.first_t is None:
            self.first_t = int(events["t"][0])
        self._write(events)
        self.count += len(events)
        self.last_t = int(events["t"][-1])

    def _check(self, events: np.ndarray) -> None:
        what = f"events written to {self.path}"
        validate_events(events, self.height, self.width, check_sorted=True, what=what)
        if len(events) == 0:
            return
        for name in "xy":
            top = int(events[name].max())
            if top >= self.max_coord:
                limit = self.max_coord
                raise EventValueError(f"{what}: {name}={top} does not fit the {self.format} format (< {limit})")
        t0 = int(events["t"][0])
        if self.last_t is not None and t0 < self.last_t:
            raise EventValueError(f"{what}: chunk starts at t={t0}, before the previous chunk's end t={self.last_t}")
        if self.min_t is not None and t0 < self.min_t:
            raise EventValueError(f"{what}: t={t0} is below {self.min_t}, which {self.format} cannot store")

    def close(self) -> None:
        """Finish the file and move it to its destination."""
        if self.closed:
            return
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        os.replace(self.tmp_path, self.path)
        self.closed = True

    def abort(self) -> None:
        """Drop the temporary file; the destination is left untouched."""
        self.closed = True
        try:
            self._abort()
        finally:
            self.tmp_path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # hooks
    @abstractmethod
    def _open(self) -> None:
        """Create the temporary file and write the header."""

    @abstractmethod
    def _write(self, events: np.ndarray) -> None:
        """Encode and append one validated, time-sorted chunk."""

    @abstractmethod
    def _finish(self) -> None:
        """Flush the encoder state and close the temporary file."""

    def _abort(self) -> None:  # noqa: B027 - optional hook, most writers have nothing to release
        """Release resources without finishing (default: nothing)."""
