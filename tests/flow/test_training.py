"""FlowModel / FlowDataModule / FlowCallback / `evflow train` on tiny synthetic tensor files."""

from __future__ import annotations

import argparse
import json

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from flow_data import DT, H, W, moving_pattern, tiny_hparams, write_tensor_file

from evflow.cli import train as train_cli
from evflow.cli.main import main
from evflow.cli.train_runner import build_model, run_training
from evflow.data.flow_file import write_flow_file
from evflow.errors import ConfigError
from evflow.flow.callbacks import SEED_STRIDE, FlowCallback, max_consecutive_batch
from evflow.flow.data_module import FlowDataModule
from evflow.flow.lightning_model import FlowModel
from evflow.flow.model_io import load_flow_model

TINY_NET = {"base": 8, "separable": True, "rnn_cell": "lstm"}
FAST = ["--cpu", "--num-tbins", "2", "--batch-size", "2", "--num-workers", "0", "--feature-base", "8",
        "--accumulate-grad-batches", "1", "--demo-every", "0", "--val-every", "1"]  # fmt: skip


def tiny_model(**kw) -> FlowModel:
    kw.setdefault("learning_rate", 3e-3)
    return FlowModel(delta_t=DT, array_dim=[2, 6, H, W], network_kwargs=dict(TINY_NET), **kw)


def parse(argv):
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    return parser.parse_args(argv)


class StepLosses(pl.Callback):
    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


def test_curriculum_law():
    assert [max_consecutive_batch(e, 1.414) for e in range(10)] == [1, 1, 1, 1, 2, 3, 5, 7, 11, 15]
    assert max_consecutive_batch(5000, 1.414) == 10**9 and max_consecutive_batch(7, 0.5) == 1


def test_run_seed_reaches_the_epoch_plan(tiny_dataset):
    """--seed changes the data order and augmentation seed of every epoch; seed 0 keeps the epoch number."""
    from types import SimpleNamespace

    paths = [str(p) for p in sorted((tiny_dataset / "train").glob("*.h5"))]
    seeds = {}
    for run_seed in (0, 1):
        loader = FlowDataModule(tiny_hparams(), tiny_dataset)._get_dataloader(paths)
        trainer = SimpleNamespace(current_epoch=3, train_dataloader=loader)
        module = SimpleNamespace(log=lambda *a, **k: None)
        FlowCallback(None, 1.414, 0, seed=run_seed).on_train_epoch_start(trainer, module)
        seeds[run_seed] = loader.dataset.epoch_seed
    assert seeds == {0: 3, 1: SEED_STRIDE + 3}


def test_few_steps_decrease_loss(tiny_dataset):
    torch.manual_seed(0)
    model = tiny_model()
    loader = FlowDataModule(tiny_hparams(), tiny_dataset)._get_dataloader(
        [str(tiny_dataset / "train" / "rec0.h5"), str(tiny_dataset / "train" / "rec1.h5")]
    )
    batch = next(iter(loader))
    opt = model.configure_optimizers()
    losses = []
    for _ in range(10):
        model.network.reset_all()
        loss = sum(model.compute_loss(batch["inputs"]).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.8 * losses[0], losses


def test_fast_dev_run(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    argv = ["train", str(out), str(tiny_dataset), "--fast-dev-run", *FAST, "--loss-weight", "smoothness2=0.05"]
    assert main(argv) == 0
    weights = json.loads((out / "config.json").read_text())["model"]["loss_weights"]
    assert weights == {**train_cli.LOSS_WEIGHTS, "smoothness2": 0.05}


def test_architecture_options_reach_the_network(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    argv = ["train", str(out), str(tiny_dataset), "--fast-dev-run", *FAST, "--feature-extractor", "eminet_non_sep",
            "--scales", "4"]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["feature_extractor_name"] == "eminet_non_sep"
    assert config["model"]["network_kwargs"]["scales"] == 4
    model = build_model(config, None)
    assert model.network.get_nb_scales() == 4
    assert not any(m.groups > 1 for m in model.network.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("item", ["smooth=1", "data", "data=abc", "data=-1", "data=nan", "data=inf"])
def test_bad_loss_weight_is_rejected(item):
    with pytest.raises(ConfigError, match="--loss-weight"):
        train_cli.parse_loss_weights([item])


def test_resume_gives_same_next_step_loss(tiny_dataset, tmp_path):
    argv = [str(tiny_dataset), *FAST, "--limit-train-batches", "2", "--limit-val-batches", "0", "--seed", "1"]
    full = StepLosses()
    args = parse([str(tmp_path / "a"), *argv, "--max-epochs", "2"])
    run_training(args, train_cli.build_config(args), [full])
    args = parse([str(tmp_path / "b"), *argv, "--max-epochs", "1"])
    run_training(args, train_cli.build_config(args))
    resumed = StepLosses()
    args = parse([str(tmp_path / "b"), *argv, "--max-epochs", "2", "--resume"])
    run_training(args, train_cli.build_config(args), [resumed])
    assert len(full.losses) == 4 and len(resumed.losses) == 2
    np.testing.assert_allclose(resumed.losses, full.losses[2:], rtol=1e-5)
    model = load_flow_model(tmp_path / "b" / "checkpoints" / "last.ckpt")
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=False)
    meta = ckpt["evflow"]
    assert meta["architecture"] == "eminet" and meta["array_dim"] == [2, 6, H, W] and meta["delta_t"] == DT
    assert meta["preprocess"] == "event_cube" and meta["network_kwargs"]["base"] == 8
    assert model.hparams.network_kwargs["base"] == 8


def test_checkpoint_fine_tunes_with_the_commands_training_settings(tiny_dataset, tmp_path):
    """--checkpoint keeps the weights and architecture but takes lr, schedule and loss weights from the command."""
    argv = [str(tiny_dataset), *FAST, "--limit-train-batches", "1", "--limit-val-batches", "0", "--max-epochs", "1"]
    args = parse([str(tmp_path / "a"), *argv, "--lr", "1e-3"])
    run_training(args, train_cli.build_config(args))
    first = tmp_path / "a" / "checkpoints" / "last.ckpt"
    args = parse([str(tmp_path / "b"), *argv, "--checkpoint", str(first), "--lr", "2e-4", "--lr-schedule", "cosine",
                  "--loss-weight", "contrast=3", "--loss-weight", "smoothness=0.2"])  # fmt: skip
    model = build_model(train_cli.build_config(args), str(first))
    hp = model.hparams
    assert hp.learning_rate == 2e-4 and hp.lr_schedule == "cosine"
    assert hp.loss_weights["contrast"] == 3.0 and hp.loss_weights["smoothness"] == 0.2
    assert model.criterion.flow_weights["contrast"] == 3.0
    source = load_flow_model(first)
    for (name, a), b in zip(model.network.state_dict().items(), source.network.state_dict().values()):
        assert torch.equal(a, b), name
    other = torch.load(first, weights_only=False)
    other["hyper_parameters"]["delta_t"] = 2 * DT
    torch.save(other, tmp_path / "other_dt.ckpt")
    with pytest.raises(ConfigError, match="delta_t"):
        build_model(train_cli.build_config(args), str(tmp_path / "other_dt.ckpt"))


def test_input_normalization_reaches_network_loss_and_fine_tuning(tiny_dataset, tmp_path):
    """--input-normalization is saved with the network; the loss sees the normalised input; fine-tuning keeps it."""
    argv = [str(tiny_dataset), *FAST, "--limit-train-batches", "1", "--limit-val-batches", "0", "--max-epochs", "1"]
    args = parse([str(tmp_path / "a"), *argv, "--input-normalization", "nonzero_mean"])
    assert run_training(args, train_cli.build_config(args)) == 0
    first = tmp_path / "a" / "checkpoints" / "last.ckpt"
    model = load_flow_model(first)
    assert model.network.input_normalization == "nonzero_mean"
    assert torch.load(first, weights_only=False)["evflow"]["network_kwargs"]["input_normalization"] == "nonzero_mean"
    x = (torch.rand(2, 2, 6, H, W) > 0.9) * torch.rand(2, 2, 6, H, W)
    with torch.no_grad():
        strong = model.compute_loss(x)
        model.network.reset_all()
        weak = model.compute_loss(0.1 * x)
    for name in strong:  # every term, contrast and smoothness included, is blind to the events' strength
        torch.testing.assert_close(weak[name], strong[name], rtol=1e-4, atol=1e-6)
    kept = build_model(train_cli.build_config(parse([str(tmp_path / "b"), *argv])), str(first))
    assert kept.network.input_normalization == "nonzero_mean"
    # a fine-tuning run's config.json records the checkpoint's architecture, not the command's defaults
    args = parse([str(tmp_path / "d"), *argv, "--checkpoint", str(first), "--feature-base", "16", "--scales", "2"])
    assert run_training(args, train_cli.build_config(args)) == 0
    saved = json.loads((tmp_path / "d" / "config.json").read_text())["model"]["network_kwargs"]
    assert saved["base"] == 8 and saved["scales"] == 3 and saved["input_normalization"] == "nonzero_mean"
    off = parse([str(tmp_path / "c"), *argv, "--input-normalization", "none"])
    assert build_model(train_cli.build_config(off), str(first)).network.input_normalization == "none"
    assert build_model(train_cli.build_config(off), None).network.input_normalization == "none"


def test_old_style_checkpoint_loads_with_defaults(tmp_path):
    torch.manual_seed(0)
    old = FlowModel(delta_t=DT, array_dim=[2, 6, H, W], network_kwargs={"base": 32})
    hparams = {"delta_t": DT, "preprocess": "event_cube", "array_dim": [2, 6, H, W], "network_kwargs": None,
               "data": 1.0, "smoothness": 0.5}  # fmt: skip
    torch.save({"state_dict": old.state_dict(), "hyper_parameters": hparams}, tmp_path / "old.ckpt")
    model = load_flow_model(tmp_path / "old.ckpt")
    assert model.hparams.network_kwargs["base"] == 32 and model.hparams.loss_weights["smoothness"] == 0.5
    assert model.hparams.feature_extractor_name == "eminet" and model.hparams.loss_weights["l1"] == 0.3
    x = torch.rand(2, 1, 6, H, W)
    old.network.reset_all()
    torch.testing.assert_close(model(x)[-1], old(x)[-1])


def write_labelled(folder, name, velocity, seed):
    """Tensor file + *_flow.h5 with the exact per-bin displacement (constant, with one invalid column)."""
    data = moving_pattern(8, velocity, seed)
    write_tensor_file(folder / f"{name}.h5", data)
    flow = np.zeros((8, 2, H, W), np.float32)
    flow[:, 0], flow[:, 1] = velocity
    flow[:, :, :, 0] = np.inf
    starts = np.arange(8, dtype=np.int64) * DT
    write_flow_file(folder / f"{name}_flow.h5", flow, starts, starts + DT)


def test_labelled_validation_aee_matches_direct(tmp_path):
    folder = tmp_path / "labelled"
    folder.mkdir()
    write_labelled(folder, "a", (1.0, 0.5), 1)
    write_labelled(folder, "b", (-2.0, 0.0), 2)
    torch.manual_seed(0)
    model = tiny_model()
    dm = FlowDataModule(tiny_hparams(), "", folder)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, use_distributed_sampler=False)
    val_aee = trainer.validate(model, datamodule=dm, verbose=False)[0]["val_aee"]
    model.eval()
    model.network.reset_all()
    frames = []
    with torch.no_grad():
        for batch in dm.val_dataloader():
            model.network.reset(batch["mask_keep_memory"])
            flow = model(batch["inputs"])[-1].numpy()
            gt, events = batch["labels"].numpy(), batch["inputs"].abs().sum(2).numpy() > 0
            assert batch["frame_is_labeled"].all()
            for t in range(flow.shape[0]):
                for b in range(flow.shape[1]):
                    finite = np.isfinite(gt[t, b]).all(0)
                    valid = finite & events[t, b] & (np.abs(np.where(finite, gt[t, b], 0)).sum(0) > 0)
                    frames.append(np.hypot(*(flow[t, b] - gt[t, b]))[valid].mean())
    assert len(frames) == 8 * 2
    assert val_aee == pytest.approx(np.mean(frames), rel=1e-4)
    trainer.test(model, datamodule=dm, verbose=False)
    summary = model.test_results
    assert set(summary["recordings"]) == {"a.h5", "b.h5"}
    assert summary["overall"]["aee"] == pytest.approx(np.mean(frames), rel=1e-4)
    assert summary["overall"]["aee_zero"] > 0.9  # zero flow vs |v| >= 1.1 px


def test_demo_video_writes_mp4(tiny_dataset, tmp_path):
    import imageio.v2 as imageio

    model = tiny_model()
    loader = FlowDataModule(tiny_hparams(), tiny_dataset).test_dataloader()
    path = model.demo_video(loader, log_dir=tmp_path, epoch=3, num_batches=2)
    assert path == tmp_path / "videos" / "video#3.mp4" and path.is_file()
    frames = list(imageio.get_reader(path).iter_data())
    assert len(frames) == 2 * 2 and frames[0].shape == (H, 2 * W, 3)  # 2 rows side by side (grid 1x2)
    assert model.training


def test_supervised_training_reads_the_training_labels(tmp_path):
    root = tmp_path / "sup"
    (root / "train").mkdir(parents=True)
    write_labelled(root / "train", "a", (1.0, 0.5), 1)
    write_labelled(root / "train", "b", (-2.0, 0.0), 2)
    self_sup = FlowDataModule(tiny_hparams(), root)
    self_sup.setup()
    assert not any(b["frame_is_labeled"].any() for b in self_sup.train_dataloader())
    sup = FlowDataModule(tiny_hparams(supervised=True), root)
    sup.setup()
    batches = list(sup.train_dataloader())
    assert all(b["frame_is_labeled"].all() for b in batches)
    torch.manual_seed(0)
    model = tiny_model(learning_rate=1e-2)
    opt = model.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    losses = []
    for _ in range(12):
        for batch in batches:
            loss = model.loss_step(batch, 0, "train")  # labelled: the supervised Charbonnier loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])
    args = parse([str(tmp_path / "run"), str(root), "--supervised"])
    assert train_cli.build_config(args)["data"]["supervised"] is True
