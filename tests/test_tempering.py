"""Parallel tempering and centred gradients, against enumeration on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import all_states, log_joint_table
from scipy.special import logsumexp
from support import randomise, to_numpy

import xprbm
from xprbm import kernels
from xprbm.backend import get_backend
from xprbm.kernels import generic, tempering
from xprbm.kernels.update import UpdateSettings
from xprbm.rng import CounterRNG

#: half-width of the statistical checks in binomial standard errors
N_SIGMA = 5.0


def tempered_visible_probs(W, b, c, beta):
    """Exact p_beta(v) of every visible state, shape (2**V,)."""
    table = beta * log_joint_table(W, b, c)
    marginal = logsumexp(table, axis=1)
    return np.exp(marginal - logsumexp(marginal))


def state_index(v: np.ndarray) -> np.ndarray:
    """Row ``v`` (0/1) -> index of the state in :func:`all_states` order."""
    weights = 2 ** np.arange(v.shape[1] - 1, -1, -1)
    return (v @ weights).astype(np.int64)


def exact_draws(probs: np.ndarray, n_visible: int, n: int, seed: int) -> np.ndarray:
    states = all_states(n_visible)
    return states[np.random.default_rng(seed).choice(len(probs), size=n, p=probs)]


def assert_matches(counts: np.ndarray, probs: np.ndarray) -> None:
    """Every state's count within N_SIGMA binomial standard errors of ``n * p``."""
    n = counts.sum()
    sigma = np.sqrt(n * probs * (1 - probs)) + 1.0
    np.testing.assert_array_less(np.abs(counts - n * probs), N_SIGMA * sigma)


def test_ladder_is_geometric_from_one():
    betas = tempering.ladder(5, 0.0625)
    np.testing.assert_allclose(betas, [1, 0.5, 0.25, 0.125, 0.0625])
    assert tempering.ladder(1, 0.3).tolist() == [1.0]
    for bad in ([0.9, 0.5], [1.0, 1.0], [1.0, 0.5, 0.7], [1.0, 0.0], []):
        with pytest.raises(ValueError):
            tempering.check_ladder(bad)


def test_swap_acceptance_is_the_metropolis_ratio():
    """A pair swaps exactly when u < min(1, exp((b_r - b_s)(E_r - E_s))): the rule whose
    acceptance ratio a(x, y) / a(y, x) equals p(y-swapped) / p(x), i.e. detailed balance."""
    betas = np.array([1.0, 0.6, 0.3])
    g = np.random.default_rng(1)
    n_chains = 4000
    energy = g.normal(0, 2, size=3 * n_chains)
    uniforms = g.random((2, n_chains))
    for parity in (0, 1):
        order, pairs, accepted = tempering.swap_order(energy, betas, n_chains, parity, uniforms)
        E = energy.reshape(3, n_chains)
        r = parity
        log_ratio = (betas[r] - betas[r + 1]) * (E[r] - E[r + 1])
        expect = uniforms[r] < np.exp(np.minimum(log_ratio, 0))
        assert pairs.tolist() == [r]
        assert accepted.tolist() == [int(expect.sum())]
        moved = order.reshape(3, n_chains)
        np.testing.assert_array_equal(moved[r] == np.arange(n_chains) + (r + 1) * n_chains,
                                      expect)
        np.testing.assert_array_equal(np.sort(order), np.arange(3 * n_chains))
        # detailed balance of the acceptance probability itself
        a_forward = np.minimum(1, np.exp(log_ratio))
        a_back = np.minimum(1, np.exp(-log_ratio))
        log_p = -betas[r] * E[r] - betas[r + 1] * E[r + 1]
        log_p_swapped = -betas[r] * E[r + 1] - betas[r + 1] * E[r]
        np.testing.assert_allclose(np.log(a_forward) + log_p, np.log(a_back) + log_p_swapped,
                                   atol=1e-12)


@pytest.mark.parametrize("parity", [0, 1])
def test_a_sweep_with_swaps_keeps_every_tempered_distribution(make_rbm, parity):
    """Start every replica exactly in its tempered distribution; after one sweep and the
    swaps each replica's visible states still follow it (checked state by state)."""
    rbm = randomise(make_rbm(4, 3, seed=0), scale=1.5, seed=3)
    W, b, c = (to_numpy(rbm, p) for p in (rbm.weights, rbm.visible_bias, rbm.hidden_bias))
    betas = np.array([1.0, 0.7, 0.45, 0.25])
    n_chains = 6000
    probs = [tempered_visible_probs(W, b, c, beta) for beta in betas]
    start = np.concatenate([exact_draws(p, 4, n_chains, seed=10 + r)
                            for r, p in enumerate(probs)])
    backend = rbm.array_backend
    v = backend.asarray(start, dtype=rbm.array_dtype)
    record = tempering.SwapRecord(len(betas) - 1, sweeps=parity)
    v = tempering.sweep_and_swap(
        backend, kernels.sampler(backend, rbm.fast_path), rbm.parameters(), v, betas,
        tempering.beta_column(backend, betas, n_chains, rbm.array_dtype), record, (11, 12, 13))
    assert record.sweeps == parity + 1
    assert record.attempted[parity] == n_chains and record.accepted[parity] > 0
    out = to_numpy(rbm, v).reshape(len(betas), n_chains, 4)
    for r, p in enumerate(probs):
        assert_matches(np.bincount(state_index(out[r]), minlength=16), p)


def test_tempered_sampling_reaches_the_model_from_one_mode():
    """A two-mode model that block Gibbs cannot cross in the run's length: PT from the same
    start covers both modes as the exact distribution says."""
    n_visible = 6
    rbm = xprbm.RBM(n_visible, 1, seed=0)
    rbm.weights = np.full((n_visible, 1), 6.0, dtype=np.float32)
    rbm.visible_bias = np.full(n_visible, -3.0, dtype=np.float32)
    rbm.hidden_bias = np.array([-18.0], dtype=np.float32)  # modes: all off, all on
    W, b, c = (to_numpy(rbm, p) for p in (rbm.weights, rbm.visible_bias, rbm.hidden_bias))
    probs = tempered_visible_probs(W, b, c, 1.0)
    all_on = probs[-1]
    n = 2000
    start = np.zeros((n, n_visible), dtype=np.float32)
    gibbs = to_numpy(rbm, rbm.sample(n, steps=50, init=start, seed=1))
    result = rbm.tempered_sample(n, sweeps=50, init=start, seed=1,
                                 betas=tempering.ladder(8, 0.05))
    pt = to_numpy(rbm, result.samples)
    assert np.mean(gibbs.sum(axis=1) == n_visible) < 0.2  # mostly stuck at all-off
    on = np.mean(pt.sum(axis=1) == n_visible)
    sigma = np.sqrt(all_on * (1 - all_on) / n)
    assert abs(on - all_on) < N_SIGMA * sigma + 0.02, (on, all_on)
    assert result.swap_rates.shape == (7,) and np.all(result.swap_rates > 0)
    assert "swap acceptance" in result.summary()


def test_sample_method_pt_and_its_errors():
    rbm = randomise(xprbm.RBM(5, 3, seed=0))
    v = rbm.sample(7, steps=3, method="pt", seed=2)
    assert v.shape == (7, 5)
    np.testing.assert_array_equal(v, rbm.sample(7, steps=3, method="pt", seed=2))
    with pytest.raises(ValueError, match="method"):
        rbm.sample(3, method="tempering")
    with pytest.raises(ValueError, match="init has 4 rows"):
        rbm.tempered_sample(3, 2, init=np.zeros((4, 5)))
    with pytest.raises(ValueError, match="betas"):
        rbm.tempered_sample(3, 2, betas=[0.5, 0.2])


# ------------------------------------------------------------------------------ centring


def centred_log_likelihood(W, b_c, c_c, mu, lam, v):
    """Exact log p(v) of the centred energy -(v-mu)·b - (h-lam)·c - (v-mu)ᵀW(h-lam)."""
    H = all_states(W.shape[1])

    def log_weights(V):
        return ((V - mu) @ b_c)[:, None] + ((H - lam) @ c_c)[None, :] + (V - mu) @ W @ (H - lam).T

    return logsumexp(log_weights(v), axis=1) - logsumexp(log_weights(all_states(W.shape[0])))


def test_the_centred_model_is_the_uncentred_one():
    """Centred parameters (W, b', c') with offsets (mu, lam) and the stored uncentred ones
    b = b' - W lam, c = c' - Wᵀ mu give the same exact likelihood on every state."""
    g = np.random.default_rng(4)
    W, b_c, c_c = g.normal(size=(5, 3)), g.normal(size=5), g.normal(size=3)
    mu, lam = g.random(5), g.random(3)
    rbm = xprbm.RBM(5, 3, dtype="float64")
    rbm.weights, rbm.visible_bias, rbm.hidden_bias = W, b_c - W @ lam, c_c - W.T @ mu
    V = all_states(5)
    np.testing.assert_allclose(xprbm.log_likelihood(rbm, V),
                               centred_log_likelihood(W, b_c, c_c, mu, lam, V), atol=1e-10)


def test_centred_step_is_the_gradient_step_of_the_centred_parameters():
    """One update in stored (uncentred) parameters equals: convert to centred parameters, step
    along the centred gradient <(v-mu)(h-lam)ᵀ>_data - <...>_model, convert back."""
    g = np.random.default_rng(5)
    xp = np
    n_v, n_h = 5, 3
    W, b, c = g.normal(size=(n_v, n_h)), g.normal(size=n_v), g.normal(size=n_h)
    batch = (g.random((7, n_v)) < 0.4).astype(float)
    v_neg = (g.random((4, n_v)) < 0.5).astype(float)
    pos = generic.sigmoid(xp, batch @ W + c)
    neg = generic.sigmoid(xp, v_neg @ W + c)
    mu0, lam0 = g.random(n_v), g.random(n_h)
    settings = UpdateSettings(k=1, learning_rate=0.1, momentum=0.0, weight_decay=0.02,
                              offset_rate=0.3)
    params = {"weights": W.copy(), "visible_bias": b.copy(), "hidden_bias": c.copy()}
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    offsets = {"visible": mu0.copy(), "hidden": lam0.copy()}
    generic.gradient_step(xp, batch, pos, v_neg, neg, params, velocity, settings, offsets)
    # the same by hand, in centred coordinates with the moved offsets
    mu = mu0 + 0.3 * (batch.mean(0) - mu0)
    lam = lam0 + 0.3 * (pos.mean(0) - lam0)
    np.testing.assert_allclose(offsets["visible"], mu)
    np.testing.assert_allclose(offsets["hidden"], lam)
    b_c, c_c = b + W @ lam, c + W.T @ mu
    grad_W = ((batch - mu).T @ (pos - lam)) / 7 - ((v_neg - mu).T @ (neg - lam)) / 4
    W_new = W + 0.1 * (grad_W - 0.02 * W)
    b_c_new = b_c + 0.1 * (batch.mean(0) - v_neg.mean(0))
    c_c_new = c_c + 0.1 * (pos.mean(0) - neg.mean(0))
    np.testing.assert_allclose(params["weights"], W_new, atol=1e-12)
    np.testing.assert_allclose(params["visible_bias"], b_c_new - W_new @ lam, atol=1e-12)
    np.testing.assert_allclose(params["hidden_bias"], c_c_new - W_new.T @ mu, atol=1e-12)


def test_centring_with_still_offsets_at_zero_is_the_plain_step():
    g = np.random.default_rng(6)
    W = g.normal(size=(4, 3))
    batch, v = (g.random((5, 4)) < 0.5) * 1.0, (g.random((5, 4)) < 0.5) * 1.0
    pos, neg = g.random((5, 3)), g.random((5, 3))
    settings = UpdateSettings(1, 0.1, 0.5, 0.01, offset_rate=0.0)
    results = []
    for offsets in (None, {"visible": np.zeros(4), "hidden": np.zeros(3)}):
        params = {"weights": W.copy(), "visible_bias": np.ones(4), "hidden_bias": np.ones(3)}
        velocity = {name: np.full_like(value, 0.1) for name, value in params.items()}
        generic.gradient_step(np, batch, pos, v, neg, params, velocity, settings, offsets)
        results.append(params)
    for name in results[0]:
        np.testing.assert_allclose(results[0][name], results[1][name], atol=1e-14)


# ------------------------------------------------------------------------------ training


def run_state(trainer):
    rbm = trainer.rbm
    state = {name: to_numpy(rbm, value) for name, value in rbm.parameters().items()}
    state.update({"vel_" + n: to_numpy(rbm, v) for n, v in trainer.state.velocity.items()})
    if trainer.state.chains is not None:
        state["chains"] = to_numpy(rbm, trainer.state.chains)
    for name, value in (trainer.state.offsets or {}).items():
        state["offset_" + name] = to_numpy(rbm, value)
    return state


@pytest.mark.parametrize("options", [
    {"method": "pt", "n_temperatures": 4, "min_beta": 0.3},
    {"method": "pt", "n_temperatures": 3, "centered": True, "k": 2},
    {"method": "pcd", "centered": True},
    {"method": "cd", "centered": True},
])
def test_resume_is_bit_exact(make_rbm, tmp_path, options):
    X = (np.random.default_rng(0).random((60, 7)) < 0.3).astype(np.float32)
    straight = make_rbm(7, 5, seed=3)
    straight.fit(X, epochs=4, batch_size=10, n_chains=6, progress=False, **options)
    halves = make_rbm(7, 5, seed=3)
    halves.fit(X, epochs=2, batch_size=10, n_chains=6, progress=False, **options)
    xprbm.save(halves.trainer, tmp_path / "run.npz")
    resumed = xprbm.load(tmp_path / "run.npz", backend=halves.backend)
    resumed.run(X, epochs=2, progress=False)
    a, b = run_state(straight.trainer), run_state(resumed)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    if options["method"] == "pt":
        sa, sb = straight.trainer.state.swaps, resumed.state.swaps
        assert sa.as_meta() == sb.as_meta() and sa.sweeps == 4 * 6 * options.get("k", 1)


@pytest.mark.parametrize("options", [{"method": "pt", "n_temperatures": 4},
                                     {"method": "pcd", "centered": True}])
def test_fast_paths_agree_with_the_generic_one(options):
    if not kernels.numba_available():
        pytest.skip("Numba is not available")
    X = (np.random.default_rng(1).random((50, 9)) < 0.3).astype(np.float32)
    states = []
    for fast_path in ("generic", "numba"):
        rbm = xprbm.RBM(9, 4, seed=2, fast_path=fast_path)
        rbm.fit(X, epochs=3, batch_size=10, progress=False, **options)
        states.append(run_state(rbm.trainer))
    for name in states[0]:
        np.testing.assert_allclose(states[0][name], states[1][name], atol=1e-5, err_msg=name)


def test_pt_training_state_and_checkpoint_checks(tmp_path):
    X = (np.random.default_rng(2).random((40, 6)) < 0.3).astype(np.float32)
    rbm = xprbm.RBM(6, 4, seed=0)
    rbm.fit(X, epochs=1, batch_size=10, n_chains=5, method="pt", n_temperatures=3,
            progress=False)
    state = rbm.trainer.state
    assert state.chains.shape == (15, 6) and state.hidden_chains is None
    assert state.swaps.attempted.sum() > 0
    with pytest.raises(ValueError, match="n_temperatures"):
        xprbm.TrainConfig(method="pt", n_temperatures=0)
    with pytest.raises(ValueError, match="min_beta"):
        xprbm.TrainConfig(method="pt", min_beta=1.0)
    with pytest.raises(TypeError, match="centered"):
        xprbm.TrainConfig(centered="yes")


def test_uniform_host_draws_match_the_backend_stream():
    """Swap uniforms come from the host copy of the counter stream: the same numbers every
    backend would draw for the base."""
    host = get_backend("numpy")
    rng = CounterRNG.from_seed(3, "sample")
    base = rng.next_base()
    a = generic.uniform(host, (2, 5), base, np.float64)
    strict = get_backend("array_api_strict")
    b = strict.to_numpy(generic.uniform(strict, (2, 5), base, strict.xp.float64))
    np.testing.assert_array_equal(a, np.asarray(b))
