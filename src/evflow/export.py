"""Export a flow checkpoint for deployment: TorchScript + ONNX + a JSON sidecar, each checked against eager.

* ``model_flow.ptjit``: ``torch.jit.script`` of the FlowNetwork (as the SDK's export): input ``(T, B, C, H, W)``,
  output the list of flows coarse to fine; the recurrent state lives **inside** the module (carried from call
  to call) and ``reset_all()`` forgets it (call it at the start of each recording).
* ``model_flow.onnx``: one step with the state as **explicit** inputs/outputs
  (:class:`~evflow.flow.explicit_state.ExplicitStateFlow`): inputs ``input`` ``(B, C, H, W)`` and the state
  tensors ``h0, c0...``; outputs ``flow`` ``(B, 2, H, W)`` and ``h0_out, c0_out...`` to feed to the next call.
  Reset = pass zeros. Fixed input size (``--height-width``), any batch size.
* ``info_flow.json``: ``delta_t``, ``array_dim``, preprocessing name and kwargs, input size, the ONNX I/O names
  and state shapes, and the measured differences to eager.

The check runs ``steps`` random windows through eager, TorchScript and ONNX (carrying state), resets, runs
them again, and raises :class:`ExportMismatchError` (nothing is left at the output paths) if any output
differs by more than ``atol + rtol·|eager|``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from evflow.errors import ConfigError, EvflowError

JIT_NAME, ONNX_NAME, INFO_NAME = "model_flow.ptjit", "model_flow.onnx", "info_flow.json"
EXPORT_FORMAT_VERSION = 1


class ExportMismatchError(EvflowError):
    """An exported model does not reproduce the eager network."""


def _inputs(steps: int, shape, seed: int = 0) -> list[torch.Tensor]:
    """Sparse non-negative random windows ``(1, C, H, W)`` (event-like)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        x = torch.rand(shape, generator=gen)
        out.append(torch.where(torch.rand(shape, generator=gen) < 0.2, x, torch.zeros_like(x)))
    return out


@torch.no_grad()
def _eager(network, xs) -> list[np.ndarray]:
    network.reset_all()
    out = [network(x[None])[-1][0].numpy() for x in xs]
    network.reset_all()
    return out


@torch.no_grad()
def _jit(scripted, xs) -> list[np.ndarray]:
    scripted.reset_all()
    first = [scripted(x[None])[-1][0].numpy() for x in xs]
    scripted.reset_all()
    again = [scripted(x[None])[-1][0].numpy() for x in xs]
    scripted.reset_all()
    return first + again


def _onnx(path, names, zeros, xs) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = []
    for _ in range(2):  # second pass = after a reset (zero state)
        state = [z.numpy() for z in zeros]
        for x in xs:
            res = session.run(None, {"input": x.numpy(), **dict(zip(names, state))})
            out.append(res[0])
            state = res[1:]
    return out


def _max_error(got, want, rtol: float, atol: float) -> tuple[float, bool]:
    diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    ok = all(np.all(np.abs(g - w) <= atol + rtol * np.abs(w)) for g, w in zip(got, want))
    return diff, ok


def input_size(model, height_width=None) -> tuple[int, int]:
    """Export input size: ``height_width`` or the checkpoint's, rounded up to a multiple of ``2**(scales-1)``."""
    mult = 2 ** (model.network.get_nb_scales() - 1)
    h, w = height_width if height_width is not None else model.hparams.array_dim[2:]
    if h <= 0 or w <= 0:
        raise ConfigError(f"--height-width must be positive, got {h} {w}")
    return -(-int(h) // mult) * mult, -(-int(w) // mult) * mult


def sidecar(model, size, names, shapes, checks: dict, checkpoint=None) -> dict:
    """The JSON sidecar describing what the exported files expect (SDK ``info_flow_jit.json`` keys and more)."""
    from evflow import __version__
    from evflow.preprocessing.registry import get_preprocessing_info

    hp = model.hparams
    kwargs = dict(get_preprocessing_info(hp.preprocess).default_kwargs)
    kwargs.update(hp.get("preprocess_kwargs") or {})
    t, c = (int(v) for v in hp.array_dim[:2])
    info = {
        "format_version": EXPORT_FORMAT_VERSION, "evflow_version": __version__,
        "checkpoint": None if checkpoint is None else Path(checkpoint).name,
        "delta_t": int(hp.delta_t), "array_dim": [t, c, *size], "num_tbins": t, "cin": c,
        "height": size[0], "width": size[1], "input_size": [1, c, *size],
        "preprocess": str(hp.preprocess), "preprocess_kwargs": _jsonable(kwargs),
        "feature_extractor_name": str(hp.feature_extractor_name), "network_kwargs": _jsonable(hp.network_kwargs),
        "loss_weights": _jsonable(hp.loss_weights), "flow_units": "pixels per delta_t, channel 0 = x, 1 = y",
        "torchscript": {"file": JIT_NAME, "input": "(T, B, C, H, W)", "output": "list of flows coarse->fine",
                        "state": "internal buffers; call reset_all() at the start of each recording"},
        "onnx": {"file": ONNX_NAME, "inputs": ["input", *names], "outputs": ["flow", *[n + "_out" for n in names]],
                 "state_shapes": {n: list(s) for n, s in zip(names, shapes)},
                 "state": "explicit: feed *_out to the next call; zeros = fresh/reset"},
        "checks": checks,
    }  # fmt: skip
    info.update({k: v for k, v in info["preprocess_kwargs"].items() if k not in info})
    return info


def _jsonable(obj):
    return json.loads(json.dumps(dict(obj), default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def export_model(model, out_dir, height_width=None, onnx: bool = True, opset: int = 17, steps: int = 4,
                 rtol: float = 1e-3, atol: float = 1e-4, checkpoint=None) -> dict:  # fmt: skip
    """Write TorchScript (+ ONNX) + JSON sidecar of ``model`` into ``out_dir`` after checking them.

    Args:
        model: a :class:`~evflow.flow.lightning_model.FlowModel`.
        out_dir: output folder (created).
        height_width: input size (default the checkpoint's, rounded up to the network's multiple).
        onnx: also export ONNX.
        opset: ONNX opset.
        steps: windows compared before and after the state reset.
        rtol, atol: tolerance of the comparison.
        checkpoint: checkpoint path (recorded in the sidecar).

    Returns:
        The sidecar dict (also written as ``info_flow.json``).

    Raises:
        ExportMismatchError: an export differs from eager; no file is left behind.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    network = model.network.cpu().eval()
    c = int(model.hparams.array_dim[1])
    size = input_size(model, height_width)
    xs = _inputs(steps, (1, c, *size))
    want = _eager(network, xs) * 2
    tmp = {name: out_dir / f".{name}.tmp{os.getpid()}" for name in (JIT_NAME, ONNX_NAME, INFO_NAME)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates TorchScript; still works
            torch.jit.script(network).save(str(tmp[JIT_NAME]))
            reloaded = torch.jit.load(str(tmp[JIT_NAME]))
        checks = {"steps": steps, "rtol": rtol, "atol": atol}
        checks["torchscript_max_abs_diff"] = _check("TorchScript", _jit(reloaded, xs), want, rtol, atol)
        names, shapes = [], []
        if onnx:
            names, shapes = _export_onnx(network, tmp[ONNX_NAME], xs[0], opset)
            zeros = [torch.zeros(s) for s in shapes]
            checks["onnx_max_abs_diff"] = _check("ONNX", _onnx(tmp[ONNX_NAME], names, zeros, xs), want, rtol, atol)
            checks["onnx_opset"] = opset
        info = sidecar(model, size, names, shapes, checks, checkpoint)
        tmp[INFO_NAME].write_text(json.dumps(info, indent=2) + "\n")
        for name, path in tmp.items():
            if path.exists():
                os.replace(path, out_dir / name)
        return info
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)


def _check(what: str, got, want, rtol: float, atol: float) -> float:
    diff, ok = _max_error(got, want, rtol, atol)
    if not ok:
        raise ExportMismatchError(
            f"{what} export differs from the eager network (max |diff| {diff:.3g} > atol {atol} + rtol {rtol}·|eager|)"
        )
    return diff


def _export_onnx(network, path: Path, example: torch.Tensor, opset: int):
    from evflow.flow.explicit_state import ExplicitStateFlow

    wrapper = ExplicitStateFlow(network)
    names = wrapper.state_names()
    zeros = wrapper.initial_state(*example.shape)
    outputs = ["flow", *[n + "_out" for n in names]]
    dynamic = {n: {0: "batch"} for n in ["input", *names, *outputs]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks: the input size is fixed
        torch.onnx.export(wrapper, (example, *zeros), str(path), input_names=["input", *names], output_names=outputs,
                          opset_version=opset, dynamic_axes=dynamic, dynamo=False)  # fmt: skip
    return names, [tuple(z.shape) for z in zeros]
