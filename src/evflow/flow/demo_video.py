"""Demo videos of a flow model on a sequential loader: a grid of the batch rows, arrows or colour wheel."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch


def grid_shape(batch_size: int) -> tuple[int, int]:
    """Tile rows and columns for ``batch_size`` samples: ``nrows = 2**((bit_length(B) - 1) // 2)`` (B=4 → 2×2)."""
    nrows = 2 ** ((int(batch_size).bit_length() - 1) // 2)
    return nrows, math.ceil(batch_size / nrows)


class VideoWriter:
    """mp4 writer through imageio-ffmpeg (libx264, yuv420p), written to a temporary name then renamed.

    Args:
        path: output ``.mp4``.
        fps: frames per second.
    """

    def __init__(self, path, fps: float):
        import imageio.v2 as imageio

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{os.getpid()}{self.path.suffix}")
        self.writer = imageio.get_writer(
            self.tmp, format="FFMPEG", fps=max(1.0, float(fps)), codec="libx264", quality=8,
            macro_block_size=1, pixelformat="yuv420p", ffmpeg_log_level="error",
        )  # fmt: skip

    def write(self, frame: np.ndarray) -> None:
        """Append an ``(H, W, 3)`` uint8 RGB frame (odd sizes are padded to even)."""
        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)))
        self.writer.append_data(np.ascontiguousarray(frame))

    def close(self) -> Path:
        """Finish the file and move it to its final name."""
        self.writer.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (nothing is left at the output path)."""
        try:
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


@torch.no_grad()
def render_demo(model, loader, path=None, num_batches=100, mask_by_input=True, draw_dense=False, show=False):
    """Run ``model`` on up to ``num_batches`` batches of ``loader`` and draw its full-resolution flow.

    Args:
        model: a :class:`~evflow.flow.lightning_model.FlowModel` (its ``network`` is used, state reset).
        loader: :class:`~evflow.data.sequential.SequentialDataLoader`.
        path: output mp4 (None: no file).
        num_batches: batches drawn.
        mask_by_input: draw flow only where there are events.
        draw_dense: colour wheel instead of arrows.
        show: display frames in an OpenCV window.

    Returns:
        The number of frames drawn.
    """
    from evflow.flow.viz import draw_flow_on_grid

    network, was_training = model.network, model.training
    device = next(model.parameters()).device
    network.eval()
    network.reset_all()
    nrows, ncols = grid_shape(loader.batch_size)
    _, _, height, width = model.hparams.array_dim
    writer = VideoWriter(path, 1e6 / model.hparams.delta_t) if path else None
    vis, frames = loader.get_vis_func(), 0
    ok = False
    try:
        for i, batch in enumerate(loader):
            if i >= num_batches:
                break
            inputs = batch["inputs"].to(device)
            network.reset(batch["mask_keep_memory"].to(device))
            flows = [f.float().cpu() for f in network(inputs)]
            grid = np.zeros((inputs.shape[0], nrows * height, ncols * width, 3), np.uint8)
            draw_flow_on_grid(inputs.cpu().numpy(), flows, grid, vis, -1, 8, mask_by_input, draw_dense)
            for frame in grid:
                frames += 1
                if writer is not None:
                    writer.write(frame)
                if show:
                    import cv2

                    cv2.imshow("flow", frame[..., ::-1])
                    cv2.waitKey(1)
        ok = True
    finally:
        if writer is not None and ok:
            writer.close()
        elif writer is not None:
            writer.abort()
        network.reset_all()
        network.train(was_training)
    return frames
