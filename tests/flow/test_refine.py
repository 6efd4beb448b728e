"""Test-time refinement (refine_flow) and pseudo-labels (pseudo_label_dataset, `evflow pseudolabel`)."""

import numpy as np
import pytest
import torch
from test_losses import H, T, U, V, W, _single_thread_torch, textured_cube  # noqa: F401 (autouse fixture)

from evflow.cli.main import main
from evflow.data.flow_file import read_flow_file
from evflow.errors import ConfigError, ShapeError
from evflow.flow.data_module import FlowDataModule
from evflow.flow.losses import FlowLoss
from evflow.flow.model_io import load_flow_model
from evflow.flow.refine import pseudo_label_dataset, refine_flow
from infer_helpers import make_checkpoint

WEIGHTS = {"data": 1.0, "time_consistency": 1.0, "bw_deblur": 1.0, "smoothness": 0.1, "smoothness2": 0.15}


def test_refinement_moves_a_zero_start_to_the_translation_and_lowers_the_loss():
    cube = textured_cube()
    pyramid = [torch.nn.functional.avg_pool2d(cube.flatten(0, 1), 2).view(T, 1, -1, H // 2, W // 2), cube]
    loss = FlowLoss(WEIGHTS)
    start = torch.zeros(T, 2, H, W)
    flows = refine_flow(loss, pyramid, start, iterations=80, grid=4, lr=0.1)
    assert [tuple(f.shape) for f in flows] == [(T, 2, H // 2, W // 2), (T, 2, H, W)]
    assert not flows[-1].requires_grad
    # the coarse level is the same field in its own pixels (half the displacement)
    assert torch.allclose(flows[0].mean(), flows[-1].mean() / 2, atol=1e-3)
    before = sum(loss([start[:, :, ::2, ::2] * 0, start], pyramid).values())
    assert sum(loss(flows, pyramid).values()) < before
    textured = cube.amax(dim=(0, 1, 2)) > 0.3
    assert flows[-1][:, 0][:, textured].median().item() == pytest.approx(U, abs=0.3)
    assert flows[-1][:, 1][:, textured].median().item() == pytest.approx(V, abs=0.3)


def test_zero_iterations_return_the_start_on_the_grid():
    cube = textured_cube()
    start = torch.zeros(T, 2, H, W)
    start[:, 0] = 2.0
    start[:, 1, :, : W // 2] = -1.0
    (flow,) = refine_flow(FlowLoss(WEIGHTS), [cube], start, iterations=0, grid=4)
    # the 4x4 means of a block-constant start upsample back to it, except next to the step (bilinear)
    assert torch.equal(flow[:, 0], start[:, 0])
    far = torch.ones(W, dtype=torch.bool)
    far[W // 2 - 2 : W // 2 + 2] = False
    assert torch.equal(flow[:, 1][..., far], start[:, 1][..., far])
    or_pixels = refine_flow(FlowLoss(WEIGHTS), [cube], start, iterations=0, grid=1)[0]
    assert torch.equal(or_pixels, start)


def test_bad_refinement_arguments():
    cube = textured_cube()
    loss = FlowLoss(WEIGHTS)
    with pytest.raises(ShapeError, match="init must be"):
        refine_flow(loss, [cube], torch.zeros(T, 2, H, W + 1))
    nan = torch.zeros(T, 2, H, W)
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ShapeError, match="NaN"):
        refine_flow(loss, [cube], nan)
    for kw in ({"iterations": -1}, {"grid": 0}, {"lr": 0.0}, {"grid": 64}):
        with pytest.raises(ConfigError):
            refine_flow(loss, [cube], torch.zeros(T, 2, H, W), **kw)


def test_pseudolabel_cli_writes_labels_the_supervised_loader_reads(tiny_dataset, tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "m.ckpt", height=32, width=48, delta_t=10_000)
    out = tmp_path / "pl"
    rc = main(["pseudolabel", str(ckpt), str(tiny_dataset), "-o", str(out), "--refine-steps", "3",
               "--num-tbins", "2", "--batch-size", "2", "--no-progress"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "36 bins of 3 recordings" in printed  # 12 rows each, in 6 windows of 2 bins
    for i in range(3):
        link = out / "train" / f"rec{i}.h5"
        assert link.resolve() == (tiny_dataset / "train" / f"rec{i}.h5").resolve()
        labels = read_flow_file(out / "train" / f"rec{i}_flow.h5")
        assert labels.flow.shape == (12, 2, 32, 48) and np.isfinite(labels.flow).all()
        assert labels.start_ts.tolist() == [k * 10_000 for k in range(12)]
        assert (labels.end_ts - labels.start_ts == 10_000).all()
        assert labels.attrs["refine_iterations"] == 3
    assert (out / "val").resolve() == (tiny_dataset / "val").resolve()
    # the supervised training loader finds a label for every bin
    hp = {"delta_t": 10_000, "preprocess": "event_cube", "array_dim": [2, 6, 32, 48], "batch_size": 2,
          "num_workers": 0, "supervised": True}  # fmt: skip
    dm = FlowDataModule(hp, out)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert batch["frame_is_labeled"].bool().all()
    assert batch["labels"].abs().sum() > 0


def test_pseudo_labels_are_the_refined_network_flow(tiny_dataset, tmp_path):
    """Zero refinement steps: the labels are the network's own flow (state carried), up to the 1-px grid."""
    from evflow.data.sources import TensorFileSource

    ckpt = make_checkpoint(tmp_path / "m.ckpt", height=32, width=48, delta_t=10_000)
    model = load_flow_model(ckpt).eval()
    pseudo_label_dataset(model, tiny_dataset, tmp_path / "pl", iterations=0, grid=1, num_tbins=2,
                         batch_size=1, progress=False)  # fmt: skip
    labels = read_flow_file(tmp_path / "pl" / "train" / "rec0_flow.h5").flow
    data = TensorFileSource(str(tiny_dataset / "train" / "rec0.h5")).read(0, 12, 10_000)
    with torch.no_grad():
        model.network.reset_all()
        flow = model.network(torch.from_numpy(np.asarray(data))[:, None])[-1][:, 0]
    np.testing.assert_allclose(labels, flow.numpy(), atol=1e-5)


def test_pseudolabel_rejects_an_empty_dataset(tmp_path):
    ckpt = make_checkpoint(tmp_path / "m.ckpt", height=32, width=48, delta_t=10_000)
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no recordings"):
        pseudo_label_dataset(load_flow_model(ckpt), tmp_path / "empty", tmp_path / "pl", progress=False)


def test_pseudolabel_rejects_recordings_shorter_than_one_window(tiny_dataset, tmp_path):
    """12-row recordings cannot fill a 16-bin window: a clear error, and no empty label file is left behind."""
    ckpt = make_checkpoint(tmp_path / "m.ckpt", height=32, width=48, delta_t=10_000)
    with pytest.raises(ConfigError, match="full window of 16 bins"):
        pseudo_label_dataset(load_flow_model(ckpt), tiny_dataset, tmp_path / "pl", num_tbins=16, progress=False)
    assert list((tmp_path / "pl" / "train").iterdir()) == []


def test_pseudolabel_leaves_out_a_recording_shorter_than_one_window(tiny_dataset, tmp_path):
    from flow_data import moving_pattern, write_tensor_file

    write_tensor_file(tiny_dataset / "train" / "short.h5", moving_pattern(1, (1.0, 0.0), seed=9))
    ckpt = make_checkpoint(tmp_path / "m.ckpt", height=32, width=48, delta_t=10_000)
    stats = pseudo_label_dataset(load_flow_model(ckpt), tiny_dataset, tmp_path / "pl", iterations=0, num_tbins=2,
                                 progress=False)  # fmt: skip
    names = sorted(p.name for p in (tmp_path / "pl" / "train").iterdir())
    assert names == [f"rec{i}{ext}" for i in range(3) for ext in (".h5", "_flow.h5")]
    assert stats["recordings"] == 4 and stats["bins"] == 3 * 12
