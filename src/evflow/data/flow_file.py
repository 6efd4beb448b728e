"""Dense flow files (``*_flow.h5``): ground truth written by ``evflow synth``, estimates written by ``evflow infer``.

Layout (Prophesee-compatible, reference §14, plus ``format_version``):

* dataset ``flow``: ``(N, 2, H, W)`` float32, channel 0 = dx (right), channel 1 = dy (down), in pixels of
  displacement over interval ``i``. Non-finite values mark invalid pixels.
* datasets ``flow_start_ts`` and ``flow_end_ts``: ``(N,)`` int64 µs, the half-open interval of each row.
* attributes on ``flow``: ``event_input_height``, ``event_input_width`` (equal to H, W), ``delta_t`` (µs, always
  written here), ``format_version``, and any extra string/number attributes given by the writer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evflow.errors import EventFileError, ShapeError

FLOW_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FlowFile:
    """Content of a flow file, loaded in memory.

    Attributes:
        flow: ``(N, 2, H, W)`` float32 displacements in pixels.
        start_ts, end_ts: ``(N,)`` int64 interval bounds in µs.
        delta_t: nominal interval length in µs (``end_ts - start_ts`` when uniform).
        height, width: flow resolution.
        attrs: every attribute found on the ``flow`` dataset.
    """

    flow: np.ndarray
    start_ts: np.ndarray
    end_ts: np.ndarray
    delta_t: int
    height: int
    width: int
    attrs: dict = field(default_factory=dict)


def _check_flow_arrays(flow: np.ndarray, start_ts: np.ndarray, end_ts: np.ndarray) -> None:
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ShapeError(f"flow must have shape (N, 2, H, W), got {flow.shape}")
    n = flow.shape[0]
    if start_ts.shape != (n,) or end_ts.shape != (n,):
        raise ShapeError(
            f"flow_start_ts and flow_end_ts must have shape ({n},), got {start_ts.shape} and {end_ts.shape}"
        )
    if n and np.any(end_ts <= start_ts):
        i = int(np.flatnonzero(end_ts <= start_ts)[0])
        raise ShapeError(f"interval {i} is empty or reversed: [{start_ts[i]}, {end_ts[i]})")
    if n > 1 and np.any(start_ts[1:] < start_ts[:-1]):
        raise ShapeError("flow_start_ts must be non-decreasing")
    if np.isnan(flow).any():
        raise ShapeError("flow contains NaN (use +inf to mark invalid pixels)")


class FlowFileWriter:
    """Append flow rows with their interval bounds to a ``*_flow.h5`` file (bounded memory, atomic).

    ``evflow infer`` appends one row per window; :func:`write_flow_file` appends a whole array at once. The file
    is written under a temporary name and renamed by :meth:`close`; :meth:`abort` (or an exception inside a
    ``with`` block) removes the temporary file, so nothing half-written is left at ``path``.

    Args:
        path: output ``.h5`` path.
        height, width: flow size.
        delta_t: nominal interval (µs), stored as the ``delta_t`` attribute.
        **attrs: extra attributes of ``flow`` (``events_to_tensor``, ``checkpoint_path``, ``input_file_name``...).
    """

    def __init__(self, path: str | os.PathLike, height: int, width: int, delta_t: int, **attrs):
        import h5py

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        self.shape = (2, int(height), int(width))
        self._file = h5py.File(self.tmp, "w")
        self._flow = self._file.create_dataset(
            "flow", (0, *self.shape), np.float32, chunks=(1, *self.shape), maxshape=(None, *self.shape),
            compression="gzip", compression_opts=1, shuffle=True,
        )  # fmt: skip
        self._start = self._file.create_dataset("flow_start_ts", (0,), np.int64, maxshape=(None,), chunks=(4096,))
        self._end = self._file.create_dataset("flow_end_ts", (0,), np.int64, maxshape=(None,), chunks=(4096,))
        a = self._flow.attrs
        a["event_input_height"], a["event_input_width"] = int(height), int(width)
        a["delta_t"], a["format_version"] = int(delta_t), FLOW_FORMAT_VERSION
        for key, value in attrs.items():
            a[key] = value
        self.count = 0

    def append(self, flow: np.ndarray, start_ts: int, end_ts: int) -> None:
        """Add one interval: ``flow`` ``(2, H, W)`` px over ``[start_ts, end_ts)``; NaN is stored as +inf (invalid)."""
        if tuple(flow.shape) != self.shape:
            raise ShapeError(f"{self.path}: flow row must be {self.shape}, got {tuple(flow.shape)}")
        flow = np.nan_to_num(np.asarray(flow, dtype=np.float32), nan=np.inf)
        self.append_rows(flow[None], np.array([start_ts]), np.array([end_ts]))

    def append_rows(self, flow: np.ndarray, start_ts: np.ndarray, end_ts: np.ndarray) -> None:
        """Add ``n`` intervals at once: ``flow`` ``(n, 2, H, W)`` float32, bounds ``(n,)`` int64 µs."""
        if tuple(flow.shape[1:]) != self.shape:
            raise ShapeError(f"{self.path}: flow rows must be (n, *{self.shape}), got {tuple(flow.shape)}")
        if np.any(end_ts <= start_ts):
            i = int(np.flatnonzero(end_ts <= start_ts)[0])
            raise ShapeError(f"{self.path}: empty interval [{start_ts[i]}, {end_ts[i]})")
        n, k = self.count, len(flow)
        for dset in (self._flow, self._start, self._end):
            dset.resize(n + k, axis=0)
        self._flow[n : n + k] = flow
        self._start[n : n + k], self._end[n : n + k] = start_ts, end_ts
        self.count = n + k

    def close(self) -> Path:
        """Finish the file and move it to its final name."""
        self._file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        try:
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
        return False


def write_flow_file(
    path: str | os.PathLike,
    flow: np.ndarray,
    start_ts: np.ndarray,
    end_ts: np.ndarray,
    delta_t: int | None = None,
    **attrs,
) -> Path:
    """Write a whole flow array to a flow file atomically (temporary name, then rename).

    Args:
        path: output ``.h5`` path.
        flow: ``(N, 2, H, W)`` displacements in pixels (cast to float32).
        start_ts, end_ts: ``(N,)`` interval bounds in µs.
        delta_t: nominal interval length in µs; defaults to the median of ``end_ts - start_ts``.
        **attrs: extra attributes stored on ``flow`` (e.g. ``events_to_tensor``, ``checkpoint_path``).

    Returns:
        The written path.

    Raises:
        ShapeError: inconsistent shapes, empty intervals or NaN values.
    """
    flow = np.asarray(flow, dtype=np.float32)
    start_ts = np.asarray(start_ts, dtype=np.int64)
    end_ts = np.asarray(end_ts, dtype=np.int64)
    _check_flow_arrays(flow, start_ts, end_ts)
    if delta_t is None:
        delta_t = int(np.median(end_ts - start_ts)) if len(start_ts) else 0
    with FlowFileWriter(path, flow.shape[2], flow.shape[3], delta_t, **attrs) as writer:
        writer.append_rows(flow, start_ts, end_ts)
    return Path(path)


def read_flow_file(path: str | os.PathLike) -> FlowFile:
    """Read a flow file written by evflow or by Prophesee's tools.

    Files without ``delta_t`` (Prophesee's ground-truth generators omit it) get it from the intervals.

    Raises:
        EventFileError: missing file, not HDF5, or missing ``flow``/timestamp datasets.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise EventFileError(path, "flow file not found" if not path.exists() else "not a regular file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise EventFileError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        for key in ("flow", "flow_start_ts", "flow_end_ts"):
            if key not in f:
                raise EventFileError(path, f"missing dataset {key!r} (has {sorted(f.keys())})")
        dset = f["flow"]
        flow = dset[...].astype(np.float32, copy=False)
        start_ts = f["flow_start_ts"][...].astype(np.int64)
        end_ts = f["flow_end_ts"][...].astype(np.int64)
        attrs = {k: _plain(v) for k, v in dset.attrs.items()}
    try:
        _check_flow_arrays(flow, start_ts, end_ts)
    except ShapeError as exc:
        raise EventFileError(path, str(exc)) from None
    h, w = flow.shape[2:]
    for key, expected in (("event_input_height", h), ("event_input_width", w)):
        if key in attrs and int(attrs[key]) != expected:
            raise EventFileError(path, f"attribute {key}={attrs[key]} does not match the flow shape {flow.shape}")
    delta_t = attrs.get("delta_t")
    if delta_t is None:
        delta_t = int(np.median(end_ts - start_ts)) if len(start_ts) else 0
    return FlowFile(flow, start_ts, end_ts, int(delta_t), int(h), int(w), attrs)


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value
