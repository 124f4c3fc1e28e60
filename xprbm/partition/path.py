"""The annealing path of AIS between a base-rate model and an RBM, and its transitions.

The annealing path follows Salakhutdinov & Murray (2008). A base-rate model A of independent
visible units with biases ``a`` (clipped log-odds of data means, or zeros) and the RBM B share
the visible layer; the intermediate model at inverse temperature β has the joint energy
``E_β(v, h) = -(1 - β) v·a - β (v·b + h·c + vᵀWh)``, whose unnormalised marginal is::

    log p*_β(v) = (1 - β) v·a + β v·b + Σ_j softplus(β (c_j + (vW)_j))

At β = 0 this is model A with ``log Z_0 = Σ_i softplus(a_i) + n_hidden · log 2``; at β = 1 it
is the RBM. Its block Gibbs step (``h | v`` then ``v | h``) has the factorised conditionals
``p(h_j = 1 | v) = σ(β (c_j + (vW)_j))`` and ``p(v_i = 1 | h) = σ((1 - β) a_i + β (b_i + (Wh)_i))``
and leaves ``p_β`` invariant, so it serves as the AIS transition at β.

A chain started from ``p_{β_0}`` collects
``log w = Σ_k [log p*_{β_k}(v_k) - log p*_{β_{k-1}}(v_k)]``, where ``v_k`` is its state after
the transition at ``β_{k-1}``. Its mean weight estimates
``Z_{β_K} / Z_{β_0}``, without bias. Running the schedule backwards (from states of the RBM to
the base model) estimates ``Z_0 / Z_B`` instead: that is reverse AIS.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import kernels
from ..kernels import generic
from ..rng import CounterRNG
from ..sampling import independent_visible

if TYPE_CHECKING:
    from ..rbm import RBM

#: progress-bar updates happen every this many annealing steps
PROGRESS_EVERY = 100


class AnnealingPath:
    """The tempered models between the base-rate model (β = 0) and an RBM (β = 1).

    Parameters
    ----------
    rbm : RBM
    base_bias : array, shape (n_visible,)
        Visible biases ``a`` of the base-rate model, in the model's dtype and backend.
    rng : CounterRNG
        Stream for every draw made along the path.
    """

    def __init__(self, rbm: RBM, base_bias: Any, rng: CounterRNG) -> None:
        xp = rbm.xp
        self.rbm, self.xp, self.rng = rbm, xp, rng
        self.base_bias = base_bias
        self.n_hidden = rbm.n_hidden
        self.bias_gap = rbm.visible_bias - base_bias  # b - a
        self.hidden_bias64 = xp.astype(rbm.hidden_bias, xp.float64)

    def log_z_base(self) -> float:
        """Exact ``log Z_0 = Σ_i softplus(a_i) + n_hidden · log 2`` (float64)."""
        xp = self.xp
        a64 = xp.astype(self.base_bias, xp.float64)
        return float(xp.sum(generic.softplus(xp, a64))) + self.n_hidden * math.log(2.0)

    def fields(self, v: Any) -> tuple[Any, Any, Any]:
        """Quantities of ``v`` that every β shares.

        Parameters
        ----------
        v : array, shape (n, n_visible)

        Returns
        -------
        field : array, shape (n, n_hidden), model dtype
            ``vW`` (without the hidden bias).
        total64 : array, shape (n, n_hidden), float64
            ``c + vW``.
        tilt64 : array, shape (n,), float64
            ``v·(b - a)``.
        """
        xp = self.xp
        field = v @ self.rbm.weights
        total64 = xp.astype(field, xp.float64) + self.hidden_bias64
        tilt64 = xp.astype(v @ self.bias_gap, xp.float64)
        return field, total64, tilt64

    def log_unnormalised(self, total64: Any, tilt64: Any, beta: float) -> Any:
        """``log p*_β(v) - v·a`` (the dropped term is the same for every β), float64, (n,)."""
        xp = self.xp
        return beta * tilt64 + xp.sum(generic.softplus(xp, beta * total64), axis=1)

    def sample_hidden(self, field: Any, beta: float) -> Any:
        """``h ~ p_β(h | v)`` from ``field = vW``; shape (n, n_hidden), values 0/1."""
        rbm = self.rbm
        return kernels.bernoulli(rbm.array_backend, field * beta, rbm.hidden_bias * beta,
                                 self.rng.next_base(), rbm.fast_path)

    def sample_visible(self, h: Any, beta: float) -> Any:
        """``v ~ p_β(v | h)``; shape (n, n_visible), values 0/1."""
        rbm = self.rbm
        bias = self.base_bias * (1.0 - beta) + rbm.visible_bias * beta
        return kernels.bernoulli(rbm.array_backend, (h * beta) @ rbm.weights.T, bias,
                                 self.rng.next_base(), rbm.fast_path)

    def sample_base(self, n: int) -> Any:
        """``n`` independent draws from the base-rate model; shape (n, n_visible)."""
        return independent_visible(self.rbm, n, self.base_bias, self.rng)

    def gibbs(self, v: Any, steps: int, bar: Any) -> Any:
        """``steps`` block Gibbs steps of the RBM itself (β = 1) from ``v``."""
        for step in range(steps):
            field, _, _ = self.fields(v)
            v = self.sample_visible(self.sample_hidden(field, 1.0), 1.0)
            if (step + 1) % PROGRESS_EVERY == 0:
                bar.update(PROGRESS_EVERY)
        bar.update(steps % PROGRESS_EVERY)
        return v

    def anneal(self, v: Any, betas: np.ndarray, bar: Any, increments: list | None = None
               ) -> Any:
        """Run the chains ``v`` along ``betas`` and return their log importance weights.

        Parameters
        ----------
        v : array, shape (n, n_visible)
            States drawn from ``p_{betas[0]}``.
        betas : ndarray, shape (K + 1,)
            Inverse temperatures in the order visited (increasing for forward AIS).
        bar : progress bar
        increments : list, optional
            When given, each step's increments of ``log w`` (arrays of shape (n,), float64,
            on the model's backend) are appended to it: a pilot run reads their variances.

        Returns
        -------
        array, shape (n,), float64
            ``log w`` estimating ``log(Z_{betas[-1]} / Z_{betas[0]})`` per chain.
        """
        field, total64, tilt64 = self.fields(v)
        log_w = self.xp.zeros_like(tilt64)
        previous = self.log_unnormalised(total64, tilt64, float(betas[0]))
        n_steps = betas.shape[0] - 1
        for k in range(1, n_steps + 1):
            beta = float(betas[k])
            step = self.log_unnormalised(total64, tilt64, beta) - previous
            log_w = log_w + step
            if increments is not None:
                increments.append(step)
            if k < n_steps:
                v = self.sample_visible(self.sample_hidden(field, beta), beta)
                field, total64, tilt64 = self.fields(v)
                previous = self.log_unnormalised(total64, tilt64, beta)
            if k % PROGRESS_EVERY == 0:
                bar.update(PROGRESS_EVERY)
        bar.update(n_steps % PROGRESS_EVERY)
        return log_w
