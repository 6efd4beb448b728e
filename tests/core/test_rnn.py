"""Recurrent cells: state carried across calls, per-sample reset, reset_all, detach, re-allocation."""

import pytest
import torch

from evflow.core import ConvRNN
from evflow.errors import ConfigError


def make(cell):
    torch.manual_seed(0)
    return ConvRNN(3, 8, cell=cell, norm="none").eval()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_and_reset_all_restores_fresh_output(cell):
    rnn = make(cell)
    x = torch.randn(2, 2, 3, 6, 5)
    first = rnn(x)
    second = rnn(x)
    assert first.shape == (2, 2, 8, 6, 5)
    assert not torch.allclose(first, second)
    rnn.reset_all()
    torch.testing.assert_close(rnn(x), first)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reset_mask_resets_only_masked_samples(cell):
    rnn = make(cell)
    x = torch.randn(1, 2, 3, 6, 5)
    fresh = rnn(x)
    carried = rnn(x)
    rnn.reset_all()
    rnn(x)
    rnn.reset(torch.tensor([0.0, 1.0]).view(2, 1, 1, 1))
    out = rnn(x)
    torch.testing.assert_close(out[:, 0], fresh[:, 0])
    torch.testing.assert_close(out[:, 1], carried[:, 1])
    assert not torch.allclose(out[:, 1], fresh[:, 1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_detached_between_calls_and_reallocated_on_new_size(cell):
    rnn = make(cell).train()
    x = torch.randn(2, 2, 3, 6, 5)
    rnn(x).sum().backward()
    rnn(x).sum().backward()  # would fail ("backward through the graph a second time") without detaching
    rnn.detach_state()
    assert not rnn.timepool.prev_h.requires_grad
    out = rnn(torch.randn(1, 3, 3, 4, 4))  # new batch and resolution: fresh zero state
    assert out.shape == (1, 3, 8, 4, 4)
    rnn.double()
    assert rnn(torch.randn(1, 3, 3, 4, 4, dtype=torch.float64)).dtype == torch.float64


def test_state_is_not_in_state_dict_and_bad_cell_rejected():
    rnn = make("lstm")
    rnn(torch.randn(1, 1, 3, 4, 4))
    assert not any("prev_" in k for k in rnn.state_dict())
    with pytest.raises(ConfigError, match="rnn cell"):
        ConvRNN(3, 8, cell="rnn")
