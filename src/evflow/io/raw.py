"""Prophesee RAW files (EVT 2.0, 2.1, 3.0): streaming reader and atomic writer.

The reader reads a few MB at a time and runs the numba decoder of the file's EVT version, keeping the
decoder state between reads, so memory stays bounded whatever the file size. Timestamps are absolute
(no shift) and stay monotonic across time-high wraps (2^34 µs for EVT 2.x, 2^24 µs for EVT 3.0).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator

import numpy as np

from evflow.errors import EventFileError, TruncatedFileError, UnsupportedFormatError
from evflow.io import evt2, evt3
from evflow.io.raw_header import read_raw_header
from evflow.io.raw_state import (
    D_ERR,
    D_ERR_INDEX,
    D_ERR_VALUE,
    D_LAST_T,
    D_POS,
    ERROR_TEXT,
    new_decoder_state,
    new_encoder_state,
)
from evflow.io.source import CHUNK_BYTES, BufferPool, EventSource, skip_before
from evflow.io.writer import EventWriter

WORD_BYTES = {"evt2": 4, "evt21": 8, "evt3": 2}
WRAP_US = {"evt2": evt2.TH_WRAP_US, "evt21": evt2.TH_WRAP_US, "evt3": evt3.TH_WRAP_US}
HEADER_NAMES = {"evt2": ("2.0", "EVT2"), "evt21": ("2.1", "EVT21"), "evt3": ("3.0", "EVT3")}
OUT_EVENTS = 1 << 17


class RawSource(EventSource):
    """Streaming reader of a RAW file; ``format`` is ``"evt2"``, ``"evt21"`` or ``"evt3"``."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        with open(self.path, "rb") as f:
            self.header = read_raw_header(self.path, f)
        self.format = self.header.evt
        self.height, self.width = self.header.height, self.header.width
        self.word_bytes = WORD_BYTES[self.format]
        payload = self.path.stat().st_size - self.header.data_offset
        self.num_words, extra = divmod(payload, self.word_bytes)
        if extra:
            end = self.header.data_offset + self.num_words * self.word_bytes
            raise TruncatedFileError(
                self.path, f"last {self.format} word is cut ({extra} of {self.word_bytes} bytes)", offset=end
            )

    def describe(self) -> dict:
        """Header facts: EVT version, header lines, geometry source, data offset, number of words."""
        h = self.header
        return {
            "evt": self.format,
            "header_lines": h.lines,
            "geometry_source": h.geometry_source,
            "data_offset": h.data_offset,
            "words": self.num_words,
        }

    def chunks(self, start_ts: int | None = None) -> Iterator[np.ndarray]:
        """Yield decoded chunks of at most ``OUT_EVENTS`` events (see :meth:`EventSource.chunks`)."""
        return skip_before(self._decode_chunks(), start_ts)

    def _decode_chunks(self) -> Iterator[np.ndarray]:
        wb = self.word_bytes
        raw = np.empty(CHUNK_BYTES // 8 * 8, dtype=np.uint8)
        pool = BufferPool(OUT_EVENTS)
        state = new_decoder_state(self.header.t_offset)
        words_done = 0
        with open(self.path, "rb") as f:
            f.seek(self.header.data_offset)
            while words_done < self.num_words:
                nbytes = f.readinto(raw)
                if nbytes < wb:
                    raise TruncatedFileError(self.path, "file shrank while reading", offset=f.tell())
                words = raw[: nbytes // wb * wb].view(np.uint16 if wb == 2 else np.uint32)
                state[D_POS] = 0
                while state[D_POS] < len(words) // (2 if wb == 8 else 1):
                    out = pool.get()
                    n = self._decode(words, out.view(np.int64), state)
                    if state[D_ERR]:
                        self._raise(state, words_done)
                    if n:
                        yield out[:n]
                words_done += nbytes // wb

    def _decode(self, words: np.ndarray, out: np.ndarray, state: np.ndarray) -> int:
        width, height = self.width or 1 << 16, self.height or 1 << 16
        if self.format == "evt3":
            return evt3.decode_evt3(words, out, state, width, height)
        if self.format == "evt2":
            return evt2.decode_evt2(words, out, state, width, height)
        return evt2.decode_evt21(words, out, state, width, height, self.header.legacy)

    def _raise(self, state: np.ndarray, words_done: int):
        code, index = int(state[D_ERR]), int(state[D_ERR_INDEX])
        offset = self.header.data_offset + (words_done + index) * self.word_bytes
        text = ERROR_TEXT[code].format(
            value=int(state[D_ERR_VALUE]), width=self.width, height=self.height, last=int(state[D_LAST_T])
        )
        raise EventFileError(self.path, f"{self.format} word {words_done + index}: {text}", offset=offset)


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """Read a whole RAW file (EVT 2.0 / 2.1 / 3.0, detected from the header).

    Returns:
        :data:`~evflow.io.events.EVENT_DTYPE` array of the CD events in file order, absolute int64 µs.

    Raises:
        EventFileError (or a subclass): missing/empty file, garbage header, unknown EVT version, cut word,
            unknown word type, coordinates outside the sensor, time going backwards. Names file and offset.
    """
    return RawSource(path).read_all()


class RawWriter(EventWriter):
    """Streaming RAW writer.

    Args:
        path: destination.
        height, width: sensor size, stored in ``% format`` and ``% geometry`` lines.
        evt: ``"evt3"`` (default, compact), ``"evt2"`` or ``"evt21"``.
    """

    def __init__(self, path, height: int | None = None, width: int | None = None, evt: str = "evt3"):
        if evt not in WORD_BYTES:
            raise UnsupportedFormatError(path, f"cannot write EVT format {evt!r}; supported: {', '.join(WORD_BYTES)}")
        self.format = evt
        super().__init__(path, height, width, max_coord=1 << 11, min_t=0)

    def _open(self) -> None:
        self._f = open(self.tmp_path, "wb")
        self._state = None

    def _write_header(self, t_offset: int) -> None:
        version, name = HEADER_NAMES[self.format]
        lines = [f"% date {datetime.datetime.now():%Y-%m-%d %H:%M:%S}", f"% evt {version}"]
        if self.height is not None and self.width is not None:
            lines += [
                f"% format {name};height={self.height};width={self.width}",
                f"% geometry {self.width}x{self.height}",
            ]
        else:
            lines.append(f"% format {name}")
        lines.append("% integrator_name evflow")
        if t_offset:
            lines.append(f"% evflow_t_offset {t_offset}")
        lines.append("% end")
        self._f.write(("\n".join(lines) + "\n").encode("ascii"))
        self._state = new_encoder_state(t_offset)

    def _write(self, events: np.ndarray) -> None:
        x, y, p, t = (events[k] for k in "xypt")
        if self._state is None:
            wrap = WRAP_US[self.format]
            self._write_header(int(t[0]) // wrap * wrap)
        encode = {"evt2": evt2.encode_evt2, "evt21": evt2.encode_evt21, "evt3": evt3.encode_evt3}[self.format]
        per_event = {"evt2": 2, "evt21": 4, "evt3": 5}[self.format]
        dtype = np.uint16 if self.format == "evt3" else np.uint32
        buf = np.empty(per_event * min(len(events), 1 << 20) + 4096, dtype=dtype)
        i = 0
        while i < len(events):
            i, nw = encode(x, y, p, t, i, buf, self._state)
            self._f.write(buf[:nw].tobytes())

    def _finish(self) -> None:
        if self._state is None:
            self._write_header(0)
        self._f.close()

    def _abort(self) -> None:
        self._f.close()


def write_raw(path, events: np.ndarray, height: int | None = None, width: int | None = None, evt: str = "evt3") -> None:
    """Write events to a RAW file atomically.

    Args:
        path: destination.
        events: structured array with x, y, p, t; sorted, ``t >= 0``, coordinates < 2048.
        height, width: sensor size for the header.
        evt: ``"evt3"``, ``"evt2"`` or ``"evt21"``.
    """
    with RawWriter(path, height, width, evt) as w:
        w.write(events)
