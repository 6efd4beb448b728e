"""``histo`` (per-polarity event counts) and ``diff`` (ON minus OFF), reference §12.

Both cut the window ``[0, total)`` into ``num_tbins`` equal bins; an event at ``t`` goes to bin
``t * num_tbins // total`` (integer arithmetic, so bin ``i`` holds ``ceil(i*total/T) <= t < ceil((i+1)*total/T)``).
Each event adds ``k = 1 / (max_incr_per_pixel * 4**ds)`` at ``(x >> ds, y >> ds)``:

* ``histo``: output ``(T, 2, H, W)``, channel = polarity, each accumulation saturates at 1.
* ``diff``: output ``(T, 1, H, W)``, ``+k`` for ON, ``-k`` for OFF, each accumulation clamped to ``[-1, 1]``
  (so the result follows the event order, like the reference).

Example: ``max_incr_per_pixel=5``, six ON events on one pixel give ``histo = min(6 * 0.2, 1) = 1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evflow.preprocessing._common import (
    OK,
    check_output,
    check_total,
    event_at,
    event_fields,
    event_is_bad,
    raise_bad_event,
    zero_output,
)


@njit(cache=True)
def _histo_kernel(ev, t0, out, total, k, ds, drop, signed):
    n_tbins, _, height, width = out.shape
    dropped = 0
    for i in range(ev.shape[0]):
        e = ev[i]
        xi, yi, pi, ti = event_at(e, t0, ds)
        if event_is_bad(xi, yi, pi, ti, height, width, total):
            if drop:
                dropped += 1
                continue
            return i, dropped
        tb = ti * n_tbins // total
        if signed:
            out[tb, 0, yi, xi] = min(max(out[tb, 0, yi, xi] + (2 * pi - 1) * k, -1.0), 1.0)
        else:
            out[tb, pi, yi, xi] = min(out[tb, pi, yi, xi] + k, 1.0)
    return OK, dropped


def _run(name, signed, events, output, total_tbins_delta_t, ds, reset, max_incr_per_pixel, start_ts, drop):
    check_output(output, (np.float32, np.float64), name)
    total = check_total(total_tbins_delta_t)
    if reset:
        zero_output(output)
    k = 1.0 / (float(max_incr_per_pixel) * 4**ds)
    event_fields(events)  # checks the field names
    bad, _ = _histo_kernel(events, int(start_ts), output, total, k, int(ds), bool(drop), signed)
    if bad != OK:
        raise_bad_event(events, bad, output.shape, total, start_ts, ds, name)
    return output


def histo(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    max_incr_per_pixel: float = 5,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Per-polarity event histogram, saturating at 1, filled in place.

    Args:
        events: structured array with fields x, y, p (0/1), t (µs).
        output: preallocated float tensor.
        total_tbins_delta_t: window length in µs of all time bins together.
        downsampling_factor: coordinates ``>> ds``, increments divided by ``4**ds``.
        reset: zero ``output`` first.
        max_incr_per_pixel: events needed to saturate a cell.
        start_ts: window start (event times are ``t - start_ts``).
        drop_out_of_range: drop events outside the tensor/window instead of raising.

    Returns:
        ``output``, shape ``(num_tbins, 2, H, W)``; channel 0 = OFF, 1 = ON.

    Raises:
        EventValueError: event outside the tensor or window, or bad polarity.
    """
    if output.ndim == 4 and output.shape[1] != 2:
        from evflow.errors import ShapeError

        raise ShapeError(f"histo: output must have 2 channels, got shape {output.shape}")
    args = (events, output, total_tbins_delta_t, downsampling_factor, reset, max_incr_per_pixel, start_ts)
    return _run("histo", False, *args, drop_out_of_range)


def diff(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    max_incr_per_pixel: float = 5,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Signed event count (ON minus OFF) clamped to [-1, 1], filled in place.

    Args:
        events, output, total_tbins_delta_t, downsampling_factor, reset, max_incr_per_pixel, start_ts,
        drop_out_of_range: as in :func:`histo`.

    Returns:
        ``output``, shape ``(num_tbins, 1, H, W)``.

    Raises:
        EventValueError: event outside the tensor or window, or bad polarity.
    """
    args = (events, output, total_tbins_delta_t, downsampling_factor, reset, max_incr_per_pixel, start_ts)
    return _run("diff", True, *args, drop_out_of_range)
