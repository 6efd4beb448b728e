"""Flow drawings checked on known flows: arrow colours and endpoints, colour wheel, legend, grid, sharp view."""

import numpy as np
import pytest

from evflow.errors import ShapeError
from evflow.flow import viz
from evflow.io import make_events

RED, CYAN = (255, 0, 0), (0, 255, 255)


def const_flow(height, width, u, v):
    flow = np.empty((2, height, width), np.float32)
    flow[0], flow[1] = u, v
    return flow


def test_convert_to_gray():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 255
    gray = viz.convert_to_gray(rgb)
    assert gray.shape == (2, 3, 3) and (gray == gray[..., :1]).all() and gray[0, 0, 0] == 76  # 0.299 * 255
    assert viz.convert_to_gray(np.full((2, 2), 7, np.uint8)).shape == (2, 2, 3)
    with pytest.raises(ShapeError):
        viz.convert_to_gray(np.zeros((2, 2, 4), np.uint8))


@pytest.mark.parametrize(
    "u, v, rgb",
    [(1, 0, RED), (-1, 0, CYAN), (0, 1, (128, 255, 0)), (0, -1, (128, 0, 255))],
)
def test_colour_wheel_direction_to_colour(u, v, rgb):
    color = viz.flow_to_color(const_flow(2, 2, u * 4.0, v * 4.0), max_flow=4.0)
    np.testing.assert_allclose(color[0, 0], rgb, atol=1)


def test_fixed_scale_does_not_renormalise():
    slow = viz.flow_to_color(const_flow(2, 2, 2.0, 0.0), max_flow=8.0)
    fast = viz.flow_to_color(const_flow(2, 2, 8.0, 0.0), max_flow=8.0)
    assert slow[0, 0, 0] == 64 and fast[0, 0, 0] == 255  # brightness = |flow| / max_flow
    assert viz.flow_to_color(const_flow(2, 2, 2.0, 0.0))[0, 0, 0] == 255  # per-image max when None
    assert viz.flow_to_color(const_flow(2, 2, 50.0, 0.0), max_flow=8.0)[0, 0, 0] == 255  # clipped


def test_legend_wheel_matches_flow_colours():
    wheel = viz.color_wheel(65)
    np.testing.assert_allclose(wheel[32, 64], RED, atol=1)  # right rim: flow (+max, 0)
    np.testing.assert_allclose(wheel[32, 0], CYAN, atol=1)
    np.testing.assert_allclose(wheel[64, 32], (128, 255, 0), atol=1)  # bottom rim: flow (0, +max)
    assert not wheel[0, 0].any() and not wheel[32, 32].any()  # outside the disc, centre (zero flow)
    assert viz.color_wheel(64, max_flow=5).shape == (80, 64, 3)
    assert viz.add_legend(np.zeros((100, 100, 3), np.uint8), 5, size=64)[:80, -64:].any()


def test_arrows_endpoints_and_colour():
    flow = const_flow(32, 32, 5.0, 0.0)
    img = viz.draw_arrows(np.zeros((32, 32, 3), np.uint8), flow, step=16, threshold_px=1)
    # Cells of 16 px: arrows start at the centres (8, 8), (24, 8), (8, 24), (24, 24) and end 5 px right.
    for x, y in ((8, 8), (24, 8), (8, 24), (24, 24)):
        assert tuple(img[y, x]) == RED and tuple(img[y, x + 5]) == RED
        assert not img[y, x - 2].any() and not img[y, x + 7].any()
    assert not viz.draw_arrows(np.zeros((32, 32, 3), np.uint8), flow, step=16, threshold_px=6).any()
    mask = np.zeros((32, 32), bool)
    mask[8, 8] = True
    masked = viz.get_arrows(flow, step=16, mask=mask)
    assert masked[8, 10].any() and not masked[24, 26].any()


def test_arrows_reject_mismatched_sizes():
    with pytest.raises(ShapeError, match="sizes differ"):
        viz.draw_arrows(np.zeros((8, 8, 3), np.uint8), const_flow(16, 16, 1, 1))
    with pytest.raises(ShapeError, match=r"\(2, H, W\)"):
        viz.get_arrows(np.zeros((3, 4, 4)))


def test_dense_flow_blend_and_torch_input():
    torch = pytest.importorskip("torch")
    flow = torch.zeros(2, 4, 4)
    flow[0] = 3.0
    dense = viz.get_dense_flow(flow, base_img=np.zeros((4, 4, 3), np.uint8), max_flow=3.0)
    assert tuple(int(c) for c in dense[0, 0]) == (178, 0, 0)  # 0.7 * red on black


def test_draw_flow_on_grid_places_tiles_and_upsamples_coarse_flow():
    num_t, batch, height, width = 2, 3, 16, 16
    inputs = np.zeros((num_t, batch, 2, height, width), np.float32)
    inputs[:, :, 0, 8, 8] = 1.0
    coarse = np.zeros((num_t, batch, 2, 8, 8), np.float32)
    coarse[:, :, 0] = 2.0  # 2 px at half resolution = 4 px at full resolution
    grid = np.zeros((num_t, 2 * height, 2 * width, 3), np.uint8)
    out = viz.draw_flow_on_grid(inputs, [coarse], grid, lambda x: np.zeros((height, width, 3), np.uint8), step=16)
    assert out is grid
    for b in range(batch):
        row, col = divmod(b, 2)
        y, x = row * height + 8, col * width + 8
        assert tuple(grid[1, y, x + 4]) == RED and not grid[1, y, x + 6].any()
    assert not grid[:, height:, width:].any()  # 4th tile unused
    with pytest.raises(ShapeError, match="too small"):
        viz.draw_flow_on_grid(inputs, [coarse], grid[:, :height], lambda x: x, step=16)


def test_sharp_view_deblurs_a_moving_dot():
    t = np.arange(0, 50_000, 5_000)
    events = make_events(10 + t // 5_000, np.full(10, 24), np.ones(10, int), t)  # x 10 -> 19
    view = viz.draw_sharp_view(events, const_flow(32, 32, 10.0, 0.0), 0, 50_000, step=64)
    assert view.shape == (32, 64, 3)
    sharp, raw = view[24, :32, 0].astype(int), view[24, 32:, 0].astype(int)
    assert sharp[20] == 255 and (sharp[10:19] == 128).all()  # all events piled at x = 20 (end position)
    assert (raw[10:20] == 255).all()  # the blurred streak


def test_viz_and_metrics_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, evflow.flow.viz, evflow.metrics, evflow.baselines; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
