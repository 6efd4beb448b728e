"""Motion model: signals, speed profiles with pauses, homographies, arc-length clocks, adaptive frame times."""

import cv2
import numpy as np
import pytest

from evflow.errors import ConfigError
from evflow.synth.motion import (
    CameraMotion,
    LayerClock,
    SmoothSignal,
    SpeedProfile,
    apply_homography,
    intrinsics,
    rotation_matrices,
)
from evflow.synth.render import Scene
from evflow.synth.sprites import random_sprite


def test_smooth_signal_is_bounded_and_smooth():
    sig = SmoothSignal.random(np.random.default_rng(0), [1.0, 0.1])
    v = sig(np.linspace(0, 50, 5001))
    assert v.shape == (5001, 2)
    assert np.all(np.abs(v) <= [1.0, 0.1])
    assert np.abs(np.diff(v, axis=0)).max() < 0.05


def test_rotation_matrices_match_opencv():
    rvecs = np.random.default_rng(1).normal(0, 0.5, (5, 3))
    ours = rotation_matrices(rvecs)
    for r, m in zip(rvecs, ours):
        np.testing.assert_allclose(m, cv2.Rodrigues(r)[0], atol=1e-12)
    np.testing.assert_allclose(rotation_matrices(np.zeros((1, 3)))[0], np.eye(3))


def test_camera_homography_identity_and_normalised():
    cam = CameraMotion.random(np.random.default_rng(2), 48, 64)
    zero = SmoothSignal(np.zeros((3, 1)), np.ones((3, 1)), np.zeros((3, 1)))
    still = CameraMotion(48, 64, 1.5, zero, zero)
    np.testing.assert_allclose(still.homographies([0.0, 3.0]), np.tile(np.eye(3), (2, 1, 1)), atol=1e-12)
    h = cam.homographies(np.linspace(0, 10, 7))
    np.testing.assert_allclose(h[:, 2, 2], 1.0)
    assert intrinsics(48, 64)[0, 0] == 32 and intrinsics(48, 64)[1, 2] == 24


def test_speed_profile_integral_and_inverse():
    prof = SpeedProfile.from_values([0, 1000, 2000, 3000], [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(prof.travelled_at([0, 500, 1000, 2000, 3000]), [0, 0.000125, 0.0005, 0.0015, 0.002])
    t = np.array([100.0, 900.0, 1500.0, 2600.0])
    np.testing.assert_allclose(prof.times_at(prof.travelled_at(t)), t, atol=1e-6)


def test_speed_profile_rejects_bad_grid():
    for t, u in (([0], [1.0]), ([0, 0], [1.0, 1.0]), ([0, 10], [1.0])):
        with pytest.raises(ConfigError, match="speed profile"):
            SpeedProfile.from_values(t, u)


def test_random_profile_has_exact_pauses():
    prof = SpeedProfile.random(np.random.default_rng(5), 3_000_000, pause_probability=0.5)
    assert prof.u.min() == 0.0 and prof.u.max() <= 1.0
    assert np.all(np.diff(prof.travelled) >= 0)


def test_clock_bounds_pixel_speed():
    rng = np.random.default_rng(3)
    cam = CameraMotion.random(rng, 60, 80)
    clock = LayerClock.build(cam, 500.0)
    px = np.linspace(0, 500, 2001)
    h = cam.homographies(clock.s_at(px))
    probes = cam.probe_points()
    tex = apply_homography(np.linalg.inv(h[:-1]), probes)
    moved = np.stack([apply_homography(h[i + 1][None], tex[i])[0] for i in range(len(tex))])
    step = np.linalg.norm(moved - probes, axis=-1).max(axis=1)
    assert step.max() <= (px[1] - px[0]) * 1.05


def _scene(rng, profile, objects=1, height=48, width=64):
    bg = rng.uniform(20, 240, (height, width)).astype(np.float32)
    sprites = [random_sprite(rng, rng.uniform(20, 240, (100, 100)).astype(np.float32), height, width)
               for _ in range(objects)]  # fmt: skip
    return Scene(
        height, width, bg, CameraMotion.random(rng, height, width), sprites, profile, [200.0, 150.0][: 1 + objects]
    )


@pytest.mark.parametrize("max_px", [1.0, 0.5])
def test_frame_times_bound_motion_between_frames(max_px):
    rng = np.random.default_rng(4)
    prof = SpeedProfile.from_values([0, 100_000, 200_000, 300_000], [1.0, 1.0, 0.0, 0.0])
    scene = _scene(rng, prof)
    times = scene.frame_times([0, 150_000, 300_000], max_px)
    assert times[0] == 0 and times[-1] == 300_000 and 150_000 in times
    assert np.all(np.diff(times) > 0)
    assert len(times) > 0.9 * 150 / max_px * 0.2  # moving for ~0.15 s at up to 200 px/s
    assert times[-2] <= 200_000  # no frame inside the pause except the boundary
    bg, sprite = scene.homographies(times)
    probes = scene.camera.probe_points()
    for a in range(len(times) - 1):
        m = bg[a + 1] @ np.linalg.inv(bg[a])
        assert np.linalg.norm(apply_homography(m[None], probes)[0] - probes, axis=1).max() <= max_px * 1.05
    corners = apply_homography(sprite, scene.sprites[0].motion.probe_points())
    assert np.linalg.norm(np.diff(corners, axis=0), axis=-1).max() <= max_px * 1.05
