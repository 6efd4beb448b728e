"""Event file I/O: one event dtype, streaming readers and writers for every common format."""

from evflow.io.events import EVENT_DTYPE, PACKED_EVENT_DTYPE, as_events, empty_events, make_events, validate_events

__all__ = ["EVENT_DTYPE", "PACKED_EVENT_DTYPE", "as_events", "empty_events", "make_events", "validate_events"]
