"""Block Gibbs sampling and parallel tempering of an RBM, every draw through the kernels'
dispatcher.

The functions take the model (any object with ``weights`` (n_visible, n_hidden),
``visible_bias``, ``hidden_bias``, ``array_backend``, ``array_dtype`` and ``fast_path``, as
:class:`xprbm.RBM` has) and the :class:`~xprbm.rng.CounterRNG` to draw from; the model's
methods choose the stream by the rule of :func:`xprbm.rng.stream_for`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels
from .kernels import generic, tempering
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
    kernels.warm_up(model.fast_path, model.array_dtype, progress=progress)
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


@dataclass(frozen=True)
class TemperingResult:
    """Outcome of :func:`parallel_tempering`.

    Attributes
    ----------
    samples : array, shape (n_chains, n_visible)
        The states of the replicas at β = 1 after the last sweep.
    betas : ndarray, shape (R,)
        The ladder.
    swap_rates : ndarray, shape (R - 1,)
        Fraction of accepted swaps between replicas ``r`` and ``r + 1``.
    replicas : array, shape (R * n_chains, n_visible)
        Every replica's final state (replica-major; pass as ``init`` to continue).
    """

    samples: Any
    betas: np.ndarray
    swap_rates: np.ndarray
    replicas: Any

    def summary(self) -> str:
        """One line: the ladder's size and range, and the lowest and mean swap rate."""
        rates = self.swap_rates
        if rates.size == 0:
            return "parallel tempering with one temperature (plain block Gibbs)"
        return (f"parallel tempering: {self.betas.size} temperatures, beta {self.betas[-1]:.3g}"
                f" to 1; swap acceptance mean {np.nanmean(rates):.2f}, lowest "
                f"{np.nanmin(rates):.2f} (between replicas {int(np.nanargmin(rates))} and "
                f"{int(np.nanargmin(rates)) + 1})")


def parallel_tempering(model: Any, n_chains: int, sweeps: int, rng: CounterRNG,
                       betas: Any = None, init: Any = None,
                       progress: bool = False) -> TemperingResult:
    """Sample by parallel tempering: ``sweeps`` block Gibbs sweeps of every replica, each
    followed by swaps between neighbouring temperatures (see :mod:`xprbm.kernels.tempering`).

    Parameters
    ----------
    model : RBM
    n_chains : int
        Independent chains; each has one replica per temperature.
    sweeps : int
    rng : CounterRNG
        Three draws per sweep.
    betas : sequence of float, optional
        The ladder, from 1 strictly down (default :func:`xprbm.kernels.tempering.ladder`).
    init : array, optional
        Starting states of every replica, shape (R * n_chains, n_visible), replica-major
        (e.g. an earlier result's ``replicas``), or of the β = 1 replicas only, shape
        (n_chains, n_visible), the others then starting there too; default: uniformly
        random states.
    progress : bool
        Show a progress bar over the sweeps.

    Returns
    -------
    TemperingResult
    """
    betas = tempering.ladder() if betas is None else tempering.check_ladder(betas)
    n_rows = betas.size * n_chains
    backend = model.array_backend
    if init is None:
        v = independent_visible(model, n_rows, None, rng)
    elif init.shape[0] == n_chains and n_rows != n_chains:
        v = backend.xp.concat([init] * betas.size, axis=0)
    elif init.shape[0] == n_rows:
        v = init
    else:
        raise ValueError(f"init has {init.shape[0]} rows; expected {n_chains} (the chains) or "
                         f"{n_rows} (every replica of {betas.size} temperatures)")
    params = model.parameters()
    sample = kernels.sampler(backend, model.fast_path)
    beta_col = tempering.beta_column(backend, betas, n_chains, model.array_dtype)
    record = tempering.SwapRecord(betas.size - 1)
    kernels.warm_up(model.fast_path, model.array_dtype, progress=progress)
    with progress_bar(total=sweeps, enabled=progress, desc="tempering", unit="sweep") as bar:
        for _ in range(sweeps):
            bases = tuple(rng.next_base() for _ in range(tempering.DRAWS_PER_SWEEP))
            v = tempering.sweep_and_swap(backend, sample, params, v, betas, beta_col, record,
                                         bases)
            bar.update(1)
    return TemperingResult(v[:n_chains, :], betas, record.rates, v)
