"""One PCD-1 epoch, 784x256, batch 100, float32: xprbm against the GEMM floor and peers.

Time with::

    python -m pytest bench/bench_pcd_epoch.py --benchmark-enable --benchmark-group-by=group
"""

from __future__ import annotations

import pytest
from common import GemmFloor

import xprbm

N_HIDDEN, BATCH = 256, 100
GROUP = "pcd1-784x256-b100"


def _one(benchmark, fn):
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("kernels", ["numba", "generic"])
def bench_xprbm_epoch(benchmark, mnist_epoch, kernels):
    benchmark.group = GROUP
    rbm = xprbm.RBM(784, N_HIDDEN, seed=0, kernels=kernels)
    rbm.fit(mnist_epoch[:BATCH], epochs=1, batch_size=BATCH, progress=False)  # compile, init
    trainer = rbm.trainer
    _one(benchmark, lambda: trainer.run(mnist_epoch, epochs=1, progress=False))
    assert trainer.n_updates > 1


def bench_gemm_floor(benchmark, mnist_epoch):
    benchmark.group = GROUP
    floor = GemmFloor(mnist_epoch, N_HIDDEN, BATCH)
    _one(benchmark, floor.epoch)


def bench_sklearn_bernoullirbm(benchmark, mnist_epoch):
    sklearn = pytest.importorskip("sklearn.neural_network")
    benchmark.group = GROUP
    model = sklearn.BernoulliRBM(n_components=N_HIDDEN, batch_size=BATCH, n_iter=1,
                                 learning_rate=0.01, random_state=0)
    _one(benchmark, lambda: model.fit(mnist_epoch))
