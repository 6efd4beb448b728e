"""Dense flow labels for the bins of a segment, read from the recording's ``*_flow.h5`` file.

The label of time bin ``[s, s + delta_t)`` is the ground-truth interval ``[gs, ge)`` that covers it
(``gs <= s`` and ``s + delta_t <= ge``), rescaled to pixels per ``delta_t`` (``× delta_t / (ge - gs)``) and to the
tensor's resolution (positions resampled, ``u × W/W_gt``, ``v × H/H_gt``). Bins that no interval covers are
not labelled. (The original took the interval *ending* at the bin start, an off-by-one, reference §22 #11.)
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np


def label_path_for(path: str | os.PathLike) -> Path:
    """``rec_td.dat`` / ``rec_cd.raw`` / ``rec.h5`` → ``rec_flow.h5`` next to it."""
    path = Path(path)
    stem = path.stem
    for suffix in ("_td", "_cd"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return path.with_name(f"{stem}_flow.h5")


@lru_cache(maxsize=64)
def _intervals(path: str, mtime: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    import h5py

    with h5py.File(path, "r") as f:
        return f["flow_start_ts"][...].astype(np.int64), f["flow_end_ts"][...].astype(np.int64), f["flow"].shape[2:]


def _read_rows(path: str, rows: list[int]) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        return np.stack([f["flow"][r] for r in rows]).astype(np.float32)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize ``(2, h, w)`` pixel flow to ``(2, height, width)``, rescaling the vectors; invalid stays ``inf``.

    Shape:
        flow: ``(2, h, w)``; returns ``(2, height, width)`` float32.
    """
    h, w = flow.shape[-2:]
    if (h, w) == (height, width):
        return flow.astype(np.float32)
    valid = np.isfinite(flow).all(axis=0).astype(np.float32)
    clean = np.where(np.isfinite(flow), flow, 0.0).astype(np.float32)
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    u = cv2.resize(clean[0], (width, height), interpolation=interp) * (width / w)
    v = cv2.resize(clean[1], (width, height), interpolation=interp) * (height / h)
    ok = cv2.resize(valid, (width, height), interpolation=interp) > 0.999
    return np.where(ok[None], np.stack([u, v]), np.inf).astype(np.float32)


def covering_intervals(start_ts: np.ndarray, end_ts: np.ndarray, bin_starts: np.ndarray, delta_t: int) -> np.ndarray:
    """Index of the GT interval covering each bin, ``-1`` where none does."""
    if len(start_ts) == 0:
        return np.full(len(bin_starts), -1, dtype=np.int64)
    idx = np.searchsorted(start_ts, bin_starts, side="right") - 1
    ok = (idx >= 0) & (end_ts[np.clip(idx, 0, None)] >= bin_starts + delta_t)
    return np.where(ok, idx, -1)


def load_flow_labels(path, start_time: int, num_tbins: int, delta_t: int, height: int, width: int):
    """Labels of the ``num_tbins`` bins starting at ``start_time`` (µs).

    Args:
        path: the recording (its label file is :func:`label_path_for`).
        start_time: first µs of the first bin.
        num_tbins, delta_t: bins and bin length (µs).
        height, width: resolution of the features (labels are resampled to it).

    Returns:
        ``(labels, frame_is_labeled)``: list of ``num_tbins`` float32 arrays ``(2, height, width)`` (zeros where
        unlabelled; ``inf`` marks invalid pixels) and a bool array ``(num_tbins,)``.
    """
    labels = [np.zeros((2, height, width), np.float32) for _ in range(num_tbins)]
    is_labeled = np.zeros(num_tbins, dtype=bool)
    label_file = label_path_for(path)
    if not label_file.is_file():
        return labels, is_labeled
    starts, ends, _ = _intervals(os.fspath(label_file), label_file.stat().st_mtime)
    bins = int(start_time) + np.arange(num_tbins, dtype=np.int64) * int(delta_t)
    idx = covering_intervals(starts, ends, bins, int(delta_t))
    rows = sorted({int(i) for i in idx if i >= 0})
    if not rows:
        return labels, is_labeled
    flows = dict(zip(rows, _read_rows(os.fspath(label_file), rows)))
    for k, i in enumerate(idx):
        if i < 0:
            continue
        scale = float(delta_t) / float(ends[i] - starts[i])
        labels[k] = resize_flow(flows[int(i)] * scale, height, width)
        is_labeled[k] = True
    return labels, is_labeled
