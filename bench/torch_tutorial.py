"""The classic tutorial's PCD-k RBM, re-implemented in PyTorch as a comparison point.

The algorithm follows the well-known Theano deep-learning tutorial on RBMs: weights drawn
uniformly from ``±4 sqrt(6 / (n_visible + n_hidden))``, zero biases, ``batch_size``
persistent chains whose *hidden* states start at zero, minibatches visited in order (no
shuffling) and plain SGD.

:class:`TutorialPCD` is the tutorial's code as written: the cost is
``mean F(batch) - mean F(chain end)``, differentiated automatically with the chain end held
constant, and every update also returns the tutorial's monitoring cost (the one-bit
pseudo-likelihood proxy, flipping bit ``i`` of every row, ``i`` cycling over the units).
That is eight matrix products per PCD-1 update.

:class:`HandWrittenPCD` is the same algorithm with the gradient written out by hand (data
term with ``p(h | batch)``, model term with ``p(h | chain end)``) and no monitoring cost: the
five matrix products of the update and nothing else. It is the leanest PCD a PyTorch user
would write, kept as a second, harder comparison point.

Bench-only: the library never imports torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


class _PCDBase:
    """Parameters, persistent chains and the epoch loop shared by both variants.

    Parameters
    ----------
    n_visible, n_hidden : int
    learning_rate : float
    batch_size : int
        Rows per update; also the number of persistent chains.
    k : int
        Gibbs steps ``h -> v -> h`` per update.
    seed : int
        Seeds the initial weights and every draw (a private ``torch.Generator``).
    device : str
        ``"cpu"`` or ``"cuda"``: where the tensors live and the arithmetic runs.

    Attributes
    ----------
    weights : Tensor, shape (n_visible, n_hidden)
    visible_bias : Tensor, shape (n_visible,)
    hidden_bias : Tensor, shape (n_hidden,)
    chain_hidden : Tensor, shape (batch_size, n_hidden)
        Hidden states of the persistent chains.
    """

    def __init__(self, n_visible: int, n_hidden: int, *, learning_rate: float = 0.01,
                 batch_size: int = 100, k: int = 1, seed: int = 0, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        bound = 4.0 * math.sqrt(6.0 / (n_visible + n_hidden))
        uniform = torch.rand(n_visible, n_hidden, generator=self.generator, device=self.device)
        self.weights = (2.0 * uniform - 1.0) * bound
        self.visible_bias = torch.zeros(n_visible, device=self.device)
        self.hidden_bias = torch.zeros(n_hidden, device=self.device)
        self.chain_hidden = torch.zeros(batch_size, n_hidden, device=self.device)
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.k = k

    def _bernoulli(self, p: torch.Tensor) -> torch.Tensor:
        return (torch.rand(p.shape, generator=self.generator, device=self.device) < p).to(p.dtype)

    def _gibbs_hvh(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step ``h -> v -> h``; returns ``(v, p(h | v), h')``."""
        v = self._bernoulli(torch.sigmoid(h @ self.weights.T + self.visible_bias))
        h_prob = torch.sigmoid(v @ self.weights + self.hidden_bias)
        return v, h_prob, self._bernoulli(h_prob)

    def _chain(self) -> tuple[torch.Tensor, torch.Tensor]:
        """k Gibbs steps from the persistent hidden states; returns ``(chain end, p(h|end))``
        and keeps the last hidden sample for the next update."""
        h = self.chain_hidden
        for _ in range(self.k):
            v, h_prob, h = self._gibbs_hvh(h)
        self.chain_hidden = h
        return v, h_prob

    def update(self, batch: torch.Tensor) -> None:
        raise NotImplementedError

    def fit(self, X: np.ndarray, epochs: int) -> _PCDBase:
        """``epochs`` passes over the rows of ``X`` (shape (n, n_visible), 0/1), in order."""
        data = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self.device)
        for _ in range(epochs):
            for start in range(0, data.shape[0], self.batch_size):
                self.update(data[start:start + self.batch_size])
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return self

    def parameters_numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W (n_visible, n_hidden), b (n_visible,), c (n_hidden,))`` as float32 arrays."""
        return tuple(t.detach().cpu().numpy().astype(np.float32, copy=True)
                     for t in (self.weights, self.visible_bias, self.hidden_bias))


class TutorialPCD(_PCDBase):
    """The tutorial's PCD-k as written: autograd of the free-energy cost, plus the
    per-update monitoring cost (see the module docstring).

    Attributes
    ----------
    monitoring_costs : list of Tensor
        The monitoring cost of every update (scalars, on the device), as the tutorial
        collects them to print their mean after each epoch.
    """

    def __init__(self, n_visible: int, n_hidden: int, **options) -> None:
        super().__init__(n_visible, n_hidden, **options)
        for tensor in (self.weights, self.visible_bias, self.hidden_bias):
            tensor.requires_grad_(True)
        self.flip_bit = 0
        self.monitoring_costs: list[torch.Tensor] = []

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v)`` per row, shape (n_rows,)."""
        hidden_term = F.softplus(v @ self.weights + self.hidden_bias).sum(dim=1)
        return -hidden_term - v @ self.visible_bias

    def _pseudo_likelihood_cost(self, batch: torch.Tensor) -> torch.Tensor:
        """The tutorial's stochastic PLL proxy: flip bit ``flip_bit`` of every row."""
        xi = torch.round(batch)
        xi_flip = xi.clone()
        xi_flip[:, self.flip_bit] = 1.0 - xi_flip[:, self.flip_bit]
        cost = (xi.shape[1] * F.logsigmoid(self.free_energy(xi_flip) - self.free_energy(xi)))
        self.flip_bit = (self.flip_bit + 1) % xi.shape[1]
        return cost.mean()

    def update(self, batch: torch.Tensor) -> None:
        """One PCD-k step of SGD on a batch of shape (b, n_visible)."""
        params = (self.weights, self.visible_bias, self.hidden_bias)
        with torch.no_grad():
            chain_end, _ = self._chain()  # held constant in the cost
            self.monitoring_costs.append(self._pseudo_likelihood_cost(batch))
        cost = self.free_energy(batch).mean() - self.free_energy(chain_end).mean()
        grads = torch.autograd.grad(cost, params)
        with torch.no_grad():
            for param, grad in zip(params, grads, strict=True):
                param -= self.learning_rate * grad


class HandWrittenPCD(_PCDBase):
    """The same PCD-k with the gradient written out by hand: five products per PCD-1 update."""

    def update(self, batch: torch.Tensor) -> None:
        """One PCD-k step of SGD on a batch of shape (b, n_visible)."""
        with torch.no_grad():
            data_hidden = torch.sigmoid(batch @ self.weights + self.hidden_bias)
            v, h_prob = self._chain()
            n_data, n_chain = batch.shape[0], v.shape[0]
            lr = self.learning_rate
            self.weights += lr * (batch.T @ data_hidden / n_data - v.T @ h_prob / n_chain)
            self.visible_bias += lr * (batch.mean(dim=0) - v.mean(dim=0))
            self.hidden_bias += lr * (data_hidden.mean(dim=0) - h_prob.mean(dim=0))
