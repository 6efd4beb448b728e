"""The single in-memory event representation used everywhere in evflow.

Events are a numpy structured array with fields ``x`` (column), ``y`` (row), ``p`` (polarity 0/1) and
``t`` (timestamp, int64 microseconds). The layout is the one of Prophesee's ``EventCD`` (itemsize 16:
``x`` at byte 0, ``y`` at 2, ``p`` at 4, ``t`` at 8), so arrays can be passed to and from Metavision code
without copies.
"""

from __future__ import annotations

import numpy as np

from evflow.errors import EventValueError

EVENT_DTYPE = np.dtype(
    {"names": ["x", "y", "p", "t"], "formats": ["<u2", "<u2", "<i2", "<i8"], "offsets": [0, 2, 4, 8], "itemsize": 16}
)
"""Prophesee-compatible CD event dtype: ``x <u2, y <u2, p <i2, t <i8`` (µs), itemsize 16."""

PACKED_EVENT_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])
"""Same fields without padding (itemsize 14), for hashing or writing compact files."""


def empty_events(n: int = 0) -> np.ndarray:
    """Return an array of ``n`` zeroed events with :data:`EVENT_DTYPE`."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def make_events(x, y, p, t) -> np.ndarray:
    """Build an :data:`EVENT_DTYPE` array from four equally long 1-D sequences.

    Args:
        x, y: pixel coordinates (non-negative integers < 65536).
        p: polarity, 0 (OFF) or 1 (ON).
        t: timestamps in microseconds.

    Returns:
        Structured array of length ``len(x)``.

    Raises:
        EventValueError: when lengths differ or values do not fit the fields.
    """
    cols = [np.asarray(v) for v in (x, y, p, t)]
    n = len(cols[0])
    if any(c.ndim != 1 or len(c) != n for c in cols):
        raise EventValueError(f"x, y, p, t must be 1-D of equal length, got shapes {[c.shape for c in cols]}")
    for name, col, lo, hi in (("x", cols[0], 0, 65535), ("y", cols[1], 0, 65535), ("p", cols[2], 0, 1)):
        _check_integral(name, col)
        if n and (col.min() < lo or col.max() > hi):
            raise EventValueError(f"field {name!r} must lie in [{lo}, {hi}], got [{col.min()}, {col.max()}]")
    _check_integral("t", cols[3])
    ev = empty_events(n)
    for name, col in zip("xypt", cols):
        ev[name] = col
    return ev


def _check_integral(name: str, col: np.ndarray) -> None:
    if col.dtype.kind == "f":
        if not np.all(np.isfinite(col)):
            raise EventValueError(f"field {name!r} contains NaN or infinite values")
        if not np.all(col == np.round(col)):
            raise EventValueError(f"field {name!r} contains non-integer values")
    elif col.dtype.kind not in "iub" and len(col):
        raise EventValueError(f"field {name!r} has non-numeric dtype {col.dtype}")


def as_events(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` as an :data:`EVENT_DTYPE` array (no copy when it already is one).

    Accepts any structured array with fields x, y, p, t (e.g. the packed itemsize-14 layout).

    Raises:
        EventValueError: when a field is missing.
    """
    if arr.dtype == EVENT_DTYPE:
        return arr
    names = arr.dtype.names or ()
    missing = [k for k in "xypt" if k not in names]
    if missing:
        raise EventValueError(f"event array lacks field(s) {missing}; has {list(names)}")
    return make_events(arr["x"], arr["y"], arr["p"], arr["t"])


def validate_events(
    events: np.ndarray,
    height: int | None = None,
    width: int | None = None,
    check_sorted: bool = True,
    what: str = "events",
) -> None:
    """Check that events are well formed; raise a clear error naming the first problem.

    Args:
        events: structured array with fields x, y, p, t.
        height, width: sensor size; coordinates must satisfy ``y < height`` and ``x < width`` when given.
        check_sorted: require non-decreasing timestamps.
        what: name used in error messages (e.g. the file name).

    Raises:
        EventValueError: wrong dtype, polarity not in {0, 1}, coordinates out of range, time going backwards.
    """
    names = events.dtype.names or ()
    if any(k not in names for k in "xypt"):
        raise EventValueError(f"{what}: expected fields x, y, p, t, got {list(names)}")
    if len(events) == 0:
        return
    p = events["p"]
    if p.min() < 0 or p.max() > 1:
        bad = int(np.flatnonzero((p < 0) | (p > 1))[0])
        raise EventValueError(f"{what}: polarity must be 0 or 1, event {bad} has p={int(p[bad])}")
    for name, limit in (("x", width), ("y", height)):
        if limit is not None:
            col = events[name]
            if col.max() >= limit:
                bad = int(np.flatnonzero(col >= limit)[0])
                raise EventValueError(
                    f"{what}: event {bad} has {name}={int(col[bad])} outside the sensor "
                    f"({'width' if name == 'x' else 'height'} {limit})"
                )
    if check_sorted:
        t = events["t"]
        dec = np.flatnonzero(t[1:] < t[:-1])
        if len(dec):
            i = int(dec[0]) + 1
            raise EventValueError(
                f"{what}: timestamps go backwards at event {i} (t={int(t[i])} after t={int(t[i - 1])})"
            )


def concatenate_events(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate :data:`EVENT_DTYPE` arrays into a new array.

    numpy copies structured arrays with padding (like EVENT_DTYPE) field by field, about 20x slower than
    a byte copy; this concatenates contiguous parts as raw bytes instead.

    Args:
        parts: EVENT_DTYPE arrays (any other structured arrays are converted with :func:`as_events`).

    Returns:
        One EVENT_DTYPE array holding the parts in order (empty when ``parts`` is empty).
    """
    parts = [np.ascontiguousarray(as_events(p)) for p in parts]
    if not parts:
        return empty_events(0)
    return np.concatenate([p.view(np.uint8) for p in parts]).view(EVENT_DTYPE)
