"""HDF5 tensor files: round trip, Prophesee layout, foreign files, expectation checks, atomic writes."""

import h5py
import numpy as np
import pytest

from evflow.data.features import TensorFileReader, TensorFileWriter, read_tensor_file, write_tensor_file
from evflow.errors import ConfigError, EventFileError, ShapeError


def cube(n=4, c=6, h=5, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def test_round_trip_and_layout(tmp_path):
    data = cube()
    path = write_tensor_file(tmp_path / "rec.h5", data, "event_cube", 50000, height=10, width=14,
                             preprocess_kwargs={"split_polarity": True, "max_incr_per_pixel": 5.0})  # fmt: skip
    tf = read_tensor_file(path, expected_preprocessing="event_cube", expected_delta_t=50000)
    np.testing.assert_array_equal(tf.data, data)
    assert (tf.preprocessing, tf.delta_t, tf.height, tf.width, tf.mode) == ("event_cube", 50000, 10, 14, "delta_t")
    assert tf.preprocess_kwargs == {"split_polarity": True, "max_incr_per_pixel": 5.0}
    assert tf.format_version == 1 and not tf.store_as_uint8
    with h5py.File(path, "r") as f:
        d = f["data"]
        assert d.chunks == (1, 6, 5, 7) and d.compression == "gzip" and d.maxshape == (None, 6, 5, 7)
        assert d.attrs["events_to_tensor"] == b"event_cube" and d.attrs["delta_t"].dtype == np.uint32
        assert tuple(d.attrs["shape"]) == (6, 5, 7)
    assert not list(tmp_path.glob(".*tmp*"))


def test_store_as_uint8(tmp_path):
    data = cube()
    path = write_tensor_file(tmp_path / "u8.h5", data, "histo", 10000, store_as_uint8=True)
    with TensorFileReader(path) as r:
        assert r.read(as_float=False).dtype == np.uint8 and r.store_as_uint8
        np.testing.assert_allclose(r[1], data[1], atol=0.5 / 255 + 1e-7)
        assert r[-1].shape == (6, 5, 7) and r[1:3].shape == (2, 6, 5, 7) and len(r) == 4
    with pytest.raises(ShapeError, match=r"\[0, 1\]"):
        write_tensor_file(tmp_path / "neg.h5", data - 0.5, "diff", 10000, store_as_uint8=True)
    assert not (tmp_path / "neg.h5").exists() and not list(tmp_path.glob(".*tmp*"))


def test_expectation_mismatch_is_rejected(tmp_path):
    path = write_tensor_file(tmp_path / "h.h5", cube(c=2), "histo", 10000)
    with pytest.raises(ConfigError, match="'histo', expected 'event_cube'"):
        read_tensor_file(path, expected_preprocessing="event_cube")
    with pytest.raises(ConfigError, match="delta_t=10000"):
        TensorFileReader(path, expected_delta_t=50000)


def test_foreign_file_same_layout(tmp_path):
    # as another tool writes it: no format_version, no sensor size, numpy-string mode, downsampling attr
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", data=cube(n=3, c=6), compression="gzip", chunks=(1, 6, 5, 7))
        d.attrs["events_to_tensor"] = np.bytes_("event_cube")
        d.attrs["delta_t"] = np.uint32(25000)
        d.attrs["mode"] = np.bytes_("delta_t")
        d.attrs["split_polarity"] = np.bool_(False)
        d.attrs["max_incr_per_pixel"] = np.float64(10)
        d.attrs["downsampling_factor"] = 1
    tf = read_tensor_file(path, "event_cube", 25000)
    assert tf.format_version is None and (tf.height, tf.width) == (10, 14) and tf.mode == "delta_t"
    assert tf.preprocess_kwargs == {"split_polarity": False, "max_incr_per_pixel": 10.0}


def test_bad_files(tmp_path):
    with pytest.raises(EventFileError, match="not found"):
        read_tensor_file(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(EventFileError, match="HDF5"):
        read_tensor_file(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["flow"] = np.zeros((1, 2, 3, 3))
    with pytest.raises(EventFileError, match="'data'"):
        read_tensor_file(tmp_path / "other.h5")


def test_streaming_writer_aborts_on_error(tmp_path):
    out = tmp_path / "s.h5"
    with pytest.raises(RuntimeError):
        with TensorFileWriter(out, "histo", 1000, (2, 3, 4)) as w:
            w.append(np.zeros((2, 3, 4), np.float32))
            raise RuntimeError("boom")
    assert not out.exists() and not list(tmp_path.iterdir())
    with TensorFileWriter(out, "histo", 1000, (2, 3, 4)) as w:
        for i in range(3):
            w.append(np.full((2, 3, 4), i, np.float32))
        with pytest.raises(ShapeError):
            w.append(np.zeros((3, 3, 4)))
        w.append_zeros(1000)  # unallocated chunks: no space
        w.append(np.ones((2, 3, 4), np.float32))
    tf = read_tensor_file(out)
    assert tf.data.shape == (1004, 2, 3, 4) and tf.data[:, 0, 0, 0].tolist() == [0, 1, 2] + [0] * 1000 + [1]
    assert out.stat().st_size < 20_000
