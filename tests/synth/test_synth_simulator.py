"""Event simulator: threshold crossings, interpolated times, refractory period, noise, errors."""

import numpy as np
import pytest

from evflow.errors import ConfigError, ShapeError
from evflow.io.events import EVENT_DTYPE
from evflow.synth.simulator import EventSimulator, SimulatorConfig


def _sim(config, height=1, width=1, seed=0):
    return EventSimulator(height, width, config, np.random.default_rng(seed))


def _exact(sim):
    """Reset with reference exactly at the start level (no random offset)."""
    sim.ref[:] = sim.log


def test_ramp_gives_interpolated_crossings():
    cfg = SimulatorConfig(threshold_on=0.2, threshold_off=0.2, sigma_on=0, sigma_off=0, refractory_us=0, log_eps=0)
    sim = _sim(cfg)
    i0 = 100.0
    sim.reset(np.full((1, 1), i0), 1000)
    _exact(sim)
    i1 = i0 * np.exp(0.5)  # log rises by 0.5: crossings at 0.2 and 0.4 -> 40 % and 80 % of the interval
    ev = sim.step(np.full((1, 1), i1), 2000)
    assert ev.dtype == EVENT_DTYPE
    assert list(ev["p"]) == [1, 1]
    np.testing.assert_allclose(ev["t"], [1400, 1800], atol=1)
    ev = sim.step(np.full((1, 1), i0), 3000)  # 0.5 -> 0 with reference at 0.4: crossings at 0.2 and 0.0
    assert list(ev["p"]) == [0, 0]
    np.testing.assert_allclose(ev["t"], [2600, 3000], atol=1)


def test_refractory_period_drops_events():
    cfg = SimulatorConfig(sigma_on=0, sigma_off=0, refractory_us=500, log_eps=0)
    sim = _sim(cfg)
    sim.reset(np.full((1, 1), 50.0), 0)
    _exact(sim)
    ev = sim.step(np.full((1, 1), 50.0 * np.exp(1.0)), 1000)  # 5 crossings at 200, 400, ..., 1000 µs
    np.testing.assert_array_equal(ev["t"], [200, 800])


def test_events_sorted_with_pixel_coordinates():
    cfg = SimulatorConfig(sigma_on=0.03, sigma_off=0.03)
    sim = _sim(cfg, 20, 30, seed=1)
    rng = np.random.default_rng(2)
    sim.reset(rng.uniform(20, 240, (20, 30)), 0)
    ev = np.concatenate([sim.step(rng.uniform(20, 240, (20, 30)), t) for t in (1000, 2500, 7000)])
    assert len(ev) > 100
    assert np.all(np.diff(ev["t"]) >= 0) and ev["t"].min() >= 0 and ev["t"].max() <= 7000
    assert ev["x"].max() < 30 and ev["y"].max() < 20 and set(np.unique(ev["p"])) == {0, 1}


def test_static_scene_clean_gives_no_events_noisy_does():
    frame = np.random.default_rng(3).uniform(20, 240, (32, 32))
    clean = _sim(SimulatorConfig.preset("clean"), 32, 32)
    clean.reset(frame, 0)
    assert sum(len(clean.step(frame, t)) for t in range(100_000, 1_000_001, 100_000)) == 0
    noisy = _sim(SimulatorConfig.preset("noisy"), 32, 32)
    noisy.reset(frame, 0)
    ev = np.concatenate([noisy.step(frame, t) for t in range(100_000, 1_000_001, 100_000)])
    cfg = noisy.config
    expected = (cfg.shot_noise_hz + cfg.leak_hz) * 32 * 32 * 0.9  # per second, over 0.9 s
    assert 0.6 * expected < len(ev) < 1.5 * expected
    assert np.all(np.diff(ev["t"]) >= 0)


def test_leak_only_gives_on_events():
    cfg = SimulatorConfig(leak_hz=5.0)
    sim = _sim(cfg, 16, 16)
    frame = np.full((16, 16), 100.0)
    sim.reset(frame, 0)
    ev = np.concatenate([sim.step(frame, t) for t in range(50_000, 1_000_001, 50_000)])
    assert np.all(ev["p"] == 1)
    assert 0.8 * 5 * 256 < len(ev) <= 1.05 * 5 * 256


def test_errors():
    sim = _sim(SimulatorConfig(), 4, 4)
    with pytest.raises(ConfigError, match="before reset"):
        sim.step(np.zeros((4, 4)), 10)
    sim.reset(np.zeros((4, 4)), 100)
    with pytest.raises(ConfigError, match="time order"):
        sim.step(np.zeros((4, 4)), 50)
    with pytest.raises(ShapeError, match=r"\(4, 4\)"):
        sim.step(np.zeros((4, 5)), 200)
    with pytest.raises(ConfigError, match="clean"):
        SimulatorConfig.preset("dirty")
