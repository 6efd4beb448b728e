"""``CDProcessor``: turn a window of events into a ``(num_tbins, C, H, W)`` tensor with a registered preprocessing."""

from __future__ import annotations

import inspect

import numpy as np

from evflow.errors import ConfigError, ShapeError
from evflow.preprocessing.registry import get_preprocessing_info

_RESERVED = {"events", "output", "total_tbins_delta_t", "downsampling_factor", "reset", "start_ts", "drop_out_of_range"}


class CDProcessor:
    """Preprocess CD events with a registered preprocessing (Prophesee-compatible signature).

    Args:
        height, width: sensor size; the tensor is ``(height >> ds, width >> ds)``.
        num_tbins: number of time bins of the output.
        preprocessing: registry name (see :func:`~evflow.preprocessing.list_preprocessings`).
        downsampling_factor: ``ds``, spatial downsampling by ``2**ds``.
        preprocess_kwargs: overrides of the preprocessing's default kwargs (``preprocess_dtype`` is accepted).
        drop_out_of_range: drop events outside the sensor or window instead of raising EventValueError.

    Raises:
        ConfigError: unknown preprocessing name or kwarg, or bad sizes.

    Example:
        >>> proc = CDProcessor(480, 640, num_tbins=5, preprocessing="event_cube")
        >>> proc.get_array_dim()
        (5, 6, 480, 640)
    """

    def __init__(
        self,
        height: int,
        width: int,
        num_tbins: int = 5,
        preprocessing: str = "histo",
        downsampling_factor: int = 0,
        preprocess_kwargs: dict | None = None,
        *,
        drop_out_of_range: bool = False,
    ):
        self.info = get_preprocessing_info(preprocessing)
        if height <= 0 or width <= 0 or num_tbins <= 0 or downsampling_factor < 0:
            raise ConfigError(
                f"CDProcessor: need positive height, width, num_tbins and ds >= 0, got "
                f"{height}, {width}, {num_tbins}, {downsampling_factor}"
            )
        kwargs = dict(self.info.default_kwargs)
        kwargs.update(preprocess_kwargs or {})
        self.dtype = np.dtype(kwargs.pop("preprocess_dtype", self.info.dtype))
        self._check_kwargs(kwargs)
        params = inspect.signature(self.info.function).parameters
        self._native_window = "start_ts" in params and "drop_out_of_range" in params
        self.preprocess_kwargs = kwargs
        self.height, self.width = int(height), int(width)
        self.num_tbins = int(num_tbins)
        self.preprocessing = preprocessing
        self.downsampling_factor = int(downsampling_factor)
        self.drop_out_of_range = bool(drop_out_of_range)
        ds = self.downsampling_factor
        self.shape = (self.num_tbins, self.info.n_input_channels, self.height >> ds, self.width >> ds)
        if self.shape[2] == 0 or self.shape[3] == 0:
            raise ConfigError(f"CDProcessor: downsampling_factor {ds} leaves an empty {self.shape[2:]} tensor")

    def _check_kwargs(self, kwargs: dict) -> None:
        params = inspect.signature(self.info.function).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        valid = sorted(set(params) - _RESERVED)
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(f"preprocessing {self.info.name!r}: unknown kwarg(s) {unknown}; valid: {valid}")

    def get_num_channels(self) -> int:
        """Number of channels ``C`` of the output."""
        return self.shape[1]

    def get_array_dim(self) -> tuple:
        """Output shape ``(num_tbins, C, H, W)``."""
        return self.shape

    def get_empty_array(self) -> np.ndarray:
        """A zeroed output tensor of the right shape and dtype."""
        return np.zeros(self.shape, self.dtype)

    def __call__(
        self, events: np.ndarray, delta_t: int | None = None, start_ts: int | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Preprocess one window of events into a new tensor.

        Args:
            events: structured array with fields x, y, p, t.
            delta_t: window length in µs (all time bins together). When None, the window starts at the first
                event and ends just after the last one (length ``t[-1] - t[0] + 1``).
            start_ts: window start in µs. Defaults to 0 (times relative to the window, the reference's
                convention) when ``delta_t`` is given, else to the first event's time.
            out: optional preallocated ``(num_tbins, C, H, W)`` array to fill (and return) instead of a new one.

        Returns:
            ``(num_tbins, C, H, W)`` array of :attr:`dtype`.

        Raises:
            EventValueError: events outside the sensor or the window (unless ``drop_out_of_range``).
        """
        if out is not None and (out.shape != self.shape or out.dtype != self.dtype):
            raise ShapeError(f"CDProcessor: out must be {self.shape} {self.dtype}, got {out.shape} {out.dtype}")
        if len(events) == 0:
            if out is None:
                return self.get_empty_array()
            out.fill(0)
            return out
        if delta_t is None:
            t = events["t"]
            first = int(t[0]) if start_ts is None else int(start_ts)
            delta_t, start_ts = int(t[-1]) - first + 1, first
        start_ts = 0 if start_ts is None else int(start_ts)
        extra = {}
        if self._native_window:  # evflow kernels: they zero the output themselves (reset=True)
            out = np.empty(self.shape, self.dtype) if out is None else out
            extra = {"start_ts": start_ts, "drop_out_of_range": self.drop_out_of_range}
        else:
            out = self.get_empty_array() if out is None else out
            if start_ts:
                events = events.copy()  # user function with the plain reference convention: relative times
                events["t"] -= start_ts
        self.info.function(events, out, int(delta_t), self.downsampling_factor, True, **extra, **self.preprocess_kwargs)
        return out

    def show(self, tensor: np.ndarray, tbin: int = 0) -> np.ndarray:
        """RGB uint8 image ``(H, W, 3)`` of time bin ``tbin`` of ``tensor``, via the preprocessing's viz function."""
        return self.info.viz_function(tensor[tbin])

    def __repr__(self) -> str:
        return (
            f"CDProcessor(height={self.height}, width={self.width}, num_tbins={self.num_tbins}, "
            f"preprocessing={self.preprocessing!r}, downsampling_factor={self.downsampling_factor}, "
            f"preprocess_kwargs={self.preprocess_kwargs})"
        )
