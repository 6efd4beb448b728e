"""A stateless twin of :class:`~evflow.flow.flow_network.FlowNetwork` whose recurrent state is explicit I/O.

ONNX has no persistent buffers, so the exported graph takes the state as inputs and returns the new state:
``flow, *new_state = model(x, *state)``. A fresh (or reset) network corresponds to all-zero states of the
shapes :meth:`ExplicitStateFlow.state_shapes` gives; streaming means feeding each call's new state to the
next call. The twin shares the weights of the network and replaces each ConvLSTM/ConvGRU cell by a copy of
its update that reads/writes plain tensors; every other module is the original one.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from evflow.core.rnn import ConvGRUCell, ConvLSTMCell


class _ExplicitLSTM(nn.Module):
    """ConvLSTM update of :class:`~evflow.core.rnn.ConvLSTMCell` with the state in :attr:`state` ``[h, c]``."""

    n_states = 2

    def __init__(self, cell: ConvLSTMCell):
        super().__init__()
        self.conv_h2h = cell.conv_h2h
        self.state: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, c = self.state
        outputs = []
        for t in range(x.shape[0]):
            i, f, o, g = torch.chunk(self.conv_h2h(h) + x[t], 4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        self.state = [h, c]
        return torch.stack(outputs, 0)


class _ExplicitGRU(nn.Module):
    """ConvGRU update of :class:`~evflow.core.rnn.ConvGRUCell` with the state in :attr:`state` ``[h]``."""

    n_states = 1

    def __init__(self, cell: ConvGRUCell):
        super().__init__()
        self.conv_rz, self.conv_f = cell.conv_rz, cell.conv_f
        self.state: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (h,) = self.state
        outputs = []
        for t in range(x.shape[0]):
            u, r = torch.chunk(torch.sigmoid(self.conv_rz(torch.cat([h, x[t]], 1))), 2, dim=1)
            n = torch.tanh(self.conv_f(torch.cat([h * r, x[t]], 1)))
            h = (1 - u) * h + u * n
            outputs.append(h)
        self.state = [h]
        return torch.stack(outputs, 0)


class ExplicitStateFlow(nn.Module):
    """``(x, *state) -> (flow, *new_state)``: one step of a FlowNetwork with its recurrent state as tensors.

    Args:
        network: a :class:`~evflow.flow.flow_network.FlowNetwork` (deep-copied; the original is untouched).

    Shape:
        x ``(B, C, H, W)``; each state ``(B, C_s, h_s, w_s)`` (see :meth:`state_shapes`);
        flow ``(B, 2, H, W)`` in pixels per window (the finest scale).
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = copy.deepcopy(network).eval()
        self.cells: list[nn.Module] = []
        for parent in list(self.network.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, ConvLSTMCell | ConvGRUCell):
                    twin = _ExplicitLSTM(child) if isinstance(child, ConvLSTMCell) else _ExplicitGRU(child)
                    setattr(parent, name, twin)
                    self.cells.append(twin)

    def state_names(self) -> list[str]:
        """Names of the state tensors, in I/O order (``h0, c0, h1, ...``)."""
        names = []
        for k, cell in enumerate(self.cells):
            names += [f"h{k}", f"c{k}"][: cell.n_states]
        return names

    @torch.no_grad()
    def state_shapes(self, batch: int, channels: int, height: int, width: int) -> list[tuple[int, ...]]:
        """Shapes of the state tensors for inputs ``(batch, channels, height, width)`` (found by a probe run)."""
        hooks = [cell.register_forward_pre_hook(_zero_state) for cell in self.cells]
        try:
            self.network(torch.zeros(1, batch, channels, height, width))
        finally:
            for hook in hooks:
                hook.remove()
        return [tuple(s.shape) for cell in self.cells for s in cell.state]

    def initial_state(self, batch: int, channels: int, height: int, width: int) -> list[torch.Tensor]:
        """All-zero states: the state of a fresh or reset network."""
        return [torch.zeros(s) for s in self.state_shapes(batch, channels, height, width)]

    def forward(self, x: torch.Tensor, *state: torch.Tensor):
        """One step: flow of ``x`` given ``state``, and the new state."""
        k = 0
        for cell in self.cells:
            cell.state = list(state[k : k + cell.n_states])
            k += cell.n_states
        flow = self.network(x[None])[-1][0]
        out = [flow]
        for cell in self.cells:
            out += cell.state
        return tuple(out)


def _zero_state(cell: nn.Module, args) -> None:
    x = args[0]
    if isinstance(cell, _ExplicitLSTM):
        hidden = cell.conv_h2h.in_channels
    else:
        hidden = cell.conv_f.out_channels
    zeros = x.new_zeros([x.shape[1], hidden, x.shape[3], x.shape[4]])
    cell.state = [zeros] * cell.n_states
