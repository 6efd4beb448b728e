"""A layered synthetic scene: background plane + sprites, rendered at adaptive frame times.

Layer 0 is the background texture seen through the camera homography (border ``REFLECT_101``, so the plane
is textured everywhere); layers ``1..K`` are sprites composited in order (later ones on top) with their
alpha masks. All layers follow the shared speed profile, so frame times can be chosen so that no probe
point of any layer moves more than ``max_px_per_frame`` pixels between consecutive frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numba
import numpy as np

from evflow.synth.motion import CameraMotion, LayerClock, SpeedProfile
from evflow.synth.sprites import Sprite


@dataclass
class Scene:
    """A moving scene with exact per-layer homographies at any time (µs).

    Attributes:
        height, width: image size.
        background: float32 texture of the plane (any size; placed by ``camera.texture_origin``).
        camera: camera motion over the plane.
        sprites: foreground objects, bottom to top.
        profile: shared relative speed ``u(t)``.
        speeds: pixel speed (px/s at ``u = 1``) of each layer, background first.
        image_names: names of the source images (background first), for the record.
    """

    height: int
    width: int
    background: np.ndarray
    camera: CameraMotion
    sprites: list[Sprite]
    profile: SpeedProfile
    speeds: list[float]
    image_names: tuple[str, ...] = ()
    clocks: list[LayerClock] = field(init=False)

    def __post_init__(self):
        total = float(self.profile.travelled[-1])
        layers = [self.camera] + [sp.motion for sp in self.sprites]
        self.clocks = [LayerClock.build(lay, v * total + 1.0) for lay, v in zip(layers, self.speeds)]

    @property
    def num_layers(self) -> int:
        """Background plus sprites."""
        return 1 + len(self.sprites)

    def homographies(self, t_us) -> list[np.ndarray]:
        """Per layer, the ``(N, 3, 3)`` homographies (texture -> image) at times ``t_us`` ``(N,)``."""
        travelled = self.profile.travelled_at(np.atleast_1d(t_us))
        layers = [self.camera] + [sp.motion for sp in self.sprites]
        return [lay.homographies(clk.s_at(v * travelled)) for lay, clk, v in zip(layers, self.clocks, self.speeds)]

    def frame_times(self, boundaries, max_px_per_frame: float = 1.0) -> np.ndarray:
        """Frame times (int64 µs): the given ``boundaries`` plus enough frames that no layer moves more
        than ``max_px_per_frame`` pixels between two consecutive frames, and the pause edges (so no frame
        interval mixes motion and stillness; no frame inside a pause)."""
        boundaries = np.asarray(boundaries, dtype=np.int64)
        t0, t1 = int(boundaries.min()), int(boundaries.max())
        per_px = max_px_per_frame / max(self.speeds)
        lo, hi = self.profile.travelled_at([t0, t1])
        targets = np.arange(np.ceil(lo / per_px), np.floor(hi / per_px) + 1) * per_px
        times = np.floor(self.profile.times_at(targets)).astype(np.int64)
        times = np.concatenate([times, self.profile.pause_edges()])
        return np.unique(np.concatenate([boundaries, times[(times >= t0) & (times <= t1)]]))

    def render(self, t_us: int, with_layers: bool = False, homographies=None):
        """Render the frame at ``t_us``: float32 ``(H, W)`` intensities in [0, 255].

        Args:
            t_us: time in µs.
            with_layers: also return the ``(H, W)`` int8 index of the visible layer (alpha > 0.5).
            homographies: the per-layer ``(3, 3)`` homographies at ``t_us`` when already computed.
        """
        hs = [h[0] for h in self.homographies([t_us])] if homographies is None else homographies
        frame = cv2.warpPerspective(
            self.background, hs[0], (self.width, self.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        layers = np.zeros((self.height, self.width), np.int8) if with_layers else None
        for k, (sprite, h) in enumerate(zip(self.sprites, hs[1:]), start=1):
            roi = sprite_roi(sprite, h, self.height, self.width)
            if roi is None:
                continue
            (x0, y0, x1, y1), h_roi = roi
            warped = cv2.warpPerspective(sprite.premultiplied, h_roi, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
            alpha = warped[..., 1]
            view = frame[y0:y1, x0:x1]
            view *= 1 - alpha
            view += warped[..., 0]
            if layers is not None:
                layers[y0:y1, x0:x1][alpha > 0.5] = k
        return (frame, layers) if with_layers else frame


def sprite_roi(sprite: Sprite, h: np.ndarray, height: int, width: int):
    """Clipped image bounding box ``(x0, y0, x1, y1)`` of a sprite under ``h`` and the ROI homography,
    or None when the sprite is outside the image."""
    corners = sprite.motion.probe_points()[:4]
    pts = cv2.perspectiveTransform(corners[None], h)[0]
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    return (x0, y0, x1, y1), shift @ h


def ground_truth_flow(scene: Scene, t0: int, t1: int, layers: np.ndarray | None = None, homographies=None):
    """Exact forward flow over ``[t0, t1]``: where each pixel's visible surface point at ``t0`` is at ``t1``.

    The visible layer at ``t0`` decides (alpha > 0.5); a point that becomes occluded keeps the motion of its
    own layer (its position behind the occluder), and disoccluded points have no source so play no role.

    Args:
        scene: the scene.
        t0, t1: interval bounds in µs.
        layers: visible-layer map at ``t0`` (from ``scene.render(t0, with_layers=True)``); rendered if None.
        homographies: ``(h0s, h1s)``, the per-layer ``(3, 3)`` homographies at ``t0`` and ``t1`` if known.

    Returns:
        ``(2, H, W)`` float32 displacement, channel 0 = x (right), channel 1 = y (down), in pixels.
    """
    if layers is None:
        _, layers = scene.render(t0, with_layers=True)
    if homographies is None:
        homographies = [h[0] for h in scene.homographies([t0])], [h[0] for h in scene.homographies([t1])]
    moves = np.stack([h1 @ np.linalg.inv(h0) for h0, h1 in zip(*homographies)])
    still = np.array([np.array_equal(h0, h1) for h0, h1 in zip(*homographies)])  # exact zeros, not round-off
    flow = np.empty((2, scene.height, scene.width), np.float32)
    _layer_flow(layers, moves, still, flow)
    return flow


@numba.njit(cache=True, nogil=True)
def _layer_flow(layers, moves, still, out):
    """``out[:, y, x] = M_l (x, y) - (x, y)`` with ``l = layers[y, x]`` (float64 maths)."""
    for y in range(layers.shape[0]):
        for x in range(layers.shape[1]):
            k = layers[y, x]
            if still[k]:
                out[0, y, x] = 0.0
                out[1, y, x] = 0.0
                continue
            m = moves[k]
            w = m[2, 0] * x + m[2, 1] * y + m[2, 2]
            out[0, y, x] = (m[0, 0] * x + m[0, 1] * y + m[0, 2]) / w - x
            out[1, y, x] = (m[1, 0] * x + m[1, 1] * y + m[1, 2]) / w - y
