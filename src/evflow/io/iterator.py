"""``EventsIterator``: stream any event file as windows of events, with bounded memory.

Modes:

- ``"delta_t"``: windows are the half-open intervals ``[t0, t0 + delta_t)`` on the grid
  ``start_ts + k * delta_t``. Windows before the first event are skipped; after it, every window is yielded,
  empty ones as empty arrays (time keeps moving). Iteration ends with the window holding the last event.
- ``"n_events"``: consecutive windows of ``n_events`` events (the last one may be shorter).
- ``"mixed"``: the ``delta_t`` windows, each split into pieces of at most ``n_events`` events.

``max_duration`` (µs) stops the stream at ``t0_first + max_duration``, where ``t0_first`` is the start of the
first window (the first event's time in ``n_events`` mode). ``seek_time(t)`` restarts the stream at ``t``
(the grid is re-anchored at ``t``); it takes effect at the next window.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from numba import njit

from evflow.errors import ConfigError
from evflow.io.events import concatenate_events
from evflow.io.registry import open_source

MODES = ("delta_t", "n_events", "mixed")


@njit(cache=True, nogil=True)
def _search_left(t, value):  # pragma: no cover - compiled
    """``np.searchsorted(t, value, 'left')`` without copying a strided ``t``."""
    lo, hi = 0, t.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if t[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


class _Queue:
    """Events pulled from a chunk stream and not yet handed out."""

    def __init__(self, chunks: Iterator[np.ndarray]):
        self._chunks = iter(chunks)
        self._parts: list[np.ndarray] = []

    def _pull(self) -> bool:
        for chunk in self._chunks:
            if len(chunk):
                self._parts.append(chunk)
                return True
        return False

    def first_t(self) -> int | None:
        """Time of the next event, None at the end of the stream."""
        if not self._parts and not self._pull():
            return None
        return int(self._parts[0]["t"][0])

    def drop_before(self, t: int) -> None:
        """Discard events with time < ``t``."""
        while self.first_t() is not None:
            part = self._parts[0]
            k = _search_left(part["t"], t)
            if k < len(part):
                self._parts[0] = part[k:]
                return
            self._parts.pop(0)

    def pop(self, t_end: int | None, limit: int | None) -> np.ndarray:
        """Remove and return the next events with time < ``t_end`` (None: any), at most ``limit`` of them."""
        out, count = [], 0
        while (limit is None or count < limit) and (self._parts or self._pull()):
            part = self._parts[0]
            k = len(part) if t_end is None else _search_left(part["t"], t_end)
            if limit is not None:
                k = min(k, limit - count)
            if k == len(part):
                self._parts.pop(0)
                out.append(part)
                count += k
                continue
            out.append(part[:k])
            self._parts[0] = part[k:]
            break
        if len(out) == 1:
            return out[0]
        return concatenate_events(out)


class EventsIterator:
    """Iterate over an event file window by window (see the module docstring for the modes).

    Args:
        path: any file :func:`evflow.io.load_events` reads.
        mode: ``"delta_t"``, ``"n_events"`` or ``"mixed"``.
        delta_t: window length in µs.
        n_events: events per window (``n_events`` and ``mixed`` modes).
        start_ts: time of the window grid's origin; earlier events are skipped (µs).
        max_duration: stop after this many µs (None: until the end of the file).
        height, width: sensor size to report when the file does not state it (the file's own size wins
            when it gives one and these are None).

    Attributes:
        height, width: sensor size (None if unknown).

    Yields:
        :data:`~evflow.io.events.EVENT_DTYPE` arrays with absolute timestamps. They may be views of a
        buffer shared with other windows; copy them to modify them.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        mode: str = "delta_t",
        delta_t: int = 10000,
        n_events: int = 10000,
        start_ts: int = 0,
        max_duration: int | None = None,
        height: int | None = None,
        width: int | None = None,
    ):
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        for name, value in (("delta_t", delta_t), ("n_events", n_events)):
            if int(value) <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if max_duration is not None and int(max_duration) <= 0:
            raise ConfigError(f"max_duration must be positive or None, got {max_duration!r}")
        self.path = path
        self.mode, self.delta_t, self.n_events = mode, int(delta_t), int(n_events)
        self.start_ts, self.max_duration = int(start_ts), None if max_duration is None else int(max_duration)
        self._source = open_source(path)
        self.height = height if height is not None else self._source.height
        self.width = width if width is not None else self._source.width
        self.format = self._source.format
        self._seek_to: int | None = None
        self._current_time = self.start_ts

    def seek_time(self, ts: int) -> None:
        """Restart the stream at time ``ts`` (µs): the next window starts on the grid anchored at ``ts``."""
        self._seek_to = int(ts)

    def get_current_time(self) -> int:
        """End time (exclusive) of the last window yielded (``delta_t``/``mixed``), or the last event's time."""
        return self._current_time

    def __iter__(self) -> Iterator[np.ndarray]:
        anchor = self.start_ts
        while True:
            if self._seek_to is not None:
                anchor, self._seek_to = self._seek_to, None
            queue = _Queue(self._source.chunks(anchor))
            queue.drop_before(anchor)
            windows = self._by_count(queue) if self.mode == "n_events" else self._by_time(queue, anchor)
            for ev in windows:
                yield ev
                if self._seek_to is not None:
                    break
            else:
                return

    def _by_time(self, queue: _Queue, anchor: int) -> Iterator[np.ndarray]:
        first = queue.first_t()
        if first is None:
            return
        t0 = anchor + (first - anchor) // self.delta_t * self.delta_t
        end = None if self.max_duration is None else t0 + self.max_duration
        limit = self.n_events if self.mode == "mixed" else None
        while end is None or t0 < end:
            t1 = t0 + self.delta_t if end is None else min(t0 + self.delta_t, end)
            nxt = queue.first_t()
            if nxt is None:
                return
            while True:
                ev = queue.pop(t1, limit)
                self._current_time = t1
                nxt = queue.first_t()
                yield ev
                if limit is None or len(ev) < limit or nxt is None or nxt >= t1:
                    break
            t0 = t1

    def _by_count(self, queue: _Queue) -> Iterator[np.ndarray]:
        first = queue.first_t()
        if first is None:
            return
        end = None if self.max_duration is None else first + self.max_duration
        while True:
            ev = queue.pop(end, self.n_events)
            if len(ev) == 0:
                return
            self._current_time = int(ev["t"][-1])
            yield ev
