"""Visualisation functions: one time bin of a preprocessed tensor ``(C, H, W)`` -> RGB uint8 image ``(H, W, 3)``.

Colours follow the reference (§12): binarized views use background (30, 37, 52), ON (216, 223, 236) and
OFF (64, 126, 201). ``viz_event_cube_rgb`` shows the first three micro bins as R, G, B, each the ON-OFF
difference clipped to mean ± 3 std and min-max scaled to [0, 255].
"""

from __future__ import annotations

import numpy as np

from evflow.errors import ShapeError

BG_COLOR = np.array([30, 37, 52], np.uint8)
ON_COLOR = np.array([216, 223, 236], np.uint8)
OFF_COLOR = np.array([64, 126, 201], np.uint8)


def _check(im: np.ndarray, min_channels: int, name: str) -> np.ndarray:
    im = np.asarray(im)
    if im.ndim != 3 or im.shape[0] < min_channels:
        raise ShapeError(f"{name}: expected one time bin (C >= {min_channels}, H, W), got shape {im.shape}")
    return im.astype(np.float32, copy=False)


def _binarized(signed: np.ndarray) -> np.ndarray:
    img = np.empty(signed.shape + (3,), np.uint8)
    img[...] = BG_COLOR
    img[signed > 0] = ON_COLOR
    img[signed < 0] = OFF_COLOR
    return img


def viz_diff_binarized(im: np.ndarray) -> np.ndarray:
    """Colour pixels by the sign of a ``diff`` channel.

    Args:
        im: ``(1, H, W)`` diff tensor of one time bin.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    return _binarized(_check(im, 1, "viz_diff_binarized")[0])


def viz_histo_binarized(im: np.ndarray) -> np.ndarray:
    """Colour pixels by the sign of ON minus OFF counts.

    Args:
        im: ``(2, H, W)`` histo tensor of one time bin (channel 0 OFF, 1 ON).

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    im = _check(im, 2, "viz_histo_binarized")
    return _binarized(im[1] - im[0])


def viz_histo(im: np.ndarray) -> np.ndarray:
    """Grey image of ON minus OFF, clipped to mean ± 3 std and min-max scaled.

    Args:
        im: ``(2, H, W)`` tensor (channel 0 OFF, 1 ON).

    Returns:
        ``(H, W)`` uint8 image.
    """
    im = _check(im, 2, "viz_histo")
    return _minmax(im[1] - im[0])


def _minmax(img: np.ndarray) -> np.ndarray:
    mean, std = float(img.mean()), float(img.std())
    img = np.clip(img, mean - 3 * std, mean + 3 * std)
    lo, hi = float(img.min()), float(img.max())
    if hi <= lo:
        return np.full(img.shape, 127 if lo == 0 else 255, np.uint8)
    return np.round(255 * (img - lo) / (hi - lo)).astype(np.uint8)


def viz_event_cube_rgb(im: np.ndarray, split_polarity: bool = True) -> np.ndarray:
    """Show the first three micro bins of an event cube as R, G, B.

    Args:
        im: ``(C, H, W)`` event cube of one time bin; ``C >= 6`` with split polarity, ``C >= 3`` without.
        split_polarity: channels are (OFF, ON) pairs; otherwise each channel is already signed.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    im = _check(im, 6 if split_polarity else 3, "viz_event_cube_rgb")
    if split_polarity:
        planes = [im[2 * d + 1] - im[2 * d] for d in range(3)]
    else:
        planes = [im[d] for d in range(3)]
    return np.stack([_minmax(pl) for pl in planes], axis=-1)


def viz_timesurface(im: np.ndarray) -> np.ndarray:
    """Show a two-channel time surface: red = ON, blue = OFF, brighter = later in the bin.

    Args:
        im: ``(2, H, W)`` time surface (normed, values in [0, 1)) of one time bin.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    im = _check(im, 2, "viz_timesurface")
    scale = 255.0 / max(float(im.max()), 1.0) if im.max() > 1 else 255.0
    img = np.zeros(im.shape[1:] + (3,), np.uint8)
    img[..., 0] = np.clip(np.round(im[1] * scale), 0, 255)
    img[..., 2] = np.clip(np.round(im[0] * scale), 0, 255)
    return img


def viz_multichannel_timesurface(im: np.ndarray) -> np.ndarray:
    """Show the first three micro bins of a multi-channel time surface as R, G, B (max over polarity).

    Args:
        im: ``(2 * D, H, W)`` tensor of one time bin with ``D >= 3``.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.
    """
    im = _check(im, 6, "viz_multichannel_timesurface")
    planes = [np.maximum(im[2 * d], im[2 * d + 1]) for d in range(3)]
    top = max(float(im.max()), 1.0)
    return np.stack([np.clip(np.round(255 * pl / top), 0, 255).astype(np.uint8) for pl in planes], axis=-1)
