"""Optical-flow metrics: endpoint/angular errors against ground truth, and label-free event-warping scores.

Flows are ``(2, H, W)`` arrays of pixel displacements over an interval ``[start_ts, end_ts)`` (channel 0 = x,
channel 1 = y). Events are :data:`evflow.io.EVENT_DTYPE` arrays with absolute µs timestamps.

* With ground truth (reference §19): AEE, relative AEE, % outliers (KITTI rule), AAE.
* Without: FWL (flow-warp loss, Stoffregen et al. 2020) and RSAT (Hagenaars et al. 2021), both computed from
  the image of warped events (IWE) built here with numpy + a numba bilinear-splatting kernel.
* :func:`gt_for_interval` rescales or propagates ground truth whose intervals differ from the estimate's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evflow.errors import ShapeError

OUTLIER_PX = 3.0
OUTLIER_REL = 0.05


@njit(cache=True)
def _splat(xs, ys, ws, out):  # pragma: no cover - compiled
    height, width = out.shape
    for i in range(xs.shape[0]):
        x, y, w = xs[i], ys[i], ws[i]
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        x0 = math.floor(x)
        y0 = math.floor(y)
        fx = x - x0
        fy = y - y0
        for dy in range(2):
            yy = y0 + dy
            if yy < 0 or yy >= height:
                continue
            wy = fy if dy else 1.0 - fy
            for dx in range(2):
                xx = x0 + dx
                if 0 <= xx < width:
                    out[yy, xx] += w * wy * (fx if dx else 1.0 - fx)


def warp_events(events: np.ndarray, flow: np.ndarray, t_ref: int, duration: int) -> tuple[np.ndarray, np.ndarray]:
    """Move each event along the flow to time ``t_ref`` (constant velocity ``flow / duration``).

    ``x_w = x + u(x, y) * (t_ref - t) / duration`` (same for y). Events on non-finite flow get NaN positions.

    Args:
        events: structured array with fields x, y, t.
        flow: ``(2, H, W)`` displacement in pixels over ``duration`` µs.
        t_ref: reference time (µs).
        duration: duration (µs) the flow displacement refers to.

    Returns:
        ``(x_w, y_w)`` float64 arrays of length ``len(events)``.
    """
    xs = events["x"].astype(np.intp)
    ys = events["y"].astype(np.intp)
    scale = (float(t_ref) - events["t"].astype(np.float64)) / float(duration)
    return xs + flow[0, ys, xs] * scale, ys + flow[1, ys, xs] * scale


def splat(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, height: int, width: int) -> np.ndarray:
    """Accumulate weighted points into an ``(H, W)`` float64 image with bilinear weights (outside points dropped)."""
    out = np.zeros((height, width), np.float64)
    w = np.broadcast_to(np.asarray(weights, np.float64), xs.shape)
    _splat(np.ascontiguousarray(xs, np.float64), np.ascontiguousarray(ys, np.float64), np.ascontiguousarray(w), out)
    return out


def compute_iwe(
    events: np.ndarray, flow: np.ndarray, t_ref: int, duration: int, use_polarity: bool = True
) -> np.ndarray:
    """Image of warped events (reference §6 ``compute_iwe`` semantics, numpy/numba version).

    Args:
        events: events of one interval.
        flow: ``(2, H, W)`` displacement in pixels over ``duration`` µs, sampled at each event's pixel.
        t_ref: time the events are warped to.
        duration: µs the flow refers to.
        use_polarity: weight events ``2p - 1`` (±1) if True, else 1 (counts).

    Returns:
        ``(H, W)`` float64 image; events landing outside the image are dropped.
    """
    xw, yw = warp_events(events, flow, t_ref, duration)
    w = 2.0 * events["p"].astype(np.float64) - 1.0 if use_polarity else np.ones(len(events))
    return splat(xw, yw, w, flow.shape[1], flow.shape[2])


def flow_warp_loss(events: np.ndarray, flow: np.ndarray, start_ts: int, end_ts: int, sigma: float = 0.0) -> float:
    """FWL = var(IWE) / var(diff image): > 1 when the flow sharpens the events, exactly 1 for zero flow.

    The IWE warps the interval's events to ``end_ts`` with ``flow`` (displacement over ``end_ts - start_ts``);
    the diff image is the signed sum ``Σ (2p - 1)`` of the unwarped events (reference §19). Bilinear splatting
    of sub-pixel positions smooths the IWE, so for sub-pixel motion even the true flow can score below 1:
    compare with the FWL of the ground truth, or pass ``sigma`` (px) to blur both images with the same
    Gaussian first, which makes the comparison fairer. NaN when the diff image is flat.
    """
    height, width = flow.shape[1:]
    sign = 2.0 * events["p"].astype(np.float64) - 1.0
    diff = splat(events["x"].astype(np.float64), events["y"].astype(np.float64), sign, height, width)
    iwe = compute_iwe(events, flow, end_ts, end_ts - start_ts)
    if sigma > 0:
        import cv2

        diff, iwe = (cv2.GaussianBlur(img, (0, 0), sigma) for img in (diff, iwe))
    var0 = float(diff.var())
    return float(iwe.var()) / var0 if var0 > 0 else float("nan")


@njit(cache=True)
def _splat_counts_and_times(xs, ys, pol, tau, out):  # pragma: no cover - compiled
    # out[p, 0] accumulates bilinear weights (counts), out[p, 1] the weights times tau, for polarity p.
    height, width = out.shape[2], out.shape[3]
    for i in range(xs.shape[0]):
        x, y = xs[i], ys[i]
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for dy in range(2):
            for dx in range(2):
                yy, xx = y0 + dy, x0 + dx
                if 0 <= yy < height and 0 <= xx < width:
                    w = (fy if dy else 1.0 - fy) * (fx if dx else 1.0 - fx)
                    out[pol[i], 0, yy, xx] += w
                    out[pol[i], 1, yy, xx] += w * tau[i]


def _squared_average_timestamps(events, flow, start_ts, end_ts) -> float:
    xw, yw = warp_events(events, flow, start_ts, end_ts - start_ts)
    tau = (events["t"].astype(np.float64) - start_ts) / float(end_ts - start_ts)
    acc = np.zeros((2, 2) + flow.shape[1:], np.float64)
    _splat_counts_and_times(xw, yw, events["p"].astype(np.intp), tau, acc)
    counts, stamps = acc[:, 0], acc[:, 1]
    hit = counts > 1e-9
    active = int(hit.sum())
    return float(np.sum((stamps[hit] / counts[hit]) ** 2)) / active if active else float("nan")


def rsat(events: np.ndarray, flow: np.ndarray, start_ts: int, end_ts: int) -> float:
    """Ratio of squared average timestamps (RSAT): < 1 when the flow deblurs the events, 1 for zero flow.

    Definition used here (after Zhu et al. 2019 and Hagenaars et al. 2021): events of ``[start_ts, end_ts)``
    get a normalised time ``τ = (t - start_ts) / (end_ts - start_ts)`` in [0, 1) and are warped to ``start_ts``
    along ``flow``. Per polarity p, bilinear splatting gives a count image ``N_p`` and a time image ``T_p``; the
    average-timestamp image is ``A_p = T_p / N_p`` on pixels with ``N_p > 0``.
    ``SAT(flow) = Σ_p Σ_x A_p(x)² / #{(p, x): N_p(x) > 0}`` and ``RSAT = SAT(flow) / SAT(0)``. A sharp IWE
    piles events of every τ onto few pixels, whose averages sit near the middle of the interval, whereas a
    blurred one spreads late events over their own pixels, so lower is better.

    Returns:
        RSAT (float); NaN when there are no events.
    """
    base = _squared_average_timestamps(events, np.zeros_like(flow), start_ts, end_ts)
    if not np.isfinite(base) or base == 0.0:
        return float("nan")
    return _squared_average_timestamps(events, flow, start_ts, end_ts) / base


def event_mask(events: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boolean ``(H, W)`` mask of pixels that received at least one event."""
    idx = events["y"].astype(np.intp) * width + events["x"].astype(np.intp)
    return np.bincount(idx, minlength=height * width).reshape(height, width) > 0


def valid_mask(gt: np.ndarray, events_mask: np.ndarray | None = None) -> np.ndarray:
    """Pixels where a metric is defined: finite GT with ``|gt| > 0`` (and ≥ 1 event when a mask is given)."""
    finite = np.all(np.isfinite(gt), axis=0)
    with np.errstate(invalid="ignore"):
        mag = np.hypot(np.where(finite, gt[0], 0.0), np.where(finite, gt[1], 0.0))
    valid = finite & (mag > 0)
    return valid if events_mask is None else valid & events_mask


def flow_errors(est: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> dict:
    """Dense-flow errors on the ``valid`` pixels (reference §19, outliers by the KITTI rule).

    * ``aee``: mean endpoint error ``|est - gt|`` (px).
    * ``aee_rel``: mean of ``EE / |gt|``.
    * ``outliers_pct``: % of pixels with ``EE > 3 px`` **and** ``EE > 5 % |gt|``.
    * ``aae_deg``: mean angle (degrees) between ``est`` and ``gt`` over valid pixels where ``est != 0``.
    * ``n_valid``: number of valid pixels. Means are NaN when no pixel qualifies.

    Args:
        est, gt: ``(2, H, W)`` flows in pixels.
        valid: ``(H, W)`` boolean mask (see :func:`valid_mask`).
    """
    if est.shape != gt.shape or valid.shape != gt.shape[1:]:
        raise ShapeError(f"flow_errors: shapes differ: est {est.shape}, gt {gt.shape}, valid {valid.shape}")
    e, g = est[:, valid].astype(np.float64), gt[:, valid].astype(np.float64)
    n = e.shape[1]
    if n == 0:
        return {"aee": math.nan, "aee_rel": math.nan, "outliers_pct": math.nan, "aae_deg": math.nan, "n_valid": 0}
    ee = np.hypot(*(e - g))
    gmag, emag = np.hypot(*g), np.hypot(*e)
    moving = emag > 0
    cos = np.sum(e * g, axis=0)[moving] / (emag[moving] * gmag[moving])
    aae = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean()) if moving.any() else math.nan
    outliers = (ee > OUTLIER_PX) & (ee > OUTLIER_REL * gmag)
    return {
        "aee": float(ee.mean()),
        "aee_rel": float((ee / gmag).mean()),
        "outliers_pct": float(100.0 * outliers.mean()),
        "aae_deg": aae,
        "n_valid": int(n),
    }


def gt_for_interval(
    gt_flow: np.ndarray, gt_start: np.ndarray, gt_end: np.ndarray, start_ts: int, end_ts: int
) -> np.ndarray | None:
    """Ground-truth displacement over ``[start_ts, end_ts)`` from GT flows over other intervals.

    Each GT interval ``k`` overlapping the target contributes the fraction ``overlap / (gt_end[k] - gt_start[k])``
    of its flow (linear rescaling under constant velocity). When one GT interval covers the target this is just
    ``gt * (end - start) / (gt_end - gt_start)``; otherwise each pixel is propagated through the consecutive GT
    flows, sampling each one (nearest pixel) at the point's current position (reference §19).

    Args:
        gt_flow: ``(N, 2, H, W)`` GT displacements; non-finite values mark invalid pixels.
        gt_start, gt_end: ``(N,)`` interval bounds (µs), sorted.
        start_ts, end_ts: the target interval.

    Returns:
        ``(2, H, W)`` float64 displacement with ``inf`` where invalid (invalid GT on the path, or a point leaving
        the image), or None when the GT intervals do not cover ``[start_ts, end_ts)`` entirely.
    """
    height, width = gt_flow.shape[2:]
    ks = np.flatnonzero((gt_end > start_ts) & (gt_start < end_ts))
    covered = sum(min(end_ts, int(gt_end[k])) - max(start_ts, int(gt_start[k])) for k in ks)
    if covered < end_ts - start_ts:
        return None
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float64)
    px, py, ok = gx.copy(), gy.copy(), np.ones((height, width), bool)
    for k in ks:
        frac = (min(end_ts, int(gt_end[k])) - max(start_ts, int(gt_start[k]))) / float(gt_end[k] - gt_start[k])
        ix, iy = np.rint(px).astype(np.intp), np.rint(py).astype(np.intp)
        ok &= (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)
        f = gt_flow[k][:, np.clip(iy, 0, height - 1), np.clip(ix, 0, width - 1)].astype(np.float64)
        ok &= np.all(np.isfinite(f), axis=0)
        px += np.where(ok, f[0], 0.0) * frac
        py += np.where(ok, f[1], 0.0) * frac
    out = np.stack([px - gx, py - gy])
    out[:, ~ok] = np.inf
    return out
