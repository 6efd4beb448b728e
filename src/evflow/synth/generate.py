"""Whole synthetic datasets: ``train/`` and ``val/`` folders of ``NAME_td.dat`` + ``NAME_flow.h5``.

Layout written by :func:`generate_dataset` (``OUTPUT_DIR``)::

    synth.json                       settings, seed and per-split counts
    train/synth_0000_td.dat          events (DAT, fixed header date)
    train/synth_0000_flow.h5         ground-truth flow (reference §14 layout)
    val/...                          same, built only from validation images
    <preprocessing>/train/synth_0000.h5       with ``precompute``: HDF5 tensor file (one row per delta_t)
    <preprocessing>/train/synth_0000_flow.h5  ... next to a copy (hard link) of its flow labels

so that ``OUTPUT_DIR`` is a DAT dataset and ``OUTPUT_DIR/<preprocessing>`` a precomputed one for training.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np

from evflow.errors import ConfigError
from evflow.synth.dataset import (
    SequenceConfig,
    make_scene,
    sequence_rng,
    simulate_scene,
    write_sequence,
)
from evflow.synth.images import split_images
from evflow.synth.simulator import SimulatorConfig


def parse_split(text: str | None, num_sequences: int | None) -> dict[str, int]:
    """Parse ``"train=12,val=4"``; without text, ``num_sequences`` is split 3:1 (at least one val when > 1).

    Raises:
        ConfigError: malformed text, unknown split, negative counts, or a total different from
            ``num_sequences`` when both are given.
    """
    if text is None:
        total = 16 if num_sequences is None else num_sequences
        if total < 1:
            raise ConfigError(f"--num-sequences must be >= 1, got {total}")
        val = max(1, total // 4) if total > 1 else 0
        return {"train": total - val, "val": val}
    counts = {"train": 0, "val": 0}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in counts or not value.strip().isdigit():
            raise ConfigError(f"bad --split {text!r}: expected e.g. 'train=12,val=4'")
        counts[name] = int(value)
    if sum(counts.values()) < 1:
        raise ConfigError(f"--split {text!r} asks for no sequence")
    if num_sequences is not None and sum(counts.values()) != num_sequences:
        total = sum(counts.values())
        raise ConfigError(f"--split {text!r} totals {total} sequences, not --num-sequences {num_sequences}")
    return counts


def generate_dataset(
    output_dir,
    counts: dict[str, int],
    config: SequenceConfig,
    seed: int = 0,
    precompute: str | None = None,
    progress: bool = True,
    workers: int = 1,
) -> list[tuple[Path, Path]]:
    """Simulate and write every sequence; the same arguments always produce the same bytes.

    Args:
        output_dir: destination folder (created).
        counts: number of sequences per split, e.g. ``{"train": 12, "val": 4}``.
        config: sequence settings.
        seed: dataset seed; sequence ``i`` of a split depends only on ``(seed, split, i)``.
        precompute: optional preprocessing name; also writes HDF5 tensor files (see module doc).
        progress: show a tqdm progress bar.
        workers: number of processes (sequences are independent; the output does not depend on it).

    Returns:
        ``(events_path, flow_path)`` of every sequence, train first, in index order.
    """
    from tqdm import tqdm

    output_dir = Path(output_dir)
    if precompute:
        _precomputer(precompute, config)  # validate the name before any work
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if set(counts) - {"train", "val"}:
        raise ConfigError(f"unknown split(s) {sorted(set(counts) - {'train', 'val'})}; valid: ['train', 'val']")
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": seed, "counts": counts, "config": dataclasses.asdict(config), "precompute": precompute}
    (output_dir / "synth.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    jobs = [
        (output_dir, split, i, config, seed, precompute)
        for split in ("train", "val")
        for i in range(counts.get(split, 0))
    ]
    bar = tqdm(total=len(jobs), desc="evflow synth", unit="seq", disable=not progress)
    if workers == 1:
        written = []
        for job in jobs:
            written.append(_make_sequence(*job))
            bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(workers) as pool:
            futures = {pool.submit(_make_sequence, *job): n for n, job in enumerate(jobs)}
            written = [None] * len(jobs)
            for future in as_completed(futures):
                written[futures[future]] = future.result()
                bar.update()
    bar.close()
    return written


def _make_sequence(output_dir: Path, split: str, i: int, config: SequenceConfig, seed: int, precompute):
    """Simulate and write sequence ``i`` of ``split`` (a top-level function so worker processes can run it)."""
    rng = sequence_rng(seed, split, i)
    scene = make_scene(config, split_images(split), rng)
    sim = SimulatorConfig.preset(config.noise)
    seq = simulate_scene(scene, config.duration_us, config.delta_t, sim, rng, config.max_px_per_frame)
    name = f"synth_{i:04d}"
    attrs = {"generator": "evflow.synth", "seed": seed, "split": split, "index": i, "noise": config.noise,
             "images": ",".join(seq.image_names)}  # fmt: skip
    paths = write_sequence(output_dir / split, name, seq, config.height, config.width, **attrs)
    if precompute:
        _precomputer(precompute, config)(seq.events, output_dir / precompute / split / name, paths[1])
    return paths


def _precomputer(name: str, config: SequenceConfig):
    """Return ``f(events, out_stem, flow_path)`` writing ``out_stem.h5`` (one row per flow interval) and
    linking the flow file next to it."""
    from evflow.preprocessing import CDProcessor, list_preprocessings

    if name not in list_preprocessings():
        raise ConfigError(f"unknown preprocessing {name!r} for --precompute; valid: {list_preprocessings()}")
    processor = CDProcessor(config.height, config.width, num_tbins=1, preprocessing=name)

    def run(events, out_stem: Path, flow_path: Path) -> None:
        from evflow.data.features import TensorFileWriter

        dt = config.delta_t
        bounds = np.searchsorted(events["t"], np.arange(config.duration_us // dt + 1) * dt, side="left")
        with TensorFileWriter(out_stem.with_suffix(".h5"), name, dt, processor.shape[1:], config.height,
                              config.width, processor.dtype, processor.preprocess_kwargs) as writer:  # fmt: skip
            for k in range(len(bounds) - 1):
                writer.append(processor(events[bounds[k] : bounds[k + 1]], delta_t=dt, start_ts=k * dt))
        _link(flow_path, out_stem.with_name(flow_path.name))

    return run


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
