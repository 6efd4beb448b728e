"""Registry, CDProcessor and viz: every registered preprocessing gets the same battery."""

import numpy as np
import pytest

import evflow.preprocessing as pp
from evflow.errors import ConfigError, EventValueError
from evflow.io.events import make_events

EXPECTED = {
    "diff": (1, np.float32), "diff_quantized": (1, np.int8), "histo": (2, np.float32),
    "histo_quantized": (2, np.uint8), "timesurface": (2, np.float32), "event_cube": (6, np.float32),
    "event_cube_paper": (10, np.float32), "multi_channel_timesurface": (6, np.float32),
}  # fmt: skip


def random_events(n=500, h=12, w=16, total=30000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, total, n))
    return make_events(rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n), t)


def test_builtin_names_and_metadata():
    assert set(EXPECTED) <= set(pp.list_preprocessings())
    assert pp.list_preprocessings("event_cube*") == ["event_cube", "event_cube_paper"]
    d = pp.get_preprocess_dict()
    assert d["event_cube"]["cin"] == 6 and d["event_cube"]["kwargs"]["max_incr_per_pixel"] == 5
    assert d["event_cube_paper"]["kwargs"]["max_incr_per_pixel"] == pytest.approx(63.75)
    assert pp.get_preprocess_kwargs_keys("event_cube") == ["split_polarity", "max_incr_per_pixel"]
    assert pp.get_preprocess_function("histo") is pp.histo
    info = pp.get_preprocessing_info("event_cube")
    with pytest.raises(AttributeError):
        info.name = "x"  # frozen


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid names: .*event_cube"):
        pp.get_preprocess_function("voxel")
    with pytest.raises(ConfigError, match="unknown preprocessing"):
        pp.CDProcessor(10, 10, preprocessing="nope")
    with pytest.raises(ConfigError, match="unknown kwarg"):
        pp.CDProcessor(10, 10, preprocessing="histo", preprocess_kwargs={"split_polarity": True})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_processor_battery(name):
    cin, dtype = EXPECTED[name]
    proc = pp.CDProcessor(12, 16, num_tbins=3, preprocessing=name)
    out = proc(random_events(), delta_t=30000)
    assert out.shape == (3, cin, 12, 16) and out.dtype == dtype
    assert np.count_nonzero(out) > 0
    img = proc.show(out, 1)
    assert img.shape == (12, 16, 3) and img.dtype == np.uint8
    small = pp.CDProcessor(12, 16, num_tbins=3, preprocessing=name, downsampling_factor=2)(random_events(), 30000)
    assert small.shape == (3, cin, 3, 4)
    assert proc(random_events()[:0], delta_t=30000).sum() == 0
    with pytest.raises(EventValueError):
        pp.CDProcessor(8, 16, num_tbins=3, preprocessing=name)(random_events(), delta_t=30000)
    dropped = pp.CDProcessor(8, 16, 3, name, drop_out_of_range=True)(random_events(), delta_t=30000)
    assert dropped.shape == (3, cin, 8, 16)


def test_processor_default_window_and_start_ts():
    events = random_events(total=30000)
    events["t"] += 10**9
    proc = pp.CDProcessor(12, 16, num_tbins=2, preprocessing="event_cube")
    auto = proc(events)  # window [t0, t_last + 1)
    span = int(events["t"][-1] - events["t"][0]) + 1
    explicit = proc(events, delta_t=span, start_ts=int(events["t"][0]))
    np.testing.assert_array_equal(auto, explicit)
    rel = events.copy()
    rel["t"] -= int(events["t"][0])
    np.testing.assert_array_equal(proc(rel, delta_t=span), explicit)


def test_register_custom_and_decorator():
    def ones(events, output, total_tbins_delta_t, downsampling_factor=0, reset=True, value=1.0):
        output[...] = value * (len(events) > 0)
        assert events["t"].min() >= 0  # received relative times
        return output

    pp.register_new_preprocessing("test_ones", 3, ones, pp.viz_event_cube_rgb, {"value": 2.0})
    proc = pp.CDProcessor(4, 4, 1, "test_ones")
    events = random_events(h=4, w=4)
    events["t"] += 5000
    assert proc(events, delta_t=40000, start_ts=5000).max() == 2.0
    with pytest.warns(UserWarning, match="already registered"):

        @pp.preprocessing("test_ones", 3, pp.viz_event_cube_rgb)
        def ones2(events, output, total_tbins_delta_t, downsampling_factor=0, reset=True):
            return output

    assert pp.get_preprocess_function("test_ones") is ones2


def test_processor_out_buffer_is_reused_and_checked():
    proc = pp.CDProcessor(12, 16, num_tbins=2, preprocessing="event_cube")
    buf = np.full(proc.shape, 7.0, np.float32)
    events = random_events()
    assert proc(events, delta_t=30000, out=buf) is buf
    np.testing.assert_array_equal(buf, proc(events, delta_t=30000))
    assert proc(events[:0], delta_t=30000, out=buf).sum() == 0
    from evflow.errors import ShapeError

    with pytest.raises(ShapeError):
        proc(events, delta_t=30000, out=np.zeros((1, 6, 12, 16), np.float32))
