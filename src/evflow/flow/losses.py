"""Self-supervised flow losses: ``FlowLoss`` and its terms.

Terms (each summed over scales with coefficients ``[..., 0.25, 0.5, 1]`` coarse to fine, then weighted):

* ``data``: the input of bin ``t`` moved by flow ``t`` matches bin ``t + 1``;
* ``time_consistency``: bin ``k`` moved by flows ``k .. k + j`` matches bin ``k + j + 1`` (``j = 1, 2``...);
* ``bw_deblur``: the micro bins of each bin moved back onto its first micro bin agree (sharp edges);
* ``smoothness`` / ``smoothness2``: first / second-order differences of the flow;
* ``l1``: mean squared norm of the normalised flow (penalises extreme displacements);
* ``contrast`` (evflow, off by default, finest scale only): contrast maximisation on the micro bins, every cell
  moved by the flow at its own pixel to the middle of its bin (see :func:`contrast_loss`).

All use the Charbonnier penalty; the terms named in ``smoothness_mask`` only count pixels with events.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..core.charbonnier import charbonnier, charbonnier_loss, masked_mean
from ..core.sequence import batch_to_time, time_to_batch
from ..core.smoothness import SecondOrderLoss, SmoothnessLoss, create_border_mask, create_mask
from ..core.warp import Warping, normalize_flow
from ..errors import ConfigError, ShapeError

LOSS_NAMES = ("data", "smoothness", "smoothness2", "l1", "time_consistency", "bw_deblur", "contrast")

__all__ = [
    "LOSS_NAMES",
    "FlowLoss",
    "contrast_loss",
    "MaskedLoss",
    "SecondOrderLoss",
    "SmoothnessLoss",
    "charbonnier",
    "charbonnier_loss",
    "create_border_mask",
    "create_mask",
    "extreme_displacement_loss",
    "flow_length_square",
]


def flow_length_square(flow: torch.Tensor) -> torch.Tensor:
    """``u^2 + v^2`` of a ``(N, 2, H, W)`` flow, shape ``(N, 1, H, W)``."""
    return (flow**2).sum(1, keepdim=True)


def extreme_displacement_loss(
    flow_n: torch.Tensor, threshold: float = 0.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared norm of a normalised flow where it exceeds ``threshold`` (an L2 squared, named ``l1``).

    Args:
        flow_n: ``(N, 2, H, W)`` flow in grid units (see :func:`~evflow.core.warp.normalize_flow`).
        threshold: squared norms at or below it count as 0.
        mask: optional ``(N, 1, H, W)`` event mask; the mean is over masked pixels.

    Returns:
        Scalar.
    """
    mag = flow_length_square(flow_n)
    return masked_mean(mag * (mag > threshold).to(mag.dtype), mask)


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, 1, H, W)`` images, zero padding, radius ``3 sigma``."""
    r = max(1, int(3 * sigma + 0.5))
    g = torch.exp(-(torch.arange(-r, r + 1, dtype=img.dtype, device=img.device) ** 2) / (2 * sigma**2))
    g = g / g.sum()
    img = nn.functional.conv2d(img, g.view(1, 1, 1, -1), padding=(0, r))
    return nn.functional.conv2d(img, g.view(1, 1, -1, 1), padding=(r, 0))


def contrast_loss(inputs: torch.Tensor, flow: torch.Tensor, sigma: float = 1.0, eps: float = 1e-6) -> torch.Tensor:
    """Negative contrast of the micro bins moved by their own flow to the middle of their bin (forward splatting).

    Cell ``(d, p, y, x)`` of bin ``k`` (value ``v``, micro-bin time ``tau = (d + 0.5) / D`` in bin units) moves to
    ``(x, y) + f_k(x, y) * (0.5 - tau)`` and is splatted bilinearly with weight ``|v|``, one image per bin and
    polarity. The image is blurred (Gaussian, ``sigma`` px: bilinear splatting at fractional positions blurs,
    which would otherwise favour integer displacements such as zero flow) and scored
    ``-sum(m^2) / sum(m)`` (contrast normalised by the event mass), averaged over images. Differentiable in the
    flow through the splatting weights.

    Args:
        inputs: ``(T, B, C, h, w)`` with ``C = 2 D`` channels ``2 d + p`` (event_cube with split polarity).
        flow: ``(T * B, 2, h, w)`` displacement in pixels over one bin.
        sigma: blur of the image of warped events, in pixels.
        eps: added to the mass before dividing.

    Returns:
        Scalar (0 for an empty input).
    """
    t, b, c, h, w = inputs.shape
    if c % 2:
        raise ShapeError(f"contrast loss needs ON/OFF micro bins (even C), got C={c}")
    d_count = c // 2
    vol = inputs.reshape(t * b, d_count, 2, h, w).abs()
    idx = (vol.detach() > 0).nonzero(as_tuple=True)
    if idx[0].numel() == 0:
        return flow.sum() * 0
    n_i, d_i, p_i, y_i, x_i = idx
    weight = vol[idx]
    dt = 0.5 - (d_i.to(flow.dtype) + 0.5) / d_count
    xw = x_i.to(flow.dtype) + flow[n_i, 0, y_i, x_i] * dt
    yw = y_i.to(flow.dtype) + flow[n_i, 1, y_i, x_i] * dt
    x0, y0 = torch.floor(xw.detach()), torch.floor(yw.detach())
    image = (n_i * 2 + p_i) * ((h + 2) * (w + 2))
    n_images = t * b * 2
    mass = flow.new_zeros(n_images * (h + 2) * (w + 2))
    for ox in (0, 1):
        for oy in (0, 1):
            xi, yi = x0 + ox, y0 + oy
            inside = (xi >= -1) & (xi <= w) & (yi >= -1) & (yi <= h)
            share = weight * (1 - (xw - xi).abs()) * (1 - (yw - yi).abs())
            mass = mass.index_add(0, (image + ((yi + 1) * (w + 2) + xi + 1).long())[inside], share[inside])
    mass = _gaussian_blur(mass.view(n_images, 1, h + 2, w + 2), sigma).flatten(1)
    return (-(mass**2).sum(1) / (mass.sum(1) + eps)).mean()


class MaskedLoss(nn.Module):
    """Module form of :func:`~evflow.core.charbonnier.charbonnier_loss` (mean over masked elements)."""

    def __init__(self, alpha: float = 0.45, beta: float = 1.0, epsilon: float = 1e-3):
        super().__init__()
        self.alpha, self.beta, self.epsilon = alpha, beta, epsilon

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Charbonnier mean of ``x`` over ``mask``."""
        return charbonnier_loss(x, mask, self.alpha, self.beta, self.epsilon)


def _term_set(smoothness_mask) -> frozenset:
    if smoothness_mask is None or smoothness_mask is False:
        return frozenset()
    if smoothness_mask is True:
        return frozenset(LOSS_NAMES)
    if isinstance(smoothness_mask, str) or not isinstance(smoothness_mask, Iterable):
        raise ConfigError(f"smoothness_mask must be a list of loss names, got {smoothness_mask!r}")
    names = frozenset(smoothness_mask)
    if not names <= set(LOSS_NAMES):
        raise ConfigError(f"smoothness_mask: unknown loss names {sorted(names - set(LOSS_NAMES))}; valid: {LOSS_NAMES}")
    return names


class FlowLoss(nn.Module):
    """Weighted self-supervised flow loss over a pyramid of scales.

    Args:
        flow_weights: ``{name: weight}`` with names from :data:`LOSS_NAMES`; a term is computed iff its weight > 0.
        warping_head: one :class:`~evflow.core.warp.Warping` per scale (e.g. ``FlowNetwork.get_warping_head()``);
            created as needed when ``None``.
        smoothness_mask: names of the terms restricted to pixels with events (``True``: all terms).
    """

    def __init__(self, flow_weights: dict, warping_head=None, smoothness_mask=("time_consistency",)):
        super().__init__()
        unknown = sorted(set(flow_weights) - set(LOSS_NAMES))
        if unknown:
            raise ConfigError(f"FlowLoss: unknown loss names {unknown}; valid: {LOSS_NAMES}")
        self.flow_weights = {k: float(v) for k, v in flow_weights.items() if float(v) > 0}
        self.masked_terms = _term_set(smoothness_mask)
        self.warping_head = nn.ModuleList(list(warping_head) if warping_head is not None else [])
        if "smoothness" in self.flow_weights:
            self.smoothness = SmoothnessLoss()
        if "smoothness2" in self.flow_weights:
            self.smoothness2 = SecondOrderLoss()

    def _head(self, scale: int) -> Warping:
        while len(self.warping_head) <= scale:
            self.warping_head.append(Warping())
        return self.warping_head[scale]

    @staticmethod
    def scale_coefficients(n: int) -> list[float]:
        """Coefficients coarse to fine: ``2**(1 - i)`` for ``i = n .. 1`` (``[0.25, 0.5, 1.0]`` for 3 scales)."""
        return [2.0 ** (1 - i) for i in range(n, 0, -1)]

    def forward(
        self, flows: list[torch.Tensor], interpolated_inputs: list[torch.Tensor], batch_size: int | None = None
    ) -> dict:
        """Weighted loss terms.

        Args:
            flows: coarse to fine pixel flows, each ``(T * B, 2, h, w)`` (or ``(T, B, 2, h, w)``).
            interpolated_inputs: matching inputs ``(T, B, C, h, w)``
                (``FlowNetwork.interpolate_all_inputs_using_pyramid``).
            batch_size: ignored (taken from the inputs); kept for API compatibility.

        Returns:
            ``{name: scalar}`` for every active term, already weighted and summed over scales.
        """
        if len(flows) != len(interpolated_inputs):
            raise ShapeError(f"FlowLoss: {len(flows)} flow scales but {len(interpolated_inputs)} input scales")
        terms = {name: 0.0 for name in self.flow_weights}
        for s, (coef, flow, inputs) in enumerate(zip(self.scale_coefficients(len(flows)), flows, interpolated_inputs)):
            finest = s == len(flows) - 1
            for name, value in self._scale_terms(s, self._check(flow, inputs), inputs, finest).items():
                terms[name] = terms[name] + coef * value
        return {name: self.flow_weights[name] * value for name, value in terms.items()}

    @staticmethod
    def _check(flow: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 5:
            raise ShapeError(f"FlowLoss: inputs must be (T, B, C, h, w), got {list(inputs.shape)}")
        t, b, _, h, w = inputs.shape
        if flow.dim() == 5:
            flow = time_to_batch(flow)[0]
        if list(flow.shape) != [t * b, 2, h, w]:
            raise ShapeError(f"FlowLoss: flow must be (T*B, 2, h, w) = {[t * b, 2, h, w]}, got {list(flow.shape)}")
        return flow

    def _mask(self, name: str, mask: torch.Tensor) -> torch.Tensor | None:
        return mask if name in self.masked_terms else None

    def _scale_terms(self, s: int, flow: torch.Tensor, inputs: torch.Tensor, finest: bool = True) -> dict:
        """Unweighted terms at one scale."""
        t, b = inputs.shape[0], inputs.shape[1]
        flow_n = normalize_flow(flow)
        mask = (inputs.detach().abs().amax(dim=2, keepdim=True) > 0).to(inputs.dtype)  # (T, B, 1, h, w)
        flat_mask = time_to_batch(mask)[0]
        head = self._head(s)
        out = {}
        need_warp = "data" in self.flow_weights or "time_consistency" in self.flow_weights
        warp = head.warp_sequence_by_one_time_bin(inputs, flow_n, True, True) if need_warp else inputs
        m = self._mask
        if "data" in self.flow_weights:
            out["data"] = charbonnier_loss(warp[:-1] - inputs[1:], m("data", mask[1:])) if t > 1 else warp.sum() * 0
        if "time_consistency" in self.flow_weights:
            out["time_consistency"] = self._time_consistency(
                head, warp, inputs, batch_to_time(flow_n, b), m("time_consistency", mask)
            )
        if "bw_deblur" in self.flow_weights:
            out["bw_deblur"] = self._bw_deblur(head, inputs, flow_n, m("bw_deblur", mask))
        if "smoothness" in self.flow_weights:
            out["smoothness"] = self.smoothness(flow, m("smoothness", flat_mask))
        if "smoothness2" in self.flow_weights:
            out["smoothness2"] = self.smoothness2(flow, m("smoothness2", flat_mask))
        if "l1" in self.flow_weights:
            out["l1"] = extreme_displacement_loss(flow_n, 0.0, m("l1", flat_mask))
        if "contrast" in self.flow_weights and finest:
            out["contrast"] = contrast_loss(inputs, flow)
        return out

    @staticmethod
    def _time_consistency(head: Warping, warp, inputs, flow_n, mask) -> torch.Tensor:
        """Bin ``k`` moved by flows ``k .. k + j`` vs bin ``k + j + 1``, weight ``1 - j / 4``, ``j < min(4, T-1)``.

        ``flow_n`` is ``(T, B, 2, h, w)`` in grid units: normalised once (the original normalised it twice).
        """
        t = inputs.shape[0]
        loss = warp.sum() * 0
        warped = warp
        for j in range(1, min(4, t - 1)):
            warped = warped[:-1]
            flow_j = time_to_batch(flow_n[j:])[0]
            warped = head.warp_sequence_by_one_time_bin(warped, flow_j, True, True)
            target_mask = None if mask is None else mask[1 + j :]
            loss = loss + (1 - 0.25 * j) * charbonnier_loss(warped[:-1] - inputs[1 + j :], target_mask)
        return loss

    @staticmethod
    def _bw_deblur(head: Warping, inputs, flow_n, mask) -> torch.Tensor:
        """Micro bins moved back onto micro bin 0: ``rho_mean(sharp[0] - mean(sharp[1:]))``."""
        t, b, c, h, w = inputs.shape
        if c % 2 or c < 4:
            raise ShapeError(f"bw_deblur needs an ON/OFF micro-bin volume (even C >= 4, e.g. event_cube), got C={c}")
        sharp = head.sharpen_micro_tbin(inputs, flow_n, 0, True, True, True)  # (T, B, D, 2, h, w)
        diff = sharp[:, :, 0] - sharp[:, :, 1:].mean(2)
        return charbonnier_loss(diff, mask)
