"""One streaming step of a FlowNetwork with its recurrent state as explicit inputs and outputs (for ONNX).

ONNX has no persistent buffers, so the exported graph takes the state as inputs and returns the new state:
``flow, *new_state = model(x, *state)``. A fresh (or reset) network corresponds to all-zero states of the
shapes :meth:`ExplicitStateFlow.state_shapes` gives; streaming means feeding each call's new state to the
next call. The state plumbing is :class:`evflow.core.explicit_state.ExplicitState`; this module only fixes
the I/O to one window and the finest flow, the contract of the exported file.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from evflow.core.explicit_state import ExplicitState, recurrent_cells
from evflow.core.rnn import ConvLSTMCell


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
        self.step = ExplicitState(copy.deepcopy(network).eval())
        self.n_scales = int(network.scales)

    def state_names(self) -> list[str]:
        """Names of the state tensors, in I/O order (``h0, c0, h1, ...``)."""
        names = []
        for k, cell in enumerate(recurrent_cells(self.step.net)):
            names += [f"h{k}", f"c{k}"] if isinstance(cell, ConvLSTMCell) else [f"h{k}"]
        return names

    def state_shapes(self, batch: int, channels: int, height: int, width: int) -> list[tuple[int, ...]]:
        """Shapes of the state tensors for inputs ``(batch, channels, height, width)`` (found by a probe run)."""
        return [tuple(s.shape) for s in self.initial_state(batch, channels, height, width)]

    def initial_state(self, batch: int, channels: int, height: int, width: int) -> list[torch.Tensor]:
        """All-zero states: the state of a fresh or reset network."""
        return self.step.initial_states(torch.zeros(1, batch, channels, height, width))

    def forward(self, x: torch.Tensor, *state: torch.Tensor):
        """One step: flow of ``x`` given ``state``, and the new state."""
        out = self.step(x[None], *state)
        return (out[self.n_scales - 1][0], *out[self.n_scales :])
