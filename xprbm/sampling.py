"""Block Gibbs sampling of an RBM, every draw through the kernels' dispatcher.

The functions take the model (any object with ``weights`` (n_visible, n_hidden),
``visible_bias``, ``hidden_bias``, ``array_backend``, ``array_dtype`` and ``fast_path``, as
:class:`xprbm.RBM` has) and the :class:`~xprbm.rng.CounterRNG` to draw from; the model's
methods choose the stream by the rule of :func:`xprbm.rng.stream_for`.
"""

from __future__ import annotations

from typing import Any

from . import kernels
from .kernels import generic
from .progress import progress_bar
from .rng import CounterRNG


def sample_hidden(model: Any, v: Any, rng: CounterRNG) -> Any:
    """Draw ``h ~ p(h | v)``.

    Parameters
    ----------
    model : RBM
    v : array of the model's backend, shape (n, n_visible)
    rng : CounterRNG

    Returns
    -------
    array, shape (n, n_hidden), values 0/1
    """
    return kernels.bernoulli(model.array_backend, v @ model.weights, model.hidden_bias,
                             rng.next_base(), model.fast_path)


def sample_visible(model: Any, h: Any, rng: CounterRNG) -> Any:
    """Draw ``v ~ p(v | h)``; ``h`` of shape (n, n_hidden), result (n, n_visible), 0/1."""
    return kernels.bernoulli(model.array_backend, h @ model.weights.T, model.visible_bias,
                             rng.next_base(), model.fast_path)


def gibbs(model: Any, v: Any, steps: int, rng: CounterRNG, progress: bool = False) -> Any:
    """Run ``steps`` block Gibbs steps ``v -> h -> v'`` from ``v`` (all rows as one matrix).

    Parameters
    ----------
    model : RBM
    v : array of the model's backend, shape (n, n_visible)
    steps : int
    rng : CounterRNG
    progress : bool
        Show a progress bar over the steps.

    Returns
    -------
    array, shape (n, n_visible)
        Visible states after the last step.
    """
    with progress_bar(total=steps, enabled=progress, desc="gibbs", unit="step") as bar:
        for _ in range(steps):
            v = sample_visible(model, sample_hidden(model, v, rng), rng)
            bar.update(1)
    return v


def independent_visible(model: Any, n: int, bias: Any, rng: CounterRNG) -> Any:
    """``n`` draws of independent visible units with ``p(v_i = 1) = sigmoid(bias_i)``.

    Parameters
    ----------
    model : RBM
        Gives the backend, dtype and kernels.
    n : int
    bias : array, shape (n_visible,), or None
        None: every unit is on with probability 1/2 (uniformly random states).
    rng : CounterRNG

    Returns
    -------
    array, shape (n, n_visible), values 0/1
    """
    backend, dtype = model.array_backend, model.array_dtype
    u = kernels.uniform(backend, (n, model.n_visible), rng.next_base(), dtype, model.fast_path)
    p = 0.5 if bias is None else generic.sigmoid(backend.xp, bias)
    return backend.xp.astype(u < p, dtype)
