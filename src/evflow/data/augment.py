"""Geometric augmentation of a segment: one random rotation/flip shared by every bin and channel.

The transform is drawn once per segment (recording path, segment start and an epoch seed) so that every step
of a row's segment, every time bin and every channel move identically, which keeps the motion between bins
coherent. Flow labels are transformed consistently: sampled at the transformed positions and their vectors
rotated/flipped by the same linear map. Never applied to validation or test data.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Random rotation in ``[-max_angle, max_angle]`` degrees with probability ``p_rotate``, then a
    horizontal flip with probability ``p_hflip`` (the reference's defaults: 90°, 0.75, 0.5)."""

    max_angle: float = 90.0
    p_rotate: float = 0.75
    p_hflip: float = 0.5


def segment_seed(path: str, start_ts: int, epoch_seed: int) -> int:
    """Stable (process-independent) seed of one segment."""
    return zlib.crc32(f"{path}|{int(start_ts)}|{int(epoch_seed)}".encode())


def draw_affine(config: AugmentConfig, height: int, width: int, seed: int) -> np.ndarray:
    """Draw the ``(2, 3)`` forward affine map (destination = A @ source + b) of one segment.

    Pixel centres are at integer coordinates; rotation is about the image centre.
    """
    rng = np.random.default_rng(seed)
    rotate = rng.random() < config.p_rotate
    angle = rng.uniform(-config.max_angle, config.max_angle)
    flip = rng.random() < config.p_hflip
    center = ((width - 1) / 2.0, (height - 1) / 2.0)
    m = cv2.getRotationMatrix2D(center, angle if rotate else 0.0, 1.0)
    if flip:
        f = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        m = (f @ np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
    return m.astype(np.float64)


def apply_affine(features: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply ``affine`` to every ``(H, W)`` plane of ``features`` (bilinear, zeros outside).

    Shape:
        features: ``(..., H, W)``; returns the same shape, float32.
    """
    h, w = features.shape[-2:]
    lead = features.shape[:-2]
    planes = np.ascontiguousarray(features.reshape(-1, h, w).transpose(1, 2, 0), dtype=np.float32)
    out = [
        cv2.warpAffine(planes[..., i : i + 256], affine, (w, h), flags=cv2.INTER_LINEAR).reshape(h, w, -1)
        for i in range(0, planes.shape[-1], 256)
    ]
    return np.concatenate(out, axis=-1).transpose(2, 0, 1).reshape(*lead, h, w)


def apply_affine_flow(flow: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Transform dense flow fields: resample at the new positions and map vectors by ``affine[:, :2]``.

    Invalid (non-finite) pixels and pixels coming from outside the image become ``inf``.

    Shape:
        flow: ``(..., 2, H, W)``; returns the same shape, float32.
    """
    flow = np.asarray(flow, dtype=np.float32)
    valid = np.isfinite(flow).all(axis=-3).astype(np.float32)
    moved = apply_affine(np.where(np.isfinite(flow), flow, 0.0), affine)
    moved_valid = apply_affine(valid, affine) > 0.999
    linear = affine[:, :2].astype(np.float32)
    u, v = moved[..., 0, :, :], moved[..., 1, :, :]
    out = np.stack([linear[0, 0] * u + linear[0, 1] * v, linear[1, 0] * u + linear[1, 1] * v], axis=-3)
    return np.where(moved_valid[..., None, :, :], out, np.inf).astype(np.float32)
