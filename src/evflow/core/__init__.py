"""Torch building blocks of the flow networks.

* :mod:`~evflow.core.layers` -- ``ConvLayer`` (conv + norm + activation), ``DepthWiseSeparableConv2d``.
* :mod:`~evflow.core.se_block` -- ``PreActBlock`` squeeze-excitation residual block.
* :mod:`~evflow.core.sequence` -- ``time_to_batch``, ``batch_to_time``, ``SequenceWise``.
* :mod:`~evflow.core.rnn` -- ``ConvLSTMCell``, ``ConvGRUCell``, ``ConvRNN`` with buffer state.
* :mod:`~evflow.core.unet` -- ``UnetRegressor``, ``RegressorHead``.
* :mod:`~evflow.core.pyramid` -- ``Pyramid``.
* :mod:`~evflow.core.explicit_state` -- ``ExplicitState``: recurrent state as explicit inputs/outputs (ONNX).
* :mod:`~evflow.core.warp` -- flow normalisation, warps, ``Warping`` heads, ``compute_iwe``.
* :mod:`~evflow.core.charbonnier`, :mod:`~evflow.core.smoothness` -- loss primitives.
"""

from .explicit_state import ExplicitState, recurrent_cells
from .layers import ConvLayer, DepthWiseSeparableConv2d
from .pyramid import Pyramid
from .rnn import ConvGRUCell, ConvLSTMCell, ConvRNN
from .se_block import PreActBlock, SqueezeExcite
from .sequence import SequenceWise, batch_to_time, seq_interpolate, time_to_batch
from .unet import RegressorHead, UnetRegressor
from .warp import (
    Warping,
    compute_iwe,
    make_grid2d,
    normalize_flow,
    warp_backward_using_forward_flow,
    warp_forward_using_backward_flow,
    warp_forward_using_forward_flow,
    warp_to_micro_tbin,
    warp_to_tbin,
)

__all__ = [
    "ConvGRUCell",
    "ConvLSTMCell",
    "ConvLayer",
    "ConvRNN",
    "DepthWiseSeparableConv2d",
    "ExplicitState",
    "PreActBlock",
    "Pyramid",
    "RegressorHead",
    "SequenceWise",
    "SqueezeExcite",
    "UnetRegressor",
    "Warping",
    "batch_to_time",
    "compute_iwe",
    "make_grid2d",
    "normalize_flow",
    "recurrent_cells",
    "seq_interpolate",
    "time_to_batch",
    "warp_backward_using_forward_flow",
    "warp_forward_using_backward_flow",
    "warp_forward_using_forward_flow",
    "warp_to_micro_tbin",
    "warp_to_tbin",
]
