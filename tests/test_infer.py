"""``evflow infer``: intervals of the flow file, playable video, tensor-file input checks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from evflow.cli.main import main
from evflow.data.features import write_tensor_file
from evflow.data.flow_file import read_flow_file
from evflow.errors import ConfigError
from evflow.flow.inference import FlowInference
from infer_helpers import make_checkpoint, make_recording

DT = 10000


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    ckpt = make_checkpoint(root / "model.ckpt", 32, 40, DT)
    dat, gt = make_recording(root / "ds", 32, 40, 120000, DT)
    return root, ckpt, dat, gt


def _infer(*argv) -> int:
    return main(["infer", *map(str, argv), "--no-display", "--no-progress"])


def test_flow_file_intervals_and_video(setup, tmp_path):
    import imageio.v2 as imageio

    _, ckpt, dat, _ = setup
    flow_path, video = tmp_path / "est_flow.h5", tmp_path / "est.mp4"
    rc = _infer(
        ckpt, dat, "-s", flow_path, "-w", video, "--start-ts", 20000, "--max-duration", 60000, "--batch-size", 4
    )
    assert rc == 0
    f = read_flow_file(flow_path)
    assert f.flow.shape == (6, 2, 32, 40) and f.flow.dtype == np.float32
    np.testing.assert_array_equal(f.start_ts, 20000 + DT * np.arange(6))
    np.testing.assert_array_equal(f.end_ts, f.start_ts + DT)
    assert f.delta_t == DT and f.attrs["format_version"] == 1
    assert f.attrs["events_to_tensor"] == "event_cube" and f.attrs["checkpoint_path"] == "model.ckpt"
    assert f.attrs["input_file_name"] == dat.name
    frames = list(imageio.get_reader(video, format="FFMPEG").iter_data())
    assert len(frames) == 6 and frames[0].shape == (32, 40, 3)
    assert not list(tmp_path.glob(".*tmp*"))


def test_whole_recording_is_contiguous_and_sharp_video_is_wider(setup, tmp_path):
    import imageio.v2 as imageio

    _, ckpt, dat, _ = setup
    assert _infer(ckpt, dat, "-s", tmp_path / "f.h5", "-w", tmp_path / "s.mp4", "--mode", "sharp") == 0
    f = read_flow_file(tmp_path / "f.h5")
    assert f.start_ts[0] == 0 and f.end_ts[-1] == 120000 and np.all(f.start_ts[1:] == f.end_ts[:-1])
    frames = list(imageio.get_reader(tmp_path / "s.mp4", format="FFMPEG").iter_data())
    assert len(frames) == len(f.flow) and frames[0].shape == (32, 80, 3)


def test_batching_keeps_the_recurrent_result(setup):
    _, ckpt, dat, _ = setup
    engine = FlowInference.from_checkpoint(ckpt)
    windows = list(engine.open(dat, max_duration=70000))
    one = np.stack([r.flow for r in engine.run(windows, batch_size=1)])
    many = np.stack([r.flow for r in engine.run(windows, batch_size=3)])
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert np.abs(one[5] - one[0]).max() > 1e-4  # the state and the inputs change the flow


@pytest.mark.parametrize("height_width", [None, (15, 21)])
def test_onnx_backend_streams_like_torch(setup, height_width):
    pytest.importorskip("onnxruntime")
    _, ckpt, dat, _ = setup
    torch_engine = FlowInference.from_checkpoint(ckpt)
    onnx_engine = FlowInference.from_checkpoint(ckpt, backend="onnx")
    windows = list(torch_engine.open(dat, max_duration=70000, height_width=height_width))
    want = np.stack([r.flow for r in torch_engine.run(windows, batch_size=2)])
    for _ in range(2):  # the second run starts from a reset state
        got = np.stack([r.flow for r in onnx_engine.run(windows, batch_size=3)])
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    assert np.abs(got[5] - got[0]).max() > 1e-4


def test_onnx_backend_refuses_cuda(setup):
    pytest.importorskip("onnxruntime")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        FlowInference.from_checkpoint(setup[1], device="cuda", backend="onnx")


def test_onnx_backend_through_the_cli(setup, tmp_path):
    pytest.importorskip("onnxruntime")
    _, ckpt, dat, _ = setup
    assert _infer(ckpt, dat, "-s", tmp_path / "o.h5", "--backend", "onnx", "--max-duration", 40000) == 0
    assert _infer(ckpt, dat, "-s", tmp_path / "t.h5", "--backend", "torch", "--max-duration", 40000) == 0
    np.testing.assert_allclose(read_flow_file(tmp_path / "o.h5").flow, read_flow_file(tmp_path / "t.h5").flow,
                               atol=1e-4, rtol=1e-4)  # fmt: skip


def test_tensor_file_input_matches_event_input(setup, tmp_path):
    _, ckpt, dat, _ = setup
    engine = FlowInference.from_checkpoint(ckpt)
    windows = list(engine.open(dat))
    tensors = np.stack([w.tensor for w in windows])
    path = write_tensor_file(tmp_path / "t.h5", tensors, "event_cube", DT, 32, 40, engine.preprocess_kwargs)
    from_events = np.stack([r.flow for r in engine.run(windows)])
    from_tensors = np.stack([r.flow for r in engine.run(engine.open(path))])
    np.testing.assert_allclose(from_tensors, from_events, atol=1e-5)
    assert _infer(ckpt, path, "-s", tmp_path / "f.h5") == 0
    np.testing.assert_array_equal(read_flow_file(tmp_path / "f.h5").end_ts, DT * np.arange(1, len(tensors) + 1))


@pytest.mark.parametrize("preprocessing,delta_t", [("histo", DT), ("event_cube", 2 * DT)])
def test_tensor_file_made_otherwise_is_refused(setup, tmp_path, preprocessing, delta_t, capsys):
    _, ckpt, _, _ = setup
    channels = 2 if preprocessing == "histo" else 6
    path = write_tensor_file(tmp_path / "t.h5", np.zeros((3, channels, 32, 40), np.float32), preprocessing, delta_t)
    engine = FlowInference.from_checkpoint(ckpt)
    with pytest.raises(ConfigError, match="preprocessing|delta_t"):
        engine.open(path)
    with pytest.raises(ConfigError, match="preprocessing|delta_t"):
        engine.open(path, delta_t=delta_t)  # --delta-t cannot make the model accept other tensors
    assert _infer(ckpt, path, "-s", tmp_path / "f.h5") == 1
    assert "t.h5" in capsys.readouterr().err and not (tmp_path / "f.h5").exists()


def test_sharp_mode_needs_events(setup, tmp_path, capsys):
    _, ckpt, _, _ = setup
    path = write_tensor_file(tmp_path / "t.h5", np.zeros((2, 6, 32, 40), np.float32), "event_cube", DT)
    assert _infer(ckpt, path, "--mode", "sharp", "-w", tmp_path / "v.mp4") == 1
    assert "sharp needs events" in capsys.readouterr().err


def test_missing_checkpoint_and_input_are_clear_errors(setup, tmp_path, capsys):
    _, ckpt, dat, _ = setup
    assert _infer(tmp_path / "nope.ckpt", dat) == 1
    assert "nope.ckpt: checkpoint not found" in capsys.readouterr().err
    assert _infer(ckpt, tmp_path / "nope.dat") == 1
    assert "nope.dat" in capsys.readouterr().err


def test_default_checkpoint_missing_is_a_clear_error(setup, tmp_path, monkeypatch, capsys):
    from evflow.flow import bundled

    _, _, dat, _ = setup
    monkeypatch.setattr(bundled, "default_checkpoint_path", lambda: tmp_path / "absent.ckpt")
    assert _infer("default", dat) == 1
    assert "bundled flow model is not shipped" in capsys.readouterr().err
    assert _infer("supervised", dat) == 1  # lives next to the default: absent too
    assert "instead of 'supervised'" in capsys.readouterr().err


def test_bundled_models_are_shipped_and_load():
    from evflow.flow import bundled
    from evflow.flow.model_io import load_flow_model

    for name in bundled.BUNDLED:
        path = bundled.resolve_checkpoint(name)
        # weights only (2.6 M float32 parameters for the 4-scale default): the Adam state would triple it
        assert path.stat().st_size < 12e6
        model = load_flow_model(path, map_location="cpu")
        assert model.hparams.feature_extractor_name == "eminet"


def test_odd_sizes_are_padded(setup, tmp_path):
    _, ckpt, dat, _ = setup
    engine = FlowInference.from_checkpoint(ckpt)
    results = list(engine.run(engine.open(dat, height_width=(15, 21), max_duration=30000)))
    assert len(results) == 3 and results[0].flow.shape == (2, 15, 21)


def test_frames_of_a_known_flow():
    from evflow.flow.inference import FlowResult
    from evflow.flow.inference_render import FrameRenderer
    from evflow.flow.inference_sources import Window
    from evflow.io import make_events

    tensor = np.zeros((6, 64, 96), np.float32)
    tensor[:, 8:56, 8:88] = 1.0  # events everywhere except a border
    flow = np.zeros((2, 64, 96), np.float32)
    flow[0] = 6.0  # 6 px to the right: red arrows / red colour-wheel hue
    ev = make_events(np.arange(10), np.full(10, 20), np.ones(10), np.arange(10) * 1000)
    result = FlowResult(Window(0, DT, tensor, ev, (64, 96)), flow)
    arrows = FrameRenderer("arrows", "event_cube")(result)
    red = (arrows[..., 0] > 200) & (arrows[..., 1] < 80) & (arrows[..., 2] < 80)
    assert arrows.shape == (64, 96, 3) and red[8:56, 8:88].sum() > 50 and not red[:6].any()
    dense = FrameRenderer("dense", "event_cube", max_flow=6.0)(result)
    assert dense.shape == (64, 96, 3) and dense[40, 40, 0] > 150 and dense[40, 40, 2] < 100
    sharp = FrameRenderer("sharp", "event_cube")(result)
    assert sharp.shape == (64, 192, 3)
    with pytest.raises(ConfigError, match="--mode"):
        FrameRenderer("wheel", "event_cube")


@pytest.mark.parametrize("height_width", [None, (15, 21)])
def test_fast_backend_streams_like_eager_torch(setup, height_width):
    _, ckpt, dat, _ = setup
    eager = FlowInference.from_checkpoint(ckpt, backend="torch")
    fast = FlowInference.from_checkpoint(ckpt)  # the default
    assert fast.backend == "fast" and eager.backend == "torch"
    windows = list(eager.open(dat, max_duration=70000, height_width=height_width))
    want = np.stack([r.flow for r in eager.run(windows, batch_size=2)])
    for _ in range(2):  # the second run starts from a reset state
        got = np.stack([r.flow for r in fast.run(windows, batch_size=3)])
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
