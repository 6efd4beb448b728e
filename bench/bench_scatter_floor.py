"""Lower bounds for one ``event_cube`` call on this CPU: what streaming the events, zeroing the output and the
clamped read-modify-writes cost on their own, next to the real kernel.

Same case as ``bench_preprocessing.py`` (5 bins x 6 channels, 480x640, 4 M events in 250 ms, one thread).
The event cube needs two clamped accumulations per event (one per micro bin share). This script times:

- ``stream``: one numba pass that reads every field of every event (16 bytes each) and nothing else;
- ``memset``: zeroing the 37 MB output (``reset=True``);
- ``rmw <case>``: the 2 N accumulations alone, from offsets and increments computed beforehand, with the same
  prefetching as the kernel: at the kernel's own target cells ("kernel cells") and at random cells of a 16 KB
  block that stays in L1 (no cache miss at all: the CPU's floor for dependent load-add-min-store sequences);
- ``event_cube``: the shipped kernel (decode, range check, prefetch ring, accumulations, memset).

``stream + memset + rmw (L1)`` is what a kernel with a free decode could reach; the printed ceiling divides the
events by it. Usage: ``.venv/bin/python bench/bench_scatter_floor.py [--events N] [--repeats R] [--quick]``
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_preprocessing import WINDOW, C, H, T, W, edge_events, uniform_events  # noqa: E402
from evflow.preprocessing import event_cube  # noqa: E402
from evflow.preprocessing._common import prefetch, zero_output  # noqa: E402
from evflow.preprocessing.event_cube import PREFETCH_DISTANCE  # noqa: E402


@njit(cache=True)
def _stream(ev):
    s = 0
    for i in range(ev.shape[0]):
        e = ev[i]
        s += np.int64(e.x) + np.int64(e.y) + np.int64(e.p) + np.int64(e.t)
    return s


@njit(cache=True)
def _rmw(flat, off, inc, dist):
    one = flat.dtype.type(1.0)
    m = off.shape[0]
    for j in range(m):
        if j + dist < m:
            prefetch(flat, off[j + dist])
        u = np.uint64(off[j])
        flat[u] = min(flat[u] + inc[j], one)


def kernel_cells(ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2 N (cell, increment) pairs of the event cube, in the kernel's order (share a, then b, per event)."""
    n = T * (C // 2)
    plane = H * W
    tau1 = ev["t"].astype(np.float64) * (n / WINDOW) + 0.5
    right = tau1.astype(np.int64)
    k = np.float32(1.0 / 5.0)
    inc_r = (tau1 - right).astype(np.float32) * k
    inc_l = k - inc_r
    base = ev["y"].astype(np.int64) * W + ev["x"] + ev["p"].astype(np.int64) * plane
    a = (right - 1) * 2 * plane + base
    b = a + 2 * plane
    a_ok, b_ok = right >= 1, right < n
    off = np.stack([np.where(a_ok, a, b), np.where(b_ok, b, a)], axis=1).reshape(-1)
    inc = np.stack([np.where(a_ok, inc_l, 0), np.where(b_ok, inc_r, 0)], axis=1).reshape(-1).astype(np.float32)
    return off, inc


def check_cells(ev, out, off, inc, dist) -> None:
    """Fail unless accumulating ``(off, inc)`` gives event_cube's output bit for bit (the timed work is real)."""
    expected = event_cube(ev, out, WINDOW).copy()
    zero_output(out)
    _rmw(out.reshape(-1), off, inc, dist)
    if not np.array_equal(out, expected):
        raise AssertionError("kernel_cells no longer matches event_cube: update it with the kernel")


def best_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=4_000_000)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--quick", action="store_true", default=os.environ.get("EVFLOW_BENCH_QUICK") == "1")
    args = p.parse_args()
    if args.quick:
        args.events, args.repeats = 500_000, 3
    out = np.zeros((T, C, H, W), np.float32)
    flat = out.reshape(-1)
    rng = np.random.default_rng(1)
    dist = 2 * PREFETCH_DISTANCE  # two accumulations per event
    print(f"one event_cube call: {args.events:,} events, {T}x{C}x{H}x{W} float32 ({out.nbytes / 2**20:.0f} MB), "
          f"one thread, best of {args.repeats}\n")  # fmt: skip
    print("| events | stream | memset | rmw kernel cells | rmw L1 block | floor (stream+memset+rmw L1) | "
          "ceiling Mev/s | event_cube | event_cube Mev/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, ev in (("edges", edge_events(args.events, WINDOW)), ("uniform", uniform_events(args.events, WINDOW))):
        off, inc = kernel_cells(ev)
        check_cells(ev, out, off, inc, dist)
        l1 = rng.integers(0, 4096, off.shape[0])
        ms = {
            "stream": best_ms(partial(_stream, ev), args.repeats),
            "memset": best_ms(partial(zero_output, out), args.repeats),
            "rmw": best_ms(partial(_rmw, flat, off, inc, dist), args.repeats),
            "rmw_l1": best_ms(partial(_rmw, flat, l1, inc, dist), args.repeats),
            "kernel": best_ms(partial(event_cube, ev, out, WINDOW), args.repeats),
        }
        floor = ms["stream"] + ms["memset"] + ms["rmw_l1"]
        n = len(ev)
        cells = " | ".join(f"{ms[k]:.1f} ms" for k in ("stream", "memset", "rmw", "rmw_l1"))
        rates = f"{floor:.1f} ms | {n / floor / 1e3:.0f} | {ms['kernel']:.1f} ms | {n / ms['kernel'] / 1e3:.0f}"
        print(f"| {name} | {cells} | {rates} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
