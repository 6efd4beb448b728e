"""Streaming writer of flow files: same layout as :func:`evflow.data.flow_file.write_flow_file`, bounded memory.

``evflow infer`` appends one row per window instead of holding the whole ``(N, 2, H, W)`` array; the file is
written under a temporary name and renamed on :meth:`FlowFileWriter.close` (nothing half-written is left at
the output path; :meth:`FlowFileWriter.abort` removes the temporary file).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from evflow.data.flow_file import FLOW_FORMAT_VERSION
from evflow.errors import ShapeError


class FlowFileWriter:
    """Append flow rows ``(2, H, W)`` with their interval bounds to a ``*_flow.h5`` file.

    Args:
        path: output ``.h5`` path.
        height, width: flow size.
        delta_t: nominal interval (µs), stored as the ``delta_t`` attribute.
        **attrs: extra attributes of ``flow`` (``events_to_tensor``, ``checkpoint_path``, ``input_file_name``...).
    """

    def __init__(self, path, height: int, width: int, delta_t: int, **attrs):
        import h5py

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        self.shape = (2, int(height), int(width))
        self._file = h5py.File(self.tmp, "w")
        self._flow = self._file.create_dataset(
            "flow", (0, *self.shape), np.float32, chunks=(1, *self.shape), maxshape=(None, *self.shape),
            compression="gzip", compression_opts=4,
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
        """Add one interval: ``flow`` ``(2, H, W)`` px over ``[start_ts, end_ts)``."""
        if tuple(flow.shape) != self.shape:
            raise ShapeError(f"{self.path}: flow row must be {self.shape}, got {tuple(flow.shape)}")
        if end_ts <= start_ts:
            raise ShapeError(f"{self.path}: empty interval [{start_ts}, {end_ts})")
        n = self.count
        for dset in (self._flow, self._start, self._end):
            dset.resize(n + 1, axis=0)
        self._flow[n] = np.nan_to_num(flow.astype(np.float32, copy=False), nan=np.inf)
        self._start[n], self._end[n] = int(start_ts), int(end_ts)
        self.count = n + 1

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
