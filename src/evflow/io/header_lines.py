"""The ASCII header lines that open DAT (``% key value``) and RAW (``%key value``) files."""

from __future__ import annotations

from collections.abc import Iterator

from evflow.errors import UnsupportedFormatError

MAX_LINE = 1 << 16
"""Longest header line accepted; a longer one means the file is not a header followed by binary data."""


def iter_header_lines(path, f, prefix: bytes) -> Iterator[tuple[str, int]]:
    """Read the header lines of the binary file ``f`` (positioned at 0).

    Args:
        path: file name, for error messages.
        f: binary file object.
        prefix: bytes every header line starts with (``b"% "`` for DAT, ``b"%"`` for RAW).

    Yields:
        ``(text, end)``: the line without its line end, and the byte offset just after it. The header ends at
        the first line that does not start with ``prefix``; ``f`` is then left past that line, so callers seek
        to the last ``end`` they took.

    Raises:
        UnsupportedFormatError: a header line without a line end (within :data:`MAX_LINE` bytes) or not ASCII.
    """
    pos = 0
    while True:
        line = f.readline(MAX_LINE)
        if not line.startswith(prefix):
            return
        if not line.endswith(b"\n"):
            raise UnsupportedFormatError(path, "header line does not end (garbage header?)", offset=pos)
        try:
            text = line.decode("ascii").rstrip("\r\n")
        except UnicodeDecodeError:
            raise UnsupportedFormatError(path, "header line is not ASCII (garbage header?)", offset=pos) from None
        pos += len(line)
        yield text, pos
