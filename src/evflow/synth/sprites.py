"""Independently moving foreground objects: textured sprites with an alpha mask and their own homography.

A sprite's homography maps sprite texture pixels to image pixels:
``S(s) = T(centre(s)) · R(angle(s)) · diag(scale(s)) · P(s) · T(-texture_centre)``, where ``P`` is a small
projective tilt, so sprites translate, rotate, zoom and tilt smoothly and independently of the camera.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from evflow.synth.motion import SmoothSignal


@dataclass(frozen=True)
class SpriteMotion:
    """Smooth planar motion of a sprite of size ``(tex_height, tex_width)`` around ``centre`` (image px)."""

    tex_height: int
    tex_width: int
    centre: tuple[float, float]
    path: SmoothSignal  # (dx, dy) around centre, pixels
    pose: SmoothSignal  # (angle rad, log-scale, tilt_x, tilt_y)

    def homographies(self, s) -> np.ndarray:
        """``(N, 3, 3)`` homographies (sprite texture pixel -> image pixel)."""
        s = np.asarray(s, dtype=np.float64)
        path, pose = self.path(s), self.pose(s)
        n = len(s)
        to_centre = np.eye(3)
        to_centre[:2, 2] = (-(self.tex_width - 1) / 2, -(self.tex_height - 1) / 2)
        size = max(self.tex_height, self.tex_width)
        tilt = np.tile(np.eye(3), (n, 1, 1))
        tilt[:, 2, 0], tilt[:, 2, 1] = pose[:, 2] / size, pose[:, 3] / size
        cos, sin, scale = np.cos(pose[:, 0]), np.sin(pose[:, 0]), np.exp(pose[:, 1])
        sim = np.zeros((n, 3, 3))
        sim[:, 0, 0], sim[:, 0, 1] = scale * cos, -scale * sin
        sim[:, 1, 0], sim[:, 1, 1] = scale * sin, scale * cos
        sim[:, 0, 2], sim[:, 1, 2] = self.centre[0] + path[:, 0], self.centre[1] + path[:, 1]
        sim[:, 2, 2] = 1.0
        h = sim @ tilt @ to_centre
        return h / h[:, 2:3, 2:3]

    def probe_points(self) -> np.ndarray:
        """Corners and centre of the sprite texture."""
        w, h = self.tex_width - 1, self.tex_height - 1
        return np.array([[0, 0], [w, 0], [0, h], [w, h], [w / 2, h / 2]], dtype=np.float64)

    probes_in_image = False


@dataclass(frozen=True, eq=False)
class Sprite:
    """A foreground object: texture and alpha (same shape, alpha in [0, 1]) plus its motion."""

    texture: np.ndarray
    alpha: np.ndarray
    motion: SpriteMotion

    @functools.cached_property
    def premultiplied(self) -> np.ndarray:
        """``(h, w, 2)`` float32 ``[texture * alpha, alpha]``, warped in one call (premultiplied alpha)."""
        return np.dstack([self.texture * self.alpha, self.alpha]).astype(np.float32)


def random_alpha(rng: np.random.Generator, height: int, width: int, supersample: int = 4) -> np.ndarray:
    """A random star-shaped blob filling most of a ``height x width`` box, with anti-aliased edges."""
    n = int(rng.integers(5, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.55, 1.0, n)
    if rng.random() < 0.3:  # some plain ellipses
        angles, radii = np.linspace(0, 2 * np.pi, 64, endpoint=False), np.ones(64)
    cx, cy = (width * supersample - 1) / 2, (height * supersample - 1) / 2
    pts = np.stack([cx + 0.98 * cx * radii * np.cos(angles), cy + 0.98 * cy * radii * np.sin(angles)], axis=1)
    big = np.zeros((height * supersample, width * supersample), np.float32)
    cv2.fillPoly(big, [np.round(pts).astype(np.int32)], 1.0)
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def random_sprite(rng: np.random.Generator, image: np.ndarray, height: int, width: int) -> Sprite:
    """Cut a random textured sprite out of ``image`` and give it a random smooth motion.

    Args:
        rng: random generator.
        image: ``(h, w)`` float32 source image in [0, 255] (should come from the same split as the scene).
        height, width: image (sensor) size; the sprite's size is 20-45 % of ``min(height, width)``.

    Returns:
        The sprite.
    """
    side = min(height, width)
    th, tw = (int(v) for v in rng.uniform(0.2, 0.45, 2) * side)
    th, tw = max(th, 8), max(tw, 8)
    zoom = rng.uniform(0.5, 1.5)
    ch, cw = min(image.shape[0], int(th * zoom) + 1), min(image.shape[1], int(tw * zoom) + 1)
    y0, x0 = int(rng.integers(0, image.shape[0] - ch + 1)), int(rng.integers(0, image.shape[1] - cw + 1))
    crop = cv2.resize(image[y0 : y0 + ch, x0 : x0 + cw], (tw, th), interpolation=cv2.INTER_AREA)
    lo, hi = np.percentile(crop, (1, 99))
    new_lo, new_hi = sorted(rng.uniform(20, 240, 2))
    new_hi = max(new_hi, new_lo + 60)
    texture = new_lo + (np.clip(crop, lo, hi) - lo) * ((min(new_hi, 245) - new_lo) / max(hi - lo, 1e-6))
    centre = (rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height)
    path = SmoothSignal.random(rng, [0.35 * width, 0.35 * height])
    pose = SmoothSignal.random(rng, [np.pi, 0.3, 0.15, 0.15])
    motion = SpriteMotion(th, tw, centre, path, pose)
    return Sprite(texture.astype(np.float32), random_alpha(rng, th, tw), motion)
