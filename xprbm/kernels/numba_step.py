"""The NumPy + Numba update object: stacked scratch buffers around one compiled call
(:func:`xprbm.kernels.numba_update.update`) split over the CPU's cores."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numba
import numpy as np

from ..backend import Backend
from ..rng import CounterRNG
from . import numba_cpu, numba_sparse, numba_update
from .buffers import StackedBuffers
from .numba_cpu import readable
from .threads import ThreadGovernor
from .update import PARAMETERS, UpdateLayout, UpdateSettings, draw_bases


class NumbaUpdate(StackedBuffers):
    """The whole CD-k / PCD-k update in one compiled call over Numba's threads.

    It gathers each batch from the training data in the data's own dtype (uint8 and bool
    rows stay 4x smaller than float32), and runs its products through SciPy's BLAS on one
    thread each, inside its own thread pool: the training loop holds every BLAS at one
    thread meanwhile (:meth:`blas_threads`), so that only Numba's threads compete for cores.

    Parameters
    ----------
    backend : Backend
        NumPy.
    dtype : dtype of the model
    layout : UpdateLayout

    Raises
    ------
    ImportError
        SciPy's BLAS or threadpoolctl cannot be imported (the caller falls back).
    """

    single_thread_blas = True

    def reads_data_of(self, dtype: Any) -> bool:
        """uint8 and bool rows stay 4x smaller than float32; float16, long double and
        byte-swapped data are converted first (Numba compiles none of them)."""
        return readable(dtype)

    def __init__(self, backend: Backend, dtype: Any, layout: UpdateLayout) -> None:
        import threadpoolctl  # noqa: F401  (holds the BLAS at one thread during the run)

        super().__init__(backend, dtype, layout)
        self.kernel = numba_update.update
        # blocks of visible units; blocks 1.. keep their partial hidden fields in `partials`
        # (block 0 uses hid)
        self.bounds = numba_update.unit_blocks(layout.n_visible)
        self.partials = np.empty((len(self.bounds) - 2, self.hid.shape[0], layout.n_hidden),
                                 dtype=dtype)
        rows = self.vis.shape[0]
        self.threads = ThreadGovernor(rows * layout.n_visible * layout.n_hidden,
                                      numba.get_num_threads, numba.set_num_threads)
        self.prepared: set[tuple] = set()  # kinds of data prepare() has compiled for
        self.sparse = numba_sparse.SparseScratch.allocate(rows, layout.n_hidden, self.bounds,
                                                          dtype)
        self.centring_scratch = None
        if layout.centered:  # grad_c, scratch, partial_c of numba_update.Centring
            self.centring_scratch = (
                np.empty(layout.n_hidden, dtype),
                np.empty((layout.n_visible, layout.n_hidden), dtype),
                np.empty((len(self.bounds) - 1, layout.n_hidden), dtype))

    def prepare(self, X: Any) -> None:
        """Compile the update for data like ``X`` by one throwaway update of a
        one-hidden-unit model on one row (once per kind of data and update object).

        A plain NumPy array (or memmap) of a dtype the update reads is used as it is (its
        dtype, memory layout and writability pick the compiled version); data read block by
        block (Dask, zarr) arrive as C-ordered blocks of their dtype; anything else is
        converted to the model's dtype.
        """
        layout = self.layout
        kind = numba_cpu.array_kind(X)
        if kind is not None:
            if X.shape[0] == 0 or X.shape[1] != layout.n_visible:
                return  # refused by the input checks before any update
        else:
            dtype = getattr(X, "dtype", None)
            gathered = isinstance(dtype, np.dtype) and self.reads_data_of(dtype)
            X = np.zeros((1, layout.n_visible), dtype if gathered else self.dtype)
            kind = numba_cpu.array_kind(X)
        if kind in self.prepared:
            return
        tiny = NumbaUpdate(self.backend, self.dtype, replace(
            layout, n_hidden=1, batch_size=1, n_chains=1))
        params = {"weights": np.zeros((layout.n_visible, 1), self.dtype),
                  "visible_bias": np.zeros(layout.n_visible, self.dtype),
                  "hidden_bias": np.zeros(1, self.dtype)}
        velocity = {name: np.zeros_like(value) for name, value in params.items()}
        chains = {"visible": np.zeros((1, layout.n_visible), self.dtype),
                  "hidden": np.zeros((1, 1), self.dtype)} if tiny.pcd else None
        offsets = {"visible": np.zeros(layout.n_visible, self.dtype),
                   "hidden": np.zeros(1, self.dtype)} if layout.centered else None
        tiny(X, np.zeros(1, np.int64), params, velocity, chains, CounterRNG(key=0),
             UpdateSettings(k=1, learning_rate=0.0, momentum=0.0, weight_decay=0.0), offsets)
        self.prepared.add(kind)

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: dict[str, Any] | None = None) -> None:
        """One update (see :meth:`xprbm.kernels.update.Update.__call__`); the centring
        offsets move in place."""
        n_batch, n_chains, n_rows = self.sizes(rows.shape[0])
        self.conform(params, velocity, chains, offsets)
        centring = None
        if self.centring_scratch is not None:
            centring = numba_update.Centring(offsets["visible"], offsets["hidden"],
                                             settings.offset_rate, *self.centring_scratch)
        hid_chain = chains["hidden"] if self.pcd else self.hid_chain[:n_chains]
        with self.threads.call():
            self.kernel(X, rows, self.vis[:n_rows], self.hid[:n_rows], self.partials,
                        self.bounds, hid_chain, tuple(params[name] for name in PARAMETERS),
                        tuple(velocity[name] for name in PARAMETERS),
                        self.row_scale(n_chains, n_batch), draw_bases(rng, settings.k),
                        self.pcd, settings.k, settings.learning_rate, settings.momentum,
                        settings.weight_decay, centring, self.sparse)
        if self.pcd:
            np.copyto(chains["visible"], self.vis[:n_chains])
