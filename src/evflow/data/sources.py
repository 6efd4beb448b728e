"""Readers of one recording as a sequence of feature tensors, for the sequential loader.

Two kinds of recordings are read:

* HDF5 tensor files (reference §13): dataset ``data`` of shape ``(N, C, H, W)``, one row per ``delta_t`` slice;
  rows are read directly (divided by 255 when stored as uint8) and resized to the requested ``(height, width)``.
* event files (``.dat``, ``.raw``, HDF5 events, ``.npy``...): the events of the window are read through
  :mod:`evflow.io` and turned into features on the fly with :class:`evflow.preprocessing.CDProcessor` at sensor
  resolution, then resized.

A source never keeps an open file across processes: handles are (re)opened lazily in the process that reads,
so sources can be pickled to ``DataLoader`` workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from evflow.errors import ConfigError, EventFileError, ShapeError

EVENT_EXTENSIONS = (".dat", ".raw", ".h5", ".hdf5", ".npy", ".npz")


class FileMetadata(NamedTuple):
    """One contiguous piece (a segment) of a recording read by a batch row (a named tuple, so that Lightning
    can move batches holding it to a device).

    Attributes:
        path: recording file.
        start_ts: first µs of the segment (absolute, in the file's time base).
        duration: segment length in µs (a multiple of ``num_tbins * delta_t``).
        delta_t: length of one time bin in µs.
        num_tbins: bins per batch step.
    """

    path: str
    start_ts: int
    duration: int
    delta_t: int
    num_tbins: int


def resize_features(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``(..., H, W)`` features to ``(..., height, width)`` with area interpolation (identity if equal).

    Shape:
        array: ``(..., H, W)`` float32; returns ``(..., height, width)`` float32.
    """
    if array.shape[-2:] == (height, width):
        return np.ascontiguousarray(array, dtype=np.float32)
    lead = array.shape[:-2]
    flat = np.ascontiguousarray(array.reshape(-1, *array.shape[-2:]).transpose(1, 2, 0), dtype=np.float32)
    chunks = [flat[..., i : i + 256] for i in range(0, flat.shape[-1], 256)]
    out = [cv2.resize(c, (width, height), interpolation=cv2.INTER_AREA).reshape(height, width, -1) for c in chunks]
    return np.concatenate(out, axis=-1).transpose(2, 0, 1).reshape(*lead, height, width)


def is_tensor_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file holding a precomputed tensor dataset ``data``."""
    if Path(path).suffix.lower() not in (".h5", ".hdf5"):
        return False
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("data"), h5py.Dataset) and f["data"].ndim == 4
    except OSError as exc:
        raise EventFileError(path, f"not a readable HDF5 file ({exc})") from None


def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


class TensorFileSource:
    """A precomputed HDF5 tensor file.

    Args:
        path: ``.h5`` file with dataset ``data`` ``(N, C, H, W)``.
        height, width: output resolution (``None`` keeps the stored one).
    """

    def __init__(self, path: str | os.PathLike, height: int | None = None, width: int | None = None):
        import h5py

        self.path = os.fspath(path)
        with h5py.File(self.path, "r") as f:
            if "data" not in f:
                raise EventFileError(self.path, f"no dataset 'data' (has {sorted(f.keys())})")
            dset = f["data"]
            self.attrs = {k: _attr(v) for k, v in dset.attrs.items()}
            self.num_rows, self.channels, self.stored_height, self.stored_width = dset.shape
        if "delta_t" not in self.attrs:
            raise EventFileError(self.path, "dataset 'data' has no 'delta_t' attribute")
        self.delta_t = int(self.attrs["delta_t"])
        self.preprocess = str(self.attrs.get("events_to_tensor", ""))
        self.height = int(height or self.stored_height)
        self.width = int(width or self.stored_width)
        self.start_ts = 0
        self.duration = self.num_rows * self.delta_t
        self._file = None
        self._pid = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state

    def _dataset(self):
        import h5py

        if self._file is None or self._pid != os.getpid():
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file["data"]

    def close(self) -> None:
        """Close the HDF5 handle of this process, if any."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None

    def read(self, start_ts: int, num_tbins: int, delta_t: int) -> np.ndarray:
        """Read ``num_tbins`` rows from ``start_ts`` (µs).

        Returns:
            ``(num_tbins, C, height, width)`` float32; rows past the end of the file are zeros.
        """
        if delta_t != self.delta_t:
            raise ConfigError(f"{self.path}: stored delta_t is {self.delta_t} µs, the loader asks for {delta_t} µs")
        first = (start_ts - self.start_ts) // delta_t
        data = np.asarray(self._dataset()[first : first + num_tbins])
        data = data.astype(np.float32) / 255.0 if data.dtype == np.uint8 else data.astype(np.float32)
        if len(data) < num_tbins:
            pad = np.zeros((num_tbins - len(data), *data.shape[1:]), np.float32)
            data = np.concatenate([data, pad])
        return resize_features(data, self.height, self.width)


class EventFileSource:
    """An event recording turned into features on the fly.

    Args:
        path: event file readable by :mod:`evflow.io`.
        preprocess: preprocessing name (registry of :mod:`evflow.preprocessing`).
        height, width: output resolution (``None`` keeps the sensor's).
        preprocess_kwargs: keyword arguments of the preprocessing.
    """

    def __init__(self, path, preprocess: str, height=None, width=None, preprocess_kwargs: dict | None = None):
        from evflow.io import load_events, read_geometry

        self.path = os.fspath(path)
        self.preprocess = preprocess
        self.preprocess_kwargs = dict(preprocess_kwargs or {})
        events = load_events(self.path)
        geometry = read_geometry(self.path)
        if geometry is None:
            if len(events) == 0:
                raise EventFileError(self.path, "no sensor size in the header and no events to infer it from")
            geometry = (int(events["y"].max()) + 1, int(events["x"].max()) + 1)
        self.sensor_height, self.sensor_width = (int(v) for v in geometry)
        self.height = int(height or self.sensor_height)
        self.width = int(width or self.sensor_width)
        self.start_ts = 0
        self.duration = int(events["t"][-1]) + 1 if len(events) else 0
        self._processors = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_processors"] = {}
        return state

    def _processor(self, num_tbins: int):
        from evflow.preprocessing import CDProcessor

        if num_tbins not in self._processors:
            self._processors[num_tbins] = CDProcessor(
                self.sensor_height,
                self.sensor_width,
                num_tbins=num_tbins,
                preprocessing=self.preprocess,
                preprocess_kwargs=self.preprocess_kwargs,
            )
        return self._processors[num_tbins]

    def read_events(self, start_ts: int, duration: int) -> np.ndarray:
        """Events of ``[start_ts, start_ts + duration)`` with absolute timestamps."""
        from evflow.io import EventsIterator

        it = EventsIterator(self.path, mode="delta_t", delta_t=duration, start_ts=start_ts, max_duration=duration)
        parts = [ev for ev in it]
        if not parts:
            from evflow.io.events import empty_events

            return empty_events(0)
        events = np.concatenate(parts)
        return events[(events["t"] >= start_ts) & (events["t"] < start_ts + duration)]

    def read(self, start_ts: int, num_tbins: int, delta_t: int) -> np.ndarray:
        """Preprocess the ``num_tbins * delta_t`` µs window starting at ``start_ts`` (micro bins span it all).

        Returns:
            ``(num_tbins, C, height, width)`` float32.
        """
        total = num_tbins * delta_t
        events = self.read_events(start_ts, total)
        features = np.asarray(self._processor(num_tbins)(events, delta_t=total, start_ts=start_ts), dtype=np.float32)
        if features.shape[0] != num_tbins:
            raise ShapeError(f"{self.path}: preprocessing returned {features.shape}, expected {num_tbins} bins")
        return resize_features(features, self.height, self.width)


def open_source(path, preprocess: str, height=None, width=None, preprocess_kwargs=None):
    """Open ``path`` as a :class:`TensorFileSource` (HDF5 with ``data``) or an :class:`EventFileSource`."""
    if is_tensor_file(path):
        src = TensorFileSource(path, height, width)
        if src.preprocess and preprocess and src.preprocess != preprocess:
            raise ConfigError(f"{path}: features were computed with {src.preprocess!r}, the model uses {preprocess!r}")
        return src
    return EventFileSource(path, preprocess, height, width, preprocess_kwargs)


def list_recordings(folder: str | os.PathLike) -> list[str]:
    """Recordings of ``folder`` (sorted): tensor and event files, excluding ``*_flow.h5`` label files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"dataset folder {folder} does not exist")
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in EVENT_EXTENSIONS and not p.stem.endswith("_flow")
    ]
    return sorted(os.fspath(p) for p in files)
