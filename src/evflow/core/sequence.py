"""Time-major sequence helpers: fold time into the batch axis and back, apply 4-D modules to 5-D tensors.

Sequences are ``(T, B, C, H, W)``. Folding keeps the index ``t * B + b`` so that ``batch_to_time`` restores the
exact layout (``time_to_batch(x)[t * B + b] is x[t, b]``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def time_to_batch(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Fold the time axis into the batch axis.

    Args:
        x: sequence tensor.

    Returns:
        ``(folded, batch_size)``: the folded tensor and ``B``, needed by :func:`batch_to_time`.

    Shape:
        x ``(T, B, *rest)`` -> folded ``(T * B, *rest)``.
    """
    t, b = x.shape[0], x.shape[1]
    return x.reshape([t * b] + list(x.shape[2:])), b


def batch_to_time(x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Unfold ``(T * B, *rest)`` back to ``(T, B, *rest)``; inverse of :func:`time_to_batch`.

    Args:
        x: folded tensor whose first dimension is a multiple of ``batch_size``.
        batch_size: ``B``.

    Returns:
        The time-major tensor ``(T, B, *rest)``.
    """
    tb = x.shape[0]
    return x.reshape([tb // batch_size, batch_size] + list(x.shape[1:]))


def seq_interpolate(
    x: torch.Tensor, size: list[int], mode: str = "nearest", align_corners: bool | None = None
) -> torch.Tensor:
    """Resize the two last dimensions of a 4-D or time-major 5-D tensor.

    Args:
        x: ``(N, C, H, W)`` or ``(T, B, C, H, W)`` tensor.
        size: target ``[height, width]``.
        mode: ``F.interpolate`` mode.
        align_corners: passed to ``F.interpolate`` (only for the linear modes).

    Returns:
        The resized tensor, same rank as ``x``.
    """
    if x.dim() == 4:
        return F.interpolate(x, size=size, mode=mode, align_corners=align_corners)
    flat, b = time_to_batch(x)
    return batch_to_time(F.interpolate(flat, size=size, mode=mode, align_corners=align_corners), b)


class SequenceWise(nn.Module):
    """Apply a 4-D module to every time step of a ``(T, B, C, H, W)`` sequence at once.

    Args:
        module: module taking ``(N, C, H, W)``. Its ``out_channels`` attribute, if any, is exposed.

    Shape:
        input ``(T, B, C, H, W)`` -> output ``(T, B, C', H', W')``.
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.out_channels = int(getattr(module, "out_channels", -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fold time into batch, run the module, unfold."""
        flat, b = time_to_batch(x)
        return batch_to_time(self.module(flat), b)
