"""Exact ``log Z`` by enumerating the smaller layer, and exact per-sample log-likelihoods."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, SupportsFloat

import numpy as np

from .. import kernels
from ..kernels import generic
from ..progress import progress_bar
from ..validation import check_positive_int

if TYPE_CHECKING:
    from ..rbm import RBM

#: default largest layer size that ``exact_log_partition`` enumerates (2**30 states)
MAX_EXACT_UNITS = 30
#: states are indexed by int64 counters: more units than this cannot be enumerated at all
HARD_MAX_UNITS = 62


def float64_params(rbm: RBM) -> tuple[Any, Any, Any]:
    """``(W, b, c)`` of ``rbm`` as float64 arrays of its backend (copies for float32 models)."""
    xp = rbm.xp
    return tuple(xp.astype(p, xp.float64) for p in (rbm.weights, rbm.visible_bias,
                                                    rbm.hidden_bias))


def exact_log_partition(rbm: RBM, *, max_units: int = MAX_EXACT_UNITS,
                        progress: bool = False) -> float:
    """``log Z`` by enumerating every state of the smaller layer, in float64.

    For hidden states ``log Z = logsumexp_h [h·c + Σ_i softplus(b_i + (W h)_i)]``; for visible
    states it is ``logsumexp_v [-F(v)]``. States are visited in blocks of at most
    ``ENUMERATION_BLOCK`` elements of the ``(states, larger layer)`` product and combined with a
    streaming log-sum-exp, so memory stays bounded whatever the layer size. With Numba (the
    model's ``fast_path``) a Gray-code kernel updates the field one unit at a time and
    runs in parallel (:mod:`xprbm.kernels.numba_partition`); other backends use portable
    array-API code (:func:`xprbm.kernels.state_log_sums` dispatches). The cost grows as
    ``2**n_small · n_large``.

    Parameters
    ----------
    rbm : RBM
        Any backend and dtype; the sums run in float64 on the model's backend.
    max_units : int
        Refuse smaller layers above this many units (the cost doubles with every unit);
        above the default, a ``RuntimeWarning`` says what it will cost.
    progress : bool
        Show a progress bar over the states.

    Returns
    -------
    float
        The natural log of the partition function.

    Raises
    ------
    ValueError
        When the smaller layer has more than ``max_units`` units (use :func:`xprbm.ais`), or
        when the parameters contain NaN so that ``log Z`` is undefined.
    """
    max_units = check_positive_int(max_units, "max_units")
    n_small = min(rbm.n_visible, rbm.n_hidden)
    if n_small > min(max_units, HARD_MAX_UNITS):
        limit = ("" if n_small > HARD_MAX_UNITS
                 else " (or raise max_units if you can afford the time)")
        raise ValueError(
            f"exact log Z enumerates 2**{n_small} states of the smaller layer "
            f"({rbm.n_visible}x{rbm.n_hidden} model), above max_units="
            f"{min(max_units, HARD_MAX_UNITS)}; estimate it with "
            f"xprbm.ais(rbm, data=X) instead{limit}"
        )
    W, b, c = float64_params(rbm)
    if rbm.n_hidden <= rbm.n_visible:
        small_bias, big_bias, coupling = c, b, W.T  # states h: (S, H) @ (H, V)
    else:
        small_bias, big_bias, coupling = b, c, W  # states v: (S, V) @ (V, H)
    if n_small > MAX_EXACT_UNITS:
        warnings.warn(f"enumerating 2**{n_small} states of the smaller layer: this can take "
                      "hours; xprbm.ais estimates log Z in seconds", RuntimeWarning,
                      stacklevel=2)
    parts = []
    with progress_bar(total=1 << n_small, enabled=progress, desc="log Z", unit="state") as bar:
        for part, states in kernels.state_log_sums(rbm.array_backend, small_bias, coupling,
                                                   big_bias, rbm.fast_path):
            parts.append(part)
            bar.update(states)
    log_z = generic.logsumexp_host(np, np.asarray(parts))
    if math.isnan(log_z):
        raise ValueError("log Z is NaN: the model's parameters contain NaN values")
    return log_z


def log_likelihood(rbm: RBM, v: Any, log_z: SupportsFloat | None = None) -> Any:
    """Per-sample ``log p(v) = -F(v) - log Z`` in float64.

    Parameters
    ----------
    rbm : RBM
    v : array, shape (n, n_visible), binary
        NumPy array or array of the model's backend.
    log_z : float or AISResult, optional
        A known or estimated ``log Z`` (e.g. the result of :func:`xprbm.ais`, whose
        ``log_z`` is used); computed exactly when omitted, which raises for models whose
        smaller layer is too large to enumerate.

    Returns
    -------
    array, shape (n,), float64, on the model's backend
        Natural-log probabilities; ``mean`` of it is the usual "average log-likelihood".

    Raises
    ------
    ValueError
        Bad ``v`` (wrong width, empty, non-binary), or a model too large for exact ``log Z``
        with ``log_z`` omitted.
    """
    v = rbm.visible(v, binary=True)
    log_z = exact_log_partition(rbm) if log_z is None else float(log_z)
    xp = rbm.xp
    W, b, c = float64_params(rbm)
    v64 = xp.astype(v, xp.float64)
    return -generic.free_energy(xp, v64, v64 @ W + c, b) - log_z
