"""``evflow convert IN OUT``: convert an event file between formats (by extension), streaming and atomic."""

from __future__ import annotations

import os

HELP = "Convert events between .dat, .raw (EVT 2.0/2.1/3.0), .h5 (evflow/DSEC), .npy, .npz, streaming."


def add_arguments(parser) -> None:
    """Declare the command-line options of ``evflow convert``."""
    parser.add_argument("input", help="input event file")
    parser.add_argument("output", help="output file; its extension picks the format (.raw = EVT 3.0)")
    parser.add_argument("--format", help="output format, e.g. evt2 or evt21 for a .raw (see evflow.io.list_formats)")
    parser.add_argument("--height", type=int, help="sensor height, when the input does not state it")
    parser.add_argument("--width", type=int, help="sensor width, when the input does not state it")
    parser.add_argument("--start-ts", type=int, default=0, help="drop events before this time (µs)")
    parser.add_argument("--max-duration", type=int, help="keep this many µs from the first event")


def run(args) -> int:
    """Stream the input into the output writer; returns 0 (errors raise EvflowError)."""
    from evflow.errors import ConfigError
    from evflow.io import EventsIterator, open_writer

    if os.path.abspath(args.input) == os.path.abspath(args.output):
        raise ConfigError(f"input and output are the same file: {args.input}")
    if (args.height is None) != (args.width is None):
        raise ConfigError("give both --height and --width, or neither")
    it = EventsIterator(
        args.input,
        mode="n_events",
        n_events=1 << 20,
        start_ts=args.start_ts,
        max_duration=args.max_duration,
        height=args.height,
        width=args.width,
    )
    with open_writer(args.output, it.height, it.width, format=args.format) as writer:
        for ev in it:
            writer.write(ev)
    size = f"{it.width}x{it.height}" if it.height is not None else "unknown size"
    print(f"wrote {writer.count:,} events ({size}) to {args.output} as {writer.format}")
    return 0
