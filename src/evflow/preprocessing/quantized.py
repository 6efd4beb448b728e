"""Integer variants ``diff_quantized`` (int8) and ``histo_quantized`` (uint8), reference §12.

Events are counted per cell in an int32 scratch tensor (one pass, numba). With ``downsampling_factor > 0``
the counts of a ``2**ds x 2**ds`` box are averaged (count / ``4**ds``, rounded half to even), then saturated:

* ``diff_quantized``: ON minus OFF, saturated to ``[-2**(nb-1), 2**(nb-1) - 1]`` with ``nb = negative_bit_length``.
* ``histo_quantized``: channel 0 (OFF) saturated to ``2**negative_bit_length - 1``, channel 1 (ON) to
  ``2**(total_bit_length - negative_bit_length) - 1``.

``normalization=True`` maps the saturation range linearly onto the full range of the dtype (int8 ``[-128, 127]``
via the positive bound, uint8 ``[0, 255]``), rounding to the nearest integer. Saturation is applied once to the
final counts (evflow choice; for ``histo_quantized`` this equals saturating each increment).
Example: 20 ON events on one pixel with defaults give ``histo_quantized = 15`` on channel 1 (255 when normalised).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from evflow.errors import ConfigError, ShapeError
from evflow.preprocessing._common import (
    OK,
    check_output,
    check_total,
    event_at,
    event_fields,
    event_is_bad,
    raise_bad_event,
)


@njit(cache=True)
def _count_kernel(ev, t0, counts, total, ds, drop, signed):
    n_tbins, _, height, width = counts.shape
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
            counts[tb, 0, yi, xi] += 2 * pi - 1
        else:
            counts[tb, pi, yi, xi] += 1
    return OK, dropped


def _counts(name, events, output, total_tbins_delta_t, ds, start_ts, drop, signed):
    total = check_total(total_tbins_delta_t)
    counts = np.zeros(output.shape, np.int32)
    event_fields(events)  # checks the field names
    bad, _ = _count_kernel(events, int(start_ts), counts, total, int(ds), bool(drop), signed)
    if bad != OK:
        raise_bad_event(events, bad, output.shape, total, start_ts, ds, name)
    if ds:
        return np.round(counts / float(4**ds))
    return counts.astype(np.float64)


def _store(output, values, lo, hi, reset, normalization, full_hi):
    if normalization and not reset:
        raise ConfigError("quantized preprocessing: normalization=True requires reset=True")
    if not reset:
        values = values + output
    values = np.clip(values, lo, hi)
    if normalization:
        values = np.round(values * (full_hi / hi))
    output[...] = values
    return output


def diff_quantized(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    negative_bit_length: int = 8,
    normalization: bool = False,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Signed integer event count (ON minus OFF), saturated, filled in place.

    Args:
        events: structured array with fields x, y, p (0/1), t (µs).
        output: preallocated int8 tensor ``(num_tbins, 1, H, W)``.
        total_tbins_delta_t: window length in µs of all time bins together.
        downsampling_factor: coordinates ``>> ds``; counts averaged over the ``2**ds`` box.
        reset: overwrite ``output`` (otherwise add to it, then saturate).
        negative_bit_length: bits of the signed range, 2..8.
        normalization: rescale the saturation range to int8's ``[-127, 127]``.
        start_ts: window start (event times are ``t - start_ts``).
        drop_out_of_range: drop events outside the tensor/window instead of raising.

    Returns:
        ``output``.
    """
    check_output(output, (np.int8,), "diff_quantized")
    if not 2 <= negative_bit_length <= 8:
        raise ConfigError(f"diff_quantized: negative_bit_length must be in 2..8, got {negative_bit_length}")
    hi = 2 ** (negative_bit_length - 1) - 1
    vals = _counts(
        "diff_quantized", events, output, total_tbins_delta_t, downsampling_factor, start_ts, drop_out_of_range, True
    )
    return _store(output, vals, -hi - 1, hi, reset, normalization, 127)


def histo_quantized(
    events: np.ndarray,
    output: np.ndarray,
    total_tbins_delta_t: int,
    downsampling_factor: int = 0,
    reset: bool = True,
    negative_bit_length: int = 4,
    total_bit_length: int = 8,
    normalization: bool = False,
    *,
    start_ts: int = 0,
    drop_out_of_range: bool = False,
) -> np.ndarray:
    """Per-polarity integer event count, saturated per channel, filled in place.

    Args:
        events: structured array with fields x, y, p (0/1), t (µs).
        output: preallocated uint8 tensor ``(num_tbins, 2, H, W)``.
        total_tbins_delta_t: window length in µs of all time bins together.
        downsampling_factor: coordinates ``>> ds``; counts averaged over the ``2**ds`` box.
        reset: overwrite ``output`` (otherwise add to it, then saturate).
        negative_bit_length: bits of the OFF channel; the ON channel gets ``total_bit_length - negative_bit_length``.
        total_bit_length: bits of both channels together, at most 16.
        normalization: rescale each channel's saturation range to ``[0, 255]``.
        start_ts: window start (event times are ``t - start_ts``).
        drop_out_of_range: drop events outside the tensor/window instead of raising.

    Returns:
        ``output``.
    """
    check_output(output, (np.uint8,), "histo_quantized")
    if output.shape[1] != 2:
        raise ShapeError(f"histo_quantized: output must have 2 channels, got shape {output.shape}")
    pos_bits = total_bit_length - negative_bit_length
    if not (1 <= negative_bit_length <= 8 and 1 <= pos_bits <= 8):
        raise ConfigError(
            f"histo_quantized: need 1 <= negative_bit_length <= 8 and 1 <= total - negative <= 8, "
            f"got {negative_bit_length}, {total_bit_length}"
        )
    vals = _counts(
        "histo_quantized", events, output, total_tbins_delta_t, downsampling_factor, start_ts, drop_out_of_range, False
    )
    for ch, bits in ((0, negative_bit_length), (1, pos_bits)):
        hi = 2**bits - 1
        _store(output[:, ch], vals[:, ch], 0, hi, reset, normalization, 255)
    return output
