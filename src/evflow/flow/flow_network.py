"""``FlowNetwork``: a registered feature extractor plus the input pyramid and one warping head per scale."""

from __future__ import annotations

import torch
from torch import nn

from ..core.pyramid import Pyramid
from ..core.sequence import time_to_batch
from ..core.warp import Warping
from ..errors import ConfigError, ShapeError
from .feature_extractor import build_feature_extractor

REGRESSOR_GAIN = 0.1

INPUT_NORMALIZATIONS = ("none", "nonzero_mean")
NONZERO_MEAN_TARGET = 0.15
"""Mean magnitude of the non-zero cells after ``nonzero_mean`` normalisation: about what dense recordings of
``evflow synth`` have without it (0.13-0.2 at 120x160, max_incr_per_pixel 5), so the loss weights tuned on raw
event cubes keep their balance."""


def normalize_nonzero_mean(x: torch.Tensor, target: float = NONZERO_MEAN_TARGET) -> torch.Tensor:
    """Scale every window so that its non-zero cells have mean magnitude ``target`` (all-zero windows unchanged).

    A low-contrast scene gives few, weak events (after resizing, a lone event is spread over several cells):
    such windows reach the network several times weaker than those of a textured scene, and the
    self-supervised loss, which scales with the input, weighs them less. With this, both see every window at
    the same strength. (On ``evflow synth`` data it did not lower the validation AEE: the faint recordings stay
    hard because their events carry little information; see the README, "Training".) Idempotent, and unchanged
    by zero padding (only non-zero cells count).

    Shape:
        x: ``(..., C, H, W)``; each leading index is one window.
    """
    mag = x.abs()
    total = mag.sum(dim=(-3, -2, -1), keepdim=True)
    count = (mag > 0).sum(dim=(-3, -2, -1), keepdim=True).to(x.dtype)
    seen = total > 0
    one = torch.ones_like(total)
    return x * torch.where(seen, target * count / torch.where(seen, total, one), one)


@torch.no_grad()
def init_flow_weights(module: nn.Module, regressor_gain: float = REGRESSOR_GAIN) -> None:
    """He-normal convolutions with zero biases, flow regressors scaled by ``regressor_gain``.

    Event tensors are sparse and small (event_cube: about 0.01 on average); with PyTorch's default
    initialisation the convolution biases are ten times larger than the input's contribution, the encoders
    (which have no normalisation) pass almost nothing of the input on, and the network starts, and stays,
    input-blind (the same flow for any recording). He initialisation with zero biases keeps the input's
    signal through every layer (a blank input gives exactly zero flow); the small regressors start the flow
    near zero. Loaded checkpoints overwrite all of this.
    """
    from ..core.unet import RegressorHead

    for mod in module.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, a=0.01, nonlinearity="leaky_relu")
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    for mod in module.modules():
        if isinstance(mod, RegressorHead):
            mod.regressor.module.weight.mul_(regressor_gain)


class FlowNetwork(nn.Module):
    """Recurrent flow network (streaming: the recurrent state is carried from one call to the next).

    Args:
        array_dim: input shape ``(num_tbins, channels, height, width)``; ``channels`` sets the input channels.
        flow_loss_weights: loss weights (kept for API compatibility; the loss lives in
            :class:`~evflow.flow.losses.FlowLoss`).
        feature_extractor_name: a name of :func:`~evflow.flow.feature_extractor.list_architectures`.
        input_normalization: ``"none"`` or ``"nonzero_mean"`` (:func:`normalize_nonzero_mean` on every window,
            in :meth:`forward`; :meth:`normalize_input` gives the loss the same tensor).
        **kwargs: architecture arguments (``base``, ``scales``, ``separable``, ``rnn_cell``, ``depth``...).

    Attributes:
        in_channels: input channels.
        feature_extractor: the U-Net.
        pyramid: :class:`~evflow.core.pyramid.Pyramid` giving the inputs at every flow scale.
        warping_head: ``nn.ModuleList`` of :class:`~evflow.core.warp.Warping`, one per scale (moves with ``.to()``).

    Shape:
        input ``(T, B, C, H, W)`` with ``H`` and ``W`` multiples of ``2**(scales - 1)`` -> list, coarse to fine, of
        ``(T, B, 2, H / 2**k, W / 2**k)`` flows in pixels per bin; the last one is at full input resolution.
    """

    def __init__(
        self,
        array_dim,
        flow_loss_weights=None,
        feature_extractor_name: str = "eminet",
        input_normalization: str = "none",
        **kwargs,
    ):
        super().__init__()
        if input_normalization not in INPUT_NORMALIZATIONS:
            raise ConfigError(f"input_normalization must be one of {INPUT_NORMALIZATIONS}, got {input_normalization!r}")
        self.input_normalization = input_normalization
        self.array_dim = [int(v) for v in array_dim]
        self.in_channels = self.array_dim[1]
        self.feature_extractor_name = feature_extractor_name
        self.feature_extractor = build_feature_extractor(feature_extractor_name, self.in_channels, **kwargs)
        self.scales = self.feature_extractor.scales
        self.pyramid = Pyramid(self.scales)
        self.warping_head = nn.ModuleList([Warping() for _ in range(self.scales)])
        init_flow_weights(self.feature_extractor)

    def get_nb_scales(self) -> int:
        """Number of flow scales."""
        return self.scales

    def get_warping_head(self) -> nn.ModuleList:
        """The warping heads, one per scale (coarse to fine)."""
        return self.warping_head

    def check_input(self, inputs: torch.Tensor) -> None:
        """Raise :class:`~evflow.errors.ShapeError` unless ``inputs`` is ``(T, B, C, H, W)`` with valid C, H, W."""
        mult = 2 ** (self.scales - 1)
        shape = list(inputs.shape)
        if inputs.dim() != 5 or shape[2] != self.in_channels or shape[3] % mult != 0 or shape[4] % mult != 0:
            raise ShapeError(
                f"FlowNetwork input must be (T, B, {self.in_channels}, H, W) with H and W multiples of {mult}, "
                f"got {shape}"
            )

    def forward(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Flows coarse to fine, each ``(T, B, 2, h, w)``, pixels per bin."""
        self.check_input(inputs)
        return self.feature_extractor(self.normalize_input(inputs))

    def normalize_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """The input as the network sees it (``input_normalization``); the loss is computed on the same tensor."""
        if self.input_normalization == "nonzero_mean":
            return normalize_nonzero_mean(inputs)
        return inputs

    def interpolate_all_inputs_using_pyramid(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """The inputs resized to every flow scale, coarse to fine."""
        return self.pyramid.compute_all_levels(inputs)

    @torch.jit.ignore
    def sharpen(self, inputs: torch.Tensor, micro_tbin: int = 0, depth_level: int = -1):
        """Run the network (advancing its state) and warp the micro bins of the input onto ``micro_tbin``.

        Args:
            inputs: ``(T, B, C, H, W)`` micro-binned ON/OFF volume (channel ``2 d + p``).
            micro_tbin: micro bin every other micro bin is moved to.
            depth_level: flow scale used (``-1``: full resolution).

        Returns:
            ``(flow, sharp)``: flow ``(T * B, 2, h, w)`` in pixels, sharpened input ``(T, B, C / 2, 2, h, w)``.
        """
        level = depth_level % self.scales
        resized = self.pyramid.compute_level(inputs, level)
        flow, _ = time_to_batch(self.forward(inputs)[level])
        return flow, self.warping_head[level].sharpen_micro_tbin(resized, flow, micro_tbin)

    @torch.jit.ignore
    def state_buffer_names(self, prefix: str = "") -> list[str]:
        """Names of the per-process buffers (recurrent states, warping grids), e.g. for DDP to leave alone.

        Under DistributedDataParallel with ``broadcast_buffers=True`` rank 0 would overwrite every rank's
        recurrent state: pass ``broadcast_buffers=False`` or list these names in the wrapped module's
        ``_ddp_params_and_buffers_to_ignore`` (``prefix`` is this module's name there, e.g. ``"network."``).
        """
        return [prefix + n for n, _ in self.named_buffers() if n.rsplit(".", 1)[-1] in ("prev_h", "prev_c", "grid")]

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Per-sample reset of the recurrent state: ``mask`` ``(B,)`` or ``(B, 1, 1, 1)``, 0 = forget, 1 = keep."""
        self.feature_extractor.reset(mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget the whole recurrent state (next output equals that of a fresh network)."""
        self.feature_extractor.reset_all()

    @torch.jit.export
    def detach_state(self) -> None:
        """Detach the recurrent state from the autograd graph (done at every forward anyway)."""
        self.feature_extractor.detach_state()
