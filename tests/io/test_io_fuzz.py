"""Fuzz every decoder: random bytes after a valid header must give valid events or an evflow error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evflow.errors import EvflowError
from evflow.io import load_events, make_events, validate_events, write_events

HEADERS = {
    "evt2.raw": b"% evt 2.0\n% format EVT2;height=480;width=640\n",
    "evt21.raw": b"% evt 2.1\n% format EVT21;height=720;width=1280\n",
    "evt3.raw": b"% evt 3.0\n% format EVT3;height=720;width=1280\n",
    "evt3nogeom.raw": b"% evt 3.0\n",
    "cd.dat": b"% Version 2\n% Width 640\n% Height 480\n\x00\x08",
}


def _decode(path, body: bytes, size):
    path.write_bytes(HEADERS[path.name] + body)
    try:
        ev = load_events(path)
    except EvflowError:
        return
    validate_events(ev, *size)


@pytest.mark.parametrize("name", list(HEADERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(min_size=0, max_size=600))
def test_random_bytes_never_crash(tmp_path, name, body):
    size = {"evt2.raw": (480, 640), "cd.dat": (480, 640), "evt3nogeom.raw": (None, None)}.get(name, (720, 1280))
    _decode(tmp_path / name, body, size)


@pytest.mark.parametrize("name", ["evt3.raw", "evt2.raw"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.integers(0, 0xFFFF), max_size=300))
def test_plausible_word_streams(tmp_path, name, words):
    """Words built from valid types only (more events get through than with raw bytes)."""
    if name == "evt3.raw":
        body = np.array([w & 0x8FFF if (w >> 12) in (1, 9, 11, 13) else w for w in words], "<u2").tobytes()
    else:
        body = np.array([(w % 2 if w % 5 else 8) << 28 | (w * 2654435761) % (1 << 22) for w in words], "<u4")
        body = body.tobytes()
    _decode(tmp_path / name, body, (720, 1280) if name == "evt3.raw" else (480, 640))


@st.composite
def event_arrays(draw, max_gap=2**31 - 1):
    """Small sorted event arrays with arbitrary gaps (up to ``max_gap`` µs) and 11-bit coordinates."""
    n = draw(st.integers(0, 60))
    steps = st.sampled_from([g for g in (0, 0, 1, 7, 4095, 4096, 2**20, 2**24 + 3, 2**31 - 1) if g <= max_gap])
    gaps = draw(st.lists(steps, min_size=n, max_size=n))
    start = draw(st.sampled_from([0, 2**24 - 5, 2**32 + 1, 58_000_000_000]))
    xs = draw(st.lists(st.integers(0, 1279), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, 719), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(xs, ys, ps, start + np.cumsum(np.asarray(gaps, dtype=np.int64)))


@pytest.mark.parametrize("name", ["a.dat", "a.raw", "b.raw", "c.raw", "a.npz"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ev=event_arrays())
def test_write_read_round_trip(tmp_path, name, ev):
    fmt = {"b.raw": "evt2", "c.raw": "evt21"}.get(name)
    write_events(tmp_path / name, ev, 720, 1280, format=fmt)
    np.testing.assert_array_equal(load_events(tmp_path / name), ev)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ev=event_arrays(max_gap=2**20))
def test_hdf5_round_trip(tmp_path, ev):
    """HDF5's ms_to_idx grows with the duration (one entry per ms), so gaps stay short here."""
    write_events(tmp_path / "a.h5", ev, 720, 1280)
    np.testing.assert_array_equal(load_events(tmp_path / "a.h5"), ev)
