"""Flow fields optimised directly on the self-supervised loss: test-time refinement and pseudo-labels.

A trained network does not reach the optimum of its own loss: on ``evflow synth`` data the shipped ``default``
model's loss stays above what a flow field optimised on that same loss reaches, and that field is nearer the
truth (README, "Training"). :func:`refine_flow` runs that optimisation for one batch of windows, starting from
the network's flow. The field is a coarse grid (``grid`` x ``grid`` pixels per node), bilinearly upsampled to
every pyramid level, so it is smooth by construction; it is optimised with Adam on the loss terms the network
was trained with.

:func:`pseudo_label_dataset` refines the flow of every window of the training recordings and writes it as
``*_flow.h5`` labels next to links to the recordings; ``evflow train OUT --supervised --checkpoint CKPT`` then
distils the refined flows into the network (self-training: no ground truth is read).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, ShapeError
from .losses import FlowLoss

__all__ = ["refine_flow", "pseudo_label_dataset"]


def refine_flow(
    criterion: Callable,
    pyramid: list[torch.Tensor],
    init: torch.Tensor,
    iterations: int = 100,
    grid: int = 4,
    lr: float = 0.05,
) -> list[torch.Tensor]:
    """Optimise a smooth flow field on ``criterion``, starting from ``init``.

    Args:
        criterion: :class:`~evflow.flow.losses.FlowLoss` (or any callable ``(flows, pyramid) -> {name: scalar}``).
        pyramid: inputs coarse to fine, each ``(T, B, C, h, w)``
            (:meth:`~evflow.flow.flow_network.FlowNetwork.interpolate_all_inputs_using_pyramid`).
        init: ``(T * B, 2, H, W)`` start flow in pixels of the finest level (e.g. the network's finest flow).
        iterations: Adam steps (0 returns ``init`` resampled onto the grid).
        grid: pixels of the finest level per node of the optimised grid (its ``grid x grid`` means start it).
        lr: Adam step size in pixels of the finest level.

    Returns:
        Coarse to fine flows ``(T * B, 2, h, w)`` in pixels of each level, detached.

    Raises:
        ShapeError: ``init`` does not match the finest pyramid level, or is not finite.
        ConfigError: ``iterations < 0``, ``grid < 1`` or ``lr <= 0``.
    """
    fine = pyramid[-1]
    t, b, _, h, w = fine.shape
    if tuple(init.shape) != (t * b, 2, h, w):
        raise ShapeError(f"refine_flow: init must be (T*B, 2, H, W) = {(t * b, 2, h, w)}, got {tuple(init.shape)}")
    if not bool(torch.isfinite(init).all()):
        raise ShapeError("refine_flow: init flow has NaN or infinite values")
    if int(iterations) < 0 or int(grid) < 1 or not float(lr) > 0:
        raise ConfigError(f"refine_flow: need iterations >= 0, grid >= 1, lr > 0; got {iterations}, {grid}, {lr}")
    if h < grid or w < grid:
        raise ConfigError(f"refine_flow: grid {grid} is coarser than the {h}x{w} input")
    param = F.avg_pool2d(init.detach().float(), int(grid)) if grid > 1 else init.detach().float().clone()
    param.requires_grad_(True)
    optimizer = torch.optim.Adam([param], lr=float(lr))

    def flows() -> list[torch.Tensor]:
        return [F.interpolate(param, size=p.shape[-2:], mode="bilinear") * (p.shape[-1] / w) for p in pyramid]

    with torch.enable_grad():
        for _ in range(int(iterations)):
            optimizer.zero_grad()
            sum(criterion(flows(), pyramid).values()).backward()
            optimizer.step()
    with torch.no_grad():
        return flows()


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:  # file systems without symlinks
        shutil.copy2(src, dst)


def pseudo_label_dataset(
    model,
    dataset_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    iterations: int = 100,
    grid: int = 4,
    lr: float = 0.05,
    loss_weights: dict | None = None,
    num_tbins: int = 4,
    height_width: tuple[int, int] | None = None,
    batch_size: int = 4,
    progress: bool = True,
) -> dict:
    """Write refined flows of every training recording of ``dataset_dir`` as labels under ``output_dir``.

    ``output_dir/train`` receives a link to each recording of ``dataset_dir/train`` (a copy where links are not
    possible) and its ``*_flow.h5`` file: for each bin the network's flow (state carried through the recording)
    refined by :func:`refine_flow` on the loss ``loss_weights`` (default: the model's own). Windows of
    ``num_tbins`` bins are refined ``batch_size`` at a time (they are independent once the network has run), so
    memory stays bounded for any recording length; bins of a last, incomplete window get no label, and a recording
    shorter than one window is left out (no link, no label file).
    ``output_dir/val`` links to ``dataset_dir/val`` when that exists. Label files are written atomically;
    ground-truth files of the source are neither read nor linked.

    Args:
        model: a :class:`~evflow.flow.lightning_model.FlowModel` (e.g. from
            :func:`~evflow.flow.model_io.load_flow_model`).
        dataset_dir: folder with ``train/`` (HDF5 tensor files or event files at the model's ``delta_t``).
        output_dir: created if needed.
        iterations, grid, lr: see :func:`refine_flow`.
        loss_weights: ``{name: weight}`` of the refinement loss.
        num_tbins: bins per window (the loss couples the bins of a window).
        height_width: resolution of the flows (default: the model's ``array_dim``).
        batch_size: windows refined together.
        progress: show a progress bar (one step per recording).

    Returns:
        ``{"recordings": n, "bins": n, "loss_network": mean, "loss_refined": mean}`` (mean loss per batch).

    Raises:
        ConfigError: ``dataset_dir/train`` holds no recording, or none that fills one window.
    """
    from ..data.sources import list_recordings

    src_train = Path(dataset_dir) / "train"
    files = list_recordings(src_train) if src_train.is_dir() else []
    if not files:
        raise ConfigError(f"pseudo_label_dataset: no recordings under {src_train}")
    hp = model.hparams
    h, w = height_width or tuple(hp.array_dim[-2:])
    array_dim = [int(num_tbins), int(hp.array_dim[1]), int(h), int(w)]
    criterion = FlowLoss(dict(loss_weights if loss_weights is not None else hp.loss_weights))
    refiner = _Refiner(model.network.eval(), criterion, int(iterations), int(grid), float(lr), int(batch_size))
    out_train = Path(output_dir) / "train"
    out_train.mkdir(parents=True, exist_ok=True)
    steps = files
    if progress:
        from tqdm import tqdm

        steps = tqdm(files, desc="pseudo-labels", unit="recording")
    n_bins = 0
    for path in steps:
        n_bins += refiner.label_recording(Path(path), out_train, hp, array_dim)
    if n_bins == 0:
        raise ConfigError(f"pseudo_label_dataset: no recording under {src_train} holds one full window of "
                          f"{array_dim[0]} bins x {int(hp.delta_t)} us: nothing to label")  # fmt: skip
    src_val = Path(dataset_dir) / "val"
    out_val = Path(output_dir) / "val"
    if src_val.is_dir() and not (out_val.exists() or out_val.is_symlink()):
        try:
            os.symlink(src_val.resolve(), out_val, target_is_directory=True)
        except OSError:
            shutil.copytree(src_val, out_val)
    loss_net, loss_ref = np.mean(refiner.losses, axis=0)
    return {"recordings": len(files), "bins": n_bins, "loss_network": float(loss_net), "loss_refined": float(loss_ref)}


class _Refiner:
    """Runs the network through one recording and refines its windows ``batch_size`` at a time."""

    def __init__(self, network, criterion, iterations: int, grid: int, lr: float, batch_size: int):
        self.network, self.criterion = network, criterion
        self.iterations, self.grid, self.lr, self.batch_size = iterations, grid, lr, max(1, batch_size)
        self.losses: list[tuple[float, float]] = []

    def label_recording(self, recording: Path, out_dir: Path, hp, array_dim) -> int:
        """Write ``out_dir/<recording>`` (a link) and its label file; returns the number of labelled bins."""
        from ..data.flow_file import FlowFileWriter
        from ..data.flow_labels import label_path_for
        from ..data.scheduler import count_chunks
        from ..data.sequential import SequentialDataLoader, load_labels_stub
        from ..data.sources import open_source

        t, _, h, w = array_dim
        delta_t = int(hp.delta_t)
        source = open_source(str(recording), hp.preprocess, h, w, hp.get("preprocess_kwargs"))
        if count_chunks(source.duration, t * delta_t) == 0:  # shorter than one window: left out, nothing written
            source.close()
            return 0
        loader = SequentialDataLoader([source], delta_t, hp.preprocess, array_dim, load_labels=load_labels_stub,
                                      batch_size=1, num_workers=0)  # fmt: skip
        link = out_dir / recording.name
        attrs = {"pseudo_labels": "network flow refined on its own loss", "refine_loss_weights": str(
            self.criterion.flow_weights), "refine_iterations": self.iterations, "refine_grid": self.grid}  # fmt: skip
        pending: list[tuple[torch.Tensor, torch.Tensor, int]] = []
        count = 0
        with FlowFileWriter(label_path_for(link), h, w, delta_t, **attrs) as writer:
            self.network.reset_all()
            for batch in loader:
                inputs = batch["inputs"]
                with torch.no_grad():
                    self.network.reset(batch["mask_keep_memory"])
                    flow = self.network(inputs)[-1]  # (T, 1, 2, h, w)
                pending.append((inputs, flow, int(batch["video_infos"][0][1])))
                if len(pending) == self.batch_size:
                    count += self._flush(pending, writer, t, delta_t)
            count += self._flush(pending, writer, t, delta_t)
        _link_or_copy(recording, link)
        return count

    def _flush(self, pending, writer, t: int, delta_t: int) -> int:
        """Refine the pending windows together and append them to ``writer`` in time order."""
        if not pending:
            return 0
        inputs = torch.cat([p[0] for p in pending], dim=1)  # (T, n, C, h, w)
        n = inputs.shape[1]
        flows = torch.cat([p[1] for p in pending], dim=1)
        with torch.no_grad():
            pyramid = self.network.interpolate_all_inputs_using_pyramid(self.network.normalize_input(inputs))
        init = flows.reshape(t * n, *flows.shape[2:])  # time-major, as the loss flattens (T, B)
        start = refine_flow(self.criterion, pyramid, init, 0, self.grid, self.lr)  # the start, on the grid
        with torch.no_grad():
            before = float(sum(self.criterion(start, pyramid).values()))
        refined = refine_flow(self.criterion, pyramid, init, self.iterations, self.grid, self.lr)
        with torch.no_grad():
            self.losses.append((before, float(sum(self.criterion(refined, pyramid).values()))))
        fine = refined[-1].reshape(t, n, *refined[-1].shape[1:])
        for j, (_, _, first_ts) in enumerate(pending):
            starts = first_ts + delta_t * np.arange(t, dtype=np.int64)
            writer.append_rows(fine[:, j].numpy().astype(np.float32), starts, starts + delta_t)
        pending.clear()
        return t * n
