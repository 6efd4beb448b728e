"""Helpers of the inference/export/demo tests: a tiny untrained checkpoint and a tiny synthetic recording."""

from __future__ import annotations

from pathlib import Path

import torch

from evflow.flow.lightning_model import FlowModel


def make_checkpoint(path, height=32, width=40, delta_t=10000, preprocess="event_cube", rnn_cell="lstm", seed=0,
                    architecture="eminet", input_normalization="none") -> Path:  # fmt: skip
    """Save an untrained FlowModel as a Lightning-style checkpoint with evflow's self-describing block."""
    from evflow.preprocessing.registry import get_preprocessing_info

    torch.manual_seed(seed)
    channels = get_preprocessing_info(preprocess).n_input_channels
    model = FlowModel(delta_t=delta_t, preprocess=preprocess, array_dim=(2, channels, height, width),
                      feature_extractor_name=architecture,
                      network_kwargs={"base": 8, "rnn_cell": rnn_cell, "separable": True,
                                      "input_normalization": input_normalization})  # fmt: skip
    with torch.no_grad():  # untrained regressors output ~0: make the flow visible and state-dependent
        for p in model.network.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    return Path(path)


def make_recording(directory, height=32, width=40, duration_us=120000, delta_t=10000, seed=0) -> tuple[Path, Path]:
    """One synthetic val recording (``*_td.dat``, ``*_flow.h5``) made with evflow.synth."""
    from evflow.synth.dataset import SequenceConfig
    from evflow.synth.generate import generate_dataset

    config = SequenceConfig(height=height, width=width, duration_us=duration_us, delta_t=delta_t, num_objects=1)
    return generate_dataset(directory, {"train": 0, "val": 1}, config, seed, None, False)[0]
