"""``evflow info FILE...``: format, resolution, event count, duration, mean/peak rate, polarity balance."""

from __future__ import annotations

import json

FORMAT_LABELS = {
    "dat": "Prophesee DAT",
    "evt2": "Prophesee RAW EVT 2.0",
    "evt21": "Prophesee RAW EVT 2.1",
    "evt3": "Prophesee RAW EVT 3.0",
    "hdf5": "evflow HDF5 events",
    "dsec-hdf5": "DSEC HDF5 events",
    "npy": "numpy .npy",
    "npz": "numpy .npz",
}
HELP = "Describe event recordings: format, resolution, events, duration, mean/peak rate, polarity balance."


def add_arguments(parser) -> None:
    """Declare the command-line options of ``evflow info``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="event files (.dat .raw .h5 .hdf5 .npy .npz)")
    parser.add_argument("--peak-window", type=int, default=1000, help="window (µs) for the peak rate (default 1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file instead of text")


def _format_stats(s) -> str:
    size = f"{s.width} x {s.height} (width x height)" if s.height is not None else "unknown (not in the file)"
    if s.x_max is not None and s.height is None:
        size += f"; events span x <= {s.x_max}, y <= {s.y_max}"
    label = FORMAT_LABELS.get(s.format, "?")
    lines = [s.path, f"  format       {s.format} ({label})", f"  resolution   {size}", f"  events       {s.count:,}"]
    if s.count:
        lines.append(f"  time         {s.t_first:,} .. {s.t_last:,} µs (duration {s.duration_us / 1e3:,.3f} ms)")
        mean = "n/a (single timestamp)" if s.mean_rate is None else f"{s.mean_rate / 1e6:.3f} Mev/s"
        lines.append(f"  mean rate    {mean}")
        lines.append(f"  peak rate    {s.peak_rate / 1e6:.3f} Mev/s ({s.peak_window_us} µs windows)")
        on = 100 * s.on_fraction
        lines.append(f"  polarity     {on:.1f} % ON / {100 - on:.1f} % OFF")
    return "\n".join(lines)


def run(args) -> int:
    """Print the statistics of every file; returns 0 (errors raise EvflowError)."""
    from evflow.io.stats import recording_stats

    for i, path in enumerate(args.files):
        stats = recording_stats(path, peak_window_us=args.peak_window)
        if args.json:
            print(json.dumps(stats.as_dict()))
        else:
            print(("\n" if i else "") + _format_stats(stats))
    return 0
