"""Input pyramid matching the flow scales of the U-Net (coarse to fine)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .sequence import batch_to_time, time_to_batch


class Pyramid(nn.Module):
    """Bilinear resizing of a sequence to ``num_levels`` scales ``[2^-(n-1), ..., 0.5, 1]`` (coarse to fine).

    Values are resized, not rescaled. Level ``k`` has size ``floor(H * 2^(k-n+1))``.

    Args:
        num_levels: number of levels ``n``.
        mode: ``F.interpolate`` mode.
        align_corners: passed to ``F.interpolate``.
    """

    def __init__(self, num_levels: int, mode: str = "bilinear", align_corners: bool = True):
        super().__init__()
        self.num_levels = num_levels
        self.mode = mode
        self.align_corners = align_corners
        self.scale_factors = [2.0 ** (-d) for d in reversed(range(num_levels))]

    def compute_level(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """Resize ``x`` to pyramid ``level`` (negative levels count from the finest).

        Args:
            x: ``(T, B, C, H, W)`` or ``(N, C, H, W)``.
            level: index into :attr:`scale_factors`.

        Returns:
            The resized tensor, same rank as ``x``.
        """
        factor = self.scale_factors[level]
        if factor == 1.0:
            return x
        size = [int(x.shape[-2] * factor), int(x.shape[-1] * factor)]
        if x.dim() == 4:
            return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)
        flat, b = time_to_batch(x)
        return batch_to_time(F.interpolate(flat, size=size, mode=self.mode, align_corners=self.align_corners), b)

    def compute_all_levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """All levels, coarse to fine (the last one is ``x`` itself)."""
        return [self.compute_level(x, level) for level in range(self.num_levels)]
