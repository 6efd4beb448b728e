"""Property tests (hypothesis): mass conservation, chunk invariance, torch twin == numba kernel."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evflow.io.events import make_events
from evflow.preprocessing import diff, event_cube, event_cube_torch, events_to_torch, histo, timesurface

H, W = 6, 8
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def windows(draw, max_n=300):
    total = draw(st.integers(1, 200_000))
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, total, n))
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t), total


@SETTINGS
@given(windows(), st.integers(1, 4), st.integers(1, 4))
def test_event_cube_mass(window, tbins, micro):
    events, total = window
    k = 1e-3  # large max_incr: no clamping
    out = event_cube(events, np.zeros((tbins, 2 * micro, H, W), np.float64), total, max_incr_per_pixel=1 / k)
    n = tbins * micro
    tau = events["t"] * (n / total) - 0.5
    lost = np.where(tau < 0, -tau, 0) + np.where(tau > n - 1, tau - (n - 1), 0)  # shares beyond the outer centres
    assert out.sum() == pytest.approx(k * (len(events) - lost.sum()), abs=1e-9)
    assert out.min() >= 0


@SETTINGS
@given(windows(), st.integers(1, 5))
def test_histo_mass_and_shape(window, tbins):
    events, total = window
    out = histo(events, np.zeros((tbins, 2, H, W), np.float32), total, max_incr_per_pixel=1e6)
    assert out.sum() == pytest.approx(len(events) * 1e-6, rel=1e-4)
    for p in (0, 1):
        assert out[:, p].sum() == pytest.approx((events["p"] == p).sum() * 1e-6, rel=1e-4, abs=1e-9)


@SETTINGS
@given(windows(), st.integers(1, 3), st.data())
def test_chunk_invariance(window, tbins, data):
    events, total = window
    cut = data.draw(st.integers(0, len(events)))
    for func, c in ((event_cube, 6), (histo, 2), (diff, 1), (timesurface, 2)):
        whole = func(events, np.zeros((tbins, c, H, W), np.float64), total)
        parts = func(events[:cut], np.zeros((tbins, c, H, W), np.float64), total)
        func(events[cut:], parts, total, reset=False)
        np.testing.assert_allclose(parts, whole, atol=1e-12, err_msg=func.__name__)


@SETTINGS
@given(windows(max_n=400), st.integers(1, 3), st.sampled_from([1, 3, 5]), st.booleans(), st.integers(0, 1))
def test_torch_twin_matches_numba(window, tbins, micro, split, ds):
    events, total = window
    c = 2 * micro if split else micro
    # split: positive increments, clamping exercised (max 2 events per cell); signed: no clamping (see module doc)
    kw = dict(split_polarity=split, max_incr_per_pixel=2.0 if split else 1e3, downsampling_factor=ds)
    ref = event_cube(events, np.zeros((tbins, c, H >> ds, W >> ds), np.float32), total, **kw)
    out = torch.zeros(tbins, 1, c, H >> ds, W >> ds)
    event_cube_torch(events_to_torch(events), out, total, **kw)
    np.testing.assert_allclose(out[:, 0].numpy(), ref, atol=1e-6, rtol=0)


def test_torch_twin_signed_clamps_the_sum():
    # documented difference: +0.2 * 7 then -0.2 * 2 -> numba 1 - 0.4 = 0.6, twin clip(1.0) = 1.0
    ev = make_events([0] * 9, [0] * 9, [1] * 7 + [0] * 2, [5] * 9)  # tau = 0: full weight
    ref = event_cube(ev, np.zeros((1, 1, 1, 1), np.float32), 10, split_polarity=False)
    out = event_cube_torch(events_to_torch(ev), torch.zeros(1, 1, 1, 1, 1), 10, split_polarity=False)
    assert ref.sum() == pytest.approx(0.6) and float(out.sum()) == pytest.approx(1.0)


def test_torch_twin_batched_with_starts():
    rng = np.random.default_rng(1)
    batches, ref = [], []
    starts, totals = [10**10, 0, 123456], [50000, 30000, 70000]
    for b in range(3):
        n = 2000
        t = np.sort(rng.integers(0, totals[b], n)) + starts[b]
        ev = make_events(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t)
        batches.append(events_to_torch(ev, b))
        ref.append(event_cube(ev, np.zeros((2, 6, H, W), np.float32), totals[b], start_ts=starts[b]))
    out = torch.zeros(2, 3, 6, H, W)
    event_cube_torch(torch.cat(batches), out, torch.tensor(totals), start_ts=torch.tensor(starts))
    np.testing.assert_allclose(out.permute(1, 0, 2, 3, 4).numpy(), np.stack(ref), atol=1e-6, rtol=0)


def test_torch_twin_errors_and_drop():
    ev = make_events([0, W], [0, 0], [1, 1], [5, 6])
    out = torch.zeros(1, 1, 6, H, W)
    from evflow.errors import EventValueError

    with pytest.raises(EventValueError, match="event 1"):
        event_cube_torch(events_to_torch(ev), out, 100)
    event_cube_torch(events_to_torch(ev), out, 100, drop_out_of_range=True)
    ref = event_cube(ev[:1], np.zeros((1, 6, H, W), np.float32), 100)
    np.testing.assert_allclose(out[:, 0].numpy(), ref, atol=1e-7)


@pytest.mark.gpu
def test_torch_twin_on_gpu():
    rng = np.random.default_rng(2)
    n = 100_000
    ev = make_events(
        rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), np.sort(rng.integers(0, 9999, n))
    )
    ref = event_cube(ev, np.zeros((3, 6, H, W), np.float32), 10000, max_incr_per_pixel=1e5)
    out = torch.zeros(3, 1, 6, H, W, device="cuda")
    event_cube_torch(events_to_torch(ev, device="cuda"), out, 10000, max_incr_per_pixel=1e5)
    np.testing.assert_allclose(out[:, 0].cpu().numpy(), ref, atol=1e-6, rtol=0)
