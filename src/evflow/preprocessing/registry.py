"""Registry of event-to-tensor preprocessings, looked up by name (reference §12).

Each entry is a frozen :class:`PreprocessingInfo`. Register with :func:`register_preprocessing` (or the
:func:`preprocessing` decorator); look up with :func:`get_preprocessing_info` / :func:`get_preprocess_function`;
list with :func:`list_preprocessings`. Unknown names raise :class:`~evflow.errors.ConfigError` listing the valid
ones. The Prophesee names (``register_new_preprocessing``, ``get_preprocess_dict``,
``get_preprocess_function_names``, ``get_preprocess_kwargs_keys``) are kept for compatibility.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from evflow.errors import ConfigError


@dataclass(frozen=True)
class PreprocessingInfo:
    """Metadata of one registered preprocessing.

    Attributes:
        name: registry name (also stored in HDF5 tensor files as ``events_to_tensor``).
        n_input_channels: number of channels ``C`` of its ``(num_tbins, C, H, W)`` output.
        function: ``f(events, output, total_tbins_delta_t, downsampling_factor=0, reset=True, **kwargs)``.
        viz_function: ``viz(im (C, H, W)) -> (H, W, 3) uint8``.
        default_kwargs: read-only default keyword arguments of ``function``.
        dtype: numpy dtype of the output tensor.
    """

    name: str
    n_input_channels: int
    function: Callable
    viz_function: Callable
    default_kwargs: Mapping = field(default_factory=lambda: MappingProxyType({}))
    dtype: np.dtype = np.dtype(np.float32)


_REGISTRY: dict[str, PreprocessingInfo] = {}


def register_preprocessing(
    name: str,
    n_input_channels: int,
    function: Callable,
    viz_function: Callable,
    default_kwargs: Mapping | None = None,
    dtype=None,
) -> PreprocessingInfo:
    """Register (or replace, with a warning) a preprocessing.

    Args:
        name: registry name.
        n_input_channels: channels of the output tensor.
        function: kernel with the reference call convention (see :class:`PreprocessingInfo`).
        viz_function: turns one time bin into an RGB uint8 image.
        default_kwargs: default keyword arguments; a ``preprocess_dtype`` entry sets the output dtype.
        dtype: output dtype (default float32, or ``default_kwargs["preprocess_dtype"]``).

    Returns:
        The registered :class:`PreprocessingInfo`.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"preprocessing name must be a non-empty string, got {name!r}")
    if int(n_input_channels) < 1:
        raise ConfigError(f"preprocessing {name!r}: n_input_channels must be >= 1, got {n_input_channels}")
    kwargs = dict(default_kwargs or {})
    dtype = np.dtype(kwargs.pop("preprocess_dtype", dtype or np.float32))
    if name in _REGISTRY:
        warnings.warn(f"preprocessing {name!r} is already registered; replacing it", stacklevel=2)
    info = PreprocessingInfo(name, int(n_input_channels), function, viz_function, MappingProxyType(kwargs), dtype)
    _REGISTRY[name] = info
    return info


def preprocessing(name: str, n_input_channels: int, viz_function: Callable, default_kwargs=None, dtype=None):
    """Decorator form of :func:`register_preprocessing`; returns the function unchanged."""

    def decorate(function: Callable) -> Callable:
        register_preprocessing(name, n_input_channels, function, viz_function, default_kwargs, dtype)
        return function

    return decorate


def list_preprocessings(pattern: str = "*") -> list[str]:
    """Sorted names of the registered preprocessings matching a shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def get_preprocessing_info(name: str) -> PreprocessingInfo:
    """Return the metadata of ``name``.

    Raises:
        ConfigError: unknown name (the message lists the valid names).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown preprocessing {name!r}; valid names: {', '.join(list_preprocessings())}") from None


def get_preprocess_function(name: str) -> Callable:
    """Return the kernel function registered under ``name`` (ConfigError if unknown)."""
    return get_preprocessing_info(name).function


def register_new_preprocessing(name, n_input_channels, function, viz_function, kwargs=None) -> None:
    """Prophesee-compatible alias of :func:`register_preprocessing`."""
    register_preprocessing(name, n_input_channels, function, viz_function, kwargs)


def get_preprocess_dict() -> dict:
    """Prophesee-style dict ``name -> {"cin", "preprocessing_function", "viz", "kwargs"}`` (a copy).

    ``kwargs`` includes ``preprocess_dtype`` as in the reference.
    """
    return {
        n: {
            "cin": i.n_input_channels,
            "preprocessing_function": i.function,
            "viz": i.viz_function,
            "kwargs": {"preprocess_dtype": i.dtype, **i.default_kwargs},
        }
        for n, i in sorted(_REGISTRY.items())
    }


def get_preprocess_function_names() -> list[str]:
    """Names of all registered preprocessings (Prophesee-compatible)."""
    return list_preprocessings()


def get_preprocess_kwargs_keys(name: str) -> list[str]:
    """Keyword-argument names of preprocessing ``name`` (those stored as HDF5 tensor-file attributes)."""
    return list(get_preprocessing_info(name).default_kwargs)
