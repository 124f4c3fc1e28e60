"""Training monitors: pseudo-log-likelihood, reconstruction error, free-energy gap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import kernels
from .kernels import generic
from .rng import CounterRNG, stream_for

if TYPE_CHECKING:
    from .rbm import RBM

#: elements of the (rows, units, hidden) block the exact pseudo-likelihood holds at once
EXACT_PLL_BLOCK = 1 << 22


def pseudo_log_likelihood(rbm: RBM, v: Any, exact: bool = False,
                          seed: int | CounterRNG | None = None,
                          binary: bool | None = True) -> Any:
    """Pseudo-log-likelihood ``Σ_i log p(v_i | v_-i)`` of each sample.

    Parameters
    ----------
    rbm : RBM
    v : array, shape (n, n_visible), binary
    exact : bool
        ``False``: the unbiased one-flip estimate ``N · log σ(F(ṽ) − F(v))`` with one random
        unit flipped per sample, F(ṽ) obtained from the hidden field by a rank-1 correction
        (O(n · n_hidden) beyond one product). ``True``: the sum over all units, computed in
        blocks of at most ``EXACT_PLL_BLOCK`` elements.
    seed : int, CounterRNG or None
        Random stream for the flipped units: None, the model's own stream; an int, the
        ``"pseudo_likelihood"`` stream of that seed (see :func:`xprbm.rng.stream_for`).
    binary : bool or None
        Require 0/1 values; ``False`` accepts values in [0, 1] and ``None`` any finite
        values, a flip turning ``v_i`` into ``1 - v_i`` (as scikit-learn's
        ``score_samples`` does).

    Returns
    -------
    array, shape (n,)
        On the model's backend.
    """
    v = rbm.visible(v, binary=binary)
    field = v @ rbm.weights + rbm.hidden_bias
    if exact:
        return _exact_pll(rbm, v, field)
    return _one_flip_pll(rbm, v, field, stream_for(seed, "pseudo_likelihood", rbm.rng))


def _one_flip_pll(rbm: RBM, v: Any, field: Any, rng: CounterRNG,
                  softplus_field: Any = None) -> Any:
    """One-flip PLL estimate from ``field = v @ W + c``; see :func:`pseudo_log_likelihood`.
    ``softplus_field`` may pass ``softplus(field)`` when the caller has it already."""
    xp = rbm.xp
    n, n_visible = v.shape
    u = kernels.uniform(rbm.array_backend, (n, 1), rng.next_base(), rbm.array_dtype,
                        rbm.fast_path)
    flip = xp.astype(xp.floor(u[:, 0] * n_visible), xp.int64)
    flip = xp.clip(flip, 0, n_visible - 1)
    v_flip = xp.take_along_axis(v, flip[:, None], axis=1)[:, 0]  # value of the flipped unit
    sign = 1.0 - 2.0 * v_flip  # +1 when 0 -> 1, -1 when 1 -> 0
    if softplus_field is None:
        softplus_field = generic.softplus(xp, field)
    field_flip = field + sign[:, None] * xp.take(rbm.weights, flip, axis=0)
    # F(ṽ) − F(v) for the flipped unit of each row
    delta = -sign * xp.take(rbm.visible_bias, flip, axis=0) - xp.sum(
        generic.softplus(xp, field_flip) - softplus_field, axis=1)
    return n_visible * generic.log_sigmoid(xp, delta)


def _exact_pll(rbm: RBM, v: Any, field: Any) -> Any:
    xp = rbm.xp
    n, n_visible = v.shape
    n_hidden = rbm.n_hidden
    base = xp.sum(generic.softplus(xp, field), axis=1)  # (n,)
    sign = 1.0 - 2.0 * v  # (n, V)
    parts = []
    rows = max(1, min(n, EXACT_PLL_BLOCK // max(1, n_visible * n_hidden)))
    units = max(1, min(n_visible, EXACT_PLL_BLOCK // max(1, rows * n_hidden)))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        part = xp.zeros((r1 - r0,), dtype=v.dtype, **rbm.array_backend.placement)
        for u0 in range(0, n_visible, units):
            u1 = min(n_visible, u0 + units)
            s = sign[r0:r1, u0:u1]  # (r, u)
            flipped = field[r0:r1, None, :] + s[:, :, None] * rbm.weights[None, u0:u1, :]
            delta = -s * rbm.visible_bias[None, u0:u1] - (
                xp.sum(generic.softplus(xp, flipped), axis=2) - base[r0:r1, None])
            part = part + xp.sum(generic.log_sigmoid(xp, delta), axis=1)
        parts.append(part)
    return rbm.array_backend.concat(parts)


def reconstruction_error(rbm: RBM, v: Any) -> float:
    """Mean squared error between ``v`` and its mean-field reconstruction.

    The reconstruction is ``p(v | h = p(h | v))``, deterministic (no sampling).

    Parameters
    ----------
    v : array, shape (n, n_visible), values in [0, 1]

    Returns
    -------
    float
    """
    v = rbm.visible(v)
    recon = rbm.visible_probs(rbm.hidden_probs(v))
    return float(rbm.xp.mean((v - recon) ** 2))


def free_energy_gap(rbm: RBM, train: Any, valid: Any) -> float:
    """Mean free energy of ``valid`` minus mean free energy of ``train``.

    A gap that grows during training means the model fits the training rows better than
    unseen rows (overfitting); compare subsets of equal size.

    Parameters
    ----------
    train : array, shape (n_train, n_visible)
    valid : array, shape (n_valid, n_visible)

    Returns
    -------
    float
    """
    xp = rbm.xp
    return float(xp.mean(rbm.free_energy(valid)) - xp.mean(rbm.free_energy(train)))


def monitor(rbm: RBM, v: Any, rng: CounterRNG) -> dict[str, float]:
    """The per-epoch training metrics of ``v`` from one hidden field (two matrix products).

    Parameters
    ----------
    rbm : RBM
    v : array of the model's backend, shape (n, n_visible), binary (already checked)
    rng : CounterRNG
        Stream for the flipped units of the pseudo-likelihood.

    Returns
    -------
    dict
        ``pll`` (mean one-flip pseudo-log-likelihood per visible unit), ``recon_error`` (mean
        squared mean-field reconstruction error) and ``free_energy`` (mean free energy).
    """
    xp = rbm.xp
    field = v @ rbm.weights + rbm.hidden_bias
    softplus_field = generic.softplus(xp, field)
    pll = _one_flip_pll(rbm, v, field, rng, softplus_field)
    recon = generic.sigmoid(xp, generic.sigmoid(xp, field) @ rbm.weights.T + rbm.visible_bias)
    free = generic.free_energy(xp, v, field, rbm.visible_bias, softplus_field)
    # one transfer to the host (one synchronisation on a GPU)
    means = rbm.array_backend.to_numpy(xp.stack([xp.mean(pll), xp.mean((v - recon) ** 2),
                                            xp.mean(free)]))
    return {
        "pll": float(means[0]) / rbm.n_visible,
        "recon_error": float(means[1]),
        "free_energy": float(means[2]),
    }
