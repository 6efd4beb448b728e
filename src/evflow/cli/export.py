"""``evflow export CHECKPOINT OUT_DIR``: TorchScript + ONNX + JSON sidecar, checked against the eager network."""

from __future__ import annotations

HELP = "Export a flow checkpoint to TorchScript and ONNX (+ JSON sidecar), checked against eager PyTorch."


def add_arguments(parser) -> None:
    """Declare the options of ``evflow export``."""
    a = parser.add_argument
    a("checkpoint", help="checkpoint written by `evflow train`, or 'default' / 'supervised' for a bundled model")
    a("output_dir", help="folder receiving model_flow.ptjit, model_flow.onnx and info_flow.json")
    a("--height-width", type=int, nargs=2, default=None, metavar=("H", "W"),
      help="input size of the exported model (default: the checkpoint's)")  # fmt: skip
    a("--no-onnx", action="store_true", help="TorchScript only")
    a("--opset", type=int, default=17, help="ONNX opset (default 17)")
    a("--steps", type=int, default=4, help="windows compared to eager, before and after a state reset")
    a("--rtol", type=float, default=1e-3, help="relative tolerance of the check")
    a("--atol", type=float, default=1e-4, help="absolute tolerance of the check (px)")


def run(args) -> int:
    """Export as described by ``args``; returns the exit code."""
    from evflow.errors import ConfigError
    from evflow.export import export_model
    from evflow.flow.bundled import resolve_checkpoint
    from evflow.flow.model_io import load_flow_model

    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    path = resolve_checkpoint(args.checkpoint)
    model = load_flow_model(path)
    info = export_model(model, args.output_dir, args.height_width, not args.no_onnx, args.opset, args.steps,
                        args.rtol, args.atol, path)  # fmt: skip
    checks = info["checks"]
    print(f"input {info['input_size']} ({info['preprocess']}, delta_t {info['delta_t']} µs)")
    print(
        f"TorchScript vs eager: max |diff| {checks['torchscript_max_abs_diff']:.3g} px over {args.steps} steps + reset"
    )
    if "onnx_max_abs_diff" in checks:
        print(f"ONNX vs eager:        max |diff| {checks['onnx_max_abs_diff']:.3g} px (state inputs: "
              f"{', '.join(info['onnx']['inputs'][1:])})")  # fmt: skip
    print(f"wrote {args.output_dir}")
    return 0
