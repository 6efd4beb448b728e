"""ONNX Runtime backend of :class:`~evflow.flow.inference.FlowInference` (CPU).

The network is exported once per input size to a temporary ONNX file with its recurrent state as explicit
inputs and outputs (:class:`~evflow.flow.explicit_state.ExplicitStateFlow`, the same graph ``evflow export``
writes); the runner keeps the state between calls as numpy arrays, so it streams exactly like the eager
network. A reset sets the state back to zeros. Needs the ``onnxruntime`` package (``pip install evflow[export]``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from evflow.errors import ConfigError

BACKENDS = ("fast", "torch", "onnx")


def require_onnxruntime():
    """Import ``onnxruntime`` or raise a :class:`~evflow.errors.ConfigError` saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("--backend onnx needs onnxruntime: pip install 'evflow[export]'") from None
    return onnxruntime


class OnnxFlowRunner:
    """Stateful ONNX Runtime session for one FlowNetwork at one padded input size.

    Args:
        network: the eager :class:`~evflow.flow.flow_network.FlowNetwork` (copied for the export).
        channels, height, width: input size (height and width already padded to the network's multiple).
        threads: ONNX Runtime intra-op threads (``None``: torch's thread count).
    """

    def __init__(self, network, channels: int, height: int, width: int, threads: int | None = None):
        from evflow.export import _export_onnx

        ort = require_onnxruntime()
        self.size = (int(channels), int(height), int(width))
        example = torch.zeros(1, *self.size)
        with tempfile.TemporaryDirectory(prefix="evflow_onnx_") as tmp:
            path = Path(tmp) / "step.onnx"
            self.names, shapes = _export_onnx(network, path, example, opset=17)
            options = ort.SessionOptions()
            options.intra_op_num_threads = int(threads or torch.get_num_threads())
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.zeros = [np.zeros(s, np.float32) for s in shapes]
        self.state = list(self.zeros)

    def reset(self) -> None:
        """Back to the all-zero state of a fresh network."""
        self.state = list(self.zeros)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Flow ``(1, 2, H, W)`` of one padded window ``(1, C, H, W)``, advancing the state."""
        if tuple(x.shape[1:]) != self.size:
            raise ConfigError(f"ONNX runner built for inputs {self.size}, got {tuple(x.shape[1:])}")
        feed = {"input": np.ascontiguousarray(x, np.float32), **dict(zip(self.names, self.state))}
        out = self.session.run(None, feed)
        self.state = out[1:]
        return out[0]
