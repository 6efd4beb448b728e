"""Prophesee ``.dat`` files: header, streaming reader, atomic writer.

Layout (little-endian): optional ASCII header lines starting with ``"% "``; when a header is present, one
byte of event type (0 = Event2d, 12 = EventCD) and one byte of event size (8); then 8-byte records
``u32 t`` and ``u32 w`` with ``x = w & 0x3FFF``, ``y = (w >> 14) & 0x3FFF``, ``p = (w >> 28) & 1``.
A file without header holds records from byte 0 (type 0, size 8).

Timestamps are 32-bit: evflow writes ``t mod 2^32`` and unwraps on reading (a drop by more than 2^31 µs is
a wrap). When the first event is at or after 2^32 µs, the writer adds a ``% evflow_t_offset N`` header line
(N a multiple of 2^32) that other readers ignore.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from evflow.errors import EventFileError, EventValueError, TruncatedFileError, UnsupportedFormatError
from evflow.io import dat_codec
from evflow.io.events import EVENT_DTYPE
from evflow.io.header_lines import iter_header_lines
from evflow.io.source import CHUNK_BYTES, BufferPool, EventSource, skip_before
from evflow.io.writer import EventWriter

CD_TYPES = {0: "Event2d", 12: "EventCD"}
RECORD = 8


@dataclass
class DatHeader:
    """Parsed ``.dat`` header. ``data_offset`` is the event-type byte; records start at ``records_offset``."""

    lines: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    data_offset: int = 0
    records_offset: int = 0
    event_type: int = 0
    event_size: int = RECORD
    height: int | None = None
    width: int | None = None
    t_offset: int = 0


def read_dat_header(path, f) -> DatHeader:
    """Parse the header of the open binary file ``f`` (positioned at 0) and leave it at the first record.

    Raises:
        UnsupportedFormatError: non-ASCII or endless header line, bad numeric field, unsupported event type
            or size byte.
        TruncatedFileError: the header is not followed by the type and size bytes.
    """
    h = DatHeader()
    pos = 0
    for text, pos in iter_header_lines(path, f, b"% "):  # noqa: B007 - pos ends as the data offset
        h.lines.append(text)
        key, _, value = text[2:].partition(" ")
        h.fields[key.lower()] = value.strip()
    h.data_offset = pos
    if h.lines:
        f.seek(pos)
        tb = f.read(2)
        if len(tb) < 2:
            raise TruncatedFileError(path, "file ends before the event type and size bytes", offset=pos)
        h.event_type, h.event_size = tb[0], tb[1]
        if h.event_type not in CD_TYPES:
            raise UnsupportedFormatError(
                path, f"event type byte is {h.event_type}; evflow reads CD events (0 Event2d, 12 EventCD)", offset=pos
            )
        if h.event_size != RECORD:
            raise UnsupportedFormatError(path, f"event size byte is {h.event_size}, expected {RECORD}", offset=pos + 1)
        pos += 2
    h.records_offset = pos
    f.seek(pos)
    h.width = _int_field(path, h, "width")
    h.height = _int_field(path, h, "height")
    h.t_offset = _int_field(path, h, "evflow_t_offset") or 0
    return h


def _int_field(path, h: DatHeader, key: str) -> int | None:
    if key not in h.fields:
        return None
    try:
        value = int(h.fields[key])
    except ValueError:
        value = -1
    if value < 0:
        raise UnsupportedFormatError(path, f"header field '% {key}' is {h.fields[key]!r}, expected an integer >= 0")
    return value


class DatSource(EventSource):
    """Streaming reader of a ``.dat`` file (see :func:`read_dat` for the whole file at once)."""

    format = "dat"

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        with open(self.path, "rb") as f:
            self.header = read_dat_header(self.path, f)
        self.height, self.width = self.header.height, self.header.width
        payload = self.path.stat().st_size - self.header.records_offset
        self.num_events, extra = divmod(payload, RECORD)
        if extra:
            end = self.header.records_offset + self.num_events * RECORD
            raise TruncatedFileError(self.path, f"last record is cut ({extra} of {RECORD} bytes)", offset=end)

    def describe(self) -> dict:
        """Header facts: header lines, event type, records offset, event count."""
        h = self.header
        return {
            "header_lines": h.lines,
            "event_type": CD_TYPES[h.event_type],
            "data_offset": h.data_offset,
            "events_in_file": self.num_events,
        }

    def chunks(self, start_ts: int | None = None) -> Iterator[np.ndarray]:
        """Yield decoded chunks of ``CHUNK_BYTES // 8`` events (see :meth:`EventSource.chunks`)."""
        return skip_before(self._decode_chunks(), start_ts)

    def _decode_chunks(self) -> Iterator[np.ndarray]:
        per_chunk = CHUNK_BYTES // RECORD
        pool = BufferPool(per_chunk)
        raw = np.empty(2 * per_chunk, dtype=np.uint32)
        state = dat_codec.new_state(self.header.t_offset)
        limits = (self.width or 1 << 14, self.height or 1 << 14)
        done = 0
        with open(self.path, "rb") as f:
            f.seek(self.header.records_offset)
            while done < self.num_events:
                nbytes = f.readinto(memoryview(raw).cast("B"))
                n = nbytes // RECORD
                if n == 0:
                    raise TruncatedFileError(self.path, "file shrank while reading", offset=f.tell())
                out = pool.get()
                k = dat_codec.decode_dat(raw[: 2 * n], out.view(np.int64), state, *limits)
                if state[dat_codec.ST_ERR]:
                    self._raise_decode_error(raw, state, done)
                done += n
                yield out[:k]

    def _raise_decode_error(self, raw: np.ndarray, state: np.ndarray, done: int):
        i = int(state[dat_codec.ST_ERR_INDEX])
        offset = self.header.records_offset + (done + i) * RECORD
        word = int(raw[2 * i + 1])
        if state[dat_codec.ST_ERR] == dat_codec.ERR_BACKWARDS:
            raise EventFileError(
                self.path,
                f"timestamp goes backwards: record {done + i} has t={int(raw[2 * i])} (32-bit) "
                f"after t={int(state[dat_codec.ST_PREV])}",
                offset=offset,
            )
        x, y = word & 0x3FFF, (word >> 14) & 0x3FFF
        raise EventFileError(
            self.path,
            f"record {done + i} has x={x}, y={y} outside the sensor ({self.width}x{self.height} WxH)",
            offset=offset,
        )


def read_dat(path: str | os.PathLike) -> np.ndarray:
    """Read a whole ``.dat`` file.

    Args:
        path: the file.

    Returns:
        :data:`EVENT_DTYPE` array of every CD event, in file order, with unwrapped int64 timestamps.

    Raises:
        EventFileError (or a subclass): missing/empty file, bad header, truncated record, time going
            backwards, coordinates outside the declared size. The message names the file and byte offset.
    """
    return DatSource(path).read_all()


class DatWriter(EventWriter):
    """Streaming ``.dat`` writer (type 0 Event2d, 8-byte records).

    Args:
        path: destination.
        height, width: stored as ``% Height`` / ``% Width`` when given.
    """

    format = "dat"

    def __init__(self, path, height: int | None = None, width: int | None = None):
        super().__init__(path, height, width, max_coord=1 << 14, min_t=0)

    def _open(self) -> None:
        self._f = open(self.tmp_path, "wb")
        self._t_base = None

    def _write_header(self, t_base: int) -> None:
        lines = [
            "% Data file containing Event2D events.",
            "% Version 2",
            f"% Date {datetime.datetime.now():%Y-%m-%d %H:%M:%S}",
        ]
        if self.height is not None:
            lines += [f"% Height {self.height}", f"% Width {self.width}"]
        if t_base:
            lines.append(f"% evflow_t_offset {t_base}")
        self._f.write(("\n".join(lines) + "\n").encode("ascii") + bytes([0, RECORD]))
        self._t_base = t_base

    def _write(self, events: np.ndarray) -> None:
        t = events["t"]
        if self._t_base is None:
            self._write_header(int(t[0]) >> 32 << 32)
        prev = self.last_t if self.last_t is not None else int(t[0])
        gaps = np.diff(t, prepend=prev)
        if len(gaps) and gaps.max() >= 1 << 31:
            i = int(np.argmax(gaps))
            raise EventValueError(
                f"{self.path}: gap of {int(gaps[i])} µs before event {self.count + i}: DAT's 32-bit "
                "timestamps cannot represent gaps >= 2^31 µs"
            )
        self._f.write(dat_codec.encode_dat(events, self._t_base).tobytes())

    def _finish(self) -> None:
        if self._t_base is None:
            self._write_header(0)
        self._f.close()

    def _abort(self) -> None:
        self._f.close()


def write_dat(path, events: np.ndarray, height: int | None = None, width: int | None = None) -> None:
    """Write events to a ``.dat`` file atomically.

    Args:
        path: destination.
        events: structured array with x, y, p, t; sorted by ``t``, ``t >= 0``, coordinates < 2^14.
        height, width: sensor size written to the header (both or neither).

    Raises:
        EventValueError: unsorted time, negative time, coordinates >= 2^14 or outside the given size.
    """
    with DatWriter(path, height, width) as w:
        w.write(events)


__all__ = ["DatHeader", "DatSource", "DatWriter", "EVENT_DTYPE", "read_dat", "read_dat_header", "write_dat"]
