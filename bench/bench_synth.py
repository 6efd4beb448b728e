"""Synthetic recording speed: seconds of recording simulated per second of wall time, on one core.

For each resolution, simulates a few 2-second sequences (2 moving objects, clean and noisy presets) and
reports the real-time factor (seconds of recording per second) of the simulation alone (scene, adaptive
frames, events, ground-truth flow, in memory; by wall clock and by process CPU time, the latter being less
disturbed by other processes on a shared machine) and including the files (``_td.dat`` + ``_flow.h5``),
plus the event rate and the adaptive frame rate.
Usage: ``.venv/bin/python bench/bench_synth.py [--quick]`` (or ``EVFLOW_BENCH_QUICK=1``).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

from evflow.synth.dataset import SequenceConfig, make_scene, sequence_rng, simulate_scene, write_sequence  # noqa: E402
from evflow.synth.images import TRAIN_IMAGES  # noqa: E402
from evflow.synth.simulator import SimulatorConfig  # noqa: E402


def bench(height: int, width: int, noise: str, num_sequences: int, tmp: str) -> dict:
    """Simulate ``num_sequences`` 2 s sequences; return timings and counts."""
    config = SequenceConfig(height=height, width=width, duration_us=2_000_000, num_objects=2, noise=noise)
    sim_s = write_s = sim_cpu = 0.0
    events = frames = 0
    for i in range(num_sequences):
        t0, c0 = time.perf_counter(), time.process_time()
        rng = sequence_rng(123, "train", i)
        scene = make_scene(config, TRAIN_IMAGES, rng)
        seq = simulate_scene(scene, config.duration_us, config.delta_t, SimulatorConfig.preset(noise), rng)
        t1, c1 = time.perf_counter(), time.process_time()
        write_sequence(tmp, f"b{i}", seq, height, width)
        write_s += time.perf_counter() - t1
        sim_s, sim_cpu = sim_s + t1 - t0, sim_cpu + c1 - c0
        events += len(seq.events)
        frames += seq.num_frames
    rec = num_sequences * config.duration_us * 1e-6
    return {"sim_x": rec / sim_s, "cpu_x": rec / sim_cpu, "all_x": rec / (sim_s + write_s),
            "mev_s": events / rec / 1e6, "fps": frames / rec}  # fmt: skip


def main() -> int:
    """Print the table."""
    quick = "--quick" in sys.argv or os.environ.get("EVFLOW_BENCH_QUICK") == "1"
    cv2.setNumThreads(1)
    sizes = [(240, 320)] if quick else [(240, 320), (480, 640)]
    n = 2 if quick else 4
    with tempfile.TemporaryDirectory() as tmp:
        bench(64, 96, "noisy", 1, tmp)  # warm-up: numba kernels, image loading
        print(f"evflow.synth, one core, {n} sequences of 2 s each, 2 moving objects, max speed 240 px/s")
        print("| size | noise | x real time (simulation, wall) | x real time (simulation, CPU time) "
              "| x real time (with files, wall) | events (Mev/s) | frames/s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for h, w in sizes:
            for noise in ("clean", "noisy"):
                r = bench(h, w, noise, n, tmp)
                cols = [f"{h}x{w}", noise, *(f"{r[k]:.2f}" for k in ("sim_x", "cpu_x", "all_x", "mev_s"))]
                print("| " + " | ".join([*cols, f"{r['fps']:.0f}"]) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
