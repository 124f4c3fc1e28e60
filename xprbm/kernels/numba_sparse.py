"""The hidden field of sparse visible states, for the Numba update.

The hidden field ``vis @ W`` has the visible states as an operand: data rows and the
chains' visible samples, about 13% ones on MNIST (``bench/operand_density.py`` follows them
through training). A dense product multiplies every zero; :func:`row_fields` adds only the
rows of ``W`` that a nonzero state selects, weighted by the state (so grey data work too),
``field[i] = sum_v vis[i, v] * W[v]``, per block of visible units (the block's partial
field). Each sum adds whole rows eight at a time, in the order of the lists (increasing
unit), so results do not depend on the thread count. Lists are built without branches
(:func:`list_nonzero`).

The rows stream from the core's cache at a few FMAs per cycle, where BLAS's register-blocked
kernels reach 20-25, so the sparse field only pays below :data:`FIELD_BELOW` nonzeros. The
other products were measured and left to BLAS (``bench/sparse_field.py``):

- the weight gradient ``vis.T @ hid`` from per-unit lists of rows gathers scattered rows of
  ``hid`` (the probabilities, dense): alone it beat BLAS by 25% at batch 100 (784x256) and
  lost by 14% at batch 1000 (784x1024), and inside the update it slowed the next visible
  stage by more than it saved;
- the chains' visible field ``h @ W.T`` has denser states (hidden units: 20-50% ones) and
  would need a transposed copy of the weights at every update.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numba
import numpy as np

_inline = numba.njit(inline="always")

#: a block's hidden field goes sparse below this fraction of nonzero visible states: the
#: break-even measured on this project's 2-core machine (``bench/sparse_field.py``)
FIELD_BELOW = 0.2


@_inline
def list_nonzero(values, offset, out):
    """Write ``offset + j`` for every nonzero ``values[j]`` into ``out`` (in order); return
    how many. Branch-free: ``out`` needs room for ``len(values)`` entries."""
    n = 0
    for j in range(values.shape[0]):
        out[n] = offset + j
        n += values[j] != 0
    return n


@_inline
def count_nonzero(vis, lo, hi, f_lo, f_hi):
    """Nonzero entries of ``vis[f_lo:f_hi, lo:hi]`` (a vectorised pass, a fifth of the cost
    of listing them)."""
    n = 0
    for i in range(f_lo, f_hi):
        row = vis[i, lo:hi]
        for j in range(hi - lo):
            n += row[j] != 0
    return n


@_inline
def sum_rows(out, M, idx, coef, n):
    """``out[:] = sum_{t < n} coef[t] * M[idx[t]]``, the terms added in order of ``t``,
    eight rows at a time (one pass over ``out`` per eight rows: the rows of ``M`` stream
    from the core's cache, and fewer passes over ``out`` leave them its bandwidth)."""
    m = out.shape[0]
    zero = out.dtype.type(0.0)
    for j in range(m):
        out[j] = zero
    s = 0
    while s + 8 <= n:
        a0, a1, a2, a3 = coef[s], coef[s + 1], coef[s + 2], coef[s + 3]
        a4, a5, a6, a7 = coef[s + 4], coef[s + 5], coef[s + 6], coef[s + 7]
        r0, r1, r2, r3 = M[idx[s]], M[idx[s + 1]], M[idx[s + 2]], M[idx[s + 3]]
        r4, r5, r6, r7 = M[idx[s + 4]], M[idx[s + 5]], M[idx[s + 6]], M[idx[s + 7]]
        for j in range(m):
            out[j] += (((a0 * r0[j] + a1 * r1[j]) + (a2 * r2[j] + a3 * r3[j]))
                       + ((a4 * r4[j] + a5 * r5[j]) + (a6 * r6[j] + a7 * r7[j])))
        s += 8
    while s < n:
        a0, r0 = coef[s], M[idx[s]]
        for j in range(m):
            out[j] += a0 * r0[j]
        s += 1


@_inline
def row_fields(vis, W, lo, hi, f_lo, f_hi, out, units, coef):
    """``out[i] = vis[i, lo:hi] @ W[lo:hi]`` for rows ``f_lo:f_hi``, over the nonzero units
    of each row (``units``, ``coef``: scratch of ``hi - lo`` entries)."""
    for i in range(f_lo, f_hi):
        row = vis[i]
        n = list_nonzero(row[lo:hi], lo, units)
        for s in range(n):
            coef[s] = row[units[s]]
        sum_rows(out[i], W, units, coef, n)


class SparseScratch(NamedTuple):
    """The sparse hidden field's threshold and scratch, for ``P`` blocks of visible units.

    Attributes
    ----------
    below : float
        A block's hidden field goes sparse when its fraction of nonzero visible states is
        below it (0: never).
    units : ndarray of int32, shape (P, n_visible)
        Each block's list of a row's nonzero units.
    coef : ndarray, shape (P, n_visible)
        Their states.
    """

    below: float
    units: np.ndarray
    coef: np.ndarray

    @classmethod
    def allocate(cls, n_visible: int, n_parts: int, dtype: np.dtype) -> SparseScratch:
        """Scratch for ``n_parts`` blocks, with the threshold :data:`FIELD_BELOW` (read
        now)."""
        return cls(float(FIELD_BELOW), np.zeros((n_parts, n_visible), np.int32),
                   np.zeros((n_parts, n_visible), dtype))

    def check(self, n_visible: int, n_parts: int, dtype: np.dtype) -> None:
        """Raise ValueError unless the scratch fits ``n_parts`` blocks of ``n_visible``
        units in all, in ``dtype``."""
        for name, kind in (("units", np.int32), ("coef", dtype)):
            array = getattr(self, name)
            if (array.shape != (n_parts, n_visible) or array.dtype != kind
                    or not array.flags.c_contiguous or not array.flags.writeable):
                raise ValueError(f"sparse scratch {name}: a writable C-contiguous "
                                 f"{(n_parts, n_visible)} array of {np.dtype(kind)} needed; "
                                 f"got {array.shape} {array.dtype}")

    @staticmethod
    @functools.cache
    def unused(dtype: np.dtype) -> SparseScratch:
        """Stand-ins of the right types for an update without the sparse field (one set per
        dtype; the kernel compiles once for both)."""
        return SparseScratch(0.0, np.zeros((0, 0), np.int32), np.zeros((0, 0), dtype))
