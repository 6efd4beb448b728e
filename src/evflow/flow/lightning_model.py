"""``FlowModel``: the Lightning module of flow training (reference §8, ported to Lightning 2.x, bugs fixed).

One shared step: :meth:`FlowModel.loss_step` resets the recurrent state of the rows that start a new segment,
runs the network once, and uses the supervised Charbonnier loss on every labelled bin of every batch row when
labels exist (§22 #6: the original stopped at the first labelled row), the self-supervised
:class:`~evflow.flow.losses.FlowLoss` otherwise. Validation and test also compute AEE, % outliers
(> 3 px and > 5 %) and the angular error on labelled bins (:mod:`evflow.metrics`), per recording and overall.
Checkpoints are self-describing (see :mod:`evflow.flow.model_io`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch

from evflow.flow.flow_network import FlowNetwork
from evflow.flow.losses import FlowLoss
from evflow.flow.model_io import checkpoint_metadata
from evflow.flow.supervision import FlowMetricAccumulator, frame_metrics, masked_charbonnier

LOSS_WEIGHTS = {
    "data": 1.0,
    "smoothness": 0.4,
    "smoothness2": 0.6,
    "l1": 0.3,
    "time_consistency": 1.0,
    "bw_deblur": 1.0,
    "contrast": 0.0,
}
DEFAULT_NETWORK_KWARGS = {"rnn_cell": "lstm", "base": 16, "separable": True}
MICRO_BIN_PREPROCESSINGS = ("event_cube", "event_cube_paper", "multi_channel_timesurface")
LR_SCHEDULES = ("none", "cosine", "onecycle")


class FlowModel(pl.LightningModule):
    """Lightning module that learns (self-supervised or supervised) optical flow.

    Args:
        delta_t: bin length in µs.
        preprocess: preprocessing name of the input features.
        learning_rate: Adam learning rate.
        array_dim: ``(num_tbins, channels, height, width)`` of the inputs.
        loss_weights: weight per self-supervised loss term (defaults: :data:`LOSS_WEIGHTS`).
        feature_extractor_name: architecture name.
        network_kwargs: architecture kwargs (default :data:`DEFAULT_NETWORK_KWARGS`, base 16 as ``evflow train``).
        draw_dense: demo videos with a colour wheel instead of arrows.
        preprocess_kwargs: kwargs of the preprocessing (stored for inference).
        lr_schedule: ``"none"``, ``"cosine"`` or ``"onecycle"`` (per optimiser step).
        **legacy: hyper-parameters of old checkpoints (loss weights given as top-level keys are honoured).
    """

    def __init__(
        self,
        delta_t=50000,
        preprocess="event_cube",
        learning_rate=1e-5,
        array_dim=(1, 6, 240, 320),
        loss_weights=None,
        feature_extractor_name="eminet",
        network_kwargs=None,
        draw_dense=False,
        preprocess_kwargs=None,
        lr_schedule="none",
        **legacy,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.set_defaults()
        hp = self.hparams
        self.network = FlowNetwork(hp.array_dim, hp.loss_weights, hp.feature_extractor_name, **hp.network_kwargs)
        self.criterion = FlowLoss(hp.loss_weights, self.network.get_warping_head())
        self.test_accumulator = FlowMetricAccumulator()
        # DDP must not broadcast rank 0's recurrent state (and warping grids) to the other ranks every forward
        self._ddp_params_and_buffers_to_ignore = self.network.state_buffer_names("network.")

    def set_defaults(self) -> None:
        """Fill hyper-parameters missing from old checkpoints and derived keys (``num_tbins``, ``cin``...)."""
        hp = self.hparams
        if hp.get("loss_weights") is None:
            hp.loss_weights = {k: float(hp.get(k, v)) for k, v in LOSS_WEIGHTS.items()}
        hp.loss_weights = dict(hp.loss_weights)
        if hp.preprocess not in MICRO_BIN_PREPROCESSINGS and hp.loss_weights.get("bw_deblur", 0):
            warnings.warn(f"bw_deblur needs micro time bins; disabled for preprocess={hp.preprocess!r}", stacklevel=3)
            hp.loss_weights["bw_deblur"] = 0.0
        hp.network_kwargs = dict(DEFAULT_NETWORK_KWARGS if hp.get("network_kwargs") is None else hp.network_kwargs)
        hp.preprocess_kwargs = dict(hp.get("preprocess_kwargs") or {})
        if hp.get("lr_schedule", "none") not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {hp.lr_schedule!r}")
        hp.array_dim = [int(v) for v in hp.array_dim]
        hp.num_tbins, hp.cin, hp.height, hp.width = hp.array_dim

    def forward(self, x):
        """Flows coarse to fine, each ``(T, B, 2, h, w)``, for inputs ``(T, B, C, H, W)``."""
        return self.network(x)

    def compute_loss(self, inputs, flows=None):
        """Self-supervised loss terms of ``inputs`` ``(T, B, C, H, W)`` (runs the network unless ``flows`` given).

        Returns:
            dict term name -> weighted scalar tensor.
        """
        flows = self.network(inputs) if flows is None else flows
        flat = [f.reshape(-1, *f.shape[2:]) for f in flows]
        # the loss sees the input as the network does (input_normalization; idempotent, so network(inputs) above
        # gives the same flows for raw or normalised inputs)
        pyramid = self.network.interpolate_all_inputs_using_pyramid(self.network.normalize_input(inputs))
        return self.criterion(flat, pyramid, inputs.shape[1])

    def loss_step(self, batch, batch_idx, mode="train"):
        """Supervised loss if labels are available, otherwise the self-supervised criterion; logs every term."""
        inputs = batch["inputs"]
        batch_size = inputs.shape[1]
        self.network.reset(batch["mask_keep_memory"])
        flows = self.network(inputs)
        labelled = self._labelled(batch)
        if labelled.any():
            loss = masked_charbonnier(flows[-1][labelled], batch["labels"][labelled])
            self.log(f"{mode}_charb_loss", loss, prog_bar=True, on_step=mode == "train", on_epoch=True,
                     batch_size=batch_size, sync_dist=mode != "train")  # fmt: skip
        else:
            terms = self.compute_loss(inputs, flows)
            loss = sum(terms.values())
            for name, value in terms.items():
                self.log(f"{mode}_loss_{name}", value, on_step=mode == "train", on_epoch=True,
                         batch_size=batch_size, sync_dist=mode != "train")  # fmt: skip
        self.log(f"{mode}_loss", loss, prog_bar=True, on_step=mode == "train", on_epoch=True,
                 batch_size=batch_size, sync_dist=mode != "train")  # fmt: skip
        if mode != "train" and labelled.any():
            self._log_metrics(flows[-1], batch, mode)
        return loss

    @staticmethod
    def _labelled(batch) -> torch.Tensor:
        labelled = batch["frame_is_labeled"].bool()
        if "is_padding" in batch:
            labelled = labelled & ~batch["is_padding"].bool()[None, :]
        return labelled

    def _log_metrics(self, flow, batch, mode):
        rows = frame_metrics(flow, batch, self._labelled(batch))
        if not rows:
            return
        if mode == "test":
            self.test_accumulator.add(rows)
        for key in ("aee", "outliers_pct", "aae_deg", "aee_zero"):
            values = [r[key] for r in rows if r[key] == r[key]]
            if values:
                mean = torch.tensor(sum(values) / len(values), device=flow.device)
                self.log(f"{mode}_{key}", mean, on_epoch=True, batch_size=len(values), sync_dist=True)

    def training_step(self, batch, batch_idx):
        """Training loss (see :meth:`loss_step`)."""
        return self.loss_step(batch, batch_idx, "train")

    def validation_step(self, batch, batch_idx):
        """Validation loss and, on labelled data, AEE / outliers / angular error."""
        return self.loss_step(batch, batch_idx, "val")

    def test_step(self, batch, batch_idx):
        """Test loss and labelled metrics, also accumulated per recording."""
        return self.loss_step(batch, batch_idx, "test")

    def on_validation_epoch_start(self):
        """Start every validation pass from a clean recurrent state."""
        self.network.reset_all()

    def on_validation_epoch_end(self):
        """Leave no validation state behind for training."""
        self.network.reset_all()

    def on_test_epoch_start(self):
        """Clean state and empty per-recording accumulators."""
        self.network.reset_all()
        self.test_accumulator = FlowMetricAccumulator()

    def on_test_epoch_end(self):
        """Store per-recording and overall metrics in :attr:`test_results` (rank-local)."""
        self.test_results = self.test_accumulator.summary()

    def configure_optimizers(self):
        """Adam, with an optional per-step cosine or one-cycle schedule."""
        lr = self.hparams.learning_rate
        optimizer = torch.optim.Adam(self.parameters(), lr=lr, betas=(0.9, 0.999))
        schedule = self.hparams.get("lr_schedule", "none")
        if schedule == "none":
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        if schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        else:
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        """Add the ``evflow`` block that lets inference rebuild the model and its preprocessing."""
        checkpoint["evflow"] = checkpoint_metadata(self.hparams)

    def demo_video(self, test_data, log_dir=".", epoch=0, num_batches=100, write_video=True, show_video=False,
                   mask_by_input=True):  # fmt: skip
        """Run the model on ``test_data`` and write ``log_dir/videos/video#{epoch}.mp4``.

        Args:
            test_data: a sequential loader (rescheduled into segments of ``num_batches // 10`` batches).
            log_dir: folder receiving ``videos/``.
            epoch: used in the file name.
            num_batches: batches rendered.
            write_video: write the mp4.
            show_video: display frames in an OpenCV window.
            mask_by_input: draw flow only where there are events.

        Returns:
            Path of the video (None when not written).
        """
        from evflow.flow.demo_video import render_demo

        test_data.reschedule(max_consecutive_batch=max(1, num_batches // 10), shuffle=True, seed=epoch)
        path = Path(log_dir) / "videos" / f"video#{epoch}.mp4" if write_video else None
        render_demo(self, test_data, path, num_batches, mask_by_input, self.hparams.draw_dense, show_video)
        return path
