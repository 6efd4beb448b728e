"""Charbonnier (masked mean) and smoothness regularisers (fixed border masks and anti-diagonal kernel)."""

import pytest
import torch

from evflow.core.charbonnier import charbonnier, charbonnier_loss
from evflow.core.smoothness import SecondOrderLoss, SmoothnessLoss, create_mask

FLOOR = 1e-6**0.45


def test_charbonnier_floor_and_masked_mean_over_masked_elements_only():
    assert charbonnier(torch.zeros(1)).item() == pytest.approx(FLOOR)
    x = torch.tensor([1.0, 0.0, 0.0, 0.0])
    mask = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert charbonnier_loss(x, mask).item() == pytest.approx(charbonnier(torch.ones(1)).item())
    assert charbonnier_loss(x, torch.zeros(4)).item() == 0.0
    assert charbonnier_loss(x).item() == pytest.approx((charbonnier(torch.ones(1)).item() + 3 * FLOOR) / 4)


def test_create_mask_paddings():
    m = create_mask(4, 5, [[0, 1], [2, 0]])
    assert m[:2].sum() == 0 and m[:, 4].sum() == 0 and m[2:, :4].sum() == 8


@pytest.mark.parametrize("loss_cls", [SmoothnessLoss, SecondOrderLoss])
def test_constant_flow_is_at_the_floor_with_zero_gradient(loss_cls):
    flow = torch.full((2, 2, 9, 11), 3.5, requires_grad=True)
    loss = loss_cls()(flow)
    assert loss.item() == pytest.approx(2 * FLOOR, rel=1e-5)
    loss.backward()
    assert flow.grad.abs().max().item() < 1e-6


@pytest.mark.parametrize("loss_cls", [SmoothnessLoss, SecondOrderLoss])
def test_linear_ramps(loss_cls):
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(11.0), indexing="ij")
    ramp = torch.stack([xs, ys]).unsqueeze(0)
    loss = loss_cls()(ramp).item()
    if loss_cls is SecondOrderLoss:
        assert loss == pytest.approx(2 * FLOOR, rel=1e-4)  # affine flow: zero second differences
    else:
        assert loss > 10 * FLOOR


def test_second_order_anti_diagonal_kernel_and_event_mask():
    k = SecondOrderLoss().kernel[3, 0]
    assert k[0, 2] == 1 and k[2, 0] == 1 and k[1, 1] == -2 and k.abs().sum() == 4
    flow = torch.zeros(1, 2, 7, 7)
    flow[0, 0, 3, 3] = 5.0
    mask = torch.zeros(1, 1, 7, 7)
    assert SmoothnessLoss()(flow, mask).item() == 0.0
    mask[..., 0, 0] = 1
    assert SmoothnessLoss()(flow, mask).item() == pytest.approx(2 * FLOOR)


def test_original_checkpoint_kernels_are_ignored_on_load():
    loss = SecondOrderLoss()
    buggy = torch.zeros(4, 1, 3, 3)
    loss.load_state_dict({"conv_filter.weight": buggy}, strict=True)
    assert loss.kernel.abs().sum() > 0
    assert "kernel" not in loss.state_dict()
