"""State layout shared by the RAW (EVT 2.0 / 2.1 / 3.0) numba decoders and encoders.

Decoders keep their whole state in one small int64 array so that a stream can be decoded chunk by chunk
(a chunk boundary may fall anywhere between words) and errors can be reported from compiled code: the
kernel stores an error code and the word index, stops, and the Python side raises the exception.
"""

from __future__ import annotations

import numpy as np

# decoder state slots
D_BASE = 0  # µs added to the time-high bits: the file's t offset plus wraps seen so far
D_TH = 1  # last TIME_HIGH value (raw bits)
D_HAVE_TH = 2  # 1 once a TIME_HIGH word was seen (CD words before it are dropped)
D_TL = 3  # EVT3: current TIME_LOW bits
D_Y = 4  # EVT3: current row
D_BASE_X = 5  # EVT3: current vector base column
D_VPOL = 6  # EVT3: vector polarity
D_LAST_T = 7  # last emitted timestamp (time must not go backwards)
D_POS = 8  # index of the next word to decode
D_ERR = 9  # error code (0 = none)
D_ERR_INDEX = 10  # word index of the error
D_ERR_VALUE = 11  # offending value (x, y, t or word type)
D_SIZE = 12

ERR_TYPE = 1  # unknown word type
ERR_GEOMETRY_X = 2  # column outside the sensor
ERR_GEOMETRY_Y = 3  # row outside the sensor
ERR_BACKWARDS = 4  # timestamp smaller than the previous event's

ERROR_TEXT = {
    ERR_TYPE: "unknown word type 0x{value:X}",
    ERR_GEOMETRY_X: "event column x={value} is outside the sensor width {width}",
    ERR_GEOMETRY_Y: "event row y={value} is outside the sensor height {height}",
    ERR_BACKWARDS: "timestamp goes backwards (t={value} after t={last})",
}

# encoder state slots
E_BASE = 0  # µs subtracted before encoding (the file's t offset)
E_LAST_U = 1  # last time-high value written, in full units since E_BASE
E_HAVE = 2  # 1 once a TIME_HIGH was written
E_LAST_TL = 3  # EVT3: last TIME_LOW written (-1 = must write)
E_LAST_Y = 4  # EVT3: last row written (-1 = must write)
E_SIZE = 5


def new_decoder_state(t_offset: int = 0) -> np.ndarray:
    """Return a fresh decoder state for a stream whose time origin is ``t_offset`` µs."""
    st = np.zeros(D_SIZE, dtype=np.int64)
    st[D_BASE] = t_offset
    st[D_LAST_T] = np.iinfo(np.int64).min
    return st


def new_encoder_state(t_offset: int = 0) -> np.ndarray:
    """Return a fresh encoder state for a stream whose time origin is ``t_offset`` µs."""
    st = np.zeros(E_SIZE, dtype=np.int64)
    st[E_BASE] = t_offset
    st[E_LAST_TL] = -1
    st[E_LAST_Y] = -1
    return st
