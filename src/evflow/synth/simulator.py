"""Frame-to-event simulator: a log-intensity DVS model as numba kernels.

Each pixel keeps a reference log level ``ref``. Between two frames at ``t0`` and ``t1`` its log intensity
``L = log(eps + I / 255)`` is taken to vary linearly; each time ``L - ref`` reaches ``+C_on`` (``-C_off``) an
ON (OFF) event is emitted at the linearly interpolated crossing time and ``ref`` moves by the threshold.
Per-pixel thresholds are drawn once from ``N(mean, sigma)`` clipped to [0.01, 1] (separately ON/OFF).
A crossing less than ``refractory_us`` after the pixel's previous event updates ``ref`` but emits nothing.
Leak: ``ref`` drifts down by ``leak_hz * C_on`` per second, producing spontaneous ON events at that rate.
Shot noise: independent events at ``shot_noise_hz`` per pixel, random polarity, uniform times; they do not
change ``ref``. Timestamps are int64 µs (crossing times floored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from evflow.errors import ConfigError
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
def _count_crossings(d0, d1, c_on, c_off):
    n = 0
    for i in range(d0.size):
        if d1[i] >= c_on[i]:
            n += int(d1[i] / c_on[i])
        elif d1[i] <= -c_off[i]:
            n += int(-d1[i] / c_off[i])
    return n


@numba.njit(cache=True, nogil=True)
def _emit(log0, log1, ref, last_t, c_on, c_off, leak, t0, t1, refractory, width):
    """Advance every pixel from ``log0`` (at t0) to ``log1`` (at t1); update ``ref``/``last_t`` in place."""
    d0 = log0 - ref
    d1 = log1 - ref + leak * c_on
    n_max = _count_crossings(d0, d1, c_on, c_off)
    xs = np.empty(n_max, np.uint16)
    ys = np.empty(n_max, np.uint16)
    ps = np.empty(n_max, np.int16)
    ts = np.empty(n_max, np.int64)
    span = t1 - t0
    n = 0
    for i in range(d0.size):
        a, b = d0[i], d1[i]
        if b >= c_on[i]:
            c, pol, count = c_on[i], 1, int(b / c_on[i])
        elif b <= -c_off[i]:
            c, pol, count = -c_off[i], 0, int(-b / c_off[i])
        else:
            ref[i] = log1[i] - b
            continue
        for k in range(1, count + 1):
            tau = min(max((k * c - a) / (b - a), 0.0), 1.0)
            t = t0 + np.int64(tau * span)
            if t - last_t[i] >= refractory:
                xs[n], ys[n], ps[n], ts[n] = i % width, i // width, pol, t
                last_t[i] = t
                n += 1
        ref[i] = log1[i] - (b - count * c)
    return xs[:n], ys[:n], ps[:n], ts[:n]


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
        self.c_on = np.clip(rng.normal(config.threshold_on, config.sigma_on, n), 0.01, 1.0)
        self.c_off = np.clip(rng.normal(config.threshold_off, config.sigma_off, n), 0.01, 1.0)
        self.ref = None
        self.log = None
        self.t = None
        self.last_t = np.full(n, np.iinfo(np.int64).min // 2, np.int64)

    def log_intensity(self, frame: np.ndarray) -> np.ndarray:
        """``log(eps + frame / 255)`` flattened to float64 ``(H*W,)``."""
        return np.log(self.config.log_eps + frame.astype(np.float64).ravel() * (1 / 255))

    def reset(self, frame: np.ndarray, t_us: int) -> None:
        """Start from ``frame`` at ``t_us``; reference levels get a random offset within the thresholds."""
        self.log = self.log_intensity(frame)
        offset = self.rng.uniform(-1.0, 1.0, self.log.size)
        self.ref = self.log - np.where(offset > 0, offset * self.c_on, offset * self.c_off) * 0.99
        self.t = int(t_us)

    def step(self, frame: np.ndarray, t_us: int) -> np.ndarray:
        """Feed the next frame; returns the time-sorted events of ``[t_prev, t_us]`` (EVENT_DTYPE).

        Shape:
            frame: ``(H, W)`` intensities in [0, 255].
        """
        if self.log is None:
            raise ConfigError("EventSimulator.step() called before reset()")
        t_us = int(t_us)
        if t_us < self.t:
            raise ConfigError(f"frames must come in time order: got t={t_us} after t={self.t}")
        new_log = self.log_intensity(frame)
        cfg = self.config
        leak = cfg.leak_hz * (t_us - self.t) * 1e-6
        cols = _emit(self.log, new_log, self.ref, self.last_t, self.c_on, self.c_off, leak, self.t, t_us,
                     cfg.refractory_us, self.width)  # fmt: skip
        if cfg.shot_noise_hz > 0:
            cols = _add_shot_noise(cols, self.rng, cfg.shot_noise_hz, self.t, t_us, self.height, self.width)
        self.log, self.t = new_log, t_us
        return _to_events(*cols)


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


def _to_events(x, y, p, t) -> np.ndarray:
    order = np.argsort(t, kind="stable")
    ev = empty_events(len(t))
    ev["x"], ev["y"], ev["p"], ev["t"] = x[order], y[order], p[order], t[order]
    return ev
