"""The Lightning side of ``evflow train``: builds model, data, callbacks and trainer from the effective config."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from evflow.cli.train import write_json
from evflow.core.malloc import retain_freed_memory
from evflow.errors import ConfigError


def last_checkpoint(output_dir: Path) -> Path | None:
    """``checkpoints/last.ckpt`` of the run, else its most recent ``*.ckpt``, else None."""
    folder = Path(output_dir) / "checkpoints"
    if (folder / "last.ckpt").is_file():
        return folder / "last.ckpt"
    ckpts = sorted(folder.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    return ckpts[-1] if ckpts else None


def build_model(config: dict, checkpoint: str | None):
    """A fresh FlowModel, or one starting from the weights of ``checkpoint`` (old-style checkpoints get defaults).

    From a checkpoint the architecture (network and its kwargs) is the checkpoint's; the training settings
    (learning rate, schedule, loss weights, draw_dense) and the preprocessing kwargs are the command's and the
    data's, so fine-tuning with other loss weights really uses them.

    Raises:
        ConfigError: the checkpoint's input size, preprocessing or delta_t differ from the data's.
    """
    from evflow.flow.lightning_model import FlowModel
    from evflow.flow.model_io import load_flow_model

    if checkpoint is None:
        return FlowModel(**config["model"])
    loaded = load_flow_model(checkpoint)
    hp, wanted = loaded.hparams, config["model"]
    for key in ("array_dim", "preprocess", "delta_t"):  # both sides hold plain values (array_dim: list of ints)
        if hp[key] != wanted[key]:
            raise ConfigError(f"{checkpoint}: {key} {hp[key]} != {wanted[key]} of the data/command")
    # the data's preprocess_kwargs stay: they describe the inputs the fine-tuned model is trained on
    network_kwargs = dict(hp.network_kwargs)
    if "input_normalization" in wanted["network_kwargs"]:  # no weights: the command's choice wins when given
        network_kwargs["input_normalization"] = wanted["network_kwargs"]["input_normalization"]
    architecture = {"feature_extractor_name": hp.feature_extractor_name, "network_kwargs": network_kwargs}
    model = FlowModel(**{**wanted, **architecture})
    model.network.load_state_dict(loaded.network.state_dict())
    return model


def build_trainer(config: dict, output_dir: Path, data_module, has_val: bool, extra_callbacks=()):
    """Trainer with TensorBoard logs, checkpoints every ``save_every`` epochs plus ``last.ckpt``, and the curriculum."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
    from lightning.pytorch.loggers import TensorBoardLogger

    from evflow.flow.callbacks import FlowCallback

    cb = config["callback"]
    checkpoint = ModelCheckpoint(
        dirpath=output_dir / "checkpoints", save_top_k=-1, every_n_epochs=cb["save_every"], save_last=True
    )
    flow_cb = FlowCallback(
        data_module,
        cb["curriculum_param"],
        cb["video_result_every_n_epochs"] if has_val else 0,
        cb["mask_flow_by_input"],
        cb["demo_num_batches"],
        seed=int(config.get("seed", 0)),
    )
    trainer_kwargs = dict(config["trainer"])
    if not has_val:
        trainer_kwargs.update(limit_val_batches=0, num_sanity_val_steps=0)
    return pl.Trainer(
        **trainer_kwargs,
        default_root_dir=output_dir,
        logger=TensorBoardLogger(save_dir=output_dir, name="logs"),
        callbacks=[checkpoint, flow_cb, TQDMProgressBar(refresh_rate=20), *extra_callbacks],
        use_distributed_sampler=False,
        log_every_n_steps=10,
    )


def run_training(args, config: dict, extra_callbacks=()) -> int:
    """Run ``evflow train`` for parsed ``args`` and the effective ``config`` (plus optional Lightning callbacks)."""
    import lightning.pytorch as pl

    from evflow.flow.data_module import FlowDataModule

    warnings.filterwarnings("ignore", message=".*IterableDataset. has .__len__. defined.*")
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(config["seed"], workers=True, verbose=False)
    retain_freed_memory()  # CPU steps allocate large fresh activations: keep the pages (see evflow.core.malloc)
    resume = last_checkpoint(output_dir) if args.resume else None
    if args.resume and resume is None:
        print(f"evflow train: no checkpoint in {output_dir / 'checkpoints'}; starting from scratch")
    weights = args.checkpoint or (str(resume) if (args.just_val or args.just_demo) and resume else None)
    if (args.just_val or args.just_demo) and weights is None:
        weights = str(last_checkpoint(output_dir) or "") or None
        if weights is None:
            raise ConfigError("--just-val/--just-demo need --checkpoint or a checkpoint in OUTPUT_DIR/checkpoints")
    data_cfg = config["data"]
    data_module = FlowDataModule(data_cfg, data_cfg["dataset_path"], data_cfg["val_dataset_path"])
    data_module.setup()
    has_val = bool(data_module.val_files or data_module.test_data_dir)
    model = build_model(config, weights)
    # from a checkpoint the architecture is the checkpoint's: config.json says what is really trained
    config["model"]["feature_extractor_name"] = model.hparams.feature_extractor_name
    config["model"]["network_kwargs"] = dict(model.hparams.network_kwargs)
    if args.just_demo:
        path = model.demo_video(data_module.test_dataloader(), output_dir / "logs", -1, args.demo_num_batches)
        print(f"demo video: {path}")
        return 0
    trainer = build_trainer(config, output_dir, data_module, has_val, extra_callbacks)
    if trainer.is_global_zero:
        write_json(output_dir / "config.json", config)
    if args.just_val:
        trainer.test(model, datamodule=data_module)
        results = getattr(model, "test_results", {})
        if trainer.is_global_zero:
            write_json(output_dir / "test_results.json", results)
            print(json.dumps(results.get("overall", {}), indent=2))
        return 0
    trainer.fit(model, datamodule=data_module, ckpt_path=str(resume) if resume else None)
    return 0
