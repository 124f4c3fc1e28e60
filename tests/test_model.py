"""Energies, conditionals and sampling against brute-force enumeration (distinct sizes 3/5/7)."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import (
    all_states,
    energy,
    free_energy,
    log_joint_table,
    params,
    visible_distribution,
)
from support import randomise, to_numpy

import xprbm

N_VISIBLE, N_HIDDEN = 5, 3


@pytest.fixture
def tiny(make_rbm):
    return randomise(make_rbm(N_VISIBLE, N_HIDDEN, seed=1), scale=1.0)


def test_init_follows_the_documented_distribution(make_rbm):
    rbm = make_rbm(70, 50, seed=3)
    W = to_numpy(rbm, rbm.weights)
    assert W.shape == (70, 50)
    assert abs(W.mean()) < 5 * 0.01 / np.sqrt(W.size)
    assert abs(W.std() - 0.01) < 0.0005  # 3500 draws: relative s.e. of the std ~1.2%
    assert not np.any(to_numpy(rbm, rbm.visible_bias)) and not np.any(
        to_numpy(rbm, rbm.hidden_bias))
    assert rbm.weights.dtype == rbm.xp.float32


def test_energy_matches_definition(tiny):
    W, b, c = params(tiny, to_numpy)
    v = all_states(N_VISIBLE)[::3]
    h = all_states(N_HIDDEN)[np.arange(v.shape[0]) % 8]
    got = to_numpy(tiny, tiny.energy(v, h))
    np.testing.assert_allclose(got, energy(W, b, c, v, h), rtol=1e-5, atol=1e-5)


def test_free_energy_matches_enumeration(tiny):
    W, b, c = params(tiny, to_numpy)
    v = all_states(N_VISIBLE)
    np.testing.assert_allclose(to_numpy(tiny, tiny.free_energy(v)), free_energy(W, b, c, v),
                               rtol=1e-5, atol=1e-5)


def test_free_energy_does_not_overflow_for_huge_fields(make_rbm):
    rbm = make_rbm(3, 5)
    rbm.weights = rbm.array_backend.asarray(np.full((3, 5), 500.0), dtype=rbm.array_dtype)
    f = to_numpy(rbm, rbm.free_energy(np.ones((1, 3))))
    assert np.isfinite(f).all()
    np.testing.assert_allclose(f, [-5 * 1500.0], rtol=1e-6)


def test_conditionals_match_enumeration(tiny):
    W, b, c = params(tiny, to_numpy)
    V, H = all_states(N_VISIBLE), all_states(N_HIDDEN)
    # p(h_j = 1 | v) from the joint table, for every v
    logj = (V @ b)[:, None] + (H @ c)[None, :] + V @ W @ H.T
    pj = np.exp(logj - logj.max(axis=1, keepdims=True))
    pj /= pj.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(to_numpy(tiny, tiny.hidden_probs(V)), pj @ H, atol=1e-5)
    pv = np.exp(logj - logj.max(axis=0, keepdims=True))
    pv /= pv.sum(axis=0, keepdims=True)
    np.testing.assert_allclose(to_numpy(tiny, tiny.visible_probs(H)), (V.T @ pv).T, atol=1e-5)


def _five_sigma(p: np.ndarray, n: int) -> np.ndarray:
    return 5 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_sampler_marginals_within_binomial_bounds(tiny):
    n = 20000
    v = np.tile(all_states(N_VISIBLE)[[6]], (n, 1))
    h = to_numpy(tiny, tiny.sample_hidden(v))
    p = to_numpy(tiny, tiny.hidden_probs(v[:1]))[0]
    assert set(np.unique(h)) <= {0.0, 1.0}
    assert np.all(np.abs(h.mean(axis=0) - p) <= _five_sigma(p, n))
    hv = np.tile(all_states(N_HIDDEN)[[5]], (n, 1))
    s = to_numpy(tiny, tiny.sample_visible(hv))
    q = to_numpy(tiny, tiny.visible_probs(hv[:1]))[0]
    assert np.all(np.abs(s.mean(axis=0) - q) <= _five_sigma(q, n))


def test_long_gibbs_chains_reach_the_exact_joint_distribution(make_rbm):
    """20,000 chains of 60 steps: the empirical p(v, h) over all 128 states is within the
    total-variation distance allowed by 5-sigma binomial errors on every state."""
    rbm = randomise(make_rbm(4, 3, seed=2), scale=0.8, seed=5)
    W, b, c = params(rbm, to_numpy)
    table = log_joint_table(W, b, c)  # rows: v in all_states(4) order, columns: h
    exact = np.exp(table - table.max())
    exact = (exact / exact.sum()).ravel()
    n = 20000
    v = rbm.sample(n, steps=60)
    h = to_numpy(rbm, rbm.sample_hidden(v))
    codes = (to_numpy(rbm, v) @ (2 ** np.arange(6, 2, -1)) + h @ (2 ** np.arange(2, -1, -1)))
    empirical = np.bincount(codes.astype(int), minlength=128) / n
    tv = 0.5 * np.abs(empirical - exact).sum()
    bound = 0.5 * _five_sigma(exact, n).sum()
    assert tv <= bound, (tv, bound)
    assert np.allclose(empirical.reshape(16, 8).sum(1), visible_distribution(W, b, c),
                       atol=5 * np.sqrt(0.25 / n))


def test_gibbs_from_given_states_and_shapes(make_rbm):
    rbm = make_rbm(7, 5, seed=0)
    out = rbm.gibbs(np.zeros((3, 7)), steps=2)
    assert tuple(out.shape) == (3, 7)
    init = np.ones((4, 7))
    assert tuple(rbm.sample(4, steps=1, init=init).shape) == (4, 7)
    with pytest.raises(ValueError, match="rows"):
        rbm.sample(5, steps=1, init=init)


def test_same_seed_same_samples_and_parameters(make_rbm):
    a, b = make_rbm(7, 5, seed=11), make_rbm(7, 5, seed=11)
    np.testing.assert_array_equal(to_numpy(a, a.weights), to_numpy(b, b.weights))
    np.testing.assert_array_equal(to_numpy(a, a.sample(6, 3)), to_numpy(b, b.sample(6, 3)))
    c = make_rbm(7, 5, seed=12)
    assert not np.array_equal(to_numpy(a, a.weights), to_numpy(c, c.weights))


def test_float64_on_request(make_rbm):
    rbm = make_rbm(7, 5, dtype="float64", seed=0)
    assert rbm.weights.dtype == rbm.xp.float64
    assert rbm.sample(2, 1).dtype == rbm.xp.float64


def test_model_backend_and_repr():
    rbm = xprbm.RBM(7, 5, seed=4)
    assert rbm.backend == "numpy"
    assert "n_visible=7" in repr(rbm) and "seed=4" in repr(rbm)


def test_to_backend_copies_parameters_and_sampling_stream():
    rbm = randomise(xprbm.RBM(7, 5, seed=3), scale=0.5)
    strict = rbm.to_backend("array_api_strict")
    assert strict.backend == "array_api_strict" and strict.trainer is None
    np.testing.assert_array_equal(to_numpy(strict, strict.weights), rbm.weights)
    back = strict.to_backend("numpy")
    np.testing.assert_array_equal(back.visible_bias, rbm.visible_bias)
    # same counter-based stream: identical samples from identical states, then independent
    v = all_states(7)[::11]
    np.testing.assert_array_equal(to_numpy(strict, strict.sample_hidden(v)),
                                  rbm.sample_hidden(v))
    assert rbm.rng.step == strict.rng.step == back.rng.step + 1


def test_sampling_takes_seed_as_every_random_function_does(make_rbm):
    """None: the model's own stream (it advances); an int: a fresh stream of that seed (the
    model's stream stays where it was); a CounterRNG: that stream, shared between calls."""
    rbm = randomise(make_rbm(7, 5, seed=0), scale=1.0)
    step = rbm.rng.step
    a = to_numpy(rbm, rbm.sample(4, steps=3, seed=11))
    b = to_numpy(rbm, rbm.sample(4, steps=3, seed=11))
    assert rbm.rng.step == step
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, to_numpy(rbm, rbm.sample(4, steps=3, seed=12)))
    shared = xprbm.rng.CounterRNG.from_seed(11, "sample")
    c = to_numpy(rbm, rbm.sample(4, steps=3, seed=shared))
    np.testing.assert_array_equal(a, c)
    assert shared.step == 1 + 2 * 3  # the random start, then two draws per Gibbs step
    rbm.sample(4, steps=3)
    assert rbm.rng.step == step + 7
    h = rbm.sample_hidden(a, seed=5)
    np.testing.assert_array_equal(to_numpy(rbm, h), to_numpy(rbm, rbm.sample_hidden(a, seed=5)))
    np.testing.assert_array_equal(to_numpy(rbm, rbm.gibbs(a, steps=2, seed=3)),
                                  to_numpy(rbm, rbm.gibbs(a, steps=2, seed=3)))
