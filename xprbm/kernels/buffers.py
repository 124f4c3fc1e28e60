"""Scratch buffers shared by the fast updates: the batch stacked under the chains.

One product then serves both phases of an update: ``vis`` holds ``[chains; batch]`` rows of
visible states and ``hid`` their hidden fields (later the scaled hidden probabilities). The
buffers are scratch: the chains that survive an update are the caller's arrays, written
back at its end.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import Backend
from .update import PARAMETERS, Update, UpdateLayout


class StackedBuffers(Update):
    """Preallocated ``[chains; batch]`` buffers and the helpers of the fast updates.

    Parameters
    ----------
    backend : Backend
    dtype : dtype of the model
    layout : UpdateLayout

    Attributes
    ----------
    vis : array, shape (C + b, n_visible)
    hid : array, shape (C + b, n_hidden)
    hid_chain : array, shape (b, n_hidden)
        CD's chain hidden states (PCD's are the caller's ``chains["hidden"]``).
    """

    def __init__(self, backend: Backend, dtype: Any, layout: UpdateLayout) -> None:
        super().__init__(backend, layout)
        self.dtype = dtype
        xp = backend.xp
        self.pcd = layout.method == "pcd"
        self.n_chains = layout.n_chains if self.pcd else layout.batch_size
        rows = self.n_chains + layout.batch_size
        self.vis = xp.empty((rows, layout.n_visible), dtype=dtype)
        self.hid = xp.empty((rows, layout.n_hidden), dtype=dtype)
        self.hid_chain = xp.empty((0 if self.pcd else layout.batch_size, layout.n_hidden),
                                  dtype=dtype)
        self._row_scales: dict[int, Any] = {}

    def sizes(self, n_batch: int) -> tuple[int, int, int]:
        """``(n_batch, n_chains, n_rows)`` of an update on ``n_batch`` rows (CD: one chain per
        batch row; the last batch may be short, never longer)."""
        if not 1 <= n_batch <= self.layout.batch_size:
            raise ValueError(f"an update takes 1 to batch_size={self.layout.batch_size} "
                             f"rows; got {n_batch}")
        n_chains = self.n_chains if self.pcd else n_batch
        return n_batch, n_chains, n_chains + n_batch

    def row_scale(self, n_chains: int, n_batch: int) -> Any:
        """``[-1/C] * C + [1/b] * b`` on the device (cached per batch size)."""
        if n_batch not in self._row_scales:
            scale = np.concatenate([np.full(n_chains, -1.0 / n_chains),
                                    np.full(n_batch, 1.0 / n_batch)])
            self._row_scales[n_batch] = self.backend.asarray(scale, dtype=self.dtype)
        return self._row_scales[n_batch]

    def conform(self, params: dict[str, Any], velocity: dict[str, Any],
                chains: dict[str, Any] | None, offsets: dict[str, Any] | None = None) -> None:
        """Rebind every array in the dicts to a C-contiguous array of the model's dtype.

        The fast updates hand raw memory to BLAS and to compiled kernels as C-ordered,
        writable arrays of one dtype, and a user may have assigned a Fortran-ordered,
        transposed, read-only or float64 array. Arrays that already fit are kept (no copy).

        Raises
        ------
        ValueError
            An array of the wrong shape.
        """
        layout = self.layout
        shapes = {"weights": (layout.n_visible, layout.n_hidden),
                  "visible_bias": (layout.n_visible,), "hidden_bias": (layout.n_hidden,)}
        owners = [(params, name, name, shapes[name]) for name in PARAMETERS]
        owners += [(velocity, name, f"velocity of {name}", shapes[name]) for name in PARAMETERS]
        if chains is not None:
            owners += [(chains, "visible", "visible chains", (self.n_chains, layout.n_visible)),
                       (chains, "hidden", "hidden chains", (self.n_chains, layout.n_hidden))]
        if offsets is not None:
            owners += [(offsets, "visible", "visible offsets", (layout.n_visible,)),
                       (offsets, "hidden", "hidden offsets", (layout.n_hidden,))]
        for owner, key, label, shape in owners:
            array = owner[key]
            if tuple(array.shape) != shape:
                raise ValueError(f"{label} has shape {tuple(array.shape)}; the model needs "
                                 f"{shape}")
            if (not array.flags.c_contiguous or array.dtype != self.dtype
                    or not array.flags.writeable):  # the update writes them in place
                owner[key] = self.backend.xp.array(array, dtype=self.dtype, order="C")
