"""FusedStep (4-D channels_last streaming step with folded norms) against the eager network."""

import sys

import pytest
import torch
from torch import nn

from evflow.core.fused_step import FusedStep, FusedStreamer, fold_batchnorm
from evflow.core.layers import ConvLayer
from evflow.errors import ConfigError
from evflow.flow.flow_network import FlowNetwork


def _network(arch: str, cell: str = "lstm", seed: int = 0, **kwargs) -> FlowNetwork:
    torch.manual_seed(seed)
    net = FlowNetwork((1, 6, 32, 48), None, arch, base=8, rnn_cell=cell, **kwargs).eval()
    with torch.no_grad():  # non-trivial norm statistics, or folding them would be untested
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net


def _frames(n: int, h: int = 32, w: int = 48) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(1, 6, h, w, generator=g) > 0.8).float() * torch.rand(1, 6, h, w, generator=g) for _ in range(n)]


def test_fold_batchnorm_matches_the_layer():
    layer = ConvLayer(5, 7, 3, 1, 1, activation="LeakyReLU", separable=True).eval()
    with torch.no_grad():
        layer[1].running_mean.uniform_(-1, 1)
        layer[1].running_var.uniform_(0.5, 2)
    folded = fold_batchnorm(layer)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(2, 5, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), layer(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("arch", "cell", "norm"), [("eminet", "lstm", "none"), ("eminet", "gru", "none"),
                                                    ("eminet_non_sep", "lstm", "none"), ("midinet", "lstm", "none"),
                                                    ("eminet", "lstm", "nonzero_mean")])  # fmt: skip
def test_streams_like_the_eager_network(arch, cell, norm):
    net = _network(arch, cell, input_normalization=norm)
    streamer = FusedStreamer(net)
    frames = _frames(6)
    with torch.no_grad():
        for _ in range(2):  # the second pass checks that reset gives a fresh state again
            net.reset_all()
            streamer.reset()
            flows = []
            for x in frames:
                want = net(x[None])[-1][0]
                got = streamer.step(x)
                assert got.shape == want.shape == (1, 2, 32, 48)
                torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
                flows.append(got)
    assert (flows[-1] - flows[0]).abs().max() > 1e-4  # the state and the inputs matter


def test_state_follows_the_input_size_and_batch():
    net = _network("eminet")
    streamer = FusedStreamer(net)
    with torch.no_grad():
        a = streamer.step(_frames(1)[0])
        b = streamer.step(_frames(1, 16, 24)[0])  # new size: starts from a zero state
        net.reset_all()
        torch.testing.assert_close(b, net(_frames(1, 16, 24)[0][None])[-1][0], atol=1e-5, rtol=1e-4)
    assert a.shape[-2:] == (32, 48)


def test_original_network_is_untouched_and_unsupported_architectures_refused():
    net = _network("eminet")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    FusedStep(net.feature_extractor)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.feature_extractor.decoders[1].block.module[1].__class__ is nn.BatchNorm2d
    with pytest.raises(ConfigError, match="ConvRNN middle"):
        FusedStep(FlowNetwork((1, 6, 32, 48), None, "midinet2", base=8).feature_extractor)


def test_retain_freed_memory_is_idempotent():
    from evflow.core import malloc as fused_step

    first = fused_step.retain_freed_memory()
    assert fused_step.retain_freed_memory() == first
    if sys.platform.startswith("linux"):
        assert first  # glibc: applied


def test_retain_freed_memory_rejects_values_beyond_a_c_int():
    from evflow.core import malloc as fused_step

    with pytest.raises(ValueError, match="C ints"):
        fused_step.retain_freed_memory(trim_threshold=1 << 32)  # would wrap to 0 in C: trim everything
