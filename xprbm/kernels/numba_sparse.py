"""Products with an operand of sparse states, for the Numba update.

Every product of a PCD update has an operand of states. On MNIST the visible states (the
data rows and the chains' samples) are about 13% ones, and the units of an image's border
are off in most rows (``bench/operand_density.py`` follows the densities through training).
Two kernels here use that, each chosen per block of visible units by the states it meets:

- the hidden field ``vis @ W``: :func:`row_fields` adds only the rows of ``W`` that a
  row's nonzero states select, weighted by the state (so grey data work too), eight rows at
  a time, in the order of the units (so results do not depend on the thread count), when
  the block's states are less than :data:`FIELD_BELOW` nonzero;
- the weight gradient ``vis.T @ hid``: when fewer than :data:`GATHER_BELOW` of the block's
  units are on in some row, :func:`occupied_units` and :func:`gather_units` let BLAS multiply
  only those columns (the others' gradient is zero).

Rows of ``W`` stream from the core's cache at 4-7 multiply-adds per cycle, where BLAS's
register-blocked kernels reach 20-25, so the sparse field pays only below about 20% nonzeros
(``bench/sparse_field.py --density`` reruns the epoch comparison). Three other designs were
measured and left out. The figures in this docstring are single-core timings of throwaway
kernels taken while designing these (the scripts were not kept):

- the weight gradient from per-unit lists of rows gathers scattered rows of ``hid`` (dense
  probabilities): alone it beat BLAS by 25% at batch 100 (784x256) and lost by 14% at batch
  1000 (784x1024), and in the update it slowed the next visible stage by more than it saved
  (its lists pushed the weights out of the cache);
- the chains' visible field ``h @ W.T`` over nonzero hidden states: they are 20-50% ones,
  and a sparse version needs a transposed copy of the weights at every update (its tiled
  transposition alone cost 0.1 ms a block, 60% of the dense product);
- the field in chunks of hidden units, to keep the rows in the first-level cache: slower at
  both shapes than whole rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

_inline = numba.njit(inline="always")

#: a block's hidden field goes sparse below this fraction of nonzero visible states: the
#: break-even measured on this project's 2-core machine (``bench/sparse_field.py``)
FIELD_BELOW = 0.2
#: a block's weight gradient gathers the columns of its units that are on in some row when
#: they are fewer than this fraction of them (``bench/sparse_field.py``)
GATHER_BELOW = 0.9


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


@_inline
def occupied_units(vis, lo, hi, counts, units):
    """``units[:k]`` become the units of ``lo:hi`` (counted from ``lo``) that are nonzero in
    some row of ``vis``; returns ``k`` (``counts``: scratch of ``hi - lo`` entries)."""
    n = hi - lo
    for j in range(n):
        counts[j] = 0
    for i in range(vis.shape[0]):
        row = vis[i, lo:hi]
        for j in range(n):
            counts[j] += row[j] != 0
    k = 0
    for j in range(n):
        units[k] = j
        k += counts[j] != 0
    return k


@_inline
def gather_units(vis, lo, units, k, out):
    """``out[i, :k] = vis[i, lo + units[:k]]`` for every row."""
    for i in range(vis.shape[0]):
        row, dst = vis[i, lo:], out[i]
        for t in range(k):
            dst[t] = row[units[t]]


class SparseScratch(NamedTuple):
    """The sparse products' thresholds and scratch, for ``P`` blocks of visible units, ``R``
    stacked rows and ``n_hidden`` hidden units; ``w`` is the widest block's units rounded up
    to a multiple of 16 (so that no two blocks' rows share a cache line).

    Attributes
    ----------
    field_below : float
        A block's hidden field goes sparse when its fraction of nonzero visible states is
        below it (0: never).
    gather_below : float
        A block's weight gradient multiplies only the units that are on in some row when
        they are fewer than this fraction of its units (0: never).
    units : ndarray of int32, shape (P, n_visible)
        Each block's list of a row's nonzero units.
    coef : ndarray, shape (P, n_visible)
        Their states.
    counts, occupied : ndarray of int64, shape (P, w)
        Each block's rows per unit, and its units that are on in some row.
    gathered : ndarray, shape (P, R, w)
        Each block's columns of those units.
    product : ndarray, shape (P, w, n_hidden)
        Their gradient rows.
    """

    field_below: float
    gather_below: float
    units: np.ndarray
    coef: np.ndarray
    counts: np.ndarray
    occupied: np.ndarray
    gathered: np.ndarray
    product: np.ndarray

    @classmethod
    def allocate(cls, n_rows: int, n_hidden: int, bounds: np.ndarray,
                 dtype: np.dtype) -> SparseScratch:
        """Scratch for updates of up to ``n_rows`` stacked rows over the blocks ``bounds``,
        with the thresholds :data:`FIELD_BELOW` and :data:`GATHER_BELOW` (read now)."""
        n_parts, n_visible, widest = _block_sizes(bounds)
        return cls(float(FIELD_BELOW), float(GATHER_BELOW),
                   np.zeros((n_parts, n_visible), np.int32),
                   np.zeros((n_parts, n_visible), dtype),
                   np.zeros((n_parts, widest), np.int64), np.zeros((n_parts, widest), np.int64),
                   np.zeros((n_parts, n_rows, widest), dtype),
                   np.zeros((n_parts, widest, n_hidden), dtype))

    def check(self, n_rows: int, n_hidden: int, bounds: np.ndarray, dtype: np.dtype) -> None:
        """Raise ValueError unless the scratch fits ``n_rows`` stacked rows, ``n_hidden``
        hidden units and the blocks ``bounds``, in ``dtype``."""
        n_parts, n_visible, widest = _block_sizes(bounds)
        need = {"units": ((n_parts, n_visible), np.int32), "coef": ((n_parts, n_visible), dtype),
                "counts": ((n_parts, widest), np.int64),
                "occupied": ((n_parts, widest), np.int64),
                "gathered": ((n_parts, n_rows, widest), dtype),
                "product": ((n_parts, widest, n_hidden), dtype)}
        for name, (shape, kind) in need.items():
            array = getattr(self, name)
            fits = (array.ndim == len(shape) and array.shape[0] == shape[0]
                    and array.shape[-1] == shape[-1]
                    and all(have >= want for have, want in zip(array.shape, shape, strict=True)))
            if (not fits or array.dtype != kind
                    or not array.flags.c_contiguous or not array.flags.writeable):
                raise ValueError(f"sparse scratch {name}: a writable C-contiguous {shape} "
                                 f"array of {np.dtype(kind)} needed; got {array.shape} "
                                 f"{array.dtype}")


def _block_sizes(bounds: np.ndarray) -> tuple[int, int, int]:
    """Blocks, visible units and the widest block's units rounded up to a multiple of 16."""
    edges = bounds.tolist()
    widest = max(b - a for a, b in zip(edges, edges[1:], strict=False))
    return len(edges) - 1, edges[-1], -(-widest // 16) * 16
