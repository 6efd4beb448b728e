"""Synthetic sequences: scene -> adaptive frames -> events + exact flow -> ``NAME_td.dat`` + ``NAME_flow.h5``.

Flow intervals are ``[k * delta_t, (k + 1) * delta_t)`` for ``k < duration // delta_t``; events have int64 µs
timestamps starting at 0. Everything random comes from one ``numpy.random.Generator`` seeded per
sequence, so a given seed always produces the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evflow.errors import ConfigError
from evflow.synth.images import load_image, prepare_texture
from evflow.synth.motion import CameraMotion, SpeedProfile
from evflow.synth.render import Scene, ground_truth_flow
from evflow.synth.simulator import EventSimulator, SimulatorConfig
from evflow.synth.sprites import random_sprite

DAT_DATE = "1970-01-01 00:00:00"  # fixed header date: same seed, same bytes


@dataclass(frozen=True)
class SequenceConfig:
    """Settings of one synthetic sequence.

    Attributes:
        height, width: sensor size.
        duration_us: recording length (µs), at least ``delta_t`` (a trailing partial interval gets no flow).
        delta_t: flow interval (µs).
        num_objects: number of independently moving sprites.
        max_speed: fastest layer speed in pixels per second (when the speed profile is at 1).
        pause_probability: probability that a motion segment is a pause (scene still).
        noise: simulator preset, ``"clean"`` or ``"noisy"``.
        max_px_per_frame: frame rendering step bound in pixels.
    """

    height: int = 240
    width: int = 320
    duration_us: int = 2_000_000
    delta_t: int = 50_000
    num_objects: int = 2
    max_speed: float = 240.0
    pause_probability: float = 0.25
    noise: str = "clean"
    max_px_per_frame: float = 1.0

    def __post_init__(self):
        if self.height < 8 or self.width < 8:
            raise ConfigError(f"height and width must be >= 8, got {self.height}x{self.width}")
        if self.delta_t <= 0 or self.duration_us < self.delta_t:
            raise ConfigError(f"need 0 < delta_t <= duration, got delta_t={self.delta_t}, duration={self.duration_us}")
        if self.max_speed <= 0 or self.max_px_per_frame <= 0 or self.num_objects < 0:
            raise ConfigError("max_speed and max_px_per_frame must be > 0 and num_objects >= 0")
        if not 0 <= self.pause_probability < 1:
            raise ConfigError(f"pause_probability must be in [0, 1), got {self.pause_probability}")
        SimulatorConfig.preset(self.noise)


@dataclass(frozen=True)
class SyntheticSequence:
    """A simulated recording in memory.

    Attributes:
        events: time-sorted EVENT_DTYPE array.
        flow: ``(N, 2, H, W)`` float32 ground-truth displacement of each interval (pixels).
        start_ts, end_ts: ``(N,)`` int64 interval bounds (µs).
        num_frames: number of rendered frames.
        image_names: source images of the scene (background first).
    """

    events: np.ndarray
    flow: np.ndarray
    start_ts: np.ndarray
    end_ts: np.ndarray
    num_frames: int
    image_names: tuple[str, ...] = ()


def make_scene(config: SequenceConfig, images, rng: np.random.Generator) -> Scene:
    """Random scene: background and sprites drawn from ``images`` (names), random motion and pauses."""
    images = list(images)
    names = [images[int(i)] for i in rng.permutation(len(images))[: 1 + config.num_objects]]
    names += [images[int(i)] for i in rng.integers(0, len(images), 1 + config.num_objects - len(names))]
    h, w = config.height, config.width
    margin = 0.25  # texture 1.5x the image, centred: few border reflections
    background = prepare_texture(load_image(names[0]), round(h * (1 + 2 * margin)), round(w * (1 + 2 * margin)), rng)
    camera = CameraMotion.random(rng, h, w, texture_origin=(margin * w, margin * h))
    sprites = [random_sprite(rng, load_image(name), h, w) for name in names[1:]]
    profile = SpeedProfile.random(rng, config.duration_us, config.pause_probability)
    speeds = [config.max_speed * rng.uniform(0.5, 1.0)] + list(config.max_speed * rng.uniform(0.3, 1.0, len(sprites)))
    return Scene(h, w, background, camera, sprites, profile, speeds, tuple(names))


def simulate_scene(
    scene: Scene,
    duration_us: int,
    delta_t: int,
    simulator: SimulatorConfig,
    rng: np.random.Generator,
    max_px_per_frame: float = 1.0,
) -> SyntheticSequence:
    """Render ``scene`` at adaptive frame times, simulate its events and compute the flow of each interval.

    Args:
        scene: the moving scene.
        duration_us: recording length (µs), at least ``delta_t``.
        delta_t: flow interval (µs); intervals are ``[k * delta_t, (k + 1) * delta_t)``.
        simulator: event model parameters.
        rng: random generator of the simulator (thresholds, noise).
        max_px_per_frame: bound on any layer's motion between two rendered frames (pixels).

    Returns:
        The events and the ground-truth flow of every full interval.
    """
    if delta_t <= 0 or duration_us < delta_t:
        raise ConfigError(f"need 0 < delta_t <= duration, got delta_t={delta_t}, duration={duration_us}")
    num = duration_us // delta_t
    bounds = np.arange(num + 1, dtype=np.int64) * delta_t
    times = scene.frame_times(np.append(bounds, duration_us), max_px_per_frame)
    hs = scene.homographies(times)  # every layer at every frame time, in one vectorised call
    interval_at = {int(i): k for k, i in enumerate(np.searchsorted(times, bounds[:-1]))}  # frame -> interval
    end_frame = np.searchsorted(times, bounds[1:])
    sim = EventSimulator(scene.height, scene.width, simulator, rng)
    flows, chunks = np.empty((num, 2, scene.height, scene.width), np.float32), []
    for i, t in enumerate(times.tolist()):
        frame_hs = [h[i] for h in hs]
        k = interval_at.get(i)
        frame, layers = scene.render(t, True, frame_hs) if k is not None else (scene.render(t, False, frame_hs), None)
        if i == 0:
            sim.reset(frame, t)
        else:
            chunks.append(sim.step(frame, t))
        if k is not None:
            end_hs = [h[end_frame[k]] for h in hs]
            flows[k] = ground_truth_flow(scene, t, int(bounds[k + 1]), layers, (frame_hs, end_hs))
    events = np.concatenate(chunks)
    return SyntheticSequence(events, flows, bounds[:-1].copy(), bounds[1:].copy(), len(times), scene.image_names)


def sequence_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Independent generator of sequence ``index`` of ``split`` for a dataset ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0 if split == "train" else 1, index]))


def write_sequence(directory, name: str, seq: SyntheticSequence, height: int, width: int, **attrs) -> tuple[Path, Path]:
    """Write ``NAME_td.dat`` and ``NAME_flow.h5`` into ``directory`` (each atomically).

    Returns:
        The two paths (events, flow).
    """
    from evflow.data.flow_file import write_flow_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dat, flow = directory / f"{name}_td.dat", directory / f"{name}_flow.h5"
    write_flow_file(flow, seq.flow, seq.start_ts, seq.end_ts, delta_t=int(seq.end_ts[0] - seq.start_ts[0]), **attrs)
    _write_dat_deterministic(dat, seq.events, height, width)
    return dat, flow


def _write_dat_deterministic(path: Path, events: np.ndarray, height: int, width: int) -> None:
    from evflow.io.dat import write_dat

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write_dat(tmp, events, height, width)
        with open(tmp, "r+b") as f:
            head = f.read(4096)
            start = head.find(b"% Date ")
            if start >= 0:
                end = head.index(b"\n", start)
                f.seek(start)
                f.write(f"% Date {DAT_DATE}".encode("ascii").ljust(end - start)[: end - start])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
