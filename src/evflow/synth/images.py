"""Source images for synthetic scenes: scikit-image's bundled photographs plus procedural textures.

Images are split once and for all into :data:`TRAIN_IMAGES` and :data:`VAL_IMAGES` (disjoint lists), so a
model trained on the ``train`` split never sees a validation texture, not even as a moving object.
Procedural textures are named ``KIND:SEED`` (e.g. ``noise:3``); different seeds give different images, and
the two splits use disjoint seeds.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from evflow.errors import ConfigError

_SKIMAGE_TRAIN = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "grass",
    "brick",
    "immunohistochemistry",
    "hubble_deep_field",
    "page",
    "retina",
    "cell",
)
_SKIMAGE_VAL = ("camera", "moon", "gravel", "clock", "text", "motorcycle")
PROCEDURAL_KINDS = ("noise", "blobs", "checker", "stripes")

TRAIN_IMAGES: tuple[str, ...] = _SKIMAGE_TRAIN + tuple(f"{k}:{s}" for k in PROCEDURAL_KINDS for s in range(3))
"""Image names used to build training sequences."""

VAL_IMAGES: tuple[str, ...] = _SKIMAGE_VAL + tuple(f"{k}:{s}" for k in PROCEDURAL_KINDS for s in (100, 101))
"""Image names used to build validation sequences (disjoint from :data:`TRAIN_IMAGES`)."""

SPLITS = {"train": TRAIN_IMAGES, "val": VAL_IMAGES}


def split_images(split: str) -> tuple[str, ...]:
    """Return the image names of ``split`` (``"train"`` or ``"val"``).

    Raises:
        ConfigError: unknown split name.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid splits: {sorted(SPLITS)}")
    return SPLITS[split]


@functools.lru_cache(maxsize=64)
def load_image(name: str) -> np.ndarray:
    """Load an image by name as grayscale float32 in [0, 255] (cached; the array is read-only).

    Args:
        name: a scikit-image data name (``"camera"``...), ``"motorcycle"`` (left stereo view) or a
            procedural texture ``"KIND:SEED"`` with KIND in :data:`PROCEDURAL_KINDS`.

    Returns:
        ``(H, W)`` float32 array.

    Raises:
        ConfigError: unknown name.
    """
    if ":" in name:
        kind, _, seed = name.partition(":")
        if kind not in PROCEDURAL_KINDS or not seed.isdigit():
            raise ConfigError(f"unknown procedural texture {name!r}; use KIND:SEED with KIND in {PROCEDURAL_KINDS}")
        return _read_only(procedural_texture(kind, int(seed)))
    import skimage.data

    if name == "motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    elif name in _SKIMAGE_TRAIN + _SKIMAGE_VAL:
        img = getattr(skimage.data, name)()
    else:
        raise ConfigError(f"unknown image {name!r}; known: {sorted(_SKIMAGE_TRAIN + _SKIMAGE_VAL)} or KIND:SEED")
    img = np.asarray(img)
    if img.ndim == 3:
        img = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return _read_only(img.astype(np.float32))


def _read_only(img: np.ndarray) -> np.ndarray:
    img.flags.writeable = False
    return img


def procedural_texture(kind: str, seed: int, size: int = 512) -> np.ndarray:
    """Draw a deterministic ``size x size`` procedural texture (float32 in [0, 255])."""
    rng = np.random.default_rng([seed, PROCEDURAL_KINDS.index(kind)])
    if kind == "noise":
        img = np.zeros((size, size), np.float32)
        for octave in range(1, 7):
            cells = 2**octave + 1
            grid = rng.random((cells, cells), dtype=np.float32)
            img += cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) / 1.6**octave
    elif kind == "blobs":
        img = np.full((size, size), rng.uniform(60, 200), np.float32)
        for _ in range(int(rng.integers(40, 120))):
            center = tuple(int(v) for v in rng.integers(0, size, 2))
            axes = tuple(int(v) for v in rng.integers(4, size // 8, 2))
            color = float(rng.uniform(0, 255))
            cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    elif kind == "checker":
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        angle, period = rng.uniform(0, np.pi), rng.uniform(12, 48)
        u = (np.cos(angle) * xx + np.sin(angle) * yy) / period
        v = (-np.sin(angle) * xx + np.cos(angle) * yy) / period
        img = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32) * 255
        img += rng.normal(0, 20, img.shape).astype(np.float32)
    else:  # stripes
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        img = np.zeros((size, size), np.float32)
        for _ in range(3):
            angle, period = rng.uniform(0, np.pi), rng.uniform(6, 60)
            img += np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period + rng.uniform(0, 6.3))
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    return _stretch(img)


def _stretch(img: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(img, (1, 99))
    return (np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.float32)


def prepare_texture(img: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Resize/crop an image to ``(height, width)`` with random zoom and contrast, away from black.

    Intensities are mapped to about [20, 240] so the log-intensity model never sees near-zero values.

    Args:
        img: ``(h, w)`` float32 image in [0, 255].
        height, width: output size.
        rng: random generator (zoom in [1, 1.6], crop position, contrast, optional flip).

    Returns:
        ``(height, width)`` float32 texture.
    """
    scale = max(height / img.shape[0], width / img.shape[1]) * rng.uniform(1.0, 1.6)
    h, w = max(height, round(img.shape[0] * scale)), max(width, round(img.shape[1] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    img = cv2.resize(img, (w, h), interpolation=interp)
    y0, x0 = int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1))
    img = img[y0 : y0 + height, x0 : x0 + width]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), 0.6)
    lo, hi = rng.uniform(15, 50), rng.uniform(190, 245)
    return (lo + _stretch(img) * ((hi - lo) / 255)).astype(np.float32)
