"""The two PyTorch versions of the tutorial's PCD (bench/torch_tutorial.py) must train alike.

Automatic differentiation of the tutorial's free-energy cost (chain end held constant) gives
the hand-written gradient, and both use the same random draws, so the parameters agree to
float32 rounding after a few epochs. Skipped where PyTorch is not installed (as in CI).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch_tutorial import HandWrittenPCD, TutorialPCD  # noqa: E402


def test_autograd_tutorial_matches_handwritten_gradient():
    X = (np.random.default_rng(0).random((300, 11)) < 0.3).astype(np.float32)
    options = dict(learning_rate=0.05, batch_size=20, k=2, seed=3)
    tutorial = TutorialPCD(11, 7, **options).fit(X, epochs=3)
    handwritten = HandWrittenPCD(11, 7, **options).fit(X, epochs=3)
    for a, b in zip(tutorial.parameters_numpy(), handwritten.parameters_numpy(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert len(tutorial.monitoring_costs) == 3 * 15
    assert all(float(c) <= 0.0 for c in tutorial.monitoring_costs)  # N log(sigmoid) <= 0
