"""ConvLayer, depthwise-separable convolution, squeeze-excitation block, SequenceWise, time/batch folding."""

import pytest
import torch

from evflow.core import ConvLayer, DepthWiseSeparableConv2d, PreActBlock, SequenceWise, batch_to_time, time_to_batch
from evflow.errors import ConfigError


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_time_to_batch_roundtrip_and_index_order():
    x = torch.randn(3, 2, 4, 5, 6)
    flat, b = time_to_batch(x)
    assert flat.shape == (6, 4, 5, 6) and b == 2
    assert torch.equal(flat[1 * 2 + 1], x[1, 1])
    assert torch.equal(batch_to_time(flat, b), x)


def test_separable_conv_structure_and_params():
    conv = DepthWiseSeparableConv2d(6, 16, 3, stride=2, padding=1, depth_multiplier=4)
    assert conv[0].groups == 6 and conv[0].out_channels == 24
    assert n_params(conv) == (24 * 9 + 24) + (24 * 16 + 16)
    assert conv(torch.randn(1, 6, 9, 11)).shape == (1, 16, 5, 6)


def test_convlayer_keys_norm_and_activation():
    layer = ConvLayer(8, 4, separable=True, activation="LeakyReLU")
    keys = set(layer.state_dict())
    assert {"0.0.weight", "0.1.weight", "1.weight", "1.running_mean"} <= keys
    assert isinstance(layer[2], torch.nn.LeakyReLU)
    plain = ConvLayer(8, 4, norm="none", activation="Identity")
    assert isinstance(plain[1], torch.nn.Identity) and n_params(plain) == 8 * 4 * 9 + 4
    with pytest.raises(ConfigError, match="unknown activation"):
        ConvLayer(8, 4, activation="Nope")
    with pytest.raises(ConfigError, match="unknown norm"):
        ConvLayer(8, 4, norm="GroupNorm7")


def test_se_block_shapes_shortcut_and_gate():
    block = PreActBlock(6, 16, stride=2)
    assert block(torch.randn(2, 6, 9, 12)).shape == (2, 16, 5, 6)
    assert n_params(block) == (6 * 16 * 9 + 32) + (16 * 16 * 9 + 32) + (16 * 4 + 4 + 4 * 16 + 16) + 6 * 16
    same = PreActBlock(16, 16, stride=1)
    assert isinstance(same.shortcut, torch.nn.Identity)
    with pytest.raises(ConfigError, match="divisible by 4"):
        PreActBlock(4, 6)


def test_sequencewise_applies_per_step():
    conv = torch.nn.Conv2d(3, 5, 1)
    seq = SequenceWise(conv)
    x = torch.randn(4, 2, 3, 6, 7)
    y = seq(x)
    assert y.shape == (4, 2, 5, 6, 7)
    torch.testing.assert_close(y[2, 1], conv(x[2, 1:2])[0])
    assert seq.out_channels == 5
