"""Bad paths and registry errors: each gets a specific evflow exception naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from evflow.errors import EventFileError, EvflowError, UnsupportedFormatError
from evflow.io import EventsIterator, list_formats, load_events, open_writer, read_geometry, write_events


@pytest.mark.parametrize("ext", [".dat", ".raw", ".h5", ".npy", ".npz"])
def test_missing_empty_and_directory(tmp_path, ext):
    with pytest.raises(EventFileError, match="no such file"):
        load_events(tmp_path / f"missing{ext}")
    (tmp_path / f"empty{ext}").write_bytes(b"")
    with pytest.raises(EventFileError, match="empty") as info:
        EventsIterator(tmp_path / f"empty{ext}")
    assert info.value.offset == 0 and f"empty{ext}" in str(info.value)
    (tmp_path / f"dir{ext}").mkdir()
    with pytest.raises(EventFileError, match="is a directory"):
        read_geometry(tmp_path / f"dir{ext}")


def test_unknown_extension_lists_supported(tmp_path, events):
    (tmp_path / "rec.aedat4").write_bytes(b"x")
    with pytest.raises(UnsupportedFormatError, match=r"'\.aedat4'; supported: \.dat, \.raw") as info:
        load_events(tmp_path / "rec.aedat4")
    assert isinstance(info.value, EvflowError)
    with pytest.raises(UnsupportedFormatError, match="supported"):
        write_events(tmp_path / "out.txt", events)
    with pytest.raises(UnsupportedFormatError, match="unknown format 'evt4'"):
        open_writer(tmp_path / "o.raw", format="evt4")


def test_registry_lists_formats_and_writes_evt2_into_raw(tmp_path, events):
    assert set(list_formats()) == {"dat", "evt2", "evt21", "evt3", "hdf5", "npy", "npz"}
    write_events(tmp_path / "two.raw", events, 720, 1280, format="evt2")
    assert b"% evt 2.0" in (tmp_path / "two.raw").read_bytes()[:200]
    np.testing.assert_array_equal(load_events(tmp_path / "two.raw"), events)


def test_failed_write_keeps_previous_file(tmp_path, events):
    write_events(tmp_path / "keep.dat", events, 720, 1280)
    before = (tmp_path / "keep.dat").read_bytes()
    with pytest.raises(ValueError):
        with open_writer(tmp_path / "keep.dat", 720, 1280) as w:
            w.write(events[:100])
            w.write(events[:100])  # goes back in time relative to the previous chunk
    assert (tmp_path / "keep.dat").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.dat"]
