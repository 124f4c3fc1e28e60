"""One whole CD-k / PCD-k update in one compiled call, split over the CPU's cores.

The visible units are split into blocks, one per core (see :func:`unit_blocks`), and block
``p`` is always run by iteration ``p`` of each parallel loop: it alone reads and writes its
rows of the weights and of their velocity. Numba's threads are not pinned, but in practice a
thread stays on its core, so those rows stay in one core's cache. That is the point: the
weights change at every update, and a core reading memory that another core has just written
waits for cache-to-cache transfers, far slower than reading its own cache
(``bench/cross_core_writes.py`` measures both). Splitting the products by batch rows instead
would have every core read all the weights after every update.

One Gibbs step (hidden states -> visible draws -> hidden field) is two parallel loops,
separated by a barrier:

1. visible stage, per block of visible units: at PCD's first step, the gather of the batch
   rows' units; the chains' visible field for the block (``hid_chain @ W[block].T``: all
   hidden units, so no sum across blocks) and its Bernoulli draws; then the block's share of
   the hidden field, ``vis[:, block] @ W[block]``: a partial sum over the block's visible
   units, into a buffer of its own. When the block's states are sparse enough, that product
   adds only the rows of ``W`` that nonzero states select (:mod:`.numba_sparse`);
2. hidden stage, per block of rows: the partial sums are added in block order (so the result
   does not depend on which thread ran which block), then the sigmoid and the draws.

CD runs one more pair of stages first, for the batch's own hidden field (which starts the
chains). At the last step the hidden field covers the stacked ``[chains; batch]`` rows, both
phases in one product (PCD). The gradient stage then runs per block of visible units again:
its product accumulates the weight gradient straight into the momentum buffer (gemm with
``beta = momentum``), then the momentum step moves the weights. When many of the block's
units are off in every row (an image's border), BLAS multiplies only the columns of the
others, gathered, and the momentum step adds their rows (:func:`_gathered_product`). The
bias gradients are split the same way (hidden units in plain blocks). What crosses between
cores is the hidden side (partial fields, scaled probabilities, chain states: a few
``rows x n_hidden`` arrays) instead of the weights: less at batch 100, more at batch 1000,
and PCD-k with k > 1 pays two barriers and one sum of partials per Gibbs step
(``bench/results`` has the figures).

Centred training (``centered``) runs another gradient stage. The centred weight gradient is
a rank-two correction of the plain one, ``G' = G - mu g_cᵀ - g_b lamᵀ``, because the rows'
scales sum to zero (:func:`xprbm.kernels.generic.gradient_step` has the algebra). Before the
stage, the calling thread sums the hidden side once: ``g_c`` and the batch's mean
probabilities, which move the hidden offsets ``lam``. Each block of visible units then moves
its own visible offsets ``mu``, lets BLAS write ``lr * vis.T @ hid`` into a scratch buffer
(the plain update folds it into the velocity), and applies the correction, the decay and the
momentum step in one pass. That pass also gives the visible-bias correction ``step @ lam``
and the block's share of ``mu @ step`` for the hidden bias, which the calling thread adds up
in block order afterwards.

The matrix products call SciPy's BLAS (``scipy.linalg.cython_blas``) from inside the compiled
code, one thread per call: the caller holds BLAS at one thread (threadpoolctl) so that the
only thread pool is Numba's. The blocks depend on the cores the process may use and on the
sizes, never on the number of threads, and every sum runs in a fixed order, so results do not
change with the thread count (another core count splits the sums differently and may change
the last bits).

The random draws are those of :mod:`xprbm.kernels.numba_cpu` (element ``i`` of a draw uses
counter ``i``, row-major over the array the draw fills), so the update draws exactly the
uniforms of :func:`xprbm.kernels.generic.update`.

The elementwise loops run over row slices from index 0 (``x[i, lo:hi]``), not over
``range(lo, hi)`` of whole rows: LLVM vectorises the former inside the parallel loops, and
left the latter scalar.
"""

from __future__ import annotations

import functools
import os
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import get_cython_function_address, intrinsic
from scipy.linalg import cython_blas  # noqa: F401  (loads SciPy's BLAS now, see NumbaUpdate)

from .numba_cpu import _OPTIONS, _draw_row, _sigmoid, _uniform
from .numba_sparse import SparseScratch, count_nonzero, gather_units, occupied_units, row_fields

_jit_parallel = numba.njit(parallel=True, **_OPTIONS)
#: the centred stage's row dot products vectorise only when LLVM may reorder their sums (the
#: order is still fixed at compile time: results do not depend on the thread count)
_REORDERING = dict(_OPTIONS, fastmath={"contract", "reassoc"})
#: each core owns at least this many visible units (thinner products waste the BLAS kernels)
MIN_BLOCK_UNITS = 64
#: inner block bounds are multiples of this many units (a 64-byte cache line of float32, when
#: the rows themselves start on cache lines, as 784-unit rows of float32 do)
UNIT_ALIGN = 16
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


def n_parts(n_visible: int) -> int:
    """Blocks of visible units an update is split into: one per core this process may run on
    (not per thread, so that results do not depend on the thread count), each at least
    :data:`MIN_BLOCK_UNITS` units wide, at least 1."""
    return max(1, min(_available_cores(), n_visible // MIN_BLOCK_UNITS))


def unit_blocks(n_visible: int) -> np.ndarray:
    """Bounds of the blocks of visible units: block ``p`` is ``bounds[p]:bounds[p + 1]``.

    :func:`n_parts` blocks, inner bounds rounded down to multiples of :data:`UNIT_ALIGN`,
    empty blocks dropped (every block owns at least one unit).

    Returns
    -------
    ndarray of int64, shape (n_blocks + 1,)
        Increasing, from 0 to ``n_visible``.
    """
    parts = n_parts(n_visible)
    inner = [n_visible * p // parts // UNIT_ALIGN * UNIT_ALIGN for p in range(1, parts)]
    return np.unique(np.array([0, *inner, n_visible], dtype=np.int64))


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
def _block(n, n_parts, part):
    """Bounds of block ``part`` of ``n`` items split into ``n_parts`` near-equal blocks."""
    return n * part // n_parts, n * (part + 1) // n_parts


@_inline
def _partial_field(hid, partials, part):
    """Where block ``part`` writes its partial hidden field: ``hid`` itself for block 0."""
    return hid if part == 0 else partials[part - 1]


@numba.njit(**_OPTIONS)
def _visible_stage(address, X, rows, vis, hid, partials, hid_chain, W, b, base, gather,
                   chain_step, f_lo, f_hi, bounds, part, sparse):
    """Block ``part`` of the visible units: with ``gather``, copy the batch rows' units (in the
    model's dtype); with ``chain_step``, the chains' visible field and Bernoulli draws
    (``base``); then the block's partial hidden field of the stacked rows ``f_lo:f_hi``, over
    their nonzero units only when they are sparse enough."""
    n_chains = hid_chain.shape[0]
    n_visible, n_hidden = W.shape
    lo, hi = bounds[part], bounds[part + 1]
    if gather:
        for i in range(rows.shape[0]):
            src = X[rows[i], lo:hi]
            dst = vis[n_chains + i, lo:hi]
            for j in range(hi - lo):
                dst[j] = src[j]
    if chain_step:  # vis[:C, lo:hi] = hid_chain @ W[lo:hi].T, then the draws
        _gemm(address, False, True, n_chains, hi - lo, n_hidden, 1.0, hid_chain, n_hidden,
              W[lo:], n_hidden, 0.0, vis[0, lo:], n_visible)
        bias = b[lo:hi]
        for i in range(n_chains):
            _draw_row(vis[i, lo:hi], bias, base, i * n_visible + lo)
    if f_hi <= f_lo:
        return
    # out[f_lo:f_hi] = vis[f_lo:f_hi, lo:hi] @ W[lo:hi]
    out = _partial_field(hid, partials, part)
    if (sparse.field_below > 0.0 and count_nonzero(vis, lo, hi, f_lo, f_hi)
            < sparse.field_below * (f_hi - f_lo) * (hi - lo)):
        row_fields(vis, W, lo, hi, f_lo, f_hi, out, sparse.units[part], sparse.coef[part])
        return
    _gemm(address, False, False, f_hi - f_lo, n_hidden, hi - lo, 1.0, vis[f_lo, lo:],
          n_visible, W[lo:], n_hidden, 0.0, out[f_lo:], n_hidden)


@numba.njit(**_OPTIONS)
def _hidden_stage(hid, partials, hid_chain, c, scale, base, f_lo, n_drawn, f_hi, last,
                  n_parts, part):
    """Block ``part`` of the stacked rows ``f_lo:f_hi``: the hidden field (the partial sums in
    block order, then ``c``), then

    - rows ``f_lo:f_lo + n_drawn`` draw ``hid_chain[i - f_lo]`` (counters row-major there);
    - at the ``last`` step, every row becomes ``hid[i] = scale[i] * sigmoid(field)`` (rows
      that draw nothing only occur there).

    The drawn rows and the others are split into blocks separately, so that every block
    draws its share.
    """
    d_lo, d_hi = _block(n_drawn, n_parts, part)
    o_lo, o_hi = _block(f_hi - f_lo - n_drawn, n_parts, part)
    for i in range(f_lo + d_lo, f_lo + d_hi):
        row, out = _summed_field(hid, partials, i), hid_chain[i - f_lo]
        first = (i - f_lo) * c.shape[0]
        if last:  # the draw uses the probability it keeps
            one, zero, s = row.dtype.type(1.0), row.dtype.type(0.0), scale[i]
            for j in range(row.shape[0]):
                p = _sigmoid(row[j] + c[j])
                out[j] = one if _uniform(base, first + j) < p else zero
                row[j] = s * p
        else:
            for j in range(row.shape[0]):
                out[j] = row[j]
            _draw_row(out, c, base, first)
    for i in range(f_lo + n_drawn + o_lo, f_lo + n_drawn + o_hi):
        row, s = _summed_field(hid, partials, i), scale[i]
        for j in range(row.shape[0]):
            row[j] = s * _sigmoid(row[j] + c[j])


@_inline
def _summed_field(hid, partials, i):
    """``hid[i] += partials[q, i]`` for every block ``q`` in order; returns ``hid[i]``."""
    row = hid[i]
    for q in range(partials.shape[0]):
        other = partials[q, i]
        for j in range(row.shape[0]):
            row[j] += other[j]
    return row


@_inline
def _gathered_product(address, vis, hid, lo, hi, alpha, sparse, part):
    """When few enough units of ``lo:hi`` are on in some row (the image's border is off on
    MNIST), ``sparse.product[part][:k] = alpha * vis[:, units].T @ hid`` for those ``k``
    units (``sparse.occupied[part][:k]``, counted from ``lo``): the other units' rows of
    the product are zero. Returns ``k``, or -1 when the block is too full to gain by it."""
    if sparse.gather_below <= 0.0:
        return -1
    occupied = sparse.occupied[part]
    k = occupied_units(vis, lo, hi, sparse.counts[part], occupied)
    if k >= sparse.gather_below * (hi - lo):
        return -1
    gathered, product = sparse.gathered[part], sparse.product[part]
    gather_units(vis, lo, occupied, k, gathered)
    n_rows, n_hidden = hid.shape
    if k > 0:
        _gemm(address, True, False, k, n_hidden, n_rows, alpha, gathered[0],
              gathered.shape[1], hid, n_hidden, 0.0, product[0], n_hidden)
    return k


@_inline
def _scatter_rows(target, lo, n, product, occupied, k):
    """``target[lo + occupied[s]] = product[s]`` for ``s < k``; the other rows of
    ``lo:lo + n`` become zero."""
    zero = target.dtype.type(0.0)
    s = 0
    for i in range(n):
        row = target[lo + i]
        if s < k and occupied[s] == i:
            add = product[s]
            s += 1
            for j in range(row.shape[0]):
                row[j] = add[j]
        else:
            for j in range(row.shape[0]):
                row[j] = zero


@numba.njit(**_OPTIONS)
def _gradient_stage(address, vis, hid, W, b, c, vel_W, vel_b, vel_c, scale, lr, momentum,
                    decay, bounds, part, sparse):
    """Block ``part`` of the visible units (and of the hidden units, for their bias): the
    gradients and momentum steps."""
    n_visible, n_hidden = W.shape
    t = W.dtype.type
    lo, hi = bounds[part], bounds[part + 1]
    decay_step, m = t(lr * decay), t(momentum)
    k = _gathered_product(address, vis, hid, lo, hi, lr, sparse, part)
    if k < 0:  # velocity = m * velocity + lr * vis.T @ hid, straight from gemm
        _gemm(address, True, False, hi - lo, n_hidden, vis.shape[0], lr, vis[0, lo:],
              n_visible, hid, n_hidden, momentum, vel_W[lo:], n_hidden)
    kept = t(1.0) if k < 0 else m  # gemm has already applied the momentum
    occupied, product = sparse.occupied[part], sparse.product[part]
    s = 0  # with k < 0 no row is a row of the gathered product
    for i in range(lo, hi):
        w_row, v_row = W[i], vel_W[i]
        if s < k and occupied[s] == i - lo:  # a row of the gathered product
            add = product[s]
            s += 1
            for j in range(n_hidden):
                v = kept * v_row[j] + add[j] - decay_step * w_row[j]
                v_row[j] = v
                w_row[j] += v
        else:  # the dense product's row, or a unit off in every row (no gradient)
            for j in range(n_hidden):
                v = kept * v_row[j] - decay_step * w_row[j]
                v_row[j] = v
                w_row[j] += v
    _momentum_step(b[lo:hi], vel_b[lo:hi], _visible_step(vis, scale, lo, hi, lr)[0],
                   t(momentum))
    h_lo, h_hi = _block(n_hidden, bounds.shape[0] - 1, part)
    # hid already holds the scaled probabilities: the hidden gradient is their column sum
    _hidden_bias_step(hid, c, vel_c, h_lo, h_hi, t(lr), t(momentum))


@_inline
def _hidden_bias_step(hid, bias, velocity, lo, hi, lr, momentum):
    """Momentum step of ``bias[lo:hi]`` on the gradient ``sum_i hid[i, lo:hi]`` (rows summed
    in order; ``hid`` holds the scaled probabilities)."""
    grad = np.zeros(hi - lo, hid.dtype)
    for i in range(hid.shape[0]):
        row = hid[i, lo:hi]
        for j in range(hi - lo):
            grad[j] += row[j]
    for j in range(hi - lo):
        grad[j] *= lr
    _momentum_step(bias[lo:hi], velocity[lo:hi], grad, momentum)


@_inline
def _momentum_step(bias, velocity, step, momentum):
    """``velocity = momentum * velocity + step; bias += velocity``, elementwise."""
    for j in range(bias.shape[0]):
        v = momentum * velocity[j] + step[j]
        velocity[j] = v
        bias[j] += v


@_inline
def _visible_step(vis, scale, lo, hi, lr):
    """``lr`` times the visible-bias gradient of units ``lo:hi``,
    ``lr * sum_i scale[i] * vis[i, lo:hi]``, and the batch rows' sum.

    The chain rows (scale ``-1/C``, first) and the batch rows (``+1/b``) are summed apart,
    then combined as ``lr * (C * batch - b * chains) / (b * C)`` in double precision and
    rounded once. Sums of 0/1 states are exact (so are sums of grey values with few binary
    digits, such as multiples of 1/16), so a float32 run stays as close to a float64 one as
    scikit-learn's own does (its ``test_convergence_dtype_consistency``).
    """
    n = hi - lo
    chains, batch = np.zeros(n, vis.dtype), np.zeros(n, vis.dtype)
    n_chains = 0
    for i in range(vis.shape[0]):
        row = vis[i, lo:hi]
        if scale[i] < 0:
            n_chains += 1
            for j in range(n):
                chains[j] += row[j]
        else:
            for j in range(n):
                batch[j] += row[j]
    n_batch = vis.shape[0] - n_chains
    factor = lr / (n_batch * n_chains)
    step = np.empty(n, vis.dtype)
    for j in range(n):
        step[j] = factor * (n_chains * np.float64(batch[j]) - n_batch * np.float64(chains[j]))
    return step, batch


@numba.njit(**_OPTIONS)
def _centre_hidden(hid, n_chains, lam, grad_c, rate):
    """On the calling thread, before the centred gradient stage: ``grad_c`` becomes the plain
    hidden-bias gradient ``sum_i hid[i]`` (``hid`` holds scaled probabilities), and the hidden
    offsets move towards the batch's mean probabilities, ``sum_{i >= C} hid[i]``."""
    n_hidden = hid.shape[1]
    batch_mean = np.zeros(n_hidden, hid.dtype)
    for j in range(n_hidden):
        grad_c[j] = 0.0
    for i in range(hid.shape[0]):
        row = hid[i]
        for j in range(n_hidden):
            grad_c[j] += row[j]
        if i >= n_chains:
            for j in range(n_hidden):
                batch_mean[j] += row[j]
    t = hid.dtype.type
    nu = t(rate)
    for j in range(n_hidden):
        lam[j] += nu * (batch_mean[j] - lam[j])


@numba.njit(**_REORDERING)
def _centred_gradient_stage(address, vis, hid, W, b, vel_W, vel_b, scale, mu, lam, grad_c,
                            scratch, partial_c, n_chains, lr, momentum, decay, rate, bounds,
                            part, sparse):
    """Block ``part`` of the visible units, centred: its offsets, the corrected weight step,
    its visible-bias step, and its share ``partial_c[part] = mu[block] @ step[block]`` of the
    hidden-bias correction (``step`` is ``lr`` times the centred gradient minus decay)."""
    n_visible, n_hidden = W.shape
    t = W.dtype.type
    lo, hi = bounds[part], bounds[part + 1]
    n = hi - lo
    step_b, batch_sum = _visible_step(vis, scale, lo, hi, lr)  # lr * the plain gradient
    nu, n_batch = t(rate), t(vis.shape[0] - n_chains)
    offsets = mu[lo:hi]
    for j in range(n):
        offsets[j] += nu * (batch_sum[j] / n_batch - offsets[j])
    # scratch = lr * vis.T @ hid for the block's rows
    k = _gathered_product(address, vis, hid, lo, hi, lr, sparse, part)
    if k < 0:
        _gemm(address, True, False, n, n_hidden, vis.shape[0], lr, vis[0, lo:], n_visible,
              hid, n_hidden, 0.0, scratch[lo:], n_hidden)
    else:
        _scatter_rows(scratch, lo, n, sparse.product[part], sparse.occupied[part], k)
    rate_t, m, decay_rate = t(lr), t(momentum), t(lr * decay)
    share = partial_c[part]
    for j in range(n_hidden):
        share[j] = 0.0
    for i in range(lo, hi):
        w_row, v_row, step = W[i], vel_W[i], scratch[i]
        along_c, along_lam, offset = rate_t * mu[i], step_b[i - lo], mu[i]
        for j in range(n_hidden):
            step[j] = step[j] - along_c * grad_c[j] - along_lam * lam[j] - decay_rate * w_row[j]
            v = m * v_row[j] + step[j]
            v_row[j] = v
            w_row[j] += v
            share[j] += offset * step[j]
        dot = t(0.0)
        for j in range(n_hidden):
            dot += step[j] * lam[j]
        v = m * vel_b[i] + step_b[i - lo] - dot
        vel_b[i] = v
        b[i] += v


@numba.njit(**_OPTIONS)
def _centred_hidden_bias(c, vel_c, grad_c, partial_c, lr, momentum):
    """On the calling thread, after the centred stage: the hidden-bias step on
    ``lr * grad_c - sum_p partial_c[p]`` (blocks in order)."""
    t = c.dtype.type
    rate, m = t(lr), t(momentum)
    for j in range(c.shape[0]):
        correction = t(0.0)
        for p in range(partial_c.shape[0]):
            correction += partial_c[p, j]
        v = m * vel_c[j] + rate * grad_c[j] - correction
        vel_c[j] = v
        c[j] += v


@_jit_parallel
def _update(address, X, rows, vis, hid, partials, bounds, hid_chain, W, b, c, vel_W, vel_b,
            vel_c, scale, bases, pcd, k, lr, momentum, decay, centered, mu, lam, rate, grad_c,
            scratch, partial_c, sparse):
    n_chains, n_rows = hid_chain.shape[0], vis.shape[0]
    n_parts = bounds.shape[0] - 1
    draw = 0
    if not pcd:  # CD: the batch's field; its hidden probabilities, and samples start the chain
        for part in numba.prange(n_parts):
            _visible_stage(address, X, rows, vis, hid, partials, hid_chain, W, b, bases[0],
                           True, False, n_chains, n_rows, bounds, part, sparse)
        for part in numba.prange(n_parts):
            _hidden_stage(hid, partials, hid_chain, c, scale, bases[0], n_chains, n_chains,
                          n_rows, True, n_parts, part)
        draw = 1
    for step in range(k):
        last = step == k - 1
        # PCD's last step gives both phases' fields; CD's ends the chain
        f_hi = n_rows if pcd and last else n_chains
        for part in numba.prange(n_parts):
            _visible_stage(address, X, rows, vis, hid, partials, hid_chain, W, b, bases[draw],
                           pcd and step == 0, True, 0, f_hi, bounds, part, sparse)
        draw += 1
        # PCD's last step also draws the hidden states kept for the next update; CD's last
        # step draws nothing
        n_drawn = n_chains if pcd or not last else 0
        base = bases[draw] if n_drawn else np.uint64(0)
        for part in numba.prange(n_parts):
            _hidden_stage(hid, partials, hid_chain, c, scale, base, 0, n_drawn, f_hi, last,
                          n_parts, part)
        draw += 1 if n_drawn else 0
    if centered:
        _centre_hidden(hid, n_chains, lam, grad_c, rate)
        for part in numba.prange(n_parts):
            _centred_gradient_stage(address, vis, hid, W, b, vel_W, vel_b, scale, mu, lam,
                                    grad_c, scratch, partial_c, n_chains, lr, momentum, decay,
                                    rate, bounds, part, sparse)
        _centred_hidden_bias(c, vel_c, grad_c, partial_c, lr, momentum)
        return
    for part in numba.prange(n_parts):
        _gradient_stage(address, vis, hid, W, b, c, vel_W, vel_b, vel_c, scale, lr, momentum,
                        decay, bounds, part, sparse)


def update(X: np.ndarray, rows: np.ndarray, vis: np.ndarray, hid: np.ndarray,
           partials: np.ndarray, bounds: np.ndarray, hid_chain: np.ndarray, params: tuple,
           velocities: tuple, scale: np.ndarray, bases: np.ndarray, pcd: bool, k: int,
           learning_rate: float, momentum: float, weight_decay: float,
           centring: Centring | None = None, sparse: SparseScratch | None = None) -> None:
    """One CD-k / PCD-k update with momentum, in place, centred when ``centring`` is given.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_visible), any layout, any numeric dtype
        Training rows (binary); batches are gathered and converted on the fly.
    rows : ndarray of int64, shape (b,)
    vis : ndarray, shape (C + b, n_visible), C-contiguous
        ``[chains; batch]``: PCD chains live in the first ``C`` rows across updates.
    hid : ndarray, shape (C + b, n_hidden), C-contiguous
        Scratch for the hidden fields (block 0's partial sums), then the scaled hidden
        probabilities.
    partials : ndarray, shape (P - 1, R, n_hidden), R >= C + b, C-contiguous, dtype of hid
        The partial hidden fields of blocks 1 to P - 1.
    bounds : ndarray of int64, shape (P + 1,)
        The blocks of visible units, from :func:`unit_blocks`.
    hid_chain : ndarray, shape (C, n_hidden), C-contiguous
        PCD: hidden states of the chains, drawn at the end of the previous update.
    params, velocities : (W (n_visible, n_hidden), b (n_visible,), c (n_hidden,))
        The weights and their velocity must be C-contiguous: BLAS reads them as such
        (:class:`xprbm.kernels.numba_step.NumbaUpdate` makes sure of it).
    scale : ndarray, shape (C + b,)
        ``-1/C`` for chain rows, ``+1/b`` for batch rows.
    bases : ndarray of uint64, shape (2k,)
        The update's draw bases (:func:`xprbm.kernels.update.draw_bases`).
    pcd : bool
    k : int
    learning_rate, momentum, weight_decay : float
    centring : Centring, optional
        The offsets (moved in place), their rate and the centred stage's scratch.
    sparse : SparseScratch, optional
        The sparse products' thresholds and scratch (for these rows and blocks); allocated
        for the call when not given.

    Raises
    ------
    ValueError
        Buffers of the wrong shape, dtype or layout (BLAS would read past them).
    """
    W, b, c = params
    vel_W, vel_b, vel_c = velocities
    n_parts = bounds.shape[0] - 1
    expected = (n_parts - 1, W.shape[1])
    if (partials.shape[0], partials.shape[2]) != expected or partials.shape[1] < vis.shape[0]:
        raise ValueError(f"partials of shape {partials.shape} for {n_parts} blocks of "
                         f"{vis.shape[0]} rows and {W.shape[1]} hidden units")
    buffers = (vis, hid, partials, hid_chain, W, vel_W)
    if any(a.dtype != W.dtype or not a.flags.c_contiguous for a in buffers):
        raise ValueError("the update's buffers must be C-contiguous arrays of the model's dtype")
    if bases.shape != (2 * k,):
        raise ValueError(f"{2 * k} draw bases needed; got {bases.shape[0]}")
    centred = centring is not None
    if centred:
        centring.check(W.shape, n_parts, W.dtype)
    else:
        centring = Centring.unused(W.dtype)
    if sparse is None:
        sparse = SparseScratch.allocate(vis.shape[0], W.shape[1], bounds, W.dtype)
    else:
        sparse.check(vis.shape[0], W.shape[1], bounds, W.dtype)
    _update(gemm_address(W.dtype), X, rows, vis, hid, partials, bounds, hid_chain, W, b, c,
            vel_W, vel_b, vel_c, scale, bases, bool(pcd), int(k), float(learning_rate),
            float(momentum), float(weight_decay), centred, centring.visible, centring.hidden,
            float(centring.rate), centring.grad_c, centring.scratch, centring.partial_c, sparse)


class Centring(NamedTuple):
    """What the centred gradient stage reads and writes besides the plain update's buffers.

    Attributes
    ----------
    visible, hidden : ndarray, shapes (n_visible,) and (n_hidden,)
        The offsets ``mu`` and ``lam``, moved in place.
    rate : float
        How far the offsets move towards the batch means per update.
    grad_c : ndarray, shape (n_hidden,)
        Scratch: the plain hidden-bias gradient.
    scratch : ndarray, shape (n_visible, n_hidden)
        Scratch: ``lr`` times the weight step.
    partial_c : ndarray, shape (P, n_hidden)
        Scratch: each block's share of the hidden-bias correction.
    """

    visible: np.ndarray
    hidden: np.ndarray
    rate: float
    grad_c: np.ndarray
    scratch: np.ndarray
    partial_c: np.ndarray

    @staticmethod
    @functools.cache
    def unused(dtype: np.dtype) -> Centring:
        """Empty stand-ins of the right types for a plain update (the kernel compiles once
        for both); one set per dtype."""
        return Centring(np.empty(0, dtype), np.empty(0, dtype), 0.0, np.empty(0, dtype),
                        np.empty((0, 0), dtype), np.empty((0, 0), dtype))

    def check(self, shape: tuple[int, int], n_parts: int, dtype: np.dtype) -> None:
        """Raise ValueError unless every array fits a model of ``shape`` split into
        ``n_parts`` blocks and is a C-contiguous, writable array of ``dtype``."""
        n_visible, n_hidden = shape
        expected = {"visible": (n_visible,), "hidden": (n_hidden,), "grad_c": (n_hidden,),
                    "scratch": shape, "partial_c": (n_parts, n_hidden)}
        for name, want in expected.items():
            array = getattr(self, name)
            if (array.shape != want or array.dtype != dtype or not array.flags.c_contiguous
                    or not array.flags.writeable):
                raise ValueError(f"centring {name}: a writable C-contiguous {want} array of "
                                 f"{dtype} needed; got {array.shape} {array.dtype}")
