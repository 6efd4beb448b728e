"""``evflow info`` and ``evflow convert`` end to end, and the bundled sample recording."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evflow.cli.main import main
from evflow.io import load_events, read_geometry, write_events
from evflow.io.make_sample import HEIGHT, WIDTH, make_sample_events, sample_recording_path
from evflow.io.stats import recording_stats


def test_bundled_sample_is_small_and_matches_its_generator():
    path = sample_recording_path()
    assert path.is_file() and path.stat().st_size < 300_000
    assert read_geometry(path) == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(load_events(path), make_sample_events())


def test_info_text_and_json(tmp_path, events, capsys):
    write_events(tmp_path / "a.dat", events, 720, 1280)
    assert main(["info", str(tmp_path / "a.dat"), str(sample_recording_path())]) == 0
    out = capsys.readouterr().out
    assert "Prophesee DAT" in out and "1280 x 720" in out and f"{len(events):,}" in out and "% ON" in out
    assert main(["info", "--json", "--peak-window", "10000", str(tmp_path / "a.dat")]) == 0
    stats = json.loads(capsys.readouterr().out)
    t = events["t"]
    assert stats["count"] == len(events) and stats["duration_us"] == int(t[-1] - t[0])
    assert stats["on_fraction"] == pytest.approx(events["p"].mean())
    peak = np.bincount((t - t[0] // 10000 * 10000) // 10000).max()
    assert stats["peak_rate"] == pytest.approx(peak / 0.01)


@pytest.mark.parametrize(("out", "fmt"), [("b.raw", None), ("b.raw", "evt21"), ("b.h5", None), ("b.npz", None)])
def test_convert_round_trip(tmp_path, events, out, fmt, capsys):
    write_events(tmp_path / "a.dat", events, 720, 1280)
    args = ["convert", str(tmp_path / "a.dat"), str(tmp_path / out)] + (["--format", fmt] if fmt else [])
    assert main(args) == 0
    assert "wrote 20,000 events (1280x720)" in capsys.readouterr().out
    np.testing.assert_array_equal(load_events(tmp_path / out), events)
    assert read_geometry(tmp_path / out) == (720, 1280)


def test_convert_errors_are_clean(tmp_path, events, capsys):
    assert main(["convert", str(tmp_path / "missing.dat"), str(tmp_path / "o.raw")]) == 1
    assert "no such file" in capsys.readouterr().err
    write_events(tmp_path / "a.npy", events)
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "a.npy")]) == 1
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "o.raw"), "--height", "10", "--width", "10"]) == 1
    assert "outside the sensor" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


@pytest.mark.parametrize("chunk", [7, 1000, 1 << 20])
def test_stats_do_not_depend_on_chunking(tmp_path, events, chunk):
    write_events(tmp_path / "a.npy", events)
    s = recording_stats(tmp_path / "a.npy", peak_window_us=500, chunk_events=chunk)
    assert s.peak_rate == np.bincount(events["t"] // 500).max() / 500e-6
    assert (s.count, s.x_max, s.y_max) == (len(events), events["x"].max(), events["y"].max())
