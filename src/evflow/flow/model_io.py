"""Self-describing checkpoints: what is stored, and loading old-style (SDK 4.x) checkpoints with defaults.

Every checkpoint written by ``evflow train`` holds Lightning's ``hyper_parameters`` plus an ``evflow`` block::

    {"format_version": 1, "evflow_version": ..., "architecture": "eminet", "network_kwargs": {...},
     "preprocess": "event_cube", "preprocess_kwargs": {...}, "delta_t": 50000,
     "array_dim": [T, C, H, W], "num_tbins": T, "height": H, "width": W, "loss_weights": {...}}

which is all ``evflow infer``/``export`` need to rebuild the network and its input preprocessing.
"""

from __future__ import annotations

import os

import torch

from evflow.errors import ConfigError

CHECKPOINT_FORMAT_VERSION = 1
LEGACY_BASES = (32, 16, 64, 8)
"""Tried in order when an old checkpoint has no ``network_kwargs`` (the SDK's FlowModel defaulted to base 32)."""


def checkpoint_metadata(hparams) -> dict:
    """The ``evflow`` block of a checkpoint, from a FlowModel's hyper-parameters."""
    from evflow import __version__

    t, c, h, w = (int(v) for v in hparams["array_dim"])
    return {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "evflow_version": __version__,
        "architecture": str(hparams["feature_extractor_name"]),
        "network_kwargs": dict(hparams["network_kwargs"]),
        "preprocess": str(hparams["preprocess"]),
        "preprocess_kwargs": dict(hparams.get("preprocess_kwargs") or {}),
        "delta_t": int(hparams["delta_t"]),
        "array_dim": [t, c, h, w],
        "num_tbins": t,
        "in_channels": c,
        "height": h,
        "width": w,
        "loss_weights": dict(hparams["loss_weights"]),
    }


def _network_state(state_dict: dict) -> dict:
    return {k[len("network.") :]: v for k, v in state_dict.items() if k.startswith("network.")}


def _try_build(hparams: dict, network_state: dict):
    from evflow.flow.lightning_model import FlowModel

    model = FlowModel(**hparams)
    missing, unexpected = model.network.load_state_dict(network_state, strict=False)
    missing = [k for k in missing if "warping_head" not in k]
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint does not match the architecture: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return model


def load_flow_model(path: str | os.PathLike, map_location="cpu"):
    """Load a :class:`~evflow.flow.lightning_model.FlowModel` from an evflow or old-style Lightning checkpoint.

    Missing hyper-parameters take their defaults; a missing ``network_kwargs`` is found by trying the bases of
    :data:`LEGACY_BASES` against the stored weights. Checkpoints are pickles: load only trusted files.

    Raises:
        ConfigError: unreadable file, no ``state_dict``, or weights that fit no known configuration.
    """
    try:
        ckpt = torch.load(os.fspath(path), map_location=map_location, weights_only=False)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"{path}: cannot read checkpoint ({exc})") from None
    if "state_dict" not in ckpt:
        raise ConfigError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    hparams = dict(ckpt.get("hyper_parameters") or ckpt.get("hparams") or {})
    hparams.pop("_instantiator", None)
    for key in ("num_tbins", "cin", "height", "width"):
        hparams.pop(key, None)
    state = _network_state(ckpt["state_dict"])
    if hparams.get("network_kwargs") is not None:
        return _try_build(hparams, state)
    errors = []
    for base in LEGACY_BASES:
        try:
            return _try_build(
                {**hparams, "network_kwargs": {"rnn_cell": "lstm", "base": base, "separable": True}}, state
            )
        except (ConfigError, RuntimeError) as exc:
            errors.append(f"base {base}: {exc}")
    raise ConfigError(f"{path}: weights fit no default architecture ({'; '.join(errors)[:300]})")


def release_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, **provenance) -> dict:
    """Write a slim copy of a training checkpoint for shipping: weights and metadata, no optimizer state.

    The copy keeps ``state_dict`` (network weights only), ``hyper_parameters``, the ``evflow`` block and the
    epoch/step counters, and adds ``provenance`` (e.g. the training command and measured metrics) under
    ``evflow["provenance"]``. It loads with :func:`load_flow_model` like the original. Written atomically.

    Args:
        src: checkpoint written by ``evflow train``.
        dst: output path.
        **provenance: JSON-serialisable facts stored with the model.

    Returns:
        The ``evflow`` block written.
    """
    ckpt = torch.load(os.fspath(src), map_location="cpu", weights_only=False)
    if "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ConfigError(f"{src}: not a checkpoint written by evflow train")
    meta = dict(ckpt.get("evflow") or checkpoint_metadata(ckpt["hyper_parameters"]))
    meta["provenance"] = dict(provenance)
    slim = {
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
        "pytorch-lightning_version": ckpt.get("pytorch-lightning_version"),
        "state_dict": {k: v for k, v in ckpt["state_dict"].items() if k.startswith("network.")},
        "hyper_parameters": ckpt["hyper_parameters"],
        "evflow": meta,
    }
    tmp = f"{os.fspath(dst)}.tmp{os.getpid()}"
    try:
        torch.save(slim, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return meta
