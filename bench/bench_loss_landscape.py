"""Where is the self-supervised loss lowest? FlowLoss terms at ``s x ground truth`` on labelled recordings.

For every labelled batch the pyramid of flows is the ground truth (resized, rescaled) times ``s``, and each
weighted FlowLoss term is averaged over the batches. A loss that can teach flow must be lower at ``s = 1`` than
at ``s = 0`` (zero flow); the table shows how much each term prefers the truth and what the smoothness terms
charge for it. With no DATASET, two short noisy recordings are synthesised (``evflow synth``, seed 7).

Run: ``.venv/bin/python bench/bench_loss_landscape.py [DATASET] [--height-width 120 160] [--batches 8]
[--loss-weight smoothness=0.1 ...]`` (DATASET holds ``val/`` recordings with ``*_flow.h5``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

SCALES = (0.0, 0.5, 1.0, 1.5, -1.0)


def synthesise(folder: Path) -> Path:
    from evflow.cli.main import main

    argv = ["synth", str(folder), "--num-sequences", "3", "--split", "train=1,val=2", "--duration-s", "1",
            "--height", "240", "--width", "320", "--seed", "7", "--no-progress"]  # fmt: skip
    if main(argv):
        raise SystemExit("evflow synth failed")
    return folder


def gt_pyramid(labels, inputs_pyramid):
    """Ground truth ``(T, B, 2, H, W)`` resized to every pyramid level, in pixels of that level."""
    import torch
    import torch.nn.functional as F

    t, b = labels.shape[:2]
    flat = torch.nan_to_num(labels, nan=0.0).reshape(t * b, 2, *labels.shape[-2:])
    out = []
    for level in inputs_pyramid:
        h, w = level.shape[-2:]
        scale = torch.tensor([w / flat.shape[-1], h / flat.shape[-2]]).view(1, 2, 1, 1)
        out.append(F.interpolate(flat, size=(h, w), mode="bilinear", align_corners=False) * scale)
    return out


def main() -> int:
    import numpy as np
    import torch

    from evflow.cli.train import parse_loss_weights
    from evflow.flow.data_module import FlowDataModule
    from evflow.flow.lightning_model import FlowModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", default=None)
    ap.add_argument("--height-width", type=int, nargs=2, default=(120, 160))
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--delta-t", type=int, default=50000)
    ap.add_argument("--loss-weight", action="append", default=[])
    args = ap.parse_args()
    weights = parse_loss_weights(args.loss_weight)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dataset) if args.dataset else synthesise(Path(tmp) / "synth")
        array_dim = [4, 6, *args.height_width]
        hp = {"delta_t": args.delta_t, "preprocess": "event_cube", "array_dim": array_dim, "batch_size": 4,
              "num_workers": 0, "preprocess_kwargs": {"max_incr_per_pixel": 5.0, "split_polarity": True}}  # fmt: skip
        dm = FlowDataModule(hp, root)
        dm.setup()
        model = FlowModel(delta_t=args.delta_t, array_dim=array_dim, loss_weights=weights)
        sums = {s: {} for s in SCALES}
        prefer, used = 0, 0
        for batch in dm.val_dataloader():
            if used == args.batches:
                break
            if not batch["frame_is_labeled"].bool().all():
                continue
            pyramid = model.network.interpolate_all_inputs_using_pyramid(batch["inputs"])
            gts = gt_pyramid(batch["labels"], pyramid)
            totals = {}
            with torch.no_grad():
                for s in SCALES:
                    terms = model.criterion([s * g for g in gts], pyramid)
                    for name, value in terms.items():
                        sums[s][name] = sums[s].get(name, 0.0) + float(value)
                    totals[s] = sum(float(v) for v in terms.values())
            prefer += totals[1.0] < totals[0.0]
            used += 1
        if not used:
            raise SystemExit(f"no fully labelled batch under {root}/val")
        names = list(sums[0.0])
        print(f"{used} batches of {array_dim} (T, C, H, W) from {root}; weights {weights}")
        print(f"{'s x GT':>7} " + " ".join(f"{n:>16}" for n in names) + f" {'total':>8}")
        for s in SCALES:
            row = [sums[s][n] / used for n in names]
            print(f"{s:>7.2f} " + " ".join(f"{v:>16.4f}" for v in row) + f" {np.sum(row):>8.4f}")
        print(f"batches where the loss is lower at the ground truth than at zero flow: {prefer}/{used}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
