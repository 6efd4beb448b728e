"""First- and second-order smoothness penalties on a flow field, with border masks matching each difference.

Each flow component is filtered independently by fixed 3x3 kernels (zero padding 1). A difference that reads
outside the image is invalid and masked out: the horizontal forward difference on the last column, the
vertical one on the last row, the horizontal second difference on the first and last columns, and so on.
A spatially constant flow therefore has only valid zero differences (loss at the Charbonnier floor, zero gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .charbonnier import charbonnier_loss


def create_mask(height: int, width: int, paddings: list[list[int]], device=None, dtype=torch.float32) -> torch.Tensor:
    """Ones with zeroed borders.

    Args:
        height: mask height.
        width: mask width.
        paddings: ``[[left, right], [top, bottom]]`` numbers of zeroed columns / rows.

    Returns:
        ``(H, W)`` tensor.
    """
    (left, right), (top, bottom) = paddings
    mask = torch.zeros(height, width, device=device, dtype=dtype)
    mask[top : height - bottom, left : width - right] = 1
    return mask


def create_border_mask(height: int, width: int, paddings_list: list, device=None, dtype=torch.float32) -> torch.Tensor:
    """Stack of :func:`create_mask`, one per filter: ``(K, H, W)``."""
    return torch.stack([create_mask(height, width, p, device, dtype) for p in paddings_list])


def _kernel(points: list[tuple[int, int, float]]) -> torch.Tensor:
    k = torch.zeros(3, 3)
    for i, j, v in points:
        k[i, j] = v
    return k


class _FixedFilterLoss(nn.Module):
    """Charbonnier of fixed-kernel responses of each flow component, masked at invalid borders."""

    kernels: list[torch.Tensor] = []
    paddings: list = []

    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", torch.stack(self.kernels).unsqueeze(1), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Original checkpoints store the (buggy) kernels as "conv_filter.weight": the fixed kernels win.
        state_dict.pop(prefix + "conv_filter.weight", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def responses(self, flow: torch.Tensor) -> torch.Tensor:
        """Filter responses ``(N, 2, K, H, W)`` of a flow ``(N, 2, H, W)``."""
        n, c, h, w = flow.shape
        out = F.conv2d(flow.reshape(n * c, 1, h, w), self.kernel.to(flow.dtype), padding=1)
        return out.view(n, c, -1, h, w)

    def border_mask(self, flow: torch.Tensor) -> torch.Tensor:
        """``(K, H, W)`` validity mask of each filter."""
        return create_border_mask(flow.shape[-2], flow.shape[-1], self.paddings, flow.device, flow.dtype)

    def forward(self, flow: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Loss of a pixel flow.

        Args:
            flow: ``(N, 2, H, W)``.
            mask: optional event mask ``(N, 1, H, W)`` (0 = ignore pixel).

        Returns:
            Scalar: ``rho_mean(d u) + rho_mean(d v)`` over valid (and masked) elements.
        """
        d = self.responses(flow)
        valid = self.border_mask(flow).unsqueeze(0)
        if mask is not None:
            valid = valid * mask.reshape(flow.shape[0], 1, flow.shape[-2], flow.shape[-1]).to(flow.dtype)
        return charbonnier_loss(d[:, 0], valid) + charbonnier_loss(d[:, 1], valid)


class SmoothnessLoss(_FixedFilterLoss):
    """First order: ``f(i, j) - f(i, j+1)`` (invalid on the last column) and ``f(i, j) - f(i+1, j)`` (last row)."""

    kernels = [_kernel([(1, 1, 1.0), (1, 2, -1.0)]), _kernel([(1, 1, 1.0), (2, 1, -1.0)])]
    paddings = [[[0, 1], [0, 0]], [[0, 0], [0, 1]]]


class SecondOrderLoss(_FixedFilterLoss):
    """Second order: horizontal, vertical, diagonal and anti-diagonal ``[1, -2, 1]`` (borders they read masked)."""

    kernels = [
        _kernel([(1, 0, 1.0), (1, 1, -2.0), (1, 2, 1.0)]),
        _kernel([(0, 1, 1.0), (1, 1, -2.0), (2, 1, 1.0)]),
        _kernel([(0, 0, 1.0), (1, 1, -2.0), (2, 2, 1.0)]),
        _kernel([(0, 2, 1.0), (1, 1, -2.0), (2, 0, 1.0)]),
    ]
    paddings = [[[1, 1], [0, 0]], [[0, 0], [1, 1]], [[1, 1], [1, 1]], [[1, 1], [1, 1]]]
