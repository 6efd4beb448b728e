"""Cost of `evflow eval` per 50 ms interval: metrics (errors, FWL, RSAT) and the dis/cmax baselines.

Synthetic events: random dots translating by (6, -3) px per interval, ~1 event per 2 pixels per interval.
Run: ``.venv/bin/python bench/bench_eval.py [--quick]`` (``EVFLOW_BENCH_QUICK=1`` also selects quick sizes).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from evflow import metrics
from evflow.baselines import cmax_flow, dis_flow
from evflow.io import make_events

DT = 50_000


def translating_events(height, width, flow=(6.0, -3.0), per_point=40, seed=0):
    rng = np.random.default_rng(seed)
    n = height * width // (2 * per_point)
    x0, y0 = rng.uniform(0, width, n), rng.uniform(0, height, n)
    t = np.sort(rng.integers(0, DT, (n, per_point)), axis=1)
    x, y = np.rint(x0[:, None] + flow[0] * t / DT).ravel(), np.rint(y0[:, None] + flow[1] * t / DT).ravel()
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    order = np.argsort(t.ravel()[keep], kind="stable")
    p = np.repeat(rng.integers(0, 2, n), per_point)[keep][order]
    return make_events(x[keep][order], y[keep][order], p, t.ravel()[keep][order])


def timed(fn, repeat):
    fn()  # warm-up (numba compilation, caches)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e3


def bench_size(height: int, width: int, repeat: int) -> list[float]:
    """Milliseconds per interval of each step, after the event count, at one sensor size."""
    ev = translating_events(height, width)
    gt = np.empty((2, height, width), np.float32)
    gt[0], gt[1] = 6.0, -3.0
    valid = metrics.valid_mask(gt, metrics.event_mask(ev, height, width))
    return [
        len(ev),
        timed(lambda: metrics.flow_errors(gt * 0.9, gt, valid), repeat),
        timed(lambda: metrics.flow_warp_loss(ev, gt, 0, DT), repeat),
        timed(lambda: metrics.rsat(ev, gt, 0, DT), repeat),
        timed(lambda: dis_flow(ev, 0, DT, height, width), repeat),
        timed(lambda: cmax_flow(ev, 0, DT, height, width), repeat),
    ]


def main() -> int:
    quick = "--quick" in sys.argv or os.environ.get("EVFLOW_BENCH_QUICK") == "1"
    sizes = [(240, 320)] if quick else [(240, 320), (480, 640), (720, 1280)]
    repeat = 2 if quick else 5
    print(f"{'size':>10} {'events':>8} {'errors ms':>10} {'FWL ms':>8} {'RSAT ms':>8} {'dis ms':>8} {'cmax ms':>8}")
    for height, width in sizes:
        print(f"{height}x{width:<4} " + " ".join(f"{v:>8.1f}" for v in bench_size(height, width, repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
