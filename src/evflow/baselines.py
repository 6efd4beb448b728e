"""Reference flow estimators that need no training, so every learned number has a baseline beside it.

Each baseline is a function ``(events, start_ts, end_ts, height, width) -> (2, H, W) float32`` giving the
displacement in pixels over ``[start_ts, end_ts)``, looked up by name with :func:`get_baseline`. ``events`` is
time-sorted and may hold the whole recording: each baseline picks the events it needs.

* ``zero``: no motion.
* ``dis``: OpenCV's DIS optical flow between event-count frames centred on the two ends of the interval.
* ``cmax``: contrast maximisation (Gallego et al. 2018) of one global translation: the velocity whose image of
  warped events is the sharpest, found by a coarse-to-fine grid search.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

import cv2
import numpy as np

from evflow.errors import ConfigError
from evflow.metrics import splat

BaselineFn = Callable[[np.ndarray, int, int, int, int], np.ndarray]


def zero_flow(events: np.ndarray, start_ts: int, end_ts: int, height: int, width: int) -> np.ndarray:
    """Zero displacement everywhere. Shape: ``(2, H, W)`` float32."""
    return np.zeros((2, height, width), np.float32)


def event_count_frame(events: np.ndarray, height: int, width: int) -> np.ndarray:
    """Number of events per pixel (both polarities). Shape: ``(H, W)`` float32."""
    idx = events["y"].astype(np.intp) * width + events["x"].astype(np.intp)
    return np.bincount(idx, minlength=height * width).reshape(height, width).astype(np.float32)


def _to_uint8(frame: np.ndarray, sigma: float) -> np.ndarray:
    frame = cv2.GaussianBlur(frame, (0, 0), sigma) if sigma > 0 else frame
    nonzero = frame[frame > 0]
    top = float(np.percentile(nonzero, 99)) if nonzero.size else 1.0
    return np.clip(frame * (255.0 / max(top, 1e-6)), 0, 255).astype(np.uint8)


def _window(events: np.ndarray, start: int, end: int) -> np.ndarray:
    t = events["t"]
    return events[np.searchsorted(t, start) : np.searchsorted(t, end)]


def dis_flow(
    events: np.ndarray,
    start_ts: int,
    end_ts: int,
    height: int,
    width: int,
    preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST,
    sigma: float = 1.0,
) -> np.ndarray:
    """DIS optical flow between event-count frames centred on ``start_ts`` and on ``end_ts``.

    With ``d = end_ts - start_ts``, frame A counts the events of ``[start - d/2, start + d/2)`` and frame B those
    of ``[end - d/2, end + d/2)`` (so the events around the interval are used when ``events`` holds them). The
    frame-to-frame flow spans the gap between the two frames' mean event times; it is scaled by ``d / gap``
    (constant velocity), which also corrects frames truncated at the ends of the recording.

    Args:
        events: time-sorted events covering the interval (the whole recording is fine).
        start_ts, end_ts: interval bounds (µs).
        height, width: sensor size.
        preset: ``cv2.DISOPTICAL_FLOW_PRESET_*`` (FAST was the most accurate on evflow's synthetic data).
        sigma: Gaussian blur (px) applied to the count frames.

    Returns:
        ``(2, H, W)`` float32; zero when either frame has no event.
    """
    half = (end_ts - start_ts) // 2
    first = _window(events, start_ts - half, start_ts + half)
    second = _window(events, end_ts - half, end_ts + half)
    gap = float(second["t"].mean() - first["t"].mean()) if len(first) and len(second) else 0.0
    if gap <= 0:
        return zero_flow(events, start_ts, end_ts, height, width)
    a = _to_uint8(event_count_frame(first, height, width), sigma)
    b = _to_uint8(event_count_frame(second, height, width), sigma)
    flow = cv2.DISOpticalFlow_create(preset).calc(a, b, None)
    return (np.moveaxis(flow, 2, 0) * ((end_ts - start_ts) / gap)).astype(np.float32)


class _Contrast:
    """Objective of :func:`cmax_flow`: mean squared blurred IWE of events warped to the interval's middle.

    ``scale`` > 1 evaluates it on an image ``scale`` times smaller (coarse search levels on big sensors).
    """

    def __init__(self, events: np.ndarray, start_ts: int, end_ts: int, height: int, width: int):
        self.x = events["x"].astype(np.float64)
        self.y = events["y"].astype(np.float64)
        self.s = ((start_ts + end_ts) / 2.0 - events["t"].astype(np.float64)) / float(end_ts - start_ts)
        self.ones = np.ones(len(events))
        self.height, self.width = height, width

    def __call__(self, velocity: np.ndarray, scale: int = 1) -> float:
        xs = (self.x + velocity[0] * self.s) / scale
        ys = (self.y + velocity[1] * self.s) / scale
        out = splat(xs, ys, self.ones, -(-self.height // scale), -(-self.width // scale))
        return float(np.square(cv2.GaussianBlur(out, (0, 0), 1.0)).mean())


def _best_on_grid(objective: _Contrast, center: np.ndarray, step: float, half: int, scale: int) -> np.ndarray:
    offsets = np.arange(-half, half + 1) * step
    candidates = [center + np.array([du, dv]) for dv in offsets for du in offsets]
    return candidates[int(np.argmax([objective(c, scale) for c in candidates]))]


def _level_scale(step: float, width: int) -> int:
    # Coarse levels of big sensors run on images downsampled by a power of two <= step and <= width / 320.
    limit = min(step, width / 320.0)
    return 1 if limit < 2 else 2 ** int(np.log2(limit))


def cmax_flow(
    events: np.ndarray,
    start_ts: int,
    end_ts: int,
    height: int,
    width: int,
    max_flow: float | None = None,
    max_events: int = 20000,
    min_step: float = 0.25,
) -> np.ndarray:
    """Global translation maximising the contrast of the image of warped events (IWE).

    Objective: mean of the squared IWE (event counts warped to the middle of the interval, Gaussian blur of
    1 px). Unlike the variance, it is not fooled by events leaving the image (which creates large-scale
    contrast); warping to the middle halves the displacements at the borders. Search: a 9x9 grid over
    ``[-max_flow, max_flow]²``, then 3x3 grids around the best point with the step halved down to ``min_step``;
    on sensors wider than 640 px the coarse levels use a downsampled image.

    Args:
        events: time-sorted events; those of ``[start_ts, end_ts)`` are used.
        start_ts, end_ts: interval bounds (µs).
        height, width: sensor size.
        max_flow: search range in px over the interval; default ``min(H, W) / 4`` clipped to [4, 64].
        max_events: events used (evenly subsampled) to bound the cost.
        min_step: final grid step (px).

    Returns:
        ``(2, H, W)`` float32 constant flow; zero when there are fewer than 2 events.
    """
    events = _window(events, start_ts, end_ts)
    if len(events) < 2:
        return zero_flow(events, start_ts, end_ts, height, width)
    events = events[:: -(-len(events) // max_events)]
    if max_flow is None:
        max_flow = float(np.clip(min(height, width) / 4.0, 4.0, 64.0))
    objective = _Contrast(events, start_ts, end_ts, height, width)
    step = max_flow / 4.0
    best = _best_on_grid(objective, np.zeros(2), step, 4, _level_scale(step, width))
    while step > min_step:
        step /= 2.0
        best = _best_on_grid(objective, best, step, 1, _level_scale(step, width))
    out = np.empty((2, height, width), np.float32)
    out[0], out[1] = best
    return out


_BASELINES: dict[str, BaselineFn] = {"zero": zero_flow, "dis": dis_flow, "cmax": cmax_flow}


def list_baselines(pattern: str = "*") -> list[str]:
    """Names of the available baselines matching a shell-style ``pattern``."""
    return sorted(n for n in _BASELINES if fnmatch.fnmatch(n, pattern))


def get_baseline(name: str) -> BaselineFn:
    """Return the baseline function called ``name``.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    try:
        return _BASELINES[name]
    except KeyError:
        raise ConfigError(f"unknown baseline {name!r}; valid names: {', '.join(list_baselines())}") from None
