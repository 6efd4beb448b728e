"""Registration of the eight built-in preprocessings of the reference (§12 table)."""

from __future__ import annotations

import numpy as np

from evflow.preprocessing.event_cube import event_cube
from evflow.preprocessing.histo import diff, histo
from evflow.preprocessing.quantized import diff_quantized, histo_quantized
from evflow.preprocessing.registry import register_preprocessing
from evflow.preprocessing.timesurface import multi_channel_timesurface, timesurface
from evflow.preprocessing.viz import (
    viz_diff_binarized,
    viz_event_cube_rgb,
    viz_histo_binarized,
    viz_multichannel_timesurface,
    viz_timesurface,
)

BUILTINS = (
    ("diff", 1, diff, viz_diff_binarized, {"max_incr_per_pixel": 5.0}, np.float32),
    (
        "diff_quantized",
        1,
        diff_quantized,
        viz_diff_binarized,
        {"negative_bit_length": 8, "normalization": False},
        np.int8,
    ),
    ("histo", 2, histo, viz_histo_binarized, {"max_incr_per_pixel": 5.0}, np.float32),
    (
        "histo_quantized",
        2,
        histo_quantized,
        viz_histo_binarized,
        {"negative_bit_length": 4, "total_bit_length": 8, "normalization": False},
        np.uint8,
    ),
    ("timesurface", 2, timesurface, viz_timesurface, {}, np.float32),
    ("event_cube", 6, event_cube, viz_event_cube_rgb, {"split_polarity": True, "max_incr_per_pixel": 5.0}, np.float32),
    (
        "event_cube_paper",
        10,
        event_cube,
        viz_event_cube_rgb,
        {"split_polarity": True, "max_incr_per_pixel": 255 / 4},
        np.float32,
    ),
    ("multi_channel_timesurface", 6, multi_channel_timesurface, viz_multichannel_timesurface, {}, np.float32),
)


def register_builtins() -> None:
    """Register every built-in preprocessing (called once when evflow.preprocessing is imported)."""
    for name, cin, function, viz, kwargs, dtype in BUILTINS:
        register_preprocessing(name, cin, function, viz, kwargs, dtype)
