"""FlowNetwork and the architecture registry: shapes, parameter counts, recurrent state, TorchScript."""

import pytest
import torch
import torch.nn.functional as F

from evflow.errors import ConfigError, ShapeError
from evflow.flow.feature_extractor import build_feature_extractor, count_parameters, list_architectures
from evflow.flow.flow_network import NONZERO_MEAN_TARGET, FlowNetwork, normalize_nonzero_mean

ARCHS = ["eminet", "eminet_non_sep", "midinet", "midinet2"]
H, W = 16, 24


@pytest.fixture(autouse=True, scope="module")
def _single_thread_torch():
    """One intra-op thread: CI runs 2 pytest workers on 2 cores (more threads oversubscribe and stall)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make(name, cell="lstm", seed=0, **kw):
    torch.manual_seed(seed)
    net = FlowNetwork((2, 6, H, W), None, name, rnn_cell=cell, **kw).eval()
    if name == "midinet2":  # residual weights start at 0: the recurrent layer would not contribute yet
        with torch.no_grad():
            net.feature_extractor.decoders[0].resweight.fill_(0.5)
    return net


def test_registry_lists_and_rejects():
    assert list_architectures() == ARCHS
    assert list_architectures("midi*") == ["midinet", "midinet2"]
    with pytest.raises(ConfigError, match="valid names"):
        FlowNetwork((2, 6, H, W), None, "resnet")
    with pytest.raises(ConfigError, match="unexpected"):
        build_feature_extractor("eminet", 6, depth=2)


@pytest.mark.parametrize(
    "name,count", [("eminet", 660158), ("eminet_non_sep", 1059174), ("midinet", 725482), ("midinet2", 766827)]
)
def test_parameter_counts_match_original(name, count):
    assert count_parameters(build_feature_extractor(name, 6, base=16)) == count


def test_state_dict_keys_follow_original_layout():
    keys = set(FlowNetwork((2, 6, H, W), None, "eminet").state_dict())
    for k in [
        "feature_extractor.encoders.0.module.0.0.weight",
        "feature_extractor.encoders.2.module.0.1.bias",
        "feature_extractor.decoders.0.conv_x2h.module.1.running_var",
        "feature_extractor.decoders.0.timepool.conv_h2h.weight",
        "feature_extractor.decoders.3.block.module.0.1.weight",
        "feature_extractor.decoders.3.regressor.module.bias",
    ]:
        assert k in keys
    assert not any("prev_" in k or "grid" in k for k in keys)
    names = FlowNetwork((2, 6, H, W), None, "midinet2", depth=2).state_buffer_names("network.")
    assert "network.feature_extractor.decoders.0.convs.1.timepool.prev_c" in names
    assert "network.warping_head.2.grid" in names and not any("running" in n for n in names)


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("tb", [(1, 1), (3, 2)])
def test_output_shapes(name, tb):
    net = make(name)
    flows = net(torch.rand(tb[0], tb[1], 6, H, W))
    assert [tuple(f.shape) for f in flows] == [(*tb, 2, H // 4, W // 4), (*tb, 2, H // 2, W // 2), (*tb, 2, H, W)]
    levels = net.interpolate_all_inputs_using_pyramid(torch.rand(tb[0], tb[1], 6, H, W))
    assert [f.shape[-2:] for f in flows] == [level.shape[-2:] for level in levels]


@pytest.mark.parametrize("shape", [(1, 1, 6, H - 2, W), (1, 1, 6, H, W - 1), (1, 1, 5, H, W), (1, 6, H, W)])
def test_bad_input_shapes_rejected(shape):
    with pytest.raises(ShapeError, match="multiples of 4"):
        make("eminet")(torch.rand(*shape))


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_reset_mask_and_reset_all(name, cell):
    net = make(name, cell)
    x = torch.rand(1, 2, 6, H, W)
    with torch.no_grad():
        fresh = net(x)[-1]
        carried = net(x)[-1]
        assert not torch.allclose(fresh, carried)
        net.reset_all()
        torch.testing.assert_close(net(x)[-1], fresh)
        net.reset(torch.tensor([1.0, 0.0]).view(2, 1, 1, 1))  # keep sample 0, forget sample 1
        out = net(x)[-1]
    torch.testing.assert_close(out[:, 1], fresh[:, 1])
    torch.testing.assert_close(out[:, 0], carried[:, 0])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
@pytest.mark.parametrize("name", ARCHS)
def test_torchscript_matches_eager_also_after_reset_all(name):
    net = make(name, "gru" if name == "midinet" else "lstm")
    scripted = torch.jit.script(make(name, "gru" if name == "midinet" else "lstm"))
    x = torch.rand(3, 2, 6, H, W)
    with torch.no_grad(), torch.jit.optimized_execution(False):
        for _ in range(2):
            for a, b in zip(net(x), scripted(x)):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        first = scripted(x)[-1]
        net.reset_all()
        scripted.reset_all()
        again = scripted(x)[-1]
        torch.testing.assert_close(net(x)[-1], again, rtol=1e-4, atol=1e-5)
    net.reset_all()
    with torch.no_grad():
        torch.testing.assert_close(net(x)[-1], make(name, "gru" if name == "midinet" else "lstm")(x)[-1])
    assert not torch.allclose(first, again)


def test_sharpen_and_heads_follow_dtype():
    net = make("eminet").double()
    x = torch.rand(2, 1, 6, H, W, dtype=torch.float64)
    flow, sharp = net.sharpen(x, micro_tbin=0, depth_level=-1)
    assert flow.shape == (2, 2, H, W) and sharp.shape == (2, 1, 3, 2, H, W) and sharp.dtype == torch.float64
    flow, sharp = net.sharpen(x, depth_level=0)
    assert flow.shape == (2, 2, H // 4, W // 4) and sharp.shape == (2, 1, 3, 2, H // 4, W // 4)
    assert len(net.get_warping_head()) == net.get_nb_scales() == 3
    assert net.warping_head[0].grid.dtype == torch.float64


def test_training_step_backward_reaches_all_parameters():
    net = make("eminet").train()
    flows = net(torch.rand(2, 2, 6, H, W))
    sum(f.abs().mean() for f in flows).backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("name", ["eminet", "midinet"])
def test_fresh_network_sees_its_input(name):
    """Sparse event-like inputs (mean ~0.01) must reach the flow of an untrained network (no input-blind start)."""
    torch.manual_seed(0)
    net = FlowNetwork([2, 6, 32, 48], feature_extractor_name=name, base=8).eval()
    x = torch.where(torch.rand(2, 2, 6, 32, 48) < 0.1, torch.rand(2, 2, 6, 32, 48) * 0.2, torch.zeros(()))
    with torch.no_grad():
        net.reset_all()
        blank = net(torch.zeros_like(x))[-1]
        net.reset_all()
        flow = net(x)[-1]
    assert blank.abs().max() == 0  # zero biases: no input, no flow
    assert flow.abs().mean() > 1e-4  # the input's events, alone, give the flow
    assert (flow[:, 0] - flow[:, 1]).abs().mean() > 0.1 * flow.abs().mean()  # different inputs, different flows


def _sparse(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) > 0.85) * torch.rand(shape, generator=g)


def test_nonzero_mean_normalisation():
    x = _sparse((3, 2, 6, H, W)) * torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]).view(6, 1, 1)
    x[0] *= 0.05  # a weak window: the same events, ten times fainter
    x[1, 0] = 0  # an empty window
    y = normalize_nonzero_mean(x)
    assert torch.equal(y != 0, x != 0) and torch.equal(torch.sign(y), torch.sign(x))
    assert torch.equal(y[1, 0], x[1, 0])
    mean = y.abs().sum((2, 3, 4)) / (y != 0).sum((2, 3, 4)).clamp_min(1)
    full = torch.ones(3, 2, dtype=torch.bool)
    full[1, 0] = False
    torch.testing.assert_close(mean[full], torch.full((5,), NONZERO_MEAN_TARGET))
    torch.testing.assert_close(normalize_nonzero_mean(y), y)  # idempotent
    torch.testing.assert_close(normalize_nonzero_mean(F.pad(x, (0, 8, 0, 8)))[..., :H, :W], y)  # padding-blind
    torch.testing.assert_close(normalize_nonzero_mean(x[0] * 20.0), y[0])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_normalised_network_is_blind_to_event_strength():
    net = make("eminet", input_normalization="nonzero_mean")
    plain = make("eminet")
    x = _sparse((3, 2, 6, H, W), seed=1)
    with torch.no_grad():
        strong = net(x)[-1]
        net.reset_all()
        torch.testing.assert_close(net(0.1 * x)[-1], strong)
        # the same weights without normalisation see the difference
        assert not torch.allclose(plain(x)[-1], (plain.reset_all(), plain(0.1 * x)[-1])[1], atol=1e-4)
    scripted = torch.jit.script(make("eminet", input_normalization="nonzero_mean"))
    with torch.no_grad(), torch.jit.optimized_execution(False):
        torch.testing.assert_close(scripted(0.1 * x)[-1], strong, rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="input_normalization"):
        make("eminet", input_normalization="max")
