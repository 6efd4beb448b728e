"""Lightning data module for flow training (reference §10, with its bugs fixed).

``data_dir`` holds ``train/`` and ``val/`` folders of recordings (HDF5 tensor files or event files). An optional
``test_data_dir`` holds labelled recordings (``*_td.dat`` or other event files, each with its ``*_flow.h5``);
when given it is used for validation and test (the original called a non-existent method there, §22 #5).
Augmentation is applied to training data only (§22 #7). Recordings are sharded across DDP ranks by the
sequential loader itself, so the trainer must run with ``use_distributed_sampler=False``.
"""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path

import lightning.pytorch as pl
import torch

from evflow.data.augment import AugmentConfig
from evflow.data.flow_labels import load_flow_labels
from evflow.data.sequential import SequentialDataLoader, load_labels_stub
from evflow.data.sources import list_recordings
from evflow.errors import ConfigError

DEFAULTS = {
    "batch_size": 4,
    "num_workers": 2,
    "preprocess_kwargs": None,
    "data_aug": False,
    "val_batch_size": None,
    "supervised": False,
}


def load_labels_flow(metadata, start_time, duration, tensor):
    """Load the flow labels of the bins ``[start_time, start_time + duration)`` of ``metadata.path``.

    The label of a bin is the ground-truth interval of ``*_flow.h5`` that covers the bin, in pixels per
    ``metadata.delta_t`` at the tensor's resolution (see :mod:`evflow.data.flow_labels`).

    Args:
        metadata: :class:`~evflow.data.sources.FileMetadata` of the segment (``path``, ``delta_t``).
        start_time: first µs read.
        duration: µs read (``num_tbins * delta_t``).
        tensor: the features ``(T, C, H, W)`` of that window (gives the label resolution).

    Returns:
        ``(labels, frame_is_labeled)``: list of ``T`` float32 tensors ``(2, H, W)`` and a bool array ``(T,)``.
    """
    num_tbins = int(duration) // int(metadata.delta_t)
    height, width = tensor.shape[-2:]
    labels, labeled = load_flow_labels(metadata.path, start_time, num_tbins, metadata.delta_t, height, width)
    return [torch.from_numpy(x) for x in labels], labeled


class FlowDataModule(pl.LightningDataModule):
    """Data module of self-supervised flow training with optional labelled validation.

    Args:
        hparams: dict or Namespace with ``delta_t``, ``preprocess``, ``array_dim`` and optionally
            ``batch_size``, ``num_workers``, ``preprocess_kwargs``, ``data_aug``, ``val_batch_size``, ``supervised``
            (training batches then carry the ``*_flow.h5`` labels and FlowModel trains on the supervised loss).
        data_dir: folder with ``train/`` and ``val/``.
        test_data_dir: optional folder of labelled recordings.
    """

    def __init__(self, hparams, data_dir: str = "", test_data_dir: str = ""):
        super().__init__()
        hp = dict(vars(hparams) if isinstance(hparams, Namespace) else hparams)
        for key in ("delta_t", "preprocess", "array_dim"):
            if key not in hp:
                raise ConfigError(f"FlowDataModule: hparams lack {key!r}")
        self.save_hyperparameters({**DEFAULTS, **hp})
        self.data_dir = os.fspath(data_dir)
        self.test_data_dir = os.fspath(test_data_dir) if test_data_dir else ""
        self.train_loader = None

    def _folder_files(self, name: str) -> list[str]:
        folder = Path(self.data_dir) / name
        return list_recordings(folder) if self.data_dir and folder.is_dir() else []

    def setup(self, stage: str | None = None) -> None:
        """List ``train/``, ``val/`` and the labelled recordings."""
        self.train_files = self._folder_files("train")
        self.val_files = self._folder_files("val")
        self.test_files = list_recordings(self.test_data_dir) if self.test_data_dir else list(self.val_files)

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _get_dataloader(self, files, data_aug=False, labels=False, batch_size=None) -> SequentialDataLoader:
        if not files:
            raise ConfigError(f"no recordings found for this loader under {self.data_dir or self.test_data_dir}")
        hp = self.hparams
        rank, world_size = self._rank()
        return SequentialDataLoader(
            files,
            hp.delta_t,
            hp.preprocess,
            hp.array_dim,
            load_labels=load_labels_flow if labels else load_labels_stub,
            batch_size=batch_size or hp.batch_size,
            num_workers=hp.num_workers,
            preprocess_kwargs=hp.preprocess_kwargs,
            augment=AugmentConfig() if data_aug else None,
            rank=rank,
            world_size=world_size,
        )

    def train_dataloader(self) -> SequentialDataLoader:
        """Training recordings, augmented when ``data_aug``; kept as :attr:`train_loader` for the curriculum."""
        if not hasattr(self, "train_files"):
            self.setup()
        self.train_loader = self._get_dataloader(self.train_files, data_aug=self.hparams.data_aug,
                                                 labels=bool(self.hparams.supervised))  # fmt: skip
        return self.train_loader

    def val_dataloader(self) -> SequentialDataLoader | list:
        """Labelled recordings when ``test_data_dir`` is set, else ``val/`` (``[]`` if none); never augmented."""
        if not hasattr(self, "val_files"):
            self.setup()
        files = self.test_files if self.test_data_dir else self.val_files
        if not files:
            return []
        return self._get_dataloader(files, labels=True, batch_size=self.hparams.val_batch_size)

    def test_dataloader(self) -> SequentialDataLoader:
        """Same recordings as validation, never augmented, with labels when ``*_flow.h5`` files exist."""
        if not hasattr(self, "test_files"):
            self.setup()
        return self._get_dataloader(self.test_files, labels=True, batch_size=self.hparams.val_batch_size)
