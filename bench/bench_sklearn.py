"""xprbm.sklearn.BernoulliRBM against scikit-learn's BernoulliRBM at scikit-learn's defaults.

One ``fit`` with ``n_iter=1`` (256 components, batch 10, learning rate 0.1, PCD-1) on 20,000
binarised MNIST rows in float32, both estimators the same way. Timed on demand::

    python -m pytest bench/bench_sklearn.py --benchmark-enable -p no:cacheprovider

and in CI once each on a few rows (smoke).
"""

from __future__ import annotations

import numpy as np
import pytest
from common import mnist_like, timing

pytest.importorskip("sklearn")

#: rows of the timed fit (the issue's 20,000); smoke runs use SMOKE_ROWS
ROWS = 20_000
SMOKE_ROWS = 500


def _estimator(name: str):
    if name == "xprbm":
        from xprbm.sklearn import BernoulliRBM
    else:
        from sklearn.neural_network import BernoulliRBM
    return BernoulliRBM(n_components=256, learning_rate=0.1, batch_size=10, n_iter=1,
                        random_state=0)


@pytest.mark.parametrize("name", ["xprbm", "sklearn"])
def bench_one_iteration_at_scikit_learns_defaults(benchmark, request, name):
    rows = ROWS if timing(request.config) else SMOKE_ROWS
    X = mnist_like(rows).astype(np.float32)
    benchmark.group = f"sklearn defaults, {rows} rows, float32, n_iter=1"
    if name == "xprbm":  # compile the Numba kernels outside the timed call
        _estimator(name).fit(X[:20])
    fitted = benchmark.pedantic(lambda: _estimator(name).fit(X), rounds=1, iterations=1)
    assert fitted.components_.dtype == np.float32
    assert np.isfinite(fitted.components_).all()
