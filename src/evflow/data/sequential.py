"""Sequential streaming dataset and loader: every batch row reads recordings in time order across steps.

A batch is a dict:

* ``inputs``: ``(T, B, C, H, W)`` float32 features (T = ``num_tbins``);
* ``mask_keep_memory``: ``(B, 1, 1, 1)`` float32, 0 where the row starts a new segment (reset the recurrent state);
* ``labels``: ``(T, B, 2, H, W)`` float32 flow labels in pixels per bin (zeros where not labelled, ``inf`` = invalid);
* ``frame_is_labeled``: ``(T, B)`` bool;
* ``is_padding``: ``(B,)`` bool, True where the row re-reads data to fill the epoch (skip it in metrics);
* ``video_infos``: list of ``B`` tuples ``(FileMetadata, start_ts, duration)``.

With ``num_workers = W > 0`` worker ``w`` owns the fixed rows ``w, w + W, ...`` and produces their part of every
step; the loader takes one part from each worker per step (PyTorch returns worker outputs round-robin, in
order) and reassembles the batch, so time order holds in every row. Shards across DDP ranks are computed by
:func:`evflow.data.scheduler.make_plan`; Lightning's distributed sampler must not be used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from evflow.data.augment import AugmentConfig, apply_affine, apply_affine_flow, draw_affine, segment_seed
from evflow.data.scheduler import count_chunks, make_plan
from evflow.data.sources import EventFileSource, FileMetadata, TensorFileSource, open_source


def load_labels_stub(metadata, start_time, duration, tensor):
    """No labels: ``([], all False)``."""
    return [], np.zeros(len(tensor), dtype=bool)


class SequentialDataset(IterableDataset):
    """Iterable over the batch parts of one epoch (see the module docstring); built by the loader."""

    def __init__(self, sources, delta_t, array_dim, batch_size, load_labels, augment, rank, world_size):
        super().__init__()
        self.sources = sources
        self.delta_t = int(delta_t)
        self.num_tbins, self.channels, self.height, self.width = (int(v) for v in array_dim)
        self.chunk_us = self.num_tbins * self.delta_t
        self.chunks = [count_chunks(s.duration, self.chunk_us) for s in sources]
        self.batch_size, self.rank, self.world_size = int(batch_size), int(rank), int(world_size)
        self.load_labels = load_labels or load_labels_stub
        self.augment = augment
        self.epoch_seed = 0
        self.plan = make_plan(self.chunks, self.batch_size, rank=self.rank, world_size=self.world_size)

    def reschedule(self, max_consecutive_batch: int, shuffle: bool = True, seed: int | None = None) -> None:
        """Cut recordings into segments of at most ``max_consecutive_batch`` steps and re-deal them to rows."""
        self.epoch_seed = self.epoch_seed + 1 if seed is None else int(seed)
        self.plan = make_plan(
            self.chunks, self.batch_size, max_consecutive_batch, shuffle, self.epoch_seed, self.rank, self.world_size
        )

    @property
    def num_steps(self) -> int:
        """Steps (batches) per epoch."""
        return len(self.plan[0])

    def _item(self, row: int, step: int):
        s = self.plan[row][step]
        src = self.sources[s.recording]
        start = src.start_ts + s.chunk * self.chunk_us
        seg_start = src.start_ts + s.unit_first_chunk * self.chunk_us
        meta = FileMetadata(src.path, seg_start, s.unit_num_chunks * self.chunk_us, self.delta_t, self.num_tbins)
        feats = src.read(start, self.num_tbins, self.delta_t)
        labels, labeled = self.load_labels(meta, start, self.chunk_us, feats)
        labels = np.stack(labels) if len(labels) else np.zeros((self.num_tbins, 2, self.height, self.width), np.float32)
        if self.augment is not None:
            seed = segment_seed(src.path, seg_start, self.epoch_seed)
            affine = draw_affine(self.augment, self.height, self.width, seed)
            feats = apply_affine(feats, affine)
            labels = apply_affine_flow(labels, affine) if labeled.any() else labels
        return feats, labels, np.asarray(labeled, bool), s, (meta, start, self.chunk_us)

    def make_part(self, rows: list[int], step: int) -> dict:
        """The part of step ``step`` holding ``rows``."""
        items = [self._item(r, step) for r in rows]
        return {
            "step": step,
            "rows": torch.tensor(rows, dtype=torch.long),
            "inputs": torch.from_numpy(np.stack([it[0] for it in items], axis=1)),
            "labels": torch.from_numpy(np.stack([it[1] for it in items], axis=1)),
            "frame_is_labeled": torch.from_numpy(np.stack([it[2] for it in items], axis=1)),
            "mask_keep_memory": torch.tensor([float(it[3].keep_memory) for it in items]).view(-1, 1, 1, 1),
            "is_padding": torch.tensor([it[3].is_padding for it in items], dtype=torch.bool),
            "video_infos": [it[4] for it in items],
        }

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        rows = list(range(worker, len(self.plan), workers))
        for step in range(self.num_steps):
            yield self.make_part(rows, step)


def merge_parts(parts: list[dict]) -> dict:
    """Reassemble the parts of one step (one per worker) into a batch with rows in order."""
    steps = {p["step"] for p in parts}
    if len(steps) != 1:
        raise RuntimeError(f"sequential loader lost its order: parts of steps {sorted(steps)} mixed")
    rows = torch.cat([p["rows"] for p in parts])
    order = torch.argsort(rows)
    infos = [info for p in parts for info in p["video_infos"]]
    return {
        "inputs": torch.cat([p["inputs"] for p in parts], dim=1)[:, order],
        "labels": torch.cat([p["labels"] for p in parts], dim=1)[:, order],
        "frame_is_labeled": torch.cat([p["frame_is_labeled"] for p in parts], dim=1)[:, order],
        "mask_keep_memory": torch.cat([p["mask_keep_memory"] for p in parts])[order],
        "is_padding": torch.cat([p["is_padding"] for p in parts])[order],
        "video_infos": [infos[i] for i in order.tolist()],
    }


def _identity(x):
    return x


class SequentialDataLoader:
    """Loader of time-coherent batches (API of the reference's ``SequentialDataLoader``).

    Args:
        files: recordings (HDF5 tensor files or event files), as paths or as sources already opened with
            :func:`~evflow.data.sources.open_source` (not opened again).
        delta_t: bin length in µs.
        preprocess_function_name: preprocessing used for event files (checked against tensor files).
        array_dim: ``(num_tbins, C, H, W)``; features are resized to ``H, W``.
        load_labels: ``f(metadata, start_time, duration, tensor) -> (labels, frame_is_labeled)`` or None.
        batch_size: rows per batch (reduced when there are fewer recordings).
        num_workers: worker processes (at most ``batch_size`` are used).
        preprocess_kwargs: kwargs of the preprocessing (event files).
        augment: :class:`AugmentConfig` or None (never for validation).
        rank, world_size: DDP rank and number of ranks (recordings are sharded across ranks).
    """

    def __init__(
        self,
        files,
        delta_t: int,
        preprocess_function_name: str,
        array_dim,
        load_labels: Callable | None = None,
        batch_size: int = 8,
        num_workers: int = 2,
        preprocess_kwargs: dict | None = None,
        augment: AugmentConfig | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        t, c, h, w = (int(v) for v in array_dim)
        opened = (TensorFileSource, EventFileSource)
        sources = [f if isinstance(f, opened) else open_source(f, preprocess_function_name, h, w, preprocess_kwargs)
                   for f in files]  # fmt: skip
        self.preprocess = preprocess_function_name
        self.dataset = SequentialDataset(
            sources, delta_t, array_dim, batch_size, load_labels, augment, rank, world_size
        )
        self.num_workers = int(num_workers)
        self.device = torch.device("cpu")

    @property
    def batch_size(self) -> int:
        """Rows per batch on this rank."""
        return len(self.dataset.plan)

    def __len__(self) -> int:
        return self.dataset.num_steps

    def reschedule(self, max_consecutive_batch: int, shuffle: bool = True, seed: int | None = None) -> None:
        """See :meth:`SequentialDataset.reschedule`."""
        self.dataset.reschedule(max_consecutive_batch, shuffle, seed)

    def to(self, device) -> SequentialDataLoader:
        """Move yielded tensors to ``device``."""
        self.device = torch.device(device)
        return self

    def get_vis_func(self):
        """Visualisation function of the preprocessing (``features (C, H, W) -> RGB uint8``)."""
        from evflow.preprocessing import get_preprocess_dict

        return get_preprocess_dict()[self.preprocess]["viz"]

    def _warm_up(self) -> None:
        """Read one item in this process once, so that JIT-compiled readers are inherited by forked workers."""
        if not getattr(self, "_warm", False):
            self.dataset.make_part([0], 0)
            for src in self.dataset.sources:
                getattr(src, "close", lambda: None)()
            self._warm = True

    def __iter__(self):
        workers = min(self.num_workers, self.batch_size)
        if workers == 0:
            parts = iter(self.dataset)
        else:
            self._warm_up()
            parts = iter(DataLoader(self.dataset, batch_size=None, num_workers=workers, collate_fn=_identity))
        for _ in range(len(self)):
            batch = merge_parts([next(parts) for _ in range(max(1, workers))])
            yield {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}
