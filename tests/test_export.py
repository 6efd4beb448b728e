"""``evflow export``: TorchScript and ONNX reproduce the eager network over several steps and after a reset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from evflow.cli.main import main
from evflow.export import ExportMismatchError, export_model
from evflow.flow.explicit_state import ExplicitStateFlow
from evflow.flow.model_io import load_flow_model
from infer_helpers import make_checkpoint


def _windows(n, c=6, h=32, w=40, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(1, c, h, w, generator=gen) * (torch.rand(1, c, h, w, generator=gen) < 0.3) for _ in range(n)]


@torch.no_grad()
def _eager(network, xs):
    network.reset_all()
    return [network(x[None])[-1][0].numpy() for x in xs]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_export_cli_files_match_eager_with_state_and_reset(tmp_path):
    import onnxruntime as ort

    ckpt = make_checkpoint(tmp_path / "m.ckpt", 32, 40, delta_t=20000)
    assert main(["export", str(ckpt), str(tmp_path / "out")]) == 0
    info = json.loads((tmp_path / "out" / "info_flow.json").read_text())
    assert info["delta_t"] == 20000 and info["array_dim"] == [2, 6, 32, 40] and info["input_size"] == [1, 6, 32, 40]
    assert info["preprocess"] == "event_cube" and "max_incr_per_pixel" in info["preprocess_kwargs"]
    assert info["onnx"]["inputs"] == ["input", "h0", "c0"]
    network = load_flow_model(ckpt).network.eval()
    xs = _windows(4)
    want = _eager(network, xs)
    jit = torch.jit.load(str(tmp_path / "out" / "model_flow.ptjit"))
    with torch.no_grad():
        got = [jit(x[None])[-1][0].numpy() for x in xs]
        jit.reset_all()
        again = jit(xs[0][None])[-1][0].numpy()
    np.testing.assert_allclose(np.stack(got), np.stack(want), atol=1e-5)
    np.testing.assert_allclose(again, want[0], atol=1e-5)
    assert np.abs(want[3] - want[0]).max() > 1e-4
    session = ort.InferenceSession(str(tmp_path / "out" / "model_flow.onnx"), providers=["CPUExecutionProvider"])
    shapes = info["onnx"]["state_shapes"]
    for _ in range(2):  # the second pass starts from zeros again: a reset
        state = {k: np.zeros(v, np.float32) for k, v in shapes.items()}
        for x, w in zip(xs, want):
            flow, h, c = session.run(None, {"input": x.numpy(), **state})
            np.testing.assert_allclose(flow, w, atol=1e-4)
            state = {"h0": h, "c0": c}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_exported_files_keep_the_input_normalization(tmp_path):
    import onnxruntime as ort

    ckpt = make_checkpoint(tmp_path / "m.ckpt", 32, 40, input_normalization="nonzero_mean")
    assert main(["export", str(ckpt), str(tmp_path / "out")]) == 0  # export checks itself against the eager net
    x = _windows(1)[0]
    want = _eager(load_flow_model(ckpt).network.eval(), [x])[0]
    jit = torch.jit.load(str(tmp_path / "out" / "model_flow.ptjit"))
    with torch.no_grad():
        np.testing.assert_allclose(jit(0.1 * x[None])[-1][0].numpy(), want, atol=1e-5)
    session = ort.InferenceSession(str(tmp_path / "out" / "model_flow.onnx"), providers=["CPUExecutionProvider"])
    info = json.loads((tmp_path / "out" / "info_flow.json").read_text())
    state = {k: np.zeros(v, np.float32) for k, v in info["onnx"]["state_shapes"].items()}
    flow = session.run(None, {"input": 0.1 * x.numpy(), **state})[0]
    np.testing.assert_allclose(flow, want, atol=1e-4)


def test_mismatch_fails_and_leaves_nothing(tmp_path):
    model = load_flow_model(make_checkpoint(tmp_path / "m.ckpt", 16, 16))
    with pytest.raises(ExportMismatchError, match="TorchScript export differs"):
        export_model(model, tmp_path / "out", onnx=False, atol=-1.0)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_explicit_state_twin_matches_stateful_network(tmp_path, cell):
    network = load_flow_model(make_checkpoint(tmp_path / "m.ckpt", 16, 24, rnn_cell=cell)).network.eval()
    twin = ExplicitStateFlow(network)
    xs = _windows(3, h=16, w=24)
    want = _eager(network, xs)
    state = twin.initial_state(1, 6, 16, 24)
    assert twin.state_names() == (["h0", "c0"] if cell == "lstm" else ["h0"])
    with torch.no_grad():
        for x, w in zip(xs, want):
            flow, *state = twin(x, *state)
            np.testing.assert_allclose(flow.numpy(), w, atol=1e-5)


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.ckpt"), str(tmp_path / "out")]) == 1
    assert "none.ckpt: checkpoint not found" in capsys.readouterr().err
