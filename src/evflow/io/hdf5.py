"""HDF5 event files: evflow's own layout (versioned) and the DSEC layout, streaming reader and writer.

Both layouts store ``events/x``, ``events/y``, ``events/p``, ``events/t`` (time relative to the scalar
dataset ``t_offset``, µs) and ``ms_to_idx`` (``ms_to_idx[k]`` = index of the first event with
``t >= k * 1000``, relative time). evflow's layout adds root attributes ``format = "evflow-events"``,
``format_version`` and ``height``/``width`` and stores ``t`` as int64 (DSEC uses uint32). See
``docs/formats.md``. ``hdf5plugin`` is imported so Blosc/Zstd-compressed files (as DSEC ships) open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from evflow.errors import EventFileError, UnsupportedFormatError
from evflow.io.events import EVENT_DTYPE, validate_events
from evflow.io.source import CHUNK_EVENTS, EventSource
from evflow.io.writer import EventWriter

FORMAT_NAME = "evflow-events"
FORMAT_VERSION = 1
FIELDS = {"x": "<u2", "y": "<u2", "p": "u1", "t": "<i8"}
MS_BLOCK = 1 << 20  # ms_to_idx entries computed at a time


def _h5():
    import h5py
    import hdf5plugin  # noqa: F401  (registers Blosc, Zstd, LZ4... filters)

    return h5py


class Hdf5Source(EventSource):
    """Streaming reader of an HDF5 event file (evflow or DSEC layout; ``format`` says which)."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        h5py = _h5()
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise UnsupportedFormatError(self.path, f"not a readable HDF5 file ({exc})", offset=0) from None
        with f:
            self._inspect(f)

    def _inspect(self, f) -> None:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt == FORMAT_NAME:
            version = int(f.attrs.get("format_version", 0))
            if version > FORMAT_VERSION:
                raise UnsupportedFormatError(
                    self.path, f"attribute format_version is {version}; this evflow reads up to {FORMAT_VERSION}"
                )
            self.format = "hdf5"
            if "height" in f.attrs and "width" in f.attrs:
                self.height, self.width = int(f.attrs["height"]), int(f.attrs["width"])
        elif "events" in f and "t_offset" in f:
            self.format = "dsec-hdf5"
        elif "CD" in f:
            raise UnsupportedFormatError(
                self.path,
                "Prophesee HDF5 event files (group 'CD', ECF codec) are not "
                "supported; convert them with Metavision to .raw or .dat first",
            )
        else:
            raise UnsupportedFormatError(
                self.path,
                f"unknown HDF5 layout: expected attribute format={FORMAT_NAME!r} "
                "or DSEC datasets 'events/{x,y,p,t}' and 't_offset'",
            )
        missing = [k for k in "xypt" if f"events/{k}" not in f]
        if missing:
            raise UnsupportedFormatError(self.path, f"missing dataset(s) {['events/' + k for k in missing]}")
        sizes = {k: f[f"events/{k}"].shape[0] for k in "xypt"}
        if len(set(sizes.values())) != 1:
            raise EventFileError(self.path, f"datasets events/x,y,p,t differ in length: {sizes}")
        self.num_events = sizes["t"]
        self.t_offset = int(np.asarray(f["t_offset"])) if "t_offset" in f else 0

    def describe(self) -> dict:
        """Layout facts: layout name, t_offset, number of events."""
        return {"layout": self.format, "t_offset": self.t_offset, "events_in_file": self.num_events}

    def chunks(self, start_ts: int | None = None) -> Iterator[np.ndarray]:
        """Yield chunks of ``CHUNK_EVENTS`` events (see :meth:`EventSource.chunks`); seeks with ``ms_to_idx``."""
        h5py = _h5()
        with h5py.File(self.path, "r") as f:
            begin = self._start_index(f, start_ts)
            last = np.iinfo(np.int64).min
            for a in range(begin, self.num_events, CHUNK_EVENTS):
                ev = self._read(f, a, min(a + CHUNK_EVENTS, self.num_events))
                if len(ev) and ev["t"][0] < last:
                    raise EventFileError(self.path, f"field events/t goes backwards at index {a}")
                if len(ev):
                    last = int(ev["t"][-1])
                yield ev

    def _start_index(self, f, start_ts: int | None) -> int:
        if start_ts is None or self.num_events == 0:
            return 0
        k = (start_ts - self.t_offset) // 1000
        if "ms_to_idx" in f and k >= 0:
            idx = f["ms_to_idx"]
            return int(idx[min(k, len(idx) - 1)]) if len(idx) else 0
        return 0

    def _read(self, f, a: int, b: int) -> np.ndarray:
        ev = np.empty(b - a, dtype=EVENT_DTYPE)
        for k in "xyp":
            ev[k] = f[f"events/{k}"][a:b]
        ev["t"] = f["events/t"][a:b].astype(np.int64) + self.t_offset
        try:
            validate_events(ev, self.height, self.width, check_sorted=True, what=f"{self.path} events[{a}:{b}]")
        except ValueError as exc:
            raise EventFileError(self.path, str(exc)) from None
        return ev


class Hdf5Writer(EventWriter):
    """Streaming writer of evflow's HDF5 layout (gzip-compressed, chunked, with ``ms_to_idx``).

    Args:
        path: destination.
        height, width: sensor size stored as attributes (when given).
    """

    format = "hdf5"

    def _open(self) -> None:
        self._f = _h5().File(self.tmp_path, "w")
        self._f.attrs["format"] = FORMAT_NAME
        self._f.attrs["format_version"] = FORMAT_VERSION
        if self.height is not None and self.width is not None:
            self._f.attrs["height"], self._f.attrs["width"] = self.height, self.width
        for k, dt in FIELDS.items():
            self._f.create_dataset(
                f"events/{k}",
                shape=(0,),
                maxshape=(None,),
                dtype=dt,
                chunks=(1 << 16,),
                compression="gzip",
                compression_opts=1,
                shuffle=True,
            )
        self._ms = self._f.create_dataset(
            "ms_to_idx",
            shape=(0,),
            maxshape=(None,),
            dtype="<u8",
            chunks=(1 << 16,),
            compression="gzip",
            compression_opts=1,
        )
        self._t_offset = None

    def _write(self, events: np.ndarray) -> None:
        if self._t_offset is None:
            self._t_offset = int(events["t"][0]) // 1000 * 1000
        n0 = self.count
        rel = events["t"] - self._t_offset
        for k in "xypt":
            ds = self._f[f"events/{k}"]
            ds.resize((n0 + len(events),))
            ds[n0:] = rel if k == "t" else events[k]
        # boundaries k*1000 <= last relative time are final: no later event can precede them
        last_k = int(rel[-1]) // 1000
        for k0 in range(len(self._ms), last_k + 1, MS_BLOCK):  # blocks: long silent gaps stay bounded in memory
            k = np.arange(k0, min(k0 + MS_BLOCK, last_k + 1), dtype=np.int64)
            self._append_ms(n0 + np.searchsorted(rel, k * 1000, side="left"))

    def _append_ms(self, values: np.ndarray) -> None:
        m = len(self._ms)
        self._ms.resize((m + len(values),))
        self._ms[m:] = values

    def _finish(self) -> None:
        self._f.create_dataset("t_offset", data=np.int64(self._t_offset or 0))
        if self.count:
            self._append_ms(np.array([self.count], dtype=np.uint64))
        self._f.close()

    def _abort(self) -> None:
        self._f.close()
