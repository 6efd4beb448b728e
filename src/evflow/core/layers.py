"""Convolution building blocks: ``ConvLayer`` (conv + norm + activation), depthwise-separable convolution.

The module nesting reproduces the state-dict keys of the original (``<layer>.0`` is the convolution, itself
``<layer>.0.0`` depthwise and ``<layer>.0.1`` pointwise when separable, ``<layer>.1`` the norm).
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError

_ACTIVATIONS = {
    "ReLU": nn.ReLU,
    "LeakyReLU": nn.LeakyReLU,
    "Identity": nn.Identity,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ELU": nn.ELU,
}
_NORMS = {"BatchNorm2d": nn.BatchNorm2d, "InstanceNorm2d": nn.InstanceNorm2d}


def make_activation(name: str) -> nn.Module:
    """Build an activation module from its torch class name (``"ReLU"``, ``"LeakyReLU"``, ``"Identity"``...).

    Raises:
        ConfigError: the name is not one of the supported activations.
    """
    if name not in _ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; valid names: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def make_norm(name: str | None, channels: int) -> nn.Module:
    """Build a normalisation layer (``"BatchNorm2d"``, ``"InstanceNorm2d"``) or ``Identity`` for ``None``/``"none"``.

    Raises:
        ConfigError: unknown norm name.
    """
    if name is None or str(name).lower() == "none":
        return nn.Identity()
    if name not in _NORMS:
        raise ConfigError(f"unknown norm {name!r}; valid names: {sorted(_NORMS)} or 'none'")
    return _NORMS[name](channels)


class DepthWiseSeparableConv2d(nn.Sequential):
    """Depthwise convolution (``groups=in_channels``, ``in * depth_multiplier`` outputs) then a 1x1 pointwise one.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: depthwise kernel size.
        stride: depthwise stride.
        padding: depthwise padding.
        dilation: depthwise dilation.
        bias: bias on both convolutions.
        depth_multiplier: depthwise outputs per input channel.

    Shape:
        ``(N, in, H, W)`` -> ``(N, out, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        bias: bool = True,
        depth_multiplier: int = 1,
    ):
        mid = in_channels * depth_multiplier
        super().__init__(
            nn.Conv2d(in_channels, mid, kernel_size, stride, padding, dilation, groups=in_channels, bias=bias),
            nn.Conv2d(mid, out_channels, 1, bias=bias),
        )
        self.out_channels = out_channels


class ConvLayer(nn.Sequential):
    """Convolution, optional normalisation and activation: ``Sequential(conv, norm, activation)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel size.
        stride: stride.
        padding: padding.
        dilation: dilation.
        bias: convolution bias.
        norm: ``"BatchNorm2d"`` (default), ``"InstanceNorm2d"`` or ``"none"``.
        activation: torch activation class name, e.g. ``"ReLU"``, ``"LeakyReLU"``, ``"Identity"``.
        separable: use :class:`DepthWiseSeparableConv2d`.
        depth_multiplier: depthwise multiplier (ignored when not separable).

    Shape:
        ``(N, in, H, W)`` -> ``(N, out, H', W')``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        bias: bool = True,
        norm: str | None = "BatchNorm2d",
        activation: str = "ReLU",
        separable: bool = False,
        depth_multiplier: int = 1,
    ):
        if separable:
            conv = DepthWiseSeparableConv2d(
                in_channels, out_channels, kernel_size, stride, padding, dilation, bias, depth_multiplier
            )
        else:
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=bias)
        super().__init__(conv, make_norm(norm, out_channels), make_activation(activation))
        self.out_channels = out_channels
