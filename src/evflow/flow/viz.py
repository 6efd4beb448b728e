"""Flow visualisation: coloured arrows, a fixed-scale colour wheel with its legend, the "sharp" view.

Images are RGB uint8 ``(H, W, 3)``; flows are ``(2, H, W)`` pixel displacements (channel 0 = x right,
channel 1 = y down). Colour code shared by arrows and dense maps: hue = direction, ``atan2(dy, dx)``
(right = red, down = yellow-green, left = cyan, up = violet); for dense maps brightness = ``|flow| / max_flow``.
A fixed ``max_flow`` keeps colours comparable from frame to frame (no per-frame renormalisation flicker).
numpy and OpenCV only: torch tensors are accepted through duck typing (``.detach().cpu().numpy()``).
"""

from __future__ import annotations

import cv2
import numpy as np

from evflow.errors import ShapeError
from evflow.metrics import compute_iwe, event_mask


def _numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _check_flow(flow) -> np.ndarray:
    flow = _numpy(flow).astype(np.float32, copy=False)
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ShapeError(f"flow must have shape (2, H, W), got {flow.shape}")
    return np.where(np.isfinite(flow), flow, 0.0).astype(np.float32)


def convert_to_gray(img: np.ndarray) -> np.ndarray:
    """Convert an RGB (or already gray) uint8 image to gray, returned as 3 identical channels ``(H, W, 3)``."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img, np.uint8), cv2.COLOR_RGB2GRAY)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim != 2:
        raise ShapeError(f"convert_to_gray expects (H, W), (H, W, 1) or (H, W, 3), got {img.shape}")
    return np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)


def _hue(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    angle = np.degrees(np.arctan2(v, u)) % 360.0  # 0 = right, 90 = down (image y axis points down)
    return np.round(angle / 2.0).astype(np.int32) % 180  # OpenCV hue range is 0..179


def _hsv_to_rgb(hue, sat, val) -> np.ndarray:
    hsv = np.stack(np.broadcast_arrays(hue, sat, val), axis=-1).astype(np.uint8)
    if hsv.size == 0:
        return np.zeros(hsv.shape, np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_to_color(flow, max_flow: float | None = None, mask: np.ndarray | None = None) -> np.ndarray:
    """Colour-wheel image of a flow: hue = direction, value = ``min(|flow| / max_flow, 1)``.

    Args:
        flow: ``(2, H, W)`` pixels; non-finite values are drawn black.
        max_flow: magnitude (px) drawn at full brightness. None = the image's own maximum (flickers in videos).
        mask: optional ``(H, W)`` boolean; pixels outside it are black.

    Returns:
        ``(H, W, 3)`` RGB uint8.
    """
    flow = _check_flow(flow)
    mag = np.hypot(flow[0], flow[1])
    if mask is not None:
        mag = np.where(mask, mag, 0.0)
    scale = float(max_flow) if max_flow else float(mag.max())
    val = np.clip(mag / scale, 0.0, 1.0) * 255.0 if scale > 0 else np.zeros_like(mag)
    return _hsv_to_rgb(_hue(flow[0], flow[1]), np.full(mag.shape, 255), np.round(val))


def color_wheel(size: int = 96, max_flow: float | None = None) -> np.ndarray:
    """Legend of :func:`flow_to_color`: the disc of flows of norm ≤ ``max_flow`` (black outside).

    Args:
        size: side of the square image in pixels.
        max_flow: written under the disc as the magnitude of its rim, when given.

    Returns:
        ``(size, size, 3)`` RGB uint8 (``size + 16`` rows when the label is written).
    """
    radius = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) - radius
    flow = np.stack([xx, yy]) / max(radius, 1e-6)
    inside = np.hypot(xx, yy) <= radius
    wheel = flow_to_color(flow, max_flow=1.0, mask=inside)
    if max_flow is None:
        return wheel
    label = np.zeros((16, size, 3), np.uint8)
    cv2.putText(label, f"{max_flow:g} px", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([wheel, label], axis=0)


def add_legend(img: np.ndarray, max_flow: float | None, size: int = 64) -> np.ndarray:
    """Paste :func:`color_wheel` in the top-right corner of a copy of ``img`` (when it fits)."""
    out = np.array(img, np.uint8, copy=True)
    legend = color_wheel(size, max_flow)
    h, w = legend.shape[:2]
    if out.shape[0] >= h and out.shape[1] >= w:
        out[:h, -w:] = legend
    return out


def draw_dense_flow(img, flow, mask=None, max_flow: float | None = None, alpha: float = 0.7) -> np.ndarray:
    """Blend the colour-wheel image of ``flow`` over the gray version of ``img``: ``(1-α)·gray + α·colour``.

    Args:
        img: RGB or gray uint8 ``(H, W[, 3])``.
        flow: ``(2, H, W)`` pixels.
        mask: optional ``(H, W)`` boolean; flow drawn only there.
        max_flow: fixed magnitude scale (px) — see :func:`flow_to_color`.
        alpha: weight of the colour.

    Returns:
        ``(H, W, 3)`` RGB uint8.
    """
    color = flow_to_color(flow, max_flow, mask).astype(np.float32)
    gray = convert_to_gray(img).astype(np.float32)
    return np.clip((1.0 - alpha) * gray + alpha * color, 0, 255).astype(np.uint8)


def draw_arrows(img, flow, step=16, threshold_px=1, convert_img_to_gray=True, mask=None, thickness=1) -> np.ndarray:
    """Draw direction-coloured arrows on (a copy of) ``img``.

    One arrow per ``step``×``step`` cell, from the cell centre ``(x, y) = (j·step + step//2, i·step + step//2)``
    to ``(round(x + u), round(y + v))`` with ``(u, v)`` the flow at the centre, for the ``H//step × W//step`` full
    cells. Arrows whose length is not above ``threshold_px`` (the length, not its square as in the original)
    or whose centre is outside ``mask`` are skipped.

    Args:
        img: RGB uint8 ``(H, W, 3)`` (or gray) to draw on.
        flow: ``(2, H, W)`` pixels.
        step: cell size in pixels.
        threshold_px: minimum arrow length in pixels.
        convert_img_to_gray: draw on the gray version of ``img``.
        mask: optional ``(H, W)`` boolean.
        thickness: line thickness.

    Returns:
        ``(H, W, 3)`` RGB uint8.
    """
    flow = _check_flow(flow)
    img = np.asarray(img)
    if img.shape[:2] != flow.shape[1:]:
        raise ShapeError(f"image {img.shape[:2]} and flow {flow.shape[1:]} sizes differ")
    out = convert_to_gray(img) if convert_img_to_gray or img.ndim == 2 else np.array(img, np.uint8, copy=True)
    height, width = flow.shape[1:]
    ys = np.arange(height // step) * step + step // 2
    xs = np.arange(width // step) * step + step // 2
    sub = flow[:, ys[:, None], xs[None, :]]
    colors = _hsv_to_rgb(_hue(sub[0], sub[1]), np.full(sub.shape[1:], 255), np.full(sub.shape[1:], 255))
    keep = np.hypot(sub[0], sub[1]) > threshold_px
    if mask is not None:
        keep &= np.asarray(mask)[ys[:, None], xs[None, :]]
    for i, j in zip(*np.nonzero(keep)):
        x, y, u, v = int(xs[j]), int(ys[i]), float(sub[0, i, j]), float(sub[1, i, j])
        color = tuple(int(c) for c in colors[i, j])
        cv2.arrowedLine(out, (x, y), (int(round(x + u)), int(round(y + v))), color, thickness, tipLength=0.3)
    return out


def _canvas(flow: np.ndarray, base_img) -> np.ndarray:
    if base_img is None:
        return np.zeros(flow.shape[1:] + (3,), np.uint8)
    return np.asarray(base_img)


def get_arrows(flow, base_img=None, step=8, mask=None) -> np.ndarray:
    """Arrow visualisation of a ``(2, H, W)`` flow (numpy or torch) on ``base_img`` or a black canvas."""
    flow = _check_flow(flow)
    return draw_arrows(_canvas(flow, base_img), flow, step=step, mask=None if mask is None else _numpy(mask))


def get_dense_flow(flow, base_img=None, mask=None, max_flow: float | None = None) -> np.ndarray:
    """Colour-wheel visualisation of a ``(2, H, W)`` flow (numpy or torch) on ``base_img`` or black."""
    flow = _check_flow(flow)
    mask = None if mask is None else _numpy(mask)
    if base_img is None:
        return flow_to_color(flow, max_flow, mask)
    return draw_dense_flow(base_img, flow, mask, max_flow)


def _resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    if flow.shape[1:] == (height, width):
        return flow
    sx, sy = width / flow.shape[2], height / flow.shape[1]
    planes = [cv2.resize(np.ascontiguousarray(c), (width, height), interpolation=cv2.INTER_LINEAR) for c in flow]
    return np.stack([planes[0] * sx, planes[1] * sy])


def draw_flow_on_grid(
    input_tensor, flows, grid, make_img_fun, scale=-1, step=8, mask_by_input=True, draw_dense=False
) -> np.ndarray:
    """Draw the flow of every ``(t, b)`` sample on its tile of a video grid (in place, and returned).

    Sample ``b`` goes to tile row ``b // ncols``, column ``b % ncols`` of frame ``t`` with
    ``ncols = grid.shape[2] // W``. A flow scale coarser than the input is upsampled (and its values scaled).

    Args:
        input_tensor: ``(T, B, C, H, W)`` numpy features.
        flows: list coarse→fine of ``(T, B, 2, h, w)`` flows (numpy or torch).
        grid: ``(T, m·H, n·W, 3)`` uint8 array with ``m·n ≥ B``.
        make_img_fun: ``(C, H, W) -> (H, W, 3)`` uint8 feature visualisation.
        scale: index in ``flows``.
        step: arrow spacing.
        mask_by_input: draw only where ``Σ_c |input| > 0``.
        draw_dense: colour-wheel map instead of arrows.

    Returns:
        ``grid``.
    """
    inputs = _numpy(input_tensor)
    flow_seq = _numpy(flows[scale]).astype(np.float32)
    num_t, batch, _, height, width = inputs.shape
    ncols = grid.shape[2] // width
    if ncols * (grid.shape[1] // height) < batch or grid.shape[0] < num_t:
        raise ShapeError(f"grid {grid.shape} too small for {num_t} steps of {batch} tiles of {height}x{width}")
    for t in range(num_t):
        for b in range(batch):
            base = make_img_fun(inputs[t, b])
            mask = np.abs(inputs[t, b]).sum(axis=0) > 0 if mask_by_input else None
            flow = _resize_flow(flow_seq[t, b], height, width)
            tile = get_dense_flow(flow, base, mask) if draw_dense else get_arrows(flow, base, step, mask)
            row, col = divmod(b, ncols)
            grid[t, row * height : (row + 1) * height, col * width : (col + 1) * width] = tile
    return grid


def events_to_image(image: np.ndarray) -> np.ndarray:
    """Map a signed event image (ON − OFF) to gray: 128 = no event, robustly scaled. Returns ``(H, W, 3)``."""
    nonzero = np.abs(image[image != 0])
    scale = float(np.percentile(nonzero, 99)) if nonzero.size else 1.0
    gray = 128.0 + 127.0 * np.clip(image / max(scale, 1e-9), -1.0, 1.0)
    return convert_to_gray(np.round(gray).astype(np.uint8))


def draw_sharp_view(events, flow, start_ts: int, end_ts: int, step: int = 8) -> np.ndarray:
    """The "sharp" view: events deblurred by the flow (left) beside the raw events with arrows (right).

    Left: ON − OFF image of the events warped to ``end_ts`` along ``flow`` (:func:`evflow.metrics.compute_iwe`).
    Right: ON − OFF image of the unwarped events with the flow arrows where events fell.

    Args:
        events: events of ``[start_ts, end_ts)``.
        flow: ``(2, H, W)`` displacement (px) over the interval.
        start_ts, end_ts: interval bounds (µs).
        step: arrow spacing.

    Returns:
        ``(H, 2W, 3)`` RGB uint8.
    """
    flow = _check_flow(flow)
    sharp = compute_iwe(events, flow, end_ts, end_ts - start_ts)
    raw = compute_iwe(events, np.zeros_like(flow), end_ts, end_ts - start_ts)
    left = events_to_image(sharp)
    right = draw_arrows(events_to_image(raw), flow, step=step, mask=event_mask(events, *flow.shape[1:]))
    for panel, text in ((left, "sharp"), (right, "raw")):
        cv2.putText(panel, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return np.concatenate([left, right], axis=1)


_PALETTE = ((230, 60, 40), (150, 150, 150), (40, 110, 230), (30, 170, 60), (200, 120, 0), (150, 60, 200))


def plot_series(series: dict, title: str = "", y_label: str = "", height: int = 260, width: int = 720) -> np.ndarray:
    """Line plot of named 1-D series against their index (NaN leaves a gap), drawn with OpenCV.

    Args:
        series: name → values; lines take the colours of a fixed palette in order.
        title, y_label: text drawn at the top left.
        height, width: image size.

    Returns:
        ``(height, width, 3)`` RGB uint8 on a white background, y axis from 0 to the largest finite value.
    """
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 52, 110, 24, 22
    values = [np.asarray(v, np.float64) for v in series.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(1)])
    y_max = float(finite.max()) * 1.05 or 1.0
    n = max((len(v) for v in values), default=1)
    x_of = lambda i: int(left + (width - left - right) * (i / max(n - 1, 1)))  # noqa: E731
    y_of = lambda y: int(height - bottom - (height - top - bottom) * y / y_max)  # noqa: E731
    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    for k in range(5):
        y = y_max * k / 4
        cv2.line(img, (left, y_of(y)), (width - right, y_of(y)), (225, 225, 225), 1)
        cv2.putText(img, f"{y:.3g}", (4, y_of(y) + 4), font, 0.35, black, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (width - right, height - bottom), black, 1)
    cv2.putText(img, f"{title}  {y_label}".strip(), (left, top - 8), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.putText(img, f"interval (0..{n - 1})", (left, height - 6), font, 0.35, black, 1, cv2.LINE_AA)
    for k, (name, v) in enumerate(zip(series, values)):
        color = _PALETTE[k % len(_PALETTE)]
        pts = [(x_of(i), y_of(y)) if np.isfinite(y) else None for i, y in enumerate(v)]
        for a, b in zip(pts[:-1], pts[1:]):
            if a is not None and b is not None:
                cv2.line(img, a, b, color, 2, cv2.LINE_AA)
        for p in pts if len(pts) < 60 else ():
            if p is not None:
                cv2.circle(img, p, 2, color, -1, cv2.LINE_AA)
        y_leg = top + 14 + 16 * k
        cv2.line(img, (width - right + 8, y_leg - 4), (width - right + 26, y_leg - 4), color, 2)
        cv2.putText(img, name, (width - right + 30, y_leg), font, 0.4, black, 1, cv2.LINE_AA)
    return img
