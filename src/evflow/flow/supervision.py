"""Supervised loss and labelled-evaluation metrics used by :class:`~evflow.flow.lightning_model.FlowModel`."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

METRIC_KEYS = ("aee", "outliers_pct", "aae_deg", "aee_zero")


def masked_charbonnier(pred: torch.Tensor, gt: torch.Tensor, alpha: float = 0.45, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier penalty ``((pred - gt)**2 + eps**2)**alpha`` averaged over valid (finite-GT) pixels only.

    (The original averaged over all elements, masked ones included, §22 #10.)

    Shape:
        pred, gt: ``(N, 2, H, W)``; a pixel is valid when both GT components are finite.
    """
    valid = torch.isfinite(gt).all(dim=1, keepdim=True).expand_as(gt)
    if not valid.any():
        return pred.sum() * 0.0
    diff = (pred - torch.where(valid, gt, torch.zeros_like(gt)))[valid]
    return (diff.pow(2) + eps**2).pow(alpha).mean()


def frame_metrics(flow: torch.Tensor, batch: dict, labelled: torch.Tensor) -> list[dict]:
    """Metrics of every labelled ``(t, b)`` frame, on pixels with finite non-zero GT and at least one event.

    Args:
        flow: ``(T, B, 2, H, W)`` predicted flow at label resolution (pixels per bin).
        batch: sequential-loader batch (``inputs``, ``labels``, ``video_infos``).
        labelled: ``(T, B)`` bool, frames to evaluate.

    Returns:
        One dict per frame: ``path``, ``start_ts``, and :data:`METRIC_KEYS` (NaN when no pixel is valid),
        ``n_valid``.
    """
    from evflow.metrics import flow_errors, valid_mask

    est = flow.detach().float().cpu().numpy()
    gt = batch["labels"].detach().float().cpu().numpy()
    events = batch["inputs"].detach().abs().sum(dim=2).cpu().numpy() > 0
    delta_t = int(batch["video_infos"][0][0].delta_t)
    rows = []
    for t, b in labelled.nonzero().tolist():
        valid = valid_mask(gt[t, b], events[t, b])
        errors = flow_errors(est[t, b], gt[t, b], valid)
        errors["aee_zero"] = flow_errors(np.zeros_like(est[t, b]), gt[t, b], valid)["aee"]
        meta, start, _ = batch["video_infos"][b]
        rows.append({"path": meta.path, "start_ts": int(start) + t * delta_t, **errors})
    return rows


class FlowMetricAccumulator:
    """Collects frame metrics and summarises them per recording and overall (means over frames)."""

    def __init__(self):
        self.rows = []

    def add(self, rows: list[dict]) -> None:
        """Add frame rows from :func:`frame_metrics`."""
        self.rows.extend(rows)

    @staticmethod
    def _means(rows: list[dict]) -> dict:
        out = {"frames": len(rows)}
        for key in METRIC_KEYS:
            vals = [r[key] for r in rows if not math.isnan(r[key])]
            out[key] = float(np.mean(vals)) if vals else math.nan
        return out

    def summary(self) -> dict:
        """``{"overall": {...}, "recordings": {name: {...}}}`` (frames with no valid pixel are skipped)."""
        by_path = defaultdict(list)
        for r in self.rows:
            by_path[Path(r["path"]).name].append(r)
        return {
            "overall": self._means(self.rows),
            "recordings": {name: self._means(rows) for name, rows in sorted(by_path.items())},
        }
