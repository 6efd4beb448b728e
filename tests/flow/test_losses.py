"""FlowLoss on a synthetic textured event cube translating (u, v) px per bin, plus its bookkeeping and fixes."""

import pytest
import torch

from evflow.errors import ConfigError, ShapeError
from evflow.flow.flow_network import FlowNetwork
from evflow.flow.losses import LOSS_NAMES, FlowLoss

U, V = 1.5, -1.0
T, H, W, D = 4, 32, 32, 3
SELF_SUPERVISED = ["data", "time_consistency", "bw_deblur"]


@pytest.fixture(autouse=True, scope="module")
def _single_thread_torch():
    """One intra-op thread: CI runs 2 pytest workers on 2 cores (more threads oversubscribe and stall)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def textured_cube(u=U, v=V, t=T, n_blobs=40, sigma=2.5, seed=0):
    """Event-cube-like input (T, 1, 2D, H, W): Gaussian blobs (one set per polarity) at time t + (d + 0.5) / D."""
    g = torch.Generator().manual_seed(seed)
    cx = torch.rand(2, n_blobs, generator=g, dtype=torch.float64) * (W + 20) - 10
    cy = torch.rand(2, n_blobs, generator=g, dtype=torch.float64) * (H + 20) - 10
    amp = torch.rand(2, n_blobs, generator=g, dtype=torch.float64) * 0.5 + 0.5
    ys = torch.arange(H, dtype=torch.float64).view(1, H, 1, 1)
    xs = torch.arange(W, dtype=torch.float64).view(1, 1, W, 1)
    s = (torch.arange(t * D, dtype=torch.float64) + 0.5) / D  # time of every micro bin, in bins
    px = cx.view(2, 1, 1, 1, -1) + u * s.view(1, -1, 1, 1, 1)  # (2, T*D, 1, 1, n)
    py = cy.view(2, 1, 1, 1, -1) + v * s.view(1, -1, 1, 1, 1)
    blobs = amp.view(2, 1, 1, 1, -1) * torch.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
    cube = blobs.sum(-1).permute(1, 0, 2, 3)  # (T*D, 2, H, W): channel 2 d + p
    return cube.reshape(t, 1, 2 * D, H, W).float()


def const_flow(u, v, n=T):
    f = torch.zeros(n, 2, H, W)
    f[:, 0], f[:, 1] = u, v
    return f


@pytest.fixture(scope="module")
def cube():
    return textured_cube()


@pytest.mark.parametrize("name", SELF_SUPERVISED)
def test_true_flow_beats_zero_and_reversed(cube, name):
    loss = FlowLoss({name: 1.0})

    def value(u, v):
        return loss([const_flow(u, v)], [cube])[name].item()

    true = value(U, V)
    assert true < 0.5 * value(0, 0)
    assert true < 0.5 * value(-U, -V)


@pytest.mark.parametrize("name", SELF_SUPERVISED)
def test_gradient_descent_from_zero_recovers_translation(cube, name):
    loss = FlowLoss({name: 1.0})
    flow = torch.zeros(1, 2, H, W, requires_grad=True)
    opt = torch.optim.Adam([flow], lr=0.15)
    for _ in range(120):
        opt.zero_grad()
        loss([flow.expand(T, 2, H, W)], [cube])[name].backward()
        opt.step()
    textured = cube.amax(dim=(0, 1, 2)) > 0.3
    assert flow[0, 0][textured].median().item() == pytest.approx(U, abs=0.2)
    assert flow[0, 1][textured].median().item() == pytest.approx(V, abs=0.2)


def test_time_consistency_fixed_chain_separates_true_flow():
    # the original normalised the chained flow twice and could not tell +u from 0 or -u
    x = textured_cube(u=3.0, v=0.0, t=5)
    loss = FlowLoss({"time_consistency": 1.0}, smoothness_mask=[])
    true, zero, rev = (loss([const_flow(u, 0.0, 5)], [x])["time_consistency"].item() for u in (3.0, 0.0, -3.0))
    assert true < 0.3 * zero and true < 0.3 * rev


def test_terms_weights_and_scale_coefficients(cube):
    weights = {"data": 1, "smoothness": 0.4, "smoothness2": 0.6, "l1": 0.3, "time_consistency": 1, "bw_deblur": 1}
    weights["contrast"] = 0.5
    net = FlowNetwork((T, 2 * D, H, W), weights, "eminet")
    loss = FlowLoss(weights, net.get_warping_head())
    flows = [torch.randn_like(f) for f in net(cube)]
    terms = loss(flows, net.interpolate_all_inputs_using_pyramid(cube), 1)
    assert sorted(terms) == sorted(LOSS_NAMES) and all(v.dim() == 0 for v in terms.values())
    assert FlowLoss.scale_coefficients(3) == [0.25, 0.5, 1.0]
    single = FlowLoss({"l1": 1.0})
    levels = net.interpolate_all_inputs_using_pyramid(cube)
    per_scale = [single([f], [x])["l1"] for f, x in zip(flows, levels)]
    expected = 0.3 * sum(c * p for c, p in zip([0.25, 0.5, 1.0], per_scale))
    torch.testing.assert_close(terms["l1"], expected)
    assert "smoothness" not in FlowLoss({"data": 1, "smoothness": 0}).forward([const_flow(0, 0)], [cube])


def test_l1_value_and_event_masks(cube):
    flow = const_flow(9.0, 0.0)
    value = FlowLoss({"l1": 0.3})([flow], [cube])["l1"].item()
    assert value == pytest.approx(0.3 * (9 * 2 / (W - 1)) ** 2, rel=1e-5)
    empty = torch.zeros_like(cube)
    masked = FlowLoss({"l1": 1.0, "data": 1.0}, smoothness_mask=["l1", "data"])([flow], [empty])
    assert masked["l1"].item() == 0.0 and masked["data"].item() == 0.0


def test_bad_configuration_and_shapes(cube):
    with pytest.raises(ConfigError, match="unknown loss"):
        FlowLoss({"photometric": 1.0})
    with pytest.raises(ConfigError, match="smoothness_mask"):
        FlowLoss({"data": 1.0}, smoothness_mask=["nope"])
    loss = FlowLoss({"data": 1.0})
    with pytest.raises(ShapeError, match="T\\*B, 2, h, w"):
        loss([const_flow(0, 0, n=T - 1)], [cube])
    with pytest.raises(ShapeError, match="scales"):
        loss([const_flow(0, 0)], [cube, cube])
    with pytest.raises(ShapeError, match="bw_deblur"):
        FlowLoss({"bw_deblur": 1.0})([const_flow(0, 0)], [cube[:, :, :2]])


def test_contrast_is_sharpest_at_the_true_flow_and_descends_to_it():
    # a thin vertical ON edge moving +3 px per bin: micro bin d of bin t sits at x = 10 + 3 t + d
    x = torch.zeros(2, 1, 6, 20, 30)
    for t in range(2):
        for d in range(3):
            x[t, 0, 2 * d + 1, :, 10 + 3 * t + d] = 0.2
    loss = FlowLoss({"contrast": 1.0})

    def value(u):
        return loss([const_flow(u, 0.0, 2)[:, :, :20, :30]], [x])["contrast"].item()

    assert value(3.0) < min(value(0.0), value(1.5), value(4.5), value(-3.0))
    flow = torch.zeros(1, 2, 1, 1, requires_grad=True)
    opt = torch.optim.Adam([flow], lr=0.1)
    for _ in range(80):
        opt.zero_grad()
        loss([flow.expand(2, 2, 20, 30)], [x])["contrast"].backward()
        opt.step()
    assert flow[0, 0].item() == pytest.approx(3.0, abs=0.3)
    assert abs(flow[0, 1].item()) < 0.3


def test_contrast_is_only_computed_at_the_finest_scale(cube):
    loss = FlowLoss({"contrast": 1.0})
    coarse = torch.nn.functional.avg_pool2d(cube.flatten(0, 1), 2).view(T, 1, 2 * D, H // 2, W // 2)
    both = loss([const_flow(0.0, 0.0)[:, :, : H // 2, : W // 2], const_flow(U, V)], [coarse, cube])["contrast"]
    alone = loss([const_flow(U, V)], [cube])["contrast"]
    assert both.item() == pytest.approx(alone.item())
    with pytest.raises(ShapeError, match="even C"):
        FlowLoss({"contrast": 1.0})([const_flow(0, 0)], [cube[:, :, :5]])
