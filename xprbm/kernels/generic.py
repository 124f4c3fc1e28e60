"""Portable array-API versions of every hot operation: the reference for the fast paths.

Every function takes and returns arrays of one namespace ``xp`` and never writes into its
arguments, so it runs unchanged on NumPy, CuPy and ``array_api_strict``. Beside the
operations that have fast versions (uniforms, Bernoulli draws, the training update, the
enumeration of states) it holds the small formulas they all share (sigmoid, softplus, free
energy, log-sum-exp, log-odds of data means), so that each exists once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..backend import Backend
from ..rng import GOLDEN, MIX1, MIX2, UNIFORM_SCALE

#: elements of the (states, units) block held at once during generic enumeration
ENUMERATION_BLOCK = 1 << 22


def uniform(backend: Backend, shape: tuple[int, ...], base: int, dtype: Any) -> Any:
    """Counter-based uniforms in [0, 1) on a 2**-24 grid.

    Parameters
    ----------
    backend : Backend
    shape : tuple of int
    base : int
        Start of the draw, from :meth:`xprbm.rng.CounterRNG.next_base`.
    dtype : dtype
        Floating dtype of the result (the values are exact in float32).

    Returns
    -------
    array of shape ``shape``
    """
    xp = backend.xp
    n = math.prod(shape)
    kwargs = backend.placement

    def u64(value: int) -> Any:  # 0-d uint64 arrays: no promotion rules involved anywhere
        return xp.asarray(value, dtype=xp.uint64, **kwargs)

    z = xp.arange(1, n + 1, dtype=xp.uint64, **kwargs) * u64(GOLDEN) + u64(base)
    z = (z ^ (z >> u64(30))) * u64(MIX1)
    z = (z ^ (z >> u64(27))) * u64(MIX2)
    z = z ^ (z >> u64(31))
    u = xp.astype(z >> u64(40), dtype) * UNIFORM_SCALE
    return xp.reshape(u, shape)


def sigmoid(xp: Any, x: Any) -> Any:
    """Logistic function ``1 / (1 + exp(-x))``; saturates to 0 or 1 without overflow warnings."""
    return 1.0 / (1.0 + xp.exp(-xp.clip(x, -88.0, 88.0)))


def softplus(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def log_sigmoid(xp: Any, x: Any) -> Any:
    """``log sigmoid(x) = -softplus(-x)`` without overflow."""
    return -softplus(xp, -x)


def free_energy(xp: Any, v: Any, total_field: Any, visible_bias: Any,
                softplus_field: Any = None) -> Any:
    """``F(v) = -v·b - Σ_j softplus(c_j + (vW)_j)`` from ``total_field = vW + c``.

    Parameters
    ----------
    v : array, shape (n, n_visible)
    total_field : array, shape (n, n_hidden)
    visible_bias : array, shape (n_visible,)
    softplus_field : array, shape (n, n_hidden), optional
        ``softplus(total_field)`` when the caller has it already.

    Returns
    -------
    array, shape (n,)
    """
    if softplus_field is None:
        softplus_field = softplus(xp, total_field)
    return -(v @ visible_bias) - xp.sum(softplus_field, axis=1)


def logsumexp_host(xp: Any, x: Any) -> float:
    """``log Σ exp(x)`` of a 1-D array as a Python float (``-inf`` for all ``-inf``)."""
    top = float(xp.max(x))
    if not math.isfinite(top):
        return top
    return top + math.log(float(xp.sum(xp.exp(x - top))))


def clipped_log_odds(xp: Any, X: Any, eps: float, dtype: Any) -> Any:
    """``log(p / (1 - p))`` of the column means ``p`` of ``X`` clipped to ``[eps, 1 - eps]``.

    The visible biases of the independent-unit model closest to the data (Hinton's guide
    starts an RBM's visible biases there; AIS starts its base-rate model there).

    Parameters
    ----------
    X : array, shape (n, n_visible)
    eps : float
    dtype : dtype of the result (the means are taken in float64)

    Returns
    -------
    array, shape (n_visible,)
    """
    mean = xp.sum(xp.astype(X, xp.float64), axis=0) / X.shape[0]
    p = xp.clip(mean, eps, 1.0 - eps)
    return xp.astype(xp.log(p / (1.0 - p)), dtype)


def binary_states(xp: Any, start: int, stop: int, n_units: int, device: Any = None) -> Any:
    """Rows ``start .. stop-1`` of the table of all ``2**n_units`` binary states.

    Row ``i`` holds the bits of ``i`` (unit 0 = least significant bit), as float64.

    Parameters
    ----------
    xp : array namespace
    start, stop : int
        ``0 <= start <= stop <= 2**n_units``.
    n_units : int
        At most 62 (states are indexed by int64 counters).
    device : object, optional
        Device of the result (``None`` for the namespace default).

    Returns
    -------
    array, shape (stop - start, n_units), float64
    """
    kwargs = {} if device is None else {"device": device}
    index = xp.arange(start, stop, dtype=xp.int64, **kwargs)
    shifts = xp.arange(n_units, dtype=xp.int64, **kwargs)
    return xp.astype((index[:, None] >> shifts[None, :]) & 1, xp.float64)


def state_log_sums(backend: Backend, small_bias: Any, coupling: Any, big_bias: Any
                   ) -> Iterator[tuple[float, int]]:
    """Log-sum-exp of the log weights ``s·small_bias + Σ_k softplus(big_bias + s @ coupling)_k``
    over every binary state ``s`` of the smaller layer, one value per block of states.

    Blocks hold at most ``ENUMERATION_BLOCK`` elements of the ``(states, larger layer)``
    product, so memory stays bounded; the caller combines the per-block values.

    Parameters
    ----------
    small_bias : array, shape (n_small,), float64
    coupling : array, shape (n_small, n_big), float64
    big_bias : array, shape (n_big,), float64

    Yields
    ------
    (float, int)
        A block's log-sum-exp and how many states it covered.
    """
    xp = backend.xp
    n_small, n_big = int(coupling.shape[0]), int(coupling.shape[1])
    total = 1 << n_small
    rows = max(1, min(total, ENUMERATION_BLOCK // max(1, n_big)))
    for start in range(0, total, rows):
        stop = min(total, start + rows)
        states = binary_states(xp, start, stop, n_small, backend.device)
        log_weight = states @ small_bias + xp.sum(softplus(xp, states @ coupling + big_bias),
                                                  axis=1)
        yield logsumexp_host(xp, log_weight), stop - start


def bernoulli(backend: Backend, field: Any, bias: Any, base: int) -> Any:
    """Sample units with ``p = sigmoid(field + bias)``.

    Parameters
    ----------
    field : array, shape (n_rows, n_units)
    bias : array, shape (n_units,)
    base : int
        Random draw base; element ``i`` (row-major) uses counter ``i``.

    Returns
    -------
    array, shape (n_rows, n_units), values 0.0 / 1.0 in ``field``'s dtype
    """
    xp = backend.xp
    p = sigmoid(xp, field + bias)
    u = uniform(backend, tuple(field.shape), base, field.dtype)
    return xp.astype(u < p, field.dtype)


def update(backend: Backend, X: Any, rows: Any, params: dict[str, Any],
           velocity: dict[str, Any], chains: dict[str, Any] | None, bases: Any,
           settings: Any) -> None:
    """One CD-k / PCD-k update with portable array-API code (the reference).

    PCD keeps visible chains and the hidden states drawn from them at the end of the previous
    update (with the parameters of that moment, as in the classic Theano PCD code); each update
    runs ``h -> v`` then ``k - 1`` full ``v -> h -> v`` steps, and the negative phase's hidden
    field also gives the hidden states kept for the next update. CD starts the chain with
    ``h ~ p(h | batch)``. Either way an update of PCD-1 / CD-1 costs five matrix products,
    and takes its draws in the order of :func:`xprbm.kernels.update.draw_bases`. With momentum
    ``m``, learning rate ``lr`` and weight decay ``d`` (weights only)::

        velocity = m * velocity + lr * (gradient - d * parameter);  parameter += velocity

    Parameters
    ----------
    backend : Backend
    X : array, shape (n_samples, n_visible)
    rows : array of int, shape (b,)
        Rows of ``X`` in this batch.
    params : dict
        ``weights`` (n_visible, n_hidden), ``visible_bias``, ``hidden_bias``; replaced by the
        updated arrays.
    velocity : dict
        The momentum buffers of the same names and shapes; replaced likewise.
    chains : dict or None
        PCD: ``visible`` (C, n_visible) and ``hidden`` (C, n_hidden) chain states, replaced
        by the new ones; None for CD.
    bases : sequence of 2k ints
        The update's draw bases.
    settings : UpdateSettings
        ``method``, ``k``, ``learning_rate``, ``momentum``, ``weight_decay``.
    """
    xp = backend.xp
    draws = iter(int(base) for base in bases)
    W, b, c = params["weights"], params["visible_bias"], params["hidden_bias"]
    k = settings.k
    batch = xp.take(X, rows, axis=0)
    pos_field = batch @ W + c
    pos = sigmoid(xp, pos_field)
    if chains is None:
        h = bernoulli(backend, pos_field, 0.0, next(draws))
    else:
        h = chains["hidden"]
    for step in range(k):
        v = bernoulli(backend, h @ W.T, b, next(draws))
        if step < k - 1:
            h = bernoulli(backend, v @ W, c, next(draws))
    neg_field = v @ W + c
    neg = sigmoid(xp, neg_field)
    if chains is not None:
        chains["visible"] = v
        chains["hidden"] = bernoulli(backend, neg_field, 0.0, next(draws))
    n_pos, n_neg = batch.shape[0], v.shape[0]
    grads = {
        "weights": batch.T @ pos / n_pos - v.T @ neg / n_neg,
        "visible_bias": xp.sum(batch, axis=0) / n_pos - xp.sum(v, axis=0) / n_neg,
        "hidden_bias": xp.sum(pos, axis=0) / n_pos - xp.sum(neg, axis=0) / n_neg,
    }
    for name, grad in grads.items():
        param = params[name]
        decay = settings.weight_decay if name == "weights" else 0.0
        delta = settings.momentum * velocity[name] + settings.learning_rate * (
            grad - decay * param)
        velocity[name] = delta
        params[name] = param + delta
