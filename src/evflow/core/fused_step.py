"""Fast streaming inference: one window at a time through a 4-D, channels_last copy of a recurrent U-Net.

Training works on time-major 5-D sequences ``(T, B, C, H, W)``; at inference a stream is fed one window at a
time, and the 5-D views around every layer cost more than the layers themselves on a CPU: PyTorch keeps 5-D
tensors in NCHW order, so a channels_last network converts its activations back and forth at every layer, and
NCHW depthwise convolutions are about ten times slower than channels_last ones on x86 (oneDNN). A
:class:`FusedStep` is a pure step function ``(x, *states) -> (flow, *states)`` on 4-D tensors that keeps
channels_last from the input to the flow, folds every BatchNorm (eval statistics) into the convolution before
it, and returns only the full-resolution flow. It gives the eager network's flow to float rounding (about
1e-7; see ``tests/core/test_fused_step.py``) and is what ``evflow infer`` runs by default (``--backend fast``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..errors import ConfigError
from .malloc import retain_freed_memory
from .rnn import ConvGRUCell, ConvLSTMCell, ConvRNN
from .sequence import SequenceWise
from .unet import RegressorHead, UnetRegressor


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """``Sequential(conv, BatchNorm2d, act)`` (a ConvLayer, separable or not) with the norm folded into the conv.

    Other modules are returned unchanged (copied). The module must be in eval mode (running statistics).
    """
    module = copy.deepcopy(module)
    if not (isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[1], nn.BatchNorm2d)):
        return module
    conv, norm, act = module[0], module[1], module[2]
    if isinstance(conv, nn.Conv2d):
        conv = fuse_conv_bn_eval(conv, norm)
    elif isinstance(conv, nn.Sequential) and isinstance(conv[-1], nn.Conv2d):
        conv = nn.Sequential(*list(conv)[:-1], fuse_conv_bn_eval(conv[-1], norm))
    else:
        return module
    return nn.Sequential(conv, act)


def _inner(module: nn.Module) -> nn.Module:
    """The 4-D module inside a :class:`SequenceWise` wrapper."""
    if not isinstance(module, SequenceWise):
        raise ConfigError(f"FusedStep expects SequenceWise layers, got {type(module).__name__}")
    return module.module


class FusedStep(nn.Module):
    """Pure, 4-D, channels_last inference step of a :class:`~evflow.core.unet.UnetRegressor` feature extractor.

    Args:
        feature_extractor: a ``UnetRegressor`` (every registered architecture) with a
            :class:`~evflow.core.rnn.ConvRNN` middle (LSTM or GRU); it is copied (the original is untouched).
        channels_last: keep activations channels_last (fastest on CPU and on CUDA).

    Shape:
        ``forward(x, *states)``: ``x`` ``(B, C, H, W)`` (H, W multiples of ``2**(scales-1)``), states as
        :meth:`initial_states` -> ``(flow, *new_states)`` with flow ``(B, 2, H, W)`` in pixels per bin.
    """

    def __init__(self, feature_extractor: UnetRegressor, channels_last: bool = True):
        super().__init__()
        if not isinstance(feature_extractor, UnetRegressor) or not isinstance(feature_extractor.decoders[0], ConvRNN):
            raise ConfigError("FusedStep needs a UnetRegressor with a ConvRNN middle (a registered architecture)")
        fe = copy.deepcopy(feature_extractor).eval()
        self.encoders = nn.ModuleList([fold_batchnorm(_inner(e)) for e in fe.encoders])
        middle = fe.decoders[0]
        self.x2h = fold_batchnorm(_inner(middle.conv_x2h))
        self.cell = middle.timepool
        self.lstm = isinstance(self.cell, ConvLSTMCell)
        if not self.lstm and not isinstance(self.cell, ConvGRUCell):
            raise ConfigError(f"unsupported recurrent cell {type(self.cell).__name__}")
        heads = list(fe.decoders[1:])
        if not all(isinstance(h, RegressorHead) for h in heads):
            raise ConfigError("FusedStep needs RegressorHead decoders")
        self.blocks = nn.ModuleList([fold_batchnorm(_inner(h.block)) for h in heads])
        self.regressors = nn.ModuleList([_inner(h.regressor) for h in heads])
        self.hidden = int(self.cell.hidden_dim)
        self.scales = len(heads)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.eval()
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True):
        """Always eval: the folded norms only hold for the running statistics."""
        return super().train(False)

    def _format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=self.memory_format)

    def initial_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Zero states for inputs shaped like ``x`` ``(B, C, H, W)`` (a fresh or reset network)."""
        h, w = x.shape[-2], x.shape[-1]
        for _ in range(len(self.encoders)):
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
        zeros = self._format(x.new_zeros(x.shape[0], self.hidden, h, w))
        return [zeros, zeros.clone()] if self.lstm else [zeros]

    def forward(self, x: torch.Tensor, *states: torch.Tensor):
        """One window from the given states; returns the full-resolution flow then the new states."""
        skips = [self._format(x)]
        for encoder in self.encoders:
            skips.append(encoder(skips[-1]))
        proj = self.x2h(skips[-1])
        if self.lstm:
            h, c = states
            i, f, o, g = torch.chunk(self.cell.conv_h2h(h) + proj, 4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            new_states = (h, c)
        else:
            (h,) = states
            u, r = torch.chunk(torch.sigmoid(self.cell.conv_rz(torch.cat([h, proj], 1))), 2, dim=1)
            n = torch.tanh(self.cell.conv_f(torch.cat([h * r, proj], 1)))
            h = (1 - u) * h + u * n
            new_states = (h,)
        y, flow = h, h
        n_skips = len(skips)
        for k, (block, regressor) in enumerate(zip(self.blocks, self.regressors)):
            target = skips[n_skips - 2 - k]
            # cat may hand back an ambiguous layout (a 2-channel flow is both NCHW and NHWC): pin it, or
            # interpolate falls to a slow generic path (8 ms instead of 0.5 ms at 240x320)
            merged = self._format(torch.cat([y, skips[n_skips - 1 - k]], 1))
            feature = block(F.interpolate(merged, size=[target.shape[-2], target.shape[-1]], mode="nearest"))
            flow = regressor(feature)
            y = torch.cat([feature, flow], 1)
        return (flow, *new_states)


class FusedStreamer:
    """Stateful wrapper of a :class:`FusedStep`: ``step(x)`` carries the state, ``reset()`` forgets it.

    Args:
        network: a :class:`~evflow.flow.flow_network.FlowNetwork` (or a ``UnetRegressor``).
        channels_last: see :class:`FusedStep`.
        tune_malloc: on the CPU, call :func:`retain_freed_memory` (about 1.6x faster steps at 240x320).
    """

    def __init__(self, network: nn.Module, channels_last: bool = True, tune_malloc: bool = True):
        fe = getattr(network, "feature_extractor", network)
        device = next(fe.parameters()).device
        if tune_malloc and device.type == "cpu":
            retain_freed_memory()
        self.fused = FusedStep(fe, channels_last).to(device)
        self.normalize = getattr(network, "normalize_input", None)  # FlowNetwork's input_normalization
        self.states: list[torch.Tensor] | None = None
        self._key: tuple | None = None

    def reset(self) -> None:
        """Start from zero states at the next step (a new recording)."""
        self.states = None

    @torch.no_grad()
    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Flow ``(B, 2, H, W)`` of one window ``(B, C, H, W)``, advancing the state."""
        if self.normalize is not None:
            x = self.normalize(x)
        key = (tuple(x.shape), x.dtype, x.device)
        if self.states is None or key != self._key:
            self.states, self._key = self.fused.initial_states(x), key
        flow, *self.states = self.fused(x, *self.states)
        return flow
