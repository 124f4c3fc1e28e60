"""Brute-force enumeration on tiny models, in float64 NumPy: the ground truth of the tests."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.special import logsumexp


def all_states(n: int) -> np.ndarray:
    """All 2**n binary vectors, shape (2**n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def params(rbm, to_numpy):
    return (to_numpy(rbm, rbm.weights), to_numpy(rbm, rbm.visible_bias),
            to_numpy(rbm, rbm.hidden_bias))


def energy(W, b, c, v, h):
    """E(v, h) for every row pair, by the definition."""
    return -(v @ b) - (h @ c) - np.einsum("ni,ij,nj->n", v, W, h)


def log_joint_table(W, b, c):
    """-E(v, h) (log of unnormalised p(v, h)) on all states: shape (2**V, 2**H)."""
    V, H = all_states(W.shape[0]), all_states(W.shape[1])
    return (V @ b)[:, None] + (H @ c)[None, :] + V @ W @ H.T


def free_energy(W, b, c, v):
    """F(v) = -log Σ_h exp(-E(v, h)), summing over every h."""
    H = all_states(W.shape[1])
    return -logsumexp((v @ b)[:, None] + (H @ c)[None, :] + v @ W @ H.T, axis=1)


def log_partition(W, b, c):
    return float(logsumexp(log_joint_table(W, b, c)))


def visible_distribution(W, b, c):
    """Exact p(v) over all visible states (rows of all_states order)."""
    table = log_joint_table(W, b, c)
    logp = logsumexp(table, axis=1) - logsumexp(table)
    return np.exp(logp)


def exact_pll(W, b, c, v):
    """Σ_i log p(v_i | v_-i) by flipping each unit and comparing free energies."""
    f = free_energy(W, b, c, v)
    total = np.zeros(v.shape[0])
    for i in range(v.shape[1]):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        f_flip = free_energy(W, b, c, flipped)
        total += -f - np.logaddexp(-f, -f_flip)
    return total


def exact_samples(W, b, c, n, rng):
    """``n`` independent exact samples of p(v), by enumerating the hidden layer.

    Draws ``h`` from the exact marginal ``p(h) ∝ exp(h·c) Π_i (1 + exp(b_i + (W h)_i))``, then
    ``v ~ p(v | h)``; feasible for up to ~20 hidden units. Returns float32, shape (n, V).
    """
    H = all_states(W.shape[1])
    log_p = H @ c + np.logaddexp(0.0, b + H @ W.T).sum(axis=1)
    p = np.exp(log_p - logsumexp(log_p))
    h = H[rng.choice(H.shape[0], size=n, p=p / p.sum())]
    p_v = 1.0 / (1.0 + np.exp(-(b + h @ W.T)))
    return (rng.random(p_v.shape) < p_v).astype(np.float32)
