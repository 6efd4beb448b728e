"""Common base of the streaming readers: file checks, reusable chunk buffers, the chunk protocol.

A *source* parses a file's header when it is created (so bad files fail early, with the file name and byte
offset) and then yields the file's events as a sequence of time-sorted :data:`EVENT_DTYPE` chunks of bounded
size. :class:`evflow.io.EventsIterator` cuts those chunks into windows.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from evflow.errors import EventFileError
from evflow.io.events import EVENT_DTYPE, concatenate_events

CHUNK_BYTES = 1 << 20
"""Bytes read from disk at a time by the binary readers (DAT, RAW); 1 MB keeps the decode in cache."""

CHUNK_EVENTS = 1 << 19
"""Events per chunk for readers that read columns (HDF5, npy)."""


def check_input_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path` after checking it is an existing, non-empty regular file.

    Raises:
        EventFileError: the path does not exist, is a directory or another non-regular file, or is empty.
    """
    p = Path(path)
    if not p.exists():
        raise EventFileError(p, "no such file")
    if p.is_dir():
        raise EventFileError(p, "is a directory, expected an event file")
    if not p.is_file():
        raise EventFileError(p, "is not a regular file")
    if p.stat().st_size == 0:
        raise EventFileError(p, "file is empty (0 bytes), expected an event recording", offset=0)
    return p


class BufferPool:
    """Hands out event buffers, reusing one when nobody else still holds a view of it.

    Reusing memory avoids page-faulting a fresh buffer for every chunk (that halves decode throughput).
    A buffer is reused only when its reference count shows no outstanding view, so arrays already handed
    to the caller are never overwritten. A few buffers are kept because the caller usually still holds the
    previous chunk while the next one is decoded.

    Args:
        capacity: number of events per buffer.
        keep: number of buffers kept for reuse.
    """

    def __init__(self, capacity: int, keep: int = 4):
        self.capacity = int(capacity)
        self.keep = keep
        self._bufs: list[np.ndarray] = []
        # reference count of a buffer held by nothing but the list, seen from the loop in get() (the list,
        # the loop variable, getrefcount's argument: 3 on CPython <= 3.13); measured, not assumed, because
        # interpreters may count borrowed references differently
        probe = [np.empty(0)]
        for buf in probe:
            self._unused_refs = sys.getrefcount(buf)

    def get(self) -> np.ndarray:
        """Return an :data:`EVENT_DTYPE` buffer of ``capacity`` events that no caller references."""
        for buf in self._bufs:
            if sys.getrefcount(buf) <= self._unused_refs:
                return buf
        buf = np.empty(self.capacity, dtype=EVENT_DTYPE)
        if len(self._bufs) < self.keep:
            self._bufs.append(buf)
        return buf


class EventSource(ABC):
    """Base class of the readers: a file with a format name, a sensor size and a stream of chunks.

    Attributes:
        path: the file.
        format: short format name (``"dat"``, ``"evt3"``, ``"hdf5"``...).
        height, width: sensor size from the file, or None when the file does not say.
    """

    format = "unknown"

    def __init__(self, path: str | os.PathLike):
        self.path = check_input_file(path)
        self.height: int | None = None
        self.width: int | None = None

    @abstractmethod
    def chunks(self, start_ts: int | None = None) -> Iterator[np.ndarray]:
        """Yield the file's events in file order as :data:`EVENT_DTYPE` chunks with non-decreasing ``t``.

        Args:
            start_ts: when given, chunks entirely before this time (µs) may be skipped; the first chunk
                yielded may still hold earlier events, which the caller drops.

        Yields:
            Arrays of at most a few million events. They may be views of a reused buffer that is only
            overwritten once no other reference to it remains.
        """

    def read_all(self) -> np.ndarray:
        """Return every event of the file as one array (fresh memory)."""
        return concatenate_events(list(self.chunks()))

    def describe(self) -> dict:
        """Return format-specific header facts (for ``evflow info``)."""
        return {}


def skip_before(chunks: Iterator[np.ndarray], start_ts: int | None) -> Iterator[np.ndarray]:
    """Drop whole chunks whose last event is before ``start_ts`` (helper for linear-scan seeking)."""
    for chunk in chunks:
        if start_ts is not None and len(chunk) and chunk["t"][-1] < start_ts:
            continue
        yield chunk
