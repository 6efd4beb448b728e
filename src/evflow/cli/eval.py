"""``evflow eval``: score estimated flow against ground truth and the events, next to training-free baselines.

For each interval of the estimate: GT rescaled/propagated to it (:func:`evflow.metrics.gt_for_interval`),
valid pixels = finite GT, ``|gt| > 0`` and ≥ 1 event; AEE, relative AEE, % outliers, AAE on those pixels;
FWL and RSAT from the events. The same numbers are computed for each baseline (:mod:`evflow.baselines`).
Outputs ``metrics.json`` (per interval, per recording, overall) and ``aee.png`` (per-interval AEE plot).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

HELP = "Score estimated flow vs. ground truth and events (AEE, outliers, AAE, FWL, RSAT) beside baselines."
METRICS = ("aee", "aee_rel", "outliers_pct", "aae_deg", "fwl", "rsat")
EVENT_SUFFIXES = (".dat", ".raw", ".h5", ".hdf5", ".npy", ".npz")


def add_arguments(parser) -> None:
    """Declare the command-line options of ``evflow eval``."""
    parser.add_argument("estimated", help="estimated flow file (*_flow.h5) or a directory of NAME_flow.h5 files")
    parser.add_argument("--gt", required=True, help="ground-truth flow file, or a directory of NAME_flow.h5")
    parser.add_argument(
        "--events",
        help="events file (.dat, .raw, .h5, .npy...; required for a single file), or in directory mode the folder "
        "holding NAME_td.* (default: the GT folder)",
    )
    parser.add_argument(
        "--output-dir", default="evflow_eval", help="where metrics.json and aee.png are written (default: evflow_eval)"
    )
    parser.add_argument("--baselines", default="zero,dis,cmax", help="comma-separated baselines ('' for none)")
    parser.add_argument(
        "--fwl-sigma", type=float, default=0.0, help="Gaussian blur (px) of both FWL images (0 = reference FWL)"
    )


def _recordings(args) -> list[tuple[str, Path, Path, Path]]:
    from evflow.errors import ConfigError, EventFileError

    est, gt = Path(args.estimated), Path(args.gt)
    if not est.is_dir():
        if args.events is None:
            raise ConfigError("--events is required when evaluating a single flow file")
        return [(est.name.removesuffix(".h5").removesuffix("_flow"), est, gt, Path(args.events))]
    if not gt.is_dir():
        raise ConfigError(f"{est} is a directory, so --gt must be one too (got {gt})")
    pairs = []
    for path in sorted(est.glob("*_flow.h5")):
        name = path.name.removesuffix("_flow.h5")
        events_dir = Path(args.events) if args.events else gt
        found = [p for p in sorted(events_dir.glob(f"{name}_td.*")) if p.suffix in EVENT_SUFFIXES]
        if not found:
            raise EventFileError(events_dir / f"{name}_td.dat", "events file for this recording not found")
        pairs.append((name, path, gt / path.name, found[0]))
    if not pairs:
        raise EventFileError(est, "no *_flow.h5 file in this directory")
    return pairs


class EventWindow:
    """Sliding window over a time-sorted stream of event chunks, with bounded memory.

    ``get(start, end)`` returns the events of ``[start, end)``; successive calls must have non-decreasing
    ``start`` (older events are dropped). Chunks are validated against the sensor size as they arrive.

    Args:
        chunks: iterable of EVENT_DTYPE arrays in time order (e.g. an :class:`evflow.io.EventsIterator`).
        height, width: sensor size the events must fit.
        what: name used in error messages (the file).
    """

    def __init__(self, chunks, height: int, width: int, what: str):
        from evflow.io import empty_events

        self._chunks, self._buf, self._done = iter(chunks), empty_events(), False
        self.height, self.width, self.what, self.count = height, width, what, 0

    def _pull(self) -> None:
        from evflow.errors import EventValueError
        from evflow.io import validate_events

        chunk = next(self._chunks, None)
        if chunk is None:
            self._done = True
            return
        validate_events(chunk, self.height, self.width, check_sorted=True, what=self.what)
        if len(chunk) and len(self._buf) and chunk["t"][0] < self._buf["t"][-1]:
            raise EventValueError(f"{self.what}: timestamps go backwards after event {self.count} (t={chunk['t'][0]})")
        self.count += len(chunk)
        self._buf = np.concatenate([self._buf, chunk])

    def get(self, start: int, end: int) -> np.ndarray:
        """Events of ``[start, end)`` (a view; valid until the next call)."""
        while not self._done and (len(self._buf) == 0 or self._buf["t"][-1] < end):
            self._pull()
        self._buf = self._buf[np.searchsorted(self._buf["t"], start) :]
        return self._buf[: np.searchsorted(self._buf["t"], end)]


def open_recording_events(path: Path, height: int, width: int, chunk_events: int = 1_000_000) -> EventWindow:
    """Stream an event file (:class:`evflow.io.EventsIterator`) checked against a ``height`` x ``width`` flow.

    Raises:
        EventFileError: missing or unreadable file. ShapeError: the file's sensor size differs from the flow's.
        EventValueError (while reading): events outside the sensor or going back in time.
    """
    from evflow.errors import EventFileError, ShapeError
    from evflow.io import EventsIterator

    if not path.is_file():
        raise EventFileError(path, "events file not found")
    stream = EventsIterator(path, mode="n_events", n_events=chunk_events)
    if stream.height is not None and (stream.height, stream.width) != (height, width):
        raise ShapeError(f"resolution mismatch: {path} is {stream.height}x{stream.width}, the flow is {height}x{width}")
    return EventWindow(stream, height, width, str(path))


def _check_estimate(path: Path, est, gt) -> None:
    from evflow.errors import EventFileError, ShapeError

    if (est.height, est.width) != (gt.height, gt.width):
        raise ShapeError(
            f"resolution mismatch: estimate {path} is {est.height}x{est.width}, GT is {gt.height}x{gt.width}"
        )
    bad = np.flatnonzero(~np.isfinite(est.flow).reshape(len(est.flow), -1).all(axis=1))
    if len(bad):
        raise EventFileError(path, f"estimated flow has non-finite values in interval {int(bad[0])}")


def evaluate_interval(events, flows: dict, gt_flow, start_ts: int, end_ts: int, fwl_sigma: float = 0.0) -> dict:
    """Metrics of every flow in ``flows`` (name → ``(2, H, W)``) on one interval; ``gt_flow`` may be None."""
    from evflow.metrics import event_mask, flow_errors, flow_warp_loss, rsat, valid_mask

    height, width = next(iter(flows.values())).shape[1:]
    out = {"start_ts": int(start_ts), "end_ts": int(end_ts), "n_events": len(events), "gt_covered": gt_flow is not None}
    if gt_flow is not None:
        mask = valid_mask(gt_flow, event_mask(events, height, width))
        flows = {**flows, "gt": np.where(np.isfinite(gt_flow), gt_flow, 0.0)}
    for name, flow in flows.items():
        m = flow_errors(flow, gt_flow, mask) if gt_flow is not None and name != "gt" else {}
        m["fwl"] = flow_warp_loss(events, flow, start_ts, end_ts, sigma=fwl_sigma)
        m["rsat"] = rsat(events, flow, start_ts, end_ts)
        out[name] = m
    return out


def evaluate_recording(est, gt, events: EventWindow, baselines: dict, fwl_sigma: float = 0.0) -> list[dict]:
    """Per-interval metrics of the estimate and the baselines (``FlowFile`` inputs, streamed events).

    Baselines receive the events of ``[s - d/2, e + d/2)`` around each interval ``[s, e)`` of length ``d``.
    """
    from evflow.metrics import gt_for_interval

    rows = []
    half_max = int((est.end_ts - est.start_ts).max()) // 2 if len(est.start_ts) else 0
    for i, (s, e) in enumerate(zip(est.start_ts.tolist(), est.end_ts.tolist())):
        context = events.get(s - half_max, e + (e - s) // 2)
        t = context["t"]
        ev = context[np.searchsorted(t, s) : np.searchsorted(t, e)]
        flows = {"estimate": est.flow[i]}
        flows.update({name: fn(context, s, e, est.height, est.width) for name, fn in baselines.items()})
        gt_i = gt_for_interval(gt.flow, gt.start_ts, gt.end_ts, s, e)
        rows.append(evaluate_interval(ev, flows, gt_i, s, e, fwl_sigma))
    return rows


def summarize(rows: list[dict], methods: list[str]) -> dict:
    """Mean of each metric over the intervals where it is defined, per method (plus ``n_valid`` totals)."""
    summary = {}
    for name in methods:
        stats = {}
        for key in METRICS:
            vals = [r[name][key] for r in rows if name in r and key in r[name] and np.isfinite(r[name][key])]
            stats[key] = float(np.mean(vals)) if vals else math.nan
        stats["n_valid"] = int(sum(r[name].get("n_valid", 0) for r in rows if name in r))
        stats["n_intervals"] = sum(1 for r in rows if name in r and r[name].get("n_valid", 0) > 0)
        summary[name] = stats
    return summary


def _clean(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def run(args) -> int:
    """Evaluate every recording, write ``metrics.json`` and ``aee.png``, print a summary table."""
    from evflow.baselines import get_baseline
    from evflow.data.flow_file import read_flow_file

    names = [n.strip() for n in args.baselines.split(",") if n.strip()]
    baselines = {n: get_baseline(n) for n in names}
    methods = ["estimate", *names, "gt"]
    report = {"format_version": 1, "methods": methods, "fwl_sigma": args.fwl_sigma, "recordings": []}
    all_rows = []
    for name, est_path, gt_path, ev_path in _recordings(args):
        est, gt = read_flow_file(est_path), read_flow_file(gt_path)
        _check_estimate(est_path, est, gt)
        events = open_recording_events(ev_path, est.height, est.width)
        rows = evaluate_recording(est, gt, events, baselines, args.fwl_sigma)
        all_rows += rows
        files = {"estimate": str(est_path), "gt": str(gt_path), "events": str(ev_path)}
        report["recordings"].append({"name": name, **files, "summary": summarize(rows, methods), "intervals": rows})
    report["overall"] = summarize(all_rows, methods)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "metrics.json", json.dumps(_clean(report), indent=1).encode())
    _write_atomic(out_dir / "aee.png", plot_aee(report, ["estimate", *names]))
    _print_table(report["overall"], methods)
    print(f"wrote {out_dir / 'metrics.json'} and {out_dir / 'aee.png'}")
    return 0


def plot_aee(report: dict, methods: list[str]) -> bytes:
    """PNG bytes: one panel per recording with the per-interval AEE of each method."""
    import cv2

    from evflow.flow.viz import plot_series

    panels = []
    for rec in report["recordings"]:
        series = {m: [r[m].get("aee", math.nan) if m in r else math.nan for r in rec["intervals"]] for m in methods}
        panels.append(plot_series(series, title=rec["name"], y_label="AEE (px) per interval"))
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.concatenate(panels, axis=0), cv2.COLOR_RGB2BGR))
    return png.tobytes()


def _print_table(overall: dict, methods: list[str]) -> None:
    print(f"{'method':<10}" + "".join(f"{k:>13}" for k in METRICS))
    for name in methods:
        print(f"{name:<10}" + "".join(f"{overall[name][k]:>13.4g}" for k in METRICS))
