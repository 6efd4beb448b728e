"""Visualisation functions: colours of the reference, shapes, errors."""

import numpy as np
import pytest

from evflow.errors import ShapeError
from evflow.preprocessing import (
    viz_diff_binarized,
    viz_event_cube_rgb,
    viz_histo_binarized,
    viz_multichannel_timesurface,
    viz_timesurface,
)


def test_binarized_colours():
    histo = np.zeros((2, 1, 3), np.float32)
    histo[1, 0, 0] = 0.4  # ON
    histo[0, 0, 1] = 0.2  # OFF
    img = viz_histo_binarized(histo)
    assert img[0].tolist() == [[216, 223, 236], [64, 126, 201], [30, 37, 52]]
    assert viz_diff_binarized(np.array([[[-3, 0, 5]]], np.int8))[0].tolist() == img[0][[1, 2, 0]].tolist()


def test_event_cube_rgb_and_timesurfaces():
    cube = np.zeros((6, 2, 2), np.float32)
    cube[1, 0, 0] = 1.0  # micro bin 0, ON -> red channel brightest at (0, 0)
    cube[4, 1, 1] = 1.0  # micro bin 2, OFF -> blue channel darkest at (1, 1)
    img = viz_event_cube_rgb(cube)
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8
    assert img[0, 0, 0] == img[..., 0].max() and img[1, 1, 2] == img[..., 2].min()
    ts = np.zeros((2, 2, 2), np.float32)
    ts[1, 0, 0] = 0.5
    assert viz_timesurface(ts)[0, 0].tolist() == [128, 0, 0]
    assert viz_multichannel_timesurface(cube)[0, 0].tolist() == [255, 0, 0]
    with pytest.raises(ShapeError, match="one time bin"):
        viz_event_cube_rgb(np.zeros((1, 6, 2, 2)))
