"""Fixtures for the event I/O tests."""

from __future__ import annotations

import pytest
from io_helpers import synthetic_events


@pytest.fixture
def events():
    """A 20k-event recording on a 1280x720 sensor over 0.1 s."""
    return synthetic_events(20_000)
