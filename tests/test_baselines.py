"""Training-free baselines: zero, DIS on event frames, contrast maximisation of a global translation."""

import numpy as np
import pytest

from evflow.baselines import cmax_flow, dis_flow, event_count_frame, get_baseline, list_baselines, zero_flow
from evflow.errors import ConfigError
from evflow.io import empty_events, make_events


def translating_events(height, width, flow, n_points=400, per_point=40, duration=50_000, seed=0):
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, width, n_points), rng.uniform(0, height, n_points)
    t = np.sort(rng.integers(0, duration, (n_points, per_point)), axis=1)
    x = np.rint(x0[:, None] + flow[0] * t / duration).ravel()
    y = np.rint(y0[:, None] + flow[1] * t / duration).ravel()
    p = np.repeat(rng.integers(0, 2, n_points), per_point)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    order = np.argsort(t.ravel()[keep], kind="stable")
    return make_events(x[keep][order], y[keep][order], p[keep][order], t.ravel()[keep][order])


def test_registry():
    assert list_baselines() == ["cmax", "dis", "zero"]
    assert get_baseline("zero") is zero_flow
    with pytest.raises(ConfigError, match="valid names: cmax, dis, zero"):
        get_baseline("raft")


def test_zero_and_empty_inputs():
    assert zero_flow(empty_events(), 0, 10, 3, 4).shape == (2, 3, 4)
    for fn in (dis_flow, cmax_flow):
        out = fn(empty_events(), 0, 50_000, 32, 40)
        assert out.shape == (2, 32, 40) and out.dtype == np.float32 and not out.any()


def test_event_count_frame():
    frame = event_count_frame(make_events([1, 1, 3], [0, 0, 2], [0, 1, 1], [0, 1, 2]), 3, 4)
    assert frame[0, 1] == 2 and frame[2, 3] == 1 and frame.sum() == 3


@pytest.mark.parametrize("flow", [(12.0, -6.0), (-20.0, 4.0)])
def test_cmax_recovers_a_global_translation(flow):
    events = translating_events(96, 128, flow)
    est = cmax_flow(events, 0, 50_000, 96, 128)
    np.testing.assert_allclose(est[:, 0, 0], flow, atol=1.0)
    assert np.ptp(est[0]) == 0  # one translation everywhere


def test_dis_recovers_a_translation():
    flow = (8.0, 4.0)
    events = translating_events(96, 128, flow, n_points=600)
    est = dis_flow(events, 0, 50_000, 96, 128)
    count = event_count_frame(events, 96, 128) > 0
    med = np.median(est[:, count], axis=1)
    np.testing.assert_allclose(med, flow, atol=1.5)


def test_baselines_use_only_what_they_need_from_a_whole_recording():
    flow = (6.0, 0.0)
    events = translating_events(64, 80, (4 * flow[0], 0.0), duration=200_000)  # 4 intervals of 50 ms
    mid = cmax_flow(events, 50_000, 100_000, 64, 80)
    np.testing.assert_allclose(mid[:, 0, 0], flow, atol=1.0)
    dis = dis_flow(events, 50_000, 100_000, 64, 80)  # frames centred on 50 ms and 100 ms
    count = event_count_frame(events, 64, 80) > 0
    np.testing.assert_allclose(np.median(dis[:, count], axis=1), flow, atol=1.0)


def test_cmax_on_a_wide_sensor_uses_downsampled_coarse_levels():
    from evflow.baselines import _level_scale

    assert [_level_scale(s, 1280) for s in (16, 4, 2, 1, 0.5)] == [4, 4, 2, 1, 1]
    assert _level_scale(16, 320) == 1
    flow = (-14.0, 5.0)
    est = cmax_flow(translating_events(48, 704, flow, n_points=800), 0, 50_000, 48, 704, max_flow=24)
    np.testing.assert_allclose(est[:, 0, 0], flow, atol=1.0)
