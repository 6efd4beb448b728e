"""Inputs of streaming flow inference: windows of ``delta_t`` from an event file or from an HDF5 tensor file.

Both sources yield :class:`Window` objects one at a time (bounded memory) with absolute interval bounds:
event files follow the ``EventsIterator`` grid anchored at ``start_ts``; tensor-file row ``i`` covers
``[t0 + i·delta_t, t0 + (i+1)·delta_t)`` with ``t0`` the file's ``start_ts`` attribute (0 when absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evflow.errors import ConfigError

TENSOR_SUFFIXES = (".h5", ".hdf5")


@dataclass
class Window:
    """One inference step.

    Attributes:
        start_ts, end_ts: interval bounds (µs, absolute).
        tensor: ``(C, H, W)`` float32 network input.
        events: the interval's events (sensor coordinates), None for tensor-file inputs.
        sensor: ``(height, width)`` of the sensor the events come from.
    """

    start_ts: int
    end_ts: int
    tensor: np.ndarray
    events: np.ndarray | None = None
    sensor: tuple[int, int] | None = None


def resize_tensor(tensor: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize every channel of ``(C, H, W)`` with area interpolation (a no-op at the same size)."""
    import cv2

    if tensor.shape[1:] == (height, width):
        return tensor
    planes = [cv2.resize(c.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) for c in tensor]
    return np.stack(planes).astype(np.float32)


def plan_size(sensor: tuple[int, int], height_width) -> tuple[int, tuple[int, int]]:
    """``(downsampling_factor, tensor size)``: a power-of-two shift when it gives ``height_width`` exactly."""
    h0, w0 = sensor
    if height_width is None:
        return 0, (h0, w0)
    h, w = (int(v) for v in height_width)
    if h <= 0 or w <= 0 or h > h0 or w > w0:
        raise ConfigError(f"--height-width {h} {w} must be positive and at most the sensor size {h0}x{w0}")
    for ds in range(6):
        if h0 % (1 << ds) == 0 and w0 % (1 << ds) == 0 and (h0 >> ds, w0 >> ds) == (h, w):
            return ds, (h, w)
    return 0, (h, w)


class EventWindows:
    """Event file (DAT, RAW, HDF5 events, npy/npz) cut into ``delta_t`` windows and preprocessed.

    Args:
        path: event file.
        preprocess: preprocessing name (from the checkpoint).
        preprocess_kwargs: its kwargs (from the checkpoint).
        delta_t: window length (µs).
        start_ts: origin of the window grid; earlier events are skipped (µs).
        max_duration: stop after this many µs (None: whole file).
        height_width: tensor size (None: sensor size); other sizes than ``sensor >> k`` are area-resized.

    Raises:
        ConfigError: unknown sensor size or a bad ``height_width``.
    """

    def __init__(self, path, preprocess: str, preprocess_kwargs: dict, delta_t: int, start_ts: int = 0,
                 max_duration: int | None = None, height_width=None):  # fmt: skip
        from evflow.io import EventsIterator
        from evflow.preprocessing import CDProcessor

        self.path = Path(path)
        self.delta_t = int(delta_t)
        self.iterator = EventsIterator(path, "delta_t", self.delta_t, start_ts=start_ts, max_duration=max_duration)
        if self.iterator.height is None or self.iterator.width is None:
            raise ConfigError(f"{path}: the file does not state its sensor size; convert it with `evflow convert`")
        self.sensor = (int(self.iterator.height), int(self.iterator.width))
        ds, self.size = plan_size(self.sensor, height_width)
        self.processor = CDProcessor(*self.sensor, num_tbins=1, preprocessing=preprocess, downsampling_factor=ds,
                                     preprocess_kwargs=preprocess_kwargs, drop_out_of_range=True)  # fmt: skip
        self.start_ts = int(start_ts)
        self.total = None if max_duration is None else -(-int(max_duration) // self.delta_t)

    def __iter__(self):
        prev_end = None
        for events in self.iterator:
            end = int(self.iterator.get_current_time())
            if prev_end is None:
                first = int(events["t"][0]) if len(events) else end - self.delta_t
                prev_end = self.start_ts + (first - self.start_ts) // self.delta_t * self.delta_t
            tensor = self.processor(events, delta_t=end - prev_end, start_ts=prev_end)[0]
            tensor = resize_tensor(tensor.astype(np.float32, copy=False), *self.size)
            yield Window(prev_end, end, tensor, events.copy(), self.sensor)
            prev_end = end


class TensorWindows:
    """Rows of an HDF5 tensor file, checked against the model (preprocessing, ``delta_t``, channels, kwargs).

    Args:
        path: tensor file written by ``evflow precompute`` / ``evflow synth --precompute`` (or Prophesee's tools).
        preprocess, preprocess_kwargs, delta_t, in_channels: what the model expects.
        start_ts: rows starting before this time are skipped (µs).
        max_duration: stop after this many µs from the first served row.
        height_width: resize the rows to this size (area interpolation).

    Raises:
        ConfigError: the file was made with another preprocessing, delta_t, kwargs or channel count.
    """

    def __init__(self, path, preprocess: str, preprocess_kwargs: dict, delta_t: int, in_channels: int,
                 start_ts: int = 0, max_duration: int | None = None, height_width=None):  # fmt: skip
        from evflow.data.features import TensorFileReader

        self.path = Path(path)
        self.reader = TensorFileReader(path, expected_preprocessing=preprocess, expected_delta_t=delta_t)
        self.delta_t = int(delta_t)
        self.sensor = (self.reader.height, self.reader.width)
        c, h, w = self.reader.shape[1:]
        try:
            _check_tensor_file(self.path, self.reader.preprocess_kwargs, preprocess_kwargs, c, in_channels)
            self.size = (h, w) if height_width is None else plan_size((h, w), height_width)[1]
        except ConfigError:
            self.reader.close()
            raise
        self.origin = int(self.reader.attrs.get("start_ts", 0) or 0)
        self.first = max(0, -(-(int(start_ts) - self.origin) // self.delta_t))
        stop = len(self.reader)
        if max_duration is not None:
            stop = min(stop, self.first + -(-int(max_duration) // self.delta_t))
        self.stop = stop
        self.total = max(0, stop - self.first)

    def __iter__(self):
        try:
            for i in range(self.first, self.stop):
                tensor = resize_tensor(self.reader.read(i, i + 1)[0].astype(np.float32, copy=False), *self.size)
                start = self.origin + i * self.delta_t
                yield Window(start, start + self.delta_t, tensor, None, self.sensor)
        finally:
            self.reader.close()


def _check_tensor_file(path, file_kwargs: dict, model_kwargs: dict, channels: int, in_channels: int) -> None:
    if channels != in_channels:
        raise ConfigError(f"{path}: tensors have {channels} channels, the model expects {in_channels}")
    for key in sorted(set(file_kwargs) & set(model_kwargs)):
        a, b = file_kwargs[key], model_kwargs[key]
        same = np.allclose(a, b) if isinstance(a, int | float) and isinstance(b, int | float) else a == b
        if not same:
            raise ConfigError(f"{path}: tensors were computed with {key}={a!r}, the model expects {key}={b!r}")


def open_windows(path, preprocess: str, preprocess_kwargs: dict, delta_t: int, in_channels: int, start_ts: int = 0,
                 max_duration: int | None = None, height_width=None):  # fmt: skip
    """:class:`TensorWindows` for an HDF5 file holding a ``data`` dataset, :class:`EventWindows` otherwise."""
    path = Path(path)
    if not path.exists():
        from evflow.errors import EventFileError

        raise EventFileError(path, "input file not found")
    if path.suffix.lower() in TENSOR_SUFFIXES and _is_tensor_file(path):
        return TensorWindows(path, preprocess, preprocess_kwargs, delta_t, in_channels, start_ts, max_duration,
                             height_width)  # fmt: skip
    return EventWindows(path, preprocess, preprocess_kwargs, delta_t, start_ts, max_duration, height_width)


def _is_tensor_file(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "data" in f and getattr(f["data"], "ndim", 0) == 4
    except OSError:
        return False
