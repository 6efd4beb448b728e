"""Streaming statistics of a recording (what ``evflow info`` prints)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from evflow.io.iterator import EventsIterator


@dataclass(frozen=True)
class RecordingStats:
    """Summary of one recording.

    Attributes:
        path, format: the file and its format name (``dat``, ``evt3``, ``hdf5``...).
        height, width: sensor size from the file (None if unknown).
        count: number of events. t_first, t_last: first/last timestamp (µs), None when empty.
        duration_us: ``t_last - t_first`` (0 when empty).
        mean_rate: events per second over the duration (None when the duration is 0).
        peak_rate: highest events per second over the windows ``[k w, (k+1) w)``, ``w = peak_window_us``.
        on_fraction: share of ON (p = 1) events (None when empty).
        x_max, y_max: largest coordinates seen (None when empty).
    """

    path: str
    format: str
    height: int | None
    width: int | None
    count: int
    t_first: int | None
    t_last: int | None
    duration_us: int
    mean_rate: float | None
    peak_rate: float
    peak_window_us: int
    on_fraction: float | None
    x_max: int | None
    y_max: int | None

    def as_dict(self) -> dict:
        """Return the fields as a JSON-serialisable dict."""
        return asdict(self)


def recording_stats(path: str | os.PathLike, peak_window_us: int = 1000, chunk_events: int = 1 << 20) -> RecordingStats:
    """Stream a recording once (bounded memory) and summarise it.

    Args:
        path: any supported event file.
        peak_window_us: window length (µs) over which the peak rate is measured.
        chunk_events: events read at a time (memory bound).

    Returns:
        A :class:`RecordingStats`.
    """
    it = EventsIterator(path, mode="n_events", n_events=chunk_events)
    count = on = peak = 0
    t_first = t_last = x_max = y_max = None
    carry_bin, carry_count = None, 0  # last (possibly incomplete) rate window of the previous chunk
    for ev in it:
        count += len(ev)
        on += int(ev["p"].sum())
        t_first = int(ev["t"][0]) if t_first is None else t_first
        t_last = int(ev["t"][-1])
        x_max = max(x_max or 0, int(ev["x"].max()))
        y_max = max(y_max or 0, int(ev["y"].max()))
        bins = ev["t"] // peak_window_us
        counts = np.bincount(bins - bins[0])
        if carry_bin == int(bins[0]):
            counts[0] += carry_count
        else:
            peak = max(peak, carry_count)
        peak = max(peak, int(counts[:-1].max(initial=0)))
        carry_bin, carry_count = int(bins[-1]), int(counts[-1])
    peak = max(peak, carry_count)
    duration = 0 if t_first is None else t_last - t_first
    return RecordingStats(
        path=os.fspath(path),
        format=it.format,
        height=it.height,
        width=it.width,
        count=count,
        t_first=t_first,
        t_last=t_last,
        duration_us=duration,
        mean_rate=count / duration * 1e6 if duration else None,
        peak_rate=peak / peak_window_us * 1e6,
        peak_window_us=peak_window_us,
        on_fraction=on / count if count else None,
        x_max=x_max,
        y_max=y_max,
    )
