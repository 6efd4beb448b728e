"""Event file I/O: one event dtype, streaming readers and writers for every common format.

Read: :func:`load_events` (whole file) or :class:`EventsIterator` (windows, bounded memory).
Write: :func:`write_events` (whole array) or :func:`open_writer` (streaming). Formats: Prophesee ``.dat``,
``.raw`` (EVT 2.0, 2.1, 3.0), HDF5 (evflow layout and DSEC layout), ``.npy``, ``.npz``.
"""

from evflow.io.dat import read_dat, write_dat
from evflow.io.events import (
    EVENT_DTYPE,
    PACKED_EVENT_DTYPE,
    as_events,
    concatenate_events,
    empty_events,
    make_events,
    validate_events,
)
from evflow.io.files import load_events, read_geometry, write_events
from evflow.io.iterator import EventsIterator
from evflow.io.raw import read_raw, write_raw
from evflow.io.registry import list_formats, open_source, open_writer

__all__ = [
    "EVENT_DTYPE",
    "PACKED_EVENT_DTYPE",
    "EventsIterator",
    "as_events",
    "concatenate_events",
    "empty_events",
    "list_formats",
    "load_events",
    "make_events",
    "open_source",
    "open_writer",
    "read_dat",
    "read_geometry",
    "read_raw",
    "validate_events",
    "write_dat",
    "write_events",
    "write_raw",
]
