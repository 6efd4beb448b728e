"""Benchmark ``event_cube`` (5 bins, 6 channels, 480x640) and ``evflow precompute``; prints a markdown table.

Compared on one CPU thread: the numba kernel, its torch twin (CPU), a plain numpy ``np.add.at`` version of the
same formula, and tonic's ``ToVoxelGrid`` (15 signed bins, the nearest equivalent) when tonic is importable.
tonic is not an evflow dependency: install it elsewhere, e.g. ``pip install --target /tmp/tonic_pkg tonic``
(plus its dependencies); this script appends ``/tmp/tonic_pkg`` (or ``$TONIC_PATH``) to ``sys.path`` and skips
tonic when the import fails. Two event distributions: "edges" (events along a dozen moving edges, the locality
of real recordings) and "uniform" (uniformly random pixels, the worst case for caches); plus, when
``../shared/data`` is present next to the repository, the two real 640x480 Prophesee recordings there (each cut
into 5 bins over its own time span, so the per-call cost of zeroing the 37 MB output weighs more).

Usage: ``.venv/bin/python bench/bench_preprocessing.py [--quick] [--no-precompute]``
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from evflow.io import load_events, make_events, write_events  # noqa: E402
from evflow.preprocessing import event_cube, event_cube_torch, events_to_torch  # noqa: E402

H, W, T, C = 480, 640, 5, 6
WINDOW = 250_000  # µs: 5 bins of 50 ms
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL = ("evt2_sample.raw", "sparklers.raw")  # 640x480 Gen3 recordings (spinning dot, sparklers)


def edge_events(n: int, duration: int, seed: int = 0) -> np.ndarray:
    """``n`` events along 12 straight edges (200 px long) moving at 50-500 px/s, time-sorted."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration, n))
    k = rng.integers(0, 12, n)
    angle = k * 0.5
    speed = 50.0 + 40.0 * k
    centre_x = (k * 53 + speed * t / 1e6) % W
    centre_y = (k * 97 + 0.5 * speed * t / 1e6) % H
    s = rng.uniform(-100, 100, n)
    x = (centre_x + s * np.cos(angle) + rng.normal(0, 1.0, n)) % W
    y = (centre_y + s * np.sin(angle) + rng.normal(0, 1.0, n)) % H
    return make_events(x.astype(np.int64), y.astype(np.int64), rng.integers(0, 2, n), t)


def uniform_events(n: int, duration: int, seed: int = 0) -> np.ndarray:
    """``n`` events at uniformly random pixels and times, time-sorted."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, duration, n))
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t)


def real_recordings() -> list[tuple[str, np.ndarray, int]]:
    """``(name, events, window)`` of the real 640x480 recordings found in ``../shared/data`` (times from 0)."""
    found = []
    for name in REAL:
        path = SHARED_DATA / name
        if not path.is_file():
            continue
        ev = load_events(path)
        ev["t"] -= ev["t"][0]
        window = -(-(int(ev["t"][-1]) + 1) // T) * T  # a multiple of T covering every event
        found.append((f"real {name}", ev, window))
    return found


def numpy_add_at(events, out, total, max_incr=5.0):
    """The same event cube with plain numpy (``np.add.at``), what a user would write without numba."""
    n = T * (C // 2)
    tau = events["t"].astype(np.float64) * (n / total) - 0.5
    left = np.floor(tau).astype(np.int64)
    w_right = tau - left
    pix = events["y"].astype(np.int64) * W + events["x"] + events["p"].astype(np.int64) * H * W
    flat = out.reshape(-1)
    out.fill(0)
    for b, w in ((left, 1.0 - w_right), (left + 1, w_right)):
        keep = (b >= 0) & (b < n)
        tb, d = np.divmod(b[keep], C // 2)
        np.add.at(flat, (tb * C + 2 * d) * H * W + pix[keep], w[keep] / max_incr)
    np.clip(out, -1, 1, out=out)


def load_tonic():
    """Return tonic's ToVoxelGrid class or None (tonic is only looked for outside the project)."""
    path = os.environ.get("TONIC_PATH", "/tmp/tonic_pkg")
    if os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)  # appended: the project's own numpy/numba keep precedence
    try:
        from tonic.transforms import ToVoxelGrid
    except Exception as exc:  # noqa: BLE001 - any import problem means "skip tonic"
        print(f"(tonic not available: {type(exc).__name__}: {exc}; skipped)")
        return None
    return ToVoxelGrid


def timed(fn) -> tuple[float, float]:
    """Wall time and CPU time (process time: less disturbed by a shared machine) of one call of ``fn``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def bench_kernels(n_fast: int, n_slow: int, repeats: int) -> list[tuple]:
    """Best wall and CPU time of each implementation over ``repeats`` interleaved rounds.

    Every round times every implementation once, so a slow phase of a shared VM hits all of them alike and the
    speed-up ratios stay fair.
    """
    torch.set_num_threads(1)
    voxel = load_tonic()
    out = np.zeros((T, C, H, W), np.float32)
    tout = torch.zeros(T, 1, C, H, W)
    rows = []
    sets = [("edges", edge_events(n_fast, WINDOW), WINDOW), ("uniform", uniform_events(n_fast, WINDOW), WINDOW)]
    for dist, ev, window in sets + real_recordings():
        small = ev[:: max(1, n_fast // n_slow)]
        tev = events_to_torch(ev)
        cases = [
            ("numba event_cube", len(ev), partial(event_cube, ev, out, window)),
            ("torch twin (CPU)", len(ev), partial(event_cube_torch, tev, tout, window)),
            ("numpy np.add.at", len(small), partial(numpy_add_at, small, out, window)),
        ]
        if voxel is not None:
            tr = voxel(sensor_size=(W, H, 2), n_time_bins=T * C // 2)
            cases.append(("tonic ToVoxelGrid", len(small), partial(tr, small)))
        for _, _, fn in cases:
            fn()  # warm-up (numba compile, caches)
        times = [[timed(fn) for _, _, fn in cases] for _ in range(repeats)]
        for c, (name, n, _) in enumerate(cases):
            wall = min(r[c][0] for r in times)
            cpu = min(r[c][1] for r in times)
            rows.append((dist, name, n, wall, n / wall / 1e6, n / cpu / 1e6))
    return rows


def bench_precompute(n_events: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec_td.dat"
        write_events(path, edge_events(n_events, 10_000_000, seed=1), H, W)
        cmd = [sys.executable, "-m", "evflow", "precompute", str(path), "-o", str(Path(tmp) / "out"),
               "--preprocess", "event_cube", "--delta-t", "50000", "--no-progress"]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return n_events, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", default=os.environ.get("EVFLOW_BENCH_QUICK") == "1")
    p.add_argument("--no-precompute", action="store_true")
    args = p.parse_args()
    n_fast, n_slow, reps = (500_000, 500_000, 2) if args.quick else (4_000_000, 4_000_000, 10)
    rows = bench_kernels(n_fast, n_slow, reps)
    ref = {(row[0], row[1]): row[5] for row in rows}
    print(f"\nevent_cube throughput, {T} bins x {C} channels, {H}x{W}, one thread (best of {reps} rounds)\n")
    print("| events | implementation | events timed | wall (ms) | Mev/s wall | Mev/s CPU time | numba speed-up (CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for dist, name, n, secs, rate, cpu_rate in rows:
        speedup = ref[(dist, "numba event_cube")] / cpu_rate
        print(f"| {dist} | {name} | {n:,} | {secs * 1e3:.1f} | {rate:.1f} | {cpu_rate:.1f} | {speedup:.1f}x |")
    if not args.no_precompute:
        n_ev, secs = bench_precompute(1_000_000 if args.quick else 10_000_000)
        print(f"\n`evflow precompute` (event_cube, delta_t 50 ms, gzip) of a 10 s 640x480 DAT recording with "
              f"{n_ev:,} events: {secs:.1f} s wall ({n_ev / secs / 1e6:.2f} Mev/s, 200 rows)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
