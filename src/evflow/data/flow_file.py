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


def write_flow_file(
    path: str | os.PathLike,
    flow: np.ndarray,
    start_ts: np.ndarray,
    end_ts: np.ndarray,
    delta_t: int | None = None,
    **attrs,
) -> Path:
    """Write a flow file atomically (temporary name, then rename).

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
    import h5py

    flow = np.asarray(flow, dtype=np.float32)
    start_ts = np.asarray(start_ts, dtype=np.int64)
    end_ts = np.asarray(end_ts, dtype=np.int64)
    _check_flow_arrays(flow, start_ts, end_ts)
    if delta_t is None:
        delta_t = int(np.median(end_ts - start_ts)) if len(start_ts) else 0
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            h, w = flow.shape[2:]
            chunks = (1, 2, h, w) if len(flow) else None
            dset = f.create_dataset(
                "flow",
                data=flow,
                chunks=chunks,
                maxshape=(None, 2, h, w),
                compression="gzip",
                compression_opts=1,
                shuffle=True,
            )
            f.create_dataset("flow_start_ts", data=start_ts)
            f.create_dataset("flow_end_ts", data=end_ts)
            dset.attrs["event_input_height"] = int(h)
            dset.attrs["event_input_width"] = int(w)
            dset.attrs["delta_t"] = int(delta_t)
            dset.attrs["format_version"] = FLOW_FORMAT_VERSION
            for key, value in attrs.items():
                dset.attrs[key] = value
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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
