"""Exception classes shared by every evflow package.

Every error evflow raises on bad input derives from :class:`EvflowError`, so a caller can catch them all,
and from the closest built-in class (``ValueError``, ``FileNotFoundError``...) so generic handlers still work.
"""

from __future__ import annotations

import os


class EvflowError(Exception):
    """Base class of every evflow exception."""


class EventFileError(EvflowError, ValueError):
    """A recording cannot be read: bad header, truncated data, corrupt word, unsorted time...

    Args:
        path: the file concerned.
        message: what is wrong and what was expected.
        offset: byte offset in the file where the problem was found, when known.
    """

    def __init__(self, path: str | os.PathLike | None, message: str, offset: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        self.reason = message
        where = "" if self.path is None else f"{self.path}: "
        at = "" if offset is None else f" (at byte offset {offset})"
        super().__init__(f"{where}{message}{at}")


class UnsupportedFormatError(EventFileError):
    """The file's format (extension, header, EVT version, event type) is not one evflow reads or writes."""


class TruncatedFileError(EventFileError):
    """The file ends in the middle of a record or word."""


class EventValueError(EvflowError, ValueError):
    """Events in memory are invalid: out-of-range coordinates, unsorted timestamps, wrong dtype, NaN..."""


class ShapeError(EvflowError, ValueError):
    """A tensor or array has the wrong shape, dtype or size for the operation."""


class ConfigError(EvflowError, ValueError):
    """Incompatible settings: unknown registry name, preprocessing or delta_t mismatch between files..."""
