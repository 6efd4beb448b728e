"""``make demo``: the main job end to end on a fresh synthetic recording, with the bundled model.

1. synthesise a short recording from the *validation* images (``evflow.synth``: events + exact GT flow), at
   the model's input size and ``delta_t``;
2. ``evflow infer default`` on it: flow HDF5 + mp4 video (arrows);
3. ``evflow eval`` against its ground truth with the baselines (zero, DIS, contrast maximisation);
4. print the metrics next to the baselines and the output paths.

The model is the bundled ``evflow/assets/flow_model_default.ckpt``; ``EVFLOW_DEMO_CKPT=path.ckpt`` (or
``--checkpoint``) uses another one. Without either, the demo stops with a clear message (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from evflow.errors import ConfigError, EvflowError

SHOWN = ("aee", "aee_rel", "outliers_pct", "aae_deg", "fwl", "rsat")


def demo_checkpoint(explicit: str | None = None) -> Path:
    """The checkpoint of the demo: ``explicit``, else ``$EVFLOW_DEMO_CKPT``, else the bundled model.

    Raises:
        ConfigError: none of them exists (the message says how to provide one).
    """
    from evflow.flow.bundled import default_checkpoint_path, resolve_checkpoint

    choice = explicit or os.environ.get("EVFLOW_DEMO_CKPT")
    if choice:
        return resolve_checkpoint(choice)
    if default_checkpoint_path().is_file():
        return default_checkpoint_path()
    raise ConfigError(
        f"the demo needs the bundled flow model ({default_checkpoint_path()}), which is not shipped in this build "
        "yet. Train one (`evflow synth data && evflow precompute ... && evflow train ...`) and run "
        "`EVFLOW_DEMO_CKPT=path/to/model.ckpt make demo`."
    )


def run_demo(out_dir, checkpoint=None, duration_us: int = 2_000_000, seed: int = 0,
             baselines: str = "zero,dis,cmax", size=None, progress: bool = True) -> dict:  # fmt: skip
    """Run the four steps; returns ``{"metrics": overall dict, "paths": {...}, "seconds": float}``.

    Args:
        out_dir: output folder (created).
        checkpoint: checkpoint path (see :func:`demo_checkpoint`).
        duration_us: length of the synthetic recording.
        seed: synthesis seed.
        baselines: passed to ``evflow eval --baselines``.
        size: ``(height, width)`` of the recording (default: the model's input size).
        progress: show progress bars.
    """
    from evflow.cli.main import main as evflow
    from evflow.flow.model_io import load_flow_model
    from evflow.synth.dataset import SequenceConfig
    from evflow.synth.generate import generate_dataset

    t0 = time.perf_counter()
    ckpt = demo_checkpoint(checkpoint)
    hp = load_flow_model(ckpt).hparams
    height, width = size or hp.array_dim[2:]
    out = Path(out_dir)
    config = SequenceConfig(height=height, width=width, duration_us=duration_us, delta_t=int(hp.delta_t))
    print(f"[1/3] synthesising a {duration_us / 1e6:g} s {height}x{width} recording from validation images")
    events, gt = generate_dataset(out / "data", {"train": 0, "val": 1}, config, seed, None, progress)[0]
    paths = {
        "events": events, "gt_flow": gt, "flow": out / "estimate_flow.h5", "video": out / "estimate.mp4",
        "metrics": out / "eval" / "metrics.json", "plot": out / "eval" / "aee.png", "checkpoint": ckpt,
    }  # fmt: skip
    print(f"[2/3] evflow infer {ckpt.name} {events.name}")
    quiet = [] if progress else ["--no-progress"]
    _step(evflow(["infer", str(ckpt), str(events), "--no-display", "-s", str(paths["flow"]),
                  "-w", str(paths["video"]), *quiet]), "infer")  # fmt: skip
    print("[3/3] evflow eval against the ground truth, with baselines")
    _step(evflow(["eval", str(paths["flow"]), "--gt", str(gt), "--events", str(events),
                  "--output-dir", str(out / "eval"), "--baselines", baselines]), "eval")  # fmt: skip
    overall = json.loads(paths["metrics"].read_text())["overall"]
    return {"metrics": overall, "paths": paths, "seconds": time.perf_counter() - t0}


def _step(rc: int, name: str) -> None:
    if rc != 0:
        raise EvflowError(f"demo: `evflow {name}` failed (exit code {rc})")


def format_report(result: dict) -> str:
    """The model's metrics beside the baselines, and where the outputs are."""
    rows = [f"{'method':<12}" + "".join(f"{k:>14}" for k in SHOWN)]
    for name, stats in result["metrics"].items():
        label = "model" if name in ("estimate", "est") else name
        cells = "".join(f"{_fmt(stats.get(k)):>14}" for k in SHOWN)
        rows.append(f"{label:<12}{cells}")
    rows.append("")
    rows += [f"{key:>10}: {path}" for key, path in result["paths"].items()]
    rows.append(f"demo took {result['seconds']:.0f} s")
    return "\n".join(rows)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the demo (``python -m evflow.demo``)."""
    parser = argparse.ArgumentParser(prog="python -m evflow.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", default="evflow_demo", help="where everything is written")
    parser.add_argument("--checkpoint", default=None, help="model (default: $EVFLOW_DEMO_CKPT or the bundled one)")
    parser.add_argument("--duration-s", type=float, default=2.0, help="length of the synthetic recording")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        result = run_demo(args.output_dir, args.checkpoint, int(args.duration_s * 1e6), args.seed)
    except ConfigError as exc:
        print(f"evflow demo: {exc}", file=sys.stderr)
        return 2
    except EvflowError as exc:
        print(f"evflow demo: error: {exc}", file=sys.stderr)
        return 1
    print("\n" + format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
