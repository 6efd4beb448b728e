"""Dataset generation: files, layout, determinism, train/val image split, CLI."""

import json

import numpy as np
import pytest

from evflow.cli.main import main
from evflow.data.flow_file import read_flow_file
from evflow.errors import ConfigError
from evflow.io.dat import read_dat
from evflow.synth.dataset import SequenceConfig
from evflow.synth.generate import generate_dataset, parse_split
from evflow.synth.images import PROCEDURAL_KINDS, TRAIN_IMAGES, VAL_IMAGES, load_image, split_images

SMALL = ["--height", "48", "--width", "64", "--duration-s", "0.2", "--no-progress"]


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_cli_writes_train_and_val_sequences(tmp_path):
    out = tmp_path / "ds"
    assert main(["synth", str(out), "--num-sequences", "3", "--split", "train=2,val=1", "--objects", "1", *SMALL]) == 0
    names = sorted(_files(out))
    assert names == [
        "synth.json",
        "train/synth_0000_flow.h5",
        "train/synth_0000_td.dat",
        "train/synth_0001_flow.h5",
        "train/synth_0001_td.dat",
        "val/synth_0000_flow.h5",
        "val/synth_0000_td.dat",
    ]
    ev = read_dat(out / "train" / "synth_0000_td.dat")
    assert len(ev) > 0 and np.all(np.diff(ev["t"]) >= 0) and ev["t"].max() <= 200_000
    assert ev["x"].max() < 64 and ev["y"].max() < 48 and set(np.unique(ev["p"])) <= {0, 1}
    flow = read_flow_file(out / "train" / "synth_0000_flow.h5")
    assert flow.flow.shape == (4, 2, 48, 64) and flow.flow.dtype == np.float32
    assert flow.delta_t == 50_000 and flow.attrs["delta_t"] == 50_000
    assert (flow.attrs["event_input_height"], flow.attrs["event_input_width"]) == (48, 64)
    np.testing.assert_array_equal(flow.start_ts, [0, 50_000, 100_000, 150_000])
    np.testing.assert_array_equal(flow.end_ts, flow.start_ts + 50_000)
    assert json.loads((out / "synth.json").read_text())["counts"] == {"train": 2, "val": 1}
    for split, allowed in (("train", TRAIN_IMAGES), ("val", VAL_IMAGES)):
        for path in (out / split).glob("*_flow.h5"):
            used = read_flow_file(path).attrs["images"].split(",")
            assert len(used) == 2 and set(used) <= set(allowed)


def test_same_seed_same_bytes_any_workers_other_seed_differs(tmp_path):
    config = SequenceConfig(height=32, width=48, duration_us=150_000, num_objects=1, noise="noisy")
    for name, seed, workers in (("a", 5, 1), ("b", 5, 2), ("c", 6, 1)):
        generate_dataset(tmp_path / name, {"train": 1, "val": 1}, config, seed, progress=False, workers=workers)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a["train/synth_0000_td.dat"] != c["train/synth_0000_td.dat"]
    assert a["val/synth_0000_flow.h5"] != c["val/synth_0000_flow.h5"]


def test_precompute_writes_tensor_files_next_to_labels(tmp_path):
    from evflow.data.features import read_tensor_file

    out = tmp_path / "ds"
    assert main(["synth", str(out), "--split", "train=1,val=0", "--precompute", "event_cube", *SMALL]) == 0
    tensor = read_tensor_file(out / "event_cube" / "train" / "synth_0000.h5")
    assert tensor.data.shape == (4, 6, 48, 64) and tensor.preprocessing == "event_cube"
    assert tensor.delta_t == 50_000 and tensor.data.max() > 0
    assert (out / "event_cube" / "train" / "synth_0000_flow.h5").read_bytes() == (
        out / "train" / "synth_0000_flow.h5"
    ).read_bytes()


def test_cli_errors(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), "--precompute", "nope", *SMALL]) == 1
    assert "unknown preprocessing 'nope'" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "x"), "--num-sequences", "3", "--split", "train=2,val=2", *SMALL]) == 1
    assert "totals 4 sequences" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "x"), "--delta-t", "500000", *SMALL]) == 1
    assert "delta_t" in capsys.readouterr().err


def test_parse_split():
    assert parse_split(None, None) == {"train": 12, "val": 4}
    assert parse_split(None, 1) == {"train": 1, "val": 0}
    assert parse_split("val=2,train=3", 5) == {"train": 3, "val": 2}
    assert parse_split("train=3", None) == {"train": 3, "val": 0}
    for bad in ("train=x", "test=2", "train=0,val=0", "train"):
        with pytest.raises(ConfigError):
            parse_split(bad, None)


def test_train_and_val_images_are_disjoint_and_load():
    assert not set(TRAIN_IMAGES) & set(VAL_IMAGES)
    assert split_images("train") == TRAIN_IMAGES and split_images("val") == VAL_IMAGES
    for name in (TRAIN_IMAGES[0], VAL_IMAGES[0], *(f"{k}:100" for k in PROCEDURAL_KINDS)):
        img = load_image(name)
        assert img.ndim == 2 and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 255 and img.std() > 10
    assert not np.array_equal(load_image("noise:0"), load_image("noise:100"))
    with pytest.raises(ConfigError, match="unknown image"):
        load_image("lena")
    with pytest.raises(ConfigError, match="split"):
        split_images("test")
