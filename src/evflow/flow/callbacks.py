"""Curriculum and demo-video callback of flow training (reference §9, with the clamp bug fixed, §22 #4).

Before every training epoch the training recordings are cut into segments of at most
``max_consecutive_batch = max(1, int(curriculum_param ** (epoch - 1)))`` consecutive batches and re-dealt to the
batch rows (shuffled with ``seed * SEED_STRIDE + epoch`` as seed, so every DDP rank and a resumed run get the same
plan, and ``evflow train --seed`` changes the data order and augmentation too, not only the initial weights).
Short sequences first let the network learn flow before it must learn to carry memory; once the value exceeds
a recording's length the recording is read whole. With the default ``p = 1.414`` epochs 0..9 give
1, 1, 1, 1, 2, 3, 5, 7, 11, 15. (The original clamped ``p`` to at most 1, which froze the value at 1.)
"""

from __future__ import annotations

import lightning.pytorch as pl

MAX_CONSECUTIVE = 10**9
SEED_STRIDE = 1_000_003
"""Epoch plans of runs whose seeds differ by one are ``SEED_STRIDE`` apart (seed 0: the epoch number itself)."""


def max_consecutive_batch(epoch: int, curriculum_param: float) -> int:
    """``max(1, int(curriculum_param ** (epoch - 1)))``, capped at 1e9 (whole recordings)."""
    if curriculum_param <= 1.0:
        return 1
    exponent = epoch - 1
    value = curriculum_param**exponent if exponent < 200 else float(MAX_CONSECUTIVE)
    return int(max(1, min(MAX_CONSECUTIVE, value)))


class FlowCallback(pl.Callback):
    """Reschedules the training loader before each epoch and writes a demo video every n epochs.

    Args:
        data_module: the :class:`~evflow.flow.data_module.FlowDataModule` (its test loader feeds the demo).
        curriculum_param: base ``p`` of the curriculum law (values ≥ 1e9 mean whole recordings at once).
        video_result_every_n_epochs: demo period in epochs (0 disables the demo).
        mask_flow_by_input: draw flow only where there are events.
        demo_num_batches: batches rendered in each demo video.
        seed: run seed mixed into the epoch's plan and augmentation seed (0: the epoch number, as before).
    """

    def __init__(
        self,
        data_module,
        curriculum_param: float = 1.414,
        video_result_every_n_epochs: int = 2,
        mask_flow_by_input: bool = True,
        demo_num_batches: int = 50,
        seed: int = 0,
    ):
        super().__init__()
        self.data_module = data_module
        self.curriculum_param = float(curriculum_param)
        self.video_result_every_n_epochs = int(video_result_every_n_epochs)
        self.mask_flow_by_input = bool(mask_flow_by_input)
        self.demo_num_batches = int(demo_num_batches)
        self.seed = int(seed)

    def _train_loader(self, trainer):
        loader = getattr(trainer, "train_dataloader", None)
        if hasattr(loader, "reschedule"):
            return loader
        return getattr(self.data_module, "train_loader", None)

    def on_train_epoch_start(self, trainer, pl_module):
        """Reschedule the training loader for this epoch and log ``max_consecutive_batch``."""
        epoch = trainer.current_epoch
        if self.curriculum_param >= MAX_CONSECUTIVE:
            mcb = MAX_CONSECUTIVE
        else:
            mcb = max_consecutive_batch(epoch, self.curriculum_param)
        loader = self._train_loader(trainer)
        if loader is not None:
            loader.reschedule(max_consecutive_batch=mcb, shuffle=True, seed=self.seed * SEED_STRIDE + epoch)
        pl_module.log("max_consecutive_batch", float(min(mcb, 1e9)), on_step=False, on_epoch=True, batch_size=1)

    def on_train_epoch_end(self, trainer, pl_module):
        """Write ``<log_dir>/videos/video#<epoch>.mp4`` every ``video_result_every_n_epochs`` epochs (rank 0)."""
        n = self.video_result_every_n_epochs
        if n <= 0 or trainer.current_epoch % n or not trainer.is_global_zero or trainer.sanity_checking:
            return
        log_dir = trainer.log_dir or trainer.default_root_dir
        pl_module.demo_video(
            self.data_module.test_dataloader(),
            log_dir=log_dir,
            epoch=trainer.current_epoch,
            num_batches=self.demo_num_batches,
            write_video=True,
            show_video=False,
            mask_by_input=self.mask_flow_by_input,
        )
