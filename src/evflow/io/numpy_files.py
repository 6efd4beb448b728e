"""``.npy`` / ``.npz`` event files: structured arrays with fields x, y, p, t.

``.npy`` holds one structured array (read through a memory map, so streaming is bounded). ``.npz`` holds
either an ``events`` structured array or four arrays ``x``, ``y``, ``p``, ``t``, plus optional scalars
``height`` and ``width``; it is loaded whole (zip members cannot be memory-mapped). The writers stream:
``.npy`` fixes its header's length at the end, ``.npz`` zips a temporary ``.npy``.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Iterator

import numpy as np

from evflow.errors import EventFileError, UnsupportedFormatError
from evflow.io.events import EVENT_DTYPE, as_events, validate_events
from evflow.io.source import CHUNK_EVENTS, EventSource
from evflow.io.writer import EventWriter

SHAPE_DIGITS = 20


class NumpySource(EventSource):
    """Reader of ``.npy`` (memory-mapped) and ``.npz`` event arrays."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self.format = "npz" if self.path.suffix.lower() == ".npz" else "npy"
        self._array = self._load()
        if self._array.ndim != 1 or any(k not in (self._array.dtype.names or ()) for k in "xypt"):
            raise UnsupportedFormatError(
                self.path,
                f"expected a 1-D structured array with fields x, y, p, t; got "
                f"shape {self._array.shape}, fields {self._array.dtype.names}",
            )
        self.num_events = len(self._array)

    def _load(self) -> np.ndarray:
        try:
            if self.format == "npy":
                return np.load(self.path, mmap_mode="r", allow_pickle=False)
            with np.load(self.path, allow_pickle=False) as z:
                if "height" in z.files and "width" in z.files:
                    self.height, self.width = int(z["height"]), int(z["width"])
                if "events" in z.files:
                    return z["events"]
                if all(k in z.files for k in "xypt"):
                    return as_events(np.rec.fromarrays([z[k] for k in "xypt"], names="x,y,p,t"))
                raise UnsupportedFormatError(self.path, f"npz holds {z.files}; expected 'events' or 'x','y','p','t'")
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            if isinstance(exc, EventFileError):
                raise
            raise UnsupportedFormatError(self.path, f"cannot read as {self.format}: {exc}", offset=0) from None

    def chunks(self, start_ts: int | None = None) -> Iterator[np.ndarray]:
        """Yield chunks of ``CHUNK_EVENTS`` events; seeks by binary search on ``t``."""
        a = 0
        if start_ts is not None and self.num_events:
            a = int(np.searchsorted(self._array["t"], start_ts, side="left"))
        last = None
        for i in range(a, self.num_events, CHUNK_EVENTS):
            ev = as_events(np.ascontiguousarray(self._array[i : i + CHUNK_EVENTS]))
            try:
                validate_events(ev, self.height, self.width, check_sorted=True, what=f"{self.path} events[{i}:]")
            except ValueError as exc:
                raise EventFileError(self.path, str(exc)) from None
            if last is not None and len(ev) and ev["t"][0] < last:
                raise EventFileError(self.path, f"field t goes backwards at index {i}")
            last = int(ev["t"][-1]) if len(ev) else last
            yield ev


def _npy_header(n: int) -> bytes:
    """Version-1.0 npy header for ``n`` EVENT_DTYPE records, padded to a fixed length for any ``n``."""
    descr = np.lib.format.dtype_to_descr(EVENT_DTYPE)
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({n},), }}"
    width = len(text) + SHAPE_DIGITS - len(str(n))
    total = -(-(10 + width + 1) // 64) * 64
    text = text.ljust(total - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class NpyWriter(EventWriter):
    """Streaming ``.npy`` writer (EVENT_DTYPE records; the sensor size is not stored)."""

    format = "npy"

    def _open(self) -> None:
        self._f = open(self.tmp_path, "wb")
        self._f.write(_npy_header(0))

    def _write(self, events: np.ndarray) -> None:
        self._f.write(np.ascontiguousarray(as_events(events)).view(np.uint8).data)

    def _finish(self) -> None:
        self._f.seek(0)
        self._f.write(_npy_header(self.count))
        self._f.close()

    def _abort(self) -> None:
        self._f.close()


class NpzWriter(NpyWriter):
    """Streaming ``.npz`` writer: member ``events`` (EVENT_DTYPE) plus ``height``/``width`` when known."""

    format = "npz"

    def _finish(self) -> None:
        super()._finish()
        npy = self.tmp_path.with_name(self.tmp_path.name + ".npy")
        os.replace(self.tmp_path, npy)
        try:
            with zipfile.ZipFile(self.tmp_path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                z.write(npy, "events.npy")
                if self.height is not None and self.width is not None:
                    for name, v in (("height", self.height), ("width", self.width)):
                        with z.open(f"{name}.npy", "w") as m:
                            np.lib.format.write_array(m, np.asarray(v, dtype=np.int64))
        finally:
            npy.unlink(missing_ok=True)
