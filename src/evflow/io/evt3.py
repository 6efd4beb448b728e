"""EVT 3.0 codec (numba kernels). EVT 3.0 is stateful: every word updates a row, column or time register.

Little-endian 16-bit words, type ``w >> 12``:

- 0x0 ADDR_Y: ``y = w & 0x7FF``.
- 0x2 ADDR_X: one event at ``x = w & 0x7FF`` with ``p = (w >> 11) & 1`` and the current ``y``, ``t``.
- 0x3 VECT_BASE_X: ``base_x = w & 0x7FF``, vector polarity ``(w >> 11) & 1``.
- 0x4 VECT_12 / 0x5 VECT_8: bit i of the 12/8-bit mask is an event at ``base_x + i``; then ``base_x``
  advances by 12 / 8.
- 0x6 TIME_LOW: sets the low 12 bits of time, literally, every time (out-of-order TIME_LOW words that no
  event uses are harmless).
- 0x8 TIME_HIGH: sets bits 12-23. A repeated value changes nothing; a new value resets the low bits to 0.
  A fall by 2048 or more (half of the 12-bit range) is a wrap: +2^24 µs.
- 0x7, 0xA, 0xC, 0xE, 0xF (continued, trigger, ...) make no CD event; 0x1, 0x9, 0xB, 0xD are corrupt data.

``t = base + (time_high << 12) + time_low``, where ``base`` is the file's time offset plus the wraps.
Events before the first TIME_HIGH are dropped.
"""

from __future__ import annotations

from numba import njit

from evflow.io.evt2 import _emit
from evflow.io.raw_state import (
    D_BASE,
    D_BASE_X,
    D_ERR,
    D_ERR_INDEX,
    D_ERR_VALUE,
    D_HAVE_TH,
    D_POS,
    D_TH,
    D_TL,
    D_VPOL,
    D_Y,
    E_BASE,
    E_HAVE,
    E_LAST_TL,
    E_LAST_U,
    E_LAST_Y,
    ERR_TYPE,
)

TH_WRAP_US = 1 << 24
TH_HALF = 2048
TH_STEP = 1024  # largest TIME_HIGH step the encoder writes
MAX_EVENTS_PER_WORD = 12


@njit(cache=True, nogil=True, inline="always")
def _vector(out, n, mask, nbits, state, i, width, height):  # pragma: no cover - compiled
    """Emit the events of a VECT_12/VECT_8 mask; return the new count, or -1 on error."""
    x0 = state[D_BASE_X]
    if state[D_HAVE_TH]:
        t = state[D_BASE] + (state[D_TH] << 12) + state[D_TL]
        for b in range(nbits):
            if (mask >> b) & 1:
                if not _emit(out, n, x0 + b, state[D_Y], state[D_VPOL], t, state, i, width, height):
                    return -1
                n += 1
    state[D_BASE_X] = x0 + nbits
    return n


@njit(cache=True, nogil=True, boundscheck=False)
def decode_evt3(words, out, state, width, height):  # pragma: no cover - compiled
    """Decode EVT 3.0 words from ``state[D_POS]`` until the end or until ``out`` is nearly full.

    Args:
        words: uint16 array.
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
    while i < nw and n + MAX_EVENTS_PER_WORD <= cap:
        w = int(words[i])
        typ = w >> 12
        if typ == 0x0:
            y = w & 0x7FF
            state[D_Y] = y
            if i + 1 < nw and state[D_HAVE_TH]:
                w2 = int(words[i + 1])
                if w2 >> 12 == 0x2:  # ADDR_Y then ADDR_X, the usual pair: one event
                    t = state[D_BASE] + (state[D_TH] << 12) + state[D_TL]
                    if not _emit(out, n, w2 & 0x7FF, y, (w2 >> 11) & 1, t, state, i + 1, width, height):
                        break
                    n += 1
                    i += 1
        elif typ == 0x2:
            if state[D_HAVE_TH]:
                t = state[D_BASE] + (state[D_TH] << 12) + state[D_TL]
                if not _emit(out, n, w & 0x7FF, state[D_Y], (w >> 11) & 1, t, state, i, width, height):
                    break
                n += 1
        elif typ == 0x3:
            state[D_BASE_X] = w & 0x7FF
            state[D_VPOL] = (w >> 11) & 1
        elif typ == 0x4 or typ == 0x5:
            n = _vector(out, n, w & 0xFFF, 12 if typ == 0x4 else 8, state, i, width, height)
            if n < 0:
                break
        elif typ == 0x6:
            state[D_TL] = w & 0xFFF
        elif typ == 0x8:
            new = w & 0xFFF
            if not state[D_HAVE_TH] or new != state[D_TH]:
                if state[D_HAVE_TH] and state[D_TH] >= new + TH_HALF:
                    state[D_BASE] += TH_WRAP_US
                state[D_TH] = new
                state[D_TL] = 0
                state[D_HAVE_TH] = 1
        elif typ == 0x1 or typ == 0x9 or typ == 0xB or typ == 0xD:
            state[D_ERR], state[D_ERR_INDEX], state[D_ERR_VALUE] = ERR_TYPE, i, typ
            break
        i += 1
    state[D_POS] = i
    return max(n, 0)


@njit(cache=True, nogil=True, inline="always")
def _put_time(words, nw, cap, rel, state):  # pragma: no cover - compiled
    """Write the TIME_HIGH (with intermediate steps for long gaps) and TIME_LOW words for time ``rel``."""
    u = rel >> 12
    while nw < cap and (state[E_HAVE] == 0 or state[E_LAST_U] != u):
        if state[E_HAVE] and u - state[E_LAST_U] > TH_STEP:
            state[E_LAST_U] += TH_STEP
        else:
            state[E_LAST_U] = u
        state[E_HAVE] = 1
        state[E_LAST_TL] = -1
        words[nw] = (0x8 << 12) | (state[E_LAST_U] & 0xFFF)
        nw += 1
    if nw < cap and state[E_LAST_U] == u and state[E_LAST_TL] != rel & 0xFFF:
        state[E_LAST_TL] = rel & 0xFFF
        words[nw] = (0x6 << 12) | (rel & 0xFFF)
        nw += 1
    return nw


@njit(cache=True, nogil=True, boundscheck=False)
def _run_end(x, y, p, t, i):  # pragma: no cover - compiled
    """End of the run of events sharing ``t``, ``y``, ``p`` with increasing ``x`` within 48 columns."""
    j = i + 1
    while (
        j < x.shape[0]
        and t[j] == t[i]
        and y[j] == y[i]
        and p[j] == p[i]
        and x[j] > x[j - 1]
        and int(x[j]) - int(x[i]) < 48
    ):
        j += 1
    return j


@njit(cache=True, nogil=True, boundscheck=False)
def encode_evt3(x, y, p, t, start, words, state):  # pragma: no cover - compiled
    """Encode events ``start...`` as EVT 3.0 words (vectors for runs along a row) until either runs out.

    Returns:
        (index of the next event to encode, number of uint16 words written).
    """
    nw = 0
    cap = words.shape[0] - 8
    i = start
    while i < x.shape[0] and nw < cap:
        rel = t[i] - state[E_BASE]
        nw = _put_time(words, nw, cap, rel, state)
        if nw >= cap or state[E_LAST_U] != rel >> 12 or state[E_LAST_TL] != rel & 0xFFF:
            break
        if state[E_LAST_Y] != y[i]:
            state[E_LAST_Y] = y[i]
            words[nw] = int(y[i])
            nw += 1
        j = _run_end(x, y, p, t, i)
        span = int(x[j - 1]) - int(x[i]) + 1
        nvec = (span + 11) // 12
        if 1 + nvec < j - i:
            words[nw] = (0x3 << 12) | (int(p[i]) << 11) | int(x[i])
            nw += 1
            for v in range(nvec):
                words[nw + v] = 0x4 << 12
            for k in range(i, j):
                off = int(x[k]) - int(x[i])
                words[nw + off // 12] |= 1 << (off % 12)
            nw += nvec
            i = j
        else:
            words[nw] = (0x2 << 12) | (int(p[i]) << 11) | int(x[i])
            nw += 1
            i += 1
    return i, nw
