"""Numba CPU kernels: fused sigmoid + Bernoulli draws, uniforms and input checks.

Each element's random number is ``splitmix64(base + (i + 1) * GOLDEN)`` with ``i`` its
row-major index (see :mod:`xprbm.rng`), so results do not depend on how rows are split
among threads. Compiled on first use (``cache=True`` keeps the machine code between runs, in
the per-user cache directory: :mod:`xprbm.kernels.numba_cache`).

The training update itself lives in :mod:`xprbm.kernels.numba_update`, which inlines the
sigmoid, exp and uniform helpers defined here. Sampling many chains at once (``RBM.sample``)
uses row-parallel versions above ``PARALLEL_MIN_ELEMENTS`` elements.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.core.extending import intrinsic

from ..rng import GOLDEN, MIX1, MIX2, UNIFORM_SCALE
from . import numba_cache

numba_cache.install()  # before the first cache=True below: kernels cache per user

_GOLDEN = np.uint64(GOLDEN)
_MIX1 = np.uint64(MIX1)
_MIX2 = np.uint64(MIX2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S40 = np.uint64(40)
_ONE = np.uint64(1)

# error_model="numpy" drops Python's zero-division checks, which block vectorisation;
# "contract" lets LLVM fuse a * b + c into one FMA (the exp polynomial, the momentum step)
_OPTIONS = dict(error_model="numpy", cache=True, nogil=True, fastmath={"contract"})
_jit = numba.njit(**_OPTIONS)
_jit_parallel = numba.njit(parallel=True, **_OPTIONS)
#: arrays at least this large use the row-parallel kernels
PARALLEL_MIN_ELEMENTS = 1 << 20


@numba.njit(inline="always")
def _uniform(base, index):
    z = np.uint64(base) + (np.uint64(index) + _ONE) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float32(z >> _S40) * np.float32(UNIFORM_SCALE)


@intrinsic
def bits_to_float(typingctx, bits):
    """Reinterpret the bits of an int32 / int64 as a float32 / float64 (builds ``2**n``
    without a libm call, so loops around ``exp`` vectorise)."""
    target = types.float32 if bits.bitwidth == 32 else types.float64
    sig = target(bits)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return sig, codegen


_LOG2E = np.float32(1.4426950408889634)
# Taylor coefficients of 2**f = exp(f ln 2) for |f| <= 1/2 (truncation error < 1e-8)
_C = tuple(np.float32(np.log(2.0) ** k / np.prod(np.arange(1, k + 1))) for k in range(8))


@numba.njit(inline="always")
def _exp(x):
    """float32 exp for x in [-88, 88], within a few ulp, written so loops vectorise."""
    t = np.float32(x) * _LOG2E
    n = np.floor(t + np.float32(0.5))
    f = t - n
    p = _C[7]
    p = p * f + _C[6]
    p = p * f + _C[5]
    p = p * f + _C[4]
    p = p * f + _C[3]
    p = p * f + _C[2]
    p = p * f + _C[1]
    p = p * f + _C[0]
    return p * bits_to_float(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))


@numba.njit(inline="always")
def _sigmoid(x):
    x = min(max(x, np.float32(-88.0)), np.float32(88.0))
    return np.float32(1.0) / (np.float32(1.0) + _exp(-x))


def _uniform_rows(base, out):
    n_rows, n_cols = out.shape
    for i in numba.prange(n_rows):
        for j in range(n_cols):
            out[i, j] = _uniform(base, i * n_cols + j)


@numba.njit(inline="always")
def _draw_row(row, bias, base, first):
    """In place: ``row[j] = (u < sigmoid(row[j] + bias[j]))`` with the uniform of counter
    ``first + j`` (``first`` = the row's first row-major index in the drawn array)."""
    one = row.dtype.type(1.0)
    for j in range(row.shape[0]):
        t = min(max(row[j] + bias[j], np.float32(-88.0)), np.float32(88.0))
        u = _uniform(base, first + j)
        # u < 1 / (1 + e) without the division
        row[j] = one if u + u * _exp(-t) < one else row.dtype.type(0.0)


def _bernoulli_rows(x, bias, base):
    n_cols = x.shape[1]
    for i in numba.prange(x.shape[0]):
        _draw_row(x[i], bias, base, i * n_cols)


_uniform_serial, _uniform_parallel = _jit(_uniform_rows), _jit_parallel(_uniform_rows)
_bernoulli_serial, _bernoulli_parallel = _jit(_bernoulli_rows), _jit_parallel(_bernoulli_rows)


def uniform(base: np.uint64, out: np.ndarray) -> None:
    """Fill the 2-D array ``out`` with the counter-based uniforms of draw ``base``."""
    kernel = _uniform_parallel if out.size >= PARALLEL_MIN_ELEMENTS else _uniform_serial
    kernel(base, out)


def bernoulli_(x: np.ndarray, bias: np.ndarray, base: np.uint64) -> None:
    """In place: ``x = (u < sigmoid(x + bias))`` as 0/1 floats.

    Parameters
    ----------
    x : ndarray, shape (n_rows, n_units), C-contiguous
        Fields on entry, samples on exit.
    bias : ndarray, shape (n_units,)
    base : uint64
        Draw base; element ``i`` (row-major) uses counter ``i``.
    """
    kernel = _bernoulli_parallel if x.size >= PARALLEL_MIN_ELEMENTS else _bernoulli_serial
    kernel(x, bias, base)


def _count_invalid_rows(x, binary):
    n_invalid = 0
    for i in numba.prange(x.shape[0]):
        row = x[i]
        bad = 0
        for j in range(row.shape[0]):
            value = row[j]
            if binary:  # v * (1 - v) is 0 for 0 and 1 only; NaN and inf give non-zero
                bad += value * (1 - value) != 0
            else:  # comparisons with NaN are False
                bad += not (value >= 0 and value <= 1)
        n_invalid += bad
    return n_invalid


_count_invalid_serial = _jit(_count_invalid_rows)
_count_invalid_parallel = _jit_parallel(_count_invalid_rows)


#: the dtypes the compiled kernels read (in native byte order)
READABLE_DTYPES = tuple(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float32, np.float64))


def readable(dtype: object) -> bool:
    """Whether the compiled kernels read arrays of ``dtype`` (float16, long double and
    byte-swapped arrays are not compiled)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        return False
    return dtype in READABLE_DTYPES and dtype.isnative


def count_invalid(x: np.ndarray, binary: bool) -> int | None:
    """Number of entries of the 2-D array ``x`` that are not 0/1 (``binary``) or in [0, 1],
    or None for a dtype the kernels do not read.

    NaN and infinities count as invalid. One vectorised pass, parallel over rows for large
    arrays.
    """
    if not readable(x.dtype):
        return None
    large = x.size >= PARALLEL_MIN_ELEMENTS
    return int((_count_invalid_parallel if large else _count_invalid_serial)(x, binary))


def warm_up(X: object, model_dtype: object) -> None:
    """Compile (or load from the cache) the serial and row-parallel kernels that training and
    sampling call: the uniforms and the Bernoulli draws for ``model_dtype``, and the input
    check for what it may see: ``X`` as it is (when ``X`` is a plain 2-D NumPy array or memmap
    of a dtype Numba reads), ``X`` converted to the model's dtype (``astype`` keeps a Fortran
    layout), and C-ordered rows of the model's dtype. Each kind of array is compiled once per
    process; later calls return at once."""
    key = (np.dtype(model_dtype), array_kind(X))
    if key in _WARM:
        return
    field = np.zeros((1, 1), model_dtype)
    for kernel in (_uniform_serial, _uniform_parallel):
        kernel(np.uint64(0), field)
    for kernel in (_bernoulli_serial, _bernoulli_parallel):
        kernel(field, np.zeros(1, model_dtype), np.uint64(0))
    checked = [field]
    if key[1] is not None:
        checked += [tiny_like(X), tiny_like(X).astype(model_dtype)]
    for x in checked:
        for kernel in (_count_invalid_serial, _count_invalid_parallel):
            kernel(x, True)
    _WARM.add(key)


#: what :func:`warm_up` has compiled in this process
_WARM: set[tuple] = set()


def array_kind(X: object) -> tuple | None:
    """``(dtype, Numba layout, writable)`` of a plain 2-D NumPy array or memmap of a dtype the
    kernels read (what decides which compiled version a call on it runs); None for anything
    else (lists, masked arrays, Dask or zarr arrays: they are converted first)."""
    if type(X) not in (np.ndarray, np.memmap) or X.ndim != 2 or not readable(X.dtype):
        return None
    return X.dtype, numba.typeof(X).layout, bool(X.flags.writeable)


def tiny_like(X: np.ndarray, columns: int = 2) -> np.ndarray:
    """Zeros of shape (2, ``columns``) with the dtype, the Numba layout ("C", "F" or "A") and
    the writability of the 2-D array ``X``: a call on them compiles what a call on ``X``
    would."""
    layout = numba.typeof(X).layout
    if layout == "A":
        tiny = np.zeros((2, 2 * columns), X.dtype)[:, ::2]
    else:
        tiny = np.zeros((2, columns), X.dtype, order="F" if layout == "F" else "C")
    tiny.flags.writeable = bool(X.flags.writeable)
    return tiny
