"""Image of warped events (IWE): move every event along the flow to a reference time and splat it bilinearly."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ShapeError


def _event_columns(events, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """``x, y, polarity weight (+-1), t`` as float tensors from a structured array or an ``(N, 4)`` tensor."""
    if isinstance(events, np.ndarray) and events.dtype.names is not None:
        cols = [np.asarray(events[k], dtype=np.float64) for k in ("x", "y", "p", "t")]
        x, y, p, t = (torch.as_tensor(c, device=device) for c in cols)
    else:
        arr = torch.as_tensor(events, device=device)
        if arr.dim() != 2 or arr.shape[1] != 4:
            raise ShapeError(
                f"events: expected a structured array (x, y, p, t) or an (N, 4) array, got {tuple(arr.shape)}"
            )
        x, y, p, t = (arr[:, k].to(torch.float64) for k in range(4))
    weight = torch.where(p > 0, 1.0, -1.0).to(torch.float64)
    return x.to(dtype), y.to(dtype), weight.to(dtype), t


def compute_iwe(
    events, flow: torch.Tensor, t: float, duration_flow: float | None = None, use_polarity: bool = True
) -> torch.Tensor:
    """Image of warped events: each event moves by ``v * (t - t_e)`` with ``v = flow / duration`` (px/µs).

    The flow is sampled at each event's pixel (bilinear, ``align_corners=True``); the warped events are splatted
    bilinearly with weight +1 (ON) / -1 (OFF) (or +1 for all with ``use_polarity=False``) into an ``(H + 2, W + 2)``
    canvas that is cropped back to ``(H, W)``: events landing outside the image are dropped. Differentiable
    with respect to ``flow``.

    Args:
        events: structured array with fields ``x, y, p, t`` (µs), or an ``(N, 4)`` array/tensor with these columns.
        flow: ``(2, H, W)`` flow in pixels over ``duration_flow``.
        t: reference time (µs) the events are moved to.
        duration_flow: time (µs) spanned by ``flow``; defaults to the last minus the first event time.
        use_polarity: signed (+-1) splatting; otherwise every event counts +1.

    Returns:
        ``(H, W)`` tensor of ``flow``'s dtype.

    Raises:
        ShapeError: bad flow or event array shape.
    """
    if flow.dim() != 3 or flow.shape[0] != 2:
        raise ShapeError(f"compute_iwe: flow must be (2, H, W), got {tuple(flow.shape)}")
    h, w = flow.shape[1], flow.shape[2]
    x, y, weight, te = _event_columns(events, flow.device, flow.dtype)
    if not use_polarity:
        weight = torch.ones_like(weight)
    if te.numel() == 0:
        return flow.new_zeros(h, w)
    if duration_flow is None:
        duration_flow = float(te.max() - te.min())
    duration = max(float(duration_flow), 1e-9)
    gx = 2 * x / max(w - 1, 1) - 1
    gy = 2 * y / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], -1).view(1, 1, -1, 2)
    vel = F.grid_sample(flow.unsqueeze(0), grid, mode="bilinear", align_corners=True).view(2, -1) / duration
    dt = (float(t) - te).to(flow.dtype)
    return _splat(x + vel[0] * dt, y + vel[1] * dt, weight, h, w)


def _splat(xw: torch.Tensor, yw: torch.Tensor, weight: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear splatting into an ``(h + 2, w + 2)`` canvas (1-pixel margin), cropped to ``(h, w)``."""
    x0, y0 = torch.floor(xw), torch.floor(yw)
    canvas = xw.new_zeros((h + 2) * (w + 2))
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = weight * (1 - (xw - xi).abs()) * (1 - (yw - yi).abs())
            inside = (xi >= -1) & (xi <= w) & (yi >= -1) & (yi <= h)
            idx = ((yi + 1) * (w + 2) + (xi + 1)).long()
            canvas = canvas.index_add(0, idx[inside], wgt[inside])
    return canvas.view(h + 2, w + 2)[1:-1, 1:-1]
