"""Can the self-supervised objective find the flow at all? Optimise a free flow field per batch, no network.

For each of a few fully labelled validation batches a flow field per bin (a 30x40 grid, bilinearly upsampled
to every pyramid level, so it is smooth by construction) starts at zero and is optimised with Adam on the
FlowLoss of one weight set; the AEE of the result on event pixels is compared with the zero-flow AEE. A weight
set under which even this direct optimisation does not approach the truth cannot teach a network either;
one under which it does, can (the rest is optimisation of the network).

Run: ``.venv/bin/python bench/bench_free_flow.py DATASET --delta-t 100000 [--batches 3] [--iterations 150]``
(DATASET holds ``val/`` recordings with ``*_flow.h5`` labels at that ``delta_t``).
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
    "contrast + smoothness only": {"contrast": 1.0, **SMOOTH},
}


def main() -> int:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from evflow.flow.data_module import FlowDataModule
    from evflow.flow.flow_network import FlowNetwork
    from evflow.flow.losses import FlowLoss

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--delta-t", type=int, default=50000)
    ap.add_argument("--height-width", type=int, nargs=2, default=(120, 160))
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=150)
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
    print(f"{len(batches)} batches of {array_dim}, {args.iterations} Adam steps (lr 0.05 px) from zero flow")
    print("| weights | AEE | zero-flow AEE | ratio |\n|---|---:|---:|---:|")
    for name, weights in CONFIGS.items():
        loss = FlowLoss(weights)
        aee, zero = [], []
        for batch in batches:
            pyr = pyramid_of(batch["inputs"])
            gt = gt_pyramid(batch["labels"], pyr)[-1]
            param = torch.zeros(pyr[-1].shape[0] * pyr[-1].shape[1], 2, h // 4, w // 4, requires_grad=True)
            opt = torch.optim.Adam([param], lr=0.05)
            for _ in range(args.iterations):
                flows = [F.interpolate(param, size=p.shape[-2:], mode="bilinear") * (p.shape[-1] / w) for p in pyr]
                opt.zero_grad()
                sum(loss(flows, pyr).values()).backward()
                opt.step()
            with torch.no_grad():
                flow = F.interpolate(param, size=(h, w), mode="bilinear")
                events = pyr[-1].abs().amax(2).flatten(0, 1) > 0
                events &= torch.isfinite(batch["labels"].flatten(0, 1)[:, 0])
                aee.append(float((flow - gt).norm(dim=1)[events].mean()))
                zero.append(float(gt.norm(dim=1)[events].mean()))
        print(f"| {name} | {np.mean(aee):.3f} | {np.mean(zero):.3f} | {np.mean(aee) / np.mean(zero):.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
