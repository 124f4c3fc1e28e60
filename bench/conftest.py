"""Fixtures for the benchmark suite (run with --benchmark-enable to time)."""

from __future__ import annotations

import pytest
from common import epoch_rows, mnist_like


@pytest.fixture(scope="session")
def mnist_epoch(request):
    """Binary MNIST-like rows for one epoch (60,000 when timing, 2,000 in smoke runs)."""
    return mnist_like(epoch_rows(request.config))
