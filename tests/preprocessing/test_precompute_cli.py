"""``evflow precompute``: rows equal CDProcessor on each slice, layout kept, splitting, resizing, errors."""

import numpy as np
import pytest

from evflow.cli.main import main
from evflow.cli.precompute import iter_rows
from evflow.data.features import read_tensor_file
from evflow.io import make_events, write_events
from evflow.preprocessing import CDProcessor

H, W, DT = 16, 24, 10000


def recording(seed, duration=55000, n=3000, t0=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, duration, n))
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    evs = {}
    for split, seed in (("train", 0), ("train", 1), ("val", 2)):
        (root / split).mkdir(parents=True, exist_ok=True)
        path = root / split / f"rec{seed}_td.dat"
        evs[path] = recording(seed, t0=15000 if seed == 1 else 0)
        write_events(path, evs[path], H, W)
    return root, evs


def expected_rows(events, preprocess="event_cube", ds=0):
    proc = CDProcessor(H, W, 1, preprocess, ds)
    n = int(events["t"][-1]) // DT + 1
    rows = []
    for r in range(n):
        sel = events[(events["t"] >= r * DT) & (events["t"] < (r + 1) * DT)]
        rows.append(proc(sel, delta_t=DT, start_ts=r * DT)[0])
    return np.stack(rows)


def test_dataset_root_parallel(dataset, tmp_path):
    root, evs = dataset
    out = tmp_path / "out"
    assert main(["precompute", str(root), "-o", str(out), "--delta-t", str(DT), "-j", "2", "--no-progress"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "train", "train/rec0.h5", "train/rec1.h5", "val", "val/rec2.h5"
    ]  # fmt: skip
    for src, events in evs.items():
        tf = read_tensor_file(out / src.parent.name / (src.stem[:-3] + ".h5"), "event_cube", DT)
        assert (tf.height, tf.width) == (H, W) and tf.data.shape == (6, 6, H, W)
        np.testing.assert_allclose(tf.data, expected_rows(events), atol=1e-6)
    assert np.count_nonzero(read_tensor_file(out / "train" / "rec1.h5").data[0]) == 0  # starts at 15 ms


def test_options(dataset, tmp_path):
    root, evs = dataset
    src = root / "val" / "rec2_td.dat"
    out = tmp_path / "o"
    args = ["precompute", str(src), "-o", str(out), "--delta-t", str(DT), "--no-progress", "--preprocess", "histo"]
    assert main(args + ["--height-width", "8", "12", "--store-as-uint8", "--max-duration-ms", "30"]) == 0
    a, b = read_tensor_file(out / "rec2_0.h5"), read_tensor_file(out / "rec2_1.h5")
    assert a.store_as_uint8 and a.data.shape == (3, 2, 8, 12) and b.data.shape == (3, 2, 8, 12)
    ref = expected_rows(evs[src], "histo", ds=1)
    np.testing.assert_allclose(np.concatenate([a.data, b.data]), ref, atol=0.5 / 255 + 1e-6)
    assert main(args + ["--height-width", "10", "15", "--overwrite"]) == 0  # area resize
    assert read_tensor_file(out / "rec2.h5").data.shape == (6, 2, 10, 15)
    assert not list(out.glob(".*"))


def test_errors(dataset, tmp_path, capsys):
    root, _ = dataset
    base = ["precompute", str(root), "-o", str(tmp_path / "e"), "--no-progress"]
    assert main(base + ["--preprocess", "nope"]) == 1
    assert "valid names" in capsys.readouterr().err
    assert main(base + ["--preprocess", "diff", "--store-as-uint8"]) == 1
    assert main(base + ["--max-duration-ms", "75", "--delta-t", "50000"]) == 1
    assert main(["precompute", str(tmp_path / "missing.dat"), "-o", str(tmp_path / "e")]) == 1
    assert not (tmp_path / "e").exists() or not list((tmp_path / "e").rglob("*.h5"))


def test_iter_rows_regroups_any_chunking():
    ev = recording(5, duration=47000, n=500, t0=12000)
    whole = [(r, e["t"].tolist()) for r, e in iter_rows([ev], DT)]
    chunked = [(r, e["t"].tolist()) for r, e in iter_rows(np.array_split(ev, 7), DT)]
    assert whole == chunked and [r for r, _ in whole] == [0, 1, 2, 3, 4]
    assert sum(len(t) for _, t in whole) == 500 and whole[0][1] == []


def test_out_of_sensor_events_fail_cleanly_or_are_dropped(tmp_path, capsys):
    ev = recording(3, duration=25000, n=200)
    ev["x"][50] = W + 3  # beyond the sensor size given on the command line
    path = tmp_path / "bad.npy"
    np.save(path, ev)  # no geometry in the file
    args = ["precompute", str(path), "-o", str(tmp_path / "o"), "--delta-t", str(DT), "--no-progress"]
    assert main(args) == 1
    assert "--sensor-size" in capsys.readouterr().err
    args += ["--sensor-size", str(H), str(W)]
    assert main(args) == 1
    assert "event 50" in capsys.readouterr().err and not list((tmp_path / "o").glob("*"))
    assert main(args + ["--drop-out-of-range"]) == 0
    assert read_tensor_file(tmp_path / "o" / "bad.h5").data.shape == (3, 6, H, W)
