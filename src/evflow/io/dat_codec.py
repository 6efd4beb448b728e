"""Numba kernels for Prophesee ``.dat`` CD records (8 bytes: ``u32 t`` then ``u32 x:14 y:14 p:4``).

DAT stores 32-bit timestamps. The decoder unwraps them: a drop by more than 2^31 µs between consecutive
records is a wrap (+2^32 µs), any smaller drop is corrupt data. Output is written through an ``int64`` view
of an :data:`~evflow.io.events.EVENT_DTYPE` buffer: word 0 holds ``x | y << 16 | p << 32`` (the ``x``, ``y``,
``p`` fields and padding), word 1 holds ``t``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

WRAP = np.int64(1) << np.int64(32)
HALF = np.int64(1) << np.int64(31)

# state slots shared by decode_dat calls of one stream
ST_HIGH, ST_PREV, ST_ERR, ST_ERR_INDEX = 0, 1, 2, 3
ERR_BACKWARDS, ERR_GEOMETRY = 1, 2


def new_state(t_offset: int = 0) -> np.ndarray:
    """Return the decoder state for a new stream whose times start at ``t_offset`` (a multiple of 2^32)."""
    return np.array([t_offset, -1, 0, -1], dtype=np.int64)


@njit(cache=True, nogil=True, boundscheck=False)
def decode_dat(rec, out, state, width, height):  # pragma: no cover - compiled
    """Decode ``len(rec) // 2`` records into ``out``; stop at the first bad record.

    Args:
        rec: uint32 array, interleaved ``t, word`` pairs.
        out: int64 view of an EVENT_DTYPE buffer, at least ``len(rec)`` words.
        state: int64 state from :func:`new_state`, updated in place; on error ``state[ST_ERR]`` holds the
            error code and ``state[ST_ERR_INDEX]`` the record index within ``rec``.
        width, height: coordinates must be below these.

    Returns:
        Number of events decoded.
    """
    n = rec.shape[0] // 2
    high = state[ST_HIGH]
    prev = state[ST_PREV]
    for i in range(n):
        traw = np.int64(rec[2 * i])
        w = np.int64(rec[2 * i + 1])
        if traw < prev:
            if prev - traw > HALF:
                high += WRAP
            else:
                state[ST_ERR] = ERR_BACKWARDS
                state[ST_ERR_INDEX] = i
                n = i
                break
        prev = traw
        x = w & 0x3FFF
        y = (w >> 14) & 0x3FFF
        if x >= width or y >= height:
            state[ST_ERR] = ERR_GEOMETRY
            state[ST_ERR_INDEX] = i
            n = i
            break
        p = (w >> 28) & 1
        out[2 * i] = x | (y << 16) | (p << 32)
        out[2 * i + 1] = high + traw
    state[ST_HIGH] = high
    state[ST_PREV] = prev
    return n


def encode_dat(events: np.ndarray, t_base: int) -> np.ndarray:
    """Pack sorted events into interleaved uint32 ``t, word`` pairs (``t`` stored modulo 2^32).

    Args:
        events: EVENT_DTYPE-like array, sorted by ``t``, coordinates < 2^14, ``t >= t_base``.
        t_base: time subtracted before the modulo (the file's ``evflow_t_offset``).

    Returns:
        uint32 array of length ``2 * len(events)``.
    """
    rec = np.empty(2 * len(events), dtype=np.uint32)
    rec[0::2] = (events["t"] - t_base) & 0xFFFFFFFF
    word = events["x"].astype(np.uint32)
    word |= events["y"].astype(np.uint32) << 14
    word |= events["p"].astype(np.uint32) << 28
    rec[1::2] = word
    return rec
