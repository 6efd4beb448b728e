"""Fixtures of the flow training tests."""

from __future__ import annotations

import pytest
from flow_data import moving_pattern, write_tensor_file


@pytest.fixture
def tiny_dataset(tmp_path):
    """``tmp_path/ds`` with train/ (3 recordings) and val/ (2 recordings) of 12 rows each."""
    root = tmp_path / "ds"
    for split, n, offset in (("train", 3, 0), ("val", 2, 10)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            v = (1.5 * (1 + i % 2), -1.0 * (i % 3))
            write_tensor_file(root / split / f"rec{i}.h5", moving_pattern(12, v, seed=offset + i))
    return root
