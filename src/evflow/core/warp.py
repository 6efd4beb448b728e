"""Flow warping: normalisation, backward/forward warps, warps to a time bin or micro time bin, ``Warping`` heads.

Flows are in pixels, channel 0 = x (right), channel 1 = y (down). ``grid_sample`` works in normalised
coordinates: with ``align_corners=True`` pixel ``i`` of ``W`` sits at ``2 i / (W - 1) - 1``, so a displacement of
``u`` pixels is ``2 u / (W - 1)`` grid units.

Directions (``out(x)`` for an input image ``img`` and flow ``f``):

* :func:`warp_backward_using_forward_flow`: ``out(x) = img(x + f(x))`` (pulls content back against the flow);
* :func:`warp_forward_using_forward_flow`: ``out(x) = img(x - f(x))`` (moves content along the flow: a dot at
  ``(10, 10)`` with ``f = (3, 2)`` appears at ``(13, 12)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .iwe import compute_iwe
from .sequence import batch_to_time, time_to_batch

__all__ = [
    "Warping",
    "compute_iwe",
    "make_grid2d",
    "normalize_flow",
    "warp_backward_using_forward_flow",
    "warp_forward_using_backward_flow",
    "warp_forward_using_forward_flow",
    "warp_to_micro_tbin",
    "warp_to_tbin",
]


def normalize_flow(flow: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    """Convert a pixel flow to ``grid_sample`` units and clamp it to ``[-2, 2]`` (a whole image).

    Args:
        flow: pixel flow, channel 0 = x, channel 1 = y.
        align_corners: grid convention (``True``: divide by ``W - 1``; ``False``: by ``W``).

    Returns:
        A new tensor of the same shape.

    Shape:
        ``(..., 2, H, W)``.
    """
    h, w = flow.shape[-2], flow.shape[-1]
    den_w, den_h = (max(w - 1, 1), max(h - 1, 1)) if align_corners else (w, h)
    scale = torch.tensor([2.0 / den_w, 2.0 / den_h], dtype=flow.dtype, device=flow.device)
    return (flow * scale.view(2, 1, 1)).clamp(-2.0, 2.0)


def make_grid2d(
    height: int,
    width: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
    align_corners: bool = True,
) -> torch.Tensor:
    """Identity sampling grid of ``grid_sample``.

    Returns:
        ``(1, H, W, 2)`` tensor, last dimension ``(x, y)`` in ``[-1, 1]``.
    """
    if align_corners:
        xs = torch.linspace(-1.0, 1.0, width, dtype=dtype, device=device)
        ys = torch.linspace(-1.0, 1.0, height, dtype=dtype, device=device)
    else:
        xs = (torch.arange(width, dtype=dtype, device=device) * 2 + 1) / width - 1
        ys = (torch.arange(height, dtype=dtype, device=device) * 2 + 1) / height - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1).unsqueeze(0)


def _sample(
    img: torch.Tensor,
    flow: torch.Tensor,
    sign: float,
    grid: torch.Tensor | None,
    align_corners: bool,
    mode: str,
    normalized: bool,
) -> torch.Tensor:
    """``grid_sample(img, grid + sign * flow_n)`` with zero padding."""
    flow_n = flow if normalized else normalize_flow(flow, align_corners)
    if grid is None:
        grid = make_grid2d(img.shape[-2], img.shape[-1], flow.dtype, flow.device, align_corners)
    coords = grid + sign * flow_n.permute(0, 2, 3, 1)
    return F.grid_sample(img, coords, mode=mode, padding_mode="zeros", align_corners=align_corners)


def warp_backward_using_forward_flow(
    img: torch.Tensor,
    flow: torch.Tensor,
    grid: torch.Tensor | None = None,
    align_corners: bool = True,
    mode: str = "bilinear",
    flow_is_normalized: bool = False,
) -> torch.Tensor:
    """``out(x) = img(x + f(x))``: bring the content at ``x + f`` back to ``x``.

    Args:
        img: image ``(N, C, H, W)``.
        flow: flow ``(N, 2, H, W)`` in pixels, or grid units if ``flow_is_normalized``.
        grid: cached :func:`make_grid2d` grid (built if ``None``).
        align_corners: ``grid_sample`` convention.
        mode: ``"bilinear"`` or ``"nearest"``.
        flow_is_normalized: ``flow`` is already in grid units.

    Returns:
        Warped image ``(N, C, H, W)``.
    """
    return _sample(img, flow, 1.0, grid, align_corners, mode, flow_is_normalized)


warp_forward_using_backward_flow = warp_backward_using_forward_flow


def warp_forward_using_forward_flow(
    img: torch.Tensor,
    flow: torch.Tensor,
    grid: torch.Tensor | None = None,
    align_corners: bool = True,
    mode: str = "bilinear",
    flow_is_normalized: bool = False,
) -> torch.Tensor:
    """``out(x) = img(x - f(x))``: move the content along the flow (same arguments as the backward warp)."""
    return _sample(img, flow, -1.0, grid, align_corners, mode, flow_is_normalized)


def warp_to_tbin(
    tensor: torch.Tensor,
    flow: torch.Tensor,
    tbin: int,
    grid: torch.Tensor | None = None,
    align_corners: bool = True,
    mode: str = "bilinear",
    flow_is_normalized: bool = False,
) -> torch.Tensor:
    """Move every slice ``k`` of a sequence onto slice ``tbin`` with the displacement ``f * (tbin - k)``.

    Args:
        tensor: ``(K, N, C, H, W)`` slices.
        flow: ``(N, 2, H, W)`` displacement per slice.
        tbin: target slice index.
        grid, align_corners, mode, flow_is_normalized: as in :func:`warp_forward_using_forward_flow`.

    Returns:
        ``(K, N, C, H, W)``: every slice seen at time ``tbin``.
    """
    k = tensor.shape[0]
    steps = tbin - torch.arange(k, dtype=flow.dtype, device=flow.device)
    flows = flow.unsqueeze(0) * steps.view(k, 1, 1, 1, 1)
    flat_img, n = time_to_batch(tensor)
    flat_flow, _ = time_to_batch(flows)
    if not flow_is_normalized:
        flat_flow = normalize_flow(flat_flow, align_corners)
    out = warp_forward_using_forward_flow(flat_img, flat_flow, grid, align_corners, mode, True)
    return batch_to_time(out, n)


def warp_to_micro_tbin(
    inputs: torch.Tensor,
    flow: torch.Tensor,
    micro_tbin: int,
    grid: torch.Tensor | None = None,
    align_corners: bool = True,
    mode: str = "bilinear",
    flow_is_normalized: bool = False,
) -> torch.Tensor:
    """Move the ``D`` micro bins of every bin onto micro bin ``m`` (micro bin ``d`` moves by ``f (m - d) / D``).

    Args:
        inputs: ``(T, B, D, C', H, W)`` micro-binned sequence.
        flow: ``(T * B, 2, H, W)`` flow per bin (the displacement over the whole bin).
        micro_tbin: target micro bin ``m``.
        grid, align_corners, mode, flow_is_normalized: as in :func:`warp_forward_using_forward_flow`.

    Returns:
        ``(T, B, D, C', H, W)`` sharpened micro bins.
    """
    t, b, d = inputs.shape[0], inputs.shape[1], inputs.shape[2]
    per_micro = inputs.reshape([t * b] + list(inputs.shape[2:])).transpose(0, 1)  # (D, T*B, C', H, W)
    out = warp_to_tbin(per_micro, flow / d, micro_tbin, grid, align_corners, mode, flow_is_normalized)
    return out.transpose(0, 1).reshape(inputs.shape)


class Warping(nn.Module):
    """Warping head with a cached grid, rebuilt whenever resolution, dtype, device or convention change.

    Args:
        mode: ``"bilinear"`` or ``"nearest"``.
    """

    def __init__(self, mode: str = "bilinear"):
        super().__init__()
        if mode not in ("bilinear", "nearest"):
            from ..errors import ConfigError

            raise ConfigError(f"unknown warping mode {mode!r}; valid: 'bilinear', 'nearest'")
        self.mode = mode
        self.grid_align_corners = True
        self.register_buffer("grid", torch.zeros(0), persistent=False)

    def get_grid(self, like: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
        """The identity grid for a ``(..., H, W)`` tensor ``like`` (cached)."""
        h, w = like.shape[-2], like.shape[-1]
        ok = list(self.grid.shape) == [1, h, w, 2] and self.grid.dtype == like.dtype and self.grid.device == like.device
        if not ok or self.grid_align_corners != align_corners:
            self.grid = make_grid2d(h, w, like.dtype, like.device, align_corners)
            self.grid_align_corners = align_corners
        return self.grid

    def warp_sequence_by_one_time_bin(
        self, img: torch.Tensor, flow: torch.Tensor, align_corners: bool = True, flow_is_normalized: bool = False
    ) -> torch.Tensor:
        """Forward-warp every bin by its own flow: the prediction of the next bin.

        Args:
            img: ``(T, B, C, H, W)``.
            flow: ``(T * B, 2, H, W)``.
            align_corners: grid convention.
            flow_is_normalized: ``flow`` already in grid units.

        Returns:
            ``(T, B, C, H, W)``; slice ``t`` predicts input bin ``t + 1``.
        """
        flat, b = time_to_batch(img)
        grid = self.get_grid(flow, align_corners)
        out = warp_forward_using_forward_flow(flat, flow, grid, align_corners, self.mode, flow_is_normalized)
        return batch_to_time(out, b)

    def sharpen_micro_tbin(
        self,
        img: torch.Tensor,
        flow: torch.Tensor,
        micro_tbin: int,
        is_on_off_volume: bool = True,
        align_corners: bool = True,
        flow_is_normalized: bool = False,
    ) -> torch.Tensor:
        """Warp all micro bins of each bin onto micro bin ``micro_tbin``.

        Args:
            img: ``(T, B, C, H, W)``; on/off volume: channels ``2 d + p`` (``D = C / 2``), else ``D = C``.
            flow: ``(T * B, 2, H, W)``, displacement over a whole bin.
            micro_tbin: target micro bin.
            is_on_off_volume: channel pairs (OFF, ON) per micro bin.
            align_corners: grid convention.
            flow_is_normalized: ``flow`` already in grid units.

        Returns:
            ``(T, B, D, C / D, H, W)``.
        """
        t, b, c = img.shape[0], img.shape[1], img.shape[2]
        d = c // 2 if is_on_off_volume else c
        micro = img.reshape(t, b, d, c // d, img.shape[-2], img.shape[-1])
        grid = self.get_grid(flow, align_corners)
        return warp_to_micro_tbin(micro, flow, micro_tbin, grid, align_corners, self.mode, flow_is_normalized)
