"""Event-to-tensor preprocessing (reference §12): numba kernels, a name registry, ``CDProcessor``, viz functions.

Every kernel has the reference's call convention
``f(events, output, total_tbins_delta_t, downsampling_factor=0, reset=True, **kwargs)`` and fills
``output`` of shape ``(num_tbins, C, H, W)`` in place; evflow adds the keyword-only ``start_ts`` and
``drop_out_of_range``. The torch twin of ``event_cube`` lives in :mod:`evflow.preprocessing.torch_event_cube`
(imported lazily so that numpy-only users do not pay for torch).
"""

from evflow.preprocessing.builtin import register_builtins
from evflow.preprocessing.event_cube import event_cube
from evflow.preprocessing.histo import diff, histo
from evflow.preprocessing.processor import CDProcessor
from evflow.preprocessing.quantized import diff_quantized, histo_quantized
from evflow.preprocessing.registry import (
    PreprocessingInfo,
    get_preprocess_dict,
    get_preprocess_function,
    get_preprocess_function_names,
    get_preprocess_kwargs_keys,
    get_preprocessing_info,
    list_preprocessings,
    preprocessing,
    register_new_preprocessing,
    register_preprocessing,
)
from evflow.preprocessing.timesurface import multi_channel_timesurface, timesurface
from evflow.preprocessing.viz import (
    viz_diff_binarized,
    viz_event_cube_rgb,
    viz_histo,
    viz_histo_binarized,
    viz_multichannel_timesurface,
    viz_timesurface,
)

register_builtins()


def __getattr__(name):
    if name in ("event_cube_torch", "events_to_torch"):
        from evflow.preprocessing import torch_event_cube

        return getattr(torch_event_cube, name)
    raise AttributeError(f"module 'evflow.preprocessing' has no attribute {name!r}")


__all__ = [
    "CDProcessor",
    "PreprocessingInfo",
    "diff",
    "diff_quantized",
    "event_cube",
    "event_cube_torch",
    "events_to_torch",
    "get_preprocess_dict",
    "get_preprocess_function",
    "get_preprocess_function_names",
    "get_preprocess_kwargs_keys",
    "get_preprocessing_info",
    "histo",
    "histo_quantized",
    "list_preprocessings",
    "multi_channel_timesurface",
    "preprocessing",
    "register_new_preprocessing",
    "register_preprocessing",
    "timesurface",
    "viz_diff_binarized",
    "viz_event_cube_rgb",
    "viz_histo",
    "viz_histo_binarized",
    "viz_multichannel_timesurface",
    "viz_timesurface",
]
