"""RAW EVT 2.0 / 2.1 / 3.0: encoder/decoder round trips, headers, time-high wraps, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import synthetic_events

from evflow.errors import EventFileError, EventValueError, TruncatedFileError, UnsupportedFormatError
from evflow.io import load_events, make_events, open_source, read_geometry, read_raw, write_raw

EVTS = ["evt2", "evt21", "evt3"]


@pytest.mark.parametrize("evt", EVTS)
def test_round_trip_1280x720(tmp_path, events, evt):
    write_raw(tmp_path / "a.raw", events, 720, 1280, evt=evt)
    src = open_source(tmp_path / "a.raw")
    assert (src.format, src.height, src.width) == (evt, 720, 1280)
    np.testing.assert_array_equal(read_raw(tmp_path / "a.raw"), events)


@pytest.mark.parametrize("evt", EVTS)
def test_round_trip_past_every_time_high_wrap(tmp_path, evt):
    """Hours-long recording with long silent gaps: wraps at 2^24 µs (EVT3) and 2^34 µs (EVT2.x)."""
    parts = [
        synthetic_events(300, t0=t0, duration=50_000, seed=i)
        for i, t0 in enumerate([0, 2**24 - 20_000, 3 * 2**24, 2**34 - 10_000, 2**34 + 7 * 2**24, 3 * 2**34])
    ]
    ev = np.concatenate(parts)
    write_raw(tmp_path / "w.raw", ev, 720, 1280, evt=evt)
    np.testing.assert_array_equal(read_raw(tmp_path / "w.raw"), ev)


def test_late_start_uses_time_offset_line(tmp_path):
    ev = synthetic_events(500, t0=58_000_000_000, seed=3)
    write_raw(tmp_path / "g.raw", ev, 720, 1280)
    assert b"% evflow_t_offset " in (tmp_path / "g.raw").read_bytes()[:400]
    np.testing.assert_array_equal(read_raw(tmp_path / "g.raw"), ev)


def test_evt3_vectors_make_it_compact(tmp_path):
    x = np.arange(0, 640)
    ev = make_events(x, np.full(640, 7), np.ones(640, int), np.full(640, 123))
    write_raw(tmp_path / "v.raw", ev, 480, 640)
    data = (tmp_path / "v.raw").read_bytes().split(b"% end\n")[1]
    words = np.frombuffer(data, "<u2")
    assert ((words >> 12) == 0x4).sum() >= 50 and len(words) < 200
    np.testing.assert_array_equal(read_raw(tmp_path / "v.raw"), ev)


def _raw(header: str, words: list[int], dtype: str) -> bytes:
    return header.encode() + np.asarray(words, dtype=dtype).tobytes()


def test_evt3_decoding_rules(tmp_path):
    """TIME_LOW literal, TIME_HIGH repeat, low bits reset on change, vectors advance base_x, drop before TH."""
    words = [
        0x0005,
        0x2003,  # event before any TIME_HIGH: dropped
        0x8001,
        0x6010,
        0x2803,  # x=3 p=1 y=5 t=0x1010
        0x6020,
        0x601F,
        0x0009,
        0x3010,
        0x4005,
        0x5001,  # literal TL 0x01F; vector x=16,18 then x=28
        0x8001,
        0x2004,  # repeated TIME_HIGH: t unchanged
        0x8002,
        0x2005,
    ]  # new TIME_HIGH: low bits reset -> t=0x2000
    (tmp_path / "r.raw").write_bytes(_raw("% evt 3.0\n", words, "<u2"))
    ev = read_raw(tmp_path / "r.raw")
    assert ev[["x", "y", "p", "t"]].tolist() == [
        (3, 5, 1, 0x1010),
        (16, 9, 0, 0x101F),
        (18, 9, 0, 0x101F),
        (28, 9, 0, 0x101F),
        (4, 9, 0, 0x101F),
        (5, 9, 0, 0x2000),
    ]


def test_evt21_legacy_endianness(tmp_path):
    th = (0x8 << 28) | 3
    cd = (1 << 28) | (5 << 22) | (64 << 11) | 10
    words = [0, th, 0b101, cd]
    (tmp_path / "s.raw").write_bytes(_raw("% format EVT21\n", words, "<u4"))
    ev = read_raw(tmp_path / "s.raw")
    assert ev[["x", "y", "p", "t"]].tolist() == [(64, 10, 1, 3 * 64 + 5), (66, 10, 1, 3 * 64 + 5)]
    legacy = [th, 0, cd, 0b101]
    (tmp_path / "l.raw").write_bytes(_raw("% format EVT21;endianness=legacy\n", legacy, "<u4"))
    np.testing.assert_array_equal(read_raw(tmp_path / "l.raw"), ev)


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("% format EVT3;height=260;width=346\n", (260, 346)),
        ("% evt 3.0\n% geometry 320x240\n", (240, 320)),
        ("% evt 3.0\n% plugin_name hal_plugin_imx636_evk4\n", (720, 1280)),
        ("% evt 2.0\n% plugin_name hal_plugin_gen3_fx3\n", (480, 640)),
        ("% evt 3.0\n", None),
    ],
)
def test_geometry_sources(tmp_path, header, size):
    (tmp_path / "g.raw").write_bytes(header.encode() + b"% end\n")
    assert read_geometry(tmp_path / "g.raw") == size
    assert len(load_events(tmp_path / "g.raw")) == 0


@pytest.mark.parametrize(
    ("content", "cls", "match", "offset"),
    [
        (b"% evt 4.0\n", UnsupportedFormatError, "'% evt' is '4.0'", None),
        (b"% format EVT9\n", UnsupportedFormatError, "EVT9", None),
        (b"% date today\n", UnsupportedFormatError, "unknown EVT version", None),
        (b"\x00\x01garbage without header", UnsupportedFormatError, "no RAW header", 0),
        (b"% evt 3.0\n% \xff\xfe\n", UnsupportedFormatError, "not ASCII", 10),
        (b"% evt 3.0\n% geometry big\n", UnsupportedFormatError, "geometry", None),
        (b"% evt 2.0\n" + bytes(6), TruncatedFileError, "cut", 14),
        (b"% evt 3.0\n" + np.array([0x8000, 0x1000], "<u2").tobytes(), EventFileError, "word type 0x1", 12),
    ],
)
def test_bad_input(tmp_path, content, cls, match, offset):
    (tmp_path / "bad.raw").write_bytes(content)
    with pytest.raises(cls, match=match) as info:
        read_raw(tmp_path / "bad.raw")
    assert "bad.raw" in str(info.value)
    if offset is not None:
        assert info.value.offset == offset


def test_out_of_geometry_and_backwards_time(tmp_path):
    words = [0x8001, 0x6000, 0x0010, 0x2100]  # y=16 on a 10-row sensor
    (tmp_path / "o.raw").write_bytes(_raw("% format EVT3;height=10;width=300\n", words, "<u2"))
    with pytest.raises(EventFileError, match="y=16 is outside the sensor height 10") as info:
        read_raw(tmp_path / "o.raw")
    assert info.value.offset == len("% format EVT3;height=10;width=300\n") + 6
    words = [0x8002, 0x6000, 0x2001, 0x8001, 0x2002]  # TIME_HIGH steps back by 1 (not a wrap)
    (tmp_path / "t.raw").write_bytes(_raw("% evt 3.0\n", words, "<u2"))
    with pytest.raises(EventFileError, match="backwards"):
        read_raw(tmp_path / "t.raw")


def test_writer_refuses_coordinates_beyond_11_bits(tmp_path, events):
    ev = events.copy()
    ev["x"][0] = 2048
    with pytest.raises(EventValueError, match="x=2048"):
        write_raw(tmp_path / "n.raw", ev)
    with pytest.raises(UnsupportedFormatError, match="evt4"):
        write_raw(tmp_path / "n.raw", events, evt="evt4")
    assert list(tmp_path.iterdir()) == []
