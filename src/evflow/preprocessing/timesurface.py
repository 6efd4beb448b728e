"""``timesurface`` and ``multi_channel_timesurface`` (reference §12): the last event of each cell wins.

``timesurface``: the window ``[0, total)`` is cut into ``T`` bins of length ``dt = total / T``; an event at ``t``
in bin ``b = t * T // total`` writes ``(t - b * dt) / dt`` (``normed=True``, in ``[0, 1)``) or ``t - b * dt`` µs
(``normed=False``) at ``[b, p, y >> ds, x >> ds]``. An event exactly at a bin start stores 0, which cannot be
told apart from an empty cell (as in the reference).

``multi_channel_timesurface``: the same on ``n = T * D`` micro bins (``D = C // 2``), channel ``2 * d + p``.
Example: ``T=1, C=6, total=30000``: an ON event at ``t=15000`` is in micro bin 1 (``dt = 10000``) and writes
0.5 to channel 3.
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
def _timesurface_kernel(ev, t0, out, total, ds, drop, normed):
    n_tbins, n_ch, height, width = out.shape
    n_micro = n_ch // 2
    n = n_tbins * n_micro
    dt = total / n
    dropped = 0
    for i in range(ev.shape[0]):
        e = ev[i]
        xi, yi, pi, ti = event_at(e, t0, ds)
        if event_is_bad(xi, yi, pi, ti, height, width, total):
            if drop:
                dropped += 1
                continue
            return i, dropped
        b = ti * n // total
        value = ti - b * dt
        if normed:
            value = value / dt
        tb = b // n_micro
        out[tb, 2 * (b - tb * n_micro) + pi, yi, xi] = value
    return OK, dropped


def _run(name, events, output, total_tbins_delta_t, ds, reset, normed, start_ts, drop):
    check_output(output, (np.float32, np.float64), name, channels_even=True)
    total = check_total(total_tbins_delta_t)
    if reset:
        zero_output(output)
    event_fields(events)  # checks the field names
    bad, _ = _timesurface_kernel(events, int(start_ts), output, total, int(ds), bool(drop), bool(normed))
    if bad != OK:
        raise_bad_event(events, bad, output.shape, total, start_ts, ds, name)
    return output


def timesurface(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    normed: bool = True,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Time surface of the last event per (time bin, polarity, pixel), filled in place.

    Args:
        events: structured array with fields x, y, p (0/1), t (µs), sorted by time.
        output: preallocated float tensor ``(num_tbins, 2, H, W)``.
        total_tbins_delta_t: window length in µs of all time bins together.
        downsampling_factor: coordinates ``>> ds``.
        reset: zero ``output`` first.
        normed: store the time inside the bin as a fraction of the bin length instead of µs.
        start_ts: window start (event times are ``t - start_ts``).
        drop_out_of_range: drop events outside the tensor/window instead of raising.

    Returns:
        ``output``.

    Raises:
        EventValueError: event outside the tensor or window, or bad polarity.
    """
    if output.ndim == 4 and output.shape[1] != 2:
        from evflow.errors import ShapeError

        raise ShapeError(f"timesurface: output must have 2 channels, got shape {output.shape}")
    args = (output, total_tbins_delta_t, downsampling_factor, reset, normed, start_ts, drop_out_of_range)
    return _run("timesurface", events, *args)


def multi_channel_timesurface(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    normed: bool = True,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Time surface on ``C // 2`` micro bins per time bin (channel ``2 * d + p``), filled in place.

    Args:
        events, output, total_tbins_delta_t, downsampling_factor, reset, normed, start_ts, drop_out_of_range:
            as in :func:`timesurface`; ``output`` is ``(num_tbins, 2 * D, H, W)``.

    Returns:
        ``output``.

    Raises:
        EventValueError: event outside the tensor or window, or bad polarity.
    """
    args = (output, total_tbins_delta_t, downsampling_factor, reset, normed, start_ts, drop_out_of_range)
    return _run("multi_channel_timesurface", events, *args)
