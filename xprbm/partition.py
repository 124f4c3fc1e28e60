"""Partition function and log-likelihood: exact enumeration for small layers, AIS otherwise."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .kernels import generic
from .validation import check_positive_int

if TYPE_CHECKING:
    from .rbm import RBM

#: default largest layer size that ``exact_log_partition`` enumerates (2**30 states)
MAX_EXACT_UNITS = 30
#: elements of the (states, units) block held at once during enumeration
ENUMERATION_BLOCK = 1 << 22


def _float64_params(rbm: RBM) -> tuple[Any, Any, Any]:
    xp = rbm.xp
    return tuple(xp.astype(p, xp.float64) for p in (rbm.weights, rbm.visible_bias,
                                                    rbm.hidden_bias))


def binary_states(xp: Any, start: int, stop: int, n_units: int, device: Any = None) -> Any:
    """Rows ``start .. stop-1`` of the table of all ``2**n_units`` binary states.

    Row ``i`` holds the bits of ``i`` (unit 0 = least significant bit), as float64.

    Returns
    -------
    array, shape (stop - start, n_units)
    """
    kwargs = {} if device is None else {"device": device}
    index = xp.arange(start, stop, dtype=xp.int64, **kwargs)
    shifts = xp.arange(n_units, dtype=xp.int64, **kwargs)
    return xp.astype((index[:, None] >> shifts[None, :]) & 1, xp.float64)


def _logsumexp(xp: Any, x: Any) -> float:
    top = float(xp.max(x))
    return top + math.log(float(xp.sum(xp.exp(x - top))))


def exact_log_partition(rbm: RBM, *, max_units: int = MAX_EXACT_UNITS) -> float:
    """``log Z`` by enumerating every state of the smaller layer, in float64.

    For hidden states ``log Z = logsumexp_h [h·c + Σ_i softplus(b_i + (W h)_i)]``; for visible
    states it is ``logsumexp_v [-F(v)]``. States are visited in blocks of bounded memory and
    combined with a streaming log-sum-exp.

    Parameters
    ----------
    rbm : RBM
    max_units : int
        Refuse layers larger than this (the cost doubles with every unit).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When the smaller layer has more than ``max_units`` units.
    """
    max_units = check_positive_int(max_units, "max_units")
    n_small = min(rbm.n_visible, rbm.n_hidden)
    if n_small > max_units:
        raise ValueError(
            f"exact log Z enumerates 2**{n_small} states of the smaller layer, above "
            f"max_units={max_units}; estimate it with xprbm.ais(rbm, data=X) instead "
            "(or raise max_units if you can afford the time)"
        )
    xp = rbm.xp
    W, b, c = _float64_params(rbm)
    if rbm.n_hidden <= rbm.n_visible:
        small_bias, big_bias, coupling = c, b, W.T  # states h: (S, H) @ (H, V)
    else:
        small_bias, big_bias, coupling = b, c, W  # states v: (S, V) @ (V, H)
    n_big = coupling.shape[1]
    total = 1 << n_small
    rows = max(1, min(total, ENUMERATION_BLOCK // max(1, n_big)))
    partial = []
    for start in range(0, total, rows):
        states = binary_states(xp, start, min(total, start + rows), n_small,
                               rbm._backend.device)
        log_weight = states @ small_bias + xp.sum(
            generic.softplus(xp, states @ coupling + big_bias), axis=1)
        partial.append(_logsumexp(xp, log_weight))
    top = max(partial)
    return top + math.log(sum(math.exp(p - top) for p in partial))


def log_likelihood(rbm: RBM, v: Any, log_z: float | None = None) -> Any:
    """Per-sample ``log p(v) = -F(v) - log Z`` in float64.

    Parameters
    ----------
    rbm : RBM
    v : array, shape (n, n_visible), binary
    log_z : float, optional
        A known or estimated ``log Z`` (e.g. from :func:`ais`); computed exactly when omitted
        (which raises for models too large to enumerate).

    Returns
    -------
    array, shape (n,), float64, on the model's backend
    """
    v = rbm.visible(v, binary=True)
    if log_z is None:
        log_z = exact_log_partition(rbm)
    xp = rbm.xp
    W, b, c = _float64_params(rbm)
    v64 = xp.astype(v, xp.float64)
    free = -(v64 @ b) - xp.sum(generic.softplus(xp, v64 @ W + c), axis=1)
    return -free - float(log_z)
