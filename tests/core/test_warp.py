"""Warping direction, gradients, grid caching, warps to (micro) time bins, image of warped events, pyramid."""

import numpy as np
import pytest
import torch

from evflow.core import (
    Pyramid,
    Warping,
    compute_iwe,
    make_grid2d,
    normalize_flow,
    warp_backward_using_forward_flow,
    warp_forward_using_forward_flow,
    warp_to_tbin,
)
from evflow.errors import ShapeError
from evflow.io.events import make_events


def dot(h=20, w=24, y=10, x=10):
    img = torch.zeros(1, 1, h, w)
    img[0, 0, y, x] = 1.0
    return img


def const_flow(u, v, h=20, w=24, n=1, dtype=torch.float32):
    f = torch.zeros(n, 2, h, w, dtype=dtype)
    f[:, 0], f[:, 1] = u, v
    return f


def argmax_yx(img):
    i = int(img.flatten().argmax())
    return divmod(i, img.shape[-1])


def test_forward_warp_moves_dot_along_flow():
    out = warp_forward_using_forward_flow(dot(), const_flow(3, 2))
    assert argmax_yx(out) == (12, 13)
    assert out.sum().item() == pytest.approx(1.0)


def test_backward_warp_moves_dot_against_flow():
    assert argmax_yx(warp_backward_using_forward_flow(dot(), const_flow(3, 2))) == (8, 7)


def test_subpixel_forward_warp_splits_bilinearly():
    out = warp_forward_using_forward_flow(dot(), const_flow(0.5, 0))[0, 0]
    assert out[10, 10].item() == pytest.approx(0.5) and out[10, 11].item() == pytest.approx(0.5)


def test_normalize_flow_units_and_clamp():
    f = normalize_flow(const_flow(23, 1000))
    assert f[0, 0, 0, 0].item() == pytest.approx(2.0) and f[0, 1, 0, 0].item() == 2.0
    assert normalize_flow(const_flow(11.5, 0))[0, 0, 0, 0].item() == pytest.approx(1.0)
    g = make_grid2d(3, 5)
    assert g.shape == (1, 3, 5, 2) and g[0, 0, 0].tolist() == [-1.0, -1.0] and g[0, 2, 4].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("warp", [warp_forward_using_forward_flow, warp_backward_using_forward_flow])
def test_warp_gradcheck_float64(warp):
    torch.manual_seed(0)
    img = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    flow = (torch.rand(1, 2, 5, 6, dtype=torch.float64) * 1.6 - 0.8 + 0.13).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, f: warp(i, f), (img, flow), eps=1e-6, atol=1e-5)


def test_warping_grid_rebuilt_on_resolution_dtype_change():
    head = Warping()
    img = torch.zeros(2, 1, 1, 20, 24)
    img[:, 0, 0, 10, 10] = 1
    out = head.warp_sequence_by_one_time_bin(img, const_flow(3, 2, n=2))
    assert argmax_yx(out[1, 0, 0]) == (12, 13)
    small = torch.zeros(1, 1, 1, 8, 8)
    small[0, 0, 0, 4, 4] = 1
    out = head.warp_sequence_by_one_time_bin(small, const_flow(-2, 1, 8, 8))
    assert head.grid.shape == (1, 8, 8, 2) and argmax_yx(out[0, 0, 0]) == (5, 2)
    out = head.warp_sequence_by_one_time_bin(small.double(), const_flow(-2, 1, 8, 8, dtype=torch.float64))
    assert head.grid.dtype == torch.float64 and out.dtype == torch.float64


def test_warp_to_tbin_aligns_moving_dot():
    seq = torch.zeros(3, 1, 1, 20, 24)
    for k in range(3):
        seq[k, 0, 0, 5 + 2 * k, 4 + 3 * k] = 1
    out = warp_to_tbin(seq, const_flow(3, 2), 2)
    assert all(argmax_yx(out[k, 0, 0]) == (9, 10) for k in range(3))


def test_sharpen_micro_tbin_aligns_micro_bins_on_first():
    img = torch.zeros(1, 1, 6, 20, 24)  # 3 micro bins x (OFF, ON), dot moving 3 px per micro bin
    for d in range(3):
        img[0, 0, 2 * d + 1, 10, 4 + 3 * d] = 1
    sharp = Warping().sharpen_micro_tbin(img, const_flow(9, 0), 0)
    assert sharp.shape == (1, 1, 3, 2, 20, 24)
    assert all(argmax_yx(sharp[0, 0, d, 1]) == (10, 4) for d in range(3))


def test_compute_iwe_sharpens_events_and_is_differentiable():
    # a dot moving +4 px in x over 1000 us: events at x = 2..6; with the right flow they all land on x = 6
    ts = np.arange(5) * 250
    ev = make_events(2 + np.arange(5), np.full(5, 3), np.ones(5), ts)
    flow = const_flow(4.0, 0.0, 8, 10)[0].requires_grad_(True)
    iwe = compute_iwe(ev, flow, t=1000, duration_flow=1000)
    assert iwe.shape == (8, 10) and iwe[3, 6].item() == pytest.approx(5.0, abs=1e-5)
    blurred = compute_iwe(ev, torch.zeros(2, 8, 10), t=1000)
    assert blurred.max().item() == pytest.approx(1.0) and blurred.sum().item() == pytest.approx(5.0)
    (iwe**2).sum().backward()
    assert flow.grad is not None and torch.isfinite(flow.grad).all()
    off = make_events(np.array([1]), np.array([1]), np.array([0]), np.array([0]))
    assert compute_iwe(off, torch.zeros(2, 4, 4), t=0)[1, 1].item() == -1.0
    with pytest.raises(ShapeError):
        compute_iwe(ev, torch.zeros(8, 10), t=0)


def test_pyramid_levels_coarse_to_fine():
    x = torch.rand(2, 1, 3, 16, 24)
    levels = Pyramid(3).compute_all_levels(x)
    assert [tuple(level.shape[-2:]) for level in levels] == [(4, 6), (8, 12), (16, 24)]
    assert levels[-1] is x
    assert Pyramid(3).scale_factors == [0.25, 0.5, 1.0]
