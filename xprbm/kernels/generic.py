"""Portable array-API versions of every hot operation: the reference for the fast paths.

Every function takes and returns arrays of one namespace ``xp`` and never writes into its
arguments, so it runs unchanged on NumPy, CuPy and ``array_api_strict``. Beside the
operations that have fast versions (uniforms, Bernoulli draws, the training update, the
enumeration of states) it holds the small formulas they all share (sigmoid, softplus, free
energy, log-sum-exp, log-odds of data means), so that each exists once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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
           settings: Any, sample: Callable[[Any, int], Any] | None = None,
           offsets: dict[str, Any] | None = None) -> None:
    """One CD-k / PCD-k update with portable array-API code (the reference).

    PCD keeps visible chains and the hidden states drawn from them at the end of the previous
    update (with the parameters of that moment, as in the classic Theano PCD code); each update
    runs ``h -> v`` then ``k - 1`` full ``v -> h -> v`` steps, and the negative phase's hidden
    field also gives the hidden states kept for the next update. CD starts the chain with
    ``h ~ p(h | batch)``. Either way an update of PCD-1 / CD-1 costs five matrix products,
    and takes its draws in the order of :func:`xprbm.kernels.update.draw_bases`. The step
    is :func:`gradient_step`.

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
        ``k``, ``learning_rate``, ``momentum``, ``weight_decay``, ``offset_rate``.
    sample : callable, optional
        ``sample(field, base)``: 0/1 states with ``p = sigmoid(field)`` (default
        :func:`bernoulli`; the dispatcher passes a fused kernel that draws the same numbers).
    offsets : dict or None
        Centring offsets (see :func:`gradient_step`); None trains without centring.
    """
    xp = backend.xp
    if sample is None:
        def sample(field: Any, base: int) -> Any:
            return bernoulli(backend, field, 0.0, base)
    draws = iter(int(base) for base in bases)
    W, b, c = params["weights"], params["visible_bias"], params["hidden_bias"]
    k = settings.k
    batch, pos_field = positive_phase(xp, X, rows, params)
    pos = sigmoid(xp, pos_field)
    if chains is None:
        h = sample(pos_field, next(draws))
    else:
        h = chains["hidden"]
    for step in range(k):
        v = sample(h @ W.T + b, next(draws))
        if step < k - 1:
            h = sample(v @ W + c, next(draws))
    neg_field = v @ W + c
    neg = sigmoid(xp, neg_field)
    if chains is not None:
        chains["visible"] = v
        chains["hidden"] = sample(neg_field, next(draws))
    gradient_step(xp, batch, pos, v, neg, params, velocity, settings, offsets)


def positive_phase(xp: Any, X: Any, rows: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    """The batch ``X[rows]`` in the parameters' dtype and its hidden field ``batch W + c``."""
    W = params["weights"]
    batch = xp.take(X, rows, axis=0)
    if batch.dtype != W.dtype:
        batch = xp.astype(batch, W.dtype)
    return batch, batch @ W + params["hidden_bias"]


def gradient_step(xp: Any, batch: Any, pos: Any, v: Any, neg: Any, params: dict[str, Any],
                  velocity: dict[str, Any], settings: Any,
                  offsets: dict[str, Any] | None = None) -> None:
    """The momentum step on the gradient of a batch and a negative phase.

    With momentum ``m``, learning rate ``lr`` and weight decay ``d`` (weights only)::

        velocity = m * velocity + lr * (gradient - d * parameter);  parameter += velocity

    With ``offsets`` (visible ``mu``, hidden ``lam``) the gradient is the centred one of
    Montavon & Mueller (2012) and Melchior, Fischer & Wiskott (2016), applied to the same
    (uncentred) parameters: the offsets first move towards the batch means
    (``mu += nu * (mean(batch) - mu)``, ``lam += nu * (mean(pos) - lam)``, ``nu`` the
    settings' ``offset_rate``); then, with the plain gradients ``G_W, g_b, g_c``,

    - ``G_W' = G_W - mu g_cᵀ - g_b lamᵀ``, the gradient of the centred energy
      ``-(v - mu)·b' - (h - lam)·c' - (v - mu)ᵀ W (h - lam)`` with respect to ``W``;
    - the biases step as the centred biases do: ``g_b - (G_W' - d W) lam`` and
      ``g_c - (G_W' - d W)ᵀ mu``, since ``b = b' - W lam`` and ``c = c' - Wᵀ mu``.

    Parameters
    ----------
    xp : array namespace
    batch : array, shape (b, n_visible)
    pos : array, shape (b, n_hidden)
        ``p(h = 1 | batch)``.
    v : array, shape (C, n_visible)
        Negative-phase visible states.
    neg : array, shape (C, n_hidden)
        ``p(h = 1 | v)``.
    params, velocity : dict
        Replaced by the updated arrays.
    settings : UpdateSettings
    offsets : dict or None
        ``visible`` (n_visible,) and ``hidden`` (n_hidden,); replaced by the moved offsets.
    """
    n_pos, n_neg = batch.shape[0], v.shape[0]
    grad_b = xp.sum(batch, axis=0) / n_pos - xp.sum(v, axis=0) / n_neg
    grad_c = xp.sum(pos, axis=0) / n_pos - xp.sum(neg, axis=0) / n_neg
    grad_W = batch.T @ pos / n_pos - v.T @ neg / n_neg
    decay = settings.weight_decay
    if offsets is not None:
        rate = settings.offset_rate
        mu = offsets["visible"] + rate * (xp.sum(batch, axis=0) / n_pos - offsets["visible"])
        lam = offsets["hidden"] + rate * (xp.sum(pos, axis=0) / n_pos - offsets["hidden"])
        offsets["visible"], offsets["hidden"] = mu, lam
        grad_W = grad_W - mu[:, None] * grad_c[None, :] - grad_b[:, None] * lam[None, :]
        step_W = grad_W - decay * params["weights"]
        grad_b = grad_b - step_W @ lam
        grad_c = grad_c - mu @ step_W
    grads = {"weights": grad_W, "visible_bias": grad_b, "hidden_bias": grad_c}
    for name, grad in grads.items():
        param = params[name]
        weight_decay = decay if name == "weights" else 0.0
        delta = settings.momentum * velocity[name] + settings.learning_rate * (
            grad - weight_decay * param)
        velocity[name] = delta
        params[name] = param + delta
