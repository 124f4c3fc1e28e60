"""Numba kernel for exact enumeration: log weights of binary states visited in Gray-code order.

The log weight of a state ``s`` of the smaller layer is ``s·a + Σ_k softplus(f_k(s))`` with
``f(s) = bias + s @ coupling`` (see :func:`xprbm.partition.exact.exact_log_partition`).
Consecutive Gray codes differ in one unit, so each state costs one row addition to ``f``
instead of a product with every unit, and the softplus sum is taken as
``Σ max(f_k, 0) + log Π (1 + exp(-|f_k|))`` with one logarithm per 512 factors instead of one
per unit, and a vectorisable float64 ``exp`` (within 3 ulp of libm's). Everything is
float64; segments of states run in parallel, each starting from a field computed from
scratch, so rounding cannot accumulate over more than ``SEGMENT`` updates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numba
import numpy as np

from .generic import logsumexp_host
from .numba_cpu import bits_to_float

#: states per parallel segment (each starts from a field computed from scratch)
SEGMENT = 2048
#: states whose log weights one call computes (8 bytes each)
BLOCK_STATES = 1 << 20
#: factors 1 + exp(-|f|) lie in (1, 2]: 512 of them stay far below float64 overflow
_FACTORS_PER_LOG = 512
#: reassociation lets LLVM vectorise the sums and products (results move by ~1e-15 relative)
_FASTMATH = {"reassoc", "contract"}

_LOG2E = 1.4426950408889634
# ln 2 split in a part with trailing zero bits and the rest (Cody & Waite range reduction)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# Taylor coefficients of exp(r) for |r| <= ln(2)/2: the 13th term is below 2e-16 relative
_C = tuple(1.0 / math.factorial(k) for k in range(13))


@numba.njit(inline="always")
def _exp_neg(a):
    """``exp(-a)`` for ``a >= 0``; ``a`` is capped at 700 (``exp(-700)`` is ~1e-304)."""
    x = -min(a, 700.0)
    n = math.floor(x * _LOG2E + 0.5)
    r = x - n * _LN2_HI - n * _LN2_LO
    p = _C[12]
    p = p * r + _C[11]
    p = p * r + _C[10]
    p = p * r + _C[9]
    p = p * r + _C[8]
    p = p * r + _C[7]
    p = p * r + _C[6]
    p = p * r + _C[5]
    p = p * r + _C[4]
    p = p * r + _C[3]
    p = p * r + _C[2]
    p = p * r + _C[1]
    p = p * r + _C[0]
    return p * bits_to_float(np.int64((np.int64(n) + np.int64(1023)) << np.int64(52)))


@numba.njit(error_model="numpy", cache=True, nogil=True, fastmath=_FASTMATH)
def _softplus_sum(field):
    """``Σ_k softplus(field_k)`` as ``Σ max(f, 0) + log Π (1 + exp(-|f|))``."""
    positive = 0.0
    logs = 0.0
    n = field.shape[0]
    for start in range(0, n, _FACTORS_PER_LOG):
        product = 1.0
        for k in range(start, min(n, start + _FACTORS_PER_LOG)):
            x = field[k]
            a = abs(x)
            positive += 0.5 * (x + a)
            product *= 1.0 + _exp_neg(a)
        logs += math.log(product)
    return positive + logs


@numba.njit(error_model="numpy", cache=True, nogil=True, parallel=True, fastmath=_FASTMATH)
def _gray_log_weights(first, small_bias, coupling, big_bias, out):
    n_states = out.shape[0]
    n_small, n_big = coupling.shape
    n_segments = (n_states + SEGMENT - 1) // SEGMENT
    for segment in numba.prange(n_segments):
        begin = segment * SEGMENT
        end = min(n_states, begin + SEGMENT)
        index = first + begin
        gray = index ^ (index >> 1)
        field = big_bias.copy()
        linear = 0.0
        for j in range(n_small):
            if (gray >> j) & 1:
                linear += small_bias[j]
                for k in range(n_big):
                    field[k] += coupling[j, k]
        for i in range(begin, end):
            if i > begin:
                index = first + i
                j = 0
                while not (index >> j) & 1:  # gray(index - 1) and gray(index) differ at bit j
                    j += 1
                sign = 1.0 if ((index ^ (index >> 1)) >> j) & 1 else -1.0
                linear += sign * small_bias[j]
                for k in range(n_big):
                    field[k] += sign * coupling[j, k]
            out[i] = linear + _softplus_sum(field)


def gray_log_weights(first: int, small_bias: np.ndarray, coupling: np.ndarray,
                     big_bias: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` with the log weights of the states with Gray codes of ``first + i``.

    Parameters
    ----------
    first : int
        Index of the first state (``0 <= first``, ``first + len(out) <= 2**n_small``).
    small_bias : ndarray, shape (n_small,), float64
    coupling : ndarray, shape (n_small, n_big), float64, C-contiguous
    big_bias : ndarray, shape (n_big,), float64
    out : ndarray, shape (n_states,), float64
        ``out[i] = s·small_bias + Σ_k softplus(big_bias + s @ coupling)_k`` for
        ``s = bits of gray(first + i)``. Gray coding is a bijection of ``[0, 2**n_small)``,
        so the blocks of a full enumeration visit every state exactly once.
    """
    _gray_log_weights(np.int64(first), small_bias, coupling, big_bias, out)


def state_log_sums(small_bias: np.ndarray, coupling: np.ndarray, big_bias: np.ndarray
                   ) -> Iterator[tuple[float, int]]:
    """Log-sum-exp of the log weights of every state, one value per block of
    :data:`BLOCK_STATES` states, with the block's size (see
    :func:`xprbm.kernels.generic.state_log_sums`).

    Parameters
    ----------
    small_bias : ndarray, shape (n_small,), float64
    coupling : ndarray, shape (n_small, n_big), float64
    big_bias : ndarray, shape (n_big,), float64
    """
    coupling = np.ascontiguousarray(coupling)
    total = 1 << int(coupling.shape[0])
    out = np.empty(min(total, BLOCK_STATES))
    for start in range(0, total, out.shape[0]):
        block = out[: min(out.shape[0], total - start)]
        gray_log_weights(start, small_bias, coupling, big_bias, block)
        yield logsumexp_host(np, block), block.shape[0]
