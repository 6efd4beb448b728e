"""HDF5 (evflow and DSEC layouts) and npy/npz event files."""

from __future__ import annotations

import h5py
import hdf5plugin
import numpy as np
import pytest
from io_helpers import synthetic_events

from evflow.errors import EventFileError, UnsupportedFormatError
from evflow.io import EventsIterator, load_events, open_source, open_writer, read_geometry, write_events
from evflow.io.hdf5 import FORMAT_NAME, FORMAT_VERSION


def test_evflow_hdf5_layout(tmp_path, events):
    ev = events.copy()
    ev["t"] += 58_000_000_123  # DSEC-like absolute time
    path = tmp_path / "e.h5"
    write_events(path, ev, 720, 1280)
    with h5py.File(path) as f:
        assert f.attrs["format"] == FORMAT_NAME and f.attrs["format_version"] == FORMAT_VERSION
        assert f["events/t"].dtype == np.int64 and f["events/p"].dtype == np.uint8
        t_off, ms = int(f["t_offset"][()]), f["ms_to_idx"][:]
    rel = ev["t"] - t_off
    expected = np.searchsorted(rel, np.arange(len(ms)) * 1000, side="left")
    np.testing.assert_array_equal(ms, expected)
    assert ms[-1] == len(ev)
    np.testing.assert_array_equal(load_events(path), ev)
    assert read_geometry(path) == (720, 1280)


def test_streamed_hdf5_equals_one_shot(tmp_path, events):
    with open_writer(tmp_path / "s.h5", 720, 1280) as w:
        for a in range(0, len(events), 777):
            w.write(events[a : a + 777])
    write_events(tmp_path / "o.h5", events, 720, 1280)
    with h5py.File(tmp_path / "s.h5") as f, h5py.File(tmp_path / "o.h5") as g:
        np.testing.assert_array_equal(f["ms_to_idx"][:], g["ms_to_idx"][:])
    np.testing.assert_array_equal(load_events(tmp_path / "s.h5"), events)


def _write_dsec(path, ev, t_offset):
    with h5py.File(path, "w") as f:
        z = hdf5plugin.Zstd()
        f.create_dataset("events/x", data=ev["x"], **z)
        f.create_dataset("events/y", data=ev["y"], **z)
        f.create_dataset("events/p", data=ev["p"].astype(np.uint8), **z)
        f.create_dataset("events/t", data=(ev["t"] - t_offset).astype(np.uint32), **z)
        f.create_dataset("ms_to_idx", data=np.searchsorted(ev["t"] - t_offset, np.arange(200) * 1000).astype("u8"))
        f.create_dataset("t_offset", data=np.int64(t_offset))


def test_dsec_layout_with_zstd_and_seek(tmp_path):
    ev = synthetic_events(5000, height=480, width=640, t0=47_000_000_000, duration=150_000)
    _write_dsec(tmp_path / "events.h5", ev, 47_000_000_000)
    src = open_source(tmp_path / "events.h5")
    assert src.format == "dsec-hdf5" and src.height is None
    np.testing.assert_array_equal(load_events(tmp_path / "events.h5"), ev)
    start = 47_000_000_000 + 70_500
    got = np.concatenate(list(EventsIterator(tmp_path / "events.h5", delta_t=10_000, start_ts=start)))
    np.testing.assert_array_equal(got, ev[ev["t"] >= start])


def test_unknown_hdf5_layouts(tmp_path):
    with h5py.File(tmp_path / "cd.h5", "w") as f:
        f.create_group("CD/events")
    with pytest.raises(UnsupportedFormatError, match="Prophesee HDF5"):
        load_events(tmp_path / "cd.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(UnsupportedFormatError, match="unknown HDF5 layout"):
        load_events(tmp_path / "other.h5")
    (tmp_path / "fake.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(UnsupportedFormatError, match="not a readable HDF5"):
        load_events(tmp_path / "fake.h5")
    with h5py.File(tmp_path / "v9.h5", "w") as f:
        f.attrs["format"], f.attrs["format_version"] = FORMAT_NAME, 9
    with pytest.raises(UnsupportedFormatError, match="format_version is 9"):
        load_events(tmp_path / "v9.h5")


@pytest.mark.parametrize("ext", [".npy", ".npz"])
def test_numpy_round_trip_and_streaming_writer(tmp_path, events, ext):
    path = tmp_path / f"e{ext}"
    with open_writer(path, 720, 1280) as w:
        for a in range(0, len(events), 3000):
            w.write(events[a : a + 3000])
    np.testing.assert_array_equal(load_events(path), events)
    loaded = np.load(path) if ext == ".npy" else np.load(path)["events"]
    np.testing.assert_array_equal(loaded, events)  # plain numpy reads what evflow writes
    assert read_geometry(path) == (None if ext == ".npy" else (720, 1280))


def test_npz_with_separate_columns_and_packed_npy(tmp_path, events):
    np.savez(tmp_path / "c.npz", x=events["x"], y=events["y"], p=events["p"], t=events["t"])
    np.testing.assert_array_equal(load_events(tmp_path / "c.npz"), events)
    packed = np.zeros(len(events), dtype=[("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
    for k in "xypt":
        packed[k] = events[k]
    np.save(tmp_path / "packed.npy", packed)
    np.testing.assert_array_equal(load_events(tmp_path / "packed.npy"), events)


def test_bad_numpy_files(tmp_path, events):
    np.save(tmp_path / "plain.npy", np.zeros((4, 4)))
    with pytest.raises(UnsupportedFormatError, match="structured array"):
        load_events(tmp_path / "plain.npy")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(UnsupportedFormatError, match="cannot read as npy"):
        load_events(tmp_path / "junk.npy")
    np.save(tmp_path / "rev.npy", events[::-1])
    with pytest.raises(EventFileError, match="backwards"):
        load_events(tmp_path / "rev.npy")
