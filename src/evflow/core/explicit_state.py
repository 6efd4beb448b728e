"""Expose the recurrent state of a network as explicit inputs and outputs (for ONNX export, torch.compile).

Networks built from :mod:`evflow.core.rnn` cells keep their state in buffers. Runtimes that cannot hold
state between calls (ONNX Runtime) or that recompile when buffers are re-assigned (``torch.compile``) need
a pure step function ``(x, *states) -> (*flows, *new_states)`` instead; :class:`ExplicitState` wraps any such
network into one. Resetting a sample then means passing zeros for its state.
"""

from __future__ import annotations

import torch
from torch import nn

from .rnn import ConvGRUCell, ConvLSTMCell


def recurrent_cells(module: nn.Module) -> list[nn.Module]:
    """The ConvLSTM / ConvGRU cells of ``module``, in ``modules()`` order."""
    return [m for m in module.modules() if isinstance(m, (ConvLSTMCell, ConvGRUCell))]


class ExplicitState(nn.Module):
    """Pure step function around a stateful network.

    Args:
        net: module whose ``forward(x)`` returns a tensor or a list of tensors and whose state lives in
            :class:`~evflow.core.rnn.ConvLSTMCell` (``prev_h``, ``prev_c``) / :class:`~evflow.core.rnn.ConvGRUCell`
            (``prev_h``) buffers.

    Shape:
        ``forward(x, *states)`` -> ``(*outputs, *new_states)``; states in the order of :meth:`state_names`.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self._slots = [(cell, name) for cell in recurrent_cells(net) for name in self._cell_state(cell)]
        self.train(net.training)  # a fresh wrapper would be in training mode and exporters restore that mode

    @staticmethod
    def _cell_state(cell: nn.Module) -> tuple[str, ...]:
        return ("prev_h", "prev_c") if isinstance(cell, ConvLSTMCell) else ("prev_h",)

    def state_names(self) -> list[str]:
        """Qualified buffer names of the state tensors, in input/output order."""
        names = {id(m): n for n, m in self.net.named_modules()}
        return [f"{names[id(cell)]}.{name}" for cell, name in self._slots]

    @torch.no_grad()
    def initial_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Zero states for inputs shaped like ``x`` (runs the network once in eval mode, then resets it)."""
        training = self.net.training
        self._reset_cells()
        self.net.eval()(x)
        self.net.train(training)
        states = [torch.zeros_like(getattr(cell, name)) for cell, name in self._slots]
        self._reset_cells()
        return states

    def _reset_cells(self) -> None:
        for cell in recurrent_cells(self.net):
            cell.reset_all()

    def forward(self, x: torch.Tensor, *states: torch.Tensor):
        """One step from the given states; returns the outputs followed by the new states."""
        for (cell, name), state in zip(self._slots, states):
            setattr(cell, name, state)
        out = self.net(x)
        outputs = list(out) if isinstance(out, (list, tuple)) else [out]
        return (*outputs, *[getattr(cell, name) for cell, name in self._slots])
