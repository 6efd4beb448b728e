"""Whole-file helpers: load all events, write all events, read a file's sensor size."""

from __future__ import annotations

import os

import numpy as np

from evflow.io.registry import open_source, open_writer


def load_events(path: str | os.PathLike) -> np.ndarray:
    """Read every event of a file (any supported format, chosen by extension).

    Args:
        path: ``.dat``, ``.raw`` (EVT 2.0/2.1/3.0), ``.h5``/``.hdf5`` (evflow or DSEC layout), ``.npy``, ``.npz``.

    Returns:
        :data:`~evflow.io.events.EVENT_DTYPE` array in file order, absolute int64 µs timestamps.

    Raises:
        EventFileError (or a subclass) naming the file and the byte offset or field of the problem.
    """
    return open_source(path).read_all()


def write_events(
    path: str | os.PathLike,
    events: np.ndarray,
    height: int | None = None,
    width: int | None = None,
    format: str | None = None,
) -> None:
    """Write events to a file atomically; the extension picks the format (``.raw`` = EVT 3.0 by default).

    Args:
        path: destination (``.dat``, ``.raw``, ``.h5``, ``.hdf5``, ``.npy``, ``.npz``).
        events: structured array with fields x, y, p, t, sorted by t.
        height, width: sensor size stored in the file (when the format can store it).
        format: override, one of :func:`evflow.io.list_formats` (e.g. ``"evt2"``).

    Raises:
        EventValueError: unsorted or out-of-range events. UnsupportedFormatError: unknown extension/format.
    """
    with open_writer(path, height, width, format) as w:
        w.write(events)


def read_geometry(path: str | os.PathLike) -> tuple[int, int] | None:
    """Return the sensor size ``(height, width)`` stated by a file's header, or None when it gives none."""
    src = open_source(path)
    if src.height is None or src.width is None:
        return None
    return src.height, src.width
