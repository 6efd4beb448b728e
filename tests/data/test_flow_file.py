"""Flow file round trip and rejection of malformed files."""

import h5py
import numpy as np
import pytest

from evflow.data.flow_file import read_flow_file, write_flow_file
from evflow.errors import EventFileError, ShapeError


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    flow = rng.normal(size=(3, 2, 5, 7)).astype(np.float32)
    flow[0, :, 0, 0] = np.inf
    start = np.array([0, 50_000, 100_000]) + 2**33
    path = write_flow_file(tmp_path / "a_flow.h5", flow, start, start + 50_000, checkpoint_path="m.ckpt")
    got = read_flow_file(path)
    np.testing.assert_array_equal(got.flow, flow)
    np.testing.assert_array_equal(got.start_ts, start)
    assert got.start_ts.dtype == np.int64
    assert (got.delta_t, got.height, got.width) == (50_000, 5, 7)
    assert got.attrs["checkpoint_path"] == "m.ckpt"
    assert got.attrs["format_version"] == 1
    assert not list(tmp_path.glob(".*tmp*"))


def test_prophesee_file_without_delta_t(tmp_path):
    path = tmp_path / "gt_flow.h5"
    with h5py.File(path, "w") as f:
        d = f.create_dataset("flow", data=np.zeros((2, 2, 4, 6), np.float32))
        d.attrs["event_input_height"] = 4
        d.attrs["event_input_width"] = 6
        f["flow_start_ts"] = np.array([0, 20_000])
        f["flow_end_ts"] = np.array([20_000, 40_000])
    assert read_flow_file(path).delta_t == 20_000


@pytest.mark.parametrize(
    "flow,start,end",
    [
        (np.zeros((2, 3, 4, 4)), [0, 1], [1, 2]),
        (np.zeros((2, 2, 4, 4)), [0], [1]),
        (np.zeros((1, 2, 4, 4)), [5], [5]),
        (np.full((1, 2, 4, 4), np.nan), [0], [1]),
    ],
)
def test_writer_rejects_bad_arrays(tmp_path, flow, start, end):
    with pytest.raises(ShapeError):
        write_flow_file(tmp_path / "x.h5", flow, start, end)
    assert not list(tmp_path.iterdir())


def test_reader_errors(tmp_path):
    with pytest.raises(EventFileError, match="not found"):
        read_flow_file(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(EventFileError, match="HDF5"):
        read_flow_file(bad)
    with h5py.File(tmp_path / "nots.h5", "w") as f:
        f["flow"] = np.zeros((1, 2, 3, 3), np.float32)
    with pytest.raises(EventFileError, match="flow_start_ts"):
        read_flow_file(tmp_path / "nots.h5")
