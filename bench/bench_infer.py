"""End-to-end `evflow infer` throughput (windows/s, Mev/s) on 640x480 and 1280x720 recordings vs real time.

Recordings: random dots translating by (6, -3) px per 50 ms window, about one event per 2 pixels per window,
written as DAT. Model: the bundled checkpoint when shipped, else a freshly initialised one of the same
architecture (eminet, base 16, event_cube, delta_t 50 ms: the cost does not depend on the weights).
Each row runs the whole command in-process after a warm-up: read, preprocess, network, outputs; ``fast`` (the
default: the fused channels_last step), ``torch`` (eager) and ``onnx`` (ONNX Runtime; its one-off export of the
network is included in the wall time) are the ``--backend`` values.
"x real time" = (windows/s) · delta_t: above 1 the command keeps up with the sensor.
Run: ``.venv/bin/python bench/bench_infer.py [--quick]`` (``EVFLOW_BENCH_QUICK=1`` also selects quick sizes).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DT = 50_000


def write_recording(path: Path, height: int, width: int, windows: int, seed: int = 0) -> int:
    """Translating dots over ``windows`` windows of DT; returns the number of events."""
    from evflow.io import make_events, write_events

    rng = np.random.default_rng(seed)
    n, per = height * width // 80, 40
    x0, y0 = rng.uniform(0, width, n), rng.uniform(0, height, n)
    chunks = []
    for k in range(windows):
        t = np.sort(rng.integers(0, DT, (n, per)), axis=1) + k * DT
        x = np.rint(x0[:, None] + 6.0 * (t / DT)) % width
        y = np.rint(y0[:, None] - 3.0 * (t / DT)) % height
        p = np.repeat(rng.integers(0, 2, n), per)
        order = np.argsort(t.ravel(), kind="stable")
        chunks.append(make_events(x.ravel()[order], y.ravel()[order], p[order], t.ravel()[order]))
    events = np.concatenate(chunks)
    write_events(path, events, height, width)
    return len(events)


def model_path(tmp: Path) -> tuple[Path, str]:
    import torch

    from evflow.flow.bundled import default_checkpoint_path
    from evflow.flow.lightning_model import FlowModel

    if default_checkpoint_path().is_file():
        return default_checkpoint_path(), "bundled"
    model = FlowModel(delta_t=DT, preprocess="event_cube", array_dim=(4, 6, 240, 320))
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp / "fresh.ckpt")
    return tmp / "fresh.ckpt", "fresh eminet base 16"


def run_infer(ckpt: Path, rec: Path, extra: list[str]) -> float:
    from evflow.cli.main import main

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["infer", str(ckpt), str(rec), "--no-display", "--no-progress", "--device", "cpu", *extra])
    if rc:
        raise SystemExit(f"evflow infer failed on {rec}")
    return time.perf_counter() - t0


def main() -> int:
    import torch

    quick = "--quick" in sys.argv or os.environ.get("EVFLOW_BENCH_QUICK") == "1"
    windows = 4 if quick else 10
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ckpt, kind = model_path(tmp)
        print(f"model: {kind}; delta_t {DT} µs; {windows} windows per recording; torch threads "
              f"{torch.get_num_threads()}; CPU")  # fmt: skip
        warm = tmp / "warm.dat"
        write_recording(warm, 64, 96, 2)
        run_infer(ckpt, warm, ["-s", str(tmp / "w.h5"), "-w", str(tmp / "w.mp4")])
        print(f"{'size':>10} {'outputs':>14} {'backend':>7} {'batch':>5} {'Mev':>6} {'wall s':>7} "
              f"{'win/s':>7} {'Mev/s':>7} "
              f"{'x real time':>11}")  # fmt: skip
        for height, width in ((480, 640), (720, 1280)):
            rec = tmp / f"rec_{height}x{width}.dat"
            n = write_recording(rec, height, width, windows)
            for label, extra in (("flow h5", ["-s", str(tmp / "f.h5")]),
                                 ("flow h5 + mp4", ["-s", str(tmp / "f.h5"), "-w", str(tmp / "v.mp4")])):  # fmt: skip
                for backend, batch in (("fast", 1), ("fast", 8), ("torch", 8), ("onnx", 8)):
                    wall = run_infer(ckpt, rec, [*extra, "--batch-size", str(batch), "--backend", backend])
                    rate = windows / wall
                    print(f"{height}x{width:<4} {label:>14} {backend:>7} {batch:>5} {n / 1e6:>6.2f} "
                          f"{wall:>7.2f} {rate:>7.2f} "
                          f"{n / 1e6 / wall:>7.3f} {rate * DT / 1e6:>11.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
