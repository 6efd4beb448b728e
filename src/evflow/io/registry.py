"""Registry of event file formats: which reader opens a path, which writer writes a format.

Readers are chosen by file extension (a RAW reader then detects the EVT version from the header, an HDF5
reader the layout). Writers are chosen by format name, defaulting from the extension.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from evflow.errors import UnsupportedFormatError
from evflow.io.dat import DatSource, DatWriter
from evflow.io.hdf5 import Hdf5Source, Hdf5Writer
from evflow.io.numpy_files import NpyWriter, NpzWriter, NumpySource
from evflow.io.raw import RawSource, RawWriter
from evflow.io.source import EventSource, check_input_file
from evflow.io.writer import EventWriter


@dataclass(frozen=True)
class FormatInfo:
    """One writable format: its name, default extension, writer factory and a description."""

    name: str
    extension: str
    writer: Callable[..., EventWriter]
    description: str


READERS: dict[str, Callable[[str | os.PathLike], EventSource]] = {
    ".dat": DatSource,
    ".raw": RawSource,
    ".h5": Hdf5Source,
    ".hdf5": Hdf5Source,
    ".npy": NumpySource,
    ".npz": NumpySource,
}

FORMATS: dict[str, FormatInfo] = {
    f.name: f
    for f in (
        FormatInfo("dat", ".dat", DatWriter, "Prophesee DAT, 8-byte CD records, 32-bit time (unwrapped)"),
        FormatInfo("evt3", ".raw", partial(RawWriter, evt="evt3"), "Prophesee RAW EVT 3.0 (16-bit words)"),
        FormatInfo("evt2", ".raw", partial(RawWriter, evt="evt2"), "Prophesee RAW EVT 2.0 (32-bit words)"),
        FormatInfo("evt21", ".raw", partial(RawWriter, evt="evt21"), "Prophesee RAW EVT 2.1 (64-bit vector words)"),
        FormatInfo("hdf5", ".h5", Hdf5Writer, "evflow HDF5 layout (DSEC-like, format_version 1); DSEC files read too"),
        FormatInfo("npy", ".npy", NpyWriter, "numpy structured array x, y, p, t"),
        FormatInfo("npz", ".npz", NpzWriter, "numpy archive: 'events' (+ 'height', 'width')"),
    )
}
DEFAULT_FORMAT = {".dat": "dat", ".raw": "evt3", ".h5": "hdf5", ".hdf5": "hdf5", ".npy": "npy", ".npz": "npz"}


def list_formats() -> list[str]:
    """Return the names of the formats evflow writes (and reads)."""
    return list(FORMATS)


def _suffix(path) -> str:
    return Path(path).suffix.lower()


def open_source(path: str | os.PathLike) -> EventSource:
    """Open an event file for streaming with the reader registered for its extension.

    Raises:
        EventFileError: missing file, directory, empty file.
        UnsupportedFormatError: unknown extension (the message lists the supported ones) or a bad header.
    """
    check_input_file(path)
    reader = READERS.get(_suffix(path))
    if reader is None:
        raise UnsupportedFormatError(path, f"unknown extension {_suffix(path)!r}; supported: {', '.join(READERS)}")
    return reader(path)


def open_writer(
    path: str | os.PathLike, height: int | None = None, width: int | None = None, format: str | None = None
) -> EventWriter:
    """Return a streaming, atomic writer for ``path``.

    Args:
        path: destination; its extension picks the format unless ``format`` is given.
        height, width: sensor size to store.
        format: one of :func:`list_formats` (e.g. ``"evt2"`` to write EVT 2.0 into a ``.raw``).

    Raises:
        UnsupportedFormatError: unknown format name or extension (lists the valid ones).
    """
    name = format or DEFAULT_FORMAT.get(_suffix(path))
    if name is None:
        raise UnsupportedFormatError(
            path, f"cannot choose a format for extension {_suffix(path)!r}; supported: {', '.join(DEFAULT_FORMAT)}"
        )
    if name not in FORMATS:
        raise UnsupportedFormatError(path, f"unknown format {name!r}; supported: {', '.join(FORMATS)}")
    if name in ("npz",) and _suffix(path) != ".npz":
        raise UnsupportedFormatError(path, "format 'npz' needs a .npz file name")
    return FORMATS[name].writer(path, height, width)
