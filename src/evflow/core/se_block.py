"""Squeeze-excitation residual block (``PreActBlock`` in the original's naming)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .layers import ConvLayer


class SqueezeExcite(nn.Module):
    """Channel attention: global average pool, 1x1 conv to ``C/4`` + ReLU, 1x1 conv back to ``C`` + sigmoid, rescale.

    Args:
        channels: number of channels ``C`` (must be a multiple of 4).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4:
            raise ConfigError(f"squeeze-excitation needs channels divisible by 4, got {channels}")
        self.reduce = nn.Conv2d(channels, channels // 4, 1)
        self.expand = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rescale each channel of ``x`` by its learned gate."""
        w = x.mean(dim=(2, 3), keepdim=True)
        w = torch.sigmoid(self.expand(torch.relu(self.reduce(w))))
        return x * w


class PreActBlock(nn.Module):
    """Residual block: two 3x3 ``ConvLayer`` (BN + ReLU, no bias), squeeze-excitation, 1x1 shortcut when needed.

    ``out = SE(conv2(conv1(x))) + shortcut(x)`` with no activation after the sum. The shortcut is a 1x1
    convolution (stride ``stride``, no bias, no norm) when the stride or channel count changes, else identity.

    Args:
        in_channels: input channels.
        out_channels: output channels (multiple of 4).
        stride: stride of the first convolution and of the shortcut.

    Shape:
        ``(N, in, H, W)`` -> ``(N, out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, out_channels, 3, stride, 1, bias=False)
        self.conv2 = ConvLayer(out_channels, out_channels, 3, 1, 1, bias=False)
        self.se = SqueezeExcite(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
        else:
            self.shortcut = nn.Identity()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual squeeze-excitation block."""
        return self.se(self.conv2(self.conv1(x))) + self.shortcut(x)
