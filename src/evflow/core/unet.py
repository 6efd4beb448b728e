"""Recurrent U-Net flow regressor: strided encoders, a recurrent middle block, decoders with flow heads.

Module names reproduce the original's state-dict layout: ``encoders.{k}``, ``decoders.0`` (middle),
``decoders.{1..}.block`` / ``decoders.{1..}.regressor``.
"""

from __future__ import annotations

import torch
from torch import nn

from .sequence import SequenceWise, seq_interpolate


class RegressorHead(nn.Module):
    """Decoder block plus a 3x3 flow regressor; returns ``cat(feature, flow)`` (``out + 2`` channels).

    Args:
        block: 4-D module producing ``out_channels`` features (wrapped in :class:`SequenceWise`).
        out_channels: channels produced by ``block``.
        n_values: channels of the regressed value (2 for flow).

    Shape:
        ``(T, B, C, H, W)`` -> ``(T, B, out + n_values, H, W)``.
    """

    def __init__(self, block: nn.Module, out_channels: int, n_values: int = 2):
        super().__init__()
        self.block = SequenceWise(block)
        self.regressor = SequenceWise(nn.Conv2d(out_channels, n_values, 3, padding=1, bias=True))
        self.out_channels = out_channels + n_values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features followed by the regressed values along channels."""
        feature = self.block(x)
        return torch.cat([feature, self.regressor(feature)], 2)

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """No state: nothing to reset."""
        pass

    @torch.jit.export
    def reset_all(self) -> None:
        """No state: nothing to reset."""
        pass

    @torch.jit.export
    def detach_state(self) -> None:
        """No state: nothing to detach."""
        pass


class UnetRegressor(nn.Module):
    """U-Net returning one flow per decoder scale, coarse to fine.

    Forward: ``e_0 = x``, ``e_{k+1} = encoders[k](e_k)`` (stride 2); ``m = decoders[0](e_n)`` (recurrent middle);
    then for decoder ``i = 1..n``: ``y = decoders[i](nearest_resize(cat(y, e_{n+1-i}), size(e_{n-i})))`` where
    ``y`` starts as ``m`` and afterwards carries the previous features and flow; the flow is ``y[:, :, -2:]``.

    Args:
        encoders: ``n`` stride-2 sequence modules.
        middle: recurrent module (with ``reset``/``reset_all``/``detach_state``).
        heads: ``n`` :class:`RegressorHead`, coarse to fine.

    Shape:
        ``(T, B, C, H, W)`` -> list of ``n`` flows ``(T, B, 2, ceil(H / 2^k), ceil(W / 2^k))``, ``k = n-1 .. 0``.
    """

    def __init__(self, encoders: list[nn.Module], middle: nn.Module, heads: list[nn.Module]):
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        self.decoders = nn.ModuleList([middle] + list(heads))
        self.scales = len(heads)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Flows coarse to fine, each ``(T, B, 2, h, w)``."""
        skips: list[torch.Tensor] = [x]
        for encoder in self.encoders:
            skips.append(encoder(skips[-1]))
        n = len(skips)
        y = skips[-1]
        flows: list[torch.Tensor] = []
        for i, decoder in enumerate(self.decoders):
            if i == 0:
                y = decoder(y)
            else:
                target = skips[n - 1 - i]
                size = [target.shape[-2], target.shape[-1]]
                y = decoder(seq_interpolate(torch.cat([y, skips[n - i]], 2), size, "nearest"))
                flows.append(y[:, :, -2:])
        return flows

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Per-sample reset of every recurrent state (mask ``(B, 1, 1, 1)``, 0 = forget)."""
        for decoder in self.decoders:
            decoder.reset(mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget every recurrent state."""
        for decoder in self.decoders:
            decoder.reset_all()

    @torch.jit.export
    def detach_state(self) -> None:
        """Detach every recurrent state from the autograd graph."""
        for decoder in self.decoders:
            decoder.detach_state()
