"""Flow metrics: hand-computed errors, IWE-based scores on synthetic translating events, GT rescaling."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evflow import metrics as M
from evflow.errors import ShapeError
from evflow.io import make_events


def translating_events(height, width, flow, n_points=300, per_point=40, start=0, duration=50_000, seed=0):
    """Random dots moving by ``flow`` px over ``duration`` µs, each firing ``per_point`` events (one polarity)."""
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, width, n_points), rng.uniform(0, height, n_points)
    t = np.sort(rng.integers(0, duration, (n_points, per_point)), axis=1)
    x = np.rint(x0[:, None] + flow[0] * t / duration).ravel()
    y = np.rint(y0[:, None] + flow[1] * t / duration).ravel()
    p = np.repeat(rng.integers(0, 2, n_points), per_point)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    order = np.argsort(t.ravel()[keep], kind="stable")
    return make_events(x[keep][order], y[keep][order], p[keep][order], t.ravel()[keep][order] + start)


def const_flow(height, width, u, v):
    flow = np.empty((2, height, width), np.float64)
    flow[0], flow[1] = u, v
    return flow


def test_flow_errors_hand_computed():
    gt = np.array([[[3.0, 0.0, 10.0, 1.0]], [[4.0, 2.0, 0.0, 0.0]]])  # (2, 1, 4)
    est = np.array([[[3.0, 0.0, 14.0, 0.0]], [[4.0, -2.0, 0.0, 1.0]]])
    valid = np.ones((1, 4), bool)
    m = M.flow_errors(est, gt, valid)
    ee = np.array([0.0, 4.0, 4.0, math.sqrt(2)])
    assert m["aee"] == pytest.approx(ee.mean())
    assert m["aee_rel"] == pytest.approx(np.mean(ee / np.array([5.0, 2.0, 10.0, 1.0])))
    assert m["outliers_pct"] == pytest.approx(50.0)  # EE 4 > 3 px and > 5 %: pixels 1 and 2
    assert m["aae_deg"] == pytest.approx(np.mean([0.0, 180.0, 0.0, 90.0]))
    assert m["n_valid"] == 4


def test_outlier_rule_needs_both_conditions():
    gt = const_flow(1, 2, 100.0, 0.0)
    est = gt.copy()
    est[0, 0, 0] += 4.0  # EE 4 px but only 4 % of |gt| = 100: not an outlier
    est[0, 0, 1] += 6.0  # 6 px and 6 %: outlier
    assert M.flow_errors(est, gt, np.ones((1, 2), bool))["outliers_pct"] == pytest.approx(50.0)


def test_aae_ignores_zero_estimates_and_empty_masks():
    gt = const_flow(2, 2, 1.0, 0.0)
    assert math.isnan(M.flow_errors(np.zeros_like(gt), gt, np.ones((2, 2), bool))["aae_deg"])
    m = M.flow_errors(gt, gt, np.zeros((2, 2), bool))
    assert m["n_valid"] == 0 and math.isnan(m["aee"])
    with pytest.raises(ShapeError, match="shapes differ"):
        M.flow_errors(gt[:, :1], gt, np.ones((2, 2), bool))


def test_valid_mask_excludes_inf_zero_and_eventless_pixels():
    gt = const_flow(2, 3, 1.0, 0.0)
    gt[:, 0, 0] = np.inf
    gt[:, 0, 1] = 0.0
    events = make_events([2, 1], [0, 1], [1, 0], [0, 5])
    mask = M.valid_mask(gt, M.event_mask(events, 2, 3))
    assert mask.tolist() == [[False, False, True], [False, True, False]]


def test_iwe_bilinear_splatting_and_direction():
    events = make_events([2], [3], [1], [0])
    iwe = M.compute_iwe(events, const_flow(8, 8, 1.5, 0.0), t_ref=100, duration=100)
    assert iwe[3, 3] == pytest.approx(0.5) and iwe[3, 4] == pytest.approx(0.5)  # moved to x = 3.5
    off = M.compute_iwe(make_events([7], [0], [0], [0]), const_flow(8, 8, 5.0, 0.0), 100, 100)
    assert off.sum() == 0.0  # landed outside: dropped
    assert M.compute_iwe(events, const_flow(8, 8, 0.0, 0.0), 0, 100, use_polarity=False)[3, 2] == 1.0


def test_fwl_and_rsat_on_translating_events():
    flow_px = (6.0, -3.0)
    events = translating_events(48, 64, flow_px)
    true, zero = const_flow(48, 64, *flow_px), const_flow(48, 64, 0.0, 0.0)
    assert M.flow_warp_loss(events, zero, 0, 50_000) == pytest.approx(1.0)
    assert M.flow_warp_loss(events, true, 0, 50_000) > 1.5
    assert M.flow_warp_loss(events, true, 0, 50_000) > M.flow_warp_loss(events, -true, 0, 50_000)
    assert M.rsat(events, zero, 0, 50_000) == pytest.approx(1.0)
    assert M.rsat(events, true, 0, 50_000) < 0.9
    assert M.rsat(events, true, 0, 50_000) < M.rsat(events, -true, 0, 50_000)


def test_gt_inside_one_interval_is_rescaled():
    gt = const_flow(4, 5, 4.0, -2.0)[None].astype(np.float32)
    gt[0, :, 1, 1] = np.inf
    out = M.gt_for_interval(gt, np.array([0]), np.array([100]), 25, 75)
    np.testing.assert_allclose(out[:, 0, 0], [2.0, -1.0])
    assert np.isinf(out[:, 1, 1]).all()
    assert M.gt_for_interval(gt, np.array([0]), np.array([100]), 50, 150) is None  # not covered


def test_gt_propagated_through_consecutive_intervals():
    height, width = 6, 10
    gt = np.zeros((2, 2, height, width), np.float32)
    gt[0, 0] = 2.0  # first 100 µs: +2 px in x
    gt[1, 0, :, :4] = 1.0  # second: +1 px only for columns < 4
    out = M.gt_for_interval(gt, np.array([0, 100]), np.array([100, 200]), 50, 150)
    # Pixel x=1 moves +1 (half of the first flow) to x=2, then +0.5 (half of the flow at x=2).
    assert out[0, 0, 1] == pytest.approx(1.5)
    # Pixel x=3 moves to x=4, where the second flow is 0.
    assert out[0, 0, 3] == pytest.approx(1.0)
    assert np.isinf(out[0, 0, 9])  # left the image


def test_fwl_sigma_blurs_both_images():
    events = translating_events(48, 64, (6.0, -3.0))
    true, zero = const_flow(48, 64, 6.0, -3.0), const_flow(48, 64, 0.0, 0.0)
    assert M.flow_warp_loss(events, zero, 0, 50_000, sigma=1.0) == pytest.approx(1.0)
    assert M.flow_warp_loss(events, true, 0, 50_000, sigma=1.0) > 1.2
    assert math.isnan(M.flow_warp_loss(events[:0], true, 0, 50_000))


@settings(max_examples=25, deadline=None)
@given(
    u=st.floats(-2.5, 2.5),
    v=st.floats(-2.5, 2.5),
    cuts=st.lists(st.integers(1, 399), min_size=0, max_size=4, unique=True),
    start=st.integers(0, 200),
    length=st.integers(1, 200),
)
def test_propagated_constant_gt_equals_rescaled_gt(u, v, cuts, start, length):
    # GT of one constant velocity (u, v px per 100 µs) cut into arbitrary intervals: any target interval gets
    # (u, v) · length / 100 wherever the propagation stays valid.
    bounds = np.array([0, *sorted(cuts), 400])
    gt = np.stack([const_flow(12, 12, u, v)] * (len(bounds) - 1)) * (np.diff(bounds) / 100.0)[:, None, None, None]
    out = M.gt_for_interval(gt, bounds[:-1], bounds[1:], start, start + length)
    ok = np.isfinite(out[0])
    assert ok[6, 6]  # the centre never leaves a 12x12 image: at most 5 px in 200 µs
    np.testing.assert_allclose(out[0][ok], u * length / 100.0, atol=1e-9)
    np.testing.assert_allclose(out[1][ok], v * length / 100.0, atol=1e-9)


def test_numpy_iwe_matches_the_torch_one():
    torch = pytest.importorskip("torch")
    iwe_torch = pytest.importorskip("evflow.core.iwe")
    rng = np.random.default_rng(3)
    n, height, width = 500, 20, 30
    events = make_events(rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n),
                         np.sort(rng.integers(0, 10_000, n)))  # fmt: skip
    flow = rng.normal(0, 4, (2, height, width))
    expected = iwe_torch.compute_iwe(events, torch.from_numpy(flow), 7_000, 10_000).numpy()
    np.testing.assert_allclose(M.compute_iwe(events, flow, 7_000, 10_000), expected, atol=1e-9)
