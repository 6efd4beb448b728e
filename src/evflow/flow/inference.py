"""Streaming flow inference: windows in, flow per window out, recurrent state carried across windows.

The checkpoint alone defines the preprocessing (name, kwargs) and ``delta_t``; the network is fully
convolutional, so any input size works (inputs are zero-padded to a multiple of ``2**(scales-1)`` and the
flow cropped back). ``batch_size`` windows are stacked along time ``(T, 1, C, H, W)`` and run in one call: the
recurrent cell still steps through them in order, so the result equals one window per call, only faster.

>>> engine = FlowInference.from_checkpoint("model.ckpt")                      # doctest: +SKIP
>>> for result in engine.run(engine.open("rec.raw")):                          # doctest: +SKIP
...     print(result.start_ts, result.end_ts, result.flow.shape)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from evflow.errors import ConfigError
from evflow.flow.inference_sources import TensorWindows, Window, open_windows


@dataclass
class FlowResult:
    """Flow of one window.

    Attributes:
        window: the input :class:`~evflow.flow.inference_sources.Window`.
        flow: ``(2, H, W)`` float32 displacement (px) over the window, at the tensor resolution.
    """

    window: Window
    flow: np.ndarray

    @property
    def start_ts(self) -> int:
        """Window start (µs)."""
        return self.window.start_ts

    @property
    def end_ts(self) -> int:
        """Window end (µs)."""
        return self.window.end_ts


def select_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other names are passed to :class:`torch.device`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"--device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available in this torch build / on this machine")
    return device


class FlowInference:
    """Run a trained :class:`~evflow.flow.lightning_model.FlowModel` over a stream of windows.

    Args:
        model: the FlowModel (its ``hparams`` give preprocessing, kwargs, ``delta_t``, channels).
        device: torch device.
        checkpoint_path: recorded in output files (optional).
        backend: ``"fast"`` (default: the network as a 4-D channels_last step with folded norms,
            :class:`~evflow.core.fused_step.FusedStep`, on ``device``; architectures it cannot fuse run eager),
            ``"torch"`` (the eager network on ``device``) or ``"onnx"`` (ONNX Runtime on the CPU, see
            :mod:`evflow.flow.inference_onnx`). All give the same flows to float rounding.
    """

    def __init__(self, model, device="cpu", checkpoint_path=None, backend="fast"):
        from evflow.flow.inference_onnx import BACKENDS, require_onnxruntime

        hp = model.hparams
        self.device = torch.device(device)
        if backend not in BACKENDS:
            raise ConfigError(f"--backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "onnx":
            require_onnxruntime()
            if self.device.type != "cpu":
                raise ConfigError(f"--backend onnx runs on the CPU; use --backend torch for --device {device}")
        self.backend = backend
        self._onnx = None
        self.network = model.network.to(self.device).eval()
        self.network.reset_all()
        self._fused = None
        if backend == "fast":
            from evflow.core.fused_step import FusedStreamer

            try:
                self._fused = FusedStreamer(self.network)
            except ConfigError:  # an architecture FusedStep cannot express (midinet2): eager instead
                self.backend = "torch"
        self.preprocess = str(hp.preprocess)
        self.preprocess_kwargs = dict(hp.get("preprocess_kwargs") or {})
        self.delta_t = int(hp.delta_t)
        self.array_dim = [int(v) for v in hp.array_dim]
        self.in_channels = self.array_dim[1]
        self.multiple = 2 ** (self.network.get_nb_scales() - 1)
        self.checkpoint_path = checkpoint_path

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu", backend="fast") -> FlowInference:
        """Load ``checkpoint`` (a path or ``"default"`` for the bundled model)."""
        from evflow.flow.bundled import resolve_checkpoint
        from evflow.flow.model_io import load_flow_model

        path = resolve_checkpoint(checkpoint)
        return cls(load_flow_model(path, map_location="cpu"), device, path, backend)

    def open(self, path, delta_t=None, start_ts=0, max_duration=None, height_width=None):
        """Windows of ``path`` for this model (event file or HDF5 tensor file; see :func:`open_windows`).

        Args:
            delta_t: window length (µs) of event files; default the checkpoint's. Tensor files must have the
                checkpoint's.
        """
        if delta_t is not None and int(delta_t) <= 0:
            raise ConfigError(f"--delta-t must be positive, got {delta_t}")
        dt = self.delta_t if delta_t is None else int(delta_t)
        windows = open_windows(path, self.preprocess, self.preprocess_kwargs, dt, self.in_channels, start_ts,
                               max_duration, height_width)  # fmt: skip
        if isinstance(windows, TensorWindows) and windows.delta_t != self.delta_t:
            windows.reader.close()
            raise ConfigError(f"{path}: tensors have delta_t={dt} µs, the model was trained with {self.delta_t} µs")
        return windows

    def reset(self) -> None:
        """Forget the recurrent state (start of a new recording)."""
        self.network.reset_all()
        if self._onnx is not None:
            self._onnx.reset()
        if self._fused is not None:
            self._fused.reset()

    @torch.no_grad()
    def predict(self, tensors: np.ndarray) -> np.ndarray:
        """Flow of consecutive windows, advancing the state.

        Shape:
            tensors ``(T, C, H, W)`` -> flows ``(T, 2, H, W)`` float32 (px per window).
        """
        if tensors.ndim != 4 or tensors.shape[1] != self.in_channels:
            raise ConfigError(f"inputs must be (T, {self.in_channels}, H, W), got {tuple(tensors.shape)}")
        h, w = tensors.shape[2:]
        if self.backend == "onnx":
            return self._predict_onnx(tensors)
        x = torch.from_numpy(np.ascontiguousarray(tensors, np.float32)).to(self.device)
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        if self._fused is not None:
            flow = torch.cat([self._fused.step(x[k : k + 1]) for k in range(len(x))])[:, :, :h, :w]
        else:
            flow = self.network(x[:, None])[-1][:, 0, :, :h, :w]
        return flow.float().cpu().numpy()

    def _predict_onnx(self, tensors: np.ndarray) -> np.ndarray:
        from evflow.flow.inference_onnx import OnnxFlowRunner

        h, w = tensors.shape[2:]
        pad = ((0, 0), (0, 0), (0, -h % self.multiple), (0, -w % self.multiple))
        x = np.pad(np.asarray(tensors, np.float32), pad)
        if self._onnx is None or self._onnx.size != tuple(x.shape[1:]):
            self._onnx = OnnxFlowRunner(self.network, *x.shape[1:])
        return np.concatenate([self._onnx.step(x[k : k + 1]) for k in range(len(x))])[:, :, :h, :w]

    def run(self, windows: Iterable[Window], batch_size: int = 1, progress: bool = False) -> Iterator[FlowResult]:
        """Yield one :class:`FlowResult` per window, in order, ``batch_size`` windows per network call.

        The state is reset at the start, so each call of ``run`` processes one recording from scratch.
        """
        from tqdm import tqdm

        if batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
        self.reset()
        total = getattr(windows, "total", None)
        bar = tqdm(total=total, unit="win", desc="evflow infer", disable=not progress, leave=False)
        pending: list[Window] = []
        try:
            for window in windows:
                pending.append(window)
                if len(pending) == batch_size:
                    yield from self._flush(pending, bar)
            yield from self._flush(pending, bar)
        finally:
            bar.close()

    def _flush(self, pending: list[Window], bar) -> Iterator[FlowResult]:
        if not pending:
            return
        flows = self.predict(np.stack([w.tensor for w in pending]))
        bar.update(len(pending))
        done = list(zip(pending, flows))
        pending.clear()
        for window, flow in done:
            yield FlowResult(window, flow)
