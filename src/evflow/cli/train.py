"""``evflow train OUTPUT_DIR DATASET_PATH``: train a flow network (self-supervised; supervised where labelled).

DATASET_PATH holds ``train/`` and ``val/`` with HDF5 tensor files (``evflow precompute``) or event files
(preprocessed on the fly, e.g. the output of ``evflow synth``). OUTPUT_DIR receives ``config.json`` (the effective
configuration), ``checkpoints/`` (``epoch=*.ckpt`` and ``last.ckpt``) and ``logs/`` (TensorBoard, demo videos).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HELP = "train a flow network on a dataset folder (train/ and val/)"
LOSS_WEIGHTS = {
    "data": 1.0,
    "smoothness": 0.4,
    "smoothness2": 0.6,
    "l1": 0.3,
    "time_consistency": 1.0,
    "bw_deblur": 1.0,
    "contrast": 0.0,
}


def add_arguments(parser) -> None:
    """Options of the reference's ``train_flow.py`` plus distribution, seed and event-file options."""
    a = parser.add_argument
    a("output_dir", help="run folder (checkpoints, logs, videos, config.json)")
    a("dataset_path", help="folder with train/ and val/ recordings")
    a("--lr", type=float, default=3e-4, help="learning rate")
    a("--lr-schedule", default="none", choices=("none", "cosine", "onecycle"))
    a("--batch-size", type=int, default=4)
    a("--val-batch-size", type=int, default=None)
    a("--accumulate-grad-batches", type=int, default=4)
    a("--val-every", type=int, default=2, help="validate every n epochs")
    a("--demo-every", type=int, default=2, help="demo video every n epochs (0: never)")
    a("--demo-num-batches", type=int, default=100)
    a("--show-flow-everywhere", action="store_true", help="do not mask the demo flow by the input events")
    a("--save-every", type=int, default=1, help="checkpoint every n epochs")
    a("--max-epochs", type=int, default=20)
    a("--max-steps", type=int, default=-1)
    a("--resume", action="store_true", help="continue from the last checkpoint of OUTPUT_DIR")
    a("--checkpoint", default=None,
      help="initial weights and architecture; lr, schedule and loss weights come from this command "
           "(or the model of --just-val/--just-demo)")  # fmt: skip
    a("--precision", default=None, help="Lightning precision (default: 16-mixed on GPU, 32 on CPU)")
    a("--cpu", action="store_true", help="train on CPU in fp32")
    a("--just-val", action="store_true", help="only evaluate the checkpoint on the validation data")
    a("--just-demo", action="store_true", help="only write a demo video of the checkpoint")
    for name in ("train", "val", "test"):
        a(f"--limit-{name}-batches", type=float, default=1.0)
    a("--no-window", action="store_true", help="accepted for compatibility (evflow never opens windows here)")
    a("--draw-dense", action="store_true", help="colour-wheel demo videos instead of arrows")
    a("--height-width", type=int, nargs=2, default=None, metavar=("H", "W"), help="resize the features")
    a("--num-tbins", type=int, default=4)
    a("--num-workers", type=int, default=2)
    a("--no-data-aug", action="store_true")
    a(
        "--supervised",
        action="store_true",
        help="train on the *_flow.h5 labels of the training recordings (default: self-supervised, labels ignored)",
    )
    a("--val-dataset-path", default="", help="labelled recordings (*_td.dat + *_flow.h5) for validation")
    a("--feature-extractor", default="eminet")
    a("--depth", type=int, default=1, help="recurrent depth (midinet2)")
    a("--feature-base", type=int, default=16)
    a("--scales", type=int, default=3, help="number of encoder/decoder levels (flow scales)")
    a("--input-normalization", choices=("none", "nonzero_mean"), default=None,
      help="rescale every window so its non-zero cells average 0.15 ('nonzero_mean'), for network and loss alike "
           "(default: a checkpoint's setting, else 'none')")  # fmt: skip
    a("--rnn-cell", default="lstm", choices=("lstm", "gru"))
    a("--curriculum-param", type=float, default=1.414)
    a(
        "--loss-weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"override one self-supervised loss weight (repeatable; names: {', '.join(LOSS_WEIGHTS)})",
    )
    a("--delta-t", type=int, default=None, help="bin length in µs for event files (tensor files: stored)")
    a("--preprocess", default="event_cube", help="preprocessing of event files (tensor files: stored)")
    a("--fast-dev-run", action="store_true")
    a("--accelerator", default="auto")
    a("--devices", default="auto")
    a("--num-nodes", type=int, default=1)
    a("--strategy", default="auto")
    a("--seed", type=int, default=0)


def infer_preprocessing(args) -> dict:
    """Preprocessing, delta_t, ``array_dim`` and kwargs from the first training file (tensor or events)."""
    from evflow.data.sources import TensorFileSource, is_tensor_file, list_recordings, open_source
    from evflow.errors import ConfigError
    from evflow.preprocessing import get_preprocess_dict, get_preprocess_kwargs_keys

    files = list_recordings(Path(args.dataset_path) / "train")
    if not files:
        raise ConfigError(f"no recordings in {Path(args.dataset_path) / 'train'}")
    if is_tensor_file(files[0]):
        src = TensorFileSource(files[0])
        preprocess, delta_t, channels = src.preprocess or args.preprocess, src.delta_t, src.channels
        height, width = src.stored_height, src.stored_width
        keys = get_preprocess_kwargs_keys(preprocess) if preprocess in get_preprocess_dict() else []
        kwargs = {k: src.attrs[k] for k in keys if k in src.attrs}
    else:
        preprocess, delta_t, kwargs = args.preprocess, args.delta_t or 50000, {}
        channels = get_preprocess_dict()[preprocess]["cin"]
        src = open_source(files[0], preprocess)
        height, width = src.height, src.width
    if args.height_width:
        if args.height_width[0] > height or args.height_width[1] > width:
            raise ConfigError(f"--height-width {args.height_width} exceeds the data size {height}x{width}")
        height, width = args.height_width
    if height % 4 or width % 4:
        raise ConfigError(f"height and width must be multiples of 4 for the U-Net, got {height}x{width}")
    if args.delta_t and args.delta_t != delta_t:
        raise ConfigError(f"--delta-t {args.delta_t} differs from the tensor files' delta_t {delta_t}")
    array_dim = [args.num_tbins, int(channels), int(height), int(width)]
    return {"preprocess": preprocess, "delta_t": int(delta_t), "array_dim": array_dim, "preprocess_kwargs": kwargs}


def parse_loss_weights(items, base: dict | None = None) -> dict:
    """``base`` (default: the default loss weights) updated by ``NAME=VALUE`` overrides (0 disables a term)."""
    from evflow.errors import ConfigError

    weights = {**LOSS_WEIGHTS, **(base or {})}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or name not in LOSS_WEIGHTS:
            raise ConfigError(f"--loss-weight {item!r}: expected NAME=VALUE with NAME in {sorted(LOSS_WEIGHTS)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ConfigError(f"--loss-weight {item!r}: {value!r} is not a number") from None
        if not weights[name] >= 0 or weights[name] == float("inf"):
            raise ConfigError(f"--loss-weight {item!r}: weights must be finite and >= 0")
    return weights


def build_config(args) -> dict:
    """The effective configuration (saved as ``config.json``)."""
    prep = infer_preprocessing(args)
    network_kwargs = {"base": args.feature_base, "scales": args.scales, "separable": True, "rnn_cell": args.rnn_cell}
    if args.feature_extractor == "midinet2":
        network_kwargs["depth"] = args.depth
    if args.input_normalization is not None:
        network_kwargs["input_normalization"] = args.input_normalization
    on_cpu = args.cpu or args.accelerator == "cpu"
    precision = "32" if args.cpu else args.precision or ("32" if on_cpu or not _has_gpu() else "16-mixed")
    return {
        "model": {
            **{k: prep[k] for k in ("delta_t", "preprocess", "array_dim", "preprocess_kwargs")},
            "learning_rate": args.lr,
            "loss_weights": parse_loss_weights(getattr(args, "loss_weight", ())),
            "feature_extractor_name": args.feature_extractor,
            "network_kwargs": network_kwargs,
            "draw_dense": args.draw_dense,
            "lr_schedule": args.lr_schedule,
        },
        "data": {
            **{k: prep[k] for k in ("delta_t", "preprocess", "array_dim", "preprocess_kwargs")},
            "batch_size": args.batch_size,
            "val_batch_size": args.val_batch_size,
            "num_workers": args.num_workers,
            "data_aug": not args.no_data_aug,
            "supervised": bool(getattr(args, "supervised", False)),
            "dataset_path": os.path.abspath(args.dataset_path),
            "val_dataset_path": os.path.abspath(args.val_dataset_path) if args.val_dataset_path else "",
        },
        "trainer": {
            "accelerator": "cpu" if args.cpu else args.accelerator,
            "devices": _devices(args.devices),
            "num_nodes": args.num_nodes,
            "strategy": args.strategy,
            "precision": precision,
            "max_epochs": args.max_epochs,
            "max_steps": args.max_steps,
            "accumulate_grad_batches": args.accumulate_grad_batches,
            "check_val_every_n_epoch": args.val_every,
            "limit_train_batches": args.limit_train_batches,
            "limit_val_batches": args.limit_val_batches,
            "limit_test_batches": args.limit_test_batches,
            "fast_dev_run": args.fast_dev_run,
        },
        "callback": {
            "curriculum_param": args.curriculum_param,
            "video_result_every_n_epochs": args.demo_every,
            "mask_flow_by_input": not args.show_flow_everywhere,
            "demo_num_batches": args.demo_num_batches,
            "save_every": args.save_every,
        },
        "seed": args.seed,
    }


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _devices(value):
    return int(value) if str(value).isdigit() else value


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def run(args) -> int:
    """Train, evaluate (``--just-val``) or render a demo (``--just-demo``)."""
    from evflow.cli.train_runner import run_training

    return run_training(args, build_config(args))
