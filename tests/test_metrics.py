"""Pseudo-likelihood (exact and one-flip estimate), reconstruction error, free-energy gap."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import all_states, exact_pll, free_energy, params
from support import randomise, to_numpy

import xprbm
from xprbm import metrics


@pytest.fixture
def model(make_rbm):
    return randomise(make_rbm(7, 5, seed=0), scale=0.7, seed=3)


def test_exact_pll_matches_brute_force(model):
    W, b, c = params(model, to_numpy)
    v = all_states(7)[::5]
    got = to_numpy(model, xprbm.pseudo_log_likelihood(model, v, exact=True))
    np.testing.assert_allclose(got, exact_pll(W, b, c, v), rtol=1e-4, atol=1e-4)


def test_exact_pll_blocks_do_not_change_the_result(model, monkeypatch):
    v = all_states(7)[::9]
    whole = to_numpy(model, xprbm.pseudo_log_likelihood(model, v, exact=True))
    monkeypatch.setattr(metrics, "EXACT_PLL_BLOCK", 7)  # forces 1 row x 1 unit blocks
    blocked = to_numpy(model, xprbm.pseudo_log_likelihood(model, v, exact=True))
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=1e-6)


def test_stochastic_pll_is_unbiased(model):
    """The mean of many one-flip estimates lies within 5 standard errors of the exact PLL."""
    v = np.tile(all_states(7)[[37, 90]], (4000, 1))
    est = to_numpy(model, xprbm.pseudo_log_likelihood(model, v, seed=5)).reshape(4000, 2)
    exact = to_numpy(model, xprbm.pseudo_log_likelihood(model, v[:2], exact=True))
    mean = est.mean(axis=0)
    stderr = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert np.all(np.abs(mean - exact) <= 5 * stderr + 1e-6), (mean, exact, stderr)


def test_stochastic_pll_rank_one_flip_equals_direct_free_energies(model):
    """Each estimate is N log σ(F(ṽ) − F(v)) for some single flipped unit."""
    W, b, c = params(model, to_numpy)
    v = all_states(7)[[3, 44, 101]]
    est = to_numpy(model, xprbm.pseudo_log_likelihood(model, v, seed=1))
    for row, value in zip(v, est, strict=True):
        flipped = np.tile(row, (7, 1))
        flipped[np.arange(7), np.arange(7)] = 1 - row
        delta = free_energy(W, b, c, flipped) - free_energy(W, b, c, row[None])
        candidates = -7 * np.logaddexp(0.0, -delta)  # N log sigmoid(delta), one per unit
        assert np.min(np.abs(candidates - value)) < 1e-4


def test_reconstruction_error_and_free_energy_gap(model):
    W, b, c = params(model, to_numpy)
    v = all_states(7)[::3]
    ph = 1 / (1 + np.exp(-(v @ W + c)))
    recon = 1 / (1 + np.exp(-(ph @ W.T + b)))
    assert xprbm.reconstruction_error(model, v) == pytest.approx(((v - recon) ** 2).mean(),
                                                                  rel=1e-5)
    train, valid = all_states(7)[:20], all_states(7)[50:90]
    expected = free_energy(W, b, c, valid).mean() - free_energy(W, b, c, train).mean()
    assert xprbm.free_energy_gap(model, train, valid) == pytest.approx(expected, rel=1e-5,
                                                                        abs=1e-5)
