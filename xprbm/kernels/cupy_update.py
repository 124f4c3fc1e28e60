"""The CuPy update object: stacked scratch buffers, cuBLAS products, fused kernels, and one
CUDA graph per update."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from ..backend import Backend
from ..rng import CounterRNG
from .buffers import StackedBuffers
from .update import PARAMETERS, UpdateLayout, UpdateSettings


class CupyUpdate(StackedBuffers):
    """The CuPy update, with the algorithm and random draws of the generic one::

        hid = rowscale * sigmoid(vis @ W + c)     rowscale = -1/C (chains), +1/b (data)
        vW = momentum * vW + lr * vis.T @ hid     (one product, beta = momentum)
        vb = momentum * vb + lr * rowscale @ vis,  vc = momentum * vc + lr * ones @ hid
        vW -= lr * decay * W;  W += vW;  b += vb;  c += vc   (one kernel)

    The batch gather also writes the random stream's step into a device counter, from which
    the other kernels derive their draws (:mod:`xprbm.kernels.cupy_gpu`). Everything after
    the gather therefore has the same arguments in every full-batch update: the first such
    update runs launch by launch (compiling the kernels), the next one is captured into a CUDA
    graph, and from then on an update costs the gather, the graph and the copy of the chains
    into the caller's array. The graph is captured again whenever what it holds changes: an
    array replaced (new memory), the stream's key or the settings. A learning-rate schedule of the
    trainer changes the settings once per epoch, so the graph is then captured again once per
    epoch, at the epoch's first full batch. Short last batches run
    launch by launch. ``XPRBM_CUDA_GRAPHS=0`` turns graphs off; if a capture fails, a
    ``RuntimeWarning`` says so and the update goes on launch by launch.

    Parameters
    ----------
    backend : Backend
        CuPy.
    dtype : dtype of the model
    layout : UpdateLayout

    Raises
    ------
    OSError, AttributeError
        cuBLAS cannot be loaded through ctypes (the caller then falls back).
    """

    def __init__(self, backend: Backend, dtype: Any, layout: UpdateLayout) -> None:
        from . import cupy_gpu

        cupy_gpu.cublas()
        super().__init__(backend, dtype, layout)
        self.gpu = cupy_gpu
        xp, dtype = backend.xp, np.dtype(dtype)
        self.counter = xp.zeros(1, dtype=xp.uint64)
        self.ones = xp.ones(self.vis.shape[0], dtype=dtype)
        # host scalars (alpha, beta) of the products: plain, and accumulating into velocity
        self.plain = np.array([1.0, 0.0], dtype=dtype)
        self.accumulate = np.zeros(2, dtype=dtype)
        self.use_graph = os.environ.get("XPRBM_CUDA_GRAPHS", "1") != "0"
        self.graph: Any = None
        self.graph_signature: tuple | None = None
        self.warm = False

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: None = None) -> None:
        """One update (see :meth:`xprbm.kernels.update.Update.__call__`)."""
        xp = self.backend.xp
        n_batch, n_chains, n_rows = self.sizes(rows.shape[0])
        self.conform(params, velocity, chains)
        if X.dtype != self.vis.dtype:
            raise TypeError(f"the CuPy update gathers from data of the model's dtype "
                            f"{self.vis.dtype}; got {X.dtype}")
        rows = xp.asarray(rows, dtype=xp.int64)
        self.gpu.gather_rows_(X, rows, self.vis[n_chains:n_rows], rng.step, self.counter)
        arrays = (params, velocity, chains, rng.key, settings)
        full = n_batch == self.layout.batch_size
        if self.use_graph and self.warm and full:
            self._replay(n_batch, arrays)
        else:
            self._enqueue(n_batch, *arrays)
            self.warm = self.warm or full
        rng.step += 2 * settings.k  # the draws that the kernels took from the counter
        if self.pcd:
            chains["visible"][...] = self.vis[:n_chains]

    def _replay(self, n_batch: int, arrays: tuple) -> None:
        """Launch the graph of a full-batch update, capturing it first if need be."""
        signature = self._signature(*arrays)
        if signature != self.graph_signature:
            self.graph, self.graph_signature = None, None
            try:
                self.graph = self.gpu.capture(lambda: self._enqueue(n_batch, *arrays))
            except Exception as error:  # a driver or library that cannot capture this
                warnings.warn(f"CUDA graph capture failed ({error}); training launch by "
                              "launch instead", RuntimeWarning, stacklevel=4)
                self.use_graph = False
                self._enqueue(n_batch, *arrays)
                return
            self.graph_signature = signature
        self.graph.launch()

    def _signature(self, params: dict[str, Any], velocity: dict[str, Any],
                   chains: dict[str, Any] | None, key: int, settings: UpdateSettings) -> tuple:
        """What a captured graph holds besides this object's own buffers: the settings, the
        stream's key and the memory of every parameter, velocity and kept hidden state."""
        memory = [params[name] for name in PARAMETERS] + [velocity[name] for name in PARAMETERS]
        if chains is not None:
            memory.append(chains["hidden"])
        return (settings, key, *(self.gpu.address(a) for a in memory))

    def _enqueue(self, n_batch: int, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, key: int, settings: UpdateSettings) -> None:
        """Launch everything of an update after the gather, on the current stream."""
        gpu = self.gpu
        W, b, c = (params[name] for name in PARAMETERS)
        n_batch, n_chains, n_rows = self.sizes(n_batch)
        vis, hid = self.vis[:n_rows], self.hid[:n_rows]
        chain = vis[:n_chains]
        hid_chain = chains["hidden"] if self.pcd else self.hid_chain[:n_chains]
        scale = self.row_scale(n_chains, n_batch)
        key, counter, plain = np.uint64(key), self.counter, self.plain
        self.accumulate[:] = (settings.learning_rate, settings.momentum)
        draw = 0
        if not self.pcd:  # positive phase first; its field also starts the chain
            gpu.gemm(vis[n_chains:], W, hid[n_chains:], plain)
            gpu.hidden_(hid[n_chains:], c, scale[n_chains:], hid_chain, key, counter, draw)
            draw += 1
        for step in range(settings.k):
            gpu.gemm(hid_chain, W, chain, plain, trans_b=True)
            gpu.bernoulli_counted_(chain, b, key, counter, draw)
            draw += 1
            if step < settings.k - 1:
                gpu.gemm(chain, W, hid_chain, plain)
                gpu.bernoulli_counted_(hid_chain, c, key, counter, draw)
                draw += 1
        if self.pcd:  # both phases in one product; the chain rows also draw the next states
            gpu.gemm(vis, W, hid, plain)
            gpu.hidden_(hid, c, scale, hid_chain, key, counter, draw)
        else:
            gpu.gemm(chain, W, hid[:n_chains], plain)
            gpu.hidden_(hid[:n_chains], c, scale[:n_chains], hid_chain[:0], key, counter, 0)
        velocities = tuple(velocity[name] for name in PARAMETERS)
        gpu.gemm(vis, hid, velocities[0], self.accumulate, trans_a=True)
        gpu.gemm(scale[None], vis, velocities[1][None], self.accumulate)
        gpu.gemm(self.ones[None, :n_rows], hid, velocities[2][None], self.accumulate)
        gpu.apply_velocities_((W, b, c), velocities,
                              settings.learning_rate * settings.weight_decay)
