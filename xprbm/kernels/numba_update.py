"""One whole CD-k / PCD-k update in one compiled call, split over the CPU's cores.

Each row of the stacked ``[chains; batch]`` matrix goes through the forward part of the update
on its own, so the work is split into blocks of rows, one per thread, in stages separated by
barriers (PCD):

1. each thread gathers its block of batch rows and runs its block of chains through their
   Gibbs steps (its own BLAS calls on its rows, then the fused sigmoid + Bernoulli kernel);
2. each thread takes a block of the stacked rows: one product gives both phases' hidden fields,
   then the probabilities, and the chain rows also draw the next update's hidden states;
3. each thread owns a block of visible units: its product accumulates the weight gradient
   straight into the momentum buffer (gemm with ``beta = momentum``), then adds it to the
   weights; the bias gradients are split the same way.

CD runs its positive phase and the chains' final fields in stage 1 and skips stage 2.

The matrix products call SciPy's BLAS (``scipy.linalg.cython_blas``) from inside the compiled
code, one thread per call: the caller holds BLAS at one thread (threadpoolctl) so that the
only thread pool is Numba's. The number of blocks depends on the cores the process may use
and on the sizes, never on the number of threads, and every sum over rows runs in row order,
so results do not change with the thread count (a block of a product may round differently
from a block of another size, so another core count may change the last bits).

The random draws are those of :mod:`xprbm.kernels.numba_cpu` (element ``i`` of a draw uses
counter ``i``, row-major over the array the draw fills), so the update draws exactly the
uniforms of :func:`xprbm.train.generic_step`.
"""

from __future__ import annotations

import functools
import os

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import get_cython_function_address, intrinsic
from scipy.linalg import cython_blas  # noqa: F401  (loads SciPy's BLAS now, see NumbaStep)

from .numba_cpu import _OPTIONS, _draw_row, _sigmoid, _uniform

_jit_parallel = numba.njit(parallel=True, **_OPTIONS)
#: blocks of rows are at least this tall (smaller products waste the BLAS kernels)
MIN_BLOCK_ROWS = 32
_inline = numba.njit(inline="always")


@intrinsic
def _call_gemm(typingctx, address, flags, sizes, scalars, a, b, c):
    """Call the Fortran ``?gemm`` at ``address``: ``flags`` holds transa, transb; ``sizes``
    m, n, k, lda, ldb, ldc; ``scalars`` alpha, beta; ``a``, ``b``, ``c`` start the matrices.

    The small arrays are arguments, so they stay alive for the whole call; the address is an
    argument, not a global, so the compiled code can be cached on disk.
    """
    sig = types.void(address, flags, sizes, scalars, a, b, c)

    def codegen(context, builder, signature, args):
        address_value = args[0]
        void_pointer = ir.IntType(8).as_pointer()

        def data(index, offset=0):
            array = context.make_array(signature.args[index])(context, builder, args[index])
            return builder.bitcast(builder.gep(array.data, [context.get_constant(
                types.intp, offset)]), void_pointer)

        pointers = [data(1, 0), data(1, 1), data(2, 0), data(2, 1), data(2, 2), data(3, 0),
                    data(4), data(2, 3), data(5), data(2, 4), data(3, 1), data(6), data(2, 5)]
        function_type = ir.FunctionType(ir.VoidType(), [void_pointer] * 13)
        function = builder.inttoptr(address_value, function_type.as_pointer())
        builder.call(function, pointers)
        return context.get_dummy_value()

    return sig, codegen


def n_parts(n_rows: int) -> int:
    """Blocks an update of ``n_rows`` stacked rows is split into: one per core this process
    may run on (not per thread, so that results do not depend on the thread count), each at
    least :data:`MIN_BLOCK_ROWS` rows tall, at least 1."""
    return max(1, min(_available_cores(), n_rows // MIN_BLOCK_ROWS))


@functools.cache
def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def gemm_address(dtype: np.dtype) -> int:
    """Address of SciPy's BLAS ``sgemm`` (float32) or ``dgemm`` (float64)."""
    name = "sgemm" if np.dtype(dtype) == np.float32 else "dgemm"
    return get_cython_function_address("scipy.linalg.cython_blas", name)


_N, _T = ord("N"), ord("T")


@_inline
def _gemm(address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major ``C (m x n) = alpha * op(A) @ op(B) + beta * C`` with op = transpose when
    ``trans_*``; ``a``, ``b``, ``c`` are arrays whose first element starts the matrix.

    Column-major BLAS sees the transposes, so it computes ``C.T = op(B).T @ op(A).T``: the
    operands swap places, and so do their flags and leading dimensions.
    """
    flags = np.empty(2, np.uint8)
    flags[0] = _T if trans_b else _N
    flags[1] = _T if trans_a else _N
    sizes = np.empty(6, np.int32)
    sizes[0], sizes[1], sizes[2] = n, m, k
    sizes[3], sizes[4], sizes[5] = ldb, lda, ldc
    scalars = np.empty(2, c.dtype)
    scalars[0], scalars[1] = alpha, beta
    _call_gemm(address, flags, sizes, scalars, b, a, c)


@_inline
def _rows_times_weights(address, vis, W, out, lo, hi):
    """``out[lo:hi] = vis[lo:hi] @ W``."""
    if hi > lo:
        _gemm(address, False, False, hi - lo, W.shape[1], W.shape[0], 1.0, vis[lo:],
              vis.shape[1], W, W.shape[1], 0.0, out[lo:], out.shape[1])


@_inline
def _rows_times_weights_t(address, hid, W, out, lo, hi):
    """``out[lo:hi] = hid[lo:hi] @ W.T``."""
    if hi > lo:
        _gemm(address, False, True, hi - lo, W.shape[0], W.shape[1], 1.0, hid[lo:],
              hid.shape[1], W, W.shape[1], 0.0, out[lo:], out.shape[1])


@_inline
def _bernoulli_rows(x, bias, base, lo, hi):
    """Rows ``lo:hi`` of ``x``: fields in, samples ``u < sigmoid(x + bias)`` out."""
    for i in range(lo, hi):
        _draw_row(x[i], bias, base, i * x.shape[1])


@_inline
def _scaled_sigmoid_rows(x, bias, scale, lo, hi, samples, sample_offset, draw, base):
    """Rows ``lo:hi`` of ``x``: ``x[i] = scale[i] * p[i]`` with ``p = sigmoid(x + bias)``.

    With ``draw``, row ``i`` with ``0 <= i - sample_offset < len(samples)`` is
    also drawn: ``samples[i - sample_offset] = (u < p[i])``, counters row-major over
    ``samples``.
    """
    n_cols = x.shape[1]
    one = x.dtype.type(1.0)
    for i in range(lo, hi):
        s = scale[i]
        row = x[i]
        r = i - sample_offset
        if draw and 0 <= r < samples.shape[0]:
            out = samples[r]
            for j in range(n_cols):
                p = _sigmoid(row[j] + bias[j])
                out[j] = one if _uniform(base, r * n_cols + j) < p else x.dtype.type(0.0)
                row[j] = s * p
        else:
            for j in range(n_cols):
                row[j] = s * _sigmoid(row[j] + bias[j])


@_inline
def _block(n, n_parts, part):
    """Bounds of block ``part`` of ``n`` items split into ``n_parts`` near-equal blocks."""
    return n * part // n_parts, n * (part + 1) // n_parts


@numba.njit(**_OPTIONS)
def _chain_rows(address, X, rows, vis, hid, hid_chain, W, b, c, scale, bases, pcd, k,
                n_parts, part):
    """Block ``part`` of the batch rows (gathered) and of the chain rows (Gibbs steps).

    CD also runs the positive phase first (its samples start the chains) and the chains'
    final hidden probabilities; PCD leaves both phases' fields to :func:`_stacked_fields`.
    """
    n_chains = hid_chain.shape[0]
    c_lo, c_hi = _block(n_chains, n_parts, part)
    d_lo, d_hi = _block(rows.shape[0], n_parts, part)
    for i in range(d_lo, d_hi):  # gather the batch rows, converted to the model's dtype
        src = X[rows[i]]
        dst = vis[n_chains + i]
        for j in range(src.shape[0]):
            dst[j] = src[j]
    draw = 0
    if not pcd:  # CD: chain row i starts from the hidden sample of batch row i
        _rows_times_weights(address, vis, W, hid, n_chains + d_lo, n_chains + d_hi)
        _scaled_sigmoid_rows(hid, c, scale, n_chains + d_lo, n_chains + d_hi, hid_chain,
                             n_chains, True, bases[0])
        draw = 1
    for step in range(k):
        _rows_times_weights_t(address, hid_chain, W, vis, c_lo, c_hi)
        _bernoulli_rows(vis, b, bases[draw], c_lo, c_hi)
        draw += 1
        if step < k - 1:
            _rows_times_weights(address, vis, W, hid_chain, c_lo, c_hi)
            _bernoulli_rows(hid_chain, c, bases[draw], c_lo, c_hi)
            draw += 1
    if not pcd:
        _rows_times_weights(address, vis, W, hid, c_lo, c_hi)
        _scaled_sigmoid_rows(hid, c, scale, c_lo, c_hi, hid_chain, 0, False, np.uint64(0))


@numba.njit(**_OPTIONS)
def _stacked_fields(address, vis, hid, hid_chain, W, c, scale, base, n_parts, part):
    """PCD, block ``part`` of all ``[chains; batch]`` rows: one product for both phases'
    hidden fields, then probabilities; chain rows also draw the next hidden states."""
    lo, hi = _block(vis.shape[0], n_parts, part)
    _rows_times_weights(address, vis, W, hid, lo, hi)
    _scaled_sigmoid_rows(hid, c, scale, lo, hi, hid_chain, 0, True, base)


@numba.njit(**_OPTIONS)
def _apply_gradient(address, vis, hid, W, b, c, vel_W, vel_b, vel_c, scale, lr, momentum,
                    decay, n_parts, part):
    """Block ``part`` of the visible and hidden units: gradients and momentum steps."""
    n_visible, n_hidden = W.shape
    t = W.dtype.type
    v_lo, v_hi = _block(n_visible, n_parts, part)
    if v_hi > v_lo:  # velocity = m * velocity + lr * vis.T @ hid, straight from gemm
        _gemm(address, True, False, v_hi - v_lo, n_hidden, vis.shape[0], lr, vis[0, v_lo:],
              n_visible, hid, n_hidden, momentum, vel_W[v_lo:], n_hidden)
    decay_step = t(lr * decay)
    for i in range(v_lo, v_hi):
        w_row, v_row = W[i], vel_W[i]
        for j in range(n_hidden):
            v = v_row[j] - decay_step * w_row[j]
            v_row[j] = v
            w_row[j] += v
    _bias_step(vis, scale, True, b, vel_b, v_lo, v_hi, t(lr), t(momentum))
    h_lo, h_hi = _block(n_hidden, n_parts, part)
    # hid already holds the scaled probabilities: the hidden gradient is their column sum
    _bias_step(hid, scale, False, c, vel_c, h_lo, h_hi, t(lr), t(momentum))


@_jit_parallel
def _update(address, X, rows, vis, hid, hid_chain, W, b, c, vel_W, vel_b, vel_c, scale, bases,
            pcd, k, lr, momentum, decay, n_parts):
    for part in numba.prange(n_parts):
        _chain_rows(address, X, rows, vis, hid, hid_chain, W, b, c, scale, bases, pcd, k,
                    n_parts, part)
    if pcd:  # after a barrier: the chains' new visible states are complete
        for part in numba.prange(n_parts):
            _stacked_fields(address, vis, hid, hid_chain, W, c, scale, bases[2 * k - 1],
                            n_parts, part)
    # after a barrier every thread owns a block of visible and of hidden units
    for part in numba.prange(n_parts):
        _apply_gradient(address, vis, hid, W, b, c, vel_W, vel_b, vel_c, scale, lr, momentum,
                        decay, n_parts, part)


@_inline
def _bias_step(x, scale, scaled, bias, velocity, lo, hi, lr, momentum):
    """Momentum step of ``bias[lo:hi]`` with gradient ``sum_i s_i * x[i, lo:hi]``, rows summed
    in order; ``s_i = scale[i]`` when ``scaled``, else 1."""
    grad = np.zeros(hi - lo, x.dtype)
    for i in range(x.shape[0]):
        row = x[i]
        s = scale[i] if scaled else x.dtype.type(1.0)
        for j in range(lo, hi):
            grad[j - lo] += s * row[j]
    for j in range(lo, hi):
        v = momentum * velocity[j] + lr * grad[j - lo]
        velocity[j] = v
        bias[j] += v


def update(X: np.ndarray, rows: np.ndarray, vis: np.ndarray, hid: np.ndarray,
           hid_chain: np.ndarray, params: tuple, velocities: tuple, scale: np.ndarray,
           bases: np.ndarray, pcd: bool, k: int, learning_rate: float, momentum: float,
           weight_decay: float) -> None:
    """One CD-k / PCD-k update with momentum, in place.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible), any layout, any numeric dtype
        Training rows (binary); batches are gathered and converted on the fly.
    rows : ndarray of int64, shape (b,)
    vis : ndarray, shape (C + b, n_visible)
        ``[chains; batch]``: PCD chains live in the first ``C`` rows across updates.
    hid : ndarray, shape (C + b, n_hidden)
        Scratch for the scaled hidden probabilities.
    hid_chain : ndarray, shape (C, n_hidden)
        PCD: hidden states of the chains, drawn at the end of the previous update.
    params, velocities : (W (n_visible, n_hidden), b (n_visible,), c (n_hidden,))
        The weights and their velocity must be C-contiguous: BLAS reads them as such
        (:class:`xprbm.train.NumbaStep` makes sure of it).
    scale : ndarray, shape (C + b,)
        ``-1/C`` for chain rows, ``+1/b`` for batch rows.
    bases : ndarray of uint64
        The update's draw bases, in the order of :func:`xprbm.train.generic_step`.
    pcd : bool
    k : int
    learning_rate, momentum, weight_decay : float
    """
    W, b, c = params
    vel_W, vel_b, vel_c = velocities
    _update(gemm_address(W.dtype), X, rows, vis, hid, hid_chain, W, b, c, vel_W, vel_b, vel_c,
            scale, bases, bool(pcd), int(k), float(learning_rate), float(momentum),
            float(weight_decay), n_parts(vis.shape[0]))
