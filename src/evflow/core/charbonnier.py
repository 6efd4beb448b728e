"""Charbonnier penalty with an optional mask averaged over the masked elements only."""

from __future__ import annotations

import torch


def charbonnier(x: torch.Tensor, alpha: float = 0.45, beta: float = 1.0, epsilon: float = 1e-3) -> torch.Tensor:
    """Element-wise robust penalty ``((beta x)^2 + epsilon^2)^alpha``; its floor is ``rho(0) = epsilon^(2 alpha)``.

    >>> round(float(charbonnier(torch.zeros(1))), 7)
    0.0019953
    """
    return ((beta * x) ** 2 + epsilon**2) ** alpha


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``values`` over the elements where ``mask`` is non-zero (weighted by ``mask``).

    Args:
        values: any shape.
        mask: broadcastable to ``values`` (e.g. one channel for all channels), or ``None`` for a plain mean.

    Returns:
        Scalar; 0 (still attached to the graph) when the mask is empty.
    """
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype).expand_as(values)
    return (values * weights).sum() / weights.sum().clamp_min(1e-12)


def charbonnier_loss(
    x: torch.Tensor, mask: torch.Tensor | None = None, alpha: float = 0.45, beta: float = 1.0, epsilon: float = 1e-3
) -> torch.Tensor:
    """Mean Charbonnier penalty of ``x``, over the masked elements only when ``mask`` is given.

    Unlike the original, which multiplied ``x`` by the mask and divided by every element (masked-out ones
    counting as ``rho(0)``), the mean is taken over the masked elements: the value does not depend on how
    many pixels are masked out.

    Args:
        x: residual, any shape.
        mask: broadcastable to ``x`` (0 = ignore), or ``None``.
        alpha: exponent.
        beta: scale of ``x``.
        epsilon: smoothing constant.

    Returns:
        Scalar tensor.
    """
    return masked_mean(charbonnier(x, alpha, beta, epsilon), mask)
