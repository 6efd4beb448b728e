"""EventsIterator: exact half-open windows, empty windows, modes, start/duration, seek, every format."""

from __future__ import annotations

import numpy as np
import pytest
from io_helpers import synthetic_events

from evflow.errors import ConfigError
from evflow.io import EventsIterator, make_events, write_events

EXTS = [".dat", ".raw", ".h5", ".npy", ".npz"]


@pytest.fixture
def gappy(tmp_path):
    """Events at 1000..1999 and 5000..5999 µs with several events per µs, written as .dat."""
    rng = np.random.default_rng(2)
    t = np.sort(np.r_[rng.integers(1000, 2000, 3000), rng.integers(5000, 6000, 3000)])
    ev = make_events(rng.integers(0, 64, 6000), rng.integers(0, 48, 6000), rng.integers(0, 2, 6000), t)
    write_events(tmp_path / "g.dat", ev, 48, 64)
    return tmp_path / "g.dat", ev


def test_delta_t_windows_are_exact_and_empty_ones_are_yielded(gappy):
    path, ev = gappy
    it = EventsIterator(path, delta_t=300)
    windows = list(it)
    assert (it.height, it.width) == (48, 64)
    t0 = 900  # grid 0, 300, 600, ...; windows before the first event (t=1000) are skipped
    for k, w in enumerate(windows):
        lo, hi = t0 + 300 * k, t0 + 300 * (k + 1)
        np.testing.assert_array_equal(w, ev[(ev["t"] >= lo) & (ev["t"] < hi)])
    assert [len(w) == 0 for w in windows].count(True) >= 9  # 2100..4800 are empty windows
    assert t0 + 300 * len(windows) > ev["t"][-1] >= t0 + 300 * (len(windows) - 1)
    assert it.get_current_time() == t0 + 300 * len(windows)


def test_n_events_and_mixed(gappy):
    path, ev = gappy
    sizes = [len(w) for w in EventsIterator(path, mode="n_events", n_events=1000)]
    assert sizes == [1000] * 6
    mixed = list(EventsIterator(path, mode="mixed", delta_t=500, n_events=400))
    assert max(len(w) for w in mixed) <= 400
    np.testing.assert_array_equal(np.concatenate(mixed), ev)
    for w in mixed:  # never crosses a 500 µs boundary
        assert len(w) == 0 or w["t"][0] // 500 == w["t"][-1] // 500


def test_start_ts_and_max_duration(gappy):
    path, ev = gappy
    windows = list(EventsIterator(path, delta_t=100, start_ts=1050, max_duration=1000))
    got = np.concatenate(windows)
    np.testing.assert_array_equal(got, ev[(ev["t"] >= 1050) & (ev["t"] < 2050)])
    assert len(windows) == 10
    counted = list(EventsIterator(path, mode="n_events", n_events=500, max_duration=300))
    np.testing.assert_array_equal(np.concatenate(counted), ev[ev["t"] < ev["t"][0] + 300])


def test_seek_time_restarts_the_grid(gappy):
    path, ev = gappy
    it = EventsIterator(path, delta_t=200)
    out = []
    for i, w in enumerate(it):
        out.append(w)
        if i == 1:
            it.seek_time(5100)
        if len(out) == 4:
            break
    np.testing.assert_array_equal(out[2], ev[(ev["t"] >= 5100) & (ev["t"] < 5300)])
    np.testing.assert_array_equal(out[3], ev[(ev["t"] >= 5300) & (ev["t"] < 5500)])
    it.seek_time(1500)
    first = next(iter(it))
    np.testing.assert_array_equal(first, ev[(ev["t"] >= 1500) & (ev["t"] < 1700)])


@pytest.mark.parametrize("ext", EXTS)
def test_every_format_streams_identically(tmp_path, ext, monkeypatch):
    monkeypatch.setattr("evflow.io.dat.CHUNK_BYTES", 8 * 1000)
    monkeypatch.setattr("evflow.io.raw.CHUNK_BYTES", 2000)
    monkeypatch.setattr("evflow.io.hdf5.CHUNK_EVENTS", 1500)
    monkeypatch.setattr("evflow.io.numpy_files.CHUNK_EVENTS", 1500)
    ev = synthetic_events(8000, t0=2**33, duration=30_000, seed=5)
    write_events(tmp_path / f"f{ext}", ev, 720, 1280)
    windows = list(EventsIterator(tmp_path / f"f{ext}", delta_t=1000, start_ts=2**33 + 10_000))
    np.testing.assert_array_equal(np.concatenate(windows), ev[ev["t"] >= 2**33 + 10_000])
    assert all(len(w) == 0 or w["t"][-1] - w["t"][0] < 1000 for w in windows)


def test_windows_survive_later_chunks(gappy, monkeypatch):
    """Yielded windows may be views of reused buffers: they must not change when iteration goes on."""
    monkeypatch.setattr("evflow.io.dat.CHUNK_BYTES", 8 * 256)
    path, ev = gappy
    kept = [w for w in EventsIterator(path, delta_t=50)]
    np.testing.assert_array_equal(np.concatenate(kept), ev)


@pytest.mark.parametrize("kwargs", [{"mode": "time"}, {"delta_t": 0}, {"n_events": -1}, {"max_duration": 0}])
def test_bad_arguments(gappy, kwargs):
    with pytest.raises(ConfigError):
        EventsIterator(gappy[0], **kwargs)


def test_height_width_override_for_files_without_size(tmp_path):
    ev = synthetic_events(100, height=100, width=120)
    write_events(tmp_path / "n.npy", ev)
    it = EventsIterator(tmp_path / "n.npy", height=100, width=120)
    assert (it.height, it.width) == (100, 120)
    assert EventsIterator(tmp_path / "n.npy").height is None


def test_buffer_pool_never_hands_out_a_referenced_buffer():
    from evflow.io.source import BufferPool

    pool = BufferPool(10, keep=2)
    a = pool.get()
    view = a[3:5]
    b = pool.get()
    assert b is not a
    del b
    c = pool.get()  # b was dropped: its memory is reused, a's is still referenced by `view`
    assert c is not a and view.base is a
    del view, a, c
    assert pool.get() is pool._bufs[0]
