"""``evflow infer CHECKPOINT INPUT``: flow of a recording, streamed window by window, shown/saved/written.

The checkpoint alone defines the preprocessing and ``delta_t`` (``default`` = the bundled model). INPUT is an
event file (DAT, RAW EVT2/2.1/3, HDF5 events, npy/npz) or an HDF5 tensor file (checked against the model).
Outputs: ``-s`` a ``*_flow.h5`` file (reference §14 layout, absolute ``flow_start_ts``/``flow_end_ts``),
``-w`` an mp4 video, and an OpenCV window unless ``--no-display`` (the default when there is no screen).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HELP = "Estimate optical flow on a recording with a trained model (video, flow HDF5, display)."


def add_arguments(parser) -> None:
    """Declare the options of ``evflow infer``."""
    a = parser.add_argument
    a("checkpoint", help="checkpoint written by `evflow train`, or 'default' / 'supervised' for a bundled model")
    a("input", help="event file (.dat, .raw, .h5 events, .npy/.npz) or HDF5 tensor file")
    a("--delta-t", type=int, default=None, help="window length in µs (default: the checkpoint's)")
    a("--start-ts", type=int, default=0, help="start time in µs (earlier data skipped)")
    a("--max-duration", type=int, default=None, help="process at most this many µs")
    a("--height-width", type=int, nargs=2, default=None, metavar=("H", "W"), help="network input size")
    a("--mode", choices=("arrows", "sharp", "dense"), default="arrows", help="visualisation (default arrows)")
    a("--max-flow", type=float, default=10.0, help="dense mode: px per window at full colour (fixed scale)")
    a("--show-flow-everywhere", action="store_true", help="draw flow also where the window has no events")
    a("-s", "--save-flow-hdf5", default=None, metavar="PATH", help="write the flow to this *_flow.h5 file")
    a("-w", "--write-video", default=None, metavar="PATH.mp4", help="write the visualisation to this mp4")
    a("--no-display", action="store_true", help="do not open a window (default when there is no screen)")
    a("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1... (default auto)")
    a(
        "--backend",
        choices=("fast", "torch", "onnx"),
        default="fast",
        help="fast (default: fused 4-D channels_last network, any device), torch (the eager network) or onnx "
        "(ONNX Runtime on the CPU; needs onnxruntime); same flows to float rounding",
    )
    a("--batch-size", type=int, default=8, help="windows per network call (state still carried in order)")
    a("--no-progress", action="store_true", help="hide the progress bar")


def has_screen() -> bool:
    """Whether a window can be opened (a display server is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args) -> int:
    """Run inference as described by ``args``; returns the exit code."""
    from evflow.errors import ConfigError
    from evflow.flow.inference import FlowInference, select_device
    from evflow.flow.inference_render import FrameRenderer
    from evflow.flow.inference_sources import TensorWindows

    if args.write_video and Path(args.write_video).suffix.lower() != ".mp4":
        raise ConfigError(f"--write-video must end in .mp4, got {args.write_video}")
    device = "cpu" if args.backend == "onnx" and args.device == "auto" else args.device
    engine = FlowInference.from_checkpoint(args.checkpoint, select_device(device), args.backend)
    windows = engine.open(args.input, args.delta_t, args.start_ts, args.max_duration, args.height_width)
    display = not args.no_display and has_screen()
    if args.mode == "sharp" and isinstance(windows, TensorWindows):
        raise ConfigError("--mode sharp needs events: give an event file, not a tensor file")
    renderer = None
    if args.write_video or display:
        renderer = FrameRenderer(args.mode, engine.preprocess, args.max_flow, None, not args.show_flow_everywhere)
    outputs = _Outputs(args, engine, windows, display)
    count, t0 = 0, time.perf_counter()
    try:
        for result in engine.run(windows, args.batch_size, progress=not args.no_progress):
            outputs.add(result, renderer(result) if renderer else None)
            count += 1
    except BaseException:
        outputs.abort()
        raise
    written = outputs.close()
    elapsed = time.perf_counter() - t0
    print(f"{count} windows of {windows.delta_t} µs in {elapsed:.1f} s ({count / max(elapsed, 1e-9):.1f} windows/s)")
    for path in written:
        print(f"wrote {path}")
    return 0


class _Outputs:
    """The flow file, the video and the window of one ``evflow infer`` run (created on first result)."""

    def __init__(self, args, engine, windows, display: bool):
        self.args, self.engine, self.windows, self.display = args, engine, windows, display
        self.flow_writer = self.video = None

    def add(self, result, frame) -> None:
        if self.args.save_flow_hdf5:
            if self.flow_writer is None:
                self.flow_writer = self._open_flow(result.flow.shape[1:])
            self.flow_writer.append(result.flow, result.start_ts, result.end_ts)
        if frame is not None and self.args.write_video:
            if self.video is None:
                from evflow.flow.demo_video import VideoWriter

                self.video = VideoWriter(self.args.write_video, 1e6 / self.windows.delta_t)
            self.video.write(frame)
        if frame is not None and self.display:
            self._show(frame)

    def _open_flow(self, size):
        from evflow.data.flow_file import FlowFileWriter

        e = self.engine
        attrs = {"events_to_tensor": e.preprocess, "checkpoint_path": Path(str(e.checkpoint_path)).name,
                 "input_file_name": Path(self.args.input).name, "mode": "delta_t",
                 "sensor_height": int(self.windows.sensor[0]), "sensor_width": int(self.windows.sensor[1])}  # fmt: skip
        return FlowFileWriter(self.args.save_flow_hdf5, *size, self.windows.delta_t, **attrs)

    def _show(self, frame) -> None:
        import cv2

        try:
            cv2.imshow("evflow infer", frame[..., ::-1])
            cv2.waitKey(1)
        except cv2.error:
            print("cannot open a window (headless OpenCV?); continuing with --no-display")
            self.display = False

    def close(self) -> list[Path]:
        written = []
        if self.flow_writer is not None:
            written.append(self.flow_writer.close())
        elif self.args.save_flow_hdf5:
            print("no window with data: no flow file written")
        if self.video is not None:
            written.append(self.video.close())
        return written

    def abort(self) -> None:
        if self.flow_writer is not None:
            self.flow_writer.abort()
        if self.video is not None:
            try:
                self.video.writer.close()
            finally:
                self.video.tmp.unlink(missing_ok=True)
