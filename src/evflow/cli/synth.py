"""``evflow synth``: generate synthetic event recordings with exact ground-truth flow."""

from __future__ import annotations

import argparse

HELP = "Generate synthetic event recordings (DAT) with exact dense ground-truth flow (train/ and val/)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``evflow synth``."""
    parser.add_argument("output_dir", help="destination folder (train/ and val/ are created inside)")
    parser.add_argument("--num-sequences", type=int, default=None, help="total number of sequences (default 16)")
    parser.add_argument("--duration-s", type=float, default=2.0, help="length of each sequence in seconds")
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--delta-t", type=int, default=50000, help="flow interval in µs")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same bytes)")
    parser.add_argument("--objects", type=int, default=2, help="independently moving objects per sequence")
    parser.add_argument("--noise", choices=("clean", "noisy"), default="clean", help="event simulator preset")
    parser.add_argument("--split", default=None, help="sequences per split, e.g. 'train=12,val=4' (default 3:1)")
    parser.add_argument("--max-speed", type=float, default=240.0, help="fastest layer speed in pixels per second")
    parser.add_argument("--pause-probability", type=float, default=0.25, help="share of motion segments paused")
    parser.add_argument("--precompute", default=None, metavar="PREPROCESSING",
                        help="also write HDF5 tensor files with this preprocessing (e.g. event_cube)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (same output for any value)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Generate the dataset described by ``args``; returns the exit code."""
    from evflow.errors import ConfigError
    from evflow.synth.dataset import SequenceConfig
    from evflow.synth.generate import generate_dataset, parse_split

    if args.duration_s <= 0:
        raise ConfigError(f"--duration-s must be > 0, got {args.duration_s}")
    counts = parse_split(args.split, args.num_sequences)
    config = SequenceConfig(
        height=args.height,
        width=args.width,
        duration_us=int(round(args.duration_s * 1e6)),
        delta_t=args.delta_t,
        num_objects=args.objects,
        max_speed=args.max_speed,
        pause_probability=args.pause_probability,
        noise=args.noise,
    )
    paths = generate_dataset(
        args.output_dir, counts, config, args.seed, args.precompute, not args.no_progress, args.workers
    )
    print(f"wrote {len(paths)} sequences to {args.output_dir} ({counts['train']} train, {counts['val']} val)")
    return 0
