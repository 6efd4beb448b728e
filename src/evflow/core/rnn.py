"""Convolutional recurrent cells (LSTM, GRU) whose state lives in non-persistent buffers.

The state is carried from one ``forward`` call to the next (streaming), is detached at the start of every
call (truncated back-propagation through time at batch boundaries), is re-allocated to zeros whenever the
batch size, resolution, dtype or device of the input changes, and can be reset per batch element with
``reset(mask)`` (mask ``(B, 1, 1, 1)``, 0 = forget, 1 = keep) or entirely with ``reset_all()``.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ConvLayer
from .sequence import SequenceWise


def _state_matches(state: torch.Tensor, like: torch.Tensor, channels: int) -> bool:
    """Whether ``state`` can continue for a step input ``like`` (same N, H, W, dtype, device)."""
    shape = [like.shape[0], channels, like.shape[2], like.shape[3]]
    return list(state.shape) == shape and state.dtype == like.dtype and state.device == like.device


def _masked(state: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Multiply the state by a per-sample mask; a mask of another batch size clears the state."""
    if state.numel() == 0:
        return state
    mask = mask.to(device=state.device, dtype=state.dtype).reshape(-1, 1, 1, 1)
    if mask.shape[0] != 1 and mask.shape[0] != state.shape[0]:
        return torch.zeros([0], dtype=state.dtype, device=state.device)
    return state * mask


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM cell applied over a sequence of pre-computed input-to-hidden projections.

    Per step: ``z = conv_h2h(h) + x_t``; ``i, f, o, g = split(z)``; ``c = sigmoid(f) c + sigmoid(i) tanh(g)``;
    ``h = sigmoid(o) tanh(c)``.

    Args:
        hidden_dim: hidden channels ``C``.
        kernel_size: kernel of the hidden-to-hidden convolution.

    Shape:
        input ``(T, B, 4C, H, W)`` -> output ``(T, B, C, H, W)`` (all hidden states).
    """

    def __init__(self, hidden_dim: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.conv_h2h = nn.Conv2d(hidden_dim, 4 * hidden_dim, kernel_size, padding=kernel_size // 2, bias=True)
        self.register_buffer("prev_h", torch.zeros(0), persistent=False)
        self.register_buffer("prev_c", torch.zeros(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the cell over the ``T`` steps of ``x``, starting from (and updating) the stored state."""
        if not _state_matches(self.prev_h, x[0], self.hidden_dim):
            zeros = torch.zeros([x.shape[1], self.hidden_dim, x.shape[3], x.shape[4]], dtype=x.dtype, device=x.device)
            self.prev_h, self.prev_c = zeros, zeros
        h, c = self.prev_h.detach(), self.prev_c.detach()
        outputs: list[torch.Tensor] = []
        for t in range(x.shape[0]):
            i, f, o, g = torch.chunk(self.conv_h2h(h) + x[t], 4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        self.prev_h, self.prev_c = h, c
        return torch.stack(outputs, 0)

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Keep the state of samples whose mask is 1, forget (zero) those whose mask is 0."""
        self.prev_h = _masked(self.prev_h, mask)
        self.prev_c = _masked(self.prev_c, mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget the whole state (the next call starts from zeros)."""
        self.prev_h = torch.zeros([0], dtype=self.prev_h.dtype, device=self.prev_h.device)
        self.prev_c = torch.zeros([0], dtype=self.prev_c.dtype, device=self.prev_c.device)

    @torch.jit.export
    def detach_state(self) -> None:
        """Cut the autograd history of the stored state (done automatically at every ``forward``)."""
        self.prev_h = self.prev_h.detach()
        self.prev_c = self.prev_c.detach()


class ConvGRUCell(nn.Module):
    """Convolutional GRU cell.

    Per step: ``u, r = sigmoid(split(conv_rz([h, x])))``; ``n = tanh(conv_f([r h, x]))``; ``h = (1 - u) h + u n``.

    Args:
        in_channels: input channels of each step.
        hidden_dim: hidden channels ``C``.
        kernel_size: kernel of both convolutions.

    Shape:
        input ``(T, B, in, H, W)`` -> output ``(T, B, C, H, W)``.
    """

    def __init__(self, in_channels: int, hidden_dim: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_dim = hidden_dim
        pad = kernel_size // 2
        self.conv_rz = nn.Conv2d(in_channels + hidden_dim, 2 * hidden_dim, kernel_size, padding=pad)
        self.conv_f = nn.Conv2d(in_channels + hidden_dim, hidden_dim, kernel_size, padding=pad)
        self.register_buffer("prev_h", torch.zeros(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the cell over the ``T`` steps of ``x``, starting from (and updating) the stored state."""
        if not _state_matches(self.prev_h, x[0], self.hidden_dim):
            self.prev_h = torch.zeros(
                [x.shape[1], self.hidden_dim, x.shape[3], x.shape[4]], dtype=x.dtype, device=x.device
            )
        h = self.prev_h.detach()
        outputs: list[torch.Tensor] = []
        for t in range(x.shape[0]):
            u, r = torch.chunk(torch.sigmoid(self.conv_rz(torch.cat([h, x[t]], 1))), 2, dim=1)
            n = torch.tanh(self.conv_f(torch.cat([h * r, x[t]], 1)))
            h = (1 - u) * h + u * n
            outputs.append(h)
        self.prev_h = h
        return torch.stack(outputs, 0)

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Keep the state of samples whose mask is 1, forget (zero) those whose mask is 0."""
        self.prev_h = _masked(self.prev_h, mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget the whole state (the next call starts from zeros)."""
        self.prev_h = torch.zeros([0], dtype=self.prev_h.dtype, device=self.prev_h.device)

    @torch.jit.export
    def detach_state(self) -> None:
        """Cut the autograd history of the stored state (done automatically at every ``forward``)."""
        self.prev_h = self.prev_h.detach()


class ConvRNN(nn.Module):
    """Input projection (``SequenceWise(ConvLayer)``, no activation) followed by a ConvLSTM or ConvGRU cell.

    Args:
        in_channels: input channels.
        out_channels: hidden/output channels.
        kernel_size: kernel of the input projection.
        stride: stride of the input projection.
        padding: padding of the input projection.
        dilation: dilation of the input projection.
        cell: ``"lstm"`` or ``"gru"``.
        separable: depthwise-separable input projection.
        separable_hidden: accepted for API compatibility (the hidden convolution is always dense).
        **kwargs: passed to :class:`ConvLayer` (``norm``, ``depth_multiplier``...).

    Shape:
        ``(T, B, in, H, W)`` -> ``(T, B, out, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        cell: str = "lstm",
        separable: bool = False,
        separable_hidden: bool = False,
        **kwargs,
    ):
        super().__init__()
        if cell not in ("lstm", "gru"):
            from ..errors import ConfigError

            raise ConfigError(f"unknown rnn cell {cell!r}; valid: 'lstm', 'gru'")
        proj = 4 * out_channels if cell == "lstm" else in_channels
        kwargs.setdefault("activation", "Identity")
        layer = ConvLayer(in_channels, proj, kernel_size, stride, padding, dilation, separable=separable, **kwargs)
        self.conv_x2h = SequenceWise(layer)
        self.timepool: nn.Module = ConvLSTMCell(out_channels, 3) if cell == "lstm" else ConvGRUCell(proj, out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project the input then run the recurrent cell."""
        return self.timepool(self.conv_x2h(x))

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Per-sample reset of the cell state (mask 0 = forget)."""
        self.timepool.reset(mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget the whole cell state."""
        self.timepool.reset_all()

    @torch.jit.export
    def detach_state(self) -> None:
        """Detach the cell state from the autograd graph."""
        self.timepool.detach_state()
