"""Torch twin of :func:`~evflow.preprocessing.event_cube.event_cube`: batched, runs on CPU or GPU.

Same formula and float64 arithmetic as the numba kernel (see that module):
``tau + 1 = (t - start) * (n / total) + 0.5``; the left/right shares are scattered with ``index_add_`` into a
flat view of the output.

Difference from the numba kernel (documented, by design): numba clamps each accumulation to ``[-1, 1]`` in
event order, the twin clamps the final sum once. With ``split_polarity=True`` (the default) every increment
is positive, so both give the same value up to float32 rounding (<= 1e-6). With ``split_polarity=False`` they
differ only at cells whose running signed sum leaves ``[-1, 1]`` before coming back.
"""

from __future__ import annotations

import numpy as np
import torch

from evflow.errors import EventValueError, ShapeError


def events_to_torch(events: np.ndarray, batch_index: int = 0, device="cpu") -> torch.Tensor:
    """Convert a structured event array to the ``(N, 5)`` int64 tensor ``(b, x, y, p, t)`` of the twin."""
    cols = [np.full(len(events), batch_index, np.int64)] + [events[k].astype(np.int64) for k in "xypt"]
    return torch.from_numpy(np.stack(cols, axis=1)).to(device)


def _per_event(value, b_safe: torch.Tensor, batch: int, device):
    """``value`` (an int or a ``(B,)`` tensor) for each event: a Python int when it is the same for all."""
    if not torch.is_tensor(value) or value.numel() == 1:
        return int(value)
    if value.numel() != batch:
        raise ShapeError(f"event_cube_torch: per-sample values need shape ({batch},), got {tuple(value.shape)}")
    return value.to(device=device, dtype=torch.int64)[b_safe]


def _valid_mask(b, x, y, p, t, total_b, out_shape):
    n_t, n_b, _, h, w = out_shape
    return (
        (b >= 0)
        & (b < n_b)
        & (x >= 0)
        & (x < w)
        & (y >= 0)
        & (y < h)
        & (t >= 0)
        & (t < total_b)
        & ((p == 0) | (p == 1))
    )


def event_cube_torch(
    events: torch.Tensor,
    output: torch.Tensor,
    total_tbins_delta_t,
    downsampling_factor: int = 0,
    reset: bool = True,
    split_polarity: bool = True,
    max_incr_per_pixel: float = 5,
    *,
    start_ts=0,
    drop_out_of_range: bool = False,
) -> torch.Tensor:
    """Batched event cube, filled in place on ``output``'s device.

    Args:
        events: ``(N, 5)`` integer tensor of ``(batch index, x, y, p, t)`` rows (see :func:`events_to_torch`).
        output: ``(num_tbins, B, C, H, W)`` float tensor (time-major, like every evflow sequence tensor).
        total_tbins_delta_t: window length in µs, an int or a ``(B,)`` tensor.
        downsampling_factor: coordinates ``>> ds``, increments divided by ``4**ds``.
        reset: zero ``output`` first.
        split_polarity: channel ``2 * d + p`` (else signed channel ``d``).
        max_incr_per_pixel: events that saturate a cell.
        start_ts: window start(s), an int or a ``(B,)`` tensor.
        drop_out_of_range: drop invalid events instead of raising.

    Returns:
        ``output``; ``output[:, b]`` equals the numba ``event_cube`` of sample ``b``.

    Raises:
        EventValueError: an event outside the tensor/window or batch range (unless dropped).
        ShapeError: bad shapes.
    """
    if events.ndim != 2 or events.shape[1] != 5:
        raise ShapeError(f"event_cube_torch: events must be (N, 5) (b, x, y, p, t), got {tuple(events.shape)}")
    if output.ndim != 5 or (split_polarity and output.shape[2] % 2):
        raise ShapeError(f"event_cube_torch: output must be (T, B, C, H, W) with even C, got {tuple(output.shape)}")
    if not output.is_contiguous() or not output.is_floating_point():
        raise ShapeError("event_cube_torch: output must be a contiguous floating-point tensor")
    n_t, n_b, n_c, h, w = output.shape
    dev = output.device
    ev = events.to(device=dev, dtype=torch.int64)
    b, x, y, p, t = ev.unbind(1)
    x, y = x >> downsampling_factor, y >> downsampling_factor
    b_safe = b.clamp(0, n_b - 1)
    total_b = _per_event(total_tbins_delta_t, b_safe, n_b, dev)
    t = t - _per_event(start_ts, b_safe, n_b, dev)
    valid = _valid_mask(b, x, y, p, t, total_b, output.shape)
    if not bool(valid.all()):
        if not drop_out_of_range:
            i = int(torch.nonzero(~valid)[0, 0])
            raise EventValueError(
                f"event_cube_torch: event {i} (b, x, y, p, t)={tuple(int(v) for v in events[i])} lies outside the "
                f"{h}x{w} tensor, its window or the batch; pass drop_out_of_range=True to drop such events"
            )
        b, x, y, p, t = (v[valid] for v in (b, x, y, p, t))
        total_b = total_b[valid] if torch.is_tensor(total_b) else total_b
    if reset:
        output.zero_()
    _scatter(output, b, x, y, p, t, total_b, split_polarity, 1.0 / (float(max_incr_per_pixel) * 4**downsampling_factor))
    return output.clamp_(-1.0, 1.0)


def _offsets(n_t, n_b, n_c, plane, d_count, step, device):
    """Flat offset of micro bin ``j`` (time bin ``j // D``, micro bin ``j % D``) in a (T, B, C, H, W) tensor."""
    j = torch.arange(n_t * d_count, device=device)
    tb = j // d_count
    return (tb * n_b * n_c + (j - tb * d_count) * step) * plane


def _scatter(output, b, x, y, p, t, total_b, split, k):
    n_t, n_b, n_c, h, w = output.shape
    d_count = n_c // 2 if split else n_c
    table = _offsets(n_t, n_b, n_c, h * w, d_count, 2 if split else 1, output.device)
    n = table.numel()
    scale_t = n / total_b.to(torch.float64) if torch.is_tensor(total_b) else n / total_b
    tau1 = t.to(torch.float64) * scale_t + 0.5  # same arithmetic as the numba kernel
    right = torch.floor(tau1).to(torch.int64)
    w_right = tau1 - right
    base = (b * n_c + (p if split else 0)) * (h * w) + y * w + x
    scale = k if split else k * (2 * p - 1).to(torch.float64)
    flat_out = output.view(-1)
    # out-of-range shares (before micro bin 0, after the last one) get weight 0 instead of being compacted away
    for bins, weight in ((right - 1, 1.0 - w_right), (right, w_right)):
        inside = (bins >= 0) & (bins < n)
        idx = table[bins.clamp(0, n - 1)] + base
        vals = torch.where(inside, weight * scale, 0.0).to(output.dtype)
        flat_out.index_add_(0, idx, vals)
