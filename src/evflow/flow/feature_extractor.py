"""Flow architectures (recurrent U-Net regressors) and their registry.

Every architecture is a factory ``name(n_input_channels, base=16, scales=3, ...) -> UnetRegressor`` with
``down = [base * 2**k]`` encoder channels, ``up = reversed(down)`` decoder channels and a recurrent middle of
``2 * down[-1]`` channels. With ``n_input_channels=6`` and ``base=16`` the trainable parameter counts are
eminet 660,158; eminet_non_sep 1,059,174; midinet 725,482; midinet2 (depth 1) 766,827.

>>> list_architectures()
['eminet', 'eminet_non_sep', 'midinet', 'midinet2']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

import torch
from torch import nn

from ..core.layers import ConvLayer
from ..core.rnn import ConvRNN
from ..core.se_block import PreActBlock
from ..core.sequence import SequenceWise
from ..core.unet import RegressorHead, UnetRegressor
from ..errors import ConfigError

_REGISTRY: dict[str, Callable[..., UnetRegressor]] = {}


def register_architecture(fn: Callable[..., UnetRegressor]) -> Callable[..., UnetRegressor]:
    """Decorator adding a factory to the registry under its function name."""
    if fn.__name__ in _REGISTRY:
        raise ConfigError(f"architecture {fn.__name__!r} is already registered")
    _REGISTRY[fn.__name__] = fn
    return fn


def list_architectures(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_architecture(name: str) -> Callable[..., UnetRegressor]:
    """The factory registered as ``name``.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    if name not in _REGISTRY:
        raise ConfigError(f"unknown feature extractor {name!r}; valid names: {list_architectures()}")
    return _REGISTRY[name]


def build_feature_extractor(name: str, n_input_channels: int, **kwargs) -> UnetRegressor:
    """Instantiate architecture ``name`` for ``n_input_channels`` input channels."""
    return get_architecture(name)(n_input_channels, **kwargs)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _check_kwargs(name: str, kwargs: dict, allowed: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(f"{name}: unexpected argument(s) {unknown}")


def _channels(base: int, scales: int) -> tuple[list[int], list[int], int]:
    if base < 4 or base % 4 or scales < 1:
        raise ConfigError(f"base must be a positive multiple of 4 and scales >= 1, got base={base}, scales={scales}")
    down = [base * 2**k for k in range(scales)]
    return down, down[::-1], 2 * down[-1]


def _heads(down: list[int], up: list[int], middle: int, separable: bool) -> list[nn.Module]:
    """Decoder heads: inputs ``middle + down[-1]`` then ``up[i-1] + 2 + down[-1-i]``; BN + LeakyReLU."""
    heads, prev = [], middle
    for i, out in enumerate(up):
        cin = prev + down[-1 - i]
        block = ConvLayer(cin, out, 3, 1, 1, activation="LeakyReLU", separable=separable)
        heads.append(RegressorHead(block, out))
        prev = out + 2
    return heads


def _strided_encoders(n_in: int, down: list[int], separable: bool) -> list[nn.Module]:
    chans = [n_in] + down
    return [
        SequenceWise(
            ConvLayer(a, b, 3, 2, 1, norm="none", activation="LeakyReLU", separable=separable, depth_multiplier=4)
        )
        for a, b in zip(chans[:-1], chans[1:])
    ]


def _se_encoders(n_in: int, down: list[int]) -> list[nn.Module]:
    chans = [n_in] + down
    return [SequenceWise(PreActBlock(a, b, stride=2)) for a, b in zip(chans[:-1], chans[1:])]


@register_architecture
def eminet(
    n_input_channels: int, base: int = 16, scales: int = 3, separable: bool = True, rnn_cell: str = "lstm", **kwargs
):
    """U-Net regressor with depthwise-separable convolutions and a ConvLSTM/GRU middle (minimal footprint).

    Args:
        n_input_channels: input channels.
        base: channels of the first encoder; doubled at each scale.
        scales: number of encoders (and decoders / flow scales).
        separable: depthwise-separable encoders and decoders (the recurrent projection is always separable).
        rnn_cell: ``"lstm"`` or ``"gru"``.

    Returns:
        :class:`~evflow.core.unet.UnetRegressor`.
    """
    _check_kwargs("eminet", kwargs)
    down, up, mid = _channels(base, scales)
    middle = ConvRNN(down[-1], mid, 3, 1, cell=rnn_cell, separable=True)
    return UnetRegressor(_strided_encoders(n_input_channels, down, separable), middle, _heads(down, up, mid, separable))


@register_architecture
def eminet_non_sep(n_input_channels: int, base: int = 16, scales: int = 3, rnn_cell: str = "lstm", **kwargs):
    """:func:`eminet` with dense (non-separable) convolutions everywhere; a ``separable`` argument is ignored."""
    _check_kwargs("eminet_non_sep", kwargs, ("separable",))
    down, up, mid = _channels(base, scales)
    middle = ConvRNN(down[-1], mid, 3, 1, cell=rnn_cell, separable=False)
    return UnetRegressor(_strided_encoders(n_input_channels, down, False), middle, _heads(down, up, mid, False))


@register_architecture
def midinet(
    n_input_channels: int, base: int = 16, scales: int = 3, separable: bool = True, rnn_cell: str = "lstm", **kwargs
):
    """U-Net regressor with squeeze-excitation residual encoders.

    Args:
        n_input_channels: input channels.
        base: channels of the first encoder; doubled at each scale.
        scales: number of encoders (and decoders / flow scales).
        separable: depthwise-separable recurrent projection and decoders.
        rnn_cell: ``"lstm"`` or ``"gru"``.
    """
    _check_kwargs("midinet", kwargs)
    down, up, mid = _channels(base, scales)
    middle = ConvRNN(down[-1], mid, 3, 1, cell=rnn_cell, separable=separable)
    return UnetRegressor(_se_encoders(n_input_channels, down), middle, _heads(down, up, mid, separable))


class ResidualRecurrentMiddle(nn.Module):
    """midinet2 middle: ``x = conv1(x)``, then ``depth`` times ``x = x + w_i * relu(convrnn_i(x))`` (``w_i = 0`` first).

    Shape:
        ``(T, B, in, H, W)`` -> ``(T, B, out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, depth: int, separable: bool, cell: str):
        super().__init__()
        if depth < 1:
            raise ConfigError(f"midinet2: depth must be >= 1, got {depth}")
        self.conv1 = SequenceWise(ConvLayer(in_channels, out_channels, 3, 1, 1, norm="none", separable=separable))
        rnns = [
            ConvRNN(out_channels, out_channels, 3, 1, cell=cell, separable=separable, norm="none") for _ in range(depth)
        ]
        self.convs = nn.ModuleList(rnns)
        self.resweight = nn.Parameter(torch.zeros(depth))
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual stack of recurrent layers."""
        x = self.conv1(x)
        for i, conv in enumerate(self.convs):
            x = x + self.resweight[i] * torch.relu(conv(x))
        return x

    @torch.jit.export
    def reset(self, mask: torch.Tensor) -> None:
        """Per-sample reset (mask 0 = forget)."""
        for conv in self.convs:
            conv.reset(mask)

    @torch.jit.export
    def reset_all(self) -> None:
        """Forget every state."""
        for conv in self.convs:
            conv.reset_all()

    @torch.jit.export
    def detach_state(self) -> None:
        """Detach every state."""
        for conv in self.convs:
            conv.detach_state()


@register_architecture
def midinet2(
    n_input_channels: int,
    base: int = 16,
    scales: int = 3,
    separable: bool = True,
    rnn_cell: str = "lstm",
    depth: int = 1,
    **kwargs,
):
    """:func:`midinet` with a residual stack of ``depth`` recurrent layers in the middle (residual weights start at 0).

    Args:
        n_input_channels: input channels.
        base: channels of the first encoder; doubled at each scale.
        scales: number of encoders (and decoders / flow scales).
        separable: depthwise-separable middle and decoders.
        rnn_cell: ``"lstm"`` or ``"gru"``.
        depth: number of recurrent layers in the middle (>= 1).
    """
    _check_kwargs("midinet2", kwargs)
    down, up, mid = _channels(base, scales)
    middle = ResidualRecurrentMiddle(down[-1], mid, depth, separable, rnn_cell)
    return UnetRegressor(_se_encoders(n_input_channels, down), middle, _heads(down, up, mid, separable))


AVAILABLES_ARCHS = tuple(list_architectures())
