"""Where does a trained flow network fail? Its AEE per recording, beside how strong that recording's events are.

For every recording of ``train/`` or ``val/`` (precomputed tensors with ``*_flow.h5`` labels next to them) it
prints the network's AEE and the zero-flow AEE (means over labelled frames, on pixels with events and non-zero
ground truth, as ``evflow train`` validates), their ratio, the mean magnitude of the non-zero cells of the input
tensor (before any ``input_normalization``: how strong the recording's events are), and the scored pixels per
frame; then the ratio per tercile of that event strength. A network whose ratio nears 1 on faint recordings has
learnt nothing there, however good its average.

Run: ``.venv/bin/python bench/bench_flow_by_recording.py DATASET CHECKPOINT [--split val|train]
[--height-width H W] [--num-tbins T]``
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch


def per_recording(dataset: str, checkpoint: str, split: str, height_width, num_tbins: int) -> dict:
    """``{name: array of (aee, zero aee, mean |non-zero cell|, valid pixels) per labelled frame}``."""
    from evflow.flow.data_module import FlowDataModule
    from evflow.flow.lightning_model import FlowModel
    from evflow.flow.model_io import load_flow_model
    from evflow.flow.supervision import frame_metrics

    model = load_flow_model(checkpoint).eval()
    hp = model.hparams
    size = list(height_width or hp.array_dim[2:])
    data = {"delta_t": hp.delta_t, "preprocess": hp.preprocess, "preprocess_kwargs": dict(hp.preprocess_kwargs),
            "array_dim": [num_tbins, hp.array_dim[1], *size], "batch_size": 4, "num_workers": 0,
            "supervised": True, "data_aug": False}  # fmt: skip
    dm = FlowDataModule(data, dataset)
    dm.setup()
    loader = dm.val_dataloader() if split == "val" else dm.train_dataloader()
    rows = defaultdict(list)
    with torch.no_grad():
        for batch in loader:
            model.network.reset(batch["mask_keep_memory"])
            flow = model.network(batch["inputs"])[-1]
            labelled = FlowModel._labelled(batch)  # the frames validation scores
            # mean |non-zero cell| of every (t, b) window: how strong its events are
            mag = batch["inputs"].abs()
            strength = mag.sum((2, 3, 4)) / (mag > 0).sum((2, 3, 4)).clamp_min(1)
            for (t, b), row in zip(labelled.nonzero().tolist(), frame_metrics(flow, batch, labelled)):
                if row["aee"] == row["aee"]:  # NaN: no valid pixel in this frame
                    rows[Path(row["path"]).name].append((row["aee"], row["aee_zero"], float(strength[t, b]),
                                                         row["n_valid"]))  # fmt: skip
    return {name: np.array(r) for name, r in sorted(rows.items())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset")
    p.add_argument("checkpoint")
    p.add_argument("--split", choices=("val", "train"), default="val")
    p.add_argument("--height-width", type=int, nargs=2, default=None)
    p.add_argument("--num-tbins", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    recs = per_recording(args.dataset, args.checkpoint, args.split, args.height_width, args.num_tbins)
    if not recs:
        print("no labelled frame found", file=sys.stderr)
        return 1
    print(f"{args.checkpoint}, {args.split}: per recording (means over labelled frames)\n")
    print("| recording | frames | AEE | zero-flow AEE | ratio | mean non-zero cell | valid px |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    summary = []
    for name, r in recs.items():
        aee, zero = r[:, 0].mean(), r[:, 1].mean()
        summary.append((r[:, 2].mean(), aee, zero))
        print(f"| {name} | {len(r)} | {aee:.3f} | {zero:.3f} | {aee / zero:.3f} | {r[:, 2].mean():.3f} | "
              f"{r[:, 3].mean():.0f} |")  # fmt: skip
    frames = np.concatenate(list(recs.values()))
    print(f"\nall frames: AEE {frames[:, 0].mean():.4f}, zero {frames[:, 1].mean():.4f}, "
          f"ratio {frames[:, 0].mean() / frames[:, 1].mean():.3f}")  # fmt: skip
    s = np.array(sorted(summary))
    for i, part in enumerate(np.array_split(s, 3)):
        print(f"event-strength tercile {i + 1} (mean non-zero cell {part[0, 0]:.3f}-{part[-1, 0]:.3f}): "
              f"mean ratio {np.mean(part[:, 1] / part[:, 2]):.3f} over {len(part)} recordings")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
