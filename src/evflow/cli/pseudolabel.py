"""``evflow pseudolabel CHECKPOINT DATASET_PATH -o OUTPUT_DIR``: refined network flows as training labels.

For every window of ``DATASET_PATH/train`` the model's flow is refined by optimising it directly on the model's
own self-supervised loss (:func:`evflow.flow.refine.refine_flow`); the results are written as ``*_flow.h5``
files next to links to the recordings in ``OUTPUT_DIR/train`` (``OUTPUT_DIR/val`` links to the source's
``val/``). ``evflow train RUN OUTPUT_DIR --supervised --checkpoint CHECKPOINT`` then distils them into the
network. No ground truth is read.
"""

from __future__ import annotations

import time

HELP = "Write self-supervised pseudo-labels (network flow refined on its own loss) for a training set."


def add_arguments(parser) -> None:
    """Declare the options of ``evflow pseudolabel``."""
    a = parser.add_argument
    a("checkpoint", help="checkpoint written by `evflow train`, or 'default' for the bundled model")
    a("dataset_path", help="folder with train/ (HDF5 tensor files or event files) and optionally val/")
    a("-o", "--output-dir", required=True, help="where train/ (links + *_flow.h5) and val/ (a link) are written")
    a("--refine-steps", type=int, default=100, help="Adam steps per window (default 100)")
    a("--grid", type=int, default=4, help="pixels per node of the optimised flow grid (default 4)")
    a("--refine-lr", type=float, default=0.05, help="Adam step in pixels (default 0.05)")
    a("--loss-weight", action="append", default=[], metavar="NAME=VALUE",
      help="override one weight of the checkpoint's loss for the refinement (repeatable)")  # fmt: skip
    a("--num-tbins", type=int, default=4, help="bins per window: the loss couples them (default 4)")
    a("--height-width", type=int, nargs=2, default=None, metavar=("H", "W"),
      help="flow resolution (default: the checkpoint's training size)")  # fmt: skip
    a("--batch-size", type=int, default=4, help="recordings refined side by side (default 4)")
    a("--no-progress", action="store_true", help="hide the progress bar")


def run(args) -> int:
    """Write the pseudo-labels; returns the exit code."""
    from evflow.cli.train import parse_loss_weights
    from evflow.errors import ConfigError
    from evflow.flow.bundled import resolve_checkpoint
    from evflow.flow.model_io import load_flow_model
    from evflow.flow.refine import pseudo_label_dataset

    if args.num_tbins < 2 or args.batch_size < 1:
        raise ConfigError(f"need --num-tbins >= 2 and --batch-size >= 1, got {args.num_tbins}, {args.batch_size}")
    model = load_flow_model(resolve_checkpoint(args.checkpoint))
    weights = parse_loss_weights(args.loss_weight, dict(model.hparams.loss_weights))
    t0 = time.perf_counter()
    info = pseudo_label_dataset(model, args.dataset_path, args.output_dir, args.refine_steps, args.grid,
                                args.refine_lr, weights, args.num_tbins, args.height_width, args.batch_size,
                                progress=not args.no_progress)  # fmt: skip
    print(
        f"{info['bins']} bins of {info['recordings']} recordings in {time.perf_counter() - t0:.0f} s; "
        f"loss per window {info['loss_network']:.4f} (network) -> {info['loss_refined']:.4f} (refined)"
    )
    print(
        f"wrote {args.output_dir}/train; train on it with: evflow train RUN {args.output_dir} --supervised "
        f"--checkpoint {args.checkpoint}"
    )
    return 0
