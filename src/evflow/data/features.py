"""HDF5 tensor ("precomputed feature") files, Prophesee layout (reference §13) plus ``format_version``.

Layout: dataset ``data`` ``(N, C, H, W)``, one row per ``delta_t`` slice, gzip, chunks ``(1, C, H, W)``,
maxshape ``(None, C, H, W)``. Attributes of ``data``: ``events_to_tensor`` (bytes, preprocessing name),
``delta_t`` (uint32 µs), ``event_input_height``/``event_input_width`` (sensor size), ``shape`` ``(C, H, W)``,
``mode`` (``"delta_t"``/``"n_events"``), ``n_events``, one attribute per preprocessing kwarg, optional
``store_as_uint8`` (values stored as ``round(255 * x)``), and evflow's ``format_version``.
Writers write to a temporary name and rename when complete; all-zero rows (e.g. the slices before a
recording's first event, since rows count from time 0) are left unallocated and read back as 0, so they
cost no space. Readers accept files of other tools with the same layout (missing ``format_version`` or
sensor size are tolerated).
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evflow.errors import ConfigError, EventFileError, EvflowError, ShapeError

FEATURES_FORMAT_VERSION = 1
_LAYOUT_KEYS = (
    "events_to_tensor", "delta_t", "event_input_height", "event_input_width", "shape", "mode", "n_events",
    "store_as_uint8", "format_version", "downsampling_factor", "shift",
)  # fmt: skip


class TensorFileWriter:
    """Streaming writer: rows are appended as they are computed; the file appears complete or not at all.

    Args:
        path: output ``.h5`` path (written as ``.<name>.tmp<pid>`` then renamed by :meth:`close`).
        preprocessing: preprocessing name (``events_to_tensor``).
        delta_t: slice length in µs.
        shape: ``(C, H, W)`` of one row.
        height, width: sensor size (``event_input_height/width``); default ``H, W``.
        dtype: stored dtype (ignored when ``store_as_uint8``).
        preprocess_kwargs: stored as one attribute each.
        mode, n_events: slicing mode attributes.
        store_as_uint8: store ``round(255 * x)`` as uint8 (data must lie in [0, 1]).
        compression_level: gzip level (1: fastest; event tensors are mostly zeros, level 4 saves ~15 % more).
        threads: threads compressing rows in parallel (zlib releases the GIL); rows are written in order as
            pre-compressed chunks, readable by any HDF5 gzip reader.
        **attrs: extra attributes.
    """

    def __init__(self, path, preprocessing: str, delta_t: int, shape, height=None, width=None, dtype=np.float32,
                 preprocess_kwargs=None, mode="delta_t", n_events=0, store_as_uint8=False, compression_level=1,
                 threads=None,
                 **attrs):  # fmt: skip
        import h5py

        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        if len(self.shape) != 3 or min(self.shape) <= 0:
            raise ShapeError(f"{path}: row shape must be (C, H, W) with positive sizes, got {shape}")
        if int(delta_t) <= 0 or int(delta_t) >= 2**32:
            raise ConfigError(f"{path}: delta_t must be in [1, 2**32) µs, got {delta_t}")
        self.store_as_uint8 = bool(store_as_uint8)
        self.dtype = np.dtype(np.uint8 if store_as_uint8 else dtype)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.tmp, "w")
        self._dset = self._file.create_dataset(
            "data", shape=(0, *self.shape), maxshape=(None, *self.shape), chunks=(1, *self.shape), dtype=self.dtype,
            compression="gzip", compression_opts=compression_level,
        )  # fmt: skip
        c, h, w = self.shape
        a = self._dset.attrs
        a["events_to_tensor"] = np.bytes_(preprocessing)
        a["delta_t"] = np.uint32(delta_t)
        a["event_input_height"] = int(height if height is not None else h)
        a["event_input_width"] = int(width if width is not None else w)
        a["shape"] = np.array(self.shape, np.int64)
        a["mode"] = str(mode)
        a["n_events"] = int(n_events)
        a["format_version"] = FEATURES_FORMAT_VERSION
        if self.store_as_uint8:
            a["store_as_uint8"] = True
        for key, value in {**(preprocess_kwargs or {}), **attrs}.items():
            a[key] = value
        self.num_rows = 0
        self._level = int(compression_level)
        self._threads = int(threads or min(8, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(max_workers=self._threads)
        self._pending: deque = deque()  # (future of the compressed chunk, row buffer), in row order
        self._free: list = []  # row buffers to reuse (no page faults on fresh 7 MB arrays)

    def append(self, rows: np.ndarray) -> None:
        """Append one row ``(C, H, W)`` or several ``(k, C, H, W)``.

        Raises:
            ShapeError: wrong row shape, or data outside [0, 1] with ``store_as_uint8``.
        """
        rows = np.asarray(rows)
        if rows.shape == self.shape:
            rows = rows[None]
        if rows.shape[1:] != self.shape:
            raise ShapeError(f"{self.path}: rows must be (k, {self.shape}), got {rows.shape}")
        if self.store_as_uint8:
            if rows.size and (rows.min() < 0 or rows.max() > 1):
                raise ShapeError(f"{self.path}: store_as_uint8 needs data in [0, 1], got [{rows.min()}, {rows.max()}]")
            rows = np.round(rows * 255.0)
        for row in rows:
            if not row.any():  # all-zero row: no chunk is stored, HDF5 reads it back as the fill value 0
                self._pending.append((None, None))
                continue
            buf = self._free.pop() if self._free else np.empty(self.shape, self.dtype)
            np.copyto(buf, row, casting="unsafe")  # the caller may reuse ``rows`` right after append
            self._pending.append((self._pool.submit(zlib.compress, buf, self._level), buf))
            self._drain(2 * self._threads)

    def append_zeros(self, n: int = 1) -> None:
        """Append ``n`` all-zero rows (unallocated chunks: no compression, no space)."""
        self._pending.extend([(None, None)] * int(n))
        self._drain(2 * self._threads)

    def _drain(self, keep: int) -> None:
        """Write finished chunks in order until at most ``keep`` are in flight."""
        while self._pending and (
            len(self._pending) > keep or self._pending[0][0] is None or self._pending[0][0].done()
        ):
            future, buf = self._pending.popleft()
            if future is not None:  # zero rows only advance the count; the extent grows before real chunks
                self._dset.resize(self.num_rows + 1, axis=0)
                self._dset.id.write_direct_chunk((self.num_rows, 0, 0, 0), future.result())
                self._free.append(buf)
            self.num_rows += 1

    def close(self) -> Path:
        """Finish the file and move it to its final path."""
        try:
            self._drain(0)
            self._dset.resize(self.num_rows, axis=0)
        finally:
            self._pool.shutdown()
            self._file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Discard the temporary file."""
        try:
            self._pool.shutdown(cancel_futures=True)
            self._file.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_tensor_file(path, data: np.ndarray, preprocessing: str, delta_t: int, height=None, width=None,
                      preprocess_kwargs=None, store_as_uint8=False, **kwargs) -> Path:  # fmt: skip
    """Write a whole ``(N, C, H, W)`` tensor to a Prophesee-layout HDF5 tensor file, atomically.

    Args:
        path: output path.
        data: ``(N, C, H, W)`` array.
        preprocessing, delta_t, height, width, preprocess_kwargs, store_as_uint8: see :class:`TensorFileWriter`.
        **kwargs: other :class:`TensorFileWriter` arguments (``mode``, ``n_events``, extra attributes).

    Returns:
        The written path.
    """
    data = np.asarray(data)
    if data.ndim != 4:
        raise ShapeError(f"{path}: data must be (N, C, H, W), got {data.shape}")
    with TensorFileWriter(path, preprocessing, delta_t, data.shape[1:], height, width, data.dtype,
                          preprocess_kwargs, store_as_uint8=store_as_uint8, **kwargs) as writer:  # fmt: skip
        writer.append(data)
    return Path(path)


@dataclass(frozen=True)
class TensorFile:
    """A tensor file loaded in memory (see :func:`read_tensor_file`).

    Attributes:
        data: ``(N, C, H, W)`` (float32 when ``store_as_uint8`` was decoded).
        preprocessing, delta_t, height, width, preprocess_kwargs, mode, n_events, store_as_uint8, format_version:
            the file's metadata (``height``/``width`` are the sensor size).
        attrs: every attribute of ``data``.
    """

    data: np.ndarray
    preprocessing: str
    delta_t: int
    height: int
    width: int
    preprocess_kwargs: dict
    mode: str
    n_events: int
    store_as_uint8: bool
    format_version: int | None
    attrs: dict = field(default_factory=dict)


class TensorFileReader:
    """Lazy reader of an HDF5 tensor file, with optional checks of what the caller expects.

    Args:
        path: ``.h5`` file with dataset ``data``.
        expected_preprocessing: raise ConfigError when the file's ``events_to_tensor`` differs.
        expected_delta_t: raise ConfigError when the file's ``delta_t`` differs.

    Raises:
        EventFileError: missing/unreadable file, no 4-D ``data`` dataset, no ``delta_t``.
        ConfigError: preprocessing or delta_t mismatch.
    """

    def __init__(self, path, expected_preprocessing: str | None = None, expected_delta_t: int | None = None):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise EventFileError(self.path, "tensor file not found")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise EventFileError(self.path, f"not a readable HDF5 file ({exc})") from None
        dset = self._file.get("data")
        if not isinstance(dset, h5py.Dataset) or dset.ndim != 4:
            keys = sorted(self._file.keys())
            self._file.close()
            raise EventFileError(self.path, f"no 4-D (N, C, H, W) dataset 'data' (has {keys})")
        self._dset = dset
        self.attrs = {k: _plain(v) for k, v in dset.attrs.items()}
        try:
            self._parse()
        except EvflowError:
            self._file.close()
            raise
        self._check(expected_preprocessing, expected_delta_t)

    def _parse(self) -> None:
        a = self.attrs
        if "delta_t" not in a:
            raise EventFileError(self.path, "dataset 'data' has no 'delta_t' attribute")
        self.preprocessing = str(a.get("events_to_tensor", ""))
        self.delta_t = int(a["delta_t"])
        self.shape = tuple(self._dset.shape)
        ds = int(a.get("downsampling_factor", a.get("shift", 0)) or 0)
        self.height = int(a.get("event_input_height", self.shape[2] << ds))
        self.width = int(a.get("event_input_width", self.shape[3] << ds))
        self.mode = str(a.get("mode", "delta_t"))
        self.n_events = int(a.get("n_events", 0) or 0)
        self.store_as_uint8 = bool(a.get("store_as_uint8", False))
        fv = a.get("format_version")
        self.format_version = None if fv is None else int(fv)
        self.preprocess_kwargs = {k: v for k, v in a.items() if k not in _LAYOUT_KEYS}
        try:
            from evflow.preprocessing import get_preprocess_kwargs_keys

            keys = get_preprocess_kwargs_keys(self.preprocessing)
            self.preprocess_kwargs = {k: a[k] for k in keys if k in a}
        except ConfigError:
            pass  # preprocessing unknown here: keep every non-layout attribute

    def _check(self, expected_preprocessing, expected_delta_t) -> None:
        if expected_preprocessing is not None and self.preprocessing != expected_preprocessing:
            self.close()
            raise ConfigError(
                f"{self.path}: tensors were computed with preprocessing {self.preprocessing!r}, "
                f"expected {expected_preprocessing!r}"
            )
        if expected_delta_t is not None and self.delta_t != int(expected_delta_t):
            self.close()
            raise ConfigError(f"{self.path}: tensors have delta_t={self.delta_t} µs, expected {expected_delta_t} µs")

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int = 0, stop: int | None = None, as_float: bool = True) -> np.ndarray:
        """Rows ``[start, stop)`` as ``(k, C, H, W)``; uint8-stored data decoded to float32 / 255 if ``as_float``."""
        rows = np.asarray(self._dset[start:stop])
        if as_float and self.store_as_uint8:
            return rows.astype(np.float32) / 255.0
        return rows

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise ShapeError(f"{self.path}: only contiguous slices are supported")
            return self.read(index.start or 0, index.stop)
        i = int(index) + (len(self) if int(index) < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"{self.path}: row {index} out of range for {len(self)} rows")
        return self.read(i, i + 1)[0]

    def close(self) -> None:
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_tensor_file(
    path, expected_preprocessing: str | None = None, expected_delta_t: int | None = None
) -> TensorFile:
    """Load a whole tensor file (see :class:`TensorFileReader` for the checks and errors).

    Returns:
        A :class:`TensorFile`; ``data`` is ``(N, C, H, W)``, decoded to float32 when stored as uint8.
    """
    with TensorFileReader(path, expected_preprocessing, expected_delta_t) as r:
        return TensorFile(
            r.read(), r.preprocessing, r.delta_t, r.height, r.width, r.preprocess_kwargs, r.mode, r.n_events,
            r.store_as_uint8, r.format_version, dict(r.attrs),
        )  # fmt: skip


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    return value
