"""``evflow precompute``: turn event recordings into HDF5 tensor files (reference §13), streaming, in parallel.

One output file ``<name without _td/_cd>.h5`` per recording (``<name>_<i>.h5`` with ``--max-duration-ms``),
one row per ``delta_t`` slice computed with ``num_tbins=1``; row ``r`` holds the events of
``[r * delta_t, (r + 1) * delta_t)`` (absolute time 0 is the origin, like the reference), up to the row of the
last event. When an input is a folder, every event file below it is processed and its sub-folders
(``train/``, ``val/``, ``test/``...) are kept in the output folder.

``--height-width H W``: when ``(H, W)`` is the sensor size divided by ``2**ds`` the reference's
``downsampling_factor=ds`` is used (coordinates ``>> ds``, increments ``/ 4**ds``: an exact box average);
any other size computes the tensor at sensor size and resizes each channel with area interpolation.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

HELP = "Precompute HDF5 tensor files (one row per delta_t) from event recordings or dataset folders."
EVENT_SUFFIXES = (".dat", ".raw", ".npy", ".npz", ".h5", ".hdf5")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``evflow precompute``."""
    a = parser.add_argument
    a("inputs", nargs="+", metavar="INPUT", help="event files or dataset folders (sub-folders are kept)")
    a("-o", "--output-dir", required=True, help="destination folder")
    a("--preprocess", default="event_cube", help="preprocessing name (see evflow.preprocessing.list_preprocessings)")
    a("--delta-t", type=int, default=50000, help="slice length in µs (one tensor row per slice)")
    a("--height-width", type=int, nargs=2, default=None, metavar=("H", "W"), help="output tensor size")
    a("--sensor-size", type=int, nargs=2, default=None, metavar=("H", "W"), help="for files without geometry")
    a("--max-duration-ms", type=int, default=None, help="split each recording into files of this duration")
    a("--max-incr-per-pixel", type=float, default=None, help="override the preprocessing's max_incr_per_pixel")
    a("--store-as-uint8", action="store_true", help="store round(255 * x) as uint8 (features in [0, 1] only)")
    a("--drop-out-of-range", action="store_true", help="drop events outside the sensor instead of failing")
    a("-j", "--jobs", type=int, default=1, help="files processed in parallel")
    a("--overwrite", action="store_true", help="recompute outputs that already exist")
    a("--no-progress", action="store_true", help="hide the progress bar")


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to precompute one recording (picklable)."""

    src: str
    dst_stem: str
    preprocess: str
    delta_t: int
    kwargs: tuple
    height_width: tuple | None
    sensor_size: tuple | None
    rows_per_file: int | None
    store_as_uint8: bool
    drop_out_of_range: bool = False


def _is_event_file(path: Path) -> bool:
    if path.suffix.lower() not in EVENT_SUFFIXES or path.name.startswith("."):
        return False
    if path.suffix.lower() in (".h5", ".hdf5"):
        from evflow.data.sources import is_tensor_file

        return not path.name.endswith("_flow.h5") and not is_tensor_file(path)
    return True


def _stem(path: Path) -> str:
    stem = path.stem
    for tag in ("_td", "_cd"):
        if stem.endswith(tag):
            return stem[: -len(tag)]
    return stem


def discover(inputs, output_dir) -> list[tuple[Path, Path]]:
    """Return ``(input file, output stem)`` pairs; folders are searched recursively, their layout kept.

    Raises:
        EventFileError: an input does not exist or a folder holds no event file.
    """
    from evflow.errors import EventFileError

    out, pairs = Path(output_dir), []
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(p for p in item.rglob("*") if p.is_file() and _is_event_file(p))
            if not files:
                raise EventFileError(item, f"no event file ({', '.join(EVENT_SUFFIXES)}) below this folder")
            pairs += [(f, out / f.parent.relative_to(item) / _stem(f)) for f in files]
        elif item.is_file():
            pairs.append((item, out / _stem(item)))
        else:
            raise EventFileError(item, "input not found")
    return pairs


def _plan_size(sensor, height_width):
    """Return ``(downsampling_factor, compute size, resize target or None)``."""
    h0, w0 = sensor
    if height_width is None or tuple(height_width) == (h0, w0):
        return 0, (h0, w0), None
    for ds in range(1, 8):
        if (h0 >> ds, w0 >> ds) == tuple(height_width) and h0 % (1 << ds) == 0 and w0 % (1 << ds) == 0:
            return ds, (h0, w0), None
    return 0, (h0, w0), tuple(height_width)


def _resize(tensor, size):
    import cv2
    import numpy as np

    h, w = size
    planes = [cv2.resize(c.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) for c in tensor]
    out = np.stack(planes)
    if tensor.dtype.kind in "iu":
        info = np.iinfo(tensor.dtype)
        out = np.clip(np.round(out), info.min, info.max)
    return out.astype(tensor.dtype)


def iter_rows(chunks, delta_t: int):
    """Regroup time-sorted event chunks into consecutive ``delta_t`` rows from time 0.

    Yields:
        ``(row index, events of [row * delta_t, (row + 1) * delta_t))``, every row up to the last event's one
        (empty rows included).
    """
    import numpy as np

    from evflow.io.events import empty_events

    row, pending = None, []
    for chunk in chunks:
        while len(chunk):
            if row is None:
                row = int(chunk["t"][0]) // delta_t
                yield from ((r, empty_events(0)) for r in range(row))
            k = int(np.searchsorted(chunk["t"], (row + 1) * delta_t, side="left"))
            pending.append(chunk[:k].copy())
            if k == len(chunk):
                break
            yield row, np.concatenate(pending)
            row, pending, chunk = row + 1, [], chunk[k:]
    if row is not None:
        yield row, np.concatenate(pending)


def process_file(task: Task, progress=None) -> tuple[list[str], int]:
    """Precompute one recording; returns (written paths, number of rows). Outputs appear only when complete."""
    from evflow.data.features import TensorFileWriter
    from evflow.errors import ConfigError
    from evflow.io import EventsIterator
    from evflow.preprocessing import CDProcessor

    it = EventsIterator(task.src, mode="delta_t", delta_t=task.delta_t)
    sensor = (it.height, it.width) if it.height else task.sensor_size
    if not sensor:
        raise ConfigError(f"{task.src}: the file does not state its sensor size; pass --sensor-size H W")
    ds, (h0, w0), target = _plan_size(sensor, task.height_width)
    proc = CDProcessor(h0, w0, 1, task.preprocess, ds, dict(task.kwargs), drop_out_of_range=task.drop_out_of_range)
    shape = proc.shape[1:] if target is None else (proc.shape[1], *target)
    written, writer, part_open, n_rows = [], None, None, 0
    buf = proc.get_empty_array()  # reused for every row (the writer copies rows on append)
    try:
        for row, events in iter_rows(it, task.delta_t):
            part = None if task.rows_per_file is None else row // task.rows_per_file
            if writer is None or part != part_open:
                if writer is not None:
                    written.append(str(writer.close()))
                name = task.dst_stem + ("" if part is None else f"_{part}") + ".h5"
                writer = TensorFileWriter(name, task.preprocess, task.delta_t, shape, h0, w0, proc.dtype,
                                          proc.preprocess_kwargs, store_as_uint8=task.store_as_uint8)  # fmt: skip
                part_open = part
            if len(events) == 0:
                writer.append_zeros(1)  # an unallocated chunk: no compression, no space
            else:
                tensor = proc(events, delta_t=task.delta_t, start_ts=row * task.delta_t, out=buf)[0]
                writer.append(tensor if target is None else _resize(tensor, target))
            n_rows += 1
            if progress is not None:
                progress.update(1)
        if writer is not None:
            written.append(str(writer.close()))
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return written, n_rows


def _tasks(args) -> list[Task]:
    from evflow.errors import ConfigError
    from evflow.preprocessing import get_preprocessing_info

    info = get_preprocessing_info(args.preprocess)
    if args.delta_t <= 0:
        raise ConfigError(f"--delta-t must be positive, got {args.delta_t}")
    kwargs = {}
    if args.max_incr_per_pixel is not None:
        if "max_incr_per_pixel" not in info.default_kwargs:
            raise ConfigError(f"preprocessing {args.preprocess!r} has no max_incr_per_pixel")
        kwargs["max_incr_per_pixel"] = args.max_incr_per_pixel
    if args.store_as_uint8 and (info.dtype.kind != "f" or args.preprocess == "diff"):
        raise ConfigError(f"--store-as-uint8 needs features in [0, 1]; {args.preprocess!r} is not")
    rows = None
    if args.max_duration_ms is not None:
        us = args.max_duration_ms * 1000
        if us <= 0 or us % args.delta_t:
            raise ConfigError(f"--max-duration-ms ({us} µs) must be a positive multiple of --delta-t")
        rows = us // args.delta_t
    hw = tuple(args.height_width) if args.height_width else None
    sensor = tuple(args.sensor_size) if args.sensor_size else None
    common = (args.preprocess, args.delta_t, tuple(sorted(kwargs.items())), hw, sensor, rows, args.store_as_uint8)
    pairs = discover(args.inputs, args.output_dir)
    done = [p for p in pairs if _exists(p[1], rows)]
    if done and not args.overwrite:
        print(f"skipping {len(done)} recording(s) already precomputed (use --overwrite)")
        pairs = [p for p in pairs if p not in done]
    return [Task(str(src), str(dst), *common, args.drop_out_of_range) for src, dst in pairs]


def _exists(stem: Path, rows) -> bool:
    name = stem.name + ("" if rows is None else "_0") + ".h5"
    return stem.with_name(name).exists()


def run(args: argparse.Namespace) -> int:
    """Precompute every recording of ``args.inputs``; returns the exit code."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm import tqdm

    tasks, start = _tasks(args), time.perf_counter()
    files, rows = [], 0
    quiet = args.no_progress
    if args.jobs <= 1 or len(tasks) <= 1:
        with tqdm(total=None, unit="slice", disable=quiet, desc="precompute") as bar:
            for task in tasks:
                bar.set_postfix_str(os.path.basename(task.src))
                out, n = process_file(task, bar)
                files, rows = files + out, rows + n
    else:
        ctx = get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            futures = [pool.submit(process_file, t) for t in tasks]
            for fut in tqdm(as_completed(futures), total=len(futures), unit="file", disable=quiet, desc="precompute"):
                out, n = fut.result()
                files, rows = files + out, rows + n
    print(
        f"wrote {len(files)} tensor file(s), {rows} rows, in {time.perf_counter() - start:.1f} s to {args.output_dir}"
    )
    return 0
