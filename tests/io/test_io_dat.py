"""DAT read/write: round trips, header variants, 32-bit time unwrapping, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from evflow.errors import EventFileError, EventValueError, TruncatedFileError, UnsupportedFormatError
from evflow.io import EVENT_DTYPE, load_events, make_events, read_dat, read_geometry, write_dat
from evflow.io.dat import DatSource


def _records(t, x, y, p) -> bytes:
    rec = np.empty((len(t), 2), dtype="<u4")
    rec[:, 0] = t
    rec[:, 1] = np.asarray(x) | (np.asarray(y) << 14) | (np.asarray(p) << 28)
    return rec.tobytes()


def test_round_trip_with_header(tmp_path, events):
    path = tmp_path / "rec_td.dat"
    write_dat(path, events, height=720, width=1280)
    back = read_dat(path)
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, events)
    assert read_geometry(path) == (720, 1280)
    assert path.read_bytes().startswith(b"% Data file containing Event2D events.\n% Version 2\n")


def test_hours_long_recording_unwraps_32_bit_time(tmp_path):
    """t past 2^32 µs (1.2 h) and a GPS-like start (DSEC ~5.8e10 µs) survive the 32-bit records."""
    n = 5000
    t = np.sort(np.random.default_rng(1).integers(0, 4 * 2**32, n)) + 58_000_000_000
    t = np.maximum.accumulate(np.minimum(t, np.r_[t[0], t[:-1]] + 2**31 - 1))  # gaps < 2^31
    ev = make_events(np.arange(n) % 1280, np.arange(n) % 720, np.arange(n) % 2, t)
    write_dat(tmp_path / "long.dat", ev, 720, 1280)
    np.testing.assert_array_equal(read_dat(tmp_path / "long.dat"), ev)
    assert b"% evflow_t_offset " in (tmp_path / "long.dat").read_bytes()[:300]


def test_file_without_header_is_type0_size8(tmp_path):
    path = tmp_path / "bare.dat"
    path.write_bytes(_records([5, 7, 7], [1, 2, 3], [4, 5, 6], [0, 1, 1]))
    ev = read_dat(path)
    assert ev["t"].tolist() == [5, 7, 7] and ev["x"].tolist() == [1, 2, 3] and ev["p"].tolist() == [0, 1, 1]
    assert read_geometry(path) is None


def test_old_style_header_and_reader_wraps(tmp_path):
    head = b"% Data file containing N9Chronocam7Event2dE events.\n% Version 2\n" + bytes([0, 8])
    t = [2**32 - 10, 2**32 - 1, 3, 20]  # a wrap between the 2nd and 3rd record
    (tmp_path / "w.dat").write_bytes(head + _records(t, [0] * 4, [0] * 4, [1] * 4))
    assert read_dat(tmp_path / "w.dat")["t"].tolist() == [2**32 - 10, 2**32 - 1, 2**32 + 3, 2**32 + 20]


def test_backwards_time_names_offset(tmp_path):
    head = b"% Version 2\n" + bytes([0, 8])
    (tmp_path / "b.dat").write_bytes(head + _records([10, 20, 15], [0] * 3, [0] * 3, [0] * 3))
    with pytest.raises(EventFileError, match="backwards") as info:
        read_dat(tmp_path / "b.dat")
    assert info.value.offset == len(head) + 2 * 8 and "b.dat" in str(info.value)


@pytest.mark.parametrize(
    ("tail", "cls", "offset", "match"),
    [
        (bytes([14, 8]), UnsupportedFormatError, 12, "event type byte is 14"),
        (bytes([0, 16]), UnsupportedFormatError, 13, "event size byte is 16"),
        (bytes([0]), TruncatedFileError, 12, "type and size"),
        (bytes([0, 8]) + bytes(13), TruncatedFileError, 14 + 8, "cut"),
    ],
)
def test_bad_type_size_and_truncation(tmp_path, tail, cls, offset, match):
    (tmp_path / "x.dat").write_bytes(b"% Version 2\n" + tail)
    with pytest.raises(cls, match=match) as info:
        read_dat(tmp_path / "x.dat")
    assert info.value.offset == offset


def test_coordinates_outside_declared_geometry(tmp_path):
    head = b"% Width 64\n% Height 48\n" + bytes([0, 8])
    (tmp_path / "g.dat").write_bytes(head + _records([1, 2], [3, 64], [1, 1], [0, 0]))
    with pytest.raises(EventFileError, match="x=64") as info:
        read_dat(tmp_path / "g.dat")
    assert info.value.offset == len(head) + 8


def test_garbage_header(tmp_path):
    (tmp_path / "h.dat").write_bytes(b"% Width abc\n" + bytes([0, 8]))
    with pytest.raises(UnsupportedFormatError, match="(?i)% width"):
        read_dat(tmp_path / "h.dat")
    (tmp_path / "u.dat").write_bytes(b"% \xff\xfe binary\n" + bytes([0, 8]))
    with pytest.raises(UnsupportedFormatError, match="not ASCII") as info:
        read_dat(tmp_path / "u.dat")
    assert info.value.offset == 0


def test_writer_refuses_bad_events_and_leaves_nothing(tmp_path, events):
    path = tmp_path / "o.dat"
    big = events.copy()
    big["x"][3] = 1 << 14
    with pytest.raises(EventValueError, match="x=16384"):
        write_dat(path, big)
    unsorted = events[::-1]
    with pytest.raises(EventValueError, match="backwards"):
        write_dat(path, unsorted)
    with pytest.raises(EventValueError, match="outside the sensor"):
        write_dat(path, events, height=100, width=100)
    assert list(tmp_path.iterdir()) == []


def test_header_only_file_has_no_events(tmp_path):
    write_dat(tmp_path / "e.dat", np.empty(0, EVENT_DTYPE), 10, 20)
    assert len(load_events(tmp_path / "e.dat")) == 0
    assert DatSource(tmp_path / "e.dat").num_events == 0
