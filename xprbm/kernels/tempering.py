"""Parallel tempering (replica exchange) of an RBM: the ladder, one block Gibbs sweep of every
replica as single matrix products, and swaps between neighbouring temperatures.

Replica ``r`` of a chain samples the tempered joint distribution
``p_r(v, h) ∝ exp(-β_r E(v, h))`` with ``E(v, h) = -v·b - h·c - vᵀWh`` and inverse
temperatures ``1 = β_0 > β_1 > ... > β_{R-1} > 0`` (the ladder). Its block Gibbs step has the
factorised conditionals ``p(h_j = 1 | v) = σ(β_r (c_j + (vW)_j))`` and
``p(v_i = 1 | h) = σ(β_r (b_i + (Wh)_i))``.

Layout: the replicas of ``C`` chains are the rows of one array of shape ``(R * C, n)``,
replica-major (rows ``r*C .. r*C + C - 1`` sit at ``β_r``), so one sweep of every replica of
every chain is two matrix products.

A sweep draws the hidden states of all rows (one draw base) and then their visible states
(the next base). The joint states ``(v', h)`` it ends with are exchanged between neighbours
``r, r + 1`` of the same chain with probability
``min(1, exp((β_r - β_{r+1}) (E_r - E_{r+1})))``, which keeps the product of the tempered
distributions invariant (detailed balance). Even sweeps try the pairs (0, 1), (2, 3), ...,
odd sweeps (1, 2), (3, 4), ... (the deterministic even-odd scheme), with uniforms of a third
draw base, drawn on the host in float64 so that every backend takes the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import get_backend
from . import generic

#: replicas of the default ladder
DEFAULT_TEMPERATURES = 10
#: inverse temperature of the hottest replica of the default ladder
DEFAULT_MIN_BETA = 0.5
#: draw bases one sweep takes: hidden states, visible states, swap uniforms
DRAWS_PER_SWEEP = 3

#: ``sample(field, base)``: 0/1 states with ``p = sigmoid(field)``; may overwrite ``field``
Sampler = Callable[[Any, int], Any]


def ladder(n_temperatures: int = DEFAULT_TEMPERATURES,
           min_beta: float = DEFAULT_MIN_BETA) -> np.ndarray:
    """Inverse temperatures from 1 down to ``min_beta``, spaced geometrically.

    Geometric spacing keeps the ratio of neighbouring temperatures constant, which for an
    energy whose spread grows smoothly with temperature gives roughly even swap rates.

    Parameters
    ----------
    n_temperatures : int >= 1
    min_beta : float in (0, 1]

    Returns
    -------
    ndarray of float64, shape (n_temperatures,)
        ``betas[0] == 1``, decreasing.
    """
    if n_temperatures == 1:
        return np.ones(1)
    return min_beta ** (np.arange(n_temperatures) / (n_temperatures - 1))


def check_ladder(betas: Any) -> np.ndarray:
    """``betas`` as float64, checked: 1-D, first 1, strictly decreasing, all in (0, 1].

    Raises
    ------
    ValueError
    """
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas.size == 0:
        raise ValueError(f"betas must be a non-empty 1-D sequence; got shape {betas.shape}")
    if not np.all(np.isfinite(betas)) or betas[0] != 1.0 or np.any(betas <= 0):
        raise ValueError(f"betas must start at 1.0 and stay in (0, 1]; got {betas}")
    if np.any(np.diff(betas) >= 0):
        raise ValueError(f"betas must decrease strictly; got {betas}")
    return betas


@dataclass
class SwapRecord:
    """Counts of the swaps tried and accepted between neighbouring replicas.

    Attributes
    ----------
    sweeps : int
        Sweeps done so far (their parity chooses the pairs of the next swap).
    attempted, accepted : ndarray of int64, shape (R - 1,)
        Per pair ``(r, r + 1)``, summed over chains.
    """

    n_pairs: int
    sweeps: int = 0
    attempted: np.ndarray = field(default=None)  # type: ignore[assignment]
    accepted: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.attempted is None:
            self.attempted = np.zeros(self.n_pairs, dtype=np.int64)
        if self.accepted is None:
            self.accepted = np.zeros(self.n_pairs, dtype=np.int64)

    @property
    def rates(self) -> np.ndarray:
        """Acceptance rate per pair (NaN where no swap was tried yet), shape (R - 1,)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.accepted / np.where(self.attempted > 0, self.attempted, np.nan)

    def copy(self) -> SwapRecord:
        return SwapRecord(self.n_pairs, self.sweeps, self.attempted.copy(),
                          self.accepted.copy())

    def as_meta(self) -> dict[str, Any]:
        """JSON-ready counts (for checkpoints)."""
        return {"sweeps": int(self.sweeps), "attempted": self.attempted.tolist(),
                "accepted": self.accepted.tolist()}

    @classmethod
    def from_meta(cls, meta: Any, n_pairs: int) -> SwapRecord:
        """The record :meth:`as_meta` wrote; ValueError when it does not fit ``n_pairs``."""
        if not isinstance(meta, dict) or not isinstance(meta.get("sweeps"), int) \
                or meta["sweeps"] < 0:
            raise ValueError(f"swap record {meta!r}")
        counts = [np.asarray(meta.get(name), dtype=np.int64)
                  for name in ("attempted", "accepted")]
        if any(c.shape != (n_pairs,) or np.any(c < 0) for c in counts) \
                or np.any(counts[1] > counts[0]):
            raise ValueError(f"swap counts {meta!r} for {n_pairs} pairs")
        return cls(n_pairs, meta["sweeps"], *counts)


def beta_column(backend: Any, betas: np.ndarray, n_chains: int, dtype: Any) -> Any:
    """The inverse temperature of every row of the replica layout, shape (R * C, 1)."""
    return backend.asarray(np.repeat(betas, n_chains)[:, None], dtype=dtype)


def sweep(xp: Any, sample: Sampler, params: dict[str, Any], v: Any, beta_col: Any,
          bases: tuple[int, int]) -> tuple[Any, Any]:
    """One block Gibbs sweep ``v -> h -> v'`` of every row at its own temperature.

    Parameters
    ----------
    xp : array namespace
    sample : Sampler
    params : dict
        ``weights`` (n_visible, n_hidden), ``visible_bias``, ``hidden_bias``.
    v : array, shape (R * C, n_visible)
    beta_col : array, shape (R * C, 1)
    bases : (int, int)
        Draw bases of the hidden and the visible states.

    Returns
    -------
    v_new : array, shape (R * C, n_visible)
    energy : array, shape (R * C,)
        ``E(v_new, h)`` of each row's joint state (untempered).
    """
    W, b, c = params["weights"], params["visible_bias"], params["hidden_bias"]
    h = sample((v @ W + c) * beta_col, bases[0])
    back = h @ W.T
    v_new = sample((back + b) * beta_col, bases[1])
    energy = -(v_new @ b + h @ c + xp.sum(v_new * back, axis=1))
    return v_new, energy


def swap_order(energy: np.ndarray, betas: np.ndarray, n_chains: int, parity: int,
               uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row order after the swaps of one sweep (host arithmetic, float64).

    Parameters
    ----------
    energy : ndarray, shape (R * C,)
    betas : ndarray, shape (R,)
    n_chains : int
    parity : {0, 1}
        0 tries the pairs (0, 1), (2, 3), ...; 1 tries (1, 2), (3, 4), ...
    uniforms : ndarray, shape (R - 1, C)

    Returns
    -------
    order : ndarray of int64, shape (R * C,)
        ``v[order]`` holds the swapped states.
    pairs : ndarray of int64
        The lower replica of each pair tried.
    accepted : ndarray of int64, same shape as ``pairs``
        Swaps accepted per pair tried, summed over chains.
    """
    n_temperatures = betas.shape[0]
    E = np.asarray(energy, dtype=np.float64).reshape(n_temperatures, n_chains)
    order = np.arange(n_temperatures * n_chains).reshape(n_temperatures, n_chains)
    pairs = np.arange(parity, n_temperatures - 1, 2)
    log_ratio = (betas[pairs] - betas[pairs + 1])[:, None] * (E[pairs] - E[pairs + 1])
    accept = uniforms[pairs] < np.exp(np.minimum(log_ratio, 0.0))
    low, high = order[pairs].copy(), order[pairs + 1].copy()
    order[pairs] = np.where(accept, high, low)
    order[pairs + 1] = np.where(accept, low, high)
    return order.reshape(-1), pairs, accept.sum(axis=1).astype(np.int64)


def sweep_and_swap(backend: Any, sample: Sampler, params: dict[str, Any], v: Any,
                   betas: np.ndarray, beta_col: Any, record: SwapRecord,
                   bases: tuple[int, int, int]) -> Any:
    """One sweep of every replica, then the swaps of its parity (see the module docstring).

    Parameters
    ----------
    backend : Backend
    sample : Sampler
    params : dict
    v : array, shape (R * C, n_visible)
    betas : ndarray, shape (R,)
    beta_col : array, shape (R * C, 1), from :func:`beta_column`
    record : SwapRecord
        Counts and the sweep counter; updated.
    bases : (int, int, int)
        Draw bases: hidden states, visible states, swap uniforms.

    Returns
    -------
    array, shape (R * C, n_visible)
        The states after the sweep and the swaps.
    """
    n_temperatures = betas.shape[0]
    n_chains = v.shape[0] // n_temperatures
    v, energy = sweep(backend.xp, sample, params, v, beta_col, bases[:2])
    parity = record.sweeps % 2
    record.sweeps += 1
    if n_temperatures == 1:
        return v
    host = get_backend("numpy")
    uniforms = generic.uniform(host, (n_temperatures - 1, n_chains), bases[2], np.float64)
    order, pairs, accepted = swap_order(backend.to_numpy(energy), betas, n_chains, parity,
                                        uniforms)
    record.attempted[pairs] += n_chains
    record.accepted[pairs] += accepted
    if accepted.any():
        v = backend.xp.take(v, backend.asarray(order), axis=0)
    return v
