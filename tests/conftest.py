"""Shared fixtures: the real recordings of ../shared/data (skipped when absent), temporary dirs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EVFLOW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def real_file():
    """Return ``get(name) -> (path, expected_dict)`` for a file of ../shared/data; skip when missing."""

    def get(name: str):
        path = SHARED_DATA / name
        expected = SHARED_DATA / "expected" / f"{name}.json"
        if not path.is_file() or not expected.is_file():
            pytest.skip(f"real sample {name} not available (looked in {SHARED_DATA})")
        return path, json.loads(expected.read_text())

    return get


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` when no CUDA device is visible."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover - torch missing means no GPU either
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
