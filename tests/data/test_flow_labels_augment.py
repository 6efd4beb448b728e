"""Flow labels aligned with time bins (covering interval, rescaled in time and space) and label augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from evflow.data.augment import AugmentConfig, apply_affine, apply_affine_flow, draw_affine
from evflow.data.flow_file import write_flow_file
from evflow.data.flow_labels import label_path_for, load_flow_labels
from evflow.data.sources import FileMetadata
from evflow.flow.data_module import load_labels_flow


@pytest.fixture
def label_file(tmp_path):
    """GT every 20 ms on a 16x24 grid: interval k has u = k + 1, v = -(k + 1) (pixels per 20 ms)."""
    n = 5
    flow = np.zeros((n, 2, 16, 24), np.float32)
    for k in range(n):
        flow[k, 0], flow[k, 1] = k + 1, -(k + 1)
    starts = np.arange(n, dtype=np.int64) * 20_000
    write_flow_file(tmp_path / "rec_flow.h5", flow, starts, starts + 20_000)
    return tmp_path / "rec_td.dat"


def test_label_path():
    assert label_path_for("/a/b/x_td.dat").name == "x_flow.h5"
    assert label_path_for("/a/b/x.raw").name == "x_flow.h5" and label_path_for("x.h5").name == "x_flow.h5"


def test_bins_get_the_covering_interval(label_file):
    # bins of 10 ms from 30 ms: [30,40) in GT 1, [40,50) & [50,60) in GT 2, ... [90,100) in GT 4, [100,110) none
    labels, labeled = load_flow_labels(label_file, 30_000, 8, 10_000, 16, 24)
    assert labeled.tolist() == [True] * 7 + [False]
    expected_u = [2, 3, 3, 4, 4, 5, 5]
    for k, u in enumerate(expected_u):
        np.testing.assert_allclose(labels[k][0], u * 0.5)  # 10 ms of a 20 ms displacement
        np.testing.assert_allclose(labels[k][1], -u * 0.5)
    assert not labels[7].any()


def test_bins_straddling_two_intervals_are_not_labelled(label_file):
    labels, labeled = load_flow_labels(label_file, 10_000, 2, 20_000, 16, 24)
    assert labeled.tolist() == [False, False]


def test_resized_labels_rescale_magnitude(label_file):
    labels, labeled = load_flow_labels(label_file, 0, 1, 20_000, 8, 6)
    assert labeled.all() and labels[0].shape == (2, 8, 6)
    np.testing.assert_allclose(labels[0][0], 1 * 6 / 24, rtol=1e-6)
    np.testing.assert_allclose(labels[0][1], -1 * 8 / 16, rtol=1e-6)


def test_load_labels_flow_api(label_file):
    meta = FileMetadata(str(label_file), 0, 40_000, 20_000, 2)
    labels, labeled = load_labels_flow(meta, 0, 40_000, np.zeros((2, 6, 16, 24), np.float32))
    assert labeled.tolist() == [True, True] and labels[1].shape == (2, 16, 24)
    assert float(labels[1][0, 0, 0]) == 2.0
    none, flags = load_labels_flow(FileMetadata("/nowhere/x_td.dat", 0, 1, 1, 1), 0, 20_000,
                                   np.zeros((1, 6, 16, 24)))  # fmt: skip
    assert not flags.any()


def test_flip_and_rotation_transform_flow_consistently():
    h, w = 20, 30
    flip = draw_affine(AugmentConfig(p_rotate=0.0, p_hflip=1.0), h, w, seed=0)
    flow = np.zeros((2, h, w), np.float32)
    flow[0], flow[1] = 2.0, 1.0
    out = apply_affine_flow(flow, flip)
    np.testing.assert_allclose(out[0], -2.0)
    np.testing.assert_allclose(out[1], 1.0)
    # rotation: a blob displaced by the flow stays consistent with the rotated flow
    rot = draw_affine(AugmentConfig(max_angle=90, p_rotate=1.0, p_hflip=0.0), 64, 64, seed=3)
    img0, img1 = np.zeros((64, 64), np.float32), np.zeros((64, 64), np.float32)
    img0[30:34, 20:24], img1[30:34, 26:30] = 1.0, 1.0  # moved by u = +6
    f = np.zeros((2, 64, 64), np.float32)
    f[0] = 6.0
    r0, r1, rf = apply_affine(img0, rot), apply_affine(img1, rot), apply_affine_flow(f, rot)

    def centroid(im):
        ys, xs = np.nonzero(im > 0.25)
        return np.array([(xs * im[ys, xs]).sum(), (ys * im[ys, xs]).sum()]) / im[ys, xs].sum()

    c0 = centroid(r0)
    predicted = c0 + rf[:, int(round(c0[1])), int(round(c0[0]))]
    np.testing.assert_allclose(predicted, centroid(r1), atol=0.3)
    assert np.isinf(rf).any()  # corners coming from outside the image are invalid
