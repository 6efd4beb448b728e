"""Ground truth: the flow maps each interval's start frame onto its end frame; events follow motion."""

import dataclasses

import cv2
import numpy as np
import pytest

from evflow.synth.dataset import SequenceConfig, make_scene, simulate_scene
from evflow.synth.images import TRAIN_IMAGES, load_image, prepare_texture
from evflow.synth.motion import CameraMotion, SpeedProfile
from evflow.synth.render import Scene, ground_truth_flow
from evflow.synth.simulator import SimulatorConfig

H, W = 64, 96


def _warp_errors(scene, t0, t1, flow, visible_only=False):
    """Mean |frame1(p + flow(p)) - frame0(p)| over pixels landing inside the image, and the zero-flow error.

    With ``visible_only``, pixels whose point gets occluded (the layer found at ``p + flow`` at ``t1`` is not
    the one seen at ``p`` at ``t0``) and layer edges (mixed alpha) are left out.
    """
    f0, l0 = scene.render(t0, with_layers=True)
    f1, l1 = scene.render(t1, with_layers=True)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    mx, my = xs + flow[0], ys + flow[1]
    back = cv2.remap(f1, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    valid = np.isfinite(back)
    assert valid.mean() > 0.5
    if visible_only:
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            xi = np.clip(np.floor(mx).astype(int) + dx, 0, W - 1)
            yi = np.clip(np.floor(my).astype(int) + dy, 0, H - 1)
            valid &= l1[yi, xi] == l0
        valid &= cv2.morphologyEx(l0.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) == 0
        assert valid.mean() > 0.5
    return np.abs(back - f0)[valid].mean(), np.abs(f1 - f0).mean()


def _smoothed(scene, sigma=1.5):
    """Blur the textures so that bilinear resampling (rendering, then warping) adds little error."""
    scene.background = cv2.GaussianBlur(scene.background, (0, 0), sigma)
    scene.sprites = [dataclasses.replace(s, texture=cv2.GaussianBlur(s.texture, (0, 0), sigma)) for s in scene.sprites]
    return scene


@pytest.mark.parametrize("objects", [0, 3])
def test_warping_start_frame_by_flow_gives_end_frame(objects):
    config = SequenceConfig(height=H, width=W, duration_us=400_000, num_objects=objects, pause_probability=0.0)
    scene = _smoothed(make_scene(config, TRAIN_IMAGES, np.random.default_rng(10 + objects)))
    for t0 in (0, 150_000, 300_000):
        flow = ground_truth_flow(scene, t0, t0 + 50_000)
        assert flow.shape == (2, H, W) and flow.dtype == np.float32
        assert np.abs(flow).max() > 2.0  # real motion
        err, zero_err = _warp_errors(scene, t0, t0 + 50_000, flow)
        assert err < (0.12 if objects == 0 else 0.5) * zero_err, (t0, err, zero_err)  # occlusions count here
        err, zero_err = _warp_errors(scene, t0, t0 + 50_000, flow, visible_only=True)
        off_err, _ = _warp_errors(scene, t0, t0 + 50_000, flow + 0.5, visible_only=True)
        assert err < 0.12 * zero_err, (t0, err, zero_err)
        assert err < 0.5 * off_err, (t0, err, off_err)  # half a pixel off is much worse


def test_object_flow_differs_from_background():
    config = SequenceConfig(height=H, width=W, duration_us=200_000, num_objects=1, pause_probability=0.0)
    scene = make_scene(config, TRAIN_IMAGES, np.random.default_rng(7))
    _, layers = scene.render(0, with_layers=True)
    flow = ground_truth_flow(scene, 0, 50_000, layers)
    on_object = layers == 1
    assert 0.01 < on_object.mean() < 0.9
    bg_only = ground_truth_flow(
        Scene(H, W, scene.background, scene.camera, [], scene.profile, scene.speeds[:1]), 0, 50_000
    )
    np.testing.assert_allclose(flow[:, ~on_object], bg_only[:, ~on_object], atol=1e-4)
    assert np.abs(flow[:, on_object] - bg_only[:, on_object]).mean() > 0.5


def _half_flat_scene(profile, speed=100.0):
    rng = np.random.default_rng(3)
    tex = prepare_texture(load_image("astronaut"), H, W, rng)
    tex[:, : W // 2] = 128.0
    return Scene(H, W, tex, CameraMotion.random(rng, H, W), [], profile, [speed])


def test_events_where_gradients_move_and_none_during_pause():
    # moving 0-100 ms, slowing down to a pause at 110 ms, paused until 240 ms, moving again 250-300 ms;
    # at most 100 px/s * 0.17 s = 17 px of travel in total
    t = [0, 100_000, 110_000, 240_000, 250_000, 300_000]
    profile = SpeedProfile.from_values(t, [1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    scene = _half_flat_scene(profile)
    seq = simulate_scene(scene, 300_000, 50_000, SimulatorConfig.preset("clean"), np.random.default_rng(0))
    ev = seq.events
    assert len(ev) > 500 and np.all(np.diff(ev["t"]) >= 0)
    assert not np.any((ev["t"] > 110_000) & (ev["t"] < 240_000))  # still scene: no event
    assert np.all(ev["x"] >= W // 2 - 24)  # flat half (beyond the 20 px of travel): no event
    assert np.mean(ev["x"] >= W // 2) > 0.9
    np.testing.assert_array_equal(seq.start_ts, [0, 50_000, 100_000, 150_000, 200_000, 250_000])
    assert np.abs(seq.flow[3]).max() == 0.0  # paused interval: zero flow
    assert np.abs(seq.flow[0]).max() > 1.0
