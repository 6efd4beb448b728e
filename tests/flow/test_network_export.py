"""ONNX export of FlowNetwork with the recurrent state as explicit inputs/outputs matches eager streaming."""

import warnings

import pytest
import torch

from evflow.core.explicit_state import ExplicitState
from evflow.flow.flow_network import FlowNetwork

ort = pytest.importorskip("onnxruntime")
H, W = 16, 24


@pytest.fixture(autouse=True, scope="module")
def _single_thread_torch():
    """One intra-op thread: CI runs 2 pytest workers on 2 cores (more threads oversubscribe and stall)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name,cell", [("eminet", "lstm")])
def test_onnx_streaming_matches_eager_and_zero_state_is_reset(tmp_path, name, cell):
    torch.manual_seed(0)
    net = FlowNetwork((1, 6, H, W), None, name, rnn_cell=cell).eval()
    step = ExplicitState(net)
    frames = [torch.rand(1, 1, 6, H, W) for _ in range(3)]
    states = step.initial_states(frames[0])
    assert all("prev_" in n for n in step.state_names()) and len(states) == (2 if cell == "lstm" else 1)
    path = str(tmp_path / "net.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(step, (frames[0], *states), path, dynamo=False, opset_version=17)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    ort_states = [s.numpy() for s in states]
    net.reset_all()
    with torch.no_grad():
        eager = [net(x)[-1] for x in frames]
    for x, ref in zip(frames, eager):
        outs = sess.run(None, dict(zip(names, [x.numpy(), *ort_states])))
        ort_states = outs[3:]
        torch.testing.assert_close(torch.from_numpy(outs[2]), ref, rtol=1e-4, atol=1e-5)
    zero = [s.numpy() * 0 for s in states]  # reset = zero state
    fresh = sess.run(None, dict(zip(names, [frames[0].numpy(), *zero])))[2]
    torch.testing.assert_close(torch.from_numpy(fresh), eager[0], rtol=1e-4, atol=1e-5)
