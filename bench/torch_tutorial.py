"""The classic tutorial's PCD-k RBM, re-implemented in PyTorch as a comparison point.

The algorithm follows the well-known Theano deep-learning tutorial on RBMs: weights drawn
uniformly from ``±4 sqrt(6 / (n_visible + n_hidden))``, zero biases, ``batch_size``
persistent chains whose *hidden* states start at zero, minibatches visited in order (no
shuffling), and plain SGD on the free-energy cost ``mean F(batch) - mean F(chain end)``.
The gradient of that cost is written out by hand (data term with ``p(h | batch)``, model term
with ``p(h | chain end)``), which is exactly what automatic differentiation of the cost gives
when the chain end is held constant.

Bench-only: the library never imports torch.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class TutorialPCD:
    """Bernoulli RBM trained by PCD-k with plain SGD, tutorial style.

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

    def update(self, batch: torch.Tensor) -> None:
        """One PCD-k step of SGD on a batch of shape (b, n_visible)."""
        data_hidden = torch.sigmoid(batch @ self.weights + self.hidden_bias)
        h = self.chain_hidden
        for _ in range(self.k):
            v, h_prob, h = self._gibbs_hvh(h)
        self.chain_hidden = h
        n_data, n_chain = batch.shape[0], v.shape[0]
        lr = self.learning_rate
        self.weights += lr * (batch.T @ data_hidden / n_data - v.T @ h_prob / n_chain)
        self.visible_bias += lr * (batch.mean(dim=0) - v.mean(dim=0))
        self.hidden_bias += lr * (data_hidden.mean(dim=0) - h_prob.mean(dim=0))

    def fit(self, X: np.ndarray, epochs: int) -> TutorialPCD:
        """``epochs`` passes over the rows of ``X`` (shape (n, n_visible), 0/1), in order."""
        data = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            for _ in range(epochs):
                for start in range(0, data.shape[0], self.batch_size):
                    self.update(data[start:start + self.batch_size])
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return self

    def parameters_numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W (n_visible, n_hidden), b (n_visible,), c (n_hidden,))`` as float32 arrays."""
        return tuple(t.cpu().numpy().astype(np.float32, copy=True)
                     for t in (self.weights, self.visible_bias, self.hidden_bias))
