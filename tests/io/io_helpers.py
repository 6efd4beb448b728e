"""Helpers for the event I/O tests: synthetic sorted event arrays, the reference event hash."""

from __future__ import annotations

import hashlib

import numpy as np

from evflow.io import PACKED_EVENT_DTYPE, make_events


def synthetic_events(n: int, height: int = 720, width: int = 1280, t0: int = 0, duration: int = 100_000,
                     seed: int = 0) -> np.ndarray:  # fmt: skip
    """Return ``n`` sorted random events, with some same-row runs (so that vector words get used)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + max(duration, 1), n))
    x = rng.integers(0, width, n)
    y = rng.integers(0, height, n)
    p = rng.integers(0, 2, n)
    # runs of events on one row at one time (as sensors emit them), exercised by EVT 2.1/3 vectors
    for start in range(0, n - 40, 97):
        k = int(rng.integers(3, 40))
        x0 = int(rng.integers(0, width - 64))
        t[start : start + k] = t[start]
        y[start : start + k] = y[start]
        p[start : start + k] = p[start]
        x[start : start + k] = np.sort(rng.choice(64, k, replace=False)) + x0
    return make_events(x, y, p, t)


def sha256_events(ev: np.ndarray) -> str:
    """SHA-256 of the packed (itemsize 14) x, y, p, t records, as defined by ../shared/data/README.md."""
    a = np.empty(len(ev), PACKED_EVENT_DTYPE)
    for k in "xypt":
        a[k] = ev[k]
    return hashlib.sha256(a.tobytes()).hexdigest()
