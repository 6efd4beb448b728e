"""Frames of ``evflow infer``: arrows on the input, the "sharp" view, or the fixed-scale colour wheel.

* ``arrows``: direction-coloured arrows where the window has events, over the preprocessing's visualisation.
* ``sharp``: events warped by the flow (deblurred) beside the raw events with arrows (needs events).
* ``dense``: colour wheel with a fixed ``max_flow`` (no per-frame flicker) and its legend in the corner.

Every frame carries the window's time stamp. Sizes are even (the mp4 writer pads anyway).
"""

from __future__ import annotations

import cv2
import numpy as np

from evflow.errors import ConfigError

MODES = ("arrows", "sharp", "dense")


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a ``(2, h, w)`` flow to ``(height, width)`` and scale its values with the size ratio."""
    if flow.shape[1:] == (height, width):
        return flow
    sx, sy = width / flow.shape[2], height / flow.shape[1]
    planes = [cv2.resize(np.ascontiguousarray(c), (width, height), interpolation=cv2.INTER_LINEAR) for c in flow]
    return np.stack([planes[0] * sx, planes[1] * sy]).astype(np.float32)


class FrameRenderer:
    """Turn :class:`~evflow.flow.inference.FlowResult` objects into RGB uint8 frames.

    Args:
        mode: one of :data:`MODES`.
        preprocess: preprocessing name (its viz function draws the input).
        max_flow: magnitude (px per window) at full brightness in ``dense`` mode.
        step: arrow spacing (px); default 4 below 400 px wide, else 8.
        mask_by_input: draw flow only where the window has events.
    """

    def __init__(self, mode: str, preprocess: str, max_flow: float = 10.0, step: int | None = None,
                 mask_by_input: bool = True):  # fmt: skip
        from evflow.preprocessing.registry import get_preprocessing_info

        if mode not in MODES:
            raise ConfigError(f"--mode must be one of {MODES}, got {mode!r}")
        if max_flow <= 0:
            raise ConfigError(f"--max-flow must be > 0, got {max_flow}")
        self.mode, self.max_flow, self.step, self.mask_by_input = mode, float(max_flow), step, mask_by_input
        self.viz = get_preprocessing_info(preprocess).viz_function

    def __call__(self, result) -> np.ndarray:
        """The frame of one result: ``(H, W, 3)`` (``(H, 2W, 3)`` in sharp mode at the sensor size)."""
        from evflow.flow import viz

        window, flow = result.window, result.flow
        step = self.step or (4 if flow.shape[2] < 400 else 8)
        mask = np.abs(window.tensor).sum(axis=0) > 0 if self.mask_by_input else None
        if self.mode == "sharp":
            if window.events is None:
                raise ConfigError("--mode sharp needs events: give an event file, not a tensor file")
            sensor = window.sensor or window.tensor.shape[1:]
            frame = viz.draw_sharp_view(window.events, resize_flow(flow, *sensor), window.start_ts, window.end_ts,
                                        step=2 * step)  # fmt: skip
        else:
            base = np.ascontiguousarray(self.viz(window.tensor), np.uint8)
            if self.mode == "arrows":
                frame = viz.get_arrows(flow, base, step, mask)
            else:
                frame = viz.add_legend(viz.get_dense_flow(flow, base, mask, self.max_flow), self.max_flow)
        return _stamp(frame, window.start_ts, window.end_ts)


def _stamp(frame: np.ndarray, start_ts: int, end_ts: int) -> np.ndarray:
    frame = np.ascontiguousarray(frame, np.uint8)
    text = f"{start_ts / 1e6:.3f}-{end_ts / 1e6:.3f} s"
    cv2.putText(frame, text, (4, frame.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return frame
