"""Training throughput of FlowModel (eminet, event_cube) at 240x320, T=4, B=4 on CPU, and loader throughput.

Run: ``.venv/bin/python bench/bench_training.py [--steps N]``. A *sample* is one batch row of T bins (one
sequence chunk); ``bins/s`` counts time bins (T per sample).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from evflow.data.sequential import SequentialDataLoader
from evflow.flow.lightning_model import FlowModel

T, B, C, H, W = 4, 4, 6, 240, 320
DT = 50_000


def sparse_inputs(rng, shape, density=0.05) -> torch.Tensor:
    x = np.where(rng.random(shape) < density, rng.random(shape), 0.0).astype(np.float32)
    return torch.from_numpy(x)


def bench_train(arch: str, base: int, steps: int) -> dict:
    torch.manual_seed(0)
    model = FlowModel(delta_t=DT, array_dim=(T, C, H, W), learning_rate=1e-4, feature_extractor_name=arch,
                      network_kwargs={"base": base, "separable": True, "rnn_cell": "lstm"})  # fmt: skip
    opt = model.configure_optimizers()
    x = sparse_inputs(np.random.default_rng(0), (T, B, C, H, W))
    mask = torch.ones(B, 1, 1, 1)

    def step():
        model.network.reset(mask)
        loss = sum(model.compute_loss(x).values())
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    return {"what": f"train step {arch} base {base}", "s_per_step": dt, "samples_s": B / dt, "bins_s": T * B / dt}


def bench_loader(workers: int, steps: int, folder: Path) -> dict:
    files = sorted(str(p) for p in folder.glob("*.h5"))
    loader = SequentialDataLoader(files, DT, "event_cube", (T, C, H, W), batch_size=B, num_workers=workers)
    it = iter(loader)
    next(it)
    t0 = time.perf_counter()
    n = 0
    for _ in range(min(steps, len(loader) - 1)):
        next(it)
        n += 1
    dt = (time.perf_counter() - t0) / max(1, n)
    return {"what": f"loader HDF5 workers={workers}", "s_per_step": dt, "samples_s": B / dt, "bins_s": T * B / dt}


def write_files(folder: Path, rows: int = 60) -> None:
    rng = np.random.default_rng(1)
    for i in range(B):
        data = np.where(rng.random((rows, C, H, W)) < 0.05, rng.random((rows, C, H, W)), 0).astype(np.float32)
        with h5py.File(folder / f"rec{i}.h5", "w") as f:
            d = f.create_dataset("data", data=data, chunks=(1, C, H, W), compression="gzip")
            d.attrs["delta_t"] = DT
            d.attrs["events_to_tensor"] = np.bytes_("event_cube")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    rows = [bench_train("eminet", 16, args.steps)]
    with tempfile.TemporaryDirectory() as tmp:
        write_files(Path(tmp))
        rows += [bench_loader(w, 10, Path(tmp)) for w in (0, 2)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, T={T} B={B} C={C} {H}x{W}")
    print(f"{'what':34s} {'s/step':>8s} {'samples/s':>10s} {'bins/s':>8s}")
    for r in rows:
        print(f"{r['what']:34s} {r['s_per_step']:8.3f} {r['samples_s']:10.2f} {r['bins_s']:8.2f}")


if __name__ == "__main__":
    main()
