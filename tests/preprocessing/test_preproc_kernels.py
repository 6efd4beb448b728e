"""Hand-computed values of every built-in preprocessing (reference §12), plus error handling."""

import numpy as np
import pytest

from evflow.errors import EventValueError, ShapeError
from evflow.io.events import make_events
from evflow.preprocessing import (
    diff,
    diff_quantized,
    event_cube,
    histo,
    histo_quantized,
    multi_channel_timesurface,
    timesurface,
)


def ev(*rows):
    """rows of (x, y, p, t)."""
    x, y, p, t = zip(*rows)
    return make_events(x, y, p, t)


def test_event_cube_reference_example():
    # reference §12: events at 0, 8333, 25000, 49999 µs in a 50 ms slice, k = 1/5
    events = ev((1, 0, 1, 0), (1, 0, 1, 8333), (1, 0, 0, 25000), (1, 0, 1, 49999))
    out = event_cube(events, np.zeros((1, 6, 2, 3), np.float32), 50000)
    # t=0: tau=-0.5 -> left half dropped, 0.1 to micro bin 0; t=8333: tau=-2e-5 -> 0.99998*0.2 to bin 0
    expected = np.zeros(6)
    expected[1] = 0.1 + 0.2 * (8333 * 3 / 50000 + 0.5)  # left share (2e-5 * 0.2) of t=8333 is dropped
    expected[2] = 0.2  # tau = 1 exactly: all on micro bin 1, OFF
    expected[5] = 0.2 * (1 - (49999 * 3 / 50000 - 0.5 - 2))  # right share beyond the last bin dropped
    np.testing.assert_allclose(out[0, :, 0, 1], expected, atol=1e-6)
    assert np.count_nonzero(out) == 3


def test_event_cube_spills_into_next_tbin():
    events = ev((1, 0, 1, 49999))
    out = event_cube(events, np.zeros((2, 6, 2, 3), np.float32), 100000)
    tau = 49999 * 6 / 100000 - 0.5  # 2.49994: bins 2 (tbin 0, d=2) and 3 (tbin 1, d=0)
    assert out[0, 5, 0, 1] == pytest.approx(0.2 * (3 - tau), abs=1e-6)
    assert out[1, 1, 0, 1] == pytest.approx(0.2 * (tau - 2), abs=1e-6)
    assert out.sum() == pytest.approx(0.2, abs=1e-6)


def test_event_cube_clamps_and_signed_mode():
    events = ev(*[(0, 0, 1, 25000)] * 7)  # 7 * 0.2 = 1.4 -> clamped to 1
    out = event_cube(events, np.zeros((1, 6, 1, 1), np.float32), 50000)
    assert out[0, 3, 0, 0] == 1.0
    events = ev((0, 0, 1, 25000), (0, 0, 0, 25000), (0, 0, 0, 25000))
    out = event_cube(events, np.zeros((1, 3, 1, 1), np.float32), 50000, split_polarity=False)
    assert out[0, 1, 0, 0] == pytest.approx(-0.2)


def test_event_cube_accumulates_with_both_clamps_when_not_reset():
    # reset=False keeps the lower clamp: a cell below -1 is first raised to -1, then incremented
    events = ev((0, 0, 1, 25000))
    out = np.full((1, 6, 1, 1), -3.0, np.float32)
    event_cube(events, out, 50000, reset=False)
    assert out[0, 3, 0, 0] == pytest.approx(-1.0)  # clip(-3 + 0.2, -1, 1)
    out = np.full((1, 6, 1, 1), 0.9, np.float32)
    event_cube(events, out, 50000, reset=False)
    assert out[0, 3, 0, 0] == 1.0 and out[0, 0, 0, 0] == pytest.approx(0.9)


def test_event_cube_downsampling():
    events = ev((3, 2, 1, 25000), (2, 3, 1, 25000))
    out = event_cube(events, np.zeros((1, 6, 2, 2), np.float32), 50000, downsampling_factor=1)
    assert out[0, 3, 1, 1] == pytest.approx(2 * 0.2 / 4)


def test_histo_and_diff():
    events = ev((0, 0, 1, 0), (0, 0, 1, 10), (0, 0, 0, 60000), (1, 0, 1, 99999))
    h = histo(events, np.zeros((2, 2, 1, 2), np.float32), 100000)
    assert h[0, 1, 0, 0] == pytest.approx(0.4) and h[1, 0, 0, 0] == pytest.approx(0.2)
    assert h[1, 1, 0, 1] == pytest.approx(0.2) and h.sum() == pytest.approx(0.8)
    sat = histo(ev(*[(0, 0, 0, 5)] * 9), np.zeros((1, 2, 1, 1), np.float32), 10)
    assert sat[0, 0, 0, 0] == 1.0
    d = diff(events, np.zeros((2, 1, 1, 2), np.float32), 100000)
    assert d[0, 0, 0, 0] == pytest.approx(0.4) and d[1, 0, 0, 0] == pytest.approx(-0.2)
    # per-accumulation clamp: +1.2 saturates at 1, then -0.2 -> 0.8
    d = diff(ev(*([(0, 0, 1, 1)] * 6 + [(0, 0, 0, 2)])), np.zeros((1, 1, 1, 1), np.float32), 10)
    assert d[0, 0, 0, 0] == pytest.approx(0.8)


def test_histo_bin_thresholds_use_ceil():
    # total=10, T=3: bins [0,4), [4,7), [7,10) (ceil(10/3)=4, ceil(20/3)=7)
    events = ev((0, 0, 1, 3), (0, 0, 1, 4), (0, 0, 1, 6), (0, 0, 1, 7))
    h = histo(events, np.zeros((3, 2, 1, 1), np.float32), 10, max_incr_per_pixel=1)
    np.testing.assert_allclose(h[:, 1, 0, 0], [1, 1, 1])
    h = histo(events[:2], np.zeros((3, 2, 1, 1), np.float32), 10, max_incr_per_pixel=1)
    np.testing.assert_allclose(h[:, 1, 0, 0], [1, 1, 0])


def test_timesurface_last_event_wins():
    events = ev((0, 0, 1, 1000), (0, 0, 1, 2500), (0, 0, 0, 5000), (0, 0, 1, 7500))
    out = timesurface(events, np.zeros((2, 2, 1, 1), np.float32), 10000)
    np.testing.assert_allclose(out[:, :, 0, 0], [[0, 0.5], [0, 0.5]])  # OFF at bin start stores 0
    raw = timesurface(events, np.zeros((2, 2, 1, 1), np.float32), 10000, normed=False)
    assert raw[1, 1, 0, 0] == 2500


def test_multi_channel_timesurface():
    out = multi_channel_timesurface(ev((0, 0, 1, 15000)), np.zeros((1, 6, 1, 1), np.float32), 30000)
    assert out[0, 3, 0, 0] == pytest.approx(0.5) and np.count_nonzero(out) == 1


def test_quantized():
    events = ev(*([(0, 0, 1, 1)] * 20 + [(1, 0, 0, 1)] * 3))
    h = histo_quantized(events, np.zeros((1, 2, 1, 2), np.uint8), 10)
    assert h[0, 1, 0, 0] == 15 and h[0, 0, 0, 1] == 3
    h = histo_quantized(events, np.zeros((1, 2, 1, 2), np.uint8), 10, normalization=True)
    assert h[0, 1, 0, 0] == 255 and h[0, 0, 0, 1] == 51
    d = diff_quantized(events, np.zeros((1, 1, 1, 2), np.int8), 10, negative_bit_length=4)
    assert d[0, 0, 0, 0] == 7 and d[0, 0, 0, 1] == -3
    d = diff_quantized(ev(*[(0, 0, 0, 1)] * 200), np.zeros((1, 1, 1, 1), np.int8), 10)
    assert d[0, 0, 0, 0] == -128
    # box averaging: 4 ON events in a 2x2 box -> count 4 / 4 = 1
    box = ev((0, 0, 1, 1), (1, 0, 1, 1), (0, 1, 1, 1), (1, 1, 1, 1))
    assert histo_quantized(box, np.zeros((1, 2, 1, 1), np.uint8), 10, downsampling_factor=1)[0, 1, 0, 0] == 1


@pytest.mark.parametrize("bad", [(5, 0, 1, 10), (0, 3, 1, 10), (0, 0, 1, 100), (0, 0, 1, -1)])
def test_out_of_range_raises_or_drops(bad):
    events = ev((0, 0, 1, 10), bad)
    with pytest.raises(EventValueError, match="event 1"):
        event_cube(events, np.zeros((1, 6, 3, 5), np.float32), 100)
    out = event_cube(events, np.zeros((1, 6, 3, 5), np.float32), 100, drop_out_of_range=True)
    ref = event_cube(events[:1], np.zeros((1, 6, 3, 5), np.float32), 100)
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(EventValueError, match="outside"):
        histo(events, np.zeros((1, 2, 3, 5), np.float32), 100)


def test_start_ts_and_bad_inputs():
    events = ev((0, 0, 1, 10**10 + 25000))
    out = event_cube(events, np.zeros((1, 6, 1, 1), np.float32), 50000, start_ts=10**10)
    assert out[0, 3, 0, 0] == pytest.approx(0.2)
    with pytest.raises(ShapeError):
        event_cube(events, np.zeros((6, 1, 1), np.float32), 50000)
    with pytest.raises(ShapeError):
        event_cube(events, np.zeros((1, 6, 1, 1), np.float32), 0)
    with pytest.raises(EventValueError, match="lack field"):
        event_cube(np.zeros(3), np.zeros((1, 6, 1, 1), np.float32), 10)


def _event_cube_by_hand(events, out, total, split, ds, reset, drop, max_incr=5.0):
    """The docstring formula, one event at a time in plain Python (float64 tau, accumulation in out's dtype)."""
    n_tbins, n_ch, height, width = out.shape
    micro = n_ch // 2 if split else n_ch
    n = n_tbins * micro
    if reset:
        out[:] = 0
    kk = out.dtype.type(1.0 / (max_incr * 4**ds))
    one = out.dtype.type(1.0)
    for x, y, p, t in zip(events["x"], events["y"], events["p"], events["t"]):
        x, y = int(x) >> ds, int(y) >> ds
        if not (0 <= x < width and 0 <= y < height and 0 <= t < total and p in (0, 1)):
            assert drop
            continue
        tau1 = int(t) * (n / total) + 0.5
        right = int(tau1)
        inc = kk if split else kk * out.dtype.type(2 * int(p) - 1)
        inc_r = out.dtype.type(tau1 - right) * inc
        for b, share in ((right - 1, inc - inc_r), (right, inc_r)):
            if 0 <= b < n:
                tb, d = divmod(b, micro)
                c = 2 * d + int(p) if split else d
                v = out[tb, c, y, x] + share
                out[tb, c, y, x] = min(v, one) if split and reset else min(max(v, -one), one)
    return out


@pytest.mark.parametrize("split,reset,drop,ds,dtype", [
    (True, True, False, 0, np.float32),
    (True, False, False, 0, np.float32),
    (False, True, False, 1, np.float32),
    (True, True, True, 0, np.float64),
    (False, False, True, 1, np.float64),
])  # fmt: skip
def test_event_cube_long_streams_match_the_formula(split, reset, drop, ds, dtype):
    # thousands of events (far more than the kernel's prefetch ring), many on the same few pixels so the
    # clamps act, events at the very first/last micro bin, and out-of-range events when dropping
    rng = np.random.default_rng(7)
    n, total, height, width = 3000, 90_000, 6, 5
    x = rng.integers(0, width << ds, n)
    y = rng.integers(0, height << ds, n)
    t = np.sort(np.concatenate([rng.integers(0, total, n - 40), np.zeros(20, int), np.full(20, total - 1)]))
    p = rng.integers(0, 2, n)
    if drop:
        bad = rng.choice(n, 50, replace=False)
        x[bad[:25]] = width << ds
        t[bad[25:]] = total + 5
    events = make_events(x, y, p, t)
    start = rng.uniform(-3, 3, (3, 6, height, width)).astype(dtype)  # out of [-1, 1] where not reset
    got = event_cube(events, start.copy(), total, ds, reset, split, drop_out_of_range=drop)
    want = _event_cube_by_hand(events, start.copy(), total, split, ds, reset, drop)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert np.abs(got).max() <= 1.0 or not reset
