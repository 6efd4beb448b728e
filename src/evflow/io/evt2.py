"""EVT 2.0 and EVT 2.1 codecs (numba kernels).

EVT 2.0: little-endian 32-bit words, type ``w >> 28``. CD_OFF (0x0) / CD_ON (0x1):
``t_low = (w >> 22) & 0x3F``, ``x = (w >> 11) & 0x7FF``, ``y = w & 0x7FF``, ``p = type``. TIME_HIGH (0x8):
``th = w & 0x0FFFFFFF`` and an event's time is ``(th << 6) | t_low``. A TIME_HIGH that falls by at least
half of the 28-bit range is a wrap (+2^34 µs). Trigger (0xA), other (0xE) and continued (0xF) words make no
CD event; other types are corrupt data.

EVT 2.1: little-endian 64-bit words, type ``w >> 60``. CD words (0x0 OFF, 0x1 ON) carry ``t_low`` (bits
54-59), a base column ``x`` (43-53), ``y`` (32-42) and a 32-bit mask: bit i makes an event at ``x + i``.
TIME_HIGH (0x8) holds its 28 bits at 32-59. The "legacy" endianness swaps the two 32-bit halves.

Decoded events are written through an int64 view of an EVENT_DTYPE buffer (two words per event:
``x | y << 16 | p << 32`` and ``t``).
"""

from __future__ import annotations

from numba import njit

from evflow.io.raw_state import (
    D_BASE,
    D_ERR,
    D_ERR_INDEX,
    D_ERR_VALUE,
    D_HAVE_TH,
    D_LAST_T,
    D_POS,
    D_TH,
    E_BASE,
    E_HAVE,
    E_LAST_U,
    ERR_BACKWARDS,
    ERR_GEOMETRY_X,
    ERR_GEOMETRY_Y,
    ERR_TYPE,
)

TH_BITS = 28
TH_WRAP_US = 1 << (TH_BITS + 6)  # 2^34 µs
TH_HALF = 1 << (TH_BITS - 1)
TH_STEP = 1 << (TH_BITS - 2)  # largest TIME_HIGH step the encoder writes
MAX_EVENTS_PER_WORD_21 = 32


@njit(cache=True, nogil=True, inline="always")
def _time_high(state, new):  # pragma: no cover - compiled
    """Apply a TIME_HIGH word's 28-bit value (counts a wrap when it falls by half the range or more)."""
    if state[D_HAVE_TH] and new < state[D_TH] and state[D_TH] - new >= TH_HALF:
        state[D_BASE] += TH_WRAP_US
    state[D_TH] = new
    state[D_HAVE_TH] = 1


@njit(cache=True, nogil=True, inline="always")
def _emit(out, n, x, y, p, t, state, i, width, height):  # pragma: no cover - compiled
    """Store one event at ``out[n]``; return False (and set the error) when it is invalid."""
    if x >= width:
        state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_GEOMETRY_X, i, x
        return False
    if y >= height:
        state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_GEOMETRY_Y, i, y
        return False
    if t < state[D_LAST_T]:
        state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_BACKWARDS, i, t
        return False
    state[D_LAST_T] = t
    out[2 * n] = x | (y << 16) | (p << 32)
    out[2 * n + 1] = t
    return True


@njit(cache=True, nogil=True, boundscheck=False)
def decode_evt2(words, out, state, width, height):  # pragma: no cover - compiled
    """Decode EVT 2.0 words from ``state[D_POS]`` until the end or until ``out`` is full.

    Args:
        words: uint32 array.
        out: int64 view of an EVENT_DTYPE buffer (capacity ``len(out) // 2`` events).
        state: decoder state (see :mod:`evflow.io.raw_state`), updated in place.
        width, height: sensor size; events outside it are errors.

    Returns:
        Number of events written to ``out``.
    """
    cap = out.shape[0] // 2
    n = 0
    i = state[D_POS]
    nw = words.shape[0]
    while i < nw and n < cap:
        w = int(words[i])
        typ = w >> 28
        if typ <= 1:
            if state[D_HAVE_TH]:
                t = state[D_BASE] + (state[D_TH] << 6) + ((w >> 22) & 0x3F)
                if not _emit(out, n, (w >> 11) & 0x7FF, w & 0x7FF, typ, t, state, i, width, height):
                    break
                n += 1
        elif typ == 0x8:
            _time_high(state, w & 0x0FFFFFFF)
        elif typ != 0xA and typ != 0xE and typ != 0xF:
            state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_TYPE, i, typ
            break
        i += 1
    state[D_POS] = i
    return n


@njit(cache=True, nogil=True, boundscheck=False)
def decode_evt21(words, out, state, width, height, legacy):  # pragma: no cover - compiled
    """Decode EVT 2.1 words (``words`` is a uint32 array, two per 64-bit word); same contract as EVT 2.0.

    ``state[D_POS]`` counts 64-bit words. ``legacy`` selects the swapped-halves byte order.
    """
    cap = out.shape[0] // 2
    n = 0
    i = state[D_POS]
    nw = words.shape[0] // 2
    while i < nw and n + MAX_EVENTS_PER_WORD_21 <= cap:
        lo, hi = int(words[2 * i]), int(words[2 * i + 1])
        if legacy:
            lo, hi = hi, lo
        typ = hi >> 28
        if typ <= 1:
            if state[D_HAVE_TH]:
                t = state[D_BASE] + (state[D_TH] << 6) + ((hi >> 22) & 0x3F)
                x0, y = (hi >> 11) & 0x7FF, hi & 0x7FF
                ok = True
                for b in range(32):
                    if (lo >> b) & 1:
                        ok = _emit(out, n, x0 + b, y, typ, t, state, i, width, height)
                        if not ok:
                            break
                        n += 1
                if not ok:
                    break
        elif typ == 0x8:
            _time_high(state, hi & 0x0FFFFFFF)
        elif typ != 0xA and typ != 0xE and typ != 0xF:
            state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_TYPE, i, typ
            break
        i += 1
    state[D_POS] = i
    return n


@njit(cache=True, nogil=True, inline="always")
def _advance_time_high(words, nw, cap, u, state):  # pragma: no cover - compiled
    """Write TIME_HIGH words up to full unit ``u`` (intermediate ones keep each step < 2^26); return nw."""
    while nw < cap and (state[E_HAVE] == 0 or state[E_LAST_U] != u):
        if state[E_HAVE] and u - state[E_LAST_U] > TH_STEP:
            state[E_LAST_U] += TH_STEP
        else:
            state[E_LAST_U] = u
        state[E_HAVE] = 1
        words[nw] = (0x8 << 28) | (state[E_LAST_U] & 0x0FFFFFFF)
        nw += 1
    return nw


@njit(cache=True, nogil=True, boundscheck=False)
def encode_evt2(x, y, p, t, start, words, state):  # pragma: no cover - compiled
    """Encode events ``start...`` as EVT 2.0 words until the events or ``words`` run out.

    Returns:
        (index of the next event to encode, number of words written).
    """
    nw = 0
    cap = words.shape[0] - 1
    i = start
    while i < x.shape[0] and nw < cap:
        rel = t[i] - state[E_BASE]
        nw = _advance_time_high(words, nw, cap, rel >> 6, state)
        if nw >= cap or state[E_LAST_U] != rel >> 6:
            break
        words[nw] = (int(p[i]) << 28) | ((rel & 0x3F) << 22) | (int(x[i]) << 11) | int(y[i])
        nw += 1
        i += 1
    return i, nw


@njit(cache=True, nogil=True, boundscheck=False)
def encode_evt21(x, y, p, t, start, words, state):  # pragma: no cover - compiled
    """Encode events as EVT 2.1 (uint32 ``words``, two per 64-bit word, standard byte order).

    Consecutive events with the same ``t``, ``p``, ``y`` and 32-aligned column group, in increasing column
    order, share one word. Returns (next event index, number of uint32 words written).
    """
    nw = 0
    cap = words.shape[0] - 2
    i = start
    n = x.shape[0]
    while i < n and nw < cap:
        rel = t[i] - state[E_BASE]
        k = _advance_time_high(words[1::2], nw // 2, cap // 2, rel >> 6, state)
        for j in range(nw // 2, k):  # TIME_HIGH words went to the high halves
            words[2 * j] = 0
        nw = 2 * k
        if nw >= cap or state[E_LAST_U] != rel >> 6:
            break
        x0 = int(x[i]) & ~31
        mask = 1 << (int(x[i]) - x0)
        j = i + 1
        while j < n and t[j] == t[i] and p[j] == p[i] and y[j] == y[i] and (int(x[j]) & ~31) == x0 and x[j] > x[j - 1]:
            mask |= 1 << (int(x[j]) - x0)
            j += 1
        words[nw] = mask
        words[nw + 1] = (int(p[i]) << 28) | ((rel & 0x3F) << 22) | (x0 << 11) | int(y[i])
        nw += 2
        i = j
    return i, nw
