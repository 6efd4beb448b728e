"""Tiny synthetic flow data for the training tests: HDF5 tensor files of blobs translating at known velocities."""

from __future__ import annotations

import h5py
import numpy as np

DT = 10_000
H, W = 32, 48


def moving_pattern(num_rows: int, velocity: tuple[float, float], seed: int, channels: int = 6) -> np.ndarray:
    """``(N, C, H, W)`` sparse blobs translating by ``velocity`` px per row (micro bins spread within a row)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, [W, H], size=(40, 2))
    data = np.zeros((num_rows, channels, H, W), np.float32)
    micro = channels // 2
    for n in range(num_rows):
        for d in range(micro):
            pos = pts + np.array(velocity) * (n + (d + 0.5) / micro)
            xs, ys = np.mod(np.round(pos[:, 0]).astype(int), W), np.mod(np.round(pos[:, 1]).astype(int), H)
            data[n, 2 * d + (n + d) % 2, ys, xs] = 0.6
    return data


def write_tensor_file(path, data: np.ndarray, preprocess: str = "event_cube") -> str:
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", data=data, chunks=(1, *data.shape[1:]))
        d.attrs["delta_t"] = DT
        d.attrs["events_to_tensor"] = np.bytes_(preprocess)
        d.attrs["event_input_height"], d.attrs["event_input_width"] = data.shape[2:]
    return str(path)


def tiny_hparams(**kw) -> dict:
    hp = {
        "delta_t": DT,
        "preprocess": "event_cube",
        "array_dim": [2, 6, H, W],
        "batch_size": 2,
        "num_workers": 0,
        "data_aug": False,
    }
    hp.update(kw)
    return hp
