"""Can the self-supervised objective find the flow at all? Optimise a free flow field per batch, no network.

For each of a few fully labelled validation batches a flow field per bin (a 30x40 grid, bilinearly upsampled
to every pyramid level, so it is smooth by construction) starts at zero and is optimised with Adam on the
FlowLoss of one weight set; the AEE of the result on event pixels is compared with the zero-flow AEE. A weight
set under which even this direct optimisation does not approach the truth cannot teach a network either;
one under which it does, can (the rest is optimisation of the network).

With ``--checkpoint`` it also tells whether a trained network is limited by the objective or by its fit: under
the checkpoint's own loss weights it prints the loss value and AEE of zero flow, the ground truth, the
network's flow and the free field on the same batches. A network whose loss is above the ground truth's has
not fitted the objective as well as the truth does.

With ``--from-truth`` every free field starts at the ground truth instead: under a loss whose optimum is the
truth it stays there (AEE near 0); how far it drifts measures the objective's own bias.

Run: ``.venv/bin/python bench/bench_free_flow.py DATASET --delta-t 100000 [--batches 3] [--iterations 150]
[--checkpoint CKPT] [--from-truth]`` (DATASET holds ``val/`` recordings with ``*_flow.h5`` labels at that
``delta_t``).
"""

from __future__ import annotations

import argparse
import sys

from bench_loss_landscape import gt_pyramid

SMOOTH = {"smoothness": 0.1, "smoothness2": 0.15}
BASE = {"data": 1.0, **SMOOTH, "l1": 0.3, "time_consistency": 1.0, "bw_deblur": 1.0}
CONFIGS = {
    "photometric terms (data, time_consistency, bw_deblur) + smoothness": BASE,
    "the same + contrast 2": {**BASE, "contrast": 2.0},
    "the same + contrast 5": {**BASE, "contrast": 5.0},
    "the same + contrast 10": {**BASE, "contrast": 10.0},
    "the same + contrast 2, smoothness 0.025 / smoothness2 0.0375": {
        **BASE,
        "contrast": 2.0,
        "smoothness": 0.025,
        "smoothness2": 0.0375,
    },
    "contrast + smoothness only": {"contrast": 1.0, **SMOOTH},
}


def free_field(loss, pyramid, iterations, start=None):
    """Optimise a 30x40-per-bin flow grid (upsampled to every level, pixels of that level) on ``loss``.

    ``start`` is ``None`` (zero flow) or a finest-level ``(T*B, 2, H, W)`` flow (e.g. the truth, NaN read as 0)
    whose 4x4 means are the initial grid.
    """
    import torch

    from evflow.flow.refine import refine_flow

    fine = pyramid[-1]
    init = torch.zeros(fine.shape[0] * fine.shape[1], 2, *fine.shape[-2:]) if start is None else start
    return refine_flow(loss, pyramid, torch.nan_to_num(init.detach(), nan=0.0, posinf=0.0, neginf=0.0), iterations,
                       grid=4, lr=0.05)  # fmt: skip


def score(loss, flows, pyramid, batch):
    """``(loss value, AEE on event pixels with finite GT)`` of coarse-to-fine ``flows`` ``(T*B, 2, h, w)``."""
    import torch

    with torch.no_grad():
        value = float(sum(loss(flows, pyramid).values()))
        gt = gt_pyramid(batch["labels"], pyramid)[-1]
        events = pyramid[-1].abs().amax(2).flatten(0, 1) > 0
        events &= torch.isfinite(batch["labels"].flatten(0, 1)[:, 0])
        return value, float((flows[-1] - gt).norm(dim=1)[events].mean())


def network_rows(checkpoint, batches, iterations, delta_t, from_truth=False):
    """Loss value and AEE of zero flow, the truth, the checkpoint's network and a free field, under its weights.

    The loss sees the inputs as the network does: its own input normalisation and number of pyramid levels.
    """
    import numpy as np
    import torch

    from evflow.flow.losses import FlowLoss
    from evflow.flow.model_io import load_flow_model

    model = load_flow_model(checkpoint).eval()
    if int(model.hparams.delta_t) != delta_t:
        raise SystemExit(f"{checkpoint} was trained on {model.hparams.delta_t} µs bins, not --delta-t {delta_t}")
    loss = FlowLoss(model.hparams.loss_weights)
    rows = {"zero flow": [], "ground truth": [], "network": [], "free field": []}
    for batch in batches:
        pyr = model.network.interpolate_all_inputs_using_pyramid(model.network.normalize_input(batch["inputs"]))
        gt = gt_pyramid(batch["labels"], pyr)
        rows["zero flow"].append(score(loss, [g * 0 for g in gt], pyr, batch))
        rows["ground truth"].append(score(loss, gt, pyr, batch))
        with torch.no_grad():
            model.network.reset_all()
            net = [f.reshape(-1, *f.shape[2:]) for f in model.network(batch["inputs"])]
        rows["network"].append(score(loss, net, pyr, batch))
        start = gt[-1] if from_truth else None
        rows["free field"].append(score(loss, free_field(loss, pyr, iterations, start), pyr, batch))
    print(f"\n{checkpoint}, its loss weights {model.hparams.loss_weights} (lower loss is better)")
    print("| flow | loss | AEE |\n|---|---:|---:|")
    for name, values in rows.items():
        print(f"| {name} | {np.mean([v[0] for v in values]):.4f} | {np.mean([v[1] for v in values]):.3f} |")


def main() -> int:
    import numpy as np
    import torch

    from evflow.flow.data_module import FlowDataModule
    from evflow.flow.flow_network import FlowNetwork
    from evflow.flow.losses import FlowLoss

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--delta-t", type=int, default=50000)
    ap.add_argument("--height-width", type=int, nargs=2, default=(120, 160))
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--checkpoint", help="also compare this trained model with the truth and the free field")
    ap.add_argument("--skip-configs", action="store_true", help="only the --checkpoint comparison")
    ap.add_argument(
        "--from-truth",
        action="store_true",
        help="start the free field at the ground truth instead of zero flow: does the loss keep it there?",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    h, w = args.height_width
    array_dim = [4, 6, h, w]
    hp = {"delta_t": args.delta_t, "preprocess": "event_cube", "array_dim": array_dim, "batch_size": 4,
          "num_workers": 0, "preprocess_kwargs": {"max_incr_per_pixel": 5.0, "split_polarity": True}}  # fmt: skip
    dm = FlowDataModule(hp, args.dataset)
    dm.setup()
    batches = [b for b in dm.val_dataloader() if b["frame_is_labeled"].bool().all()][: args.batches]
    if not batches:
        raise SystemExit(f"no fully labelled batch under {args.dataset}/val")
    pyramid_of = FlowNetwork(array_dim).interpolate_all_inputs_using_pyramid
    if not args.skip_configs:
        origin = "the ground truth" if args.from_truth else "zero flow"
        print(f"{len(batches)} batches of {array_dim}, {args.iterations} Adam steps (lr 0.05 px) from {origin}")
        print("| weights | AEE | zero-flow AEE | ratio |\n|---|---:|---:|---:|")
        for name, weights in CONFIGS.items():
            loss = FlowLoss(weights)
            aee, zero = [], []
            for batch in batches:
                pyr = pyramid_of(batch["inputs"])
                gt = gt_pyramid(batch["labels"], pyr)
                start = gt[-1] if args.from_truth else None
                aee.append(score(loss, free_field(loss, pyr, args.iterations, start), pyr, batch)[1])
                zero.append(score(loss, [g * 0 for g in gt], pyr, batch)[1])
            print(f"| {name} | {np.mean(aee):.3f} | {np.mean(zero):.3f} | {np.mean(aee) / np.mean(zero):.2f}x |")
    if args.checkpoint:
        network_rows(args.checkpoint, batches, args.iterations, args.delta_t, args.from_truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
