"""Frame-to-event simulator: a log-intensity DVS model as numba kernels.

Each pixel keeps a reference log level ``ref``. Between two frames at ``t0`` and ``t1`` its log intensity
``L = log(eps + I / 255)`` is taken to vary linearly; each time ``L - ref`` reaches ``+C_on`` (``-C_off``) an
ON (OFF) event is emitted at the linearly interpolated crossing time and ``ref`` moves by the threshold.
Per-pixel thresholds are drawn once from ``N(mean, sigma)`` clipped to [0.01, 1] (separately ON/OFF).
A crossing less than ``refractory_us`` after the pixel's previous event updates ``ref`` but emits nothing.
Leak: ``ref`` drifts down by ``leak_hz * C_on`` per second, producing spontaneous ON events at that rate.
Shot noise: independent events at ``shot_noise_hz`` per pixel, random polarity, uniform times; they do not
change ``ref``. Timestamps are int64 µs (crossing times rounded to the nearest µs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from evflow.errors import ConfigError, ShapeError
from evflow.io.events import empty_events


@dataclass(frozen=True)
class SimulatorConfig:
    """Event model parameters (thresholds in log-intensity units, rates in Hz per pixel)."""

    threshold_on: float = 0.2
    threshold_off: float = 0.2
    sigma_on: float = 0.02
    sigma_off: float = 0.02
    refractory_us: int = 100
    shot_noise_hz: float = 0.0
    leak_hz: float = 0.0
    log_eps: float = 1e-3

    @classmethod
    def preset(cls, name: str) -> SimulatorConfig:
        """``"clean"`` (no noise events) or ``"noisy"`` (wider thresholds spread, shot noise, leak)."""
        if name == "clean":
            return cls()
        if name == "noisy":
            return cls(sigma_on=0.05, sigma_off=0.05, refractory_us=500, shot_noise_hz=0.5, leak_hz=0.2)
        raise ConfigError(f"unknown noise preset {name!r}; valid: ['clean', 'noisy']")


@numba.njit(cache=True, nogil=True)
def _emit(log0, log1, ref, last_t, c_on, c_off, leak, t0, t1, refractory, active):
    """Advance every pixel from ``log0`` (at t0) to ``log1`` (at t1); update ``ref``/``last_t`` in place.

    ``active`` is an int64 scratch buffer of one entry per pixel. Returns the flat pixel index, polarity
    and time of each emitted event, in pixel order.
    """
    n_active, n_max = 0, 0
    for i in range(log0.size):  # pass 1: pixels with at least one crossing, and a bound on the count
        b = log1[i] - ref[i] + leak * c_on[i]
        if b >= c_on[i] or b <= -c_off[i]:
            active[n_active] = i
            n_active += 1
            n_max += int(b / c_on[i]) if b > 0 else int(-b / c_off[i])
        elif leak != 0:
            ref[i] -= leak * c_on[i]
    idx = np.empty(n_max, np.int64)
    ps = np.empty(n_max, np.int16)
    ts = np.empty(n_max, np.int64)
    span = t1 - t0
    n = 0
    for j in range(n_active):  # pass 2: interpolated crossing times
        i = active[j]
        a = log0[i] - ref[i]
        b = log1[i] - ref[i] + leak * c_on[i]
        if b > 0:
            c, pol, count = c_on[i], 1, int(b / c_on[i])
        else:
            c, pol, count = -c_off[i], 0, int(-b / c_off[i])
        for k in range(1, count + 1):
            tau = min(max((k * c - a) / (b - a), 0.0), 1.0) if b != a else 1.0
            t = t0 + np.int64(tau * span + 0.5)
            if t - last_t[i] >= refractory:
                idx[n], ps[n], ts[n] = i, pol, t
                last_t[i] = t
                n += 1
        ref[i] = log1[i] - (b - count * c)
    return idx[:n], ps[:n], ts[:n]


@numba.njit(cache=True, nogil=True)
def _time_order(ts, t0, t1):
    """Stable counting sort of timestamps within ``[t0, t1]``: returns the permutation."""
    counts = np.zeros(t1 - t0 + 2, np.int64)
    for t in ts:
        counts[t - t0 + 1] += 1
    for j in range(1, counts.size):
        counts[j] += counts[j - 1]
    order = np.empty(ts.size, np.int64)
    for i in range(ts.size):
        j = ts[i] - t0
        order[counts[j]] = i
        counts[j] += 1
    return order


class EventSimulator:
    """Stateful simulator fed with frames in time order.

    Args:
        height, width: frame size.
        config: model parameters.
        rng: random generator (thresholds, initial reference offsets, shot noise).
    """

    def __init__(self, height: int, width: int, config: SimulatorConfig, rng: np.random.Generator):
        self.height, self.width, self.config, self.rng = height, width, config, rng
        n = height * width
        self.c_on = np.clip(rng.normal(config.threshold_on, config.sigma_on, n), 0.01, 1.0).astype(np.float32)
        self.c_off = np.clip(rng.normal(config.threshold_off, config.sigma_off, n), 0.01, 1.0).astype(np.float32)
        self.ref = None
        self.log = None
        self.t = None
        self.last_t = np.full(n, np.iinfo(np.int64).min // 2, np.int64)

    def log_intensity(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``log(eps + frame / 255)`` flattened to float32 ``(H*W,)`` (into ``out`` when given)."""
        out = np.multiply(frame.ravel(), np.float32(1 / 255), out=out, dtype=np.float32)
        out += np.float32(self.config.log_eps)
        return np.log(out, out=out)

    def reset(self, frame: np.ndarray, t_us: int) -> None:
        """Start from ``frame`` at ``t_us``; reference levels get a random offset within the thresholds."""
        self._check_frame(frame)
        self.log = self.log_intensity(frame)
        self._next_log = np.empty_like(self.log)
        self._active = np.empty(self.log.size, np.int64)
        self.last_t[:] = np.iinfo(np.int64).min // 2
        offset = self.rng.uniform(-1.0, 1.0, self.log.size)
        # float64 reference: the residual ``log - ref`` must stay strictly inside the thresholds (a float32
        # round-off could push it onto a threshold and fire a spurious event in a still scene)
        self.ref = self.log - np.where(offset > 0, offset * self.c_on, offset * self.c_off).astype(np.float64) * 0.99
        self.t = int(t_us)

    def step(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        """Feed the next frame; returns the time-sorted events of ``[t_prev, t_us]`` (EVENT_DTYPE).

        Shape:
            frame: ``(H, W)`` intensities in [0, 255].
        """
        if self.log is None:
            raise ConfigError("EventSimulator.step() called before reset()")
        self._check_frame(frame)
        t0, t1, cfg = self.t, int(t_us), self.config
        if t1 < t0:
            raise ConfigError(f"frames must come in time order: got t={t1} after t={t0}")
        self.log_intensity(frame, out=self._next_log)
        leak = np.float32(cfg.leak_hz * (t1 - t0) * 1e-6)
        idx, p, t = _emit(self.log, self._next_log, self.ref, self.last_t, self.c_on, self.c_off, leak, t0, t1,
                          cfg.refractory_us, self._active)  # fmt: skip
        self.log, self._next_log, self.t = self._next_log, self.log, t1
        cols = ((idx % self.width).astype(np.uint16), (idx // self.width).astype(np.uint16), p, t)
        if cfg.shot_noise_hz > 0:
            cols = _add_shot_noise(cols, self.rng, cfg.shot_noise_hz, t0, t1, self.height, self.width)
        return _to_events(*cols, t0, t1)

    def _check_frame(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width):
            raise ShapeError(f"frame must have shape ({self.height}, {self.width}), got {frame.shape}")


def _add_shot_noise(cols, rng, rate_hz, t0, t1, height, width):
    n = rng.poisson(rate_hz * (t1 - t0) * 1e-6 * height * width)
    if n == 0:
        return cols
    noise = (
        rng.integers(0, width, n).astype(np.uint16),
        rng.integers(0, height, n).astype(np.uint16),
        rng.integers(0, 2, n).astype(np.int16),
        rng.integers(t0, max(t1, t0 + 1), n).astype(np.int64),
    )
    return tuple(np.concatenate([a, b]) for a, b in zip(cols, noise))


def _to_events(x, y, p, t, t0: int, t1: int) -> np.ndarray:
    if t1 - t0 <= 8 * len(t) + 100_000:
        order = _time_order(t, t0, t1)
    else:
        order = np.argsort(t, kind="stable")
    ev = empty_events(len(t))
    ev["x"], ev["y"], ev["p"], ev["t"] = x[order], y[order], p[order], t[order]
    return ev
