"""The tiny bundled recording (``evflow/assets/sample_checkerboard_evt3.raw``) and the script that makes it.

A textured square (an 8x8 checkerboard of 10-pixel cells) glides across a 240x320 sensor at a constant
(vx, vy) = (0.6, 0.3) pixels per millisecond for 120 ms. Each 500 µs step renders the scene; every pixel
whose brightness flips emits one event (ON when it turns bright, OFF when it turns dark) at a random 50 µs
slot inside the step. Deterministic (fixed seed): ``python -m evflow.io.make_sample`` rewrites the same events.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from evflow.io.events import make_events
from evflow.io.raw import write_raw

SAMPLE_NAME = "sample_checkerboard_evt3.raw"
HEIGHT, WIDTH = 240, 320
CELL, CELLS = 10, 8
VELOCITY = (0.6, 0.3)  # (vx, vy) pixels per millisecond
DURATION_US, STEP_US, SLOT_US = 120_000, 500, 50


def sample_recording_path() -> Path:
    """Return the path of the bundled sample recording (EVT 3.0, 240x320, about 120 ms)."""
    return Path(str(resources.files("evflow") / "assets" / SAMPLE_NAME))


def _render(t_us: float) -> np.ndarray:
    """Binary frame (H, W) of the checkerboard square at time ``t_us``."""
    x0 = 40 + VELOCITY[0] * t_us / 1000
    y0 = 60 + VELOCITY[1] * t_us / 1000
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    u, v = np.floor(xx - x0).astype(int), np.floor(yy - y0).astype(int)
    inside = (u >= 0) & (u < CELL * CELLS) & (v >= 0) & (v < CELL * CELLS)
    return inside & (((u // CELL) + (v // CELL)) % 2 == 0)


def make_sample_events(seed: int = 0) -> np.ndarray:
    """Simulate the sample scene.

    Returns:
        EVENT_DTYPE array, sorted by time (and by row, column within a timestamp).
    """
    rng = np.random.default_rng(seed)
    parts = []
    prev = _render(0)
    for t0 in range(0, DURATION_US, STEP_US):
        cur = _render(t0 + STEP_US)
        y, x = np.nonzero(cur != prev)
        t = t0 + rng.integers(0, STEP_US // SLOT_US, len(x)) * SLOT_US
        order = np.lexsort((x, y, t))
        parts.append((x[order], y[order], cur[y, x][order].astype(int), t[order]))
        prev = cur
    x, y, p, t = (np.concatenate(c) for c in zip(*parts))
    return make_events(x, y, p, t)


def main(argv: list[str] | None = None) -> int:
    """Write the sample recording (default: into the package's assets folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help=f"destination (default: evflow/assets/{SAMPLE_NAME})")
    args = parser.parse_args(argv)
    out = Path(args.output) if args.output else Path(__file__).resolve().parents[1] / "assets" / SAMPLE_NAME
    ev = make_sample_events()
    write_raw(out, ev, HEIGHT, WIDTH, evt="evt3")
    print(f"wrote {len(ev):,} events, {out.stat().st_size:,} bytes to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
