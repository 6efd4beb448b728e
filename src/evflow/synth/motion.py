"""Smooth random motion: signals, speed profiles with pauses, camera over a plane, arc-length clocks.

Every moving layer (the textured background plane, each sprite) is a homography ``H(s)`` mapping layer
texture pixels to image pixels, driven by a motion parameter ``s``. A shared :class:`SpeedProfile`
``u(t) in [0, 1]`` (0 during pauses) sets how fast the scene moves; each layer travels ``speed * ∫u dt``
pixels (measured on probe points) by time ``t``, so no layer moves faster than its ``speed`` (px/s) and the
whole scene stops exactly during pauses. :class:`LayerClock` inverts the layer's pixel arc length to get
``s(t)``.

Camera model (reference §20): intrinsics ``K = [[W/2, 0, W/2], [0, H/2, H/2], [0, 0, 1]]``, plane normal
``n = (0, 0, 1)`` at depth ``d``; a camera pose ``(R, t)`` with ``X_cur = R X_ref + t`` sees the plane through
the image homography ``G = K (R + t nᵀ / d) K⁻¹`` (reference pixel -> current pixel), normalised so
``G[2, 2] = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evflow.errors import ConfigError


@dataclass(frozen=True)
class SmoothSignal:
    """A ``D``-dimensional sum of ``J`` sinusoids per dimension, ``f_d(s) = Σ_j a_dj sin(2π ν_dj s + φ_dj)``.

    Attributes:
        amplitude, frequency, phase: ``(D, J)`` arrays (frequency in cycles per unit of ``s``).
    """

    amplitude: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, scales, num_terms: int = 4, max_frequency: float = 0.5):
        """Draw a signal whose dimension ``d`` stays within ``±scales[d]``."""
        scales = np.asarray(scales, dtype=np.float64)
        shape = (len(scales), num_terms)
        weights = rng.uniform(0.2, 1.0, shape)
        amplitude = scales[:, None] * weights / weights.sum(axis=1, keepdims=True)
        frequency = rng.uniform(0.1 * max_frequency, max_frequency, shape)
        return cls(amplitude, frequency, rng.uniform(0, 2 * np.pi, shape))

    def __call__(self, s) -> np.ndarray:
        """Evaluate at ``s`` ``(N,)``; returns ``(N, D)``."""
        s = np.asarray(s, dtype=np.float64)[:, None, None]
        return (self.amplitude * np.sin(2 * np.pi * self.frequency * s + self.phase)).sum(axis=-1)


@dataclass(frozen=True)
class SpeedProfile:
    """Relative scene speed ``u(t) in [0, 1]`` on a regular time grid, exactly 0 during pauses.

    Attributes:
        t_grid: ``(n,)`` int64 µs grid times (from 0).
        u: ``(n,)`` relative speed at grid times (linear in between).
        travelled: ``(n,)`` ``∫u dt`` in seconds at grid times.
    """

    t_grid: np.ndarray
    u: np.ndarray
    travelled: np.ndarray

    @classmethod
    def from_values(cls, t_grid, u):
        """Build a profile from grid times (µs, strictly increasing, at least 2) and speeds (clipped to [0, 1]).

        Raises:
            ConfigError: bad grid.
        """
        t_grid, u = np.asarray(t_grid, np.int64), np.clip(np.asarray(u, np.float64), 0, 1)
        if t_grid.ndim != 1 or len(t_grid) < 2 or u.shape != t_grid.shape or np.any(np.diff(t_grid) <= 0):
            raise ConfigError(f"speed profile needs >= 2 increasing times and as many speeds, got {t_grid}, {u}")
        steps = 0.5 * (u[1:] + u[:-1]) * np.diff(t_grid) * 1e-6
        return cls(t_grid, u, np.concatenate([[0.0], np.cumsum(steps)]))

    @classmethod
    def random(cls, rng, duration_us: int, pause_probability: float = 0.25, grid_us: int = 1000, ramp_us=40000):
        """Random segments of 0.15-0.5 s at speed U(0.25, 1) or paused (0), joined by smooth ramps."""
        n = int(np.ceil(duration_us / grid_us)) + 1
        levels, i = np.empty(n + ramp_us // grid_us), 0
        while i < len(levels):
            seg = int(rng.uniform(150_000, 500_000) / grid_us)
            levels[i : i + seg] = 0.0 if rng.random() < pause_probability else rng.uniform(0.25, 1.0)
            i += seg
        window = np.hanning(ramp_us // grid_us + 1)[1:-1]
        u = np.convolve(levels, window / window.sum(), mode="valid")[:n]
        return cls.from_values(np.arange(n, dtype=np.int64) * grid_us, np.where(u < 1e-9, 0.0, u))

    def pause_edges(self) -> np.ndarray:
        """Grid times (µs) where the scene stops or starts moving."""
        still = self.u == 0
        stops = self.t_grid[1:][still[1:] & ~still[:-1]]
        starts = self.t_grid[:-1][still[:-1] & ~still[1:]]
        return np.union1d(stops, starts)

    def travelled_at(self, t_us) -> np.ndarray:
        """``∫u dt`` (seconds) at times ``t_us``, exact for the piecewise-linear ``u``."""
        t = np.asarray(t_us, dtype=np.float64)
        i = np.clip(np.searchsorted(self.t_grid, t, side="right") - 1, 0, len(self.t_grid) - 2)
        dt = (t - self.t_grid[i]) * 1e-6
        span = (self.t_grid[i + 1] - self.t_grid[i]) * 1e-6
        slope = (self.u[i + 1] - self.u[i]) / span
        return self.travelled[i] + self.u[i] * dt + 0.5 * slope * dt * dt

    def times_at(self, travelled) -> np.ndarray:
        """Inverse of :meth:`travelled_at` (first time each value is reached), in float µs."""
        travelled = np.asarray(travelled, dtype=np.float64)
        i = np.clip(np.searchsorted(self.travelled, travelled, side="left") - 1, 0, len(self.t_grid) - 2)
        span = (self.t_grid[i + 1] - self.t_grid[i]) * 1e-6
        slope = (self.u[i + 1] - self.u[i]) / span
        rest = np.clip(travelled - self.travelled[i], 0, None)
        # solve travelled[i] + u_i dt + slope dt^2 / 2 = travelled (stable form of the quadratic root)
        root = np.sqrt(np.maximum(self.u[i] ** 2 + 2 * slope * rest, 0))
        denom = self.u[i] + root
        dt = np.where(denom > 0, 2 * rest / np.where(denom > 0, denom, 1), 0.0)
        return self.t_grid[i] + np.minimum(dt, span) * 1e6


def rotation_matrices(rvecs: np.ndarray) -> np.ndarray:
    """Rodrigues' formula for ``(N, 3)`` rotation vectors; returns ``(N, 3, 3)``."""
    theta = np.linalg.norm(rvecs, axis=1)[:, None, None]
    axis = rvecs / np.maximum(theta[:, :, 0], 1e-12)
    kx = np.zeros((len(rvecs), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    kx -= kx.transpose(0, 2, 1)
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


def intrinsics(height: int, width: int) -> np.ndarray:
    """Pinhole intrinsics of reference §20: focal ``W/2`` and ``H/2``, principal point at the centre."""
    return np.array([[width / 2, 0, width / 2], [0, height / 2, height / 2], [0, 0, 1]], dtype=np.float64)


@dataclass(frozen=True)
class CameraMotion:
    """6-DOF camera moving smoothly in front of a textured plane at ``depth`` (unit: plane distance).

    ``texture_origin`` is the texture pixel seen at image pixel (0, 0) in the reference view, so a texture
    larger than the image (with a margin around it) shows no border reflections for moderate motion.
    """

    height: int
    width: int
    depth: float
    rotation: SmoothSignal
    translation: SmoothSignal
    texture_origin: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def random(cls, rng, height: int, width: int, texture_origin=(0.0, 0.0)):
        """Random depth U(1, 2), rotations within ±(0.12, 0.12, 0.3) rad, translations within ±0.3 depth."""
        depth = rng.uniform(1.0, 2.0)
        rotation = SmoothSignal.random(rng, [0.12, 0.12, 0.3])
        translation = SmoothSignal.random(rng, [0.3 * depth, 0.3 * depth, 0.25 * depth])
        return cls(height, width, depth, rotation, translation, tuple(float(v) for v in texture_origin))

    def homographies(self, s) -> np.ndarray:
        """Image homographies ``G(s)`` (texture pixel -> image pixel), shape ``(N, 3, 3)``."""
        k = intrinsics(self.height, self.width)
        plane = rotation_matrices(self.rotation(s))
        plane[:, :, 2] += self.translation(s) / self.depth
        shift = np.array([[1, 0, -self.texture_origin[0]], [0, 1, -self.texture_origin[1]], [0, 0, 1]])
        g = k @ plane @ np.linalg.inv(k) @ shift
        return g / g[:, 2:3, 2:3]

    def probe_points(self) -> np.ndarray:
        """3x3 grid of image points whose motion bounds the layer's pixel speed."""
        xs, ys = np.meshgrid(np.linspace(0, self.width - 1, 3), np.linspace(0, self.height - 1, 3))
        return np.stack([xs.ravel(), ys.ravel()], axis=1)

    probes_in_image = True


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map points by homographies: ``(P, 2)`` (or ``(N, P, 2)``) points, ``(N, 3, 3)`` -> ``(N, P, 2)``."""
    pts = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    out = pts @ h.transpose(0, 2, 1)
    return out[..., :2] / out[..., 2:3]


@dataclass(frozen=True)
class LayerClock:
    """Arc-length parametrisation of one layer: pixels travelled (on probe points) -> motion parameter ``s``."""

    s_grid: np.ndarray
    arc: np.ndarray

    @classmethod
    def build(cls, layer, length_px: float, step_px: float = 0.5):
        """Tabulate ``s`` until the layer has travelled ``length_px`` pixels (max over its probe points).

        Raises:
            ValueError: the layer does not move.
        """
        rate = _arc(layer, np.linspace(0.0, 2.0, 257))[-1] / 2.0  # pixels per unit of s, roughly
        span = 1.3 * length_px / max(rate, 1e-9)
        while span < 1e7:
            s_grid = np.linspace(0.0, span, max(256, int(1.3 * length_px / step_px)))
            arc = _arc(layer, s_grid)
            if arc[-1] >= length_px:
                return cls(s_grid, arc)
            span *= 2
        raise ValueError("layer does not move: its homography is (nearly) constant")

    def s_at(self, pixels) -> np.ndarray:
        """Motion parameter reached after travelling ``pixels``."""
        return np.interp(pixels, self.arc, self.s_grid)


def _arc(layer, s_grid: np.ndarray) -> np.ndarray:
    """Cumulative pixel path (max over the layer's probe points of each step) along ``s_grid``."""
    h = layer.homographies(s_grid)
    probes = layer.probe_points()
    if layer.probes_in_image:
        disp = apply_homography(h[1:], apply_homography(np.linalg.inv(h[:-1]), probes)) - probes
    else:
        pts = apply_homography(h, probes)
        disp = pts[1:] - pts[:-1]
    step = np.sqrt((disp**2).sum(axis=-1)).max(axis=1) + 1e-9
    return np.concatenate([[0.0], np.cumsum(step)])
