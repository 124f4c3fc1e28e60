"""The NumPy + Numba update object: stacked scratch buffers around one compiled call
(:func:`xprbm.kernels.numba_update.update`) split over the CPU's cores."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import Backend
from ..rng import CounterRNG
from .buffers import StackedBuffers
from .numba_cpu import readable
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

        from . import numba_update

        super().__init__(backend, dtype, layout)
        self.kernel = numba_update.update
        # blocks of visible units; blocks 1.. keep their partial hidden fields in `partials`
        # (block 0 uses hid)
        self.bounds = numba_update.unit_blocks(layout.n_visible)
        self.partials = np.empty((len(self.bounds) - 2, self.hid.shape[0], layout.n_hidden),
                                 dtype=dtype)

    def __call__(self, X: Any, rows: Any, params: dict[str, Any], velocity: dict[str, Any],
                 chains: dict[str, Any] | None, rng: CounterRNG,
                 settings: UpdateSettings, offsets: None = None) -> None:
        """One update (see :meth:`xprbm.kernels.update.Update.__call__`)."""
        n_batch, n_chains, n_rows = self.sizes(rows.shape[0])
        self.conform(params, velocity, chains)
        hid_chain = chains["hidden"] if self.pcd else self.hid_chain[:n_chains]
        self.kernel(X, rows, self.vis[:n_rows], self.hid[:n_rows], self.partials, self.bounds,
                    hid_chain, tuple(params[name] for name in PARAMETERS),
                    tuple(velocity[name] for name in PARAMETERS),
                    self.row_scale(n_chains, n_batch), draw_bases(rng, settings.k), self.pcd,
                    settings.k, settings.learning_rate, settings.momentum,
                    settings.weight_decay)
        if self.pcd:
            np.copyto(chains["visible"], self.vis[:n_chains])
